/* ferry: compressed sources (gzip, xz, zstd, bzip2) decompressed as they
 * are read.
 *
 * The compression is recognised by the first bytes of the source, never by
 * its name.  The decompressed bytes are offered through a sequential
 * transport (forward reads, the first FERRY_SEQ_HEAD bytes re-readable, size
 * unknown until the end, as a pipe), so formats that can be read front to
 * back (raw, streamOptimized VMDK) convert directly, and the others are
 * refused with a message saying to decompress first: a compressed stream
 * offers no random access, and silently spooling a whole disk to a
 * temporary file would surprise whoever sized that file system.
 *
 * The integrity checks of each format (gzip CRC-32 and length, xz and
 * zstd checksums when present, bzip2 block CRCs) are verified when the
 * stream is read to its end; a corrupt or truncated stream fails with the
 * source's name and the uncompressed offset reached.
 */
#ifndef FERRY_IMPORTER_DECOMPRESS_H
#define FERRY_IMPORTER_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "importer/transport.h"

/* The compression whose signature starts buf ("gzip", "xz", "zstd",
 * "bzip2"), or NULL. */
const char *ferry_compression_probe (const uint8_t *buf, size_t len);

/* If t starts with a known compression signature, return a new sequential
 * transport reading t decompressed (it owns t from then on); otherwise
 * return t unchanged.  NULL with an error set on failure (t is closed):
 * a read error, or a stream whose first bytes do not decompress.  log may
 * be NULL. */
struct ferry_transport *ferry_decompress_wrap (struct ferry_transport *t,
                                               const struct ferry_log *log);

/* The compression a transport made by ferry_decompress_wrap undoes, or NULL
 * for any other transport. */
const char *ferry_transport_compression (const struct ferry_transport *t);

#endif
