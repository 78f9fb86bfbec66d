/* ferry: qcow2 output.
 *
 * The image is built as PATH.part and renamed after qcow2_commit() has
 * written the metadata and cleared the dirty bit, so PATH never names an
 * incomplete image.  Zero ranges cost nothing: a new image without a
 * backing file reads as zeros wherever no cluster is allocated.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fileutil.h"
#include "converters/qcow2.h"
#include "converters/target.h"

struct ferry_target *ferry_target_qcow2_open (const char *path, uint64_t size,
                                              const struct ferry_target_opts *o);

struct qcow2_priv {
  int fd;
  struct qcow2 *q;
  char *part;
  bool finished;
};

static int
q_pwrite (struct ferry_target *t, const void *buf, size_t count,
          uint64_t offset)
{
  struct qcow2_priv *p = t->priv;

  return qcow2_pwrite (p->q, buf, count, offset);
}

static int
q_zero (struct ferry_target *t, uint64_t offset, uint64_t length)
{
  struct qcow2_priv *p = t->priv;

  if (offset + length > qcow2_size (p->q))
    qcow2_set_size (p->q, offset + length);
  return qcow2_zero (p->q, offset, length);
}

static int
q_finish (struct ferry_target *t)
{
  struct qcow2_priv *p = t->priv;

  /* A stream's size is known only at its end. */
  qcow2_set_size (p->q, t->size);
  if (qcow2_commit (p->q) < 0)
    return -1;
  if (!p->part) {
    p->finished = true;
    return 0;
  }
  if (ferry_rename_durable (p->part, t->path) < 0)
    return -1;
  p->finished = true;
  return 0;
}

static void
q_abort (struct ferry_target *t)
{
  struct qcow2_priv *p = t->priv;

  if (p->part && !p->finished)
    unlink (p->part);
}

static void
q_close (struct ferry_target *t)
{
  struct qcow2_priv *p = t->priv;

  if (!p->finished)
    q_abort (t);
  qcow2_free (p->q);
  if (p->fd >= 0)
    close (p->fd);
  free (p->part);
  free (p);
}

static int
q_checkpoint (struct ferry_target *t)
{
  struct qcow2_priv *p = t->priv;

  return qcow2_checkpoint (p->q);
}

static const struct ferry_target_ops qcow2_ops = {
  .name = "qcow2",
  .checkpoint = q_checkpoint,
  .pwrite = q_pwrite,
  .zero = q_zero,
  .finish = q_finish,
  .abort = q_abort,
  .close = q_close,
};

struct ferry_target *
ferry_target_qcow2_open (const char *path, uint64_t size,
                         const struct ferry_target_opts *o)
{
  struct ferry_target *t = calloc (1, sizeof *t);
  struct qcow2_priv *p = calloc (1, sizeof *p);
  struct qcow2_create_opts co = { .size = size, .cluster_bits = 16 };
  struct stat st;

  if (!t || !p || !(t->path = strdup (path))) {
    free (t);
    free (p);
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  p->fd = -1;
  t->ops = &qcow2_ops;
  t->priv = p;
  t->size = size;

  if (o->cluster_size) {
    uint32_t cs = o->cluster_size;
    if (cs & (cs - 1) || cs < 512 || cs > 2 * 1024 * 1024) {
      ferry_error (FERRY_E_USAGE, "--cluster-size=%u: must be a power of two "
                   "from 512 to 2M", cs);
      goto err;
    }
    co.cluster_bits = (unsigned) __builtin_ctz (cs);
  }
  if (o->compress) {
    if (strcasecmp (o->compress, "zlib") == 0)
      co.compression = QCOW2_COMP_ZLIB;
    else if (strcasecmp (o->compress, "zstd") == 0)
      co.compression = QCOW2_COMP_ZSTD;
    else {
      ferry_error (FERRY_E_USAGE, "--compress=%s: expected zlib or zstd",
                   o->compress);
      goto err;
    }
  }
  co.preallocate_metadata = o->preallocate_metadata;

  if (o->in_place) {
    /* Incremental sync into the image an earlier run made.  A dirty image
     * (a run killed mid-write) is refused by qcow2_open. */
    p->fd = open (path, O_RDWR | O_CLOEXEC);
    if (p->fd < 0) {
      ferry_error_errno (FERRY_E_OUTPUT, errno, "%s", path);
      goto err;
    }
    if (!(p->q = qcow2_open (p->fd, path, o->allow_dirty))) {
      if (ferry_error_code () == FERRY_E_INPUT)
        ferry_error_set_raw (FERRY_E_OUTPUT, ferry_error_msg ());
      goto err;
    }
    if (qcow2_size (p->q) != ((size + 511) & ~UINT64_C (511))) {
      ferry_error (FERRY_E_OUTPUT, "%s: virtual size %llu, but the disk is "
                   "%llu bytes: not a copy of this disk", path,
                   (unsigned long long) qcow2_size (p->q),
                   (unsigned long long) size);
      goto err;
    }
    t->starts_zeroed = false;
    t->write_block = qcow2_cluster_size (p->q);
    return t;
  }

  if (stat (path, &st) == 0) {
    if (!S_ISREG (st.st_mode)) {
      ferry_error (FERRY_E_USAGE, "%s: qcow2 output goes to a regular file "
                   "(write a block device with --format=raw)", path);
      goto err;
    }
    if (!o->overwrite) {
      ferry_error (FERRY_E_OUTPUT, "%s: already exists (use --overwrite to "
                   "replace it)", path);
      goto err;
    }
  }
  if (asprintf (&p->part, "%s.part", path) < 0) {
    p->part = NULL;
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto err;
  }
  p->fd = open (p->part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (p->fd < 0) {
    ferry_error_errno (FERRY_E_OUTPUT, errno, "%s", p->part);
    goto err;
  }
  if (!(p->q = qcow2_create (p->fd, p->part, &co))) {
    unlink (p->part);
    goto err;
  }
  t->starts_zeroed = true;
  t->write_block = qcow2_cluster_size (p->q);
  return t;

err:
  qcow2_free (p->q);
  if (p->fd >= 0)
    close (p->fd);
  free (p->part);
  free (p);
  free (t->path);
  free (t);
  return NULL;
}
