/* ferry guestfix, Windows: copy the virtio-win drivers this Windows needs
 * into the guest.
 *
 * The source is a virtio-win ISO (read with libarchive, never mounted) or
 * a directory with the same layout: DRIVER/OS/ARCH/FILE, e.g.
 * viostor/2k22/amd64/viostor.sys, NetKVM/w11/amd64/netkvm.inf, and the
 * guest agent as guest-agent/qemu-ga-x86_64.msi.  Names are compared
 * without regard to case (the ISO's names are not consistently cased).
 *
 * Every file of the chosen drivers goes, lower-cased and flattened, to
 * %SystemRoot%\Drivers\VirtIO (where Plug and Play finds them through
 * DevicePath, and the first-boot script installs them with pnputil); the
 * boot disk drivers' .sys also go to %SystemRoot%\System32\drivers, where
 * the boot loader loads them before Plug and Play runs.  Without viostor
 * for this Windows the guest cannot boot on virtio-blk, so that is an
 * error; the other drivers are noted when missing. */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "guestfix/windows_internal.h"

/* The drivers taken from virtio-win (directory names, lower case). */
static const char *const wanted[] = {
  "viostor", "vioscsi", "netkvm", "balloon", "viorng", NULL,
};

struct vw_file {
  char *rel;      /* path inside the source */
  char *driver;   /* its driver ("viostor"), or NULL for the agent MSI */
  char *name;     /* lower-cased file name, as written in the guest */
  char *host;     /* host file to upload */
};

struct vw_scan {
  struct gf_ctx *c;
  const struct gf_windows *w;
  struct vw_file *files;
  size_t n, cap;
  size_t base_len;   /* directory source: length of its path + '/' */
  char *tmpdir;      /* ISO source: where matched members are extracted */
};

static char *
lower (const char *s)
{
  char *p = gf_strdup (s);
  for (char *q = p; *q; q++)
    *q = (char) tolower ((unsigned char) *q);
  return p;
}

/* Whether REL (a path in the source) is a file this guest needs: its
 * driver name (static), "" for the guest agent MSI, NULL when not
 * needed. */
static const char *
match (const struct gf_windows *w, const char *rel)
{
  char *lc = lower (rel);
  const char *base = strrchr (lc, '/');
  base = base ? base + 1 : lc;
  const char *result = NULL;

  static const char *const ga64[] = { "qemu-ga-x86_64.msi", "qemu-ga-x64.msi",
                                      NULL };
  static const char *const ga32[] = { "qemu-ga-i386.msi", "qemu-ga-x86.msi",
                                      NULL };
  const char *const *ga = strcmp (w->arch, "x86_64") == 0 ? ga64
                          : strcmp (w->arch, "i386") == 0 ? ga32 : NULL;
  for (size_t i = 0; ga && ga[i]; i++)
    if (strcmp (base, ga[i]) == 0)
      result = "";

  /* DRIVER/.../OS/.../ARCH/.../FILE: the first element names the driver,
   * and some later directories the OS and the architecture. */
  char *os = lower (w->os_tag), *arch = lower (w->arch_tag);
  bool os_ok = false, arch_ok = false;
  char *save = NULL, *first = NULL;
  for (char *e = strtok_r (lc, "/", &save); e; e = strtok_r (NULL, "/", &save)) {
    if (!first) {
      first = e;
      continue;
    }
    if (e == base)
      break;   /* the file name itself */
    os_ok |= strcmp (e, os) == 0;
    arch_ok |= strcmp (e, arch) == 0;
  }
  if (!result && first && os_ok && arch_ok)
    for (size_t i = 0; wanted[i]; i++)
      if (strcmp (first, wanted[i]) == 0)
        result = wanted[i];
  free (os);
  free (arch);
  free (lc);
  return result;
}

static void
add_file (struct vw_scan *s, const char *rel, const char *driver,
          const char *host)
{
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 32;
    s->files = realloc (s->files, s->cap * sizeof *s->files);
    if (!s->files)
      abort ();
  }
  const char *base = strrchr (rel, '/');
  s->files[s->n++] = (struct vw_file) {
    .rel = gf_strdup (rel), .driver = *driver ? gf_strdup (driver) : NULL,
    .name = lower (base ? base + 1 : rel), .host = gf_strdup (host),
  };
}

static void
scan_free (struct vw_scan *s)
{
  for (size_t i = 0; i < s->n; i++) {
    if (s->tmpdir)
      unlink (s->files[i].host);
    free (s->files[i].rel);
    free (s->files[i].driver);
    free (s->files[i].name);
    free (s->files[i].host);
  }
  free (s->files);
  if (s->tmpdir) {
    rmdir (s->tmpdir);
    free (s->tmpdir);
  }
}

/* nftw has no user pointer: the scan in progress, for this one walk. */
static struct vw_scan *walking;

static int
walk_one (const char *path, const struct stat *st, int type,
          struct FTW *ftw)
{
  (void) st;
  (void) ftw;
  if (type != FTW_F)
    return 0;
  const char *rel = path + walking->base_len;
  const char *driver = match (walking->w, rel);
  if (driver)
    add_file (walking, rel, driver, path);
  return 0;
}

static int
scan_dir (struct vw_scan *s, const char *dir)
{
  s->base_len = strlen (dir);
  while (s->base_len > 1 && dir[s->base_len - 1] == '/')
    s->base_len--;
  s->base_len++;
  walking = s;
  int rc = nftw (dir, walk_one, 16, FTW_PHYS);
  walking = NULL;
  if (rc != 0)
    return ferry_error_errno (FERRY_E_INPUT, errno, "reading the virtio-win "
                              "directory %s", dir);
  return 0;
}

static int
scan_iso (struct vw_scan *s, const char *iso)
{
  s->tmpdir = gf_asprintf ("%s/virtio-win", s->c->overlay_dir);
  if (mkdir (s->tmpdir, 0700) < 0) {
    int e = errno;
    free (s->tmpdir);
    s->tmpdir = NULL;
    return ferry_error_errno (FERRY_E_OUTPUT, e, "%s/virtio-win",
                              s->c->overlay_dir);
  }
  struct archive *a = archive_read_new ();
  if (!a)
    abort ();
  archive_read_support_format_iso9660 (a);
  int rc = 0;
  if (archive_read_open_filename (a, iso, 64 * 1024) != ARCHIVE_OK) {
    rc = ferry_error (FERRY_E_INPUT, "%s: not a readable virtio-win ISO: %s",
                      iso, archive_error_string (a));
    goto out;
  }
  struct archive_entry *e;
  int r;
  while ((r = archive_read_next_header (a, &e)) == ARCHIVE_OK) {
    if (archive_entry_filetype (e) != AE_IFREG)
      continue;
    const char *rel = archive_entry_pathname (e);
    while (rel && (rel[0] == '/' || (rel[0] == '.' && rel[1] == '/')))
      rel += rel[0] == '/' ? 1 : 2;
    if (!rel || !*rel)
      continue;
    const char *driver = match (s->w, rel);
    if (!driver)
      continue;
    char *host = gf_asprintf ("%s/%zu", s->tmpdir, s->n);
    int fd = open (host, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      rc = ferry_error_errno (FERRY_E_OUTPUT, errno, "%s", host);
      free (host);
      goto out;
    }
    add_file (s, rel, driver, host);
    free (host);
    int dr = archive_read_data_into_fd (a, fd);
    if (close (fd) < 0 || dr != ARCHIVE_OK) {
      rc = ferry_error (FERRY_E_INPUT, "%s: reading %s from the ISO: %s", iso,
                        rel, archive_error_string (a));
      goto out;
    }
  }
  if (r != ARCHIVE_EOF)
    rc = ferry_error (FERRY_E_INPUT, "%s: reading the ISO's directory: %s",
                      iso, archive_error_string (a));
out:
  archive_read_free (a);
  return rc;
}

/* DIR/NAME in the guest, reusing an existing entry whatever its case, and
 * creating the directory when it is missing.  NULL on error (set). */
static char *
ci_mkdir (struct gf_ctx *c, const char *dir, const char *name)
{
  char *want = gf_asprintf ("%s/%s", dir, name);
  char *path = guestfs_case_sensitive_path (c->g, want);
  free (want);
  if (!path) {
    gf_gerror (c, FERRY_E_OUTPUT, dir);
    return NULL;
  }
  if (!gf_is_dir (c, path) && guestfs_mkdir (c->g, path) < 0) {
    gf_gerror (c, FERRY_E_OUTPUT, path);
    free (path);
    return NULL;
  }
  return path;
}

static int
upload (struct gf_ctx *c, const char *host, const char *guest)
{
  if (guestfs_upload (c->g, host, guest) < 0) {
    char what[800];
    snprintf (what, sizeof what, "copying %s into the guest as %s", host,
              guest);
    return gf_gerror (c, FERRY_E_OUTPUT, what);
  }
  return 0;
}

static const struct vw_file *
find_name (const struct vw_scan *s, const char *name)
{
  const struct vw_file *f = NULL;
  for (size_t i = 0; i < s->n; i++)
    if (strcmp (s->files[i].name, name) == 0)
      f = &s->files[i];
  return f;
}

/* Copy the boot driver DRV's .sys to System32\drivers; *done is false
 * when the source has none for this guest. */
static int
boot_driver (struct gf_ctx *c, const struct vw_scan *s, const char *drv,
             bool *done)
{
  struct gf_windows *w = c->win;
  char *sys = gf_asprintf ("%s.sys", drv);
  const struct vw_file *f = find_name (s, sys);
  *done = false;
  int rc = 0;
  if (f) {
    char *sys32 = ci_mkdir (c, w->systemroot, "System32");
    char *drivers = sys32 ? ci_mkdir (c, sys32, "drivers") : NULL;
    rc = -1;
    if (drivers) {
      char *dst = gf_asprintf ("%s/%s", drivers, sys);
      rc = upload (c, f->host, dst);
      if (rc == 0) {
        gf_change (c, dst, "boot disk driver %s from virtio-win %s", drv,
                   f->rel);
        *done = true;
      }
      free (dst);
    }
    free (drivers);
    free (sys32);
  }
  free (sys);
  return rc;
}

int
gf_windows_virtio (struct gf_ctx *c)
{
  struct gf_windows *w = c->win;
  const char *src = c->o->virtio_win;
  if (!src || !*src)
    src = getenv ("VIRTIO_WIN");
  if (!src || !*src)
    return ferry_error (FERRY_E_USAGE, "%s: Windows guest (%s): the virtio "
                        "drivers are needed: give the virtio-win ISO or "
                        "directory with --virtio-win PATH or VIRTIO_WIN=PATH",
                        c->disk, w->os_desc);
  w->source = gf_strdup (src);
  struct stat st;
  if (stat (src, &st) < 0)
    return ferry_error_errno (FERRY_E_INPUT, errno, "virtio-win %s", src);

  struct vw_scan s = { .c = c, .w = w };
  int rc = S_ISDIR (st.st_mode) ? scan_dir (&s, src) : scan_iso (&s, src);
  if (rc < 0)
    goto out;

  if (!find_name (&s, "viostor.sys")) {
    rc = ferry_error (FERRY_E_INPUT, "virtio-win %s has no viostor driver "
                      "for %s: expected viostor/%s/%s/viostor.sys; without "
                      "it the guest cannot boot from a virtio disk", src,
                      w->os_desc, w->os_tag, w->arch_tag);
    goto out;
  }

  char *drivers = ci_mkdir (c, w->systemroot, "Drivers");
  w->driver_dir = drivers ? ci_mkdir (c, drivers, "VirtIO") : NULL;
  free (drivers);
  if (!w->driver_dir) {
    rc = -1;
    goto out;
  }

  /* Every file, then one change per driver naming its files. */
  for (size_t i = 0; i < s.n && rc == 0; i++) {
    char *dst = gf_asprintf ("%s/%s", w->driver_dir, s.files[i].name);
    rc = upload (c, s.files[i].host, dst);
    if (rc == 0 && !s.files[i].driver) {
      free (w->qemu_ga);
      w->qemu_ga = gf_strdup (dst);
      gf_change (c, dst, "QEMU guest agent installer from virtio-win %s "
                 "(installed at first boot)", s.files[i].rel);
    }
    size_t len = strlen (s.files[i].name);
    if (rc == 0 && len > 4 && strcmp (s.files[i].name + len - 4, ".inf") == 0
        && s.files[i].driver) {
      w->infs = realloc (w->infs, (w->n_infs + 2) * sizeof *w->infs);
      if (!w->infs)
        abort ();
      w->infs[w->n_infs++] = gf_strdup (s.files[i].name);
      w->infs[w->n_infs] = NULL;
    }
    free (dst);
  }
  for (size_t d = 0; wanted[d] && rc == 0; d++) {
    char *names = NULL, *from = NULL;
    for (size_t i = 0; i < s.n; i++) {
      if (!s.files[i].driver || strcmp (s.files[i].driver, wanted[d]) != 0)
        continue;
      char *n = gf_asprintf ("%s%s%s", names ? names : "", names ? ", " : "",
                             s.files[i].name);
      free (names);
      names = n;
      if (!from) {
        const char *slash = strrchr (s.files[i].rel, '/');
        from = gf_asprintf ("%.*s", (int) (slash - s.files[i].rel),
                            s.files[i].rel);
      }
    }
    if (names)
      gf_change (c, w->driver_dir, "driver %s from virtio-win %s: %s",
                 wanted[d], from, names);
    else
      gf_note (c, "virtio-win %s has no %s driver for %s (%s/%s/%s/); the "
               "guest will need another device model for it", src, wanted[d],
               w->os_desc, wanted[d], w->os_tag, w->arch_tag);
    free (names);
    free (from);
  }
  if (rc == 0 && !w->qemu_ga)
    gf_note (c, "virtio-win %s has no QEMU guest agent installer for %s "
             "(guest-agent/qemu-ga-*.msi); install it by hand", src,
             w->arch);

  if (rc == 0)
    rc = boot_driver (c, &s, "viostor", &w->viostor);
  if (rc == 0)
    rc = boot_driver (c, &s, "vioscsi", &w->vioscsi);
out:
  scan_free (&s);
  return rc;
}
