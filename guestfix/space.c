/* ferry guestfix: refuse a guest whose filesystems have no room for the
 * changes, before anything is changed.
 *
 * A full filesystem would otherwise fail a step half-way, or worse, let a
 * guest tool (update-initramfs, dracut) fail in a way a step only notes,
 * leaving a guest that does not boot on virtio.  Checked up front, the
 * refusal names the filesystem, what is free and what is needed.
 *
 * Needs: every filesystem holding /, /etc, /usr or /var gets small edits
 * and new files (BASE_NEED); the one holding /boot also a new initramfs
 * next to the largest existing one (the tools write the new image before
 * they remove the old), plus a tenth for the virtio modules.
 *
 * The appliance writes as root, so the blocks reserved for root count as
 * free; but the free count statvfs gives also holds blocks the filesystem
 * keeps for itself (ext4 keeps up to 2% for its own metadata), which root
 * cannot use either.  So when only root could write the amount needed,
 * it is allocated for real (fallocate of a probe file in the overlay,
 * removed at once) to know. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "guestfix/internal.h"

#define BASE_NEED (2 * 1024 * 1024)
#define MIN_INODES 64
#define ST_RDONLY_FLAG 1 /* statvfs f_flag bit, as the appliance reports it */

static const char *const written[] = { "/", "/etc", "/usr", "/var", "/boot" };

static void
human (char *buf, size_t n, int64_t v)
{
  if (v >= 10 * 1024 * 1024)
    snprintf (buf, n, "%" PRId64 " MiB", v / (1024 * 1024));
  else if (v >= 10 * 1024)
    snprintf (buf, n, "%" PRId64 " KiB", v / 1024);
  else
    snprintf (buf, n, "%" PRId64 " bytes", v);
}

/* The largest initramfs under /boot (0 when there is none). */
static int64_t
largest_initramfs (struct gf_ctx *c)
{
  char **v = guestfs_glob_expand (c->g, "/boot/initr*");
  int64_t max = 0;
  for (size_t i = 0; v && v[i]; i++) {
    int64_t s = guestfs_filesize (c->g, v[i]);
    if (s > max)
      max = s;
  }
  gf_free_strings (v);
  return max;
}

/* Whether root can allocate NEED bytes on the filesystem mounted on MP:
 * 1 yes, 0 no (ENOSPC), -1 unknown (another error, logged). */
static int
probe (struct gf_ctx *c, const char *mp, int64_t need)
{
  char *path = gf_asprintf ("%s/.ferry-space-probe",
                            strcmp (mp, "/") == 0 ? "" : mp);
  int rc = 1;
  if (guestfs_fallocate64 (c->g, path, need) < 0) {
    rc = guestfs_last_errno (c->g) == ENOSPC ? 0 : -1;
    if (rc < 0)
      ferry_debug (c->log, "guestfix: fallocate %s: %s", path,
                   guestfs_last_error (c->g));
  }
  guestfs_rm_f (c->g, path);
  free (path);
  return rc;
}

/* Index (of the mountpoint) in the (device, mountpoint) pairs MPS of the
 * filesystem holding PATH: the longest mountpoint that is a prefix. */
static size_t
holder (char *const *mps, size_t n, const char *path)
{
  size_t best = n, bestlen = 0;
  for (size_t i = 0; i < n; i++) {
    const char *mp = mps[2 * i + 1];
    size_t l = strlen (mp);
    bool in = strcmp (mp, "/") == 0
              || (strncmp (path, mp, l) == 0
                  && (path[l] == 0 || path[l] == '/'));
    if (in && (best == n || l > bestlen)) {
      best = i;
      bestlen = l;
    }
  }
  return best;
}

int
gf_check_space (struct gf_ctx *c)
{
  char **mps = guestfs_mountpoints (c->g);
  if (!mps)
    return gf_gerror (c, FERRY_E_INPUT, "listing the mounted filesystems");
  size_t n = gf_count_strings (mps) / 2;
  int64_t *need = calloc (n + 1, sizeof *need);
  if (!need)
    abort ();
  int64_t initramfs = -1;
  for (size_t p = 0; p < sizeof written / sizeof written[0]; p++) {
    size_t i = holder (mps, n, written[p]);
    if (i == n)
      continue;
    if (!need[i])
      need[i] = BASE_NEED;
    if (strcmp (written[p], "/boot") == 0) {
      initramfs = largest_initramfs (c);
      need[i] += initramfs + initramfs / 10;
    }
  }

  /* Every full filesystem is named, so one run says all that must be
   * freed. */
  char msg[900] = "";
  for (size_t i = 0; i < n; i++) {
    if (!need[i])
      continue;
    const char *dev = mps[2 * i], *mp = mps[2 * i + 1];
    struct guestfs_statvfs *st = guestfs_statvfs (c->g, mp);
    if (!st) {
      ferry_debug (c->log, "guestfix: statvfs %s: %s", mp,
                   guestfs_last_error (c->g));
      continue;
    }
    int64_t unit = st->frsize > 0 ? st->frsize : st->bsize;
    int64_t free_bytes = st->bfree * unit, user_bytes = st->bavail * unit;
    bool ro = (st->flag & ST_RDONLY_FLAG) != 0;
    char fb[32], nb[32], why[160];
    human (fb, sizeof fb, free_bytes);
    human (nb, sizeof nb, need[i]);
    ferry_debug (c->log, "guestfix: %s on %s: %s free, %s needed, %" PRId64
                 " inodes free", dev, mp, fb, nb, st->ffree);
    if (initramfs > 0 && holder (mps, n, "/boot") == i) {
      char ib[32];
      human (ib, sizeof ib, initramfs);
      snprintf (why, sizeof why, "edits, new files and a new initramfs "
                "next to the largest one, %s", ib);
    } else {
      snprintf (why, sizeof why, "edits and new files");
    }
    size_t l = strlen (msg);
    const char *sep = l ? "; " : "";
    if (ro)
      ; /* mounted read-only: the first write says so */
    else if (free_bytes < need[i])
      snprintf (msg + l, sizeof msg - l, "%sno space left on the guest "
                "filesystem %s (mounted on %s): %s free, guestfix needs at "
                "least %s there (%s)", sep, dev, mp, fb, nb, why);
    else if (user_bytes < need[i] && probe (c, mp, need[i]) == 0)
      snprintf (msg + l, sizeof msg - l, "%sno space left on the guest "
                "filesystem %s (mounted on %s): guestfix needs at least %s "
                "there (%s) and cannot allocate it (the %s it counts as "
                "free is held in reserve by the filesystem)", sep, dev, mp,
                nb, why, fb);
    else if (st->files > 0 && st->ffree < MIN_INODES)
      snprintf (msg + l, sizeof msg - l, "%sno space left on the guest "
                "filesystem %s (mounted on %s): %" PRId64 " free inodes, "
                "guestfix needs at least %d", sep, dev, mp, st->ffree,
                MIN_INODES);
    guestfs_free_statvfs (st);
  }
  int rc = 0;
  if (*msg)
    rc = ferry_error (FERRY_E_INPUT, "%s: %s; free some space in the VM, or "
                      "grow the filesystem, then convert again", c->disk,
                      msg);
  free (need);
  gf_free_strings (mps);
  return rc;
}
