/* ferry: choosing a target writer. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "converters/target.h"

struct ferry_target *ferry_target_raw_open (const char *path, uint64_t size,
                                            const struct ferry_target_opts *o);

struct ferry_target *
ferry_target_open (const char *path, uint64_t size,
                   const struct ferry_target_opts *o)
{
  const char *fmt = o->format ? o->format : "raw";

  if (strcasecmp (fmt, "raw") == 0)
    return ferry_target_raw_open (path, size, o);
  if (strcasecmp (fmt, "qcow2") == 0) {
    ferry_error (FERRY_E_USAGE, "--format=qcow2: qcow2 output is not "
                 "implemented yet; use --format=raw");
    return NULL;
  }
  ferry_error (FERRY_E_USAGE, "--format=%s: unknown output format (known: raw)",
               fmt);
  return NULL;
}

void
ferry_target_close (struct ferry_target *t)
{
  if (!t)
    return;
  t->ops->close (t);
  free (t->path);
  free (t);
}
