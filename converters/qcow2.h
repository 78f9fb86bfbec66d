/* ferry: a qcow2 v3 image that ferry creates and later updates in place.
 *
 * The image keeps its L1 table, the L2 tables it has touched and a
 * cluster allocator in memory; data goes straight to the file.  Metadata
 * (L2 tables, refcounts, L1, header) is written by qcow2_commit(), which
 * recomputes every refcount from the tables, so the result always passes
 * "qemu-img check" without leaks.  While the image is open for writing
 * the header's dirty bit is set on disk, so an image whose writer was
 * killed is recognisable.
 *
 * Memory: 8 bytes of L2 per cluster of the virtual disk that holds data
 * (one 64 KiB L2 table per 512 MiB touched) and 2 bytes of refcount per
 * host cluster during commit: about 5 MiB per 40 GiB of allocated data.
 */
#ifndef FERRY_CONVERTERS_QCOW2_H
#define FERRY_CONVERTERS_QCOW2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum qcow2_compression { QCOW2_COMP_NONE, QCOW2_COMP_ZLIB, QCOW2_COMP_ZSTD };

struct qcow2_create_opts {
  uint64_t size;           /* virtual size; may grow until commit */
  unsigned cluster_bits;   /* 9..21; 16 = 64 KiB */
  enum qcow2_compression compression;
  bool preallocate_metadata;
};

struct qcow2;

/* Create a new image on fd (an empty regular file).  name is for messages. */
struct qcow2 *qcow2_create (int fd, const char *name,
                            const struct qcow2_create_opts *o);

/* Open an existing image for in-place updates.  Refuses images with
 * backing files, snapshots, encryption, external data, extended L2, or a
 * set dirty/corrupt bit (unless allow_dirty). */
struct qcow2 *qcow2_open (int fd, const char *name, bool allow_dirty);

/* Open an image as a source, read-only, through a transport. */
struct ferry_transport;
struct ferry_extent_list;
struct qcow2 *qcow2_open_source (struct ferry_transport *t);
/* Allocation map (DATA, ZERO, HOLE) of a range. */
int qcow2_map (struct qcow2 *q, uint64_t offset, uint64_t length,
               struct ferry_extent_list *out);

uint64_t qcow2_size (const struct qcow2 *q);
uint32_t qcow2_cluster_size (const struct qcow2 *q);
void qcow2_set_size (struct qcow2 *q, uint64_t size);

/* Thread-safe.  Writes at non-overlapping offsets may run concurrently.
 * With compression on, whole clusters are stored compressed when that
 * makes them smaller. */
int qcow2_pwrite (struct qcow2 *q, const void *buf, size_t count,
                  uint64_t offset);
/* Make a range read as zeros: whole clusters become zero clusters (or stay
 * unallocated in a new image), partial ones are written. */
int qcow2_zero (struct qcow2 *q, uint64_t offset, uint64_t length);
/* Read back (for partial updates of compressed clusters, and tests). */
int qcow2_pread (struct qcow2 *q, void *buf, size_t count, uint64_t offset);

/* Write all metadata, fsync, then clear the dirty bit and fsync again. */
int qcow2_commit (struct qcow2 *q);
/* Commit, then mark the image dirty again because writing goes on.  Safe
 * while other threads write: what they have not finished is simply not
 * part of this checkpoint. */
int qcow2_checkpoint (struct qcow2 *q);
void qcow2_free (struct qcow2 *q);

/* qcow2_compress.c: one compressor per thread at a time (the image keeps
 * a pool).  compress returns the compressed length, 0 when the result
 * would not be shorter than limit, -1 on error. */
struct qcow2_codec;
struct qcow2_codec *qcow2_codec_new (enum qcow2_compression c);
void qcow2_codec_free (struct qcow2_codec *z);
int64_t qcow2_codec_compress (struct qcow2_codec *z, const void *in,
                              size_t in_len, void *out, size_t limit);
/* Decompress exactly out_len bytes (a whole cluster). */
int qcow2_decompress (enum qcow2_compression c, const void *in, size_t in_len,
                      void *out, size_t out_len);

#endif
