/* ferry: NBD sources (nbd://, nbds://, nbd+unix://) through libnbd.
 *
 * Each copy thread needs its own request in flight, so the transport keeps
 * a small pool of connections when the server allows multi-conn (several
 * connections see the same data), else one connection shared under a
 * lock.  A dropped connection is reopened and the request retried.
 */
#include <errno.h>
#include <libnbd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "importer/transport.h"

#define NBD_MAX_CONNS 8
#define NBD_RETRIES 3

struct conn {
  pthread_mutex_t lock;
  struct nbd_handle *h;
};

struct nbd_priv {
  char *uri;
  int n;
  struct conn c[NBD_MAX_CONNS];
  _Atomic unsigned next;
  int64_t size;
  bool meta; /* base:allocation negotiated */
};

static struct nbd_handle *
nbd_connect (const char *uri, const char *name, bool *meta)
{
  struct nbd_handle *h = nbd_create ();
  if (!h) {
    ferry_error (FERRY_E_SYSTEM, "%s: %s", name, nbd_get_error ());
    return NULL;
  }
  nbd_set_uri_allow_local_file (h, false);
  nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION);
  if (nbd_connect_uri (h, uri) < 0) {
    ferry_error (FERRY_E_INPUT, "%s: %s", name, nbd_get_error ());
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
  nbd_close (c->h);
  c->h = nbd_connect (p->uri, t->name, NULL);
  return c->h ? 0 : -1;
}

static struct conn *
pick (struct nbd_priv *p)
{
  return &p->c[atomic_fetch_add (&p->next, 1) % (unsigned) p->n];
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
  for (int attempt = 0; attempt <= NBD_RETRIES; attempt++) {
    /* Large reads are split: servers limit request sizes (32 MiB is the
     * usual maximum). */
    size_t done = 0;
    while (c->h && done < count) {
      size_t n = count - done > (32u << 20) ? (32u << 20) : count - done;
      if (nbd_pread (c->h, (char *) buf + done, n, offset + done, 0) < 0)
        break;
      done += n;
    }
    if (c->h && done == count) {
      r = 0;
      break;
    }
    ferry_error (FERRY_E_INPUT, "%s: read at offset %llu: %s", t->name,
                 (unsigned long long) (offset + done),
                 c->h ? nbd_get_error () : "not connected");
    /* A server-side I/O error (EIO and friends) will not change on retry;
     * a lost connection may. */
    if (c->h && nbd_aio_is_ready (c->h))
      break;
    if (attempt < NBD_RETRIES) {
      usleep (100000u << attempt);
      reconnect (t, c);
    }
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
  int r;

  *type = FERRY_BS_DATA;
  *len = count;
  if (!p->meta)
    return 0;
  if (count > (1u << 30))
    count = 1u << 30; /* requests carry a 32-bit length */
  c = pick (p);
  pthread_mutex_lock (&c->lock);
  r = c->h ? nbd_block_status (c->h, count, offset,
                               (nbd_extent_callback){ .callback = bs_cb,
                                                      .user_data = &res },
                               0)
           : -1;
  if (r < 0)
    ferry_error (FERRY_E_INPUT, "%s: block status at offset %llu: %s",
                 t->name, (unsigned long long) offset,
                 c->h ? nbd_get_error () : "not connected");
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
      nbd_shutdown (p->c[i].h, 0);
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

/* The URI may hold a TLS PSK file or username; messages name only the
 * scheme, host and export. */
static char *
display_name (const char *uri)
{
  const char *at = strchr (uri, '@');
  const char *q = strchr (uri, '?');
  char *s;
  if (at && (!q || at < q)) {
    const char *scheme_end = strstr (uri, "://");
    if (scheme_end && scheme_end < at) {
      if (asprintf (&s, "%.*s%s", (int) (scheme_end + 3 - uri), uri, at + 1) < 0)
        return NULL;
      if ((q = strchr (s, '?')))
        *(char *) q = 0;
      return s;
    }
  }
  s = strdup (uri);
  if (s && (q = strchr (s, '?')))
    *(char *) q = 0;
  return s;
}

struct ferry_transport *
ferry_nbd_open (const char *uri, unsigned connections)
{
  struct nbd_priv *p = calloc (1, sizeof *p);
  char *name = display_name (uri);
  struct ferry_transport *t = NULL;

  if (!p || !name || !(p->uri = strdup (uri))) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto fail;
  }
  if (connections == 0)
    connections = 4;
  if (connections > NBD_MAX_CONNS)
    connections = NBD_MAX_CONNS;
  pthread_mutex_init (&p->c[0].lock, NULL);
  p->n = 1;
  if (!(p->c[0].h = nbd_connect (uri, name, &p->meta)))
    goto fail;
  p->size = nbd_get_size (p->c[0].h);
  if (p->size < 0) {
    ferry_error (FERRY_E_INPUT, "%s: %s", name, nbd_get_error ());
    goto fail;
  }
  /* More connections only where the server promises they are coherent. */
  if (nbd_can_multi_conn (p->c[0].h) == 1) {
    for (unsigned i = 1; i < connections; i++) {
      pthread_mutex_init (&p->c[i].lock, NULL);
      p->n++;
      if (!(p->c[i].h = nbd_connect (uri, name, NULL)))
        goto fail;
    }
  }
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
