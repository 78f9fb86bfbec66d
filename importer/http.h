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

/* The URL of relpath next to the file at url (each path component
 * percent-escaped, the query kept: the dcPath/dsName of an ESXi datastore
 * URL).  An absolute relpath is refused.  NULL with the error set. */
char *ferry_http_sibling_url (const char *url, const char *relpath);

/* The URL of path on datastore, from an ESXi /folder/ URL on the same
 * host: https://HOST/folder/PATH?dcPath=DC&dsName=DATASTORE (the other
 * query parameters of url kept).  NULL with the error set when url has no
 * /folder/ part. */
char *ferry_http_datastore_url (const char *url, const char *datastore,
                                const char *path);

#endif
