/* ferry: format readers turn one or more transports into one logical disk.
 *
 * A reader reports the virtual size, reads logical bytes, and describes the
 * disk as a list of extents so the copy engine never reads or writes what is
 * unallocated or known to be zero.  read() and extents() must be thread-safe.
 */
#ifndef FERRY_CONVERTERS_FORMAT_H
#define FERRY_CONVERTERS_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "importer/transport.h"

enum ferry_extent_type {
  FERRY_EXTENT_DATA = 0, /* stored data (may still contain zeros) */
  FERRY_EXTENT_ZERO = 1, /* known to read as zeros (zero grain, ZERO extent) */
  FERRY_EXTENT_HOLE = 2, /* unallocated; in a chain, "look in the parent";
                            at the top of a disk it reads as zeros */
};

struct ferry_extent {
  uint64_t offset;
  uint64_t length;
  enum ferry_extent_type type;
};

/* A growable list.  Appending merges with the previous extent when it is
 * adjacent and of the same type. */
struct ferry_extent_list {
  struct ferry_extent *v;
  size_t n, cap;
};

int ferry_extent_list_add (struct ferry_extent_list *l, uint64_t offset,
                           uint64_t length, enum ferry_extent_type type);
void ferry_extent_list_reset (struct ferry_extent_list *l);
void ferry_extent_list_free (struct ferry_extent_list *l);

struct ferry_open_opts {
  bool allow_absolute_extents; /* extent/parent paths outside the directory */
  bool ignore_cid;             /* do not check parentCID == parent CID */
  bool sequential;             /* the transport can only be read forwards */
  const char *format;          /* NULL: probe; else "raw", "vmdk" */
  const struct ferry_log *log;
};

/* Called by stream() with logical data in whatever order the file holds it.
 * Ranges not delivered read as zeros. */
typedef int (*ferry_stream_cb) (void *opaque, uint64_t offset, const void *buf,
                                size_t len);

struct ferry_disk;

struct ferry_format_ops {
  const char *name;

  /* Score how likely the first bytes are this format (0: not at all). */
  int (*probe) (const uint8_t *buf, size_t len);

  /* Fill d->size and d->priv.  d->transport is set; the reader owns it from
   * here on (and closes it in close()). */
  int (*open) (struct ferry_disk *d, const struct ferry_open_opts *o);

  int (*read) (struct ferry_disk *d, void *buf, size_t count, uint64_t offset);

  /* Append the map of [offset, offset+length) to out. */
  int (*extents) (struct ferry_disk *d, uint64_t offset, uint64_t length,
                  struct ferry_extent_list *out);

  /* Optional: deliver the whole disk by reading the transport front to back
   * once.  Required for sequential transports; read/extents then fail. */
  int (*stream) (struct ferry_disk *d, ferry_stream_cb cb, void *opaque);

  void (*close) (struct ferry_disk *d);
};

struct ferry_disk {
  const struct ferry_format_ops *ops;
  struct ferry_transport *transport;
  uint64_t size;          /* virtual size in bytes */
  const char *subformat;  /* e.g. "monolithicSparse"; for info/report */
  bool sequential;        /* read only through stream() (set by disk.c) */
  const struct ferry_log *log;
  void *priv;
};

/* Probe (or take o->format) and open.  On failure the transport is closed. */
struct ferry_disk *ferry_disk_open (struct ferry_transport *t,
                                    const struct ferry_open_opts *o);
void ferry_disk_close (struct ferry_disk *d);

extern const struct ferry_format_ops ferry_format_raw;
extern const struct ferry_format_ops ferry_format_vmdk;
extern const struct ferry_format_ops ferry_format_qcow2;

#endif
