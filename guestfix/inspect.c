/* ferry guestfix: find the guest operating system, refuse what cannot be
 * changed safely, and mount it.  Windows guests go on in
 * windows_inspect.c. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "guestfix/internal.h"

/* Refuse a filesystem that needs journal recovery.  It must be checked
 * before inspection: inspection mounts filesystems (read-only), and the
 * kernel replays the journal on such a mount, hiding the state.  The
 * partitions, whole disks and logical volumes are probed directly
 * (blkid, then tune2fs -l on ext2/3/4): list_filesystems would cost as
 * much as the inspection itself under TCG. */
static int
check_one (struct gf_ctx *c, const char *dev)
{
  char *type = guestfs_vfs_type (c->g, dev);
  if (!type) {
    ferry_debug (c->log, "guestfix: blkid %s: %s", dev,
                 guestfs_last_error (c->g));
    return 0;
  }
  bool ext = strcmp (type, "ext2") == 0 || strcmp (type, "ext3") == 0
             || strcmp (type, "ext4") == 0;
  free (type);
  if (!ext)
    return 0;
  char **kv = guestfs_tune2fs_l (c->g, dev);
  if (!kv) {
    ferry_debug (c->log, "guestfix: tune2fs -l %s: %s", dev,
                 guestfs_last_error (c->g));
    return 0;
  }
  const char *why = NULL;
  for (size_t j = 0; kv[j] && kv[j + 1]; j += 2) {
    if (strcmp (kv[j], "Filesystem features") == 0
        && strstr (kv[j + 1], "needs_recovery"))
      why = "its journal needs recovery";
    else if (!why && strcmp (kv[j], "Filesystem state") == 0
             && strcmp (kv[j + 1], "clean") != 0)
      why = "its state is not clean";
  }
  int rc = 0;
  if (why)
    rc = ferry_error (FERRY_E_INPUT, "%s: the filesystem on %s was not "
                      "unmounted cleanly (%s); shut the VM down cleanly "
                      "before converting it, or repair the filesystem",
                      c->disk, dev, why);
  gf_free_strings (kv);
  return rc;
}

int
gf_check_dirty (struct gf_ctx *c)
{
  static char **(*const lists[]) (guestfs_h *) = {
    guestfs_list_devices, guestfs_list_partitions, guestfs_lvs,
  };
  for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
    char **devs = lists[i] (c->g);
    if (!devs)
      return gf_gerror (c, FERRY_E_INPUT, "listing the disk's block devices");
    int rc = 0;
    for (size_t j = 0; devs[j] && rc == 0; j++)
      rc = check_one (c, devs[j]);
    gf_free_strings (devs);
    if (rc < 0)
      return -1;
  }
  /* Filesystems directly inside opened LUKS devices (luks.c). */
  char *const *mapped = gf_luks_mapped (c);
  for (size_t j = 0; mapped && mapped[j]; j++)
    if (check_one (c, mapped[j]) < 0)
      return -1;
  return 0;
}

static char *
dup_or_null (char *s)
{
  /* libguestfs returns "unknown" for facts it could not find. */
  if (s && strcmp (s, "unknown") == 0) {
    free (s);
    return NULL;
  }
  return s;
}

int
gf_inspect (struct gf_ctx *c)
{
  struct guestfix_result *r = c->r;
  char **roots = guestfs_inspect_os (c->g);
  if (!roots)
    return gf_gerror (c, FERRY_E_INPUT, "inspecting the disk");
  size_t n = gf_count_strings (roots);
  const char *root = NULL;
  char *want = NULL;

  if (n == 0) {
    gf_free_strings (roots);
    char *hint = gf_luks_hint (c);
    ferry_error (FERRY_E_INPUT, "%s: no operating system found (inspection "
                 "found no root filesystem)%s", c->disk, hint ? hint : "");
    free (hint);
    return -1;
  }
  if (c->o->root) {
    want = guestfs_canonical_device_name (c->g, c->o->root);
    for (size_t i = 0; i < n; i++)
      if (strcmp (roots[i], c->o->root) == 0
          || (want && strcmp (roots[i], want) == 0))
        root = roots[i];
  } else if (n == 1) {
    root = roots[0];
  }
  if (!root) {
    char list[512] = "";
    for (size_t i = 0; i < n; i++) {
      size_t l = strlen (list);
      snprintf (list + l, sizeof list - l, "%s%s", i ? ", " : "", roots[i]);
    }
    if (c->o->root)
      ferry_error (FERRY_E_INPUT, "%s: --root %s is not an operating system "
                   "root on this disk (roots: %s)", c->disk, c->o->root, list);
    else
      ferry_error (FERRY_E_INPUT, "%s: %zu operating systems found (roots: "
                   "%s); choose one with --root", c->disk, n, list);
    free (want);
    gf_free_strings (roots);
    return -1;
  }
  free (want);
  r->root = gf_strdup (root);
  gf_free_strings (roots);

  r->os_type = dup_or_null (guestfs_inspect_get_type (c->g, r->root));
  r->distro = dup_or_null (guestfs_inspect_get_distro (c->g, r->root));
  r->product_name = dup_or_null (guestfs_inspect_get_product_name (c->g,
                                                                   r->root));
  r->major = guestfs_inspect_get_major_version (c->g, r->root);
  r->minor = guestfs_inspect_get_minor_version (c->g, r->root);
  r->package_format =
    dup_or_null (guestfs_inspect_get_package_format (c->g, r->root));
  r->package_management =
    dup_or_null (guestfs_inspect_get_package_management (c->g, r->root));
  ferry_info (c->log, "guestfix: %s: %s (%s %d.%d), root %s", c->disk,
              r->product_name ? r->product_name : "unknown product",
              r->distro ? r->distro : "unknown distribution", r->major,
              r->minor, r->root);

  if (r->os_type && strcmp (r->os_type, "windows") == 0)
    return gf_windows_inspect (c);
  if (!r->os_type || strcmp (r->os_type, "linux") != 0)
    return ferry_error (FERRY_E_INPUT, "%s: the guest on %s is %s; ferry "
                        "guestfix handles Linux and Windows guests", c->disk,
                        r->root, r->os_type ? r->os_type : "of unknown type");

  return 0;
}

static int
mp_cmp (const void *a, const void *b)
{
  const char *const *x = a, *const *y = b;
  size_t lx = strlen (x[0]), ly = strlen (y[0]);
  return lx < ly ? -1 : lx > ly ? 1 : strcmp (x[0], y[0]);
}

int
gf_mount (struct gf_ctx *c)
{
  char **mps = guestfs_inspect_get_mountpoints (c->g, c->r->root);
  if (!mps)
    return gf_gerror (c, FERRY_E_INPUT, "reading the guest's mount points");
  size_t n = gf_count_strings (mps) / 2;
  /* Pairs (mountpoint, device), parents before children. */
  qsort (mps, n, 2 * sizeof *mps, mp_cmp);
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    const char *mp = mps[2 * i], *dev = mps[2 * i + 1];
    bool again = false;
    for (size_t j = 0; j < i; j++)
      again |= strcmp (mps[2 * j + 1], dev) == 0;
    if (again) {
      gf_note (c, "%s is listed for %s and for another mount point; "
               "mounted once", dev, mp);
      continue;
    }
    if (guestfs_mount (c->g, dev, mp) == 0)
      continue;
    if (strcmp (mp, "/") == 0) {
      char what[300];
      snprintf (what, sizeof what, "%s: mounting the root filesystem %s",
                c->disk, dev);
      rc = gf_gerror (c, FERRY_E_INPUT, what);
      break;
    }
    ferry_debug (c->log, "guestfix: cannot mount %s on %s: %s", dev, mp,
                 guestfs_last_error (c->g));
    gf_note (c, "%s (%s) could not be mounted; files under it were not "
             "changed", mp, dev);
  }
  gf_free_strings (mps);
  return rc;
}
