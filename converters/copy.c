/* ferry: the copy engine.
 *
 * Worker threads take fixed-size windows of the logical disk from a shared
 * cursor, ask the reader for the window's extents, and copy only the data
 * extents; zero and unallocated extents are skipped when the target already
 * reads as zeros, and zeroed otherwise.  Data is checked for zero blocks of
 * sparse_size so zero-filled data does not become allocated output.
 *
 * Memory is bounded by threads x request size, whatever the disk size.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "converters/checksum.h"
#include "converters/copy.h"

/* Extents are asked for one window at a time so the extent list stays
 * small on huge disks. */
#define WINDOW (64u * 1024 * 1024)
#define LEAVES_PER_WINDOW (WINDOW / FERRY_CSUM_LEAF)
#define RANGE_PIECE (8u * 1024 * 1024)
/* Finished windows whose digests wait for an earlier, slower window. */
#define MAX_PENDING 128

bool
ferry_is_zero (const void *buf, size_t len)
{
  const unsigned char *p = buf;
  /* Check the first 16 bytes by hand, then compare the buffer with itself
   * shifted: memcmp is vectorised and this needs no zero buffer. */
  size_t head = len < 16 ? len : 16;
  for (size_t i = 0; i < head; i++)
    if (p[i])
      return false;
  return len <= 16 || memcmp (p, p + 16, len - 16) == 0;
}

/* Hashes the disk from some offset on, in order, leaf by leaf; finished
 * leaf digests go to out[] (window mode) or straight to the root. */
struct cursor {
  struct ferry_leaf_hasher *h;
  const uint8_t *zero_leaf; /* digest of a full leaf of zeros */
  uint64_t pos;             /* next disk offset to hash */
  uint64_t disk_size;
  bool in_leaf;
  uint8_t (*out)[FERRY_CSUM_LEN];
  size_t n_out;
  struct ferry_root_hasher *root;
};

struct pending {
  bool ready;
  size_t n;
  uint8_t d[LEAVES_PER_WINDOW][FERRY_CSUM_LEN];
};

struct copy_ctx {
  struct ferry_disk *d;
  struct ferry_target *t;
  const struct ferry_copy_opts *o;
  size_t request_size;
  size_t sparse_size;

  pthread_mutex_t lock;
  uint64_t next;           /* next window start; under lock */
  size_t ri;               /* ranges mode: current range; under lock */
  uint64_t total;          /* bytes to handle */
  bool failed;             /* under lock */
  enum ferry_errcode err_code;
  char err_msg[1024];

  _Atomic uint64_t done, data, zero;

  /* Checksum state; csum false if not asked for.  Under lock. */
  bool csum;
  bool csum_invalid;
  uint8_t zero_leaf[FERRY_CSUM_LEN];
  struct ferry_root_hasher *root;
  uint64_t next_fold; /* window index */
  pthread_cond_t fold_cond;
  struct pending *pend; /* MAX_PENDING slots */
};

static int
leaf_done (struct cursor *k, const uint8_t *digest)
{
  if (k->root)
    return ferry_root_add (k->root, digest);
  memcpy (k->out[k->n_out++], digest, FERRY_CSUM_LEN);
  return 0;
}

/* Feed [k->pos, k->pos+len) from buf, or zeros if buf is NULL. */
static int
cursor_feed (struct cursor *k, const char *buf, uint64_t len)
{
  while (len > 0) {
    uint64_t in_leaf = k->pos % FERRY_CSUM_LEAF;
    uint64_t leaf_len = k->disk_size - (k->pos - in_leaf) < FERRY_CSUM_LEAF
                            ? k->disk_size - (k->pos - in_leaf)
                            : FERRY_CSUM_LEAF;
    uint64_t n = leaf_len - in_leaf < len ? leaf_len - in_leaf : len;

    /* A whole leaf of zeros has a known digest. */
    if (!buf && in_leaf == 0 && n == FERRY_CSUM_LEAF) {
      if (leaf_done (k, k->zero_leaf) < 0)
        return -1;
    }
    else {
      if (!k->in_leaf) {
        if (ferry_leaf_begin (k->h) < 0)
          return -1;
        k->in_leaf = true;
      }
      if ((buf ? ferry_leaf_update (k->h, buf, (size_t) n)
               : ferry_leaf_update_zeros (k->h, (size_t) n)) < 0)
        return -1;
      if (in_leaf + n == leaf_len) {
        uint8_t dg[FERRY_CSUM_LEN];
        k->in_leaf = false;
        if (ferry_leaf_end (k->h, dg) < 0 || leaf_done (k, dg) < 0)
          return -1;
      }
    }
    k->pos += n;
    len -= n;
    if (buf)
      buf += n;
  }
  return 0;
}

/* Hand a finished window's leaf digests to the root in disk order. */
static int
fold_window (struct copy_ctx *c, uint64_t widx, struct cursor *k)
{
  int r = 0;
  pthread_mutex_lock (&c->lock);
  while (widx - c->next_fold >= MAX_PENDING && !c->failed)
    pthread_cond_wait (&c->fold_cond, &c->lock);
  if (!c->failed) {
    struct pending *p = &c->pend[widx % MAX_PENDING];
    memcpy (p->d, k->out, k->n_out * FERRY_CSUM_LEN);
    p->n = k->n_out;
    p->ready = true;
    while (c->pend[c->next_fold % MAX_PENDING].ready) {
      p = &c->pend[c->next_fold % MAX_PENDING];
      for (size_t i = 0; i < p->n && r == 0; i++)
        r = ferry_root_add (c->root, p->d[i]);
      p->ready = false;
      c->next_fold++;
    }
    pthread_cond_broadcast (&c->fold_cond);
  }
  pthread_mutex_unlock (&c->lock);
  return r;
}

static void
report (struct copy_ctx *c)
{
  struct ferry_progress p = {
    .done = atomic_load (&c->done),
    .total = c->total,
    .data = atomic_load (&c->data),
    .zero = atomic_load (&c->zero),
  };
  if (c->o->progress) {
    /* The callback is not required to be thread-safe. */
    pthread_mutex_lock (&c->lock);
    c->o->progress (c->o->progress_opaque, &p);
    pthread_mutex_unlock (&c->lock);
  }
}

static int
zero_range (struct copy_ctx *c, uint64_t off, uint64_t len)
{
  if (!c->t->starts_zeroed && c->t->ops->zero (c->t, off, len) < 0)
    return -1;
  atomic_fetch_add (&c->zero, len);
  return 0;
}

/* Write buf, leaving out zero blocks of sparse_size (aligned to the disk
 * offset, so results do not depend on how work was split). */
static int
write_sparse (struct copy_ctx *c, const char *buf, size_t len, uint64_t off)
{
  size_t ss = c->sparse_size;
  size_t i = 0;

  if (ss == 0)
    goto all_data;
  while (i < len) {
    size_t blk = ss - (size_t) ((off + i) % ss);
    if (blk > len - i)
      blk = len - i;
    bool zero = ferry_is_zero (buf + i, blk);
    /* Extend the run while blocks have the same kind. */
    size_t j = i + blk;
    while (j < len) {
      size_t b = len - j < ss ? len - j : ss;
      if (ferry_is_zero (buf + j, b) != zero)
        break;
      j += b;
    }
    if (zero) {
      if (zero_range (c, off + i, j - i) < 0)
        return -1;
    }
    else {
      if (c->t->ops->pwrite (c->t, buf + i, j - i, off + i) < 0)
        return -1;
      atomic_fetch_add (&c->data, j - i);
    }
    i = j;
  }
  return 0;

all_data:
  if (c->t->ops->pwrite (c->t, buf, len, off) < 0)
    return -1;
  atomic_fetch_add (&c->data, len);
  return 0;
}

static int
copy_window (struct copy_ctx *c, char *buf, struct ferry_extent_list *el,
             uint64_t start, uint64_t len, struct cursor *k)
{
  if (k) {
    k->pos = start;
    k->n_out = 0;
    k->in_leaf = false;
  }
  ferry_extent_list_reset (el);
  if (c->d->ops->extents (c->d, start, len, el) < 0)
    return -1;

  uint64_t covered = start;
  for (size_t i = 0; i < el->n; i++) {
    const struct ferry_extent *e = &el->v[i];
    /* A reader must describe exactly the window; anything else is a bug
     * that would silently lose data, so stop. */
    if (e->offset != covered || e->length == 0
        || e->offset + e->length > start + len)
      return ferry_error (FERRY_E_SYSTEM,
                          "internal error: %s reader returned extent "
                          "[%llu, +%llu) for window [%llu, +%llu)",
                          c->d->ops->name, (unsigned long long) e->offset,
                          (unsigned long long) e->length,
                          (unsigned long long) start,
                          (unsigned long long) len);
    covered += e->length;

    if (e->type != FERRY_EXTENT_DATA) {
      if (zero_range (c, e->offset, e->length) < 0
          || (k && cursor_feed (k, NULL, e->length) < 0))
        return -1;
      atomic_fetch_add (&c->done, e->length);
      continue;
    }
    for (uint64_t off = e->offset; off < e->offset + e->length;) {
      /* End requests on request_size boundaries of the disk, so a request
       * never straddles a target block when the extent start does not. */
      uint64_t lim = c->request_size - off % c->request_size;
      size_t n = e->offset + e->length - off < lim
                     ? (size_t) (e->offset + e->length - off)
                     : (size_t) lim;
      if (c->d->ops->read (c->d, buf, n, off) < 0
          || write_sparse (c, buf, n, off) < 0
          || (k && cursor_feed (k, buf, n) < 0))
        return -1;
      off += n;
      atomic_fetch_add (&c->done, n);
    }
  }
  if (covered != start + len)
    return ferry_error (FERRY_E_SYSTEM,
                        "internal error: %s reader described %llu of %llu "
                        "bytes at offset %llu",
                        c->d->ops->name,
                        (unsigned long long) (covered - start),
                        (unsigned long long) len, (unsigned long long) start);
  if (k)
    return fold_window (c, start / WINDOW, k);
  return 0;
}

static void
fail (struct copy_ctx *c)
{
  pthread_mutex_lock (&c->lock);
  if (!c->failed) {
    c->failed = true;
    c->err_code = ferry_error_code ();
    snprintf (c->err_msg, sizeof c->err_msg, "%s", ferry_error_msg ());
  }
  pthread_cond_broadcast (&c->fold_cond);
  pthread_mutex_unlock (&c->lock);
}

/* The next piece of work: a window of the disk, or of the current range. */
static bool
next_window (struct copy_ctx *c, uint64_t *start, uint64_t *len)
{
  bool ok = false;

  pthread_mutex_lock (&c->lock);
  if (c->failed)
    goto out;
  if (c->o->ranges) {
    const struct ferry_range *r;
    while (c->ri < c->o->n_ranges
           && c->next >= c->o->ranges[c->ri].offset + c->o->ranges[c->ri].length)
      if (++c->ri < c->o->n_ranges)
        c->next = c->o->ranges[c->ri].offset;
    if (c->ri >= c->o->n_ranges)
      goto out;
    r = &c->o->ranges[c->ri];
    if (c->next < r->offset)
      c->next = r->offset;
    *start = c->next;
    *len = r->offset + r->length - c->next;
  }
  else {
    if (c->next >= c->d->size)
      goto out;
    *start = c->next;
    *len = c->d->size - c->next;
  }
  /* Range copies (incremental sync) checkpoint each piece: keep pieces
   * small so a killed sync loses little. */
  if (*len > (c->o->ranges ? RANGE_PIECE : WINDOW))
    *len = c->o->ranges ? RANGE_PIECE : WINDOW;
  c->next += *len;
  ok = true;
out:
  pthread_mutex_unlock (&c->lock);
  return ok;
}

static void *
worker (void *arg)
{
  struct copy_ctx *c = arg;
  struct ferry_extent_list el = { 0 };
  /* Page-aligned, so targets can write it with O_DIRECT. */
  char *buf = NULL;
  if (posix_memalign ((void **) &buf, 4096, c->request_size) != 0)
    buf = NULL;
  struct cursor kk = { .zero_leaf = c->zero_leaf, .disk_size = c->d->size };
  struct cursor *k = NULL;

  if (c->csum) {
    kk.h = ferry_leaf_hasher_new ();
    kk.out = malloc (LEAVES_PER_WINDOW * FERRY_CSUM_LEN);
    k = &kk;
  }
  if (!buf || (c->csum && (!kk.h || !kk.out))) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    fail (c);
    goto out;
  }
  for (;;) {
    uint64_t start, len;
    if (!next_window (c, &start, &len))
      break;
    if (copy_window (c, buf, &el, start, len, k) < 0) {
      fail (c);
      break;
    }
    if (c->o->range_done) {
      pthread_mutex_lock (&c->lock);
      c->o->range_done (c->o->range_done_opaque, start, len);
      pthread_mutex_unlock (&c->lock);
    }
    report (c);
  }
out:
  ferry_extent_list_free (&el);
  free (buf);
  ferry_leaf_hasher_free (kk.h);
  free (kk.out);
  return NULL;
}

/* Sequential sources (standard input, an HTTP stream, an OVA member) are
 * read, unpacked and decompressed by one thread, in file order.  That
 * thread also hashes each piece the moment it has it, while the bytes are
 * still in its cache: a hasher thread of its own, fed the batches, ran at
 * two thirds of the speed waiting for them to come over from the other
 * core, and cost more CPU than it saved on two cores.  Writing overlaps:
 * the source's thread gathers contiguous data into batches, a writer
 * thread takes them in order, and a batch's buffer is reused once it is
 * written.  A few batches in flight bound the memory. */
#define STREAM_BATCH (4u * 1024 * 1024)
#define STREAM_BUFS 6

struct batch {
  uint64_t off;
  size_t len;
  char *buf;
};

struct stream_ctx {
  struct copy_ctx *c;
  struct cursor *k; /* NULL: no checksum (or given up); source's thread */

  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct batch queue[STREAM_BUFS]; /* filled, in order: [qhead, qhead+qn) */
  size_t qhead, qn;
  char *free_bufs[STREAM_BUFS];
  size_t nfree;
  bool closing;   /* no more batches will come */
  bool wfailed;   /* the writer stopped on an error */
  enum ferry_errcode err_code;
  char err_msg[1024];

  struct batch cur; /* being filled by the source's thread */
};

/* The writer's work on one batch. */
static int
stream_write (struct stream_ctx *sc, const struct batch *b)
{
  struct copy_ctx *c = sc->c;

  if (write_sparse (c, b->buf, b->len, b->off) < 0)
    return -1;
  atomic_fetch_add (&c->done, b->len);
  report (c);
  return 0;
}

static void *
stream_writer (void *arg)
{
  struct stream_ctx *sc = arg;

  pthread_mutex_lock (&sc->lock);
  for (;;) {
    struct batch b;
    while (sc->qn == 0 && !sc->closing)
      pthread_cond_wait (&sc->cond, &sc->lock);
    if (sc->qn == 0)
      break;
    b = sc->queue[sc->qhead];
    sc->qhead = (sc->qhead + 1) % STREAM_BUFS;
    sc->qn--;
    pthread_mutex_unlock (&sc->lock);

    int r = stream_write (sc, &b);

    pthread_mutex_lock (&sc->lock);
    sc->free_bufs[sc->nfree++] = b.buf;
    if (r < 0) {
      sc->wfailed = true;
      sc->err_code = ferry_error_code ();
      snprintf (sc->err_msg, sizeof sc->err_msg, "%s", ferry_error_msg ());
      pthread_cond_broadcast (&sc->cond);
      break;
    }
    pthread_cond_broadcast (&sc->cond);
  }
  pthread_mutex_unlock (&sc->lock);
  return NULL;
}

/* Called with sc->lock held: the writer's error as this thread's. */
static int
writer_error_locked (struct stream_ctx *sc)
{
  ferry_error_set_raw (sc->err_code, sc->err_msg);
  return -1;
}

/* Hand the batch being filled to the writer. */
static int
stream_submit (struct stream_ctx *sc)
{
  int r = 0;

  if (!sc->cur.buf)
    return 0;
  pthread_mutex_lock (&sc->lock);
  if (sc->wfailed) {
    sc->free_bufs[sc->nfree++] = sc->cur.buf;
    r = writer_error_locked (sc);
  }
  else {
    /* There are as many buffers as queue slots, so a held buffer always
     * has a slot. */
    sc->queue[(sc->qhead + sc->qn) % STREAM_BUFS] = sc->cur;
    sc->qn++;
    pthread_cond_broadcast (&sc->cond);
  }
  pthread_mutex_unlock (&sc->lock);
  sc->cur.buf = NULL;
  return r;
}

/* Sequential sources deliver data in file order through a callback. */
static int
stream_cb (void *opaque, uint64_t offset, const void *buf, size_t len)
{
  struct stream_ctx *sc = opaque;
  struct copy_ctx *c = sc->c;
  const char *p = buf;

  if (offset > UINT64_MAX - len)
    return ferry_error (FERRY_E_INPUT, "%s: data at offset %llu overflows",
                        c->d->transport->name, (unsigned long long) offset);
  /* A raw stream's size is unknown until its end; other streams declare it
   * up front and must stay inside it. */
  if (c->d->size && offset + len > c->d->size)
    return ferry_error (FERRY_E_INPUT,
                        "%s: data at offset %llu length %zu is past the "
                        "virtual size %llu",
                        c->d->transport->name, (unsigned long long) offset,
                        len, (unsigned long long) c->d->size);
  if (sc->k) {
    /* Streams normally hold their data in disk order; one that does not
     * cannot be hashed in one pass. */
    if (offset < sc->k->pos) {
      ferry_warn (c->o->log, "%s: data is not in disk order; no checksum "
                  "computed", c->d->transport->name);
      c->csum_invalid = true;
      sc->k = NULL;
    }
    else if (cursor_feed (sc->k, NULL, offset - sc->k->pos) < 0
             || cursor_feed (sc->k, buf, len) < 0)
      return -1;
  }
  while (len > 0) {
    size_t n;
    if (sc->cur.buf
        && (offset != sc->cur.off + sc->cur.len || sc->cur.len == STREAM_BATCH)
        && stream_submit (sc) < 0)
      return -1;
    if (!sc->cur.buf) {
      pthread_mutex_lock (&sc->lock);
      while (sc->nfree == 0 && !sc->wfailed)
        pthread_cond_wait (&sc->cond, &sc->lock);
      if (sc->wfailed) {
        int r = writer_error_locked (sc);
        pthread_mutex_unlock (&sc->lock);
        return r;
      }
      sc->cur.buf = sc->free_bufs[--sc->nfree];
      pthread_mutex_unlock (&sc->lock);
      sc->cur.off = offset;
      sc->cur.len = 0;
    }
    n = STREAM_BATCH - sc->cur.len;
    if (n > len)
      n = len;
    memcpy (sc->cur.buf + sc->cur.len, p, n);
    sc->cur.len += n;
    p += n;
    offset += n;
    len -= n;
  }
  return 0;
}

/* Stop the writer (after it has written what was submitted) and collect
 * its result. */
static int
stream_join (struct stream_ctx *sc, pthread_t writer, bool ok)
{
  int r = 0;

  if (ok && stream_submit (sc) < 0)
    ok = false;
  pthread_mutex_lock (&sc->lock);
  sc->closing = true;
  if (!ok) /* the copy failed anyway: drop what is queued */
    for (; sc->qn > 0; sc->qn--, sc->qhead = (sc->qhead + 1) % STREAM_BUFS)
      sc->free_bufs[sc->nfree++] = sc->queue[sc->qhead].buf;
  pthread_cond_broadcast (&sc->cond);
  pthread_mutex_unlock (&sc->lock);
  pthread_join (writer, NULL);
  /* Buffers the writer left queued (it stopped on an error) or one still
   * being filled go back, so they are freed. */
  for (; sc->qn > 0; sc->qn--, sc->qhead = (sc->qhead + 1) % STREAM_BUFS)
    sc->free_bufs[sc->nfree++] = sc->queue[sc->qhead].buf;
  if (sc->cur.buf) {
    sc->free_bufs[sc->nfree++] = sc->cur.buf;
    sc->cur.buf = NULL;
  }
  if (ok && sc->wfailed)
    r = writer_error_locked (sc);
  return ok ? r : -1;
}

static int
copy_stream (struct copy_ctx *c)
{
  /* Grains may arrive in any order, so ranges never delivered cannot be
   * zeroed as we go: a target that is not already zero is zeroed first. */
  if (!c->t->starts_zeroed && c->d->size > 0
      && c->t->ops->zero (c->t, 0, c->d->size) < 0)
    return -1;
  bool known = c->d->size > 0;
  struct stream_ctx sc = { .c = c };
  struct cursor kk = { .zero_leaf = c->zero_leaf, .disk_size = c->d->size,
                       .root = c->root };
  pthread_t writer;
  int r = -1, e;

  /* A raw stream of unknown size cannot be hashed leaf by leaf, since the
   * last leaf's length is not known until the end. */
  if (c->csum && known) {
    if (!(kk.h = ferry_leaf_hasher_new ()))
      return -1;
    sc.k = &kk;
  }
  else if (c->csum) {
    ferry_warn (c->o->log, "%s: size unknown until the end of the stream; "
                "no checksum computed", c->d->transport->name);
    c->csum_invalid = true;
  }
  for (int i = 0; i < STREAM_BUFS; i++) {
    if (posix_memalign ((void **) &sc.free_bufs[i], 4096, STREAM_BATCH) != 0) {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto out_bufs;
    }
    sc.nfree++;
  }
  pthread_mutex_init (&sc.lock, NULL);
  pthread_cond_init (&sc.cond, NULL);
  if ((e = pthread_create (&writer, NULL, stream_writer, &sc)) != 0) {
    ferry_error_errno (FERRY_E_SYSTEM, e, "cannot start the writer thread");
    goto out_sync;
  }
  {
    bool ok = c->d->ops->stream (c->d, stream_cb, &sc) == 0;
    if (stream_join (&sc, writer, ok) < 0)
      goto out_sync;
  }
  if (sc.k && cursor_feed (sc.k, NULL, c->d->size - sc.k->pos) < 0)
    goto out_sync;
  /* A raw stream learns its size at its end, in this thread; the writer
   * thread's progress reports read total, which is set only while it
   * is not running. */
  if (!known) {
    c->t->size = c->d->size;
    c->total = c->d->size;
  }
  /* Everything not delivered is zero. */
  uint64_t done = atomic_load (&c->done);
  if (c->d->size > done) {
    atomic_fetch_add (&c->zero, c->d->size - done);
    atomic_store (&c->done, c->d->size);
  }
  report (c);
  r = 0;
out_sync:
  pthread_mutex_destroy (&sc.lock);
  pthread_cond_destroy (&sc.cond);
out_bufs:
  for (size_t i = 0; i < sc.nfree; i++)
    free (sc.free_bufs[i]);
  ferry_leaf_hasher_free (kk.h);
  return r;
}

int
ferry_copy (struct ferry_disk *d, struct ferry_target *t,
            const struct ferry_copy_opts *o, struct ferry_progress *result,
            char *checksum)
{
  struct copy_ctx c = {
    .d = d,
    .t = t,
    .o = o,
    .request_size = o->request_size ? o->request_size
                                    : FERRY_COPY_DEFAULT_REQUEST,
    .sparse_size = o->sparse_size,
  };
  unsigned n = o->threads;
  int r = 0;

  c.total = d->size;
  if (o->ranges) {
    c.total = 0;
    for (size_t i = 0; i < o->n_ranges; i++) {
      const struct ferry_range *g = &o->ranges[i];
      if (g->length == 0 || g->offset > d->size
          || g->length > d->size - g->offset
          || (i > 0 && g->offset < o->ranges[i - 1].offset
                                   + o->ranges[i - 1].length))
        return ferry_error (FERRY_E_SYSTEM, "internal error: copy range %zu "
                            "[%llu, +%llu) is empty, unsorted or outside the "
                            "disk", i, (unsigned long long) g->offset,
                            (unsigned long long) g->length);
      c.total += g->length;
    }
    if (checksum || d->sequential)
      return ferry_error (FERRY_E_SYSTEM, "internal error: a range copy "
                          "cannot compute a checksum or read a stream");
    c.next = o->n_ranges ? o->ranges[0].offset : 0;
  }

  /* Zero detection on the target's own block boundaries keeps writes whole
   * (a qcow2 cluster is either written or left unallocated). */
  if (t->write_block && c.sparse_size && c.sparse_size < t->write_block)
    c.sparse_size = t->write_block;
  if (t->write_block && c.request_size % t->write_block)
    c.request_size += t->write_block - c.request_size % t->write_block;
  if (c.sparse_size && c.sparse_size > c.request_size)
    c.sparse_size = c.request_size;
  pthread_mutex_init (&c.lock, NULL);
  pthread_cond_init (&c.fold_cond, NULL);
  if (checksum) {
    checksum[0] = 0;
    c.csum = true;
    c.root = ferry_root_hasher_new ();
    c.pend = calloc (MAX_PENDING, sizeof *c.pend);
    if (!c.root || !c.pend
        || ferry_zero_leaf_digest (FERRY_CSUM_LEAF, c.zero_leaf) < 0) {
      r = ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto out;
    }
  }

  if (d->sequential) {
    r = copy_stream (&c);
    goto final;
  }
  if (n == 0) {
    long cpus = sysconf (_SC_NPROCESSORS_ONLN);
    n = cpus > 0 ? (unsigned) cpus : 1;
  }
  if (n > 64)
    n = 64;

  pthread_t tids[64];
  unsigned started = 0;
  for (; started < n; started++) {
    int e = pthread_create (&tids[started], NULL, worker, &c);
    if (e != 0) {
      if (started == 0) {
        r = ferry_error_errno (FERRY_E_SYSTEM, e, "pthread_create");
        goto out;
      }
      break; /* fewer threads is still correct */
    }
  }
  for (unsigned i = 0; i < started; i++)
    pthread_join (tids[i], NULL);
  if (c.failed) {
    ferry_error_set_raw (c.err_code, c.err_msg);
    r = -1;
  }

final:
  if (r == 0 && c.csum && !c.csum_invalid) {
    char hex[2 * FERRY_CSUM_LEN + 1];
    if (ferry_root_final (c.root, d->size, hex) < 0)
      r = -1;
    else
      sprintf (checksum, "%s%s", FERRY_CSUM_PREFIX, hex);
  }

out:
  ferry_root_hasher_free (c.root);
  free (c.pend);
  pthread_cond_destroy (&c.fold_cond);
  pthread_mutex_destroy (&c.lock);
  if (result) {
    result->done = atomic_load (&c.done);
    result->total = o->ranges ? c.total : d->size;
    result->data = atomic_load (&c.data);
    result->zero = atomic_load (&c.zero);
  }
  return r;
}
