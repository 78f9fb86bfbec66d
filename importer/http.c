/* ferry: HTTP(S) sources through libcurl.
 *
 * Random access by Range requests over a small pool of connections (one
 * request in flight each), with read-ahead per connection so small reads
 * (VMDK metadata, grains) become few large requests.  A transfer that
 * fails on the way (reset, timeout, 5xx) is resumed at the offset reached,
 * with backoff.  The validators seen at open (size, ETag, Last-Modified)
 * must not change: a source that changes under us is an error, never a
 * mix of two versions.
 *
 * TLS is verified by default.  A thumbprint (SHA-1 or SHA-256 of the
 * server certificate, as ESXi shows it) replaces chain verification with
 * an exact match.  Credentials never come from argv: the caller passes
 * them in, read from a file or the environment.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
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
#include "importer/transport.h"

#define HTTP_MAX_CONNS 16
#define HTTP_READAHEAD (4u * 1024 * 1024)

struct hconn {
  pthread_mutex_t lock;
  CURL *curl;
  char *cache;        /* read-ahead buffer */
  uint64_t cache_off; /* offset of cache[0] */
  size_t cache_len;   /* valid bytes */
};

struct http_shared {
  _Atomic int refs; /* siblings share options */
  struct ferry_http_opts o;
  char *user, *password;
};

struct http_priv {
  char *url;
  struct http_shared *sh;
  int64_t size;
  char etag[256];
  char last_modified[128];
  int n;
  struct hconn c[HTTP_MAX_CONNS];
  _Atomic unsigned next;
};

/* One request's receiving state. */
struct xfer {
  char *buf;
  size_t want;
  size_t got;
  long status;
  char etag[256];
  char last_modified[128];
  char content_range[128];
  int64_t content_length;
};

static size_t
write_cb (char *data, size_t size, size_t nmemb, void *opaque)
{
  struct xfer *x = opaque;
  size_t n = size * nmemb;
  size_t room = x->want - x->got;
  /* More than asked means the server ignored the range; keep what fits
   * and let the caller see the status. */
  if (x->buf) {
    memcpy (x->buf + x->got, data, n < room ? n : room);
    x->got += n < room ? n : room;
  }
  if (n > room && x->buf)
    return 0; /* abort: do not download a whole disk by mistake */
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
  const char *want = arg; /* lower-case hex without separators */
  X509 *cert = X509_STORE_CTX_get0_cert (ctx);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen;
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  const EVP_MD *alg = strlen (want) == 40 ? EVP_sha1 () : EVP_sha256 ();

  if (!cert || X509_digest (cert, alg, md, &mdlen) != 1)
    return 0;
  for (unsigned i = 0; i < mdlen; i++)
    sprintf (hex + 2 * i, "%02x", md[i]);
  return strcmp (hex, want) == 0;
}

static CURLcode
ssl_ctx_cb (CURL *curl, void *sslctx, void *arg)
{
  (void) curl;
  SSL_CTX_set_cert_verify_callback (sslctx, cert_verify_cb, arg);
  return CURLE_OK;
}

static int
setup_handle (CURL *h, struct http_shared *sh)
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
  if (o->cacert)
    curl_easy_setopt (h, CURLOPT_CAINFO, o->cacert);
  if (o->insecure) {
    curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  else if (o->thumbprint) {
    /* The pin replaces the chain check (ESXi certificates are usually
     * self-signed); the host name is then irrelevant too. */
    curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt (h, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
    curl_easy_setopt (h, CURLOPT_SSL_CTX_DATA, o->thumbprint);
  }
  if (sh->user) {
    curl_easy_setopt (h, CURLOPT_USERNAME, sh->user);
    curl_easy_setopt (h, CURLOPT_PASSWORD, sh->password ? sh->password : "");
    curl_easy_setopt (h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
  }
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

static void
backoff (int attempt)
{
  /* 0.2 s, 0.4 s, ... capped at 10 s */
  unsigned ms = 200u << (attempt < 6 ? attempt : 6);
  if (ms > 10000)
    ms = 10000;
  usleep (ms * 1000u);
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

  for (int attempt = 0;; attempt++) {
    struct xfer x = { .buf = buf + done, .want = count - done,
                      .content_length = -1 };
    long status = 0;
    CURLcode rc;

    snprintf (range, sizeof range, "%llu-%llu",
              (unsigned long long) (offset + done),
              (unsigned long long) (offset + count - 1));
    errbuf[0] = 0;
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

    if (rc == CURLE_OK && status == 206) {
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
    }
    else if (rc == CURLE_OK && status == 200) {
      /* Range ignored: only acceptable when we asked from offset 0 and the
       * body is what we wanted (a whole small file). */
      if (!(offset + done == 0 && x.got == count))
        return ferry_error (FERRY_E_INPUT,
                            "%s: server does not support Range requests; "
                            "only raw and streamOptimized sources can be read "
                            "from it (with --sequential)",
                            t->name);
    }
    else if (rc == CURLE_WRITE_ERROR && status == 200)
      return ferry_error (FERRY_E_INPUT,
                          "%s: server does not support Range requests; "
                          "only raw and streamOptimized sources can be read "
                          "from it (with --sequential)",
                          t->name);

    done += x.got;
    if (done >= count && (rc == CURLE_OK || rc == CURLE_WRITE_ERROR))
      return 0;
    if (rc == CURLE_OK && status >= 400 && !retryable (rc, status))
      return ferry_error (FERRY_E_INPUT, "%s: HTTP status %ld at offset %llu",
                          t->name, status,
                          (unsigned long long) (offset + done));
    if (!retryable (rc, status) && rc != CURLE_OK)
      return ferry_error (FERRY_E_INPUT, "%s: %s", t->name,
                          errbuf[0] ? errbuf : curl_easy_strerror (rc));
    if (attempt >= retries)
      return ferry_error (FERRY_E_INPUT,
                          "%s: giving up after %d retries at offset %llu: %s",
                          t->name, retries,
                          (unsigned long long) (offset + done),
                          rc != CURLE_OK ? (errbuf[0] ? errbuf
                                                      : curl_easy_strerror (rc))
                                         : "server error");
    backoff (attempt);
  }
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
  c = &p->c[atomic_fetch_add (&p->next, 1) % (unsigned) p->n];
  pthread_mutex_lock (&c->lock);
  if (offset >= c->cache_off && offset + count <= c->cache_off + c->cache_len)
    memcpy (buf, c->cache + (offset - c->cache_off), count);
  else if (count >= HTTP_READAHEAD)
    r = fetch (t, c, buf, count, offset);
  else {
    size_t n = HTTP_READAHEAD;
    if ((uint64_t) p->size - offset < n)
      n = (size_t) ((uint64_t) p->size - offset);
    c->cache_len = 0;
    r = fetch (t, c, c->cache, n, offset);
    if (r == 0) {
      c->cache_off = offset;
      c->cache_len = n;
      memcpy (buf, c->cache, count);
    }
  }
  pthread_mutex_unlock (&c->lock);
  return r;
}

static int64_t
http_size (struct ferry_transport *t)
{
  return ((struct http_priv *) t->priv)->size;
}

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
  free ((char *) sh->o.cacert);
  free ((char *) sh->o.thumbprint);
  free (sh);
}

static void
http_close (struct ferry_transport *t)
{
  struct http_priv *p = t->priv;
  for (int i = 0; i < p->n; i++) {
    curl_easy_cleanup (p->c[i].curl);
    free (p->c[i].cache);
    pthread_mutex_destroy (&p->c[i].lock);
  }
  shared_unref (p->sh);
  free (p->url);
  free (p);
}

static struct ferry_transport *http_open_shared (const char *url,
                                                 struct http_shared *sh);

/* Sibling files live in the same folder; the query (dcPath, dsName on
 * ESXi datastore URLs) is kept. */
static struct ferry_transport *
http_open_sibling (struct ferry_transport *t, const char *relpath)
{
  struct http_priv *p = t->priv;
  const char *q = strchr (p->url, '?');
  size_t pathlen = q ? (size_t) (q - p->url) : strlen (p->url);
  const char *slash = memrchr (p->url, '/', pathlen);
  char *esc, *url;
  struct ferry_transport *r;

  if (relpath[0] == '/' || !slash) {
    ferry_error (FERRY_E_INPUT, "%s: absolute extent path '%s' cannot be "
                 "fetched over HTTP", t->name, relpath);
    return NULL;
  }
  esc = curl_easy_escape (NULL, relpath, 0);
  if (!esc) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  if (asprintf (&url, "%.*s/%s%s", (int) (slash - p->url), p->url, esc,
                q ? q : "") < 0)
    url = NULL;
  curl_free (esc);
  if (!url) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
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

/* The name used in messages: no user info, no query. */
static char *
display_url (const char *url)
{
  CURLU *u = curl_url ();
  char *s = NULL, *out = NULL;
  if (u && curl_url_set (u, CURLUPART_URL, url, 0) == CURLUE_OK) {
    curl_url_set (u, CURLUPART_USER, NULL, 0);
    curl_url_set (u, CURLUPART_PASSWORD, NULL, 0);
    curl_url_set (u, CURLUPART_QUERY, NULL, 0);
    if (curl_url_get (u, CURLUPART_URL, &s, 0) == CURLUE_OK) {
      out = strdup (s);
      curl_free (s);
    }
  }
  curl_url_cleanup (u);
  return out ? out : strdup ("(url)");
}

static struct ferry_transport *
http_open_shared (const char *url, struct http_shared *sh)
{
  struct http_priv *p = calloc (1, sizeof *p);
  char *name = display_url (url);
  struct ferry_transport *t = NULL;
  unsigned conns = sh->o.connections ? sh->o.connections : 4;

  if (!p || !name || !(p->url = strdup (url))) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto fail;
  }
  p->sh = sh;
  if (conns > HTTP_MAX_CONNS)
    conns = HTTP_MAX_CONNS;
  for (unsigned i = 0; i < conns; i++) {
    pthread_mutex_init (&p->c[i].lock, NULL);
    p->n++;
    p->c[i].curl = curl_easy_init ();
    p->c[i].cache = malloc (HTTP_READAHEAD);
    if (!p->c[i].curl || !p->c[i].cache) {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto fail;
    }
    setup_handle (p->c[i].curl, sh);
  }

  /* Size and validators from a HEAD request. */
  {
    struct xfer x = { .content_length = -1 };
    char errbuf[CURL_ERROR_SIZE] = "";
    long status = 0;
    CURLcode rc;
    CURL *h = p->c[0].curl;
    for (int attempt = 0;; attempt++) {
      curl_easy_setopt (h, CURLOPT_URL, url);
      curl_easy_setopt (h, CURLOPT_NOBODY, 1L);
      curl_easy_setopt (h, CURLOPT_HEADERFUNCTION, header_cb);
      curl_easy_setopt (h, CURLOPT_HEADERDATA, &x);
      curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, write_cb);
      curl_easy_setopt (h, CURLOPT_WRITEDATA, &x);
      curl_easy_setopt (h, CURLOPT_ERRORBUFFER, errbuf);
      rc = curl_easy_perform (h);
      curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &status);
      if (!retryable (rc, status) || attempt >= sh->o.retries)
        break;
      backoff (attempt);
    }
    curl_easy_setopt (h, CURLOPT_NOBODY, 0L);
    if (rc != CURLE_OK) {
      ferry_error (FERRY_E_INPUT, "%s: %s", name,
                   errbuf[0] ? errbuf : curl_easy_strerror (rc));
      goto fail;
    }
    if (status == 401 || status == 403) {
      ferry_error (FERRY_E_INPUT, "%s: HTTP status %ld (check the user and "
                   "the password file)", name, status);
      goto fail;
    }
    if (status != 200) {
      ferry_error (FERRY_E_INPUT, "%s: HTTP status %ld", name, status);
      goto fail;
    }
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
  t = ferry_transport_new (&http_ops, name, p);
  if (!t)
    goto fail;
  free (name);
  return t;

fail:
  if (p) {
    for (int i = 0; i < p->n; i++) {
      curl_easy_cleanup (p->c[i].curl);
      free (p->c[i].cache);
      pthread_mutex_destroy (&p->c[i].lock);
    }
    free (p->url);
    free (p);
  }
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
    if (*s == ':' || *s == ' ')
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

struct ferry_transport *
ferry_http_open (const char *url, const struct ferry_http_opts *o)
{
  struct http_shared *sh = calloc (1, sizeof *sh);
  static const struct ferry_http_opts defaults = { .retries = 5 };

  if (!sh) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  sh->refs = 1;
  sh->o = o ? *o : defaults;
  sh->o.cacert = sh->o.cacert ? strdup (sh->o.cacert) : NULL;
  sh->o.thumbprint = NULL;
  if (o && o->thumbprint
      && !(sh->o.thumbprint = normalise_thumbprint (o->thumbprint))) {
    shared_unref (sh);
    ferry_error (FERRY_E_USAGE, "--thumbprint: expected a SHA-1 or SHA-256 "
                 "fingerprint in hex (colons allowed)");
    return NULL;
  }
  if (o && o->user) {
    sh->user = strdup (o->user);
    if (o->password)
      sh->password = strdup (o->password);
  }
  curl_global_init (CURL_GLOBAL_DEFAULT);
  return http_open_shared (url, sh);
}
