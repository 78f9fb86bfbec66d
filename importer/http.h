/* ferry: options of the HTTP(S) transport. */
#ifndef FERRY_IMPORTER_HTTP_H
#define FERRY_IMPORTER_HTTP_H

#include <stdbool.h>

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
};

struct ferry_transport *ferry_http_open (const char *url,
                                         const struct ferry_http_opts *o);

#endif
