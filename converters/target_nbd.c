/* ferry: NBD targets (nbd://, nbds://, nbd+unix://, nbds+unix://) through
 * libnbd.
 *
 * The export is written in place: data with NBD_CMD_WRITE (split at the
 * server's maximum block size), zero ranges with NBD_CMD_WRITE_ZEROES where
 * the server has it (holes allowed) and with written zeros where it does
 * not, and a flush at the end.  Nothing is known about the export's old
 * contents (libnbd has no NBD_INFO_INIT_STATE), so it never starts zeroed
 * and every zero range of the disk is written.
 *
 * The copy engine writes from several threads.  Each connection serves one
 * thread at a time (the requests of a large write are in flight together),
 * so when the server allows multi-conn (every connection sees every other
 * connection's writes, and a flush on one covers all) writes are spread
 * over a small pool of connections.
 *
 * Every request has a time limit (--nbd-timeout): a server that stops
 * answering without closing its socket fails the copy instead of hanging
 * it.  The export is then left unflushed, and the copy is reported
 * partial.
 *
 * The URI may carry TLS material (tls-psk-file, tls-certificates) and a
 * user name; messages name the export without them.
 */
#include <errno.h>
#include <libnbd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "converters/target.h"
#include "importer/nbd_io.h"

#define NBD_TARGET_CONNS 4
#define NBD_DEFAULT_MAX_BLOCK (32u << 20)
/* libnbd refuses requests with a payload above 64 MiB. */
#define NBD_PAYLOAD_LIMIT (64u << 20)
/* Zero requests carry no payload but a 32-bit length; stay well below. */
#define NBD_ZERO_CHUNK (1u << 30)
/* Largest buffer of zeros written where the server cannot zero. */
#define NBD_ZERO_BUF (1u << 20)
/* Time limits for connecting: the first connection, and the extra ones. */
#define NBD_CONNECT_MS 30000
#define NBD_EXTRA_CONNECT_MS 3000
/* A flush may write back everything the server cached: it gets this many
 * times the request time limit. */
#define NBD_FLUSH_TIMEOUT_FACTOR 5
/* Longest wait for the server to see us leave after a failed copy. */
#define NBD_CLOSE_MS 1000

struct nbd_target_priv {
  char *uri;                 /* the full URI, only for connecting */
  char **secrets;            /* values never to appear in messages */
  size_t n_secrets;
  const struct ferry_log *log;
  int n;
  struct nbd_handle *h[NBD_TARGET_CONNS]; /* NULL: dropped after a timeout */
  pthread_mutex_t lock[NBD_TARGET_CONNS];
  _Atomic unsigned next;
  int timeout_ms;            /* 0: no limit */
  atomic_bool timed_out;     /* a request was not answered in time */
  int64_t export_size;
  uint32_t max_block;        /* largest write payload */
  uint32_t min_block;        /* 1 if the server said nothing */
  bool can_zero;
  bool can_flush;
  char *zeros;               /* NBD_ZERO_BUF zeros when !can_zero */
  bool finished;
  bool aborted;
};

static bool
is_nbd_uri (const char *s)
{
  static const char *const schemes[] = { "nbd://", "nbds://", "nbd+unix://",
                                         "nbds+unix://" };
  for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
    if (strncasecmp (s, schemes[i], strlen (schemes[i])) == 0)
      return true;
  return false;
}

/* The URI as messages show it: no user name, and of the query only the
 * socket path (which says which server, and is no secret). */
static char *
display_uri (const char *uri)
{
  const char *scheme_end = strstr (uri, "://");
  const char *q = strchr (uri, '?');
  const char *auth = scheme_end ? scheme_end + 3 : uri;
  const char *at = strchr (auth, '@');
  const char *slash = strchr (auth, '/');
  size_t base_len = q ? (size_t) (q - uri) : strlen (uri);
  char *s = malloc (strlen (uri) + 1);
  size_t len = 0;

  if (!s)
    return NULL;
  /* scheme://[user@]host... : drop "user@" when the '@' is in the
   * authority part. */
  if (at && (!slash || at < slash) && (!q || at < q)) {
    memcpy (s, uri, (size_t) (auth - uri));
    len = (size_t) (auth - uri);
    memcpy (s + len, at + 1, base_len - (size_t) (at + 1 - uri));
    len += base_len - (size_t) (at + 1 - uri);
  }
  else {
    memcpy (s, uri, base_len);
    len = base_len;
  }
  if (q) {
    const char *p = q + 1;
    while (*p) {
      size_t n = strcspn (p, "&");
      if (n > 7 && strncmp (p, "socket=", 7) == 0) {
        s[len++] = '?';
        memcpy (s + len, p, n);
        len += n;
        break;
      }
      p += n;
      if (*p == '&')
        p++;
    }
  }
  s[len] = 0;
  return s;
}

/* Everything in the URI that may be a secret or point at one: the user name
 * and every query value but the socket path. */
static int
collect_secrets (struct nbd_target_priv *p, const char *uri)
{
  const char *scheme_end = strstr (uri, "://");
  const char *q = strchr (uri, '?');
  const char *auth = scheme_end ? scheme_end + 3 : uri;
  const char *at = strchr (auth, '@');
  const char *slash = strchr (auth, '/');
  size_t max = 1;

  for (const char *c = q; c && *c; c++)
    max += *c == '&';
  if (!(p->secrets = calloc (max + 1, sizeof *p->secrets)))
    return -1;
  if (at && (!slash || at < slash) && (!q || at < q) && at > auth)
    if (!(p->secrets[p->n_secrets++] = strndup (auth, (size_t) (at - auth))))
      return -1;
  if (q) {
    const char *c = q + 1;
    while (*c) {
      size_t n = strcspn (c, "&");
      const char *eq = memchr (c, '=', n);
      if (eq && eq + 1 < c + n && strncmp (c, "socket=", 7) != 0)
        if (!(p->secrets[p->n_secrets++]
              = strndup (eq + 1, (size_t) (c + n - (eq + 1)))))
          return -1;
      c += n;
      if (*c == '&')
        c++;
    }
  }
  return 0;
}

/* A libnbd error message with any secret from the URI blanked out (libnbd
 * names the PSK file when it cannot read it, for example).  Writes to buf. */
static const char *
scrub (const struct nbd_target_priv *p, const char *msg, char *buf,
       size_t size)
{
  static const char mask[] = "(hidden)";
  size_t len = 0;

  if (!msg)
    msg = "unknown error";
  while (*msg && len + 1 < size) {
    size_t hit = 0;
    for (size_t i = 0; i < p->n_secrets && !hit; i++) {
      size_t sl = strlen (p->secrets[i]);
      if (sl >= 2 && strncmp (msg, p->secrets[i], sl) == 0)
        hit = sl;
    }
    if (hit) {
      size_t n = sizeof mask - 1 < size - 1 - len ? sizeof mask - 1
                                                  : size - 1 - len;
      memcpy (buf + len, mask, n);
      len += n;
      msg += hit;
    }
    else
      buf[len++] = *msg++;
  }
  buf[len] = 0;
  return buf;
}

/* Set a ferry error from the thread's libnbd error. */
static int
nbd_fail (struct ferry_target *t, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

static int
nbd_fail (struct ferry_target *t, const char *fmt, ...)
{
  struct nbd_target_priv *p = t->priv;
  char what[256], msg[768];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (what, sizeof what, fmt, ap);
  va_end (ap);
  return ferry_error (FERRY_E_OUTPUT, "%s: %s: %s", t->path, what,
                      scrub (p, nbd_get_error (), msg, sizeof msg));
}

static int
pick (struct nbd_target_priv *p)
{
  return (int) (atomic_fetch_add (&p->next, 1) % (unsigned) p->n);
}

static int
check_range (struct ferry_target *t, const char *what, uint64_t count,
             uint64_t offset)
{
  struct nbd_target_priv *p = t->priv;
  uint64_t es = (uint64_t) p->export_size;
  if (offset > es || count > es - offset)
    return ferry_error (FERRY_E_OUTPUT,
                        "%s: %s of %llu bytes at offset %llu is past the end "
                        "of the export (%llu bytes)",
                        t->path, what, (unsigned long long) count,
                        (unsigned long long) offset, (unsigned long long) es);
  return 0;
}

enum nbd_op {
  OP_WRITE,       /* buf */
  OP_ZERO,        /* NBD_CMD_WRITE_ZEROES */
  OP_WRITE_ZEROS, /* zeros written as data */
};

static const char *const op_what[] = { "write", "zeroing", "writing zeros" };

/* The request of op that starts the rest of [offset, offset+count). */
static uint64_t
op_chunk (const struct nbd_target_priv *p, enum nbd_op op, uint64_t count,
          uint64_t offset)
{
  uint64_t n = count;
  switch (op) {
  case OP_WRITE:
    return n < p->max_block ? n : p->max_block;
  case OP_WRITE_ZEROS:
    n = p->max_block < NBD_ZERO_BUF ? p->max_block : NBD_ZERO_BUF;
    return count < n ? count : n;
  case OP_ZERO:
    if (n > NBD_ZERO_CHUNK) {
      /* Keep chunk ends on the server's block boundaries. */
      n = NBD_ZERO_CHUNK;
      n -= (offset + n) % p->min_block;
    }
    return n;
  }
  return n;
}

/* A request timed out: its buffer may still be written to the socket, or
 * the server answer it later; the connection is closed at once and never
 * used again. */
static void
drop_silent (struct nbd_target_priv *p, int i)
{
  nbd_close (p->h[i]);
  p->h[i] = NULL;
  atomic_store (&p->timed_out, true);
}

/* Carry out op on [offset, offset+count) over connection i, the requests
 * of up to FERRY_NBD_MAX_INFLIGHT chunks in flight together. */
static int
run_op (struct ferry_target *t, int i, enum nbd_op op, const char *buf,
        uint64_t count, uint64_t offset)
{
  struct nbd_target_priv *p = t->priv;
  int r = 0;

  pthread_mutex_lock (&p->lock[i]);
  while (count > 0 && r == 0) {
    struct nbd_handle *h = p->h[i];
    int64_t cookies[FERRY_NBD_MAX_INFLIGHT];
    uint64_t offs[FERRY_NBD_MAX_INFLIGHT], lens[FERRY_NBD_MAX_INFLIGHT];
    size_t n = 0, bad;
    char why[512], msg[768];
    int err;

    if (!h) {
      r = ferry_error (FERRY_E_OUTPUT, "%s: %s of %llu bytes at offset %llu: "
                       "the connection was dropped after the server did not "
                       "answer within %d s", t->path, op_what[op],
                       (unsigned long long) op_chunk (p, op, count, offset),
                       (unsigned long long) offset, p->timeout_ms / 1000);
      break;
    }
    while (n < FERRY_NBD_MAX_INFLIGHT && count > 0) {
      uint64_t len = op_chunk (p, op, count, offset);
      int64_t ck;
      if (op == OP_ZERO)
        /* No LIBNBD_CMD_FLAG_NO_HOLE: the server may punch holes. */
        ck = nbd_aio_zero (h, len, offset, NBD_NULL_COMPLETION, 0);
      else
        ck = nbd_aio_pwrite (h, op == OP_WRITE ? buf : p->zeros, len, offset,
                             NBD_NULL_COMPLETION, 0);
      if (ck < 0) {
        if (n > 0)
          break; /* wait for those sent; the next round says why */
        r = nbd_fail (t, "%s of %llu bytes at offset %llu", op_what[op],
                      (unsigned long long) len, (unsigned long long) offset);
        goto out;
      }
      cookies[n] = ck;
      offs[n] = offset;
      lens[n++] = len;
      if (op == OP_WRITE)
        buf += len;
      offset += len;
      count -= len;
    }
    r = ferry_nbd_wait (h, cookies, n, p->timeout_ms, &bad, &err, why,
                        sizeof why);
    if (r == FERRY_NBD_TIMEOUT) {
      ferry_error (FERRY_E_OUTPUT, "%s: the NBD server did not answer a %s "
                   "of %llu bytes at offset %llu within %d s", t->path,
                   op_what[op], (unsigned long long) lens[bad],
                   (unsigned long long) offs[bad], p->timeout_ms / 1000);
      drop_silent (p, i);
    }
    else if (r < 0)
      ferry_error (FERRY_E_OUTPUT, "%s: %s of %llu bytes at offset %llu: %s",
                   t->path, op_what[op], (unsigned long long) lens[bad],
                   (unsigned long long) offs[bad],
                   scrub (p, why, msg, sizeof msg));
    if (r != 0)
      r = -1;
  }
out:
  pthread_mutex_unlock (&p->lock[i]);
  return r;
}

static int
nbd_t_pwrite (struct ferry_target *t, const void *buf, size_t count,
              uint64_t offset)
{
  struct nbd_target_priv *p = t->priv;

  if (check_range (t, "write", count, offset) < 0)
    return -1;
  return run_op (t, pick (p), OP_WRITE, buf, count, offset);
}

static int
nbd_t_zero (struct ferry_target *t, uint64_t offset, uint64_t length)
{
  struct nbd_target_priv *p = t->priv;

  if (length == 0)
    return 0;
  if (check_range (t, "zero range", length, offset) < 0)
    return -1;
  return run_op (t, pick (p), p->can_zero ? OP_ZERO : OP_WRITE_ZEROS, NULL,
                 length, offset);
}

/* Everything written so far durable (incremental sync checkpoints).  With
 * multi-conn a flush on one connection would cover all; flushing each is
 * cheap and also right for a server that does not promise that. */
static int
flush_all (struct ferry_target *t)
{
  struct nbd_target_priv *p = t->priv;
  int timeout_ms = p->timeout_ms * NBD_FLUSH_TIMEOUT_FACTOR;

  if (!p->can_flush)
    return 0;
  for (int i = 0; i < p->n; i++) {
    char why[512], msg[768];
    size_t bad;
    int err, r = -1;
    int64_t ck;

    pthread_mutex_lock (&p->lock[i]);
    if (!p->h[i])
      ferry_error (FERRY_E_OUTPUT, "%s: flush: the connection was dropped "
                   "after the server did not answer within %d s", t->path,
                   p->timeout_ms / 1000);
    else if ((ck = nbd_aio_flush (p->h[i], NBD_NULL_COMPLETION, 0)) < 0)
      nbd_fail (t, "flush");
    else if ((r = ferry_nbd_wait (p->h[i], &ck, 1, timeout_ms, &bad, &err,
                                  why, sizeof why))
             == FERRY_NBD_TIMEOUT) {
      ferry_error (FERRY_E_OUTPUT, "%s: the NBD server did not answer a "
                   "flush within %d s", t->path, timeout_ms / 1000);
      drop_silent (p, i);
    }
    else if (r < 0)
      ferry_error (FERRY_E_OUTPUT, "%s: flush: %s", t->path,
                   scrub (p, why, msg, sizeof msg));
    pthread_mutex_unlock (&p->lock[i]);
    if (r != 0)
      return -1;
  }
  return 0;
}

static int
nbd_t_checkpoint (struct ferry_target *t)
{
  return flush_all (t);
}

static int
nbd_t_finish (struct ferry_target *t)
{
  struct nbd_target_priv *p = t->priv;

  /* A raw stream's size is known only at its end. */
  if (t->size > (uint64_t) p->export_size)
    return ferry_error (FERRY_E_OUTPUT,
                        "%s: export is %lld bytes, smaller than the virtual "
                        "size %llu",
                        t->path, (long long) p->export_size,
                        (unsigned long long) t->size);
  if (flush_all (t) < 0)
    return -1;
  /* A clean disconnect: the server sees every request completed. */
  for (int i = 0; i < p->n; i++) {
    int r;
    if (!p->h[i]) /* dropped after a timeout: the copy has failed */
      return ferry_error (FERRY_E_OUTPUT, "%s: disconnect: the connection "
                          "was dropped after a timeout", t->path);
    r = ferry_nbd_disconnect (p->h[i], p->timeout_ms);
    if (r == FERRY_NBD_TIMEOUT)
      return ferry_error (FERRY_E_OUTPUT, "%s: disconnect: the NBD server "
                          "did not close the connection within %d s",
                          t->path, p->timeout_ms / 1000);
    if (r < 0)
      return nbd_fail (t, "disconnect");
  }
  if (!p->can_flush)
    ferry_warn (p->log, "%s: the server cannot flush; the data is written "
                "but the server did not confirm it is durable", t->path);
  p->finished = true;
  return 0;
}

static void
nbd_t_abort (struct ferry_target *t)
{
  struct nbd_target_priv *p = t->priv;
  if (p->finished || p->aborted)
    return;
  p->aborted = true;
  ferry_warn (p->log, "%s: the copy did not finish; the export holds a "
              "partial copy (nothing can be removed from an NBD export)",
              t->path);
}

static void
free_priv (struct nbd_target_priv *p)
{
  for (int i = 0; i < p->n; i++)
    if (p->h[i])
      nbd_close (p->h[i]);
  for (int i = 0; i < NBD_TARGET_CONNS; i++)
    pthread_mutex_destroy (&p->lock[i]);
  for (size_t i = 0; i < p->n_secrets; i++)
    free (p->secrets[i]);
  free (p->secrets);
  free (p->zeros);
  free (p->uri);
  free (p);
}

static void
nbd_t_close (struct ferry_target *t)
{
  struct nbd_target_priv *p = t->priv;
  if (!p->finished) {
    nbd_t_abort (t);
    /* Tell the server we leave, but do not wait long, and not at all
     * when it stopped answering. */
    for (int i = 0; i < p->n && !atomic_load (&p->timed_out); i++)
      if (p->h[i])
        ferry_nbd_disconnect (p->h[i], NBD_CLOSE_MS);
  }
  free_priv (p);
}

static const struct ferry_target_ops nbd_target_ops = {
  .name = "nbd",
  .checkpoint = nbd_t_checkpoint,
  .pwrite = nbd_t_pwrite,
  .zero = nbd_t_zero,
  .finish = nbd_t_finish,
  .abort = nbd_t_abort,
  .close = nbd_t_close,
};

/* Connect with a time limit: a server that has as many clients as it
 * accepts (qemu-nbd --shared=N) leaves further connections hanging.
 * Returns NULL with the error set. */
static struct nbd_handle *
connect_one (struct ferry_target *t, int timeout_ms)
{
  struct nbd_target_priv *p = t->priv;
  struct nbd_handle *h = nbd_create ();
  char msg[768];
  int r;

  if (!h) {
    ferry_error (FERRY_E_SYSTEM, "%s: %s", t->path,
                 scrub (p, nbd_get_error (), msg, sizeof msg));
    return NULL;
  }
  /* The URI comes from the command line (or a sync state file it wrote),
   * so the files it names (tls-psk-file, tls-certificates) are the user's
   * choice; without this nbds:// with a PSK file could not work. */
  nbd_set_uri_allow_local_file (h, true);
  r = ferry_nbd_connect (h, p->uri, timeout_ms);
  if (r == FERRY_NBD_TIMEOUT) {
    ferry_error (FERRY_E_OUTPUT, "%s: cannot connect: no answer from the "
                 "server in %d s", t->path, timeout_ms / 1000);
    nbd_close (h);
    return NULL;
  }
  if (r < 0) {
    nbd_fail (t, "cannot connect");
    nbd_close (h);
    return NULL;
  }
  return h;
}

/* Ask the first connection what the export is and can do. */
static int
probe (struct ferry_target *t, uint64_t size)
{
  struct nbd_target_priv *p = t->priv;
  struct nbd_handle *h = p->h[0];
  int64_t v;
  int ro;

  if ((p->export_size = nbd_get_size (h)) < 0)
    return nbd_fail (t, "export size");
  if ((ro = nbd_is_read_only (h)) < 0)
    return nbd_fail (t, "export flags");
  if (ro)
    return ferry_error (FERRY_E_OUTPUT,
                        "%s: the export is read-only; ferry needs to write "
                        "to it", t->path);
  if ((uint64_t) p->export_size < size)
    return ferry_error (FERRY_E_OUTPUT,
                        "%s: export is %lld bytes, smaller than the virtual "
                        "size %llu",
                        t->path, (long long) p->export_size,
                        (unsigned long long) size);
  if ((uint64_t) p->export_size > size)
    ferry_info (p->log, "%s: export is %lld bytes, larger than the virtual "
                "size %llu; the bytes after the disk are left as they are",
                t->path, (long long) p->export_size,
                (unsigned long long) size);

  v = nbd_get_block_size (h, LIBNBD_SIZE_MAXIMUM);
  p->max_block = v > 0 ? (uint32_t) (v < NBD_PAYLOAD_LIMIT ? v
                                                           : NBD_PAYLOAD_LIMIT)
                       : NBD_DEFAULT_MAX_BLOCK;
  v = nbd_get_block_size (h, LIBNBD_SIZE_MINIMUM);
  p->min_block = v > 0 && v <= (1 << 16) ? (uint32_t) v : 1;
  v = nbd_get_block_size (h, LIBNBD_SIZE_PREFERRED);
  /* Only a preferred size the copy engine can use as a write unit. */
  t->write_block = v > 0 && v <= p->max_block && !(v & (v - 1))
                       ? (uint32_t) v
                       : 0;
  p->max_block -= p->max_block % p->min_block;
  if (p->max_block == 0)
    p->max_block = p->min_block;
  p->can_zero = nbd_can_zero (h) == 1;
  p->can_flush = nbd_can_flush (h) == 1;
  if (!p->can_zero && !(p->zeros = calloc (1, NBD_ZERO_BUF)))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  /* libnbd 1.14 cannot ask for NBD_INFO_INIT_STATE, so whether the export
   * reads as zeros is unknown: zero ranges are written. */
  t->starts_zeroed = false;
  return 0;
}

struct ferry_target *
ferry_target_nbd_open (const char *uri, uint64_t size,
                       const struct ferry_target_opts *o)
{
  struct ferry_target *t = calloc (1, sizeof *t);
  struct nbd_target_priv *p = calloc (1, sizeof *p);
  int multi;

  if (p)
    for (int i = 0; i < NBD_TARGET_CONNS; i++)
      pthread_mutex_init (&p->lock[i], NULL);

  if (!t || !p || !(t->path = display_uri (uri)) || !(p->uri = strdup (uri))
      || collect_secrets (p, uri) < 0) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto fail;
  }
  t->ops = &nbd_target_ops;
  t->priv = p;
  t->size = size;
  p->log = o->log;
  p->timeout_ms = ferry_nbd_timeout_ms (o->nbd_timeout);

  if (!is_nbd_uri (uri)) {
    ferry_error (FERRY_E_USAGE, "%s: not an NBD URI", t->path);
    goto fail;
  }
  /* The export holds the disk's bytes; its format is the server's
   * business (qemu-nbd -f qcow2 FILE for a qcow2 file). */
  if (o->format && strcasecmp (o->format, "raw") != 0) {
    ferry_error (FERRY_E_USAGE,
                 "%s: --format=%s: an NBD export receives the disk's "
                 "contents; its format is chosen by the server",
                 t->path, o->format);
    goto fail;
  }

  if (!(p->h[0] = connect_one (t, NBD_CONNECT_MS)))
    goto fail;
  p->n = 1;
  if (probe (t, size) < 0)
    goto fail;
  /* More connections only where the server promises they are coherent;
   * a server that lets fewer clients in than we ask for gets fewer. */
  if ((multi = nbd_can_multi_conn (p->h[0])) == 1) {
    for (; p->n < NBD_TARGET_CONNS; p->n++) {
      if (!(p->h[p->n] = connect_one (t, NBD_EXTRA_CONNECT_MS))) {
        const char *why = ferry_error_msg ();
        size_t pl = strlen (t->path);
        if (strncmp (why, t->path, pl) == 0 && strncmp (why + pl, ": ", 2) == 0)
          why += pl + 2;
        ferry_info (p->log, "%s: connection %d of %d: %s; going on with %d",
                    t->path, p->n + 1, NBD_TARGET_CONNS, why, p->n);
        ferry_error_clear ();
        break;
      }
    }
  }
  ferry_info (p->log, "%s: NBD export of %lld bytes, %d connection%s%s, "
              "max request %u, %s", t->path, (long long) p->export_size,
              p->n, p->n == 1 ? "" : "s", multi == 1 ? " (multi-conn)" : "",
              p->max_block,
              p->can_zero ? "write_zeroes" : "zeros written as data");
  return t;

fail:
  if (p)
    free_priv (p);
  if (t)
    free (t->path);
  free (t);
  return NULL;
}
