/* ferry: reading a streamOptimized VMDK front to back.
 *
 * A stream (a pipe, an OVA member, an HTTP body without ranges) cannot seek
 * to the grain directory, which VMware writes at the end anyway.  The
 * markers make the file self-describing: each grain carries its LBA, and
 * metadata blocks (grain tables, directory, footer) announce their length,
 * so one forward pass delivers every grain.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "converters/vmdk.h"

#define MARKER_EOS 0
#define MARKER_GT 1
#define MARKER_GD 2
#define MARKER_FOOTER 3

/* Read exactly count bytes at offset; a stream that ends first is reported
 * as a truncated file at that offset.  With eof_ok, a stream that ends
 * exactly at offset returns 1 instead. */
static int
read_at_eof (struct ferry_transport *t, void *buf, size_t count,
             uint64_t offset, bool eof_ok)
{
  if (!t->ops->pread_partial && eof_ok) {
    int64_t size = ferry_transport_size (t);
    if (size >= 0 && (uint64_t) size == offset)
      return 1;
  }
  if (t->ops->pread_partial) {
    size_t done = 0;
    while (done < count) {
      int64_t n = t->ops->pread_partial (t, (uint8_t *) buf + done,
                                         count - done, offset + done);
      if (n < 0)
        return -1;
      if (n == 0 && done == 0 && eof_ok)
        return 1;
      if (n == 0)
        return ferry_error (FERRY_E_INPUT, "%s: the stream ends at offset %"
                            PRIu64 " without an end-of-stream marker (the "
                            "file is truncated)", t->name, offset + done);
      done += (size_t) n;
    }
    return 0;
  }
  return ferry_transport_pread (t, buf, count, offset);
}

static int
read_at (struct ferry_transport *t, void *buf, size_t count, uint64_t offset)
{
  return read_at_eof (t, buf, count, offset, false);
}

int
vmdk_stream_sequential (struct ferry_transport *t, uint64_t capacity,
                        ferry_stream_cb cb, void *opaque)
{
  uint8_t hdr[512];
  uint64_t grain_bytes, pos, max_data;
  bool gd_at_end;
  uint8_t *in = NULL, *out = NULL;
  int r = -1;

  if (ferry_transport_pread (t, hdr, sizeof hdr, 0) < 0)
    return -1;
  grain_bytes = vmdk_le64 (hdr + 20) * VMDK_SECTOR;
  gd_at_end = vmdk_le64 (hdr + 56) == UINT64_MAX;
  pos = vmdk_le64 (hdr + 64) * VMDK_SECTOR;
  if (!(vmdk_le32 (hdr + 8) & (1u << 17)))
    return ferry_error (FERRY_E_INPUT, "%s: only streamOptimized VMDKs (with "
                        "grain markers) can be read as a stream", t->name);
  if (pos < 512)
    pos = 512;
  max_data = grain_bytes + grain_bytes / 8 + 1024;
  if (!(in = malloc (max_data + 512)) || !(out = malloc (grain_bytes))) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto out;
  }

  for (;;) {
    uint64_t val;
    uint32_t size, type;

    /* qemu writes the grain directory at the front and ends the stream
     * after the last grain, with no end-of-stream marker; VMware's layout
     * (directory in the footer) must end with its footer. */
    int e = read_at_eof (t, in, 512, pos, !gd_at_end);
    if (e < 0)
      goto out;
    if (e == 1) {
      r = 0;
      goto out;
    }
    val = vmdk_le64 (in);
    size = vmdk_le32 (in + 8);
    type = vmdk_le32 (in + 12);

    if (size != 0) {
      uint64_t total = (12 + (uint64_t) size + 511) & ~UINT64_C (511);
      uint64_t off = val * VMDK_SECTOR;
      size_t len, tail;

      if (size > max_data) {
        ferry_error (FERRY_E_INPUT, "%s: grain marker at offset %" PRIu64
                     " claims %" PRIu32 " compressed bytes, more than a grain "
                     "of %" PRIu64 " bytes can need", t->name, pos, size,
                     grain_bytes);
        goto out;
      }
      if (val >= capacity / VMDK_SECTOR || val % (grain_bytes / VMDK_SECTOR)) {
        ferry_error (FERRY_E_INPUT, "%s: grain marker at offset %" PRIu64
                     ": LBA %" PRIu64 " is %s (capacity %" PRIu64 " sectors)",
                     t->name, pos, val,
                     val >= capacity / VMDK_SECTOR ? "outside the disk"
                                                   : "not at a grain boundary",
                     capacity / VMDK_SECTOR);
        goto out;
      }
      if (total > 512 && read_at (t, in + 512, total - 512, pos + 512) < 0)
        goto out;
      tail = capacity - off < grain_bytes ? capacity - off : grain_bytes;
      if (vmdk_inflate_grain (t->name, pos, val, in + 12, size, out,
                              grain_bytes, tail) < 0)
        goto out;
      len = tail;
      if (cb (opaque, off, out, len) < 0)
        goto out;
      pos += total;
      continue;
    }

    switch (type) {
    case MARKER_EOS:
      r = 0;
      goto out;
    case MARKER_GT:
    case MARKER_GD:
    case MARKER_FOOTER:
      /* Metadata follows the marker; the grains already said it all. */
      if (val > (UINT64_C (1) << 32)) {
        ferry_error (FERRY_E_INPUT, "%s: metadata marker at offset %" PRIu64
                     " claims %" PRIu64 " sectors", t->name, pos, val);
        goto out;
      }
      pos += 512 + val * VMDK_SECTOR;
      break;
    default:
      ferry_error (FERRY_E_INPUT, "%s: unknown marker type %" PRIu32 " at "
                   "offset %" PRIu64, t->name, type, pos);
      goto out;
    }
  }

out:
  free (in);
  free (out);
  return r;
}
