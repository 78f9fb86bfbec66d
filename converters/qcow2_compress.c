/* ferry: compressed clusters for qcow2.
 *
 * zlib clusters are raw deflate streams that qemu inflates with a 4 KiB
 * window (windowBits -12), so they must be produced with that window:
 * libdeflate always uses 32 KiB distances, hence zlib's deflate here.
 * Inflating has no such limit, and libdeflate does it faster.  zstd
 * clusters are ordinary zstd frames.
 */
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "common/error.h"
#include "converters/qcow2.h"

struct qcow2_codec {
  enum qcow2_compression c;
  z_stream zs;
  ZSTD_CCtx *zstd;
};

struct qcow2_codec *
qcow2_codec_new (enum qcow2_compression c)
{
  struct qcow2_codec *z = calloc (1, sizeof *z);

  if (!z) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  z->c = c;
  if (c == QCOW2_COMP_ZLIB) {
    if (deflateInit2 (&z->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9,
                      Z_DEFAULT_STRATEGY) != Z_OK) {
      free (z);
      ferry_error (FERRY_E_SYSTEM, "zlib: deflateInit2 failed");
      return NULL;
    }
  }
  else if (c == QCOW2_COMP_ZSTD) {
    if (!(z->zstd = ZSTD_createCCtx ())) {
      free (z);
      ferry_error (FERRY_E_SYSTEM, "zstd: cannot create a context");
      return NULL;
    }
  }
  return z;
}

void
qcow2_codec_free (struct qcow2_codec *z)
{
  if (!z)
    return;
  if (z->c == QCOW2_COMP_ZLIB)
    deflateEnd (&z->zs);
  ZSTD_freeCCtx (z->zstd);
  free (z);
}

int64_t
qcow2_codec_compress (struct qcow2_codec *z, const void *in, size_t in_len,
                      void *out, size_t limit)
{
  if (z->c == QCOW2_COMP_ZLIB) {
    int r;
    if (deflateReset (&z->zs) != Z_OK)
      return ferry_error (FERRY_E_SYSTEM, "zlib: deflateReset failed");
    z->zs.next_in = (Bytef *) in;
    z->zs.avail_in = (uInt) in_len;
    z->zs.next_out = out;
    z->zs.avail_out = (uInt) limit;
    r = deflate (&z->zs, Z_FINISH);
    if (r == Z_STREAM_END)
      return (int64_t) (limit - z->zs.avail_out);
    if (r == Z_OK || r == Z_BUF_ERROR)
      return 0; /* did not fit */
    return ferry_error (FERRY_E_SYSTEM, "zlib: deflate failed (%d)", r);
  }
  if (z->c == QCOW2_COMP_ZSTD) {
    size_t n = ZSTD_compressCCtx (z->zstd, out, limit, in, in_len,
                                  ZSTD_CLEVEL_DEFAULT);
    if (ZSTD_isError (n)) {
      if (ZSTD_getErrorCode (n) == ZSTD_error_dstSize_tooSmall)
        return 0;
      return ferry_error (FERRY_E_SYSTEM, "zstd: %s", ZSTD_getErrorName (n));
    }
    return (int64_t) n;
  }
  return 0;
}

int
qcow2_decompress (enum qcow2_compression c, const void *in, size_t in_len,
                  void *out, size_t out_len)
{
  if (c == QCOW2_COMP_ZSTD) {
    /* The stored length is rounded up to sectors: stream-decode one frame
     * and ignore what follows it. */
    ZSTD_DCtx *d = ZSTD_createDCtx ();
    ZSTD_inBuffer ib = { in, in_len, 0 };
    ZSTD_outBuffer ob = { out, out_len, 0 };
    size_t r;

    if (!d)
      return ferry_error (FERRY_E_SYSTEM, "out of memory");
    do
      r = ZSTD_decompressStream (d, &ob, &ib);
    while (!ZSTD_isError (r) && r != 0 && ob.pos < out_len && ib.pos < in_len);
    ZSTD_freeDCtx (d);
    if (ZSTD_isError (r) || ob.pos != out_len)
      return ferry_error (FERRY_E_INPUT, "zstd cluster does not decompress "
                          "to %zu bytes", out_len);
    return 0;
  }
  else {
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor ();
    size_t used = 0, got = 0;
    enum libdeflate_result r;

    if (!d)
      return ferry_error (FERRY_E_SYSTEM, "out of memory");
    r = libdeflate_deflate_decompress_ex (d, in, in_len, out, out_len, &used,
                                          &got);
    libdeflate_free_decompressor (d);
    if (r != LIBDEFLATE_SUCCESS || got != out_len)
      return ferry_error (FERRY_E_INPUT, "deflate cluster does not "
                          "decompress to %zu bytes", out_len);
    return 0;
  }
}
