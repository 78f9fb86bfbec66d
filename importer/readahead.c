/* ferry: front-to-back reading with chunks fetched ahead. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "importer/readahead.h"

/* Each chunk is one read of the transport (over HTTP one Range request,
 * so larger chunks mean fewer requests); two threads keep two requests in
 * flight, which hides one request's latency behind the other's transfer.
 * Memory: RA_SLOTS chunks, 48 MiB.  Six rather than four because a tap
 * (the manifest digest) lagging behind the walk keeps its chunks, and
 * with four an OVA over HTTP took about 3% longer on a 2-CPU machine
 * (bench/ova-http-vs-local.sh). */
#define RA_CHUNK (8u * 1024 * 1024)
#define RA_SLOTS 6
#define RA_THREADS 2

enum slot_state { SLOT_EMPTY, SLOT_LOADING, SLOT_READY, SLOT_FAILED };

struct ra_slot {
  enum slot_state state;
  uint64_t seq; /* chunk number */
  size_t len;
  char *buf;
  enum ferry_errcode err_code;
  char *err_msg;
};

struct ferry_readahead {
  struct ferry_transport *t;
  uint64_t size;
  pthread_t thread[RA_THREADS];
  int nthreads;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  /* Chunk n covers [base + n * RA_CHUNK, ...) and sits in slot
   * n % RA_SLOTS.  Chunks below next_take were handed out (the last one
   * is still held while holding); next_fetch is the next to claim. */
  struct ra_slot slot[RA_SLOTS];
  uint64_t base, next_fetch, next_take;
  unsigned loading;
  bool holding;
  bool stop;

  /* The tap: a second reader of the archive range [tap_pos, tap_end),
   * front to back, holding chunk tap_seq while tap_holding.  No chunk is
   * refetched over until both readers have passed it. */
  bool tap_active, tap_holding;
  uint64_t tap_pos, tap_end, tap_seq;
};

static uint64_t
chunk_off (const struct ferry_readahead *ra, uint64_t seq)
{
  return ra->base + seq * RA_CHUNK;
}

/* Called with the lock held: the first chunk the main reader may still
 * need. */
static uint64_t
main_first (const struct ferry_readahead *ra)
{
  return ra->holding ? ra->next_take - 1 : ra->next_take;
}

/* Called with the lock held: is chunk seq loaded (or failed) in s? */
static bool
slot_done (const struct ra_slot *s, uint64_t seq)
{
  return (s->state == SLOT_READY || s->state == SLOT_FAILED) && s->seq == seq;
}

/* Called with the lock held: a failed slot's error as this thread's. */
static int64_t
slot_error (const struct ra_slot *s)
{
  ferry_error_set_raw (s->err_code, s->err_msg ? s->err_msg : "out of memory");
  return -1;
}

/* Called with the lock held: may a thread claim chunk next_fetch? */
static bool
can_claim (const struct ferry_readahead *ra)
{
  uint64_t first = main_first (ra);
  if (ra->tap_active) {
    uint64_t tap = ra->tap_holding ? ra->tap_seq
                                   : (ra->tap_pos - ra->base) / RA_CHUNK;
    if (tap < first)
      first = tap;
  }
  return ra->next_fetch - first < RA_SLOTS
         && chunk_off (ra, ra->next_fetch) < ra->size;
}

static void *
ra_thread (void *arg)
{
  struct ferry_readahead *ra = arg;

  pthread_mutex_lock (&ra->lock);
  for (;;) {
    while (!ra->stop && !can_claim (ra))
      pthread_cond_wait (&ra->cond, &ra->lock);
    if (ra->stop)
      break;
    uint64_t seq = ra->next_fetch++;
    uint64_t off = chunk_off (ra, seq);
    struct ra_slot *s = &ra->slot[seq % RA_SLOTS];
    size_t n = ra->size - off < RA_CHUNK ? (size_t) (ra->size - off)
                                         : RA_CHUNK;
    s->state = SLOT_LOADING;
    s->seq = seq;
    ra->loading++;
    pthread_mutex_unlock (&ra->lock);

    int r = ferry_transport_pread (ra->t, s->buf, n, off);

    pthread_mutex_lock (&ra->lock);
    ra->loading--;
    s->len = n;
    s->state = r == 0 ? SLOT_READY : SLOT_FAILED;
    free (s->err_msg);
    s->err_msg = r == 0 ? NULL : strdup (ferry_error_msg ());
    s->err_code = ferry_error_code ();
    pthread_cond_broadcast (&ra->cond);
  }
  pthread_mutex_unlock (&ra->lock);
  return NULL;
}

struct ferry_readahead *
ferry_readahead_new (struct ferry_transport *t, uint64_t offset)
{
  struct ferry_readahead *ra = calloc (1, sizeof *ra);
  int64_t size = ferry_transport_size (t);
  int e;

  if (size < 0) {
    free (ra);
    ferry_error (FERRY_E_SYSTEM, "%s: size unknown", t->name);
    return NULL;
  }
  if (!ra)
    goto oom;
  for (int i = 0; i < RA_SLOTS; i++)
    if (!(ra->slot[i].buf = malloc (RA_CHUNK)))
      goto oom;
  ra->t = t;
  ra->size = (uint64_t) size;
  ra->base = offset;
  pthread_mutex_init (&ra->lock, NULL);
  pthread_cond_init (&ra->cond, NULL);
  for (int i = 0; i < RA_THREADS; i++) {
    if ((e = pthread_create (&ra->thread[i], NULL, ra_thread, ra)) != 0) {
      ferry_readahead_free (ra);
      ferry_error_errno (FERRY_E_SYSTEM, e, "cannot start a reading thread");
      return NULL;
    }
    ra->nthreads++;
  }
  return ra;

oom:
  if (ra)
    for (int i = 0; i < RA_SLOTS; i++)
      free (ra->slot[i].buf);
  free (ra);
  ferry_error (FERRY_E_SYSTEM, "out of memory");
  return NULL;
}

int64_t
ferry_readahead_next (struct ferry_readahead *ra, const void **data)
{
  struct ra_slot *s;
  int64_t r;

  pthread_mutex_lock (&ra->lock);
  /* The slot is reused once can_claim allows it: the tap may still
   * need it. */
  if (ra->holding) {
    ra->holding = false;
    pthread_cond_broadcast (&ra->cond);
  }
  if (chunk_off (ra, ra->next_take) >= ra->size) {
    pthread_mutex_unlock (&ra->lock);
    return 0;
  }
  s = &ra->slot[ra->next_take % RA_SLOTS];
  while (!slot_done (s, ra->next_take))
    pthread_cond_wait (&ra->cond, &ra->lock);
  /* A failed chunk is left in place: asking again gives the same error. */
  if (s->state == SLOT_FAILED)
    r = slot_error (s);
  else {
    *data = s->buf;
    r = (int64_t) s->len;
    ra->next_take++;
    ra->holding = true;
  }
  pthread_mutex_unlock (&ra->lock);
  return r;
}

void
ferry_readahead_seek (struct ferry_readahead *ra, uint64_t offset)
{
  pthread_mutex_lock (&ra->lock);
  /* Let the fetches under way finish, then start over at offset. */
  while (ra->loading > 0)
    pthread_cond_wait (&ra->cond, &ra->lock);
  for (int i = 0; i < RA_SLOTS; i++)
    ra->slot[i].state = SLOT_EMPTY;
  ra->holding = false;
  /* A tap cannot follow a jump; its reader gets an error. */
  ra->tap_active = ra->tap_holding = false;
  ra->base = offset;
  ra->next_fetch = ra->next_take = 0;
  pthread_cond_broadcast (&ra->cond);
  pthread_mutex_unlock (&ra->lock);
}

int
ferry_readahead_tap_start (struct ferry_readahead *ra, uint64_t offset,
                           uint64_t len)
{
  int r = -1;

  pthread_mutex_lock (&ra->lock);
  /* Chunks before the main reader's may have been refilled already. */
  if (!ra->tap_active && offset >= chunk_off (ra, main_first (ra))
      && len <= ra->size && offset <= ra->size - len) {
    ra->tap_active = true;
    ra->tap_holding = false;
    ra->tap_pos = offset;
    ra->tap_end = offset + len;
    r = 0;
  }
  pthread_mutex_unlock (&ra->lock);
  return r;
}

int64_t
ferry_readahead_tap_next (struct ferry_readahead *ra, const void **data)
{
  int64_t r;

  pthread_mutex_lock (&ra->lock);
  if (ra->tap_holding) {
    ra->tap_holding = false;
    pthread_cond_broadcast (&ra->cond);
  }
  if (!ra->tap_active || ra->stop) {
    pthread_mutex_unlock (&ra->lock);
    return ferry_error (FERRY_E_SYSTEM, "%s: the second reader of the "
                        "archive was stopped", ra->t->name);
  }
  if (ra->tap_pos == ra->tap_end) {
    ra->tap_active = false;
    pthread_cond_broadcast (&ra->cond);
    pthread_mutex_unlock (&ra->lock);
    return 0;
  }
  uint64_t seq = (ra->tap_pos - ra->base) / RA_CHUNK;
  struct ra_slot *s = &ra->slot[seq % RA_SLOTS];
  while (ra->tap_active && !ra->stop && !slot_done (s, seq))
    pthread_cond_wait (&ra->cond, &ra->lock);
  if (!ra->tap_active || ra->stop)
    r = ferry_error (FERRY_E_SYSTEM, "%s: the second reader of the archive "
                     "was stopped", ra->t->name);
  else if (s->state == SLOT_FAILED)
    r = slot_error (s);
  else {
    uint64_t in = ra->tap_pos - chunk_off (ra, seq);
    uint64_t n = s->len - in;
    if (n > ra->tap_end - ra->tap_pos)
      n = ra->tap_end - ra->tap_pos;
    *data = s->buf + in;
    ra->tap_pos += n;
    ra->tap_seq = seq;
    ra->tap_holding = true;
    r = (int64_t) n;
  }
  pthread_mutex_unlock (&ra->lock);
  return r;
}

void
ferry_readahead_tap_cancel (struct ferry_readahead *ra)
{
  if (!ra)
    return;
  pthread_mutex_lock (&ra->lock);
  if (ra->tap_active) {
    ra->tap_active = ra->tap_holding = false;
    pthread_cond_broadcast (&ra->cond);
  }
  pthread_mutex_unlock (&ra->lock);
}

void
ferry_readahead_free (struct ferry_readahead *ra)
{
  if (!ra)
    return;
  pthread_mutex_lock (&ra->lock);
  ra->stop = true;
  pthread_cond_broadcast (&ra->cond);
  pthread_mutex_unlock (&ra->lock);
  for (int i = 0; i < ra->nthreads; i++)
    pthread_join (ra->thread[i], NULL);
  pthread_mutex_destroy (&ra->lock);
  pthread_cond_destroy (&ra->cond);
  for (int i = 0; i < RA_SLOTS; i++) {
    free (ra->slot[i].buf);
    free (ra->slot[i].err_msg);
  }
  free (ra);
}
