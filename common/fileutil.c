/* ferry: small file helpers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fileutil.h"

int
ferry_fsync_parent (const char *path)
{
  char *dir = strdup (path), *slash;
  int fd, r = 0;

  if (!dir)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  slash = strrchr (dir, '/');
  if (slash == dir)
    slash[1] = 0;
  else if (slash)
    *slash = 0;
  else
    strcpy (dir, ".");
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    /* Some filesystems cannot sync a directory; that is not an error. */
    if (fsync (fd) < 0 && errno != EINVAL)
      r = ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: fsync", dir);
    close (fd);
  }
  free (dir);
  return r;
}

int
ferry_rename_durable (const char *from, const char *to)
{
  if (rename (from, to) < 0)
    return ferry_error_errno (FERRY_E_OUTPUT, errno, "rename %s to %s", from,
                              to);
  return ferry_fsync_parent (to);
}

char *
ferry_read_file (const char *path, size_t max, size_t *len)
{
  FILE *f = fopen (path, "rb");
  char *buf = NULL;
  size_t cap = 0, n = 0;

  if (!f) {
    ferry_error_errno (FERRY_E_INPUT, errno, "%s", path);
    return NULL;
  }
  for (;;) {
    size_t r;
    if (n + 65536 + 1 > cap) {
      char *p;
      cap = cap ? cap * 2 : 65536 * 2;
      if (n > max || !(p = realloc (buf, cap))) {
        ferry_error (n > max ? FERRY_E_INPUT : FERRY_E_SYSTEM,
                     n > max ? "%s: larger than %zu bytes" : "%s: out of memory",
                     path, max);
        goto err;
      }
      buf = p;
    }
    r = fread (buf + n, 1, 65536, f);
    n += r;
    if (r < 65536) {
      if (ferror (f)) {
        ferry_error_errno (FERRY_E_INPUT, errno, "%s: read", path);
        goto err;
      }
      break;
    }
  }
  if (n > max) {
    ferry_error (FERRY_E_INPUT, "%s: larger than %zu bytes", path, max);
    goto err;
  }
  fclose (f);
  buf[n] = '\0';
  *len = n;
  return buf;
err:
  fclose (f);
  free (buf);
  return NULL;
}
