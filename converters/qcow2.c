/* ferry: qcow2 v3 images, created and updated in place.
 *
 * Host space is handed out by a bump allocator at the end of the file, so
 * a cluster is never reused while the image is open; metadata is written
 * only at commit, with refcounts recomputed from the tables.  This keeps
 * the write path to one short critical section (find or allocate the
 * clusters of a request) followed by pwrites outside it.  The pwrites
 * take turns on write_lock: threads writing one file at once contend for
 * its inode lock in the kernel, which spins and burns more CPU than the
 * copy itself.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "converters/format.h"
#include "converters/qcow2.h"
#include "importer/transport.h"

#define QCOW2_MAGIC 0x514649fbu
#define HEADER_LEN 112

#define INCOMPAT_DIRTY (UINT64_C (1) << 0)
#define INCOMPAT_CORRUPT (UINT64_C (1) << 1)
#define INCOMPAT_COMPRESSION (UINT64_C (1) << 3)
#define INCOMPAT_KNOWN (INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_COMPRESSION)

#define OFLAG_COPIED (UINT64_C (1) << 63)
#define OFLAG_COMPRESSED (UINT64_C (1) << 62)
#define OFLAG_ZERO UINT64_C (1)
#define OFFSET_MASK UINT64_C (0x00fffffffffffe00)
#define L1_OFFSET_MASK UINT64_C (0x00fffffffffffe00)

#define CODEC_POOL 16

struct l2 {
  uint64_t host; /* where the table lives in the file */
  uint64_t *e;   /* entries, host byte order */
  bool dirty;
};

struct qcow2 {
  int fd;
  struct ferry_transport *t; /* read-only images opened as a source */
  char *name;
  uint64_t size;
  unsigned bits;
  uint64_t cs;         /* cluster size */
  uint64_t l2_entries; /* entries per L2 table */
  enum qcow2_compression comp;  /* for new compressed clusters */
  enum qcow2_compression dcomp; /* of the clusters already stored */
  unsigned csize_shift;
  uint64_t csize_mask;

  pthread_mutex_t lock;
  struct l2 *l1;       /* one slot per L1 entry */
  uint64_t l1_n;       /* slots in memory */
  uint64_t next_free;  /* first never-used host byte (cluster aligned) */
  uint64_t comp_pos, comp_end; /* packing of compressed clusters */

  /* Existing image: where its L1 is, to rewrite it in place. */
  uint64_t old_l1_offset, old_l1_clusters;

  pthread_mutex_t write_lock;

  pthread_mutex_t pool_lock;
  struct qcow2_codec *pool[CODEC_POOL];
  int npool;
};

static int
pwrite_all (struct qcow2 *q, const void *buf, size_t count, uint64_t off)
{
  const uint8_t *p = buf;
  int rc = 0;

  pthread_mutex_lock (&q->write_lock);
  while (count > 0) {
    ssize_t r = pwrite (q->fd, p, count, (off_t) off);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      rc = ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: write at offset %"
                              PRIu64, q->name, off);
      break;
    }
    p += r;
    count -= (size_t) r;
    off += (uint64_t) r;
  }
  pthread_mutex_unlock (&q->write_lock);
  return rc;
}

static int
pread_all (struct qcow2 *q, void *buf, size_t count, uint64_t off)
{
  uint8_t *p = buf;

  if (q->t)
    return ferry_transport_pread (q->t, buf, count, off);

  while (count > 0) {
    ssize_t r = pread (q->fd, p, count, (off_t) off);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: read at offset %"
                                PRIu64, q->name, off);
    }
    if (r == 0) {
      memset (p, 0, count); /* past EOF of a sparse tail */
      return 0;
    }
    p += r;
    count -= (size_t) r;
    off += (uint64_t) r;
  }
  return 0;
}

static struct qcow2 *
alloc_image (int fd, const char *name, unsigned bits)
{
  struct qcow2 *q = calloc (1, sizeof *q);

  if (!q || !(q->name = strdup (name))) {
    free (q);
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  q->fd = fd;
  q->bits = bits;
  q->cs = UINT64_C (1) << bits;
  q->l2_entries = q->cs / 8;
  q->csize_shift = 62 - (bits - 8);
  q->csize_mask = (UINT64_C (1) << (bits - 8)) - 1;
  pthread_mutex_init (&q->lock, NULL);
  pthread_mutex_init (&q->pool_lock, NULL);
  pthread_mutex_init (&q->write_lock, NULL);
  return q;
}

void
qcow2_free (struct qcow2 *q)
{
  if (!q)
    return;
  for (uint64_t i = 0; i < q->l1_n; i++)
    free (q->l1[i].e);
  free (q->l1);
  for (int i = 0; i < q->npool; i++)
    qcow2_codec_free (q->pool[i]);
  pthread_mutex_destroy (&q->lock);
  pthread_mutex_destroy (&q->pool_lock);
  pthread_mutex_destroy (&q->write_lock);
  free (q->name);
  free (q);
}

uint64_t
qcow2_size (const struct qcow2 *q)
{
  return q->size;
}

uint32_t
qcow2_cluster_size (const struct qcow2 *q)
{
  return (uint32_t) q->cs;
}

void
qcow2_set_size (struct qcow2 *q, uint64_t size)
{
  pthread_mutex_lock (&q->lock);
  if (size > q->size)
    q->size = size;
  pthread_mutex_unlock (&q->lock);
}

/* Under q->lock. */
static uint64_t
alloc_clusters (struct qcow2 *q, uint64_t n)
{
  uint64_t off = q->next_free;

  q->next_free += n * q->cs;
  return off;
}

/* Under q->lock: make sure L1 slot i exists in memory. */
static int
grow_l1 (struct qcow2 *q, uint64_t i)
{
  uint64_t n;
  struct l2 *p;

  if (i < q->l1_n)
    return 0;
  n = q->l1_n ? q->l1_n : 16;
  while (n <= i)
    n *= 2;
  if (!(p = realloc (q->l1, n * sizeof *p)))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  memset (p + q->l1_n, 0, (n - q->l1_n) * sizeof *p);
  q->l1 = p;
  q->l1_n = n;
  return 0;
}

/* Under q->lock: the L2 entry of cluster c, allocating its table. */
static int
l2_entry (struct qcow2 *q, uint64_t c, uint64_t **e, struct l2 **tab)
{
  uint64_t i = c / q->l2_entries;
  struct l2 *t;

  if (grow_l1 (q, i) < 0)
    return -1;
  t = &q->l1[i];
  if (!t->e) {
    if (!(t->e = calloc (q->l2_entries, sizeof *t->e)))
      return ferry_error (FERRY_E_SYSTEM, "out of memory");
    t->host = alloc_clusters (q, 1);
    t->dirty = true;
  }
  *e = &t->e[c % q->l2_entries];
  *tab = t;
  return 0;
}

/* Under q->lock: reserve len bytes for a compressed cluster. */
static uint64_t
alloc_compressed (struct qcow2 *q, size_t len)
{
  uint64_t pos;

  if (q->comp_pos == 0 || q->comp_pos + len > q->comp_end) {
    if (q->comp_pos != 0 && q->comp_end == q->next_free) {
      /* The packing area is the last thing in the file: extend it. */
      uint64_t need = q->comp_pos + len - q->comp_end;
      uint64_t n = (need + q->cs - 1) / q->cs;
      alloc_clusters (q, n);
      q->comp_end = q->next_free;
    }
    else {
      q->comp_pos = alloc_clusters (q, 1);
      q->comp_end = q->next_free;
    }
  }
  pos = q->comp_pos;
  q->comp_pos += len;
  return pos;
}

static void
compressed_extent (const struct qcow2 *q, uint64_t e, uint64_t *off,
                   uint64_t *len)
{
  uint64_t nb;

  *off = e & ((UINT64_C (1) << q->csize_shift) - 1);
  nb = ((e >> q->csize_shift) & q->csize_mask) + 1;
  *len = nb * 512 - (*off & 511);
}

static struct qcow2_codec *
codec_get (struct qcow2 *q)
{
  struct qcow2_codec *z = NULL;

  pthread_mutex_lock (&q->pool_lock);
  if (q->npool > 0)
    z = q->pool[--q->npool];
  pthread_mutex_unlock (&q->pool_lock);
  return z ? z : qcow2_codec_new (q->comp);
}

static void
codec_put (struct qcow2 *q, struct qcow2_codec *z)
{
  pthread_mutex_lock (&q->pool_lock);
  if (q->npool < CODEC_POOL) {
    q->pool[q->npool++] = z;
    z = NULL;
  }
  pthread_mutex_unlock (&q->pool_lock);
  qcow2_codec_free (z);
}

/* Read one whole cluster c (any state) into buf. */
static int
read_cluster (struct qcow2 *q, uint64_t c, uint8_t *buf)
{
  uint64_t e = 0, i = c / q->l2_entries;

  pthread_mutex_lock (&q->lock);
  if (i < q->l1_n && q->l1[i].e)
    e = q->l1[i].e[c % q->l2_entries];
  pthread_mutex_unlock (&q->lock);

  if (e & OFLAG_COMPRESSED) {
    uint64_t off, len;
    uint8_t *tmp;
    int r;
    compressed_extent (q, e, &off, &len);
    if (!(tmp = malloc (len)))
      return ferry_error (FERRY_E_SYSTEM, "out of memory");
    r = pread_all (q, tmp, len, off);
    if (r == 0 && qcow2_decompress (q->dcomp, tmp, len, buf, q->cs) < 0)
      r = ferry_error_prefix ("%s: compressed cluster at offset %" PRIu64,
                              q->name, off);
    free (tmp);
    return r;
  }
  if ((e & OFFSET_MASK) && !(e & OFLAG_ZERO))
    return pread_all (q, buf, q->cs, e & OFFSET_MASK);
  memset (buf, 0, q->cs);
  return 0;
}

int
qcow2_pread (struct qcow2 *q, void *buf, size_t count, uint64_t offset)
{
  uint8_t *p = buf, *tmp = malloc (q->cs);
  int r = 0;

  if (!tmp)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  while (count > 0 && r == 0) {
    uint64_t c = offset >> q->bits, in = offset & (q->cs - 1);
    size_t n = q->cs - in < count ? (size_t) (q->cs - in) : count;
    r = read_cluster (q, c, tmp);
    memcpy (p, tmp + in, n);
    p += n;
    offset += n;
    count -= n;
  }
  free (tmp);
  return r;
}

/* Store one whole cluster compressed if that saves space.  Returns 1 when
 * stored, 0 when the caller should store it uncompressed. */
static int
write_compressed (struct qcow2 *q, uint64_t c, const uint8_t *data)
{
  struct qcow2_codec *z = codec_get (q);
  uint8_t *out = malloc (q->cs);
  int64_t n;
  uint64_t pos, *e, nb;
  struct l2 *tab;
  int r = -1;

  if (!z || !out) {
    if (!z)
      goto out;
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto out;
  }
  /* A compressed cluster must save at least a sector to be worth an
   * extra read on every access. */
  n = qcow2_codec_compress (z, data, q->cs, out, q->cs - 512);
  if (n <= 0) {
    r = n < 0 ? -1 : 0;
    goto out;
  }
  pthread_mutex_lock (&q->lock);
  if (l2_entry (q, c, &e, &tab) < 0) {
    pthread_mutex_unlock (&q->lock);
    goto out;
  }
  pos = alloc_compressed (q, (size_t) n);
  nb = ((pos + (uint64_t) n - 1) >> 9) - (pos >> 9);
  *e = OFLAG_COMPRESSED | (nb << q->csize_shift) | pos;
  tab->dirty = true;
  pthread_mutex_unlock (&q->lock);
  r = pwrite_all (q, out, (size_t) n, pos) < 0 ? -1 : 1;
out:
  free (out);
  if (z)
    codec_put (q, z);
  return r;
}

struct seg {
  uint64_t host;
  const uint8_t *p;
  size_t len;
};

/* Write clusters without compression: map (allocating) under the lock,
 * then write outside it, merging runs that are contiguous in the file. */
static int
write_plain (struct qcow2 *q, const uint8_t *p, size_t count, uint64_t offset)
{
  size_t nseg_max = count / q->cs + 2, nseg = 0;
  struct seg *segs = malloc (nseg_max * sizeof *segs);
  uint8_t *rmw = NULL;
  int r = -1;

  if (!segs)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");

  pthread_mutex_lock (&q->lock);
  if (offset + count > q->size)
    q->size = offset + count;
  while (count > 0) {
    uint64_t c = offset >> q->bits, in = offset & (q->cs - 1), host, *e = NULL;
    size_t n = q->cs - in < count ? (size_t) (q->cs - in) : count;
    struct l2 *tab = NULL;

    if (l2_entry (q, c, &e, &tab) < 0)
      goto unlock;
    if ((*e & OFFSET_MASK) && !(*e & OFLAG_COMPRESSED)) {
      /* Allocated (possibly a preallocated zero cluster): in place. */
      host = (*e & OFFSET_MASK) + in;
      if (*e & OFLAG_ZERO) {
        /* The rest of the cluster must keep reading as zeros. */
        if (n < q->cs && !rmw && !(rmw = calloc (1, q->cs))) {
          ferry_error (FERRY_E_SYSTEM, "out of memory");
          goto unlock;
        }
        if (n < q->cs
            && (pwrite_all (q, rmw, q->cs, *e & OFFSET_MASK) < 0))
          goto unlock;
        *e &= ~OFLAG_ZERO;
        tab->dirty = true;
      }
    }
    else if (*e & OFLAG_COMPRESSED && n < q->cs) {
      /* Part of a compressed cluster: rewrite it whole, uncompressed. */
      uint64_t nh;
      pthread_mutex_unlock (&q->lock);
      if (!rmw && !(rmw = malloc (q->cs))) {
        ferry_error (FERRY_E_SYSTEM, "out of memory");
        goto out;
      }
      if (read_cluster (q, c, rmw) < 0)
        goto out;
      memcpy (rmw + in, p, n);
      pthread_mutex_lock (&q->lock);
      /* Other writers may have moved the L1 array meanwhile. */
      if (l2_entry (q, c, &e, &tab) < 0)
        goto unlock;
      nh = alloc_clusters (q, 1);
      *e = nh | OFLAG_COPIED;
      tab->dirty = true;
      pthread_mutex_unlock (&q->lock);
      if (pwrite_all (q, rmw, q->cs, nh) < 0)
        goto out;
      pthread_mutex_lock (&q->lock);
      p += n;
      offset += n;
      count -= n;
      continue;
    }
    else {
      /* Unallocated, zero, or compressed and wholly overwritten: a fresh
       * cluster, which reads as zeros where this write does not reach. */
      host = alloc_clusters (q, 1);
      *e = host | OFLAG_COPIED;
      tab->dirty = true;
      host += in;
    }
    if (nseg > 0 && segs[nseg - 1].host + segs[nseg - 1].len == host
        && segs[nseg - 1].p + segs[nseg - 1].len == p)
      segs[nseg - 1].len += n;
    else
      segs[nseg++] = (struct seg) { host, p, n };
    p += n;
    offset += n;
    count -= n;
  }
  pthread_mutex_unlock (&q->lock);

  for (size_t i = 0; i < nseg; i++)
    if (pwrite_all (q, segs[i].p, segs[i].len, segs[i].host) < 0)
      goto out;
  r = 0;
  goto out;
unlock:
  pthread_mutex_unlock (&q->lock);
out:
  free (segs);
  free (rmw);
  return r;
}

int
qcow2_pwrite (struct qcow2 *q, const void *buf, size_t count, uint64_t offset)
{
  const uint8_t *p = buf;
  uint8_t *pad = NULL;
  int r = 0;

  if (q->comp == QCOW2_COMP_NONE)
    return write_plain (q, p, count, offset);

  /* Compression works on whole clusters; the disk's last cluster may be
   * short and is padded with zeros. */
  while (count > 0 && r == 0) {
    uint64_t c = offset >> q->bits, in = offset & (q->cs - 1);
    size_t n = q->cs - in < count ? (size_t) (q->cs - in) : count;
    const uint8_t *data = p;
    int s = 0;

    if (in == 0 && (n == q->cs || offset + n >= q->size)) {
      if (n < q->cs) {
        if (!pad && !(pad = malloc (q->cs))) {
          r = ferry_error (FERRY_E_SYSTEM, "out of memory");
          break;
        }
        memcpy (pad, p, n);
        memset (pad + n, 0, q->cs - n);
        data = pad;
        qcow2_set_size (q, offset + n);
      }
      s = write_compressed (q, c, data);
      if (s < 0)
        r = -1;
    }
    if (r == 0 && s == 0)
      r = write_plain (q, p, n, offset);
    p += n;
    offset += n;
    count -= n;
  }
  free (pad);
  return r;
}

int
qcow2_zero (struct qcow2 *q, uint64_t offset, uint64_t length)
{
  uint8_t *zeros = NULL;
  int r = 0;

  while (length > 0 && r == 0) {
    uint64_t c = offset >> q->bits, in = offset & (q->cs - 1);
    uint64_t n = q->cs - in < length ? q->cs - in : length;
    uint64_t i = c / q->l2_entries, e = 0;
    bool whole = in == 0 && (n == q->cs || offset + n >= q->size);

    pthread_mutex_lock (&q->lock);
    if (i < q->l1_n && q->l1[i].e) {
      uint64_t *pe = &q->l1[i].e[c % q->l2_entries];
      e = *pe;
      if (whole && e) {
        /* A preallocated cluster keeps its space; anything else drops
         * it (the refcount recomputation frees it). */
        if ((e & OFFSET_MASK) && !(e & OFLAG_COMPRESSED))
          *pe = (e & OFFSET_MASK) | OFLAG_COPIED | OFLAG_ZERO;
        else
          *pe = OFLAG_ZERO;
        q->l1[i].dirty = true;
        e = 0;
      }
    }
    pthread_mutex_unlock (&q->lock);

    if ((e & OFLAG_COMPRESSED) || (e && !(e & OFLAG_ZERO))) {
      /* Part of an allocated cluster: write the zeros.  (In a compressed
       * entry bit 0 belongs to the offset, not the zero flag.) */
      if (!zeros && !(zeros = calloc (1, q->cs)))
        r = ferry_error (FERRY_E_SYSTEM, "out of memory");
      else
        r = write_plain (q, zeros, (size_t) n, offset);
    }
    offset += n;
    length -= n;
  }
  free (zeros);
  return r;
}

static void
put_be32 (uint8_t *p, uint32_t v)
{
  v = htobe32 (v);
  memcpy (p, &v, 4);
}

static void
put_be64 (uint8_t *p, uint64_t v)
{
  v = htobe64 (v);
  memcpy (p, &v, 8);
}

static uint32_t
get_be32 (const uint8_t *p)
{
  uint32_t v;
  memcpy (&v, p, 4);
  return be32toh (v);
}

static uint64_t
get_be64 (const uint8_t *p)
{
  uint64_t v;
  memcpy (&v, p, 8);
  return be64toh (v);
}

static uint64_t
l1_entries_for (const struct qcow2 *q)
{
  uint64_t per = q->cs * q->l2_entries;

  return (q->size + per - 1) / per;
}

static int
write_header (struct qcow2 *q, bool dirty, uint64_t l1_off, uint64_t l1_n,
              uint64_t rt_off, uint64_t rt_clusters)
{
  uint8_t h[HEADER_LEN + 8] = { 0 };
  uint64_t incompat = dirty ? INCOMPAT_DIRTY : 0;

  if (q->dcomp == QCOW2_COMP_ZSTD)
    incompat |= INCOMPAT_COMPRESSION;
  put_be32 (h + 0, QCOW2_MAGIC);
  put_be32 (h + 4, 3);
  put_be32 (h + 20, q->bits);
  put_be64 (h + 24, q->size);
  put_be32 (h + 36, (uint32_t) l1_n);
  put_be64 (h + 40, l1_off);
  put_be64 (h + 48, rt_off);
  put_be32 (h + 56, (uint32_t) rt_clusters);
  put_be64 (h + 72, incompat);
  put_be32 (h + 96, 4); /* 16-bit refcounts */
  put_be32 (h + 100, HEADER_LEN);
  h[104] = q->dcomp == QCOW2_COMP_ZSTD ? 1 : 0;
  /* h[112..119]: the end-of-extensions marker, zero. */
  return pwrite_all (q, h, sizeof h, 0);
}

static int
set_dirty_on_disk (struct qcow2 *q, bool dirty, uint64_t incompat)
{
  uint8_t b[8];

  put_be64 (b, dirty ? incompat | INCOMPAT_DIRTY : incompat & ~INCOMPAT_DIRTY);
  if (pwrite_all (q, b, 8, 72) < 0)
    return -1;
  if (fdatasync (q->fd) < 0)
    return ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: fsync", q->name);
  return 0;
}

struct qcow2 *
qcow2_create (int fd, const char *name, const struct qcow2_create_opts *o)
{
  struct qcow2 *q;

  if (o->cluster_bits < 9 || o->cluster_bits > 21) {
    ferry_error (FERRY_E_USAGE, "qcow2 cluster size must be a power of two "
                 "from 512 bytes to 2 MiB");
    return NULL;
  }
  if (o->preallocate_metadata && o->compression != QCOW2_COMP_NONE) {
    ferry_error (FERRY_E_USAGE, "qcow2: --preallocate=metadata and "
                 "--compress cannot be combined");
    return NULL;
  }
  if (!(q = alloc_image (fd, name, o->cluster_bits)))
    return NULL;
  q->comp = o->compression;
  q->dcomp = o->compression;
  q->size = o->size;
  q->next_free = q->cs; /* cluster 0: the header */

  /* Dirty until commit: a killed run leaves an image that says so. */
  if (write_header (q, true, 0, 0, 0, 0) < 0)
    goto err;

  if (o->preallocate_metadata && q->size > 0) {
    uint64_t clusters = (q->size + q->cs - 1) / q->cs;
    uint64_t tables = (clusters + q->l2_entries - 1) / q->l2_entries, data;

    if (grow_l1 (q, tables - 1) < 0)
      goto err;
    for (uint64_t i = 0; i < tables; i++) {
      if (!(q->l1[i].e = calloc (q->l2_entries, sizeof (uint64_t)))) {
        ferry_error (FERRY_E_SYSTEM, "out of memory");
        goto err;
      }
      q->l1[i].host = alloc_clusters (q, 1);
      q->l1[i].dirty = true;
    }
    data = alloc_clusters (q, clusters);
    for (uint64_t c = 0; c < clusters; c++)
      q->l1[c / q->l2_entries].e[c % q->l2_entries]
          = (data + c * q->cs) | OFLAG_COPIED;
    if (ftruncate (fd, (off_t) q->next_free) < 0) {
      ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: extend to %" PRIu64
                         " bytes", name, q->next_free);
      goto err;
    }
  }
  return q;
err:
  qcow2_free (q);
  return NULL;
}

/* Open an existing image: from fd for updates, or from a transport t to
 * read it as a source (then nothing is ever written). */
static struct qcow2 *
open_image (int fd, struct ferry_transport *t, const char *name,
            bool allow_dirty)
{
  uint8_t h[HEADER_LEN];
  struct qcow2 *q = NULL;
  struct stat st = { 0 };
  uint64_t incompat, l1_off, l1_n, size;
  uint32_t bits, hlen;
  uint8_t *l1buf = NULL;

  if (t) {
    int64_t sz = ferry_transport_size (t);
    if (sz < 0) {
      ferry_error (FERRY_E_INPUT, "%s: a qcow2 image needs random access",
                   name);
      return NULL;
    }
    st.st_size = sz;
    if (sz < (int64_t) sizeof h
        || ferry_transport_pread (t, h, sizeof h, 0) < 0
        || get_be32 (h) != QCOW2_MAGIC) {
      ferry_error (FERRY_E_INPUT, "%s: not a qcow2 image", name);
      return NULL;
    }
  }
  else {
    if (fstat (fd, &st) < 0) {
      ferry_error_errno (FERRY_E_OUTPUT, errno, "%s", name);
      return NULL;
    }
    if (pread (fd, h, sizeof h, 0) != (ssize_t) sizeof h
        || get_be32 (h) != QCOW2_MAGIC) {
      ferry_error (FERRY_E_INPUT, "%s: not a qcow2 image", name);
      return NULL;
    }
  }
  bits = get_be32 (h + 20);
  size = get_be64 (h + 24);
  l1_n = get_be32 (h + 36);
  l1_off = get_be64 (h + 40);
  incompat = get_be64 (h + 72);
  hlen = get_be32 (h + 100);
  if (get_be32 (h + 4) != 3 || bits < 9 || bits > 21 || get_be64 (h + 8)
      || get_be32 (h + 32) || get_be32 (h + 60) || (incompat & ~INCOMPAT_KNOWN)
      || get_be32 (h + 96) != 4 || hlen < 104) {
    ferry_error (FERRY_E_INPUT, "%s: not a qcow2 image ferry can read or update (it "
                 "needs version 3, 16-bit refcounts, no backing file, "
                 "snapshots, encryption or unknown features)", name);
    return NULL;
  }
  if (incompat & INCOMPAT_CORRUPT) {
    ferry_error (FERRY_E_INPUT, "%s: the image is marked corrupt", name);
    return NULL;
  }
  if ((incompat & INCOMPAT_DIRTY) && !allow_dirty) {
    ferry_error (FERRY_E_INPUT, "%s: the image is dirty: an earlier write was "
                 "interrupted; repair it with 'qemu-img check -r all' first",
                 name);
    return NULL;
  }
  if (!(q = alloc_image (fd, name, bits)))
    return NULL;
  q->t = t;
  q->size = size;
  /* Updates are written uncompressed; stored compressed clusters are
   * read with the image's own compression type. */
  q->comp = QCOW2_COMP_NONE;
  if ((incompat & INCOMPAT_COMPRESSION) && hlen >= 105 && h[104] == 1)
    q->dcomp = QCOW2_COMP_ZSTD;
  else
    q->dcomp = QCOW2_COMP_ZLIB;
  q->next_free = ((uint64_t) st.st_size + q->cs - 1) & ~(q->cs - 1);
  if (l1_n < l1_entries_for (q) || l1_n > (UINT64_C (32) << 20) / 8
      || (l1_off & (q->cs - 1)) || l1_off + l1_n * 8 > (uint64_t) st.st_size) {
    ferry_error (FERRY_E_INPUT, "%s: L1 table (offset %" PRIu64 ", %" PRIu64
                 " entries) is invalid", name, l1_off, l1_n);
    goto err;
  }
  q->old_l1_offset = l1_off;
  q->old_l1_clusters = (l1_n * 8 + q->cs - 1) / q->cs;
  if (l1_n && grow_l1 (q, l1_n - 1) < 0)
    goto err;
  if (!(l1buf = malloc (l1_n * 8 + 1))) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto err;
  }
  if (pread_all (q, l1buf, l1_n * 8, l1_off) < 0)
    goto err;
  for (uint64_t i = 0; i < l1_n; i++) {
    uint64_t off = get_be64 (l1buf + i * 8) & L1_OFFSET_MASK;
    uint8_t *tb;
    if (!off)
      continue;
    if ((off & (q->cs - 1)) || off + q->cs > (uint64_t) st.st_size) {
      ferry_error (FERRY_E_INPUT, "%s: L1 entry %" PRIu64 " points outside "
                   "the file", name, i);
      goto err;
    }
    if (!(q->l1[i].e = malloc (q->cs))) {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto err;
    }
    q->l1[i].host = off;
    tb = (uint8_t *) q->l1[i].e;
    if (pread_all (q, tb, q->cs, off) < 0)
      goto err;
    for (uint64_t j = 0; j < q->l2_entries; j++) {
      uint64_t e = get_be64 (tb + j * 8);
      if (!(e & OFLAG_COMPRESSED)
          && ((e & OFFSET_MASK) + q->cs > (uint64_t) st.st_size + q->cs
              || (e & OFFSET_MASK & (q->cs - 1)))) {
        ferry_error (FERRY_E_INPUT, "%s: L2 entry %" PRIu64 " of table %"
                     PRIu64 " is invalid", name, j, i);
        goto err;
      }
      q->l1[i].e[j] = e;
    }
  }
  free (l1buf);
  if (!t && set_dirty_on_disk (q, true, incompat) < 0) {
    qcow2_free (q);
    return NULL;
  }
  return q;
err:
  free (l1buf);
  qcow2_free (q);
  return NULL;
}

int
qcow2_checkpoint (struct qcow2 *q)
{
  uint64_t incompat = q->dcomp == QCOW2_COMP_ZSTD ? INCOMPAT_COMPRESSION : 0;

  if (qcow2_commit (q) < 0)
    return -1;
  pthread_mutex_lock (&q->lock);
  int r = set_dirty_on_disk (q, true, incompat);
  pthread_mutex_unlock (&q->lock);
  return r;
}

struct qcow2 *
qcow2_open (int fd, const char *name, bool allow_dirty)
{
  return open_image (fd, NULL, name, allow_dirty);
}

struct qcow2 *
qcow2_open_source (struct ferry_transport *t)
{
  return open_image (-1, t, t->name, false);
}

int
qcow2_map (struct qcow2 *q, uint64_t offset, uint64_t length,
           struct ferry_extent_list *out)
{
  while (length > 0) {
    uint64_t c = offset >> q->bits, i = c / q->l2_entries, e = 0;
    uint64_t n = q->cs - (offset & (q->cs - 1));
    enum ferry_extent_type type;

    if (n > length)
      n = length;
    if (i < q->l1_n && q->l1[i].e)
      e = q->l1[i].e[c % q->l2_entries];
    if (e & OFLAG_COMPRESSED)
      type = FERRY_EXTENT_DATA;
    else if (e & OFLAG_ZERO)
      type = FERRY_EXTENT_ZERO;
    else if (e & OFFSET_MASK)
      type = FERRY_EXTENT_DATA;
    else
      type = FERRY_EXTENT_HOLE;
    if (ferry_extent_list_add (out, offset, n, type) < 0)
      return -1;
    offset += n;
    length -= n;
  }
  return 0;
}

static int
inc_ref (struct qcow2 *q, uint16_t *rc, uint64_t n, uint64_t off, uint64_t len)
{
  for (uint64_t c = off >> q->bits; c <= (off + len - 1) >> q->bits; c++) {
    if (c >= n || rc[c] == UINT16_MAX)
      return ferry_error (FERRY_E_OUTPUT, "%s: internal: cluster %" PRIu64
                          " outside the allocated area", q->name, c);
    rc[c]++;
  }
  return 0;
}

int
qcow2_commit (struct qcow2 *q)
{
  uint64_t l1_n, l1_clusters, l1_off, n, nb = 0, nt = 0, rb_entries;
  uint64_t rt_off, rb_off;
  uint16_t *rc = NULL;
  uint8_t *buf = NULL;
  int r = -1;

  pthread_mutex_lock (&q->lock);
  /* qemu counts the size in sectors. */
  q->size = (q->size + 511) & ~UINT64_C (511);
  l1_n = l1_entries_for (q);
  if (l1_n > (UINT64_C (32) << 20) / 8) {
    ferry_error (FERRY_E_USAGE, "%s: a %" PRIu64 "-byte disk needs a larger "
                 "cluster size", q->name, q->size);
    goto out;
  }
  if (l1_n && grow_l1 (q, l1_n - 1) < 0)
    goto out;
  if (!(buf = malloc (q->cs))) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto out;
  }

  /* L2 tables. */
  for (uint64_t i = 0; i < q->l1_n; i++) {
    struct l2 *t = &q->l1[i];
    if (!t->e || !t->dirty)
      continue;
    for (uint64_t j = 0; j < q->l2_entries; j++)
      put_be64 (buf + j * 8, t->e[j]);
    if (pwrite_all (q, buf, q->cs, t->host) < 0)
      goto out;
    t->dirty = false;
  }

  /* L1: in place when it still fits, else at the end. */
  l1_clusters = (l1_n * 8 + q->cs - 1) / q->cs;
  if (q->old_l1_offset && l1_clusters <= q->old_l1_clusters)
    l1_off = q->old_l1_offset;
  else
    l1_off = l1_n ? alloc_clusters (q, l1_clusters) : 0;

  /* Refcount blocks and table go at the end; they count themselves. */
  rb_entries = q->cs / 2;
  n = q->next_free / q->cs;
  for (;;) {
    uint64_t total = n + nb + nt;
    uint64_t nb2 = (total + rb_entries - 1) / rb_entries;
    uint64_t nt2 = (nb2 * 8 + q->cs - 1) / q->cs;
    if (nb2 == nb && nt2 == nt)
      break;
    nb = nb2;
    nt = nt2;
  }
  rb_off = alloc_clusters (q, nb);
  rt_off = alloc_clusters (q, nt);
  n = q->next_free / q->cs;
  if (!(rc = calloc (nb * rb_entries, sizeof *rc))) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto out;
  }
  if (inc_ref (q, rc, n, 0, q->cs) < 0
      || (l1_n && inc_ref (q, rc, n, l1_off, l1_clusters * q->cs) < 0)
      || inc_ref (q, rc, n, rb_off, (nb + nt) * q->cs) < 0)
    goto out;
  for (uint64_t i = 0; i < q->l1_n; i++) {
    struct l2 *t = &q->l1[i];
    if (!t->e)
      continue;
    if (inc_ref (q, rc, n, t->host, q->cs) < 0)
      goto out;
    for (uint64_t j = 0; j < q->l2_entries; j++) {
      uint64_t e = t->e[j], off, len;
      if (e & OFLAG_COMPRESSED) {
        compressed_extent (q, e, &off, &len);
        if (inc_ref (q, rc, n, off, len) < 0)
          goto out;
      }
      else if (e & OFFSET_MASK) {
        if (inc_ref (q, rc, n, e & OFFSET_MASK, q->cs) < 0)
          goto out;
      }
    }
  }
  for (uint64_t b = 0; b < nb; b++) {
    for (uint64_t k = 0; k < rb_entries; k++) {
      uint16_t v = htobe16 (rc[b * rb_entries + k]);
      memcpy (buf + k * 2, &v, 2);
    }
    if (pwrite_all (q, buf, q->cs, rb_off + b * q->cs) < 0)
      goto out;
  }
  for (uint64_t t = 0; t < nt; t++) {
    memset (buf, 0, q->cs);
    for (uint64_t k = 0; k < q->cs / 8 && t * (q->cs / 8) + k < nb; k++)
      put_be64 (buf + k * 8, rb_off + (t * (q->cs / 8) + k) * q->cs);
    if (pwrite_all (q, buf, q->cs, rt_off + t * q->cs) < 0)
      goto out;
  }

  /* L1 entries carry COPIED: every L2 table has refcount 1. */
  for (uint64_t c = 0; c < l1_clusters; c++) {
    memset (buf, 0, q->cs);
    for (uint64_t k = 0; k < q->cs / 8; k++) {
      uint64_t i = c * (q->cs / 8) + k;
      if (i < l1_n && q->l1[i].e)
        put_be64 (buf + k * 8, q->l1[i].host | OFLAG_COPIED);
    }
    if (pwrite_all (q, buf, q->cs, l1_off + c * q->cs) < 0)
      goto out;
  }

  /* The file ends at the last cluster handed out (data clusters at the
   * end may be holes that were never written). */
  if (ftruncate (q->fd, (off_t) q->next_free) < 0) {
    ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: set length", q->name);
    goto out;
  }
  if (fdatasync (q->fd) < 0) {
    ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: fsync", q->name);
    goto out;
  }
  if (write_header (q, false, l1_off, l1_n, rt_off, nt) < 0)
    goto out;
  if (fdatasync (q->fd) < 0) {
    ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: fsync", q->name);
    goto out;
  }
  q->old_l1_offset = l1_off;
  q->old_l1_clusters = l1_clusters;
  r = 0;
out:
  pthread_mutex_unlock (&q->lock);
  free (rc);
  free (buf);
  return r;
}
