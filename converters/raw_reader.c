/* ferry: raw images: the logical disk is the file. */
#include <stdlib.h>

#include "common/error.h"
#include "converters/format.h"

static int
raw_probe (const uint8_t *buf, size_t len)
{
  (void) buf;
  (void) len;
  return 1; /* anything is a raw image; every real format scores higher */
}

static int
raw_open (struct ferry_disk *d, const struct ferry_open_opts *o)
{
  int64_t size = ferry_transport_size (d->transport);
  if (size < 0 && !o->sequential)
    return ferry_error (FERRY_E_INPUT, "%s: size unknown", d->transport->name);
  /* A raw stream's size is only known at its end; stream() reports data as
   * it comes and the caller learns the size from d->size afterwards. */
  d->size = size < 0 ? 0 : (uint64_t) size;
  d->subformat = "raw";
  return 0;
}

static int
raw_read (struct ferry_disk *d, void *buf, size_t count, uint64_t offset)
{
  return ferry_transport_pread (d->transport, buf, count, offset);
}

static int
raw_extents (struct ferry_disk *d, uint64_t offset, uint64_t length,
             struct ferry_extent_list *out)
{
  struct ferry_transport *t = d->transport;

  if (!t->ops->block_status)
    return ferry_extent_list_add (out, offset, length, FERRY_EXTENT_DATA);
  while (length > 0) {
    enum ferry_bs_type type;
    uint64_t n;
    if (t->ops->block_status (t, offset, length, &type, &n) < 0)
      return -1;
    if (n == 0 || n > length)
      n = length;
    if (ferry_extent_list_add (out, offset, n,
                               type == FERRY_BS_HOLE ? FERRY_EXTENT_HOLE
                                                     : FERRY_EXTENT_DATA) < 0)
      return -1;
    offset += n;
    length -= n;
  }
  return 0;
}

#define RAW_STREAM_CHUNK (1024 * 1024)

/* A raw stream has no length field: read until end of stream. */
static int
raw_stream (struct ferry_disk *d, ferry_stream_cb cb, void *opaque)
{
  struct ferry_transport *t = d->transport;
  int64_t size = ferry_transport_size (t);
  char *buf = malloc (RAW_STREAM_CHUNK);
  uint64_t off = 0;
  int r = -1;

  if (!buf)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  if (size >= 0) {
    while (off < (uint64_t) size) {
      size_t n = (uint64_t) size - off < RAW_STREAM_CHUNK
                     ? (size_t) ((uint64_t) size - off)
                     : RAW_STREAM_CHUNK;
      if (ferry_transport_pread (t, buf, n, off) < 0 || cb (opaque, off, buf, n) < 0)
        goto out;
      off += n;
    }
    r = 0;
    goto out;
  }
  if (!t->ops->pread_partial) {
    ferry_error (FERRY_E_INPUT, "%s: size unknown", t->name);
    goto out;
  }
  for (;;) {
    int64_t n = t->ops->pread_partial (t, buf, RAW_STREAM_CHUNK, off);
    if (n < 0)
      goto out;
    if (n == 0)
      break;
    if (cb (opaque, off, buf, (size_t) n) < 0)
      goto out;
    off += (uint64_t) n;
  }
  d->size = off;
  r = 0;
out:
  free (buf);
  return r;
}

static void
raw_close (struct ferry_disk *d)
{
  ferry_transport_close (d->transport);
}

const struct ferry_format_ops ferry_format_raw = {
  .name = "raw",
  .probe = raw_probe,
  .open = raw_open,
  .read = raw_read,
  .extents = raw_extents,
  .stream = raw_stream,
  .close = raw_close,
};
