#include "importer/transport.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "importer/decompress.h"
#include "importer/http.h"

struct ferry_transport *
ferry_transport_new (const struct ferry_transport_ops *ops, const char *name,
                     void *priv)
{
  struct ferry_transport *t = calloc (1, sizeof *t);
  if (!t || !(t->name = strdup (name))) {
    free (t);
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  t->ops = ops;
  t->priv = priv;
  return t;
}

void
ferry_transport_close (struct ferry_transport *t)
{
  if (!t)
    return;
  if (t->ops->close)
    t->ops->close (t);
  free (t->name);
  free (t);
}

void
ferry_source_opts_init (struct ferry_source_opts *o)
{
  memset (o, 0, sizeof *o);
  o->connections = FERRY_SOURCE_DEFAULT_CONNECTIONS;
  o->retries = FERRY_SOURCE_DEFAULT_RETRIES;
}

bool
ferry_is_nbd_uri (const char *s)
{
  return strncasecmp (s, "nbd://", 6) == 0 || strncasecmp (s, "nbds://", 7) == 0
         || strncasecmp (s, "nbd+unix://", 11) == 0
         || strncasecmp (s, "nbds+unix://", 12) == 0;
}

static bool
is_http_url (const char *s)
{
  return strncasecmp (s, "http://", 7) == 0
         || strncasecmp (s, "https://", 8) == 0;
}

struct ferry_transport *
ferry_transport_open_opts (const char *source,
                           const struct ferry_source_opts *o)
{
  struct ferry_source_opts defaults;

  if (!o) {
    ferry_source_opts_init (&defaults);
    o = &defaults;
  }
  if (ferry_is_nbd_uri (source))
    return ferry_nbd_open_opts (source, o);
  if (is_http_url (source)) {
    struct ferry_http_opts h = {
      .connections = o->connections,
      .retries = o->retries,
      .cacert = o->cacert,
      .insecure = o->insecure,
      .thumbprint = o->thumbprint,
      .user = o->user,
      .password = o->password,
      .cookie = o->cookie,
      .log = o->log,
    };
    return ferry_decompress_wrap (ferry_http_open (source, &h), o->log);
  }
  /* Other schemes arrive with their own transports; until then a URL is a
   * clear error rather than a confusing "file not found". */
  if (strstr (source, "://")) {
    char *name = ferry_source_display (source);
    ferry_error (FERRY_E_USAGE, "%s: remote sources are not supported yet "
                 "(ferry reads http://, https://, nbd://, nbds:// and "
                 "nbd+unix:// URLs)", name);
    free (name);
    return NULL;
  }
  return ferry_decompress_wrap (ferry_file_open (source), o->log);
}

struct ferry_transport *
ferry_transport_open (const char *source)
{
  return ferry_transport_open_opts (source, NULL);
}

bool
ferry_transport_no_ranges (const struct ferry_transport *t)
{
  return t && t->sequential && strcmp (t->ops->name, "http") == 0;
}

/* Query parameters worth showing: they name the datastore (ESXi) or the
 * socket (nbd+unix), and hold no secret. */
static bool
shown_param (const char *p, size_t len)
{
  static const char *const keep[] = { "dcPath=", "dsName=", "socket=" };
  for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
    size_t kl = strlen (keep[i]);
    if (len >= kl && strncasecmp (p, keep[i], kl) == 0)
      return true;
  }
  return false;
}

char *
ferry_source_display (const char *source)
{
  const char *scheme_end = strstr (source, "://");
  const char *auth, *auth_end, *at, *path_end, *q;
  char *out, *o;

  if (!scheme_end || strpbrk (source, "/") < scheme_end) {
    out = strdup (source);
    return out ? out : strdup ("(source)");
  }
  if (!(out = malloc (strlen (source) + 1)))
    return strdup ("(source)");
  auth = scheme_end + 3;
  auth_end = auth + strcspn (auth, "/?#");
  /* user:password@host: the last '@' of the authority ends the user info
   * (a password may itself hold '@'). */
  at = NULL;
  for (const char *s = auth; s < auth_end; s++)
    if (*s == '@')
      at = s;
  o = out;
  memcpy (o, source, (size_t) (auth - source));
  o += auth - source;
  if (at)
    auth = at + 1;
  memcpy (o, auth, (size_t) (auth_end - auth));
  o += auth_end - auth;
  path_end = auth_end + strcspn (auth_end, "?#");
  memcpy (o, auth_end, (size_t) (path_end - auth_end));
  o += path_end - auth_end;
  if (*path_end == '?') {
    bool first = true;
    q = path_end + 1;
    while (*q && *q != '#') {
      size_t len = strcspn (q, "&#");
      if (shown_param (q, len)) {
        *o++ = first ? '?' : '&';
        memcpy (o, q, len);
        o += len;
        first = false;
      }
      q += len;
      if (*q == '&')
        q++;
    }
  }
  *o = 0;
  return out;
}
