/* ferry: a sequential transport that decompresses another transport.
 *
 * gzip and zstd are decoded with zlib and libzstd directly (they verify the
 * CRC-32/length trailer and the frame checksums); xz and bzip2 go through
 * libarchive's raw format, whose filters use liblzma and libbz2 and check
 * their integrity fields too.
 */
#include <archive.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "common/error.h"
#include "importer/decompress.h"
#include "importer/seqread.h"

#define DZ_INBUF (256 * 1024)

enum dz_kind { DZ_GZIP, DZ_XZ, DZ_ZSTD, DZ_BZIP2 };

static const char *const kind_names[] = { "gzip", "xz", "zstd", "bzip2" };

struct dz_priv {
  struct ferry_transport *in;
  enum dz_kind kind;
  pthread_mutex_t lock;

  /* Compressed input. */
  unsigned char *ibuf;
  size_t ilen, ipos;
  uint64_t in_off; /* bytes taken from the inner transport */
  bool in_eof;

  /* Decompressed output. */
  uint64_t pos;  /* bytes produced by the decoder */
  bool out_eof;  /* the stream ended and its trailer checked */
  char *errmsg;  /* set once decoding failed; later reads repeat it */
  size_t head_len;
  unsigned char head[FERRY_SEQ_HEAD];

  /* Decoder state. */
  z_stream z;
  bool z_init, z_member_end;
  ZSTD_DStream *zs;
  size_t zs_last; /* last ZSTD_decompressStream result: 0 at a frame end */
  struct archive *ar;
};

static const struct ferry_transport_ops dz_ops;

const char *
ferry_compression_probe (const uint8_t *b, size_t len)
{
  if (len >= 3 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 8)
    return "gzip";
  if (len >= 6 && memcmp (b, "\xfd" "7zXZ\0", 6) == 0)
    return "xz";
  if (len >= 4 && memcmp (b, "\x28\xb5\x2f\xfd", 4) == 0)
    return "zstd";
  /* "BZh" and a block size digit, then the block magic (pi in BCD): ten
   * bytes, so a raw disk that happens to start with "BZh" is not taken. */
  if (len >= 10 && memcmp (b, "BZh", 3) == 0 && b[3] >= '1' && b[3] <= '9'
      && memcmp (b + 4, "\x31\x41\x59\x26\x53\x59", 6) == 0)
    return "bzip2";
  return NULL;
}

const char *
ferry_transport_compression (const struct ferry_transport *t)
{
  if (!t || t->ops != &dz_ops)
    return NULL;
  return kind_names[((struct dz_priv *) t->priv)->kind];
}

/* Compressed bytes consumed by the decoder so far (for messages). */
static uint64_t
consumed (const struct dz_priv *p)
{
  return p->in_off - (p->ilen - p->ipos);
}

static int
dz_fail (struct ferry_transport *t, struct dz_priv *p, const char *reason)
{
  ferry_error (FERRY_E_INPUT, "%s: corrupt %s data at uncompressed offset "
               "%llu (compressed offset %llu): %s", t->name,
               kind_names[p->kind], (unsigned long long) p->pos,
               (unsigned long long) consumed (p), reason);
  return -1;
}

static int
dz_truncated (struct ferry_transport *t, struct dz_priv *p)
{
  return ferry_error (FERRY_E_INPUT, "%s: the %s stream ends early at "
                      "uncompressed offset %llu (compressed offset %llu): "
                      "the file is truncated", t->name, kind_names[p->kind],
                      (unsigned long long) p->pos,
                      (unsigned long long) p->in_off);
}

/* Read up to n compressed bytes at the inner transport's next offset.
 * Returns the count, 0 at its end, -1 on error. */
static int64_t
inner_read (struct dz_priv *p, void *buf, size_t n)
{
  struct ferry_transport *in = p->in;
  int64_t size, r;

  if (in->ops->pread_partial)
    r = in->ops->pread_partial (in, buf, n, p->in_off);
  else {
    if ((size = ferry_transport_size (in)) < 0)
      return ferry_error (FERRY_E_INPUT, "%s: size unknown", in->name);
    if (p->in_off >= (uint64_t) size)
      return 0;
    if (n > (uint64_t) size - p->in_off)
      n = (size_t) ((uint64_t) size - p->in_off);
    r = ferry_transport_pread (in, buf, n, p->in_off) < 0 ? -1 : (int64_t) n;
  }
  if (r > 0)
    p->in_off += (uint64_t) r;
  return r;
}

/* Refill the input buffer once it is used up. */
static int
fill (struct dz_priv *p)
{
  int64_t r;

  if (p->ipos < p->ilen || p->in_eof)
    return 0;
  if ((r = inner_read (p, p->ibuf, DZ_INBUF)) < 0)
    return -1;
  p->ilen = (size_t) r;
  p->ipos = 0;
  if (r == 0)
    p->in_eof = true;
  return 0;
}

/* ---- gzip (zlib), one or more members back to back ---- */

static int64_t
gz_produce (struct ferry_transport *t, struct dz_priv *p, void *buf, size_t n)
{
  z_stream *z = &p->z;

  for (;;) {
    int zr;
    size_t got;

    if (fill (p) < 0)
      return -1;
    if (p->z_member_end) {
      /* A gzip file may hold several members; anything else after the
       * first is not part of the image. */
      if (p->ipos == p->ilen)
        return 0;
      if (p->ibuf[p->ipos] != 0x1f)
        return dz_fail (t, p, "unexpected data after the end of the gzip "
                        "stream");
      if (inflateReset (z) != Z_OK)
        return ferry_error (FERRY_E_SYSTEM, "%s: inflateReset failed",
                            t->name);
      p->z_member_end = false;
    }
    z->next_in = p->ibuf + p->ipos;
    z->avail_in = (uInt) (p->ilen - p->ipos);
    z->next_out = buf;
    z->avail_out = (uInt) (n > UINT32_MAX ? UINT32_MAX : n);
    zr = inflate (z, Z_NO_FLUSH);
    p->ipos = p->ilen - z->avail_in;
    got = (size_t) ((unsigned char *) z->next_out - (unsigned char *) buf);
    p->pos += got;
    if (zr == Z_STREAM_END)
      p->z_member_end = true;
    else if (zr == Z_BUF_ERROR && got == 0) {
      if (p->in_eof)
        return dz_truncated (t, p);
    }
    else if (zr != Z_OK)
      return dz_fail (t, p, zr == Z_MEM_ERROR ? "out of memory"
                            : z->msg ? z->msg : "inflate failed");
    if (got > 0)
      return (int64_t) got;
    if (p->in_eof && p->ipos == p->ilen && !p->z_member_end)
      return dz_truncated (t, p);
  }
}

/* ---- zstd, one or more frames ---- */

static int64_t
zs_produce (struct ferry_transport *t, struct dz_priv *p, void *buf, size_t n)
{
  for (;;) {
    ZSTD_inBuffer in;
    ZSTD_outBuffer out = { buf, n, 0 };
    size_t zr;

    if (fill (p) < 0)
      return -1;
    if (p->ipos == p->ilen && p->in_eof && p->zs_last == 0)
      return 0;
    in.src = p->ibuf;
    in.size = p->ilen;
    in.pos = p->ipos;
    zr = ZSTD_decompressStream (p->zs, &out, &in);
    p->ipos = in.pos;
    p->pos += out.pos;
    if (ZSTD_isError (zr))
      return dz_fail (t, p, ZSTD_getErrorName (zr));
    p->zs_last = zr;
    if (out.pos > 0)
      return (int64_t) out.pos;
    /* Nothing came out although all input was offered: at the end of the
     * file that means a frame was cut short. */
    if (p->ipos == p->ilen && p->in_eof && zr != 0)
      return dz_truncated (t, p);
  }
}

/* ---- xz and bzip2 through libarchive's raw format ---- */

static la_ssize_t
ar_read_cb (struct archive *ar, void *cd, const void **buf)
{
  struct dz_priv *p = cd;
  int64_t r;

  *buf = p->ibuf;
  if ((r = inner_read (p, p->ibuf, DZ_INBUF)) < 0) {
    archive_set_error (ar, EIO, "%s", ferry_error_msg ());
    return -1;
  }
  p->ilen = p->ipos = (size_t) r;
  if (r == 0)
    p->in_eof = true;
  return (la_ssize_t) r;
}

static int
ar_fail (struct ferry_transport *t, struct dz_priv *p)
{
  const char *m = archive_error_string (p->ar);

  /* The decoders say "no progress possible" when the input ran out in the
   * middle of a block. */
  if (m && (strstr (m, "runcated") || (p->in_eof && strstr (m, "No progress"))))
    return dz_truncated (t, p);
  return dz_fail (t, p, m ? m : "decoding failed");
}

static int
ar_start (struct ferry_transport *t, struct dz_priv *p)
{
  struct archive_entry *e;

  if (!(p->ar = archive_read_new ()))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  archive_read_support_format_raw (p->ar);
  if (p->kind == DZ_XZ)
    archive_read_support_filter_xz (p->ar);
  else
    archive_read_support_filter_bzip2 (p->ar);
  if (archive_read_open (p->ar, p, NULL, ar_read_cb, NULL) != ARCHIVE_OK
      || archive_read_next_header (p->ar, &e) != ARCHIVE_OK)
    return ar_fail (t, p);
  return 0;
}

static int64_t
ar_produce (struct ferry_transport *t, struct dz_priv *p, void *buf, size_t n)
{
  la_ssize_t r = archive_read_data (p->ar, buf, n);

  if (r < 0)
    return ar_fail (t, p);
  p->pos += (uint64_t) r;
  return (int64_t) r;
}

/* ---- the transport ---- */

/* Decompress up to n bytes: the count (> 0), 0 at the verified end of the
 * stream, -1 on error (repeated by later calls). */
static int64_t
produce (struct ferry_transport *t, struct dz_priv *p, void *buf, size_t n)
{
  int64_t r;

  if (p->errmsg) {
    ferry_error_set_raw (FERRY_E_INPUT, p->errmsg);
    return -1;
  }
  if (p->out_eof || n == 0)
    return 0;
  switch (p->kind) {
  case DZ_GZIP: r = gz_produce (t, p, buf, n); break;
  case DZ_ZSTD: r = zs_produce (t, p, buf, n); break;
  default: r = ar_produce (t, p, buf, n); break;
  }
  if (r < 0)
    p->errmsg = strdup (ferry_error_msg ());
  else if (r == 0)
    p->out_eof = true;
  return r;
}

/* Fill buf with up to n bytes; short only at the end of the stream. */
static int64_t
produce_full (struct ferry_transport *t, struct dz_priv *p, void *buf,
              size_t n)
{
  size_t done = 0;

  while (done < n) {
    int64_t r = produce (t, p, (char *) buf + done, n - done);
    if (r < 0)
      return -1;
    if (r == 0)
      break;
    done += (size_t) r;
  }
  return (int64_t) done;
}

static int64_t
dz_pull (void *ctx, char *buf, size_t count)
{
  struct ferry_transport *t = ctx;
  return produce (t, t->priv, buf, count);
}

static int64_t
dz_read_locked (struct ferry_transport *t, struct dz_priv *p, char *buf,
                size_t count, uint64_t offset)
{
  static const char *const hints[] = {
    "a gzip-compressed source can only be read front to back",
    "a xz-compressed source can only be read front to back",
    "a zstd-compressed source can only be read front to back",
    "a bzip2-compressed source can only be read front to back",
  };
  const struct ferry_seq_stream s = {
    .head = p->head, .head_len = p->head_len, .pos = &p->pos,
    .pull = dz_pull, .ctx = t, .passed_hint = hints[p->kind],
  };
  return ferry_seq_read (t, &s, buf, count, offset);
}

static int64_t
dz_pread_partial (struct ferry_transport *t, void *buf, size_t count,
                  uint64_t offset)
{
  struct dz_priv *p = t->priv;
  pthread_mutex_lock (&p->lock);
  int64_t r = dz_read_locked (t, p, buf, count, offset);
  pthread_mutex_unlock (&p->lock);
  return r;
}

static int
dz_pread (struct ferry_transport *t, void *buf, size_t count, uint64_t offset)
{
  int64_t r = dz_pread_partial (t, buf, count, offset);
  if (r < 0)
    return -1;
  if ((size_t) r < count)
    return ferry_error (FERRY_E_INPUT,
                        "%s: unexpected end of the decompressed data at "
                        "offset %llu (read of %zu bytes at %llu)",
                        t->name, (unsigned long long) (offset + (uint64_t) r),
                        count, (unsigned long long) offset);
  return 0;
}

static int64_t
dz_size (struct ferry_transport *t)
{
  (void) t;
  return -1; /* known only at the end, as for any stream */
}

static void
dz_free (struct dz_priv *p)
{
  if (p->z_init)
    inflateEnd (&p->z);
  ZSTD_freeDStream (p->zs);
  if (p->ar)
    archive_read_free (p->ar);
  ferry_transport_close (p->in);
  pthread_mutex_destroy (&p->lock);
  free (p->ibuf);
  free (p->errmsg);
  free (p);
}

static void
dz_close (struct ferry_transport *t)
{
  dz_free (t->priv);
}

static const struct ferry_transport_ops dz_ops = {
  .name = "decompress",
  .pread = dz_pread,
  .pread_partial = dz_pread_partial,
  .size = dz_size,
  .close = dz_close,
};

/* The first bytes of t, without consuming them (a sequential transport
 * keeps its head re-readable).  Returns the count read. */
static int64_t
peek (struct ferry_transport *t, uint8_t *buf, size_t n)
{
  int64_t size;
  size_t done = 0;

  if (t->ops->pread_partial) {
    while (done < n) {
      int64_t r = t->ops->pread_partial (t, buf + done, n - done, done);
      if (r < 0)
        return -1;
      if (r == 0)
        break;
      done += (size_t) r;
    }
    return (int64_t) done;
  }
  if ((size = ferry_transport_size (t)) < 0)
    return 0; /* nothing to go by; taken as uncompressed */
  if ((uint64_t) size < n)
    n = (size_t) size;
  if (n > 0 && ferry_transport_pread (t, buf, n, 0) < 0)
    return -1;
  return (int64_t) n;
}

struct ferry_transport *
ferry_decompress_wrap (struct ferry_transport *t, const struct ferry_log *log)
{
  uint8_t sig[16];
  int64_t n;
  const char *kind;
  struct dz_priv *p;
  struct ferry_transport *w;

  if (!t)
    return NULL;
  if ((n = peek (t, sig, sizeof sig)) < 0) {
    ferry_transport_close (t);
    return NULL;
  }
  if (!(kind = ferry_compression_probe (sig, (size_t) n)))
    return t;
  if (!(p = calloc (1, sizeof *p)) || !(p->ibuf = malloc (DZ_INBUF))) {
    free (p);
    ferry_transport_close (t);
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  p->in = t;
  pthread_mutex_init (&p->lock, NULL);
  for (int k = 0; k < 4; k++)
    if (strcmp (kind, kind_names[k]) == 0)
      p->kind = (enum dz_kind) k;
  if (!(w = ferry_transport_new (&dz_ops, t->name, p))) {
    dz_free (p);
    return NULL;
  }
  w->sequential = true;
  switch (p->kind) {
  case DZ_GZIP:
    if (inflateInit2 (&p->z, 16 + MAX_WBITS) != Z_OK) {
      ferry_error (FERRY_E_SYSTEM, "%s: inflateInit2 failed", t->name);
      goto fail;
    }
    p->z_init = true;
    break;
  case DZ_ZSTD:
    if (!(p->zs = ZSTD_createDStream ())) {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto fail;
    }
    p->zs_last = 1; /* no frame decoded yet: an empty file is truncated */
    break;
  default:
    if (ar_start (w, p) < 0)
      goto fail;
    break;
  }
  {
    int64_t h = produce_full (w, p, p->head, sizeof p->head);
    if (h < 0)
      goto fail;
    p->head_len = (size_t) h;
  }
  ferry_info (log, "%s: %s-compressed, decompressed as it is read", t->name,
              kind);
  return w;

fail:
  ferry_transport_close (w);
  return NULL;
}
