/* ferry: hosted sparse VMDK extents (KDMV, versions 1-3), including
 * streamOptimized files read by random access.
 *
 * The 512-byte header gives the grain size, the grain directory and its
 * redundant copy.  streamOptimized files written by VMware put the real
 * header in a footer (gdOffset = GD_AT_END) because the grain directory is
 * only known once the stream has been written.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "converters/vmdk.h"

#define GD_AT_END UINT64_MAX
#define FLAG_NL_DETECT (1u << 0)
#define FLAG_RGD (1u << 1)
#define FLAG_ZERO_GRAIN (1u << 2)
#define FLAG_COMPRESSED (1u << 16)
#define FLAG_MARKERS (1u << 17)

#define MARKER_EOS 0
#define MARKER_GT 1
#define MARKER_GD 2
#define MARKER_FOOTER 3

struct kdmv_header {
  uint32_t version, flags, gtes;
  uint64_t capacity, granularity, desc_offset, desc_size, rgd_offset;
  uint64_t gd_offset, overhead;
  uint16_t compress;
  uint8_t nl[4];
};

struct sparse {
  struct kdmv_header h;
  struct vmdk_gtab g;
};

static void
decode_header (const uint8_t *b, struct kdmv_header *h)
{
  h->version = vmdk_le32 (b + 4);
  h->flags = vmdk_le32 (b + 8);
  h->capacity = vmdk_le64 (b + 12);
  h->granularity = vmdk_le64 (b + 20);
  h->desc_offset = vmdk_le64 (b + 28);
  h->desc_size = vmdk_le64 (b + 36);
  h->gtes = vmdk_le32 (b + 44);
  h->rgd_offset = vmdk_le64 (b + 48);
  h->gd_offset = vmdk_le64 (b + 56);
  h->overhead = vmdk_le64 (b + 64);
  memcpy (h->nl, b + 73, 4);
  h->compress = (uint16_t) (b[77] | b[78] << 8);
}

static int
is_pow2 (uint64_t x)
{
  return x && !(x & (x - 1));
}

/* Checks shared by the header and the footer copy. */
static int
check_header (const char *name, const char *which, const struct kdmv_header *h)
{
  if (h->version < 1 || h->version > 3)
    return ferry_error (FERRY_E_INPUT, "%s: %s: unsupported sparse version %"
                        PRIu32 " (ferry reads versions 1 to 3)", name, which,
                        h->version);
  if ((h->flags & FLAG_NL_DETECT)
      && memcmp (h->nl, "\n \r\n", 4) != 0)
    return ferry_error (FERRY_E_INPUT, "%s: %s: the newline test bytes at "
                        "offset 73 are damaged: the file was probably "
                        "transferred in text mode", name, which);
  if (h->capacity == 0 || h->capacity > VMDK_MAX_CAPACITY / VMDK_SECTOR)
    return ferry_error (FERRY_E_INPUT, "%s: %s: capacity %" PRIu64 " sectors "
                        "at offset 12 is %s", name, which, h->capacity,
                        h->capacity == 0 ? "zero" : "absurdly large");
  if (!is_pow2 (h->granularity) || h->granularity > 16384)
    return ferry_error (FERRY_E_INPUT, "%s: %s: grain size %" PRIu64 " sectors "
                        "at offset 20 is not a power of two between 1 and "
                        "16384", name, which, h->granularity);
  if (h->gtes == 0 || h->gtes > 4096)
    return ferry_error (FERRY_E_INPUT, "%s: %s: %" PRIu32 " grain table "
                        "entries per table at offset 44 (expected 1 to 4096, "
                        "normally 512)", name, which, h->gtes);
  if ((h->flags & FLAG_COMPRESSED) && h->compress != 1)
    return ferry_error (FERRY_E_INPUT, "%s: %s: compression algorithm %u at "
                        "offset 77 is unknown (1 is deflate)", name, which,
                        h->compress);
  return 0;
}

static int
read_header (struct ferry_transport *t, const char *name,
             struct kdmv_header *h)
{
  uint8_t b[512];

  if (ferry_transport_pread (t, b, sizeof b, 0) < 0)
    return -1;
  if (vmdk_le32 (b) != VMDK4_MAGIC)
    return ferry_error (FERRY_E_INPUT, "%s: not a hosted sparse extent (no "
                        "KDMV magic at offset 0)", name);
  decode_header (b, h);
  return 0;
}

int
vmdk_sparse_embedded_descriptor (struct ferry_transport *t, char **text)
{
  struct kdmv_header h;
  int64_t size = ferry_transport_size (t);
  size_t len;

  *text = NULL;
  if (read_header (t, t->name, &h) < 0)
    return -1;
  if (h.desc_offset == 0 || h.desc_size == 0)
    return 0;
  if (h.desc_size > 2048 || h.desc_offset > (uint64_t) INT64_MAX / 512
      || (size >= 0
          && (h.desc_offset + h.desc_size) * 512 > (uint64_t) size))
    return ferry_error (FERRY_E_INPUT, "%s: embedded descriptor (offset %"
                        PRIu64 ", %" PRIu64 " sectors, header offset 28) lies "
                        "outside the file or is too large", t->name,
                        h.desc_offset, h.desc_size);
  len = (size_t) h.desc_size * 512;
  if (!(*text = malloc (len + 1)))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  if (ferry_transport_pread (t, *text, len, h.desc_offset * 512) < 0) {
    free (*text);
    *text = NULL;
    return -1;
  }
  (*text)[len] = '\0';
  /* The extent files of a split sparse disk reserve the area but leave it
   * empty: that is "no descriptor", not a broken one. */
  if (strspn (*text, " \t\r\n") == strlen (*text)) {
    free (*text);
    *text = NULL;
  }
  return 0;
}

/* Entries: 0 unallocated, 1 zero grain, else the sector of the grain (or of
 * its marker, when compressed). */
static int
kdmv_decode (struct vmdk_gtab *g, uint64_t grain, uint64_t raw,
             enum vmdk_grain_state *st, uint64_t *file_off)
{
  uint64_t need;

  if (raw == 0) {
    *st = VMDK_GRAIN_UNALLOC;
    return 0;
  }
  if (raw == 1) {
    *st = VMDK_GRAIN_ZERO;
    return 0;
  }
  *st = VMDK_GRAIN_DATA;
  *file_off = raw * VMDK_SECTOR;
  need = g->compressed ? 12 : g->grain_bytes;
  if (!g->compressed && (grain + 1) * g->grain_bytes > g->capacity)
    need = g->capacity - grain * g->grain_bytes;
  if (*file_off + need > g->file_size)
    return ferry_error (FERRY_E_INPUT, "%s: grain table entry for grain %"
                        PRIu64 " (LBA %" PRIu64 ") points to sector %" PRIu64
                        ", past the end of the file (%" PRIu64 " bytes)",
                        g->e->name, grain,
                        grain * (g->grain_bytes / VMDK_SECTOR), raw,
                        g->file_size);
  return 0;
}

/* Load the grain directory at sector gd and validate its entries. */
static int
load_gd (struct sparse *s, uint64_t gd, const char *which)
{
  struct vmdk_gtab *g = &s->g;
  uint8_t *buf;
  size_t len = (size_t) g->n_gd * 4;
  uint64_t gt_bytes = (uint64_t) g->gt_entries * 4;

  if (gd == 0 || gd > g->file_size / 512 || gd * 512 + len > g->file_size)
    return ferry_error (FERRY_E_INPUT, "%s: %s at sector %" PRIu64 " (%"
                        PRIu64 " entries) lies outside the file", g->e->name,
                        which, gd, g->n_gd);
  if (!(buf = malloc (len)))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  if (ferry_transport_pread (g->e->t, buf, len, gd * 512) < 0) {
    free (buf);
    return -1;
  }
  for (uint64_t i = 0; i < g->n_gd; i++) {
    uint64_t sec = vmdk_le32 (buf + i * 4);
    if (sec == 0) {
      g->gt_offset[i] = 0;
      continue;
    }
    if (sec * 512 + gt_bytes > g->file_size) {
      free (buf);
      return ferry_error (FERRY_E_INPUT, "%s: %s entry %" PRIu64 " points to "
                          "a grain table at sector %" PRIu64 ", past the end "
                          "of the file", g->e->name, which, i, sec);
    }
    g->gt_offset[i] = sec * 512;
  }
  free (buf);
  return 0;
}

/* streamOptimized with GD_AT_END: the footer is the second-to-last sector,
 * preceded by its marker and followed by the end-of-stream marker. */
static int
read_footer (struct vmdk_extent *e, struct kdmv_header *h, uint64_t file_size)
{
  uint8_t b[1536];

  if (file_size < 1536 + 512)
    return ferry_error (FERRY_E_INPUT, "%s: streamOptimized with the grain "
                        "directory at the end, but the file is too short for "
                        "a footer", e->name);
  if (ferry_transport_pread (e->t, b, sizeof b, file_size - 1536) < 0)
    return -1;
  if (vmdk_le32 (b + 8) != 0 || vmdk_le32 (b + 12) != MARKER_FOOTER)
    return ferry_error (FERRY_E_INPUT, "%s: no footer marker at offset %"
                        PRIu64 " (the file is truncated, or was not written "
                        "to the end)", e->name, file_size - 1536);
  if (vmdk_le32 (b + 512) != VMDK4_MAGIC)
    return ferry_error (FERRY_E_INPUT, "%s: footer at offset %" PRIu64 " has "
                        "no KDMV magic", e->name, file_size - 1024);
  decode_header (b + 512, h);
  if (check_header (e->name, "footer", h) < 0)
    return -1;
  if (h->gd_offset == GD_AT_END)
    return ferry_error (FERRY_E_INPUT, "%s: footer at offset %" PRIu64 " does "
                        "not say where the grain directory is", e->name,
                        file_size - 1024);
  return 0;
}

/* Grains live after the header, descriptor and (in hosted sparse files)
 * the grain directories and tables: the "overhead". */
static uint64_t
meta_bytes (const struct sparse *s)
{
  uint64_t m = s->h.overhead * VMDK_SECTOR;

  if (m < 512 || m > s->g.file_size)
    m = 512;
  return m;
}

static int
sparse_open (struct vmdk_extent *e, const struct ferry_open_opts *o)
{
  struct sparse *s;
  struct vmdk_gtab *g;
  int64_t fsize = ferry_transport_size (e->t);
  uint64_t cap_bytes, per_gt;
  int r;

  (void) o;
  if (fsize < 0)
    return ferry_error (FERRY_E_INPUT, "%s: a sparse extent needs random "
                        "access (its size is unknown)", e->name);
  if (!(s = calloc (1, sizeof *s)))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  e->priv = s;
  g = &s->g;
  g->e = e;
  g->file_size = (uint64_t) fsize;

  if (read_header (e->t, e->name, &s->h) < 0
      || check_header (e->name, "header", &s->h) < 0)
    return -1;
  if ((s->h.flags & FLAG_COMPRESSED) && s->h.gd_offset == GD_AT_END) {
    struct kdmv_header f;
    if (read_footer (e, &f, g->file_size) < 0)
      return -1;
    /* The footer is authoritative for the grain directory; the capacity
     * and grain size must agree with the header. */
    if (f.capacity != s->h.capacity || f.granularity != s->h.granularity
        || f.gtes != s->h.gtes)
      return ferry_error (FERRY_E_INPUT, "%s: footer disagrees with the "
                          "header (capacity %" PRIu64 "/%" PRIu64 ", grain "
                          "size %" PRIu64 "/%" PRIu64 ")", e->name,
                          s->h.capacity, f.capacity, s->h.granularity,
                          f.granularity);
    s->h = f;
  }

  cap_bytes = s->h.capacity * VMDK_SECTOR;
  if (e->length == 0)
    e->length = cap_bytes;
  else if (e->length != cap_bytes)
    return ferry_error (FERRY_E_INPUT, "%s: the descriptor's extent line says "
                        "%" PRIu64 " sectors, but the sparse header's "
                        "capacity is %" PRIu64 " sectors", e->name,
                        e->length / VMDK_SECTOR, s->h.capacity);

  g->capacity = cap_bytes;
  g->grain_bytes = s->h.granularity * VMDK_SECTOR;
  g->gt_entries = s->h.gtes;
  g->entry_size = 4;
  g->compressed = (s->h.flags & FLAG_COMPRESSED) != 0;
  g->decode = kdmv_decode;
  per_gt = g->grain_bytes * g->gt_entries;
  g->n_gd = (cap_bytes + per_gt - 1) / per_gt;
  /* The directory must fit in the file before anything is allocated for
   * it: the header alone must not make us reserve gigabytes. */
  if (g->n_gd > g->file_size / 4)
    return ferry_error (FERRY_E_INPUT, "%s: a capacity of %" PRIu64 " sectors "
                        "with %" PRIu64 "-sector grains needs a grain directory "
                        "of %" PRIu64 " entries, larger than the file",
                        e->name, s->h.capacity, s->h.granularity, g->n_gd);
  if (!(g->gt_offset = calloc (g->n_gd, sizeof *g->gt_offset)))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  if (vmdk_gtab_init (g) < 0)
    return -1;

  r = load_gd (s, s->h.gd_offset, "grain directory");
  if (r == 0)
    r = vmdk_gtab_check (g, meta_bytes (s));
  if (r < 0 && (s->h.flags & FLAG_RGD) && s->h.rgd_offset
      && s->h.rgd_offset != s->h.gd_offset) {
    char *why = strdup (ferry_error_msg ());

    /* Start again from the copy, forgetting tables cached from the
     * damaged directory. */
    vmdk_gtab_free (g);
    g->gt_offset = calloc (g->n_gd, sizeof *g->gt_offset);
    if (g->gt_offset
        && vmdk_gtab_init (g) == 0
        && load_gd (s, s->h.rgd_offset, "redundant grain directory") == 0
        && vmdk_gtab_check (g, meta_bytes (s)) == 0) {
      ferry_warn (e->log, "%s: the primary grain directory is damaged (%s); "
                  "using the redundant copy at sector %" PRIu64, e->name,
                  why ? why : "?", s->h.rgd_offset);
      r = 0;
    }
    else if (why)
      /* Report the primary's problem: it is the one a user will look at. */
      ferry_error_set_raw (FERRY_E_INPUT, why);
    free (why);
  }
  return r;
}

static int
sparse_read (struct vmdk_extent *e, void *buf, size_t count, uint64_t offset)
{
  struct sparse *s = e->priv;

  return vmdk_gtab_read (&s->g, buf, count, offset);
}

static int
sparse_map (struct vmdk_extent *e, uint64_t offset, uint64_t length,
            struct ferry_extent_list *out)
{
  struct sparse *s = e->priv;

  return vmdk_gtab_map (&s->g, offset, length, out);
}

static void
sparse_close (struct vmdk_extent *e)
{
  struct sparse *s = e->priv;

  if (s) {
    vmdk_gtab_free (&s->g);
    free (s);
  }
  e->priv = NULL;
}

const struct vmdk_extent_ops vmdk_sparse_ops = {
  .name = "sparse",
  .open = sparse_open,
  .read = sparse_read,
  .map = sparse_map,
  .close = sparse_close,
};
