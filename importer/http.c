/* ferry: HTTP(S) sources through libcurl.
 *
 * Random access by Range requests over a small pool of connections (one
 * request in flight each), with read-ahead so small reads (VMDK metadata,
 * grains) become few large requests.  A transfer that fails on the way
 * (reset, timeout, 5xx) is resumed at the offset reached, with backoff.
 * The validators seen at open (size, ETag, Last-Modified) must not change:
 * a source that changes under us is an error, never a mix of two versions.
 *
 * A server that ignores Range requests (answers 200 with the whole body)
 * still serves formats that can be read front to back: the transport is
 * then sequential, one GET streamed through a curl multi handle, with the
 * first FERRY_SEQ_HEAD bytes kept for probing.  A failed stream is started
 * again and skipped forward to where it broke.  A file small enough to fit
 * the head (a VMDK descriptor) is simply kept whole in memory.
 *
 * TLS is verified by default.  A thumbprint (SHA-1 or SHA-256 of the
 * server certificate, as ESXi shows it) replaces chain verification with
 * an exact match.  Credentials never come from argv: the caller passes
 * them in, read from a file or the environment, and no message carries
 * them (names are URLs without user info or query).
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "importer/http.h"
#include "importer/seqread.h"
#include "importer/transport.h"

#define HTTP_MAX_CONNS 16
/* Small reads (grains of a compressed VMDK, tables, headers) are served
 * from blocks of the file this large, aligned to their size, fetched once
 * and shared by all threads.  Aligned blocks never overlap, so nothing is
 * fetched twice while it is cached, and a thread wanting a block another
 * is fetching waits for it instead of asking the server again. */
#define HTTP_BLOCK (4u * 1024 * 1024)
#define HTTP_BLOCK_SLOTS 12
/* Reads at least this large are fetched as asked, without the block cache
 * (the copy engine's requests). */
#define HTTP_DIRECT (1024u * 1024)
/* Sequential mode: pause the transfer when this much is buffered. */
#define HTTP_SEQ_BUF_MAX (8u * 1024 * 1024)

/* Certificate pinning state of one handle. */
struct pin {
  const char *want; /* lower-case hex without separators, or NULL */
  bool mismatch;    /* the last handshake saw another certificate */
  char seen[3 * EVP_MAX_MD_SIZE + 1]; /* its fingerprint, AA:BB:... */
};

struct hconn {
  pthread_mutex_t lock;
  CURL *curl;
  struct pin pin;
};

/* A block whose fetch failed keeps the error, so threads waiting for it
 * (and later reads of it) report that failure instead of each retrying
 * the server again. */
enum block_state { BLOCK_EMPTY, BLOCK_LOADING, BLOCK_READY, BLOCK_FAILED };

struct block {
  enum block_state state;
  uint64_t index; /* offset / HTTP_BLOCK */
  uint64_t stamp; /* last use, for LRU */
  unsigned users; /* threads copying out of it or waiting for it */
  size_t len;
  char *data;
  enum ferry_errcode err_code; /* BLOCK_FAILED */
  char *err_msg;
};

struct block_cache {
  pthread_mutex_t lock;
  pthread_cond_t done; /* a block finished loading (or failed) */
  uint64_t clock;
  struct block b[HTTP_BLOCK_SLOTS];
};

struct http_shared {
  _Atomic int refs; /* siblings share options */
  struct ferry_http_opts o;
  char *user, *password, *cookie;
  char *url_password; /* user:PASSWORD@ of the URL, to keep out of messages */
};

/* One request's receiving state. */
struct xfer {
  CURL *curl;
  char *buf;
  size_t want;
  size_t got;
  bool checked;     /* status looked at (first body bytes) */
  bool store;       /* the status is one whose body is the data */
  char etag[256];
  char last_modified[128];
  char content_range[128];
  int64_t content_length;
};

/* Sequential mode: one streamed GET. */
struct hseq {
  pthread_mutex_t lock;
  CURLM *multi;
  bool active;     /* a transfer is in the multi handle */
  bool finished;   /* ... and it has ended (rc, status valid) */
  bool paused;
  CURLcode rc;
  long status;
  bool changed;    /* validators differ from those seen at open */
  struct xfer x;   /* headers of the current response */
  char errbuf[CURL_ERROR_SIZE];
  char *buf;       /* received, not yet consumed: buf[off, len) */
  size_t off, len, cap;
  uint64_t body_pos; /* body bytes of the current response consumed */
  uint64_t pos;      /* stream position reached */
  size_t head_len;
  unsigned char head[FERRY_SEQ_HEAD];
};

struct http_priv {
  char *url;
  struct http_shared *sh;
  int64_t size;
  char etag[256];
  char last_modified[128];
  char *whole; /* the whole (small) file, when the server ignores Range */
  char *head;  /* the first bytes, read when the file was opened */
  size_t head_len;
  struct block_cache bc;
  int n;
  struct hconn c[HTTP_MAX_CONNS];
  _Atomic unsigned next;
  struct hseq *seq; /* sequential mode */
};

static const struct ferry_log *
logger (const struct http_shared *sh)
{
  return sh->o.log;
}

static size_t
write_cb (char *data, size_t size, size_t nmemb, void *opaque)
{
  struct xfer *x = opaque;
  size_t n = size * nmemb;
  size_t room = x->want - x->got;

  /* The body of an error answer (503 page) is not data. */
  if (!x->checked) {
    long status = 0;
    curl_easy_getinfo (x->curl, CURLINFO_RESPONSE_CODE, &status);
    x->store = status == 200 || status == 206;
    x->checked = true;
  }
  if (!x->store || !x->buf)
    return n;
  memcpy (x->buf + x->got, data, n < room ? n : room);
  x->got += n < room ? n : room;
  /* More than asked means the server ignored the range; keep what fits
   * and stop: do not download a whole disk by mistake. */
  if (n > room)
    return 0;
  return n;
}

static void
header_value (const char *line, size_t len, const char *name, char *out,
              size_t outlen)
{
  size_t nl = strlen (name);
  if (len <= nl || strncasecmp (line, name, nl) != 0)
    return;
  line += nl;
  len -= nl;
  while (len && (*line == ' ' || *line == '\t')) {
    line++;
    len--;
  }
  while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'
                 || line[len - 1] == ' '))
    len--;
  if (len >= outlen)
    len = outlen - 1;
  memcpy (out, line, len);
  out[len] = 0;
}

static size_t
header_cb (char *data, size_t size, size_t nmemb, void *opaque)
{
  struct xfer *x = opaque;
  size_t n = size * nmemb;
  char cl[32] = "";
  /* A new status line (redirects, 100-continue) resets what we saw. */
  if (n >= 5 && strncmp (data, "HTTP/", 5) == 0) {
    x->etag[0] = x->last_modified[0] = x->content_range[0] = 0;
    x->content_length = -1;
  }
  header_value (data, n, "etag:", x->etag, sizeof x->etag);
  header_value (data, n, "last-modified:", x->last_modified,
                sizeof x->last_modified);
  header_value (data, n, "content-range:", x->content_range,
                sizeof x->content_range);
  header_value (data, n, "content-length:", cl, sizeof cl);
  if (cl[0])
    x->content_length = strtoll (cl, NULL, 10);
  return n;
}

/* Thumbprint check: compare the leaf certificate's digest. */
static int
cert_verify_cb (X509_STORE_CTX *ctx, void *arg)
{
  struct pin *pin = arg;
  X509 *cert = X509_STORE_CTX_get0_cert (ctx);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen;
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  const EVP_MD *alg = strlen (pin->want) == 40 ? EVP_sha1 () : EVP_sha256 ();

  if (!cert || X509_digest (cert, alg, md, &mdlen) != 1) {
    X509_STORE_CTX_set_error (ctx, X509_V_ERR_UNSPECIFIED);
    return 0;
  }
  for (unsigned i = 0; i < mdlen; i++) {
    sprintf (hex + 2 * i, "%02x", md[i]);
    sprintf (pin->seen + 3 * i, "%02X%s", md[i], i + 1 < mdlen ? ":" : "");
  }
  if (strcmp (hex, pin->want) != 0) {
    pin->mismatch = true;
    X509_STORE_CTX_set_error (ctx, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  pin->mismatch = false;
  return 1;
}

static CURLcode
ssl_ctx_cb (CURL *curl, void *sslctx, void *arg)
{
  (void) curl;
  SSL_CTX_set_cert_verify_callback (sslctx, cert_verify_cb, arg);
  return CURLE_OK;
}

/* The host part of url, for binding the session cookie to it. */
static char *
url_host (const char *url)
{
  CURLU *u = curl_url ();
  char *h = NULL, *out = NULL;
  if (u && curl_url_set (u, CURLUPART_URL, url, 0) == CURLUE_OK
      && curl_url_get (u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
    out = strdup (h);
    curl_free (h);
  }
  curl_url_cleanup (u);
  return out;
}

/* The cookie goes into curl's cookie engine bound to the source's host (a
 * plain Cookie header would follow redirects to other hosts). */
static int
add_cookies (CURL *h, const char *url, const char *cookies)
{
  char *host = url_host (url);
  char *copy = strdup (cookies);
  char *save = NULL;
  int r = 0;

  if (!host || !copy) {
    free (host);
    free (copy);
    return -1;
  }
  for (char *tok = strtok_r (copy, ";", &save); tok;
       tok = strtok_r (NULL, ";", &save)) {
    char *eq, *line;
    while (*tok == ' ' || *tok == '\t')
      tok++;
    if (!(eq = strchr (tok, '=')) || eq == tok)
      continue;
    *eq = 0;
    /* Netscape format: domain, tailmatch, path, secure, expires, name,
     * value; expires 0 is a session cookie. */
    if (asprintf (&line, "%s\tFALSE\t/\tFALSE\t0\t%s\t%s", host, tok,
                  eq + 1) < 0) {
      r = -1;
      break;
    }
    curl_easy_setopt (h, CURLOPT_COOKIELIST, line);
    explicit_bzero (line, strlen (line));
    free (line);
  }
  explicit_bzero (copy, strlen (cookies));
  free (copy);
  free (host);
  return r;
}

static int
setup_handle (CURL *h, struct pin *pin, struct http_shared *sh,
              const char *url)
{
  const struct ferry_http_opts *o = &sh->o;
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt (h, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT, 30L);
  /* A stalled transfer (under 1 KiB/s for the timeout) counts as failed
   * and is retried. */
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_TIME,
                    (long) (o->timeout ? o->timeout : 60));
  curl_easy_setopt (h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (h, CURLOPT_COOKIEFILE, ""); /* keep session cookies */
  curl_easy_setopt (h, CURLOPT_USERAGENT, "ferry");
  /* Bodies are megabytes: curl's default 16 KiB receive buffer means a
   * system call and a callback for every 16 KiB.  2 MiB took an OVA over
   * HTTP about 3% less time than 512 KiB (fewer receive calls and
   * wake-ups); libcurl before 7.88 refuses more than 512 KiB. */
  if (curl_easy_setopt (h, CURLOPT_BUFFERSIZE, 2048L * 1024) != CURLE_OK)
    curl_easy_setopt (h, CURLOPT_BUFFERSIZE, 512L * 1024);
  /* Proxies: libcurl reads http_proxy, https_proxy, all_proxy and
   * no_proxy from the environment; nothing here overrides them. */
  if (o->cacert)
    curl_easy_setopt (h, CURLOPT_CAINFO, o->cacert);
  if (o->insecure) {
    curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  else if (o->thumbprint) {
    /* The pin replaces the chain check (ESXi certificates are usually
     * self-signed); the host name is then irrelevant too. */
    pin->want = o->thumbprint;
    curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt (h, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
    curl_easy_setopt (h, CURLOPT_SSL_CTX_DATA, pin);
  }
  if (sh->user) {
    curl_easy_setopt (h, CURLOPT_USERNAME, sh->user);
    curl_easy_setopt (h, CURLOPT_PASSWORD, sh->password ? sh->password : "");
    curl_easy_setopt (h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
  }
  if (sh->cookie && add_cookies (h, url, sh->cookie) < 0)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  return 0;
}

static bool
retryable (CURLcode rc, long status)
{
  if (rc == CURLE_OK)
    return status >= 500 || status == 429 || status == 408;
  switch (rc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_PARTIAL_FILE:
  case CURLE_GOT_NOTHING:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    return true;
  default:
    return false;
  }
}

static unsigned
backoff_ms (int attempt)
{
  /* 0.2 s, 0.4 s, ... capped at 10 s */
  unsigned ms = 200u << (attempt < 6 ? attempt : 6);
  return ms > 10000 ? 10000 : ms;
}

/* Remove every occurrence of secret from msg (defence in depth: curl's
 * own messages should never hold it). */
static void
scrub (char *msg, const char *secret)
{
  size_t sl = secret ? strlen (secret) : 0;
  char *p;
  if (sl < 3)
    return;
  while ((p = strstr (msg, secret))) {
    memcpy (p, "***", 3);
    memmove (p + 3, p + sl, strlen (p + sl) + 1);
  }
}

/* What a failed curl call means, for the user. */
static const char *
describe_failure (struct http_shared *sh, struct pin *pin, CURLcode rc,
                  char *errbuf, char *out, size_t outlen)
{
  const char *e = errbuf[0] ? errbuf : curl_easy_strerror (rc);
  if (pin && pin->mismatch)
    snprintf (out, outlen, "the server's certificate has the %s "
              "fingerprint %s, not the one given with --thumbprint",
              strlen (pin->want) == 40 ? "SHA-1" : "SHA-256", pin->seen);
  else if (rc == CURLE_PEER_FAILED_VERIFICATION)
    snprintf (out, outlen, "%s (the server's certificate could not be "
              "verified: give its CA with --cacert=FILE, pin it with "
              "--thumbprint=HEX, or skip verification with --insecure)", e);
  else if (rc == CURLE_SSL_CACERT_BADFILE)
    snprintf (out, outlen, "%s (check --cacert)", e);
  else
    snprintf (out, outlen, "%s", e);
  scrub (out, sh->password);
  scrub (out, sh->url_password);
  return out;
}

static const char *
status_hint (long status)
{
  switch (status) {
  case 401: return " Unauthorized (check --user and the password, or the "
                   "session cookie)";
  case 403: return " Forbidden";
  case 404: return " Not Found";
  case 407: return " Proxy Authentication Required";
  case 416: return " Range Not Satisfiable";
  default: return "";
  }
}

/* The same object still?  Only validators the server gave are compared. */
static int
check_validators (struct ferry_transport *t, const struct xfer *x)
{
  struct http_priv *p = t->priv;
  if (p->etag[0] && x->etag[0] && strcmp (p->etag, x->etag) != 0)
    return ferry_error (FERRY_E_INPUT,
                        "%s: changed during the transfer (ETag was %s, now "
                        "%s); start again",
                        t->name, p->etag, x->etag);
  if (p->last_modified[0] && x->last_modified[0]
      && strcmp (p->last_modified, x->last_modified) != 0)
    return ferry_error (FERRY_E_INPUT,
                        "%s: changed during the transfer (Last-Modified was "
                        "%s, now %s); start again",
                        t->name, p->last_modified, x->last_modified);
  if (x->content_range[0]) {
    const char *slash = strchr (x->content_range, '/');
    if (slash && slash[1] != '*' && strtoll (slash + 1, NULL, 10) != p->size)
      return ferry_error (FERRY_E_INPUT,
                          "%s: size changed during the transfer (was %lld, "
                          "now %s); start again",
                          t->name, (long long) p->size, slash + 1);
  }
  return 0;
}

static void
retry_note (struct ferry_transport *t, const char *why, uint64_t offset,
            int attempt, int retries)
{
  struct http_priv *p = t->priv;
  ferry_warn (logger (p->sh), "%s: %s at offset %llu; retrying in %.1f s "
              "(%d of %d)", t->name, why, (unsigned long long) offset,
              backoff_ms (attempt) / 1000.0, attempt + 1, retries);
  usleep (backoff_ms (attempt) * 1000u);
}

/* Fetch exactly count bytes at offset into buf with one connection,
 * resuming after failures. */
static int
fetch (struct ferry_transport *t, struct hconn *c, char *buf, size_t count,
       uint64_t offset)
{
  struct http_priv *p = t->priv;
  int retries = p->sh->o.retries;
  size_t done = 0;
  char range[64];
  char errbuf[CURL_ERROR_SIZE];
  char why[CURL_ERROR_SIZE + 256];

  for (int attempt = 0;; attempt++) {
    struct xfer x = { .curl = c->curl, .buf = buf + done,
                      .want = count - done, .content_length = -1 };
    long status = 0;
    CURLcode rc;

    snprintf (range, sizeof range, "%llu-%llu",
              (unsigned long long) (offset + done),
              (unsigned long long) (offset + count - 1));
    errbuf[0] = 0;
    c->pin.mismatch = false;
    curl_easy_setopt (c->curl, CURLOPT_URL, p->url);
    curl_easy_setopt (c->curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt (c->curl, CURLOPT_RANGE, range);
    curl_easy_setopt (c->curl, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt (c->curl, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt (c->curl, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt (c->curl, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt (c->curl, CURLOPT_ERRORBUFFER, errbuf);
    rc = curl_easy_perform (c->curl);
    curl_easy_getinfo (c->curl, CURLINFO_RESPONSE_CODE, &status);
    ferry_debug (logger (p->sh), "%s: GET bytes=%s: status %ld, %zu bytes%s%s",
                 t->name, range, status, x.got, rc ? ", " : "",
                 rc ? curl_easy_strerror (rc) : "");

    if (status == 206) {
      if (check_validators (t, &x) < 0)
        return -1;
      if (!x.content_range[0]
          || strtoull (x.content_range + strcspn (x.content_range,
                                                  "0123456789"),
                       NULL, 10)
                 != offset + done)
        return ferry_error (FERRY_E_INPUT,
                            "%s: server answered range %s with '%s'",
                            t->name, range, x.content_range);
      done += x.got;
    }
    else if (status == 200) {
      /* The range was honoured when the file was opened; a server that
       * stops honouring it is not one to mix answers from. */
      return ferry_error (FERRY_E_INPUT,
                          "%s: server stopped supporting Range requests "
                          "(answered 200 to range %s)",
                          t->name, range);
    }

    if (done >= count)
      return 0;
    /* A complete answer shorter than asked (a server that caps ranges):
     * ask for the rest, this is progress, not a failure. */
    if (rc == CURLE_OK && status == 206 && x.got > 0) {
      attempt = -1;
      continue;
    }
    if (rc == CURLE_OK && status >= 400 && !retryable (rc, status))
      return ferry_error (FERRY_E_INPUT, "%s: HTTP status %ld%s at offset "
                          "%llu", t->name, status, status_hint (status),
                          (unsigned long long) (offset + done));
    if (rc != CURLE_OK && !retryable (rc, status))
      return ferry_error (FERRY_E_INPUT, "%s: %s", t->name,
                          describe_failure (p->sh, &c->pin, rc, errbuf, why,
                                            sizeof why));
    if (rc == CURLE_OK && status < 400)
      snprintf (why, sizeof why, "unexpected HTTP status %ld", status);
    else if (rc == CURLE_OK)
      snprintf (why, sizeof why, "HTTP status %ld", status);
    else
      describe_failure (p->sh, &c->pin, rc, errbuf, why, sizeof why);
    if (attempt >= retries)
      return ferry_error (FERRY_E_INPUT,
                          "%s: giving up after %d %s at offset %llu: %s",
                          t->name, retries, retries == 1 ? "retry" : "retries",
                          (unsigned long long) (offset + done), why);
    retry_note (t, why, offset + done, attempt, retries);
  }
}

/* A connection for one request: a free one if there is, else the next in
 * turn (waiting for it).  Returned locked. */
static struct hconn *
take_conn (struct http_priv *p)
{
  unsigned start = atomic_fetch_add (&p->next, 1) % (unsigned) p->n;
  for (int i = 0; i < p->n; i++) {
    struct hconn *c = &p->c[(start + (unsigned) i) % (unsigned) p->n];
    if (pthread_mutex_trylock (&c->lock) == 0)
      return c;
  }
  pthread_mutex_lock (&p->c[start].lock);
  return &p->c[start];
}

/* Find block index in the cache, or claim the least recently used free
 * slot for it (the caller loads it).  Called with bc->lock held; returns
 * NULL when every slot is in use (the caller waits). */
static struct block *
block_lookup (struct block_cache *bc, uint64_t index, bool *claimed)
{
  struct block *victim = NULL;

  *claimed = false;
  for (int i = 0; i < HTTP_BLOCK_SLOTS; i++) {
    struct block *b = &bc->b[i];
    if (b->state != BLOCK_EMPTY && b->index == index)
      return b;
    if (b->users == 0 && b->state != BLOCK_LOADING
        && (!victim || victim->state != BLOCK_EMPTY)
        && (!victim || b->state == BLOCK_EMPTY || b->stamp < victim->stamp))
      victim = b;
  }
  if (victim) {
    victim->state = BLOCK_LOADING;
    victim->index = index;
    victim->len = 0;
    *claimed = true;
  }
  return victim;
}

/* Copy [offset, offset + count) out of one block, loading it first if no
 * thread has. */
static int
block_read (struct ferry_transport *t, char *buf, size_t count,
            uint64_t offset)
{
  struct http_priv *p = t->priv;
  struct block_cache *bc = &p->bc;
  uint64_t index = offset / HTTP_BLOCK;
  uint64_t start = index * HTTP_BLOCK;
  struct block *b;
  bool claimed;
  int r = 0;

  pthread_mutex_lock (&bc->lock);
  for (;;) {
    b = block_lookup (bc, index, &claimed);
    if (!b) { /* all slots busy: rare, with more threads than slots */
      pthread_cond_wait (&bc->done, &bc->lock);
      continue;
    }
    if (claimed || b->state == BLOCK_READY)
      break;
    if (b->state == BLOCK_FAILED) {
      ferry_error_set_raw (b->err_code, b->err_msg ? b->err_msg
                                                   : "out of memory");
      pthread_mutex_unlock (&bc->lock);
      return -1;
    }
    b->users++;
    while (b->state == BLOCK_LOADING && b->index == index)
      pthread_cond_wait (&bc->done, &bc->lock);
    b->users--;
  }
  b->users++;
  b->stamp = ++bc->clock;

  if (claimed) {
    size_t n = HTTP_BLOCK;
    struct hconn *c;
    if ((uint64_t) p->size - start < n)
      n = (size_t) ((uint64_t) p->size - start);
    pthread_mutex_unlock (&bc->lock);
    if (!b->data && !(b->data = malloc (HTTP_BLOCK)))
      r = ferry_error (FERRY_E_SYSTEM, "out of memory");
    else {
      c = take_conn (p);
      r = fetch (t, c, b->data, n, start);
      pthread_mutex_unlock (&c->lock);
    }
    pthread_mutex_lock (&bc->lock);
    b->state = r == 0 ? BLOCK_READY : BLOCK_FAILED;
    b->len = r == 0 ? n : 0;
    free (b->err_msg);
    b->err_msg = r == 0 ? NULL : strdup (ferry_error_msg ());
    b->err_code = ferry_error_code ();
    pthread_cond_broadcast (&bc->done);
  }
  if (r == 0) {
    pthread_mutex_unlock (&bc->lock);
    memcpy (buf, b->data + (offset - start), count);
    pthread_mutex_lock (&bc->lock);
  }
  b->users--;
  if (b->users == 0)
    pthread_cond_broadcast (&bc->done);
  pthread_mutex_unlock (&bc->lock);
  return r;
}

static int
cached_read (struct ferry_transport *t, char *buf, size_t count,
             uint64_t offset)
{
  while (count > 0) {
    size_t n = HTTP_BLOCK - (size_t) (offset % HTTP_BLOCK);
    if (n > count)
      n = count;
    if (block_read (t, buf, n, offset) < 0)
      return -1;
    buf += n;
    offset += n;
    count -= n;
  }
  return 0;
}

static int
http_pread (struct ferry_transport *t, void *buf, size_t count,
            uint64_t offset)
{
  struct http_priv *p = t->priv;
  struct hconn *c;
  int r = 0;

  if (offset > (uint64_t) p->size || count > (uint64_t) p->size - offset)
    return ferry_error (FERRY_E_INPUT,
                        "%s: read of %zu bytes at offset %llu is past the end "
                        "(size %lld)",
                        t->name, count, (unsigned long long) offset,
                        (long long) p->size);
  if (count == 0)
    return 0;
  if (p->whole) {
    memcpy (buf, p->whole + offset, count);
    return 0;
  }
  if (offset + count <= p->head_len) {
    memcpy (buf, p->head + offset, count);
    return 0;
  }
  if (count < HTTP_DIRECT)
    return cached_read (t, buf, count, offset);

  c = take_conn (p);
  r = fetch (t, c, buf, count, offset);
  pthread_mutex_unlock (&c->lock);
  return r;
}

static int64_t
http_size (struct ferry_transport *t)
{
  return ((struct http_priv *) t->priv)->size;
}

/* ---- sequential mode ---- */

static size_t
seq_write_cb (char *data, size_t size, size_t nmemb, void *opaque)
{
  struct ferry_transport *t = opaque;
  struct http_priv *p = t->priv;
  struct hseq *s = p->seq;
  size_t n = size * nmemb;

  if (!s->x.checked) {
    long status = 0;
    curl_easy_getinfo (p->c[0].curl, CURLINFO_RESPONSE_CODE, &status);
    s->x.checked = true;
    s->x.store = status == 200;
    s->status = status;
    if (s->x.store
        && ((p->etag[0] && s->x.etag[0] && strcmp (p->etag, s->x.etag))
            || (p->last_modified[0] && s->x.last_modified[0]
                && strcmp (p->last_modified, s->x.last_modified))
            || (s->x.content_length >= 0 && s->x.content_length != p->size))) {
      s->changed = true;
      return 0;
    }
  }
  if (!s->x.store)
    return 0; /* an error page: stop, the status says what happened */
  if (s->off == s->len)
    s->off = s->len = 0;
  if (s->len + n > s->cap) {
    size_t cap = s->cap ? s->cap : 256 * 1024;
    char *b;
    if (s->len > 0 && s->len + n > HTTP_SEQ_BUF_MAX) {
      s->paused = true;
      return CURL_WRITEFUNC_PAUSE;
    }
    while (cap < s->len + n)
      cap *= 2;
    if (!(b = realloc (s->buf, cap)))
      return 0;
    s->buf = b;
    s->cap = cap;
  }
  memcpy (s->buf + s->len, data, n);
  s->len += n;
  return n;
}

static void
seq_stop (struct ferry_transport *t)
{
  struct http_priv *p = t->priv;
  struct hseq *s = p->seq;
  if (s->active)
    curl_multi_remove_handle (s->multi, p->c[0].curl);
  s->active = s->finished = s->paused = false;
  s->off = s->len = 0;
}

static int
seq_start (struct ferry_transport *t)
{
  struct http_priv *p = t->priv;
  struct hseq *s = p->seq;
  CURL *h = p->c[0].curl;

  memset (&s->x, 0, sizeof s->x);
  s->x.curl = h;
  s->x.content_length = -1;
  s->errbuf[0] = 0;
  s->changed = false;
  s->status = 0;
  s->rc = CURLE_OK;
  s->body_pos = 0;
  p->c[0].pin.mismatch = false;
  curl_easy_setopt (h, CURLOPT_URL, p->url);
  curl_easy_setopt (h, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt (h, CURLOPT_RANGE, NULL);
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, seq_write_cb);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, t);
  curl_easy_setopt (h, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt (h, CURLOPT_HEADERDATA, &s->x);
  curl_easy_setopt (h, CURLOPT_ERRORBUFFER, s->errbuf);
  if (curl_multi_add_handle (s->multi, h) != CURLM_OK)
    return ferry_error (FERRY_E_SYSTEM, "%s: curl_multi_add_handle failed",
                        t->name);
  ferry_debug (logger (p->sh), "%s: GET (whole body, front to back)",
               t->name);
  s->active = true;
  return 0;
}

/* Let the transfer run until it has data for us or it ends. */
static int
seq_pump (struct ferry_transport *t)
{
  struct http_priv *p = t->priv;
  struct hseq *s = p->seq;
  int running, left;
  CURLMsg *m;
  CURLMcode mc;

  if (s->paused) {
    s->paused = false;
    curl_easy_pause (p->c[0].curl, CURLPAUSE_CONT);
  }
  mc = curl_multi_perform (s->multi, &running);
  if (mc != CURLM_OK)
    return ferry_error (FERRY_E_INPUT, "%s: %s", t->name,
                        curl_multi_strerror (mc));
  while ((m = curl_multi_info_read (s->multi, &left)))
    if (m->msg == CURLMSG_DONE) {
      s->finished = true;
      s->rc = m->data.result;
      curl_easy_getinfo (p->c[0].curl, CURLINFO_RESPONSE_CODE, &s->status);
    }
  if (!s->finished && s->off == s->len && !s->paused)
    curl_multi_poll (s->multi, NULL, 0, 1000, NULL);
  return 0;
}

/* Read up to count bytes of the body at the stream position; 0 at its
 * end.  A broken transfer is started again and skipped forward. */
static int64_t
seq_body_read (struct ferry_transport *t, char *out, size_t count)
{
  struct http_priv *p = t->priv;
  struct hseq *s = p->seq;
  int retries = p->sh->o.retries;
  char why[CURL_ERROR_SIZE + 256];

  for (int attempt = 0;;) {
    if (!s->active && seq_start (t) < 0)
      return -1;
    if (s->off < s->len) {
      size_t n = s->len - s->off;
      if (s->body_pos < s->pos) {
        if (n > s->pos - s->body_pos)
          n = (size_t) (s->pos - s->body_pos);
        s->off += n;
        s->body_pos += n;
        continue;
      }
      if (n > count)
        n = count;
      memcpy (out, s->buf + s->off, n);
      s->off += n;
      s->body_pos += n;
      s->pos += n;
      return (int64_t) n;
    }
    if (!s->finished) {
      if (seq_pump (t) < 0)
        return -1;
      continue;
    }
    /* The transfer ended and everything it brought is consumed. */
    if (s->changed) {
      struct xfer x = s->x;
      x.content_range[0] = 0;
      seq_stop (t);
      if (check_validators (t, &x) == 0)
        ferry_error (FERRY_E_INPUT, "%s: size changed during the transfer "
                     "(was %lld, now %lld); start again", t->name,
                     (long long) p->size, (long long) x.content_length);
      return -1;
    }
    if (s->rc == CURLE_OK && s->status == 200) {
      if (s->body_pos < s->pos) {
        seq_stop (t);
        return ferry_error (FERRY_E_INPUT, "%s: the body ended at offset "
                            "%llu, before the %llu bytes read earlier; "
                            "start again", t->name,
                            (unsigned long long) s->body_pos,
                            (unsigned long long) s->pos);
      }
      return 0;
    }
    {
      CURLcode rc = s->rc;
      long status = s->status;
      bool bad_status = status != 200 && status != 0;
      if (bad_status)
        snprintf (why, sizeof why, "HTTP status %ld%s", status,
                  status_hint (status));
      else
        describe_failure (p->sh, &p->c[0].pin, rc, s->errbuf, why,
                          sizeof why);
      seq_stop (t);
      if (bad_status ? !retryable (CURLE_OK, status) : !retryable (rc, status))
        return ferry_error (FERRY_E_INPUT, "%s: %s at offset %llu", t->name,
                            why, (unsigned long long) s->pos);
      if (attempt >= retries)
        return ferry_error (FERRY_E_INPUT,
                            "%s: giving up after %d %s at offset %llu: %s",
                            t->name, retries,
                            retries == 1 ? "retry" : "retries",
                            (unsigned long long) s->pos, why);
      retry_note (t, why, s->pos, attempt, retries);
      attempt++;
    }
  }
}

static int64_t
seq_pull (void *ctx, char *buf, size_t count)
{
  return seq_body_read (ctx, buf, count);
}

/* Same contract as standard input: forward only, except the head. */
static int64_t
seq_read_locked (struct ferry_transport *t, char *buf, size_t count,
                 uint64_t offset)
{
  struct http_priv *p = t->priv;
  struct hseq *s = p->seq;
  const struct ferry_seq_stream ss = {
    .head = s->head, .head_len = s->head_len, .pos = &s->pos,
    .pull = seq_pull, .ctx = t,
    .passed_hint = "the server does not support Range requests, and this "
                   "format needs random access",
  };
  return ferry_seq_read (t, &ss, buf, count, offset);
}

static int64_t
http_seq_pread_partial (struct ferry_transport *t, void *buf, size_t count,
                        uint64_t offset)
{
  struct hseq *s = ((struct http_priv *) t->priv)->seq;
  pthread_mutex_lock (&s->lock);
  int64_t r = seq_read_locked (t, buf, count, offset);
  pthread_mutex_unlock (&s->lock);
  return r;
}

static int
http_seq_pread (struct ferry_transport *t, void *buf, size_t count,
                uint64_t offset)
{
  int64_t r = http_seq_pread_partial (t, buf, count, offset);
  if (r < 0)
    return -1;
  if ((size_t) r < count)
    return ferry_error (FERRY_E_INPUT,
                        "%s: the body ends at offset %llu (truncated?)",
                        t->name, (unsigned long long) (offset + (uint64_t) r));
  return 0;
}

/* ---- opening and closing ---- */

static void
shared_unref (struct http_shared *sh)
{
  if (atomic_fetch_sub (&sh->refs, 1) != 1)
    return;
  free (sh->user);
  if (sh->password) {
    explicit_bzero (sh->password, strlen (sh->password));
    free (sh->password);
  }
  if (sh->cookie) {
    explicit_bzero (sh->cookie, strlen (sh->cookie));
    free (sh->cookie);
  }
  if (sh->url_password) {
    explicit_bzero (sh->url_password, strlen (sh->url_password));
    free (sh->url_password);
  }
  free ((char *) sh->o.cacert);
  free ((char *) sh->o.thumbprint);
  free (sh);
}

static void
priv_free (struct http_priv *p)
{
  if (!p)
    return;
  if (p->seq) {
    if (p->seq->active)
      curl_multi_remove_handle (p->seq->multi, p->c[0].curl);
    curl_multi_cleanup (p->seq->multi);
    pthread_mutex_destroy (&p->seq->lock);
    free (p->seq->buf);
    free (p->seq);
  }
  for (int i = 0; i < p->n; i++) {
    curl_easy_cleanup (p->c[i].curl);
    pthread_mutex_destroy (&p->c[i].lock);
  }
  for (int i = 0; i < HTTP_BLOCK_SLOTS; i++) {
    free (p->bc.b[i].data);
    free (p->bc.b[i].err_msg);
  }
  pthread_mutex_destroy (&p->bc.lock);
  pthread_cond_destroy (&p->bc.done);
  free (p->head);
  free (p->whole);
  free (p->url);
  free (p);
}

static void
http_close (struct ferry_transport *t)
{
  struct http_priv *p = t->priv;
  struct http_shared *sh = p->sh;
  priv_free (p);
  shared_unref (sh);
}

static struct ferry_transport *http_open_shared (const char *url,
                                                 struct http_shared *sh);

/* Percent-escape s, keeping the characters in keep. */
static char *
url_escape (const char *s, const char *keep)
{
  char *esc = malloc (3 * strlen (s) + 1);
  size_t n = 0;

  if (!esc)
    return NULL;
  for (; *s; s++) {
    unsigned char ch = (unsigned char) *s;
    if (isalnum (ch) || strchr (keep, ch))
      esc[n++] = (char) ch;
    else
      n += (size_t) sprintf (esc + n, "%%%02X", ch);
  }
  esc[n] = 0;
  return esc;
}

/* Sibling files live in the same folder; the query (dcPath, dsName on
 * ESXi datastore URLs) is kept. */
char *
ferry_http_sibling_url (const char *base, const char *relpath)
{
  const char *q = strchr (base, '?');
  size_t pathlen = q ? (size_t) (q - base) : strlen (base);
  const char *slash = memrchr (base, '/', pathlen);
  char *url, *esc;

  if (relpath[0] == '/' || !slash) {
    ferry_error (FERRY_E_INPUT, "absolute path '%s' cannot be fetched over "
                 "HTTP", relpath);
    return NULL;
  }
  /* Escape each path component, keep the slashes between them. */
  if (!(esc = url_escape (relpath, "-._~/"))) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  if (asprintf (&url, "%.*s/%s%s", (int) (slash - base), base, esc,
                q ? q : "") < 0)
    url = NULL;
  free (esc);
  if (!url)
    ferry_error (FERRY_E_SYSTEM, "out of memory");
  return url;
}

/* ESXi serves datastore DS at https://HOST/folder/PATH?dcPath=DC&dsName=DS:
 * the /folder/ prefix of base and its other query parameters are kept, the
 * path and dsName replaced. */
char *
ferry_http_datastore_url (const char *base, const char *datastore,
                          const char *path)
{
  const char *q = strchr (base, '?');
  size_t pathlen = q ? (size_t) (q - base) : strlen (base);
  const char *f = strstr (base, "/folder/");
  char *url = NULL, *epath = NULL, *eds = NULL, *rest = NULL;
  size_t rl = 0;

  if (!f || f >= base + pathlen) {
    ferry_error (FERRY_E_INPUT, "datastore path '[%s] %s': the description's "
                 "URL is not an ESXi /folder/ URL, so the datastore cannot "
                 "be reached", datastore, path);
    return NULL;
  }
  if (path[0] == '/') {
    ferry_error (FERRY_E_INPUT, "datastore path '[%s] %s' is absolute",
                 datastore, path);
    return NULL;
  }
  if (!(epath = url_escape (path, "-._~/"))
      || !(eds = url_escape (datastore, "-._~"))
      || !(rest = malloc (q ? strlen (q) + 1 : 1)))
    goto oom;
  /* The query without dsName. */
  rest[0] = 0;
  for (const char *s = q ? q + 1 : NULL; s && *s;) {
    size_t n = strcspn (s, "&");
    if (n && strncmp (s, "dsName=", 7) != 0) {
      memcpy (rest + rl, "&", 1);
      memcpy (rest + rl + 1, s, n);
      rl += n + 1;
      rest[rl] = 0;
    }
    s += n;
    if (*s == '&')
      s++;
  }
  if (asprintf (&url, "%.*s/folder/%s?%s%sdsName=%s", (int) (f - base), base,
                epath, rl ? rest + 1 : "", rl ? "&" : "", eds) < 0)
    goto oom;
  free (epath);
  free (eds);
  free (rest);
  return url;
 oom:
  free (epath);
  free (eds);
  free (rest);
  ferry_error (FERRY_E_SYSTEM, "out of memory");
  return NULL;
}

static struct ferry_transport *
http_open_sibling (struct ferry_transport *t, const char *relpath)
{
  struct http_priv *p = t->priv;
  struct ferry_transport *r;
  char *url = ferry_http_sibling_url (p->url, relpath);

  if (!url) {
    if (relpath[0] == '/')
      ferry_error (FERRY_E_INPUT, "%s: absolute extent path '%s' cannot be "
                   "fetched over HTTP", t->name, relpath);
    return NULL;
  }
  atomic_fetch_add (&p->sh->refs, 1);
  r = http_open_shared (url, p->sh);
  free (url);
  return r;
}

static const struct ferry_transport_ops http_ops = {
  .name = "http",
  .pread = http_pread,
  .size = http_size,
  .open_sibling = http_open_sibling,
  .close = http_close,
};

static const struct ferry_transport_ops http_seq_ops = {
  .name = "http",
  .pread = http_seq_pread,
  .pread_partial = http_seq_pread_partial,
  .size = http_size,
  .open_sibling = http_open_sibling,
  .close = http_close,
};

char *
ferry_http_display_url (const char *url)
{
  return ferry_source_display (url);
}

/* One request at open (HEAD, or the probing GET), retried like the
 * others.  Returns the curl code; *status and x are filled. */
static CURLcode
open_request (struct http_priv *p, const char *name, bool head,
              const char *range, struct xfer *x, long *status,
              char *errbuf, int *retried)
{
  CURL *h = p->c[0].curl;
  CURLcode rc;
  char why[CURL_ERROR_SIZE + 256];

  for (int attempt = 0;; attempt++) {
    x->got = 0;
    x->checked = false;
    x->content_length = -1;
    x->etag[0] = x->last_modified[0] = x->content_range[0] = 0;
    errbuf[0] = 0;
    *status = 0;
    p->c[0].pin.mismatch = false;
    curl_easy_setopt (h, CURLOPT_URL, p->url);
    if (head)
      curl_easy_setopt (h, CURLOPT_NOBODY, 1L);
    else
      curl_easy_setopt (h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt (h, CURLOPT_RANGE, range);
    curl_easy_setopt (h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt (h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt (h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt (h, CURLOPT_ERRORBUFFER, errbuf);
    rc = curl_easy_perform (h);
    curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, status);
    ferry_debug (logger (p->sh), "%s: %s%s%s: status %ld%s%s", name,
                 head ? "HEAD" : "GET", range ? " bytes=" : "",
                 range ? range : "", *status, rc ? ", " : "",
                 rc ? curl_easy_strerror (rc) : "");
    if (head)
      curl_easy_setopt (h, CURLOPT_NOBODY, 0L);
    /* A GET stopped by write_cb because the body is longer than asked is
     * an answer, not a failure.  A refused connection at open is a wrong
     * address far more often than a server restarting: no retries. */
    *retried = attempt;
    if (!retryable (rc, *status) || attempt >= p->sh->o.retries
        || rc == CURLE_COULDNT_CONNECT)
      return rc;
    if (rc == CURLE_OK)
      snprintf (why, sizeof why, "HTTP status %ld", *status);
    else
      describe_failure (p->sh, &p->c[0].pin, rc, errbuf, why, sizeof why);
    ferry_warn (logger (p->sh), "%s: %s; retrying in %.1f s (%d of %d)",
                name, why, backoff_ms (attempt) / 1000.0, attempt + 1,
                p->sh->o.retries);
    usleep (backoff_ms (attempt) * 1000u);
  }
}

static int
open_failure (struct http_priv *p, const char *name, CURLcode rc, long status,
              char *errbuf, int retried)
{
  char why[CURL_ERROR_SIZE + 256];
  char after[64] = "";
  if (retried > 0)
    snprintf (after, sizeof after, " (gave up after %d %s)", retried,
              retried == 1 ? "retry" : "retries");
  if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR)
    return ferry_error (FERRY_E_INPUT, "%s: %s%s", name,
                        describe_failure (p->sh, &p->c[0].pin, rc, errbuf, why,
                                          sizeof why), after);
  return ferry_error (FERRY_E_INPUT, "%s: HTTP status %ld%s%s", name, status,
                      status_hint (status), after);
}

static struct ferry_transport *
http_open_shared (const char *url, struct http_shared *sh)
{
  struct http_priv *p = calloc (1, sizeof *p);
  char *name = ferry_source_display (url);
  struct ferry_transport *t = NULL;
  unsigned conns = sh->o.connections ? sh->o.connections : 4;
  char errbuf[CURL_ERROR_SIZE] = "";
  struct xfer x = { .content_length = -1 };
  char *probe = NULL;
  size_t probe_want;
  bool ranges;
  long status = 0;
  int retried = 0;
  CURLcode rc;

  if (!p || !name || !(p->url = strdup (url))) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto fail;
  }
  p->sh = sh;
  p->size = -1;
  pthread_mutex_init (&p->bc.lock, NULL);
  pthread_cond_init (&p->bc.done, NULL);
  if (conns > HTTP_MAX_CONNS)
    conns = HTTP_MAX_CONNS;
  for (unsigned i = 0; i < conns; i++) {
    pthread_mutex_init (&p->c[i].lock, NULL);
    p->n++;
    p->c[i].curl = curl_easy_init ();
    if (!p->c[i].curl) {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto fail;
    }
    if (setup_handle (p->c[i].curl, &p->c[i].pin, sh, url) < 0)
      goto fail;
  }
  x.curl = p->c[0].curl;

  /* Size and validators from a HEAD request.  Servers that refuse HEAD
   * (405, 501, or 403 for URLs signed for GET only) are asked by the
   * probing GET alone. */
  rc = open_request (p, name, true, NULL, &x, &status, errbuf, &retried);
  if (rc == CURLE_OK && status == 200 && x.content_length >= 0) {
    p->size = x.content_length;
    snprintf (p->etag, sizeof p->etag, "%s", x.etag);
    snprintf (p->last_modified, sizeof p->last_modified, "%s",
              x.last_modified);
  }
  else if (!(rc == CURLE_OK
             && (status == 200 || status == 403 || status == 405
                 || status == 501))) {
    open_failure (p, name, rc, status, errbuf, retried);
    goto fail;
  }

  /* Does the server honour Range?  Ask for the head of the file: an
   * answer of 206 says yes (and is kept as read-ahead), 200 says no. */
  probe_want = FERRY_SEQ_HEAD;
  if (p->size >= 0 && (uint64_t) p->size < probe_want)
    probe_want = (size_t) p->size;
  if (p->size == 0) {
    ranges = true; /* nothing to read */
    goto opened;
  }
  if (!(probe = malloc (probe_want))) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto fail;
  }
  {
    char range[64];
    snprintf (range, sizeof range, "0-%zu", probe_want - 1);
    x.buf = probe;
    x.want = probe_want;
    rc = open_request (p, name, false, range, &x, &status, errbuf, &retried);
    x.buf = NULL;
  }
  if (status == 206 && (rc == CURLE_OK || rc == CURLE_WRITE_ERROR)) {
    const char *slash = strchr (x.content_range, '/');
    int64_t total = slash && slash[1] != '*' ? strtoll (slash + 1, NULL, 10)
                                             : -1;
    if (p->size < 0) {
      if (total < 0) {
        ferry_error (FERRY_E_INPUT, "%s: server did not give the size "
                     "(Content-Length, Content-Range)", name);
        goto fail;
      }
      p->size = total;
      snprintf (p->etag, sizeof p->etag, "%s", x.etag);
      snprintf (p->last_modified, sizeof p->last_modified, "%s",
                x.last_modified);
    }
    if (strtoull (x.content_range + strcspn (x.content_range, "0123456789"),
                  NULL, 10) != 0) {
      ferry_error (FERRY_E_INPUT, "%s: server answered range 0-%zu with "
                   "'%s'", name, probe_want - 1, x.content_range);
      goto fail;
    }
    ranges = true;
    if (!(p->head = malloc (x.got ? x.got : 1))) {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto fail;
    }
    memcpy (p->head, probe, x.got);
    p->head_len = x.got;
  }
  else if (status == 200 && (rc == CURLE_OK || rc == CURLE_WRITE_ERROR)) {
    ranges = false;
    if (p->size < 0) {
      if (x.content_length < 0) {
        ferry_error (FERRY_E_INPUT, "%s: server did not give the size "
                     "(Content-Length)", name);
        goto fail;
      }
      p->size = x.content_length;
      snprintf (p->etag, sizeof p->etag, "%s", x.etag);
      snprintf (p->last_modified, sizeof p->last_modified, "%s",
                x.last_modified);
    }
    if (rc == CURLE_OK && (int64_t) x.got == p->size) {
      /* Small enough to keep: random access from memory. */
      p->whole = probe;
      probe = NULL;
      ferry_debug (logger (sh), "%s: server does not support Range "
                   "requests; the file (%zu bytes) is kept in memory", name,
                   x.got);
      ranges = true;
    }
  }
  else {
    open_failure (p, name, rc, status, errbuf, retried);
    goto fail;
  }

opened:
  if (ranges) {
    t = ferry_transport_new (&http_ops, name, p);
    if (!t)
      goto fail;
    ferry_debug (logger (sh), "%s: %lld bytes, Range requests, %d "
                 "connections%s%s", name, (long long) p->size, p->n,
                 p->etag[0] ? ", ETag " : "", p->etag);
  }
  else {
    struct hseq *s = calloc (1, sizeof *s);
    if (!s || !(s->multi = curl_multi_init ())) {
      free (s);
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto fail;
    }
    pthread_mutex_init (&s->lock, NULL);
    p->seq = s;
    /* The probe brought the head; the stream restarts after it. */
    memcpy (s->head, probe, x.got);
    s->head_len = x.got;
    s->pos = x.got;
    /* One connection is all a stream uses. */
    while (p->n > 1) {
      p->n--;
      curl_easy_cleanup (p->c[p->n].curl);
      pthread_mutex_destroy (&p->c[p->n].lock);
    }
    t = ferry_transport_new (&http_seq_ops, name, p);
    if (!t)
      goto fail;
    t->sequential = true;
    ferry_info (logger (sh), "%s: server does not support Range requests; "
                "reading it front to back", name);
  }
  free (probe);
  free (name);
  return t;

fail:
  free (probe);
  priv_free (p);
  shared_unref (sh);
  free (name);
  return NULL;
}

static char *
normalise_thumbprint (const char *s)
{
  char *out = malloc (strlen (s) + 1);
  size_t n = 0;
  if (!out)
    return NULL;
  for (; *s; s++) {
    if (*s == ':' || *s == ' ' || *s == '-')
      continue;
    if (!isxdigit ((unsigned char) *s)) {
      free (out);
      return NULL;
    }
    out[n++] = (char) tolower ((unsigned char) *s);
  }
  out[n] = 0;
  if (n != 40 && n != 64) {
    free (out);
    return NULL;
  }
  return out;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once (void)
{
  curl_global_init (CURL_GLOBAL_DEFAULT);
}

struct ferry_transport *
ferry_http_open (const char *url, const struct ferry_http_opts *o)
{
  struct http_shared *sh = calloc (1, sizeof *sh);
  static const struct ferry_http_opts defaults = {
    .retries = FERRY_SOURCE_DEFAULT_RETRIES
  };

  if (!sh) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  sh->refs = 1;
  sh->o = o ? *o : defaults;
  if (sh->o.retries < 0)
    sh->o.retries = FERRY_SOURCE_DEFAULT_RETRIES;
  sh->o.cacert = NULL;
  sh->o.thumbprint = NULL;
  sh->o.user = sh->o.password = sh->o.cookie = NULL;
  if (o && o->cacert && !(sh->o.cacert = strdup (o->cacert)))
    goto oom;
  if (o && o->thumbprint
      && !(sh->o.thumbprint = normalise_thumbprint (o->thumbprint))) {
    shared_unref (sh);
    ferry_error (FERRY_E_USAGE, "--thumbprint: expected a SHA-1 or SHA-256 "
                 "fingerprint in hex (40 or 64 digits, colons allowed)");
    return NULL;
  }
  if (o && o->user) {
    if (!(sh->user = strdup (o->user)))
      goto oom;
    if (o->password && !(sh->password = strdup (o->password)))
      goto oom;
  }
  if (o && o->cookie && o->cookie[0] && !(sh->cookie = strdup (o->cookie)))
    goto oom;
  {
    /* scheme://user:password@host: the last '@' of the authority. */
    const char *auth = strstr (url, "://"), *end, *at = NULL, *colon;
    if (auth) {
      auth += 3;
      end = auth + strcspn (auth, "/?#");
      for (const char *c = auth; c < end; c++)
        if (*c == '@')
          at = c;
      if (at && (colon = memchr (auth, ':', (size_t) (at - auth)))
          && !(sh->url_password = strndup (colon + 1,
                                           (size_t) (at - colon - 1))))
        goto oom;
    }
  }
  pthread_once (&curl_once, curl_init_once);
  return http_open_shared (url, sh);

oom:
  shared_unref (sh);
  ferry_error (FERRY_E_SYSTEM, "out of memory");
  return NULL;
}
