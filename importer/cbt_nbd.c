/* ferry: change lists from an NBD dirty bitmap.
 *
 * qemu exports a persistent or live bitmap as the meta context
 * "qemu:dirty-bitmap:NAME"; block status over the export lists dirty
 * extents (flag 1).  A separate connection is used so the data transport
 * need not know about bitmaps.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <libnbd.h>

#include "common/error.h"
#include "importer/cbt.h"

struct collect {
  const char *ctx;
  uint64_t pos;    /* where the reply started */
  uint64_t seen;   /* bytes described */
  struct ferry_range *v;
  size_t n, cap;
  int err;
};

static int
extent_cb (void *opaque, const char *metacontext, uint64_t offset,
           uint32_t *entries, size_t nr, int *error)
{
  struct collect *c = opaque;
  uint64_t off = offset;

  (void) error;
  if (strcmp (metacontext, c->ctx) != 0)
    return 0;
  for (size_t i = 0; i + 1 < nr; i += 2) {
    uint64_t len = entries[i];
    if (entries[i + 1] & 1) {
      if (ferry_ranges_add (&c->v, &c->n, &c->cap,
                            (struct ferry_range) { off, len }) < 0) {
        c->err = -1;
        return -1;
      }
    }
    off += len;
  }
  c->seen = off - c->pos;
  return 0;
}

static char *
redact (const char *uri)
{
  /* Keep messages free of query strings (tls-psk-file and the like). */
  size_t n = strcspn (uri, "?");
  char *s = malloc (n + 1);

  if (s) {
    memcpy (s, uri, n);
    s[n] = '\0';
  }
  return s;
}

int
ferry_changes_from_nbd_bitmap (const char *uri, const char *bitmap,
                               uint64_t disk_size, struct ferry_changes *out)
{
  struct nbd_handle *h = NULL;
  struct collect c = { 0 };
  char *ctx = NULL, *name = redact (uri);
  int64_t size;
  int r = -1;

  memset (out, 0, sizeof *out);
  if (!name || asprintf (&ctx, "qemu:dirty-bitmap:%s", bitmap) < 0) {
    ctx = NULL;
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto out;
  }
  c.ctx = ctx;
  if (!(h = nbd_create ())) {
    ferry_error (FERRY_E_SYSTEM, "nbd_create: %s", nbd_get_error ());
    goto out;
  }
  if (nbd_add_meta_context (h, ctx) < 0
      || nbd_connect_uri (h, uri) < 0) {
    ferry_error (FERRY_E_INPUT, "%s: %s", name, nbd_get_error ());
    goto out;
  }
  if (nbd_can_meta_context (h, ctx) != 1) {
    ferry_error (FERRY_E_INPUT, "%s: the server does not export the dirty "
                 "bitmap '%s' (qemu-nbd needs -B %s)", name, bitmap, bitmap);
    goto out;
  }
  size = nbd_get_size (h);
  if (size >= 0 && disk_size == 0)
    disk_size = (uint64_t) size;
  if (size < 0 || (uint64_t) size != disk_size) {
    ferry_error (FERRY_E_INPUT, "%s: export is %" PRId64 " bytes, but the "
                 "disk is %" PRIu64 " bytes", name, size, disk_size);
    goto out;
  }
  for (uint64_t pos = 0; pos < disk_size;) {
    uint64_t want = disk_size - pos;
    if (want > (UINT64_C (1) << 30))
      want = UINT64_C (1) << 30;
    c.pos = pos;
    c.seen = 0;
    if (nbd_block_status (h, want, pos,
                          (nbd_extent_callback) { .callback = extent_cb,
                                                  .user_data = &c },
                          0) < 0) {
      if (!c.err)
        ferry_error (FERRY_E_INPUT, "%s: block status at offset %" PRIu64
                     ": %s", name, pos, nbd_get_error ());
      goto out;
    }
    if (c.seen == 0) {
      ferry_error (FERRY_E_INPUT, "%s: the server described nothing at offset %"
                   PRIu64 " for bitmap '%s'", name, pos, bitmap);
      goto out;
    }
    pos += c.seen;
  }
  /* Extents may run past the requested length; clip to the disk. */
  while (c.n && c.v[c.n - 1].offset >= disk_size)
    c.n--;
  if (c.n && c.v[c.n - 1].offset + c.v[c.n - 1].length > disk_size)
    c.v[c.n - 1].length = disk_size - c.v[c.n - 1].offset;
  out->v = c.v;
  out->n = c.n;
  c.v = NULL;
  if (!(out->change_id = strdup (bitmap))) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto out;
  }
  r = ferry_changes_normalize (out, disk_size, name);
out:
  if (r < 0)
    ferry_changes_free (out);
  free (c.v);
  free (ctx);
  free (name);
  if (h) {
    nbd_shutdown (h, 0);
    nbd_close (h);
  }
  return r;
}
