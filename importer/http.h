/* ferry: options of the HTTP(S) transport. */
#ifndef FERRY_IMPORTER_HTTP_H
#define FERRY_IMPORTER_HTTP_H

#include <stdbool.h>

#include "common/log.h"
#include "importer/transport.h"

struct ferry_http_opts {
  unsigned connections;   /* parallel connections (0: 4) */
  int retries;            /* per request, with backoff */
  unsigned timeout;       /* seconds a transfer may stall (0: 60) */
  const char *cacert;     /* CA bundle file, or NULL for the system's */
  bool insecure;          /* skip TLS verification */
  const char *thumbprint; /* SHA-1/SHA-256 certificate pin, hex */
  const char *user;       /* basic auth user, or NULL */
  const char *password;   /* from a file or the environment, never argv */
  const char *cookie;     /* Cookie header value, or NULL */
  const struct ferry_log *log; /* request-level messages; NULL: none */
};

/* Open url.  A server that answers a Range request with the whole body (or
 * says Accept-Ranges: none) gives a sequential transport: one GET read
 * front to back, the first FERRY_SEQ_HEAD bytes re-readable, restarted and
 * skipped forward after a failure. */
struct ferry_transport *ferry_http_open (const char *url,
                                         const struct ferry_http_opts *o);

/* The URL without user info and without query parameters other than
 * dcPath and dsName (ESXi datastore URLs); NULL when out of memory. */
char *ferry_http_display_url (const char *url);

#endif
