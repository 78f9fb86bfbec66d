/* ferry: targets receive the logical disk.  Writes may come from several
 * threads at once at non-overlapping offsets. */
#ifndef FERRY_CONVERTERS_TARGET_H
#define FERRY_CONVERTERS_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"

struct ferry_target;

struct ferry_target_opts {
  const char *format; /* "raw" or "qcow2" */
  bool overwrite;     /* replace an existing file */
  /* Update an existing DEST in place (incremental sync): no .part, no
   * truncation; DEST must already have the disk's size. */
  bool in_place;
  /* In place: accept a qcow2 image whose dirty bit an interrupted sync of
   * ours left set (its last checkpoint is consistent). */
  bool allow_dirty;
  bool preallocate;   /* raw: allocate every byte of a file target */
  int nbd_timeout;    /* NBD target: seconds per request (0: 60, < 0: none) */
  /* qcow2 only */
  uint32_t cluster_size;       /* 0: 64 KiB */
  const char *compress;        /* NULL: none; "zlib" or "zstd" */
  bool preallocate_metadata;   /* allocate L2 tables/refcounts up front */
  const struct ferry_log *log;
};

struct ferry_target_ops {
  const char *name;
  int (*pwrite) (struct ferry_target *t, const void *buf, size_t count,
                 uint64_t offset);
  /* Make [offset, offset+length) read as zeros, cheaply where possible. */
  int (*zero) (struct ferry_target *t, uint64_t offset, uint64_t length);
  /* Make everything durable and visible under the final name. */
  int (*finish) (struct ferry_target *t);
  /* Optional: make everything written so far durable and consistent, so
   * a run killed later can resume from here (incremental sync). */
  int (*checkpoint) (struct ferry_target *t);
  /* Failure: remove anything that could look like a finished output. */
  void (*abort) (struct ferry_target *t);
  void (*close) (struct ferry_target *t);
};

struct ferry_target {
  const struct ferry_target_ops *ops;
  char *path;
  uint64_t size;
  /* The target already reads as zeros everywhere (a new sparse file), so
   * the copy engine may skip zero ranges entirely. */
  bool starts_zeroed;
  /* Preferred write granularity (qcow2: the cluster size); the copy engine
   * detects zeros and splits writes on these boundaries.  0: any. */
  uint32_t write_block;
  void *priv;
};

struct ferry_target *ferry_target_open (const char *path, uint64_t size,
                                        const struct ferry_target_opts *o);
/* close() after finish() or abort(); abort() is implied if neither ran. */
void ferry_target_close (struct ferry_target *t);

#endif
