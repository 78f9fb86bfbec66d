/* ferry: choosing a target writer. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "converters/copy.h"
#include "converters/target.h"
#include "importer/transport.h"

struct ferry_target *ferry_target_raw_open (const char *path, uint64_t size,
                                            const struct ferry_target_opts *o);
struct ferry_target *ferry_target_qcow2_open (const char *path, uint64_t size,
                                              const struct ferry_target_opts *o);
struct ferry_target *ferry_target_nbd_open (const char *uri, uint64_t size,
                                            const struct ferry_target_opts *o);

struct ferry_target *
ferry_target_open (const char *path, uint64_t size,
                   const struct ferry_target_opts *o)
{
  if (ferry_is_nbd_uri (path))
    return ferry_target_nbd_open (path, size, o);

  const char *fmt = o->format ? o->format : "raw";

  if (strcasecmp (fmt, "raw") == 0)
    return ferry_target_raw_open (path, size, o);
  if (strcasecmp (fmt, "qcow2") == 0)
    return ferry_target_qcow2_open (path, size, o);
  ferry_error (FERRY_E_USAGE, "--format=%s: unknown output format (known: "
               "raw, qcow2)", fmt);
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

/* The null target: "ferry checksum" runs the copy engine into it. */
static int
null_pwrite (struct ferry_target *t, const void *buf, size_t count,
             uint64_t offset)
{
  (void) t, (void) buf, (void) count, (void) offset;
  return 0;
}

static int
null_zero (struct ferry_target *t, uint64_t offset, uint64_t length)
{
  (void) t, (void) offset, (void) length;
  return 0;
}

static int
null_finish (struct ferry_target *t)
{
  (void) t;
  return 0;
}

static void
null_abort (struct ferry_target *t)
{
  (void) t;
}

static const struct ferry_target_ops null_ops = {
  .name = "null",
  .pwrite = null_pwrite,
  .zero = null_zero,
  .finish = null_finish,
  .abort = null_abort,
  .close = null_abort,
};

struct ferry_target *
ferry_target_null_new (uint64_t size)
{
  struct ferry_target *t = calloc (1, sizeof *t);
  if (!t || !(t->path = strdup ("(null)"))) {
    free (t);
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  t->ops = &null_ops;
  t->size = size;
  t->starts_zeroed = true;
  return t;
}
