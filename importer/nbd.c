/* ferry: NBD sources (nbd://, nbds://, nbd+unix://) through libnbd.
 *
 * Each copy thread needs its own request in flight, so the transport keeps
 * a small pool of connections when the server allows multi-conn (several
 * connections see the same data), else one connection shared under a
 * lock.  A dropped connection is reopened and the request retried.
 *
 * Requests go out asynchronously, several at once for a large read, and
 * are waited for with a time limit: a server that stops answering without
 * closing its socket counts as a dropped connection.
 */
#include <errno.h>
#include <libnbd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "importer/nbd_io.h"
#include "importer/transport.h"

#define NBD_MAX_CONNS 16
/* Longest wait for the server to see us leave. */
#define NBD_CLOSE_MS 1000

struct conn {
  pthread_mutex_t lock;
  struct nbd_handle *h;   /* NULL after a failed reconnection */
  char why[512];          /* ...and why it failed */
};

struct nbd_priv {
  char *uri;
  int n;
  struct conn c[NBD_MAX_CONNS];
  _Atomic unsigned next;
  int64_t size;
  bool meta;           /* base:allocation negotiated */
  size_t request_size; /* largest single read */
  int retries;
  int timeout_ms;      /* silence that counts as a dead server; 0: none */
  /* A request ran out of retries: the copy is failing, so the other
   * threads stop retrying too instead of each waiting out its own. */
  atomic_bool gave_up;
  const struct ferry_log *log;
};

static unsigned
backoff_ms (int attempt)
{
  /* 0.1 s, 0.2 s, ... capped at 5 s */
  unsigned ms = 100u << (attempt < 6 ? attempt : 6);
  return ms > 5000 ? 5000 : ms;
}

/* libnbd's message for the last error, with the URI (which may hold user
 * info) replaced by its display name. */
static const char *
nbd_error_msg (const char *uri, const char *name, char *buf, size_t len)
{
  const char *e = nbd_get_error ();
  const char *at;
  size_t ul = strlen (uri);
  if (!e)
    e = "unknown error";
  buf[0] = 0;
  while ((at = strstr (e, uri))) {
    snprintf (buf + strlen (buf), len - strlen (buf), "%.*s%s",
              (int) (at - e), e, name);
    e = at + ul;
  }
  snprintf (buf + strlen (buf), len - strlen (buf), "%s", e);
  return buf;
}

static struct nbd_handle *
nbd_connect (const char *uri, const char *name, int timeout_ms, bool *meta)
{
  struct nbd_handle *h = nbd_create ();
  char msg[1024];
  int r;
  if (!h) {
    ferry_error (FERRY_E_SYSTEM, "%s: %s", name,
                 nbd_error_msg (uri, name, msg, sizeof msg));
    return NULL;
  }
  nbd_set_uri_allow_local_file (h, false);
  nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION);
  r = ferry_nbd_connect (h, uri, timeout_ms);
  if (r == FERRY_NBD_TIMEOUT) {
    ferry_error (FERRY_E_INPUT, "%s: cannot connect: the NBD server did not "
                 "answer within %d s", name, timeout_ms / 1000);
    nbd_close (h);
    return NULL;
  }
  if (r < 0) {
    ferry_error (FERRY_E_INPUT, "%s: %s", name,
                 nbd_error_msg (uri, name, msg, sizeof msg));
    nbd_close (h);
    return NULL;
  }
  if (meta)
    *meta = nbd_can_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION) == 1;
  return h;
}

/* Reopen a connection after an error; the caller holds its lock. */
static int
reconnect (struct ferry_transport *t, struct conn *c)
{
  struct nbd_priv *p = t->priv;
  int64_t size;
  if (c->h)
    nbd_close (c->h);
  c->h = nbd_connect (p->uri, t->name, p->timeout_ms, NULL);
  if (!c->h)
    return -1;
  /* The same export still?  At least the same size. */
  size = nbd_get_size (c->h);
  if (size != p->size) {
    nbd_close (c->h);
    c->h = NULL;
    return ferry_error (FERRY_E_INPUT, "%s: the export is %lld bytes after "
                        "reconnecting, %lld before", t->name,
                        (long long) size, (long long) p->size);
  }
  ferry_info (p->log, "%s: reconnected", t->name);
  return 0;
}

/* After a failed request: wait, and reconnect when the connection is gone
 * or the server is shutting down (ESHUTDOWN: a server being restarted
 * answers so until its clients leave).  Another server-side error leaves
 * the connection usable; the request is simply sent again.  The caller
 * holds c->lock. */
static void
recover (struct ferry_transport *t, struct conn *c, int attempt,
         uint64_t offset, int err)
{
  struct nbd_priv *p = t->priv;
  ferry_warn (p->log, "%s; retrying at offset %llu in %.1f s (%d of %d)",
              ferry_error_msg (), (unsigned long long) offset,
              backoff_ms (attempt) / 1000.0, attempt + 1, p->retries);
  if (c->h && (err == ESHUTDOWN || err == ETIMEDOUT
               || nbd_aio_is_ready (c->h) != 1)) {
    /* Leave now, so a server waiting for its clients can go. */
    nbd_close (c->h);
    c->h = NULL;
  }
  usleep (backoff_ms (attempt) * 1000u);
  if (!c->h && reconnect (t, c) < 0) {
    const char *m = ferry_error_msg ();
    size_t nl = strlen (t->name);
    if (strncmp (m, t->name, nl) == 0 && strncmp (m + nl, ": ", 2) == 0)
      m += nl + 2;
    snprintf (c->why, sizeof c->why, "%s", m);
  }
}

static struct conn *
pick (struct nbd_priv *p)
{
  return &p->c[atomic_fetch_add (&p->next, 1) % (unsigned) p->n];
}

/* A request timed out: the server may still answer it some day, into a
 * buffer that is gone by then, so the connection is dropped at once. */
static void
drop_silent (struct nbd_priv *p, struct conn *c)
{
  nbd_close (c->h);
  c->h = NULL;
  snprintf (c->why, sizeof c->why, "the NBD server did not answer within "
            "%d s", p->timeout_ms / 1000);
}

/* Read buf[*done..count) from offset + *done on c: requests of at most
 * request_size, up to FERRY_NBD_MAX_INFLIGHT at a time.  *done grows by
 * what has been read in order.  0, -1 (err and why set) or
 * FERRY_NBD_TIMEOUT (*stuck: the length of the request not answered). */
static int
read_some (struct nbd_priv *p, struct conn *c, char *buf, size_t count,
           uint64_t offset, size_t *done, size_t *stuck, int *err, char *why,
           size_t why_len)
{
  while (*done < count) {
    int64_t cookies[FERRY_NBD_MAX_INFLIGHT];
    size_t lens[FERRY_NBD_MAX_INFLIGHT], n = 0, pos = *done, bad;
    int r;

    while (n < FERRY_NBD_MAX_INFLIGHT && pos < count) {
      size_t len = count - pos > p->request_size ? p->request_size
                                                 : count - pos;
      int64_t ck = nbd_aio_pread (c->h, buf + pos, len, offset + pos,
                                  NBD_NULL_COMPLETION, 0);
      if (ck < 0) {
        if (n > 0)
          break; /* wait for those sent; the next round says why */
        *err = nbd_get_errno ();
        snprintf (why, why_len, "%s", nbd_get_error ());
        return -1;
      }
      cookies[n] = ck;
      lens[n++] = len;
      pos += len;
    }
    r = ferry_nbd_wait (c->h, cookies, n, p->timeout_ms, &bad, err, why,
                        why_len);
    for (size_t i = 0; i < (r == 0 ? n : bad); i++)
      *done += lens[i];
    if (r != 0) {
      *stuck = lens[bad];
      return r;
    }
  }
  return 0;
}

/* After the last attempt: say how many retries there were. */
static void
gave_up (struct nbd_priv *p)
{
  atomic_store (&p->gave_up, true);
  if (p->retries > 0) {
    char *m = strdup (ferry_error_msg ());
    if (m)
      ferry_error (FERRY_E_INPUT, "%s (gave up after %d %s)", m, p->retries,
                   p->retries == 1 ? "retry" : "retries");
    free (m);
  }
}

static int
nbd_tr_pread (struct ferry_transport *t, void *buf, size_t count,
              uint64_t offset)
{
  struct nbd_priv *p = t->priv;
  struct conn *c = pick (p);
  int r = -1;

  if (offset > (uint64_t) p->size || count > (uint64_t) p->size - offset)
    return ferry_error (FERRY_E_INPUT,
                        "%s: read of %zu bytes at offset %llu is past the end "
                        "of the export (size %lld)",
                        t->name, count, (unsigned long long) offset,
                        (long long) p->size);
  pthread_mutex_lock (&c->lock);
  /* Large reads are split: servers limit request sizes.  After a failure
   * the read resumes where it stopped. */
  size_t done = 0;
  for (int attempt = 0;; attempt++) {
    char why[512];
    size_t stuck = 0;
    int err = 0;

    r = c->h ? read_some (p, c, buf, count, offset, &done, &stuck, &err, why,
                          sizeof why)
             : -1;
    if (r == 0)
      break;
    if (r == FERRY_NBD_TIMEOUT) {
      ferry_error (FERRY_E_INPUT, "%s: the NBD server did not answer a read "
                   "of %zu bytes at offset %llu within %d s", t->name, stuck,
                   (unsigned long long) (offset + done),
                   p->timeout_ms / 1000);
      drop_silent (p, c);
    }
    else
      ferry_error (FERRY_E_INPUT, "%s: read at offset %llu: %s", t->name,
                   (unsigned long long) (offset + done),
                   c->h ? why : c->why[0] ? c->why : "not connected");
    r = -1;
    if (attempt >= p->retries || atomic_load (&p->gave_up)) {
      gave_up (p);
      break;
    }
    recover (t, c, attempt, offset + done, err);
  }
  pthread_mutex_unlock (&c->lock);
  return r;
}

static int64_t
nbd_tr_size (struct ferry_transport *t)
{
  return ((struct nbd_priv *) t->priv)->size;
}

struct bs_result {
  uint64_t offset;
  enum ferry_bs_type type;
  uint64_t len;
  bool got;
};

static int
bs_cb (void *opaque, const char *context, uint64_t offset, uint32_t *entries,
       size_t nr, int *error)
{
  struct bs_result *res = opaque;
  (void) error;
  if (strcmp (context, LIBNBD_CONTEXT_BASE_ALLOCATION) != 0 || res->got
      || nr < 2 || offset != res->offset)
    return 0;
  /* Only the first extent matters: the caller asks again for the rest.
   * NBD_STATE_ZERO alone also reads as zeros. */
  res->len = entries[0];
  res->type = entries[1] & (LIBNBD_STATE_HOLE | LIBNBD_STATE_ZERO)
                  ? FERRY_BS_HOLE
                  : FERRY_BS_DATA;
  res->got = true;
  return 0;
}

static int
nbd_tr_block_status (struct ferry_transport *t, uint64_t offset,
                     uint64_t count, enum ferry_bs_type *type, uint64_t *len)
{
  struct nbd_priv *p = t->priv;
  struct conn *c;
  struct bs_result res = { .offset = offset };
  int r = -1;

  *type = FERRY_BS_DATA;
  *len = count;
  if (!p->meta)
    return 0;
  if (count > (1u << 30))
    count = 1u << 30; /* requests carry a 32-bit length */
  c = pick (p);
  pthread_mutex_lock (&c->lock);
  for (int attempt = 0;; attempt++) {
    char why[512];
    int err = 0;
    size_t bad;
    int64_t ck = -1;

    res.got = false;
    if (c->h) {
      ck = nbd_aio_block_status (c->h, count, offset,
                                 (nbd_extent_callback){ .callback = bs_cb,
                                                        .user_data = &res },
                                 NBD_NULL_COMPLETION, 0);
      if (ck < 0) {
        err = nbd_get_errno ();
        snprintf (why, sizeof why, "%s", nbd_get_error ());
      }
    }
    r = ck >= 0 ? ferry_nbd_wait (c->h, &ck, 1, p->timeout_ms, &bad, &err,
                                  why, sizeof why)
                : -1;
    if (r == 0)
      break;
    if (r == FERRY_NBD_TIMEOUT) {
      ferry_error (FERRY_E_INPUT, "%s: the NBD server did not answer a "
                   "block status request at offset %llu within %d s",
                   t->name, (unsigned long long) offset,
                   p->timeout_ms / 1000);
      /* The callback points at this frame: no late answer may reach it. */
      drop_silent (p, c);
    }
    else
      ferry_error (FERRY_E_INPUT, "%s: block status at offset %llu: %s",
                   t->name, (unsigned long long) offset,
                   c->h ? why : c->why[0] ? c->why : "not connected");
    r = -1;
    if (attempt >= p->retries || atomic_load (&p->gave_up)) {
      gave_up (p);
      break;
    }
    recover (t, c, attempt, offset, err);
  }
  pthread_mutex_unlock (&c->lock);
  if (r < 0)
    return -1;
  if (res.got && res.len > 0) {
    *type = res.type;
    *len = res.len < count ? res.len : count;
  }
  return 0;
}

static void
nbd_tr_close (struct ferry_transport *t)
{
  struct nbd_priv *p = t->priv;
  for (int i = 0; i < p->n; i++) {
    if (p->c[i].h) {
      /* A courtesy to the server: never worth a long wait, and none at
       * all for a server that stopped answering. */
      if (!atomic_load (&p->gave_up))
        ferry_nbd_disconnect (p->c[i].h, NBD_CLOSE_MS);
      nbd_close (p->c[i].h);
    }
    pthread_mutex_destroy (&p->c[i].lock);
  }
  free (p->uri);
  free (p);
}

static const struct ferry_transport_ops nbd_ops = {
  .name = "nbd",
  .pread = nbd_tr_pread,
  .size = nbd_tr_size,
  .block_status = nbd_tr_block_status,
  .close = nbd_tr_close,
};

struct ferry_transport *
ferry_nbd_open (const char *uri, unsigned connections)
{
  struct ferry_source_opts o;
  ferry_source_opts_init (&o);
  o.connections = connections;
  return ferry_nbd_open_opts (uri, &o);
}

/* Messages name the URI without user info or query (a TLS PSK file, a
 * user name); only socket= is kept, it says which server. */
struct ferry_transport *
ferry_nbd_open_opts (const char *uri, const struct ferry_source_opts *o)
{
  struct nbd_priv *p = calloc (1, sizeof *p);
  char *name = ferry_source_display (uri);
  struct ferry_transport *t = NULL;
  unsigned connections = o->connections;
  int64_t max_block;

  if (!p || !name || !(p->uri = strdup (uri))) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto fail;
  }
  p->retries = o->retries < 0 ? FERRY_SOURCE_DEFAULT_RETRIES : o->retries;
  p->timeout_ms = ferry_nbd_timeout_ms (o->nbd_timeout);
  p->log = o->log;
  p->request_size = o->nbd_request_size ? (size_t) o->nbd_request_size
                                        : FERRY_NBD_DEFAULT_REQUEST_SIZE;
  if (connections == 0)
    connections = FERRY_SOURCE_DEFAULT_CONNECTIONS;
  if (connections > NBD_MAX_CONNS)
    connections = NBD_MAX_CONNS;
  pthread_mutex_init (&p->c[0].lock, NULL);
  p->n = 1;
  if (!(p->c[0].h = nbd_connect (uri, name, p->timeout_ms, &p->meta)))
    goto fail;
  p->size = nbd_get_size (p->c[0].h);
  if (p->size < 0) {
    ferry_error (FERRY_E_INPUT, "%s: %s", name, nbd_get_error ());
    goto fail;
  }
  /* The server's largest request, when it says. */
  max_block = nbd_get_block_size (p->c[0].h, LIBNBD_SIZE_MAXIMUM);
  if (max_block > 0 && (uint64_t) max_block < p->request_size)
    p->request_size = (size_t) max_block;
  /* More connections only where the server promises they are coherent. */
  if (nbd_can_multi_conn (p->c[0].h) == 1) {
    for (unsigned i = 1; i < connections; i++) {
      pthread_mutex_init (&p->c[i].lock, NULL);
      p->n++;
      if (!(p->c[i].h = nbd_connect (uri, name, p->timeout_ms, NULL)))
        goto fail;
    }
  }
  else if (connections > 1)
    ferry_info (p->log, "%s: the server does not allow multi-conn; using "
                "one connection", name);
  ferry_debug (p->log, "%s: %lld bytes, %d connection%s, block status %s, "
               "requests up to %zu bytes", name, (long long) p->size, p->n,
               p->n == 1 ? "" : "s", p->meta ? "on" : "off",
               p->request_size);
  t = ferry_transport_new (&nbd_ops, name, p);
  if (!t)
    goto fail;
  free (name);
  return t;

fail:
  if (p) {
    for (int i = 0; i < p->n; i++) {
      if (p->c[i].h)
        nbd_close (p->c[i].h);
      pthread_mutex_destroy (&p->c[i].lock);
    }
    free (p->uri);
    free (p);
  }
  free (name);
  return NULL;
}
