/* ferry: transports give random access (or forward-only access) to the
 * bytes of one file or export.  Format readers sit on top of them and never
 * know whether the bytes come from a local file, HTTP or NBD.
 *
 * All operations on a random-access transport are thread-safe: the copy
 * engine calls pread from several threads at once.
 */
#ifndef FERRY_IMPORTER_TRANSPORT_H
#define FERRY_IMPORTER_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"

struct ferry_transport;

#define FERRY_SEQ_HEAD (64 * 1024)

/* Allocation state of a range of the underlying file, as the transport
 * knows it (SEEK_HOLE on files, NBD block status).  Optional. */
enum ferry_bs_type {
  FERRY_BS_DATA = 0,
  FERRY_BS_HOLE = 1, /* reads as zeros, nothing stored */
};

struct ferry_transport_ops {
  const char *name; /* "file", "stdin", "http", "nbd" */

  /* Read exactly count bytes at offset.  Reading past the end is an error
   * (FERRY_E_INPUT naming the file and offset).  For a sequential transport
   * offset must be >= the end of the previous read (skipped bytes are read
   * and discarded), except that the first FERRY_SEQ_HEAD bytes are kept and
   * may be read again, so probing and header parsing work on a pipe. */
  int (*pread) (struct ferry_transport *t, void *buf, size_t count,
                uint64_t offset);

  /* Optional, for streams of unknown size: read up to count bytes at
   * offset (same forward-only rule); returns the number read, 0 at the end
   * of the stream, -1 on error. */
  int64_t (*pread_partial) (struct ferry_transport *t, void *buf,
                            size_t count, uint64_t offset);

  /* Size in bytes, or -1 if unknown (a pipe). */
  int64_t (*size) (struct ferry_transport *t);

  /* Optional: the state of [offset, offset+count): sets *type and *len, the
   * length (>= 1, <= count) of the run starting at offset. */
  int (*block_status) (struct ferry_transport *t, uint64_t offset,
                       uint64_t count, enum ferry_bs_type *type,
                       uint64_t *len);

  /* Optional: open a file next to this one (VMDK extent files, parents).
   * relpath has already been checked by the caller against the path policy;
   * an absolute path is taken as is. */
  struct ferry_transport *(*open_sibling) (struct ferry_transport *t,
                                           const char *relpath);

  void (*close) (struct ferry_transport *t);
};

struct ferry_transport {
  const struct ferry_transport_ops *ops;
  char *name;      /* for messages: the path or URL without credentials */
  bool sequential; /* forward reads only */
  void *priv;
};

static inline int
ferry_transport_pread (struct ferry_transport *t, void *buf, size_t count,
                       uint64_t offset)
{
  return t->ops->pread (t, buf, count, offset);
}

static inline int64_t
ferry_transport_size (struct ferry_transport *t)
{
  return t->ops->size (t);
}

void ferry_transport_close (struct ferry_transport *t);

/* Open a local file (or "-" for standard input, which is sequential). */
struct ferry_transport *ferry_file_open (const char *path);

/* Open an NBD URI (nbd://, nbds://, nbd+unix://); connections is the
 * pool size used when the server allows multi-conn (0: default 4). */
struct ferry_transport *ferry_nbd_open (const char *uri, unsigned connections);

/* Open SOURCE by its shape: an NBD URI, a local path, or "-". */
struct ferry_transport *ferry_transport_open (const char *source);

/* Helper for implementations: allocate a transport struct. */
struct ferry_transport *ferry_transport_new (const struct ferry_transport_ops *ops,
                                             const char *name, void *priv);

#endif
