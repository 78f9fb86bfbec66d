#include "importer/transport.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
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

struct ferry_transport *
ferry_transport_open (const char *source)
{
  if (strncmp (source, "nbd://", 6) == 0 || strncmp (source, "nbds://", 7) == 0
      || strncmp (source, "nbd+unix://", 11) == 0
      || strncmp (source, "nbds+unix://", 12) == 0)
    return ferry_nbd_open (source, 0);
  if (strncmp (source, "http://", 7) == 0 || strncmp (source, "https://", 8) == 0)
    return ferry_http_open (source, NULL);
  /* Other schemes arrive with their own transports; until then a URL is a
   * clear error rather than a confusing "file not found". */
  if (strstr (source, "://")) {
    ferry_error (FERRY_E_USAGE, "%s: remote sources are not supported yet",
                 source);
    return NULL;
  }
  return ferry_file_open (source);
}
