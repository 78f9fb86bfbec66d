/* ferry: choosing and opening a format reader. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "converters/format.h"
#include "importer/decompress.h"

/* The registry: one line per format. */
static const struct ferry_format_ops *const formats[] = {
  &ferry_format_vmdk,
  &ferry_format_qcow2,
  &ferry_format_raw,
};

#define PROBE_BYTES 4096

static const struct ferry_format_ops *
probe (struct ferry_transport *t)
{
  uint8_t buf[PROBE_BYTES];
  size_t len = sizeof buf;
  int64_t size = ferry_transport_size (t);
  const struct ferry_format_ops *best = NULL;
  int best_score = 0;

  if (size >= 0 && (uint64_t) size < len)
    len = (size_t) size;
  if (size < 0) {
    /* A stream: the head buffer holds at most FERRY_SEQ_HEAD bytes, and a
     * short stream may hold fewer; read less rather than fail. */
    while (len > 0 && ferry_transport_pread (t, buf, len, 0) < 0)
      len /= 2;
    ferry_error_clear ();
  }
  else if (len > 0 && ferry_transport_pread (t, buf, len, 0) < 0)
    return NULL;

  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
    int s = formats[i]->probe (buf, len);
    if (s > best_score) {
      best_score = s;
      best = formats[i];
    }
  }
  if (!best)
    ferry_error (FERRY_E_INPUT, "%s: unrecognised format", t->name);
  return best;
}

struct ferry_disk *
ferry_disk_open (struct ferry_transport *t, const struct ferry_open_opts *o)
{
  const struct ferry_format_ops *ops = NULL;
  struct ferry_disk *d;
  struct ferry_open_opts opts = *o;

  if (t->sequential)
    opts.sequential = true;
  if (opts.format && strcasecmp (opts.format, "auto") != 0) {
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
      if (strcasecmp (formats[i]->name, opts.format) == 0)
        ops = formats[i];
    if (!ops) {
      ferry_error (FERRY_E_USAGE, "unknown source format '%s' (known: vmdk, qcow2, raw)",
                   opts.format);
      ferry_transport_close (t);
      return NULL;
    }
  }
  else if (!(ops = probe (t))) {
    ferry_transport_close (t);
    return NULL;
  }
  if (opts.sequential && !ops->stream) {
    const char *z = ferry_transport_compression (t);
    if (z)
      ferry_error (FERRY_E_INPUT, "%s: a %s-compressed %s image cannot be "
                   "converted while it is decompressed (%s needs random "
                   "access); decompress it first and convert the result",
                   t->name, z, ops->name, ops->name);
    else
      ferry_error (FERRY_E_INPUT, "%s: %s cannot be read sequentially",
                   t->name, ops->name);
    ferry_transport_close (t);
    return NULL;
  }

  d = calloc (1, sizeof *d);
  if (!d) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    ferry_transport_close (t);
    return NULL;
  }
  d->ops = ops;
  d->transport = t;
  d->log = o->log;
  d->sequential = opts.sequential;
  if (ops->open (d, &opts) < 0) {
    /* The reader owns the transport from open() on, but a reader that
     * failed before taking it leaves it to us; readers set d->transport to
     * NULL when they have closed it themselves. */
    if (d->transport)
      ferry_transport_close (d->transport);
    free (d);
    return NULL;
  }
  return d;
}

void
ferry_disk_close (struct ferry_disk *d)
{
  if (!d)
    return;
  d->ops->close (d);
  free (d);
}
