/* ferry: the copy engine.  It knows disks and targets only through their
 * vtables: nothing here is specific to a format, a transport or a target. */
#ifndef FERRY_CONVERTERS_COPY_H
#define FERRY_CONVERTERS_COPY_H

#include <stdint.h>

#include "common/log.h"
#include "converters/format.h"
#include "converters/target.h"

struct ferry_progress {
  uint64_t done;  /* logical bytes handled (copied, zeroed or skipped) */
  uint64_t total; /* logical bytes to handle */
  uint64_t data;  /* bytes written as data */
  uint64_t zero;  /* bytes that were zero (skipped or zeroed) */
};

typedef void (*ferry_progress_cb) (void *opaque,
                                   const struct ferry_progress *p);

/* A byte range of the disk. */
struct ferry_range {
  uint64_t offset;
  uint64_t length;
};

struct ferry_copy_opts {
  unsigned threads;       /* 0: number of online CPUs */
  size_t request_size;    /* largest single read; 0: default */
  size_t sparse_size;     /* zero-detection granularity; 0: off */
  ferry_progress_cb progress;
  void *progress_opaque;
  const struct ferry_log *log;
  /* Copy only these ranges (sorted, not overlapping, inside the disk)
   * instead of the whole disk; no checksum then.  range_done is called
   * (from worker threads, serialised) as each piece is durably handed to
   * the target's write path, so a caller can checkpoint. */
  const struct ferry_range *ranges;
  size_t n_ranges;
  void (*range_done) (void *opaque, uint64_t offset, uint64_t length);
  void *range_done_opaque;
};

#define FERRY_COPY_DEFAULT_REQUEST (2u * 1024 * 1024)
#define FERRY_COPY_DEFAULT_SPARSE 4096u

/* Room for "sha256-tree:" + 64 hex digits + NUL. */
#define FERRY_CHECKSUM_MAX 80

/* Copy the whole disk into the target (which must be at least d->size).
 * Uses d->ops->stream when the disk can only be read sequentially.  If
 * checksum is not NULL, the disk checksum (converters/checksum.h) is
 * computed on the way and stored there, or "" if it could not be (a
 * stream out of order; a warning says why). */
int ferry_copy (struct ferry_disk *d, struct ferry_target *t,
                const struct ferry_copy_opts *o, struct ferry_progress *result,
                char *checksum);

/* A target that discards everything: for "ferry checksum". */
struct ferry_target *ferry_target_null_new (uint64_t size);

/* True if len bytes at buf are all zero. */
bool ferry_is_zero (const void *buf, size_t len);

#endif
