/* ferry: raw output to a regular file or a block device.
 *
 * A file is written as PATH.part and renamed only after fsync, so a run
 * that fails or is killed never leaves a file at PATH that looks complete.
 * Zeros become holes: the new file reads as zeros already, so zero ranges
 * cost nothing.  A block device is written in place; zero ranges use
 * BLKZEROOUT, which guarantees zeros (discard does not).
 *
 * Writes whose buffer, offset and length are aligned to a page go through
 * a second descriptor opened with O_DIRECT: a disk image is written once
 * and not read back, so copying it through the page cache only cost CPU
 * (on a VM whose memory the host hands out lazily, as much as the rest of
 * the conversion) and pushed out cache the host had a use for.  Other
 * writes (a stream's ragged tail) and everything else (truncate, holes,
 * fsync) use the ordinary descriptor; Linux keeps the two coherent.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fileutil.h"
#include "converters/target.h"

/* O_DIRECT alignment for buffers, offsets and lengths: a page covers the
 * logical block size of any disk, 4Kn included. */
#define DIRECT_ALIGN 4096

struct raw_priv {
  int fd;
  int dfd; /* O_DIRECT, or -1 */
  _Atomic bool direct_off; /* the file system refused an aligned write */
  bool is_blk;
  bool preallocated;
  bool finished;
  char *part; /* NULL for block devices */
  /* Buffered writes to one regular file from several threads contend on
   * the file's inode lock, and the kernel spins for it: on 2 CPUs that
   * cost more CPU than the copying itself.  Taking turns here sleeps
   * instead. */
  pthread_mutex_t write_lock;
};

static int
raw_pwrite (struct ferry_target *t, const void *buf, size_t count,
            uint64_t offset)
{
  struct raw_priv *p = t->priv;
  const char *b = buf;
  int rc = 0;

  if (!p->is_blk)
    pthread_mutex_lock (&p->write_lock);
  while (p->dfd >= 0 && count > 0 && !atomic_load (&p->direct_off)
         && (((uintptr_t) b | count | offset) & (DIRECT_ALIGN - 1)) == 0) {
    ssize_t r = pwrite (p->dfd, b, count, (off_t) offset);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 && errno == EINVAL) {
      /* The file system wants another alignment after all: write
       * through the page cache from now on.  (Other threads may be
       * writing to a block device with dfd, so it stays open.) */
      atomic_store (&p->direct_off, true);
      break;
    }
    if (r < 0) {
      rc = ferry_error_errno (FERRY_E_OUTPUT, errno,
                              "%s: write at offset %llu", t->path,
                              (unsigned long long) offset);
      count = 0;
      break;
    }
    b += r;
    count -= (size_t) r;
    offset += (uint64_t) r;
  }
  while (count > 0) {
    ssize_t r = pwrite (p->fd, b, count, (off_t) offset);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      rc = ferry_error_errno (FERRY_E_OUTPUT, errno,
                              "%s: write at offset %llu", t->path,
                              (unsigned long long) offset);
      break;
    }
    b += r;
    count -= (size_t) r;
    offset += (uint64_t) r;
  }
  if (!p->is_blk)
    pthread_mutex_unlock (&p->write_lock);
  return rc;
}

static int
write_zeros (struct ferry_target *t, uint64_t offset, uint64_t length)
{
  static const char zeros[65536];
  while (length > 0) {
    size_t n = length < sizeof zeros ? (size_t) length : sizeof zeros;
    if (raw_pwrite (t, zeros, n, offset) < 0)
      return -1;
    offset += n;
    length -= n;
  }
  return 0;
}

static int
raw_zero (struct ferry_target *t, uint64_t offset, uint64_t length)
{
  struct raw_priv *p = t->priv;

  if (length == 0)
    return 0;
  if (p->is_blk) {
    uint64_t range[2] = { offset, length };
    if ((offset | length) % 512 == 0 && ioctl (p->fd, BLKZEROOUT, range) == 0)
      return 0;
    return write_zeros (t, offset, length);
  }
  /* Keep a preallocated file allocated; otherwise a hole is the cheapest
   * zero there is. */
  int mode = p->preallocated ? FALLOC_FL_ZERO_RANGE
                             : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
  if (fallocate (p->fd, mode, (off_t) offset, (off_t) length) == 0)
    return 0;
  return write_zeros (t, offset, length);
}

static int
raw_finish (struct ferry_target *t)
{
  struct raw_priv *p = t->priv;

  /* Trailing zeros were skipped, and a stream's size is only known at its
   * end: set the final length explicitly. */
  if (!p->is_blk && ftruncate (p->fd, (off_t) t->size) < 0)
    return ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: truncate",
                              p->part ? p->part : t->path);
  if (fsync (p->fd) < 0)
    return ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: fsync",
                              p->part ? p->part : t->path);
  if (p->part && ferry_rename_durable (p->part, t->path) < 0)
    return -1;
  p->finished = true;
  return 0;
}

static void
raw_abort (struct ferry_target *t)
{
  struct raw_priv *p = t->priv;
  if (p->part && !p->finished)
    unlink (p->part);
}

static void
raw_close (struct ferry_target *t)
{
  struct raw_priv *p = t->priv;
  if (!p->finished)
    raw_abort (t);
  close (p->fd);
  if (p->dfd >= 0)
    close (p->dfd);
  pthread_mutex_destroy (&p->write_lock);
  free (p->part);
  free (p);
}

static int
raw_checkpoint (struct ferry_target *t)
{
  struct raw_priv *p = t->priv;

  if (fdatasync (p->fd) < 0)
    return ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: fsync", t->path);
  return 0;
}

static const struct ferry_target_ops raw_ops = {
  .name = "raw",
  .checkpoint = raw_checkpoint,
  .pwrite = raw_pwrite,
  .zero = raw_zero,
  .finish = raw_finish,
  .abort = raw_abort,
  .close = raw_close,
};

static int
open_block_device (struct ferry_target *t, struct raw_priv *p, uint64_t size)
{
  uint64_t devsize;

  p->fd = open (t->path, O_WRONLY | O_CLOEXEC);
  if (p->fd < 0)
    return ferry_error_errno (FERRY_E_OUTPUT, errno, "%s", t->path);
  if (ioctl (p->fd, BLKGETSIZE64, &devsize) < 0)
    return ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: BLKGETSIZE64",
                              t->path);
  if (devsize < size)
    return ferry_error (FERRY_E_OUTPUT,
                        "%s: block device is %llu bytes, smaller than the "
                        "virtual size %llu",
                        t->path, (unsigned long long) devsize,
                        (unsigned long long) size);
  p->is_blk = true;
  t->starts_zeroed = false;
  p->dfd = open (t->path, O_WRONLY | O_DIRECT | O_CLOEXEC);
  return 0;
}

/* Incremental sync: the file holds an earlier copy of this disk. */
static int
open_file_in_place (struct ferry_target *t, struct raw_priv *p, uint64_t size)
{
  struct stat st;

  p->fd = open (t->path, O_WRONLY | O_CLOEXEC);
  if (p->fd < 0)
    return ferry_error_errno (FERRY_E_OUTPUT, errno, "%s", t->path);
  if (fstat (p->fd, &st) < 0)
    return ferry_error_errno (FERRY_E_OUTPUT, errno, "%s", t->path);
  if ((uint64_t) st.st_size != size)
    return ferry_error (FERRY_E_OUTPUT, "%s: is %llu bytes, but the disk is "
                        "%llu bytes: not a copy of this disk", t->path,
                        (unsigned long long) st.st_size,
                        (unsigned long long) size);
  t->starts_zeroed = false;
  return 0;
}

static int
open_file (struct ferry_target *t, struct raw_priv *p, uint64_t size,
           const struct ferry_target_opts *o)
{
  struct stat st;

  if (stat (t->path, &st) == 0 && !o->overwrite)
    return ferry_error (FERRY_E_OUTPUT,
                        "%s: already exists (use --overwrite to replace it)",
                        t->path);
  if (asprintf (&p->part, "%s.part", t->path) < 0) {
    p->part = NULL;
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  }
  /* A leftover .part is an earlier failed run of ours; start afresh. */
  p->fd = open (p->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (p->fd < 0)
    return ferry_error_errno (FERRY_E_OUTPUT, errno, "%s", p->part);
  if (ftruncate (p->fd, (off_t) size) < 0) {
    ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: set size to %llu", p->part,
                       (unsigned long long) size);
    unlink (p->part);
    return -1;
  }
  if (o->preallocate && size > 0) {
    int r = posix_fallocate (p->fd, 0, (off_t) size);
    if (r != 0) {
      ferry_error_errno (FERRY_E_OUTPUT, r, "%s: preallocate %llu bytes",
                         p->part, (unsigned long long) size);
      unlink (p->part);
      return -1;
    }
    p->preallocated = true;
  }
  t->starts_zeroed = true;
  /* Not every file system takes O_DIRECT (tmpfs does not); those are
   * written through the page cache. */
  p->dfd = open (p->part, O_WRONLY | O_DIRECT | O_CLOEXEC);
  return 0;
}

struct ferry_target *
ferry_target_raw_open (const char *path, uint64_t size,
                       const struct ferry_target_opts *o)
{
  struct ferry_target *t = calloc (1, sizeof *t);
  struct raw_priv *p = calloc (1, sizeof *p);
  struct stat st;
  int r;

  if (!t || !p || !(t->path = strdup (path))) {
    free (t);
    free (p);
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  p->fd = -1;
  p->dfd = -1;
  pthread_mutex_init (&p->write_lock, NULL);
  t->ops = &raw_ops;
  t->priv = p;
  t->size = size;

  if (stat (path, &st) == 0 && S_ISBLK (st.st_mode))
    r = open_block_device (t, p, size);
  else if (stat (path, &st) == 0 && !S_ISREG (st.st_mode))
    r = ferry_error (FERRY_E_OUTPUT, "%s: not a regular file or block device",
                     path);
  else if (o->in_place)
    r = open_file_in_place (t, p, size);
  else
    r = open_file (t, p, size, o);
  if (r < 0) {
    if (p->fd >= 0)
      close (p->fd);
    if (p->dfd >= 0)
      close (p->dfd);
    pthread_mutex_destroy (&p->write_lock);
    free (p->part);
    free (p);
    free (t->path);
    free (t);
    return NULL;
  }
  return t;
}
