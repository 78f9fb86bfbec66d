/* ferry: the cloud-init NoCloud seed: reading the operator's files,
 * generated meta-data, and the "cidata" ISO 9660 volume. */
#include "guestfix/cloudinit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/error.h"
#include "common/fileutil.h"
#include "converters/emit.h"

/* One seed file: a regular file (a FIFO or a device would block or never
 * end), readable, at most FERRY_CLOUDINIT_MAX bytes. */
static int
load_one (const char *opt, const char *path, char **out, size_t *len)
{
  struct stat st;
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

  if (fd < 0)
    return ferry_error_errno (FERRY_E_INPUT, errno, "--%s %s", opt, path);
  if (fstat (fd, &st) < 0) {
    int e = errno;
    close (fd);
    return ferry_error_errno (FERRY_E_INPUT, e, "--%s %s", opt, path);
  }
  close (fd);
  if (!S_ISREG (st.st_mode))
    return ferry_error (FERRY_E_INPUT, "--%s %s: not a regular file", opt,
                        path);
  if (st.st_size > FERRY_CLOUDINIT_MAX)
    return ferry_error (FERRY_E_INPUT, "--%s %s: %jd bytes; a cloud-init "
                        "seed file may hold at most %d bytes (1 MiB)", opt,
                        path, (intmax_t) st.st_size, FERRY_CLOUDINIT_MAX);
  char *text = ferry_read_file (path, FERRY_CLOUDINIT_MAX, len);
  if (!text)
    return ferry_error_prefix ("--%s", opt), -1;
  if (*len > FERRY_CLOUDINIT_MAX) {
    free (text);
    return ferry_error (FERRY_E_INPUT, "--%s %s: grew past %d bytes while "
                        "being read", opt, path, FERRY_CLOUDINIT_MAX);
  }
  *out = text;
  return 0;
}

int
ferry_cloudinit_load (struct ferry_cloudinit *ci, const char *user_data,
                      const char *meta_data, const char *network_config,
                      const struct ferry_log *log)
{
  memset (ci, 0, sizeof *ci);
  if (!user_data && !meta_data && !network_config)
    return 0;
  if ((user_data && load_one ("cloud-init-user-data", user_data,
                              &ci->user_data, &ci->user_data_len) < 0)
      || (meta_data && load_one ("cloud-init-meta-data", meta_data,
                                 &ci->meta_data, &ci->meta_data_len) < 0)
      || (network_config
          && load_one ("cloud-init-network-config", network_config,
                       &ci->network_config, &ci->network_config_len) < 0)) {
    ferry_cloudinit_free (ci);
    return -1;
  }
  ci->user_data_given = user_data != NULL;
  if (!user_data) {
    /* NoCloud wants the file; empty means no user data. */
    if (!(ci->user_data = strdup (""))) {
      ferry_cloudinit_free (ci);
      return ferry_error (FERRY_E_SYSTEM, "out of memory");
    }
  } else if (strncmp (ci->user_data, "#cloud-config", 13) != 0
             && strncmp (ci->user_data, "#!", 2) != 0) {
    ferry_warn (log, "--cloud-init-user-data %s: starts with neither "
                "\"#cloud-config\" nor \"#!\"; cloud-init may not treat it "
                "as configuration or a script", user_data);
  }
  return 0;
}

bool
ferry_cloudinit_given (const struct ferry_cloudinit *ci)
{
  return ci && ci->user_data != NULL;
}

/* FNV-1a, 64 bits: a stable fingerprint of the seed for the instance-id
 * (not a security property: the id only has to change with the seed). */
static uint64_t
fnv1a (uint64_t h, const char *p, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char) p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

int
ferry_cloudinit_meta (struct ferry_cloudinit *ci, const char *hostname)
{
  if (!ferry_cloudinit_given (ci) || ci->meta_data)
    return 0;
  char *label = ferry_k8s_name (hostname && *hostname ? hostname
                                                      : "localhost", 63);
  if (!label)
    return -1;
  uint64_t h = 0xcbf29ce484222325ULL;
  h = fnv1a (h, label, strlen (label) + 1);
  h = fnv1a (h, ci->user_data, ci->user_data_len + 1);
  if (ci->network_config)
    h = fnv1a (h, ci->network_config, ci->network_config_len);
  char *md;
  int n = asprintf (&md, "instance-id: ferry-%s-%016" PRIx64 "\n"
                    "local-hostname: %s\n", label, h, label);
  free (label);
  if (n < 0)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  ci->meta_data = md;
  ci->meta_data_len = (size_t) n;
  ci->meta_data_generated = true;
  return 0;
}

void
ferry_cloudinit_free (struct ferry_cloudinit *ci)
{
  free (ci->user_data);
  free (ci->meta_data);
  free (ci->network_config);
  memset (ci, 0, sizeof *ci);
}

/* ---- the cidata ISO --------------------------------------------------- */

static int
iso_add (struct archive *a, const char *name, const char *data, size_t len,
         time_t when)
{
  struct archive_entry *e = archive_entry_new ();
  if (!e)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  archive_entry_set_pathname (e, name);
  archive_entry_set_filetype (e, AE_IFREG);
  archive_entry_set_perm (e, 0444);
  archive_entry_set_size (e, (la_int64_t) len);
  archive_entry_set_mtime (e, when, 0);
  int rc = 0;
  if (archive_write_header (a, e) != ARCHIVE_OK
      || (len && archive_write_data (a, data, len) != (la_ssize_t) len))
    rc = ferry_error (FERRY_E_OUTPUT, "the cidata ISO: %s: %s", name,
                      archive_error_string (a));
  archive_entry_free (e);
  return rc;
}

/* The writer upper-cases the primary volume descriptor's identifier
 * (strict ISO 9660 d-characters) and keeps "cidata" only in the Joliet
 * one.  Seed volumes in use everywhere carry the lower-case label in the
 * primary descriptor too, and readers that look there (isoinfo, BSD
 * labels) match it case-sensitively: write it as they expect. */
static int
label_lower (int fd, const char *path)
{
  unsigned char pvd[72];
  if (pread (fd, pvd, sizeof pvd, 16 * 2048) != (ssize_t) sizeof pvd)
    return ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: reading the "
                              "volume descriptor", path);
  if (pvd[0] != 1 || memcmp (pvd + 1, "CD001", 5) != 0
      || memcmp (pvd + 40, "CIDATA ", 7) != 0)
    return ferry_error (FERRY_E_OUTPUT, "%s: no primary volume descriptor "
                        "labelled CIDATA at offset 32768", path);
  if (pwrite (fd, "cidata", 6, 16 * 2048 + 40) != 6)
    return ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: writing the "
                              "volume label", path);
  return 0;
}

int
ferry_cloudinit_write_iso (const struct ferry_cloudinit *ci, const char *path)
{
  if (!ferry_cloudinit_given (ci) || !ci->meta_data)
    return ferry_error (FERRY_E_INPUT, "%s: no cloud-init seed to write",
                        path);
  char *part;
  if (asprintf (&part, "%s.part", path) < 0)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  struct archive *a = archive_write_new ();
  int rc = -1;
  time_t when = time (NULL);
  if (!a) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto out;
  }
  /* Rock Ridge (on by default) keeps the names exact for Linux; Joliet
   * for other readers; the label is how cloud-init finds the volume. */
  if (archive_write_set_format_iso9660 (a) != ARCHIVE_OK
      || archive_write_set_option (a, "iso9660", "volume-id", "cidata")
             != ARCHIVE_OK
      || archive_write_set_option (a, "iso9660", "joliet", "1") != ARCHIVE_OK
      || archive_write_set_option (a, "iso9660", "rockridge", "1")
             != ARCHIVE_OK
      || archive_write_open_filename (a, part) != ARCHIVE_OK) {
    ferry_error (FERRY_E_OUTPUT, "%s: %s", part, archive_error_string (a));
    goto out;
  }
  if (iso_add (a, "user-data", ci->user_data, ci->user_data_len, when) < 0
      || iso_add (a, "meta-data", ci->meta_data, ci->meta_data_len, when) < 0
      || (ci->network_config
          && iso_add (a, "network-config", ci->network_config,
                      ci->network_config_len, when) < 0))
    goto out;
  if (archive_write_close (a) != ARCHIVE_OK) {
    ferry_error (FERRY_E_OUTPUT, "%s: %s", part, archive_error_string (a));
    goto out;
  }
  int fd = open (part, O_RDWR | O_CLOEXEC);
  if (fd < 0 || label_lower (fd, part) < 0) {
    if (fd >= 0)
      close (fd);
    if (fd < 0)
      ferry_error_errno (FERRY_E_OUTPUT, errno, "%s", part);
    goto out;
  }
  if (fsync (fd) < 0) {
    ferry_error_errno (FERRY_E_OUTPUT, errno, "%s", part);
    if (fd >= 0)
      close (fd);
    goto out;
  }
  close (fd);
  rc = ferry_rename_durable (part, path);
out:
  if (a)
    archive_write_free (a);
  if (rc < 0)
    unlink (part);
  free (part);
  return rc;
}
