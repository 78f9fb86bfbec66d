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

/* SOURCE or DEST names an NBD export (nbd://, nbds://, nbd+unix://,
 * nbds+unix://), not a file. */
bool ferry_is_nbd_uri (const char *s);

/* How to reach a remote source.  Local files ignore all of it.  Secrets
 * (password, cookie) are never taken from argv: the CLI reads them from a
 * file or the environment.  Transports copy what they keep, so the struct
 * and its strings only need to live for the open call. */
struct ferry_source_opts {
  unsigned connections;    /* HTTP pool size, NBD multi-conn (0: 4) */
  int retries;             /* per request, with backoff (< 0: 5) */
  const char *cacert;      /* HTTPS: CA bundle, NULL for the system's */
  bool insecure;           /* HTTPS: skip certificate verification */
  const char *thumbprint;  /* HTTPS: SHA-1/SHA-256 pin, hex, colons allowed */
  const char *user;        /* HTTP basic auth user, or NULL */
  const char *password;    /* HTTP basic auth password */
  const char *cookie;      /* HTTP Cookie header value ("name=value") */
  uint64_t nbd_request_size; /* largest NBD read (0: 32 MiB) */
  int nbd_timeout;         /* NBD: seconds of server silence that count as a
                              dropped connection (0: 60, < 0: none) */
  const struct ferry_log *log; /* -v / -v -v messages; NULL: quiet */
};

#define FERRY_SOURCE_DEFAULT_CONNECTIONS 4
#define FERRY_SOURCE_DEFAULT_RETRIES 5
#define FERRY_NBD_DEFAULT_REQUEST_SIZE (32u << 20)

/* Defaults: 4 connections, 5 retries, everything else off. */
void ferry_source_opts_init (struct ferry_source_opts *o);

/* Open a local file (or "-" for standard input, which is sequential). */
struct ferry_transport *ferry_file_open (const char *path);

/* Open an NBD URI (nbd://, nbds://, nbd+unix://); connections is the
 * pool size used when the server allows multi-conn (0: default 4). */
struct ferry_transport *ferry_nbd_open (const char *uri, unsigned connections);
struct ferry_transport *ferry_nbd_open_opts (const char *uri,
                                             const struct ferry_source_opts *o);

/* Open SOURCE by its shape: an NBD URI, an http(s) URL, a local path, or
 * "-".  o may be NULL (defaults).  An HTTP server that ignores Range
 * requests gives a sequential transport (t->sequential, see
 * ferry_transport_no_ranges).  A file or URL whose bytes are gzip, xz, zstd
 * or bzip2 compressed is returned decompressed, as a sequential transport
 * (importer/decompress.h). */
struct ferry_transport *ferry_transport_open_opts (const char *source,
                                                  const struct ferry_source_opts *o);
struct ferry_transport *ferry_transport_open (const char *source);

/* True for a transport that is sequential only because its server does
 * not support Range requests (so a format that needs random access can
 * say why it cannot be read). */
bool ferry_transport_no_ranges (const struct ferry_transport *t);

/* SOURCE as it may appear in messages: user info (user:password@) and
 * query parameters other than dcPath/dsName (ESXi datastores) and socket
 * (nbd+unix) removed from URLs; a local path unchanged.  Never NULL (an allocation failure gives a fixed
 * placeholder); free with free(). */
char *ferry_source_display (const char *source);

/* Helper for implementations: allocate a transport struct. */
struct ferry_transport *ferry_transport_new (const struct ferry_transport_ops *ops,
                                             const char *name, void *priv);

#endif
