/* ferry: message digests computed in a thread of their own. */
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "importer/hashpipe.h"
#include "importer/readahead.h"

#define HP_BUF (1024 * 1024)
#define HP_BUFS 4

struct hp_slot {
  unsigned char *buf;
  size_t len;
};

struct ferry_hashpipe {
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  /* Slot n % HP_BUFS holds chunk n.  Chunks below done are digested;
   * [done, queued) wait for the thread; chunk queued is being filled. */
  struct hp_slot slot[HP_BUFS];
  unsigned long long queued, done;
  EVP_MD_CTX *ctx[2];
  struct ferry_readahead *tap; /* a member read through a read-ahead tap */
  bool stop;
  bool failed;
  enum ferry_errcode err_code;
  char err_msg[512]; /* empty: a digest update failed */
};

/* Add len bytes to the contexts that are set. */
static bool
update (EVP_MD_CTX *a, EVP_MD_CTX *b, const void *p, size_t len)
{
  return (!a || EVP_DigestUpdate (a, p, len) == 1)
         && (!b || EVP_DigestUpdate (b, p, len) == 1);
}

/* Digest the tapped range; the thread owns the contexts meanwhile. */
static bool
hash_tap (struct ferry_hashpipe *hp, struct ferry_readahead *ra,
          EVP_MD_CTX *a, EVP_MD_CTX *b)
{
  for (;;) {
    const void *p;
    int64_t n = ferry_readahead_tap_next (ra, &p);
    if (n == 0)
      return true;
    if (n < 0) {
      pthread_mutex_lock (&hp->lock);
      hp->err_code = ferry_error_code ();
      snprintf (hp->err_msg, sizeof hp->err_msg, "%s", ferry_error_msg ());
      pthread_mutex_unlock (&hp->lock);
      return false;
    }
    if (!update (a, b, p, (size_t) n)) {
      /* Nobody else would move the tap on. */
      ferry_readahead_tap_cancel (ra);
      return false;
    }
  }
}

static void *
hp_thread (void *arg)
{
  struct ferry_hashpipe *hp = arg;

  pthread_mutex_lock (&hp->lock);
  for (;;) {
    while (hp->done == hp->queued && !hp->tap && !hp->stop)
      pthread_cond_wait (&hp->cond, &hp->lock);
    if (hp->tap) {
      struct ferry_readahead *ra = hp->tap;
      EVP_MD_CTX *a = hp->ctx[0], *b = hp->ctx[1];
      pthread_mutex_unlock (&hp->lock);
      bool ok = hash_tap (hp, ra, a, b);
      pthread_mutex_lock (&hp->lock);
      if (!ok)
        hp->failed = true;
      hp->tap = NULL;
      pthread_cond_broadcast (&hp->cond);
      continue;
    }
    if (hp->done == hp->queued)
      break;
    struct hp_slot *s = &hp->slot[hp->done % HP_BUFS];
    EVP_MD_CTX *a = hp->ctx[0], *b = hp->ctx[1];
    pthread_mutex_unlock (&hp->lock);

    bool ok = update (a, b, s->buf, s->len);

    pthread_mutex_lock (&hp->lock);
    if (!ok)
      hp->failed = true;
    s->len = 0;
    hp->done++;
    pthread_cond_broadcast (&hp->cond);
  }
  pthread_mutex_unlock (&hp->lock);
  return NULL;
}

struct ferry_hashpipe *
ferry_hashpipe_new (void)
{
  struct ferry_hashpipe *hp = calloc (1, sizeof *hp);
  int e;

  if (!hp) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  for (int i = 0; i < HP_BUFS; i++)
    if (!(hp->slot[i].buf = malloc (HP_BUF))) {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto fail;
    }
  pthread_mutex_init (&hp->lock, NULL);
  pthread_cond_init (&hp->cond, NULL);
  if ((e = pthread_create (&hp->thread, NULL, hp_thread, hp)) == 0)
    return hp;
  ferry_error_errno (FERRY_E_SYSTEM, e, "cannot start the hashing thread");
  pthread_mutex_destroy (&hp->lock);
  pthread_cond_destroy (&hp->cond);
fail:
  for (int i = 0; i < HP_BUFS; i++)
    free (hp->slot[i].buf);
  free (hp);
  return NULL;
}

void
ferry_hashpipe_free (struct ferry_hashpipe *hp)
{
  if (!hp)
    return;
  pthread_mutex_lock (&hp->lock);
  hp->stop = true;
  pthread_cond_broadcast (&hp->cond);
  pthread_mutex_unlock (&hp->lock);
  pthread_join (hp->thread, NULL);
  pthread_mutex_destroy (&hp->lock);
  pthread_cond_destroy (&hp->cond);
  for (int i = 0; i < HP_BUFS; i++)
    free (hp->slot[i].buf);
  free (hp);
}

void
ferry_hashpipe_begin (struct ferry_hashpipe *hp, EVP_MD_CTX *a, EVP_MD_CTX *b)
{
  /* The thread is idle here (the previous user waited), so the contexts
   * can be swapped without it noticing half-way. */
  pthread_mutex_lock (&hp->lock);
  hp->ctx[0] = a;
  hp->ctx[1] = b;
  hp->failed = false;
  hp->err_msg[0] = 0;
  pthread_mutex_unlock (&hp->lock);
}

/* Called with the lock held: hand the chunk being filled to the thread. */
static void
submit_locked (struct ferry_hashpipe *hp)
{
  if (hp->slot[hp->queued % HP_BUFS].len == 0)
    return;
  hp->queued++;
  pthread_cond_broadcast (&hp->cond);
}

int
ferry_hashpipe_feed (struct ferry_hashpipe *hp, const void *buf, size_t len)
{
  const unsigned char *p = buf;

  while (len > 0) {
    struct hp_slot *s;
    size_t n;
    bool failed;

    pthread_mutex_lock (&hp->lock);
    /* The slot being filled must not be one the thread still owns. */
    while (hp->queued - hp->done >= HP_BUFS)
      pthread_cond_wait (&hp->cond, &hp->lock);
    failed = hp->failed;
    pthread_mutex_unlock (&hp->lock);
    if (failed)
      return ferry_error (FERRY_E_SYSTEM, "digest update failed");

    s = &hp->slot[hp->queued % HP_BUFS];
    n = HP_BUF - s->len < len ? HP_BUF - s->len : len;
    memcpy (s->buf + s->len, p, n);
    s->len += n;
    p += n;
    len -= n;
    if (s->len == HP_BUF) {
      pthread_mutex_lock (&hp->lock);
      submit_locked (hp);
      pthread_mutex_unlock (&hp->lock);
    }
  }
  return 0;
}

void
ferry_hashpipe_tap (struct ferry_hashpipe *hp, struct ferry_readahead *ra)
{
  pthread_mutex_lock (&hp->lock);
  hp->tap = ra;
  pthread_cond_broadcast (&hp->cond);
  pthread_mutex_unlock (&hp->lock);
}

int
ferry_hashpipe_wait (struct ferry_hashpipe *hp)
{
  bool failed;

  pthread_mutex_lock (&hp->lock);
  submit_locked (hp);
  while (hp->done != hp->queued || hp->tap)
    pthread_cond_wait (&hp->cond, &hp->lock);
  failed = hp->failed;
  hp->ctx[0] = hp->ctx[1] = NULL;
  if (failed && hp->err_msg[0])
    ferry_error_set_raw (hp->err_code, hp->err_msg);
  else if (failed)
    ferry_error (FERRY_E_SYSTEM, "digest update failed");
  pthread_mutex_unlock (&hp->lock);
  return failed ? -1 : 0;
}
