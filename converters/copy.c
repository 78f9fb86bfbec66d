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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "converters/copy.h"

/* Extents are asked for one window at a time so the extent list stays
 * small on huge disks. */
#define WINDOW (64u * 1024 * 1024)

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

struct copy_ctx {
  struct ferry_disk *d;
  struct ferry_target *t;
  const struct ferry_copy_opts *o;
  size_t request_size;
  size_t sparse_size;

  pthread_mutex_t lock;
  uint64_t next;           /* next window start; under lock */
  bool failed;             /* under lock */
  enum ferry_errcode err_code;
  char err_msg[1024];

  _Atomic uint64_t done, data, zero;
};

static void
report (struct copy_ctx *c)
{
  struct ferry_progress p = {
    .done = atomic_load (&c->done),
    .total = c->d->size,
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
             uint64_t start, uint64_t len)
{
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
      if (zero_range (c, e->offset, e->length) < 0)
        return -1;
      atomic_fetch_add (&c->done, e->length);
      continue;
    }
    for (uint64_t off = e->offset; off < e->offset + e->length;) {
      size_t n = e->offset + e->length - off < c->request_size
                     ? (size_t) (e->offset + e->length - off)
                     : c->request_size;
      if (c->d->ops->read (c->d, buf, n, off) < 0
          || write_sparse (c, buf, n, off) < 0)
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
  pthread_mutex_unlock (&c->lock);
}

static void *
worker (void *arg)
{
  struct copy_ctx *c = arg;
  struct ferry_extent_list el = { 0 };
  char *buf = malloc (c->request_size);

  if (!buf) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    fail (c);
    return NULL;
  }
  for (;;) {
    uint64_t start, len;
    pthread_mutex_lock (&c->lock);
    if (c->failed || c->next >= c->d->size) {
      pthread_mutex_unlock (&c->lock);
      break;
    }
    start = c->next;
    len = c->d->size - start < WINDOW ? c->d->size - start : WINDOW;
    c->next += len;
    pthread_mutex_unlock (&c->lock);

    if (copy_window (c, buf, &el, start, len) < 0) {
      fail (c);
      break;
    }
    report (c);
  }
  ferry_extent_list_free (&el);
  free (buf);
  return NULL;
}

/* Sequential sources deliver data in file order through a callback. */
static int
stream_cb (void *opaque, uint64_t offset, const void *buf, size_t len)
{
  struct copy_ctx *c = opaque;
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
  if (write_sparse (c, buf, len, offset) < 0)
    return -1;
  atomic_fetch_add (&c->done, len);
  report (c);
  return 0;
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
  if (c->d->ops->stream (c->d, stream_cb, c) < 0)
    return -1;
  if (!known)
    c->t->size = c->d->size;
  /* Everything not delivered is zero. */
  uint64_t done = atomic_load (&c->done);
  if (c->d->size > done) {
    atomic_fetch_add (&c->zero, c->d->size - done);
    atomic_store (&c->done, c->d->size);
  }
  report (c);
  return 0;
}

int
ferry_copy (struct ferry_disk *d, struct ferry_target *t,
            const struct ferry_copy_opts *o, struct ferry_progress *result)
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

  if (c.sparse_size && c.sparse_size > c.request_size)
    c.sparse_size = c.request_size;
  pthread_mutex_init (&c.lock, NULL);

  if (d->sequential) {
    r = copy_stream (&c);
    goto out;
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

out:
  pthread_mutex_destroy (&c.lock);
  if (result) {
    result->done = atomic_load (&c.done);
    result->total = d->size;
    result->data = atomic_load (&c.data);
    result->zero = atomic_load (&c.zero);
  }
  return r;
}
