/* ferry: grain directory / grain table walk shared by the sparse VMDK kinds.
 *
 * The copy engine reads a disk from several threads, mostly front to back
 * within each thread's window, so a small LRU cache of whole grain tables
 * serves nearly every lookup.  The lock is held only to search and fill the
 * cache, never across I/O.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>

#include "common/error.h"
#include "converters/vmdk.h"

#define CACHE_SLOTS 64

struct slot {
  uint64_t gd_index; /* UINT64_MAX: empty */
  uint64_t stamp;
  uint8_t *data;
};

struct cache {
  pthread_mutex_t lock;
  uint64_t clock;
  size_t gt_bytes;
  struct slot slots[CACHE_SLOTS];
};

int
vmdk_gtab_init (struct vmdk_gtab *g)
{
  struct cache *c = calloc (1, sizeof *c);

  if (!c)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  pthread_mutex_init (&c->lock, NULL);
  c->gt_bytes = (size_t) g->gt_entries * g->entry_size;
  for (int i = 0; i < CACHE_SLOTS; i++)
    c->slots[i].gd_index = UINT64_MAX;
  g->cache = c;
  return 0;
}

void
vmdk_gtab_free (struct vmdk_gtab *g)
{
  struct cache *c = g->cache;

  if (c) {
    for (int i = 0; i < CACHE_SLOTS; i++)
      free (c->slots[i].data);
    pthread_mutex_destroy (&c->lock);
    free (c);
  }
  free (g->gt_offset);
  g->gt_offset = NULL;
  g->cache = NULL;
}

static uint64_t
entry_at (const struct vmdk_gtab *g, const uint8_t *gt, uint32_t i)
{
  return g->entry_size == 4 ? vmdk_le32 (gt + (size_t) i * 4)
                            : vmdk_le64 (gt + (size_t) i * 8);
}

/* Raw entry for grain, or *present = false when its table does not exist. */
static int
raw_entry (struct vmdk_gtab *g, uint64_t grain, uint64_t *raw, bool *present)
{
  struct cache *c = g->cache;
  uint64_t gdi = grain / g->gt_entries;
  uint32_t gti = (uint32_t) (grain % g->gt_entries);
  struct slot *victim = NULL;
  uint8_t *buf;

  if (gdi >= g->n_gd || g->gt_offset[gdi] == 0) {
    *present = false;
    return 0;
  }
  *present = true;

  pthread_mutex_lock (&c->lock);
  for (int i = 0; i < CACHE_SLOTS; i++)
    if (c->slots[i].gd_index == gdi) {
      c->slots[i].stamp = ++c->clock;
      *raw = entry_at (g, c->slots[i].data, gti);
      pthread_mutex_unlock (&c->lock);
      return 0;
    }
  pthread_mutex_unlock (&c->lock);

  if (!(buf = malloc (c->gt_bytes)))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  if (ferry_transport_pread (g->e->t, buf, c->gt_bytes, g->gt_offset[gdi]) < 0) {
    free (buf);
    return ferry_error_prefix ("%s: grain table %" PRIu64 " at offset %" PRIu64,
                               g->e->name, gdi, g->gt_offset[gdi]);
  }
  *raw = entry_at (g, buf, gti);

  pthread_mutex_lock (&c->lock);
  for (int i = 0; i < CACHE_SLOTS; i++) {
    if (c->slots[i].gd_index == gdi) { /* another thread was faster */
      victim = NULL;
      break;
    }
    if (!victim || c->slots[i].stamp < victim->stamp)
      victim = &c->slots[i];
  }
  if (victim) {
    free (victim->data);
    victim->data = buf;
    victim->gd_index = gdi;
    victim->stamp = ++c->clock;
    buf = NULL;
  }
  pthread_mutex_unlock (&c->lock);
  free (buf);
  return 0;
}

int
vmdk_gtab_lookup (struct vmdk_gtab *g, uint64_t grain,
                  enum vmdk_grain_state *st, uint64_t *file_off)
{
  uint64_t raw = 0;
  bool present;

  if (raw_entry (g, grain, &raw, &present) < 0)
    return -1;
  *file_off = 0;
  if (!present) {
    *st = VMDK_GRAIN_UNALLOC;
    return 0;
  }
  return g->decode (g, grain, raw, st, file_off);
}

int
vmdk_inflate_grain (const char *name, uint64_t off, uint64_t lba_sectors,
                    const uint8_t *data, size_t data_len, void *out,
                    size_t out_len, size_t tail_len)
{
  struct libdeflate_decompressor *z;
  enum libdeflate_result r;
  size_t got = 0;

  z = libdeflate_alloc_decompressor ();
  if (!z)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  r = libdeflate_zlib_decompress (z, data, data_len, out, out_len, &got);
  libdeflate_free_decompressor (z);
  if (r == LIBDEFLATE_INSUFFICIENT_SPACE)
    return ferry_error (FERRY_E_INPUT, "%s: compressed grain at offset %" PRIu64
                        " (LBA %" PRIu64 ") inflates to more than the grain "
                        "size of %zu bytes", name, off, lba_sectors, out_len);
  if (r != LIBDEFLATE_SUCCESS && r != LIBDEFLATE_SHORT_OUTPUT)
    return ferry_error (FERRY_E_INPUT, "%s: compressed grain at offset %" PRIu64
                        " (LBA %" PRIu64 ") is not valid zlib data", name, off,
                        lba_sectors);
  if (got != out_len && (got != tail_len || tail_len >= out_len))
    return ferry_error (FERRY_E_INPUT, "%s: compressed grain at offset %" PRIu64
                        " (LBA %" PRIu64 ") inflates to %zu bytes, expected "
                        "%zu", name, off, lba_sectors, got, out_len);
  memset ((uint8_t *) out + got, 0, out_len - got);
  return 0;
}

/* Read and inflate the compressed grain whose marker is at off. */
static int
read_compressed (struct vmdk_gtab *g, uint64_t grain, uint64_t off, void *out)
{
  uint8_t *buf;
  size_t want, size, first;
  uint64_t lba, tail;
  int r;

  /* A grain that did not compress can come out slightly larger than the
   * grain; deflate's worst case is a few bytes per 16 KiB. */
  size_t max = g->grain_bytes + g->grain_bytes / 8 + 1024;

  if (off + 12 > g->file_size)
    return ferry_error (FERRY_E_INPUT, "%s: grain marker at offset %" PRIu64
                        " is past the end of the file", g->e->name, off);
  /* Read the marker with a little of the data, then exactly the rest: an
   * optimistic grain-sized read would fetch up to twice the file from a
   * well-compressed disk. */
  want = 12 + max;
  if (off + want > g->file_size)
    want = (size_t) (g->file_size - off);
  if (!(buf = malloc (want)))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  first = want < 4096 ? want : 4096;
  if (ferry_transport_pread (g->e->t, buf, first, off) < 0) {
    free (buf);
    return -1;
  }
  size = vmdk_le32 (buf + 8);
  if (size > 0 && size <= want - 12 && 12 + size > first
      && ferry_transport_pread (g->e->t, buf + first, 12 + size - first,
                                off + first) < 0) {
    free (buf);
    return -1;
  }
  lba = vmdk_le64 (buf);
  if (lba != grain * (g->grain_bytes / VMDK_SECTOR)) {
    free (buf);
    return ferry_error (FERRY_E_INPUT, "%s: grain marker at offset %" PRIu64
                        " has LBA %" PRIu64 ", but the grain table puts grain "
                        "%" PRIu64 " (LBA %" PRIu64 ") there", g->e->name, off,
                        lba, grain, grain * (g->grain_bytes / VMDK_SECTOR));
  }
  if (size == 0 || size > want - 12) {
    free (buf);
    return ferry_error (FERRY_E_INPUT, "%s: grain marker at offset %" PRIu64
                        " claims %zu compressed bytes (%s)", g->e->name, off,
                        size, size == 0 ? "none" : "more than the file or the "
                        "grain size allows");
  }
  tail = g->capacity - grain * g->grain_bytes;
  if (tail > g->grain_bytes)
    tail = g->grain_bytes;
  r = vmdk_inflate_grain (g->e->name, off, lba, buf + 12, size, out,
                          g->grain_bytes, tail);
  free (buf);
  return r;
}

int
vmdk_gtab_read (struct vmdk_gtab *g, void *buf, size_t count, uint64_t offset)
{
  uint8_t *p = buf;
  uint8_t *tmp = NULL;
  int r = -1;

  while (count > 0) {
    uint64_t grain = offset / g->grain_bytes;
    uint64_t in = offset % g->grain_bytes;
    size_t n = g->grain_bytes - in;
    enum vmdk_grain_state st;
    uint64_t off;

    uint64_t gdi = grain / g->gt_entries;

    if (gdi >= g->n_gd || g->gt_offset[gdi] == 0) {
      uint64_t end = (gdi + 1) * g->gt_entries * g->grain_bytes;
      if (end - offset < count)
        n = (size_t) (end - offset);
      else
        n = count;
    }
    if (n > count)
      n = count;
    if (vmdk_gtab_lookup (g, grain, &st, &off) < 0)
      goto out;
    if (st != VMDK_GRAIN_DATA)
      memset (p, 0, n);
    else if (!g->compressed) {
      /* Coalesce following grains stored right after this one. */
      while (n < count) {
        enum vmdk_grain_state st2;
        uint64_t off2;
        size_t n2 = count - n;
        if (n2 > g->grain_bytes)
          n2 = g->grain_bytes;
        if (vmdk_gtab_lookup (g, grain + (in + n) / g->grain_bytes, &st2,
                              &off2) < 0)
          goto out;
        if (st2 != VMDK_GRAIN_DATA || off2 != off + in + n)
          break;
        n += n2;
      }
      if (ferry_transport_pread (g->e->t, p, n, off + in) < 0)
        goto out;
    }
    else if (in == 0 && n == g->grain_bytes) {
      if (read_compressed (g, grain, off, p) < 0)
        goto out;
    }
    else {
      if (!tmp && !(tmp = malloc (g->grain_bytes))) {
        ferry_error (FERRY_E_SYSTEM, "out of memory");
        goto out;
      }
      if (read_compressed (g, grain, off, tmp) < 0)
        goto out;
      memcpy (p, tmp + in, n);
    }
    p += n;
    offset += n;
    count -= n;
  }
  r = 0;
out:
  free (tmp);
  return r;
}

int
vmdk_gtab_map (struct vmdk_gtab *g, uint64_t offset, uint64_t length,
               struct ferry_extent_list *out)
{
  while (length > 0) {
    uint64_t grain = offset / g->grain_bytes;
    uint64_t n = g->grain_bytes - offset % g->grain_bytes;
    enum vmdk_grain_state st;
    uint64_t off;
    enum ferry_extent_type type;

    uint64_t gdi = grain / g->gt_entries;

    if (gdi >= g->n_gd || g->gt_offset[gdi] == 0) {
      /* No table: the rest of its span is unallocated, in one step. */
      uint64_t end = (gdi + 1) * g->gt_entries * g->grain_bytes;
      n = end - offset;
    }
    if (n > length)
      n = length;
    if (vmdk_gtab_lookup (g, grain, &st, &off) < 0)
      return -1;
    type = st == VMDK_GRAIN_DATA   ? FERRY_EXTENT_DATA
           : st == VMDK_GRAIN_ZERO ? FERRY_EXTENT_ZERO
                                   : FERRY_EXTENT_HOLE;
    if (ferry_extent_list_add (out, offset, n, type) < 0)
      return -1;
    offset += n;
    length -= n;
  }
  return 0;
}

int
vmdk_gtab_check (struct vmdk_gtab *g, uint64_t meta_bytes)
{
  uint64_t n_grains = (g->capacity + g->grain_bytes - 1) / g->grain_bytes;
  uint64_t units = g->file_size / g->grain_bytes + 1;
  uint8_t *used = NULL;
  int r = -1;

  if (!g->compressed && (used = calloc (units / 8 + 1, 1)) == NULL)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");

  for (uint64_t i = 0; i < n_grains; i++) {
    enum vmdk_grain_state st;
    uint64_t off, u, gdi = i / g->gt_entries;

    if (gdi >= g->n_gd || g->gt_offset[gdi] == 0) {
      i = (gdi + 1) * g->gt_entries - 1; /* no table: skip its span */
      continue;
    }
    if (vmdk_gtab_lookup (g, i, &st, &off) < 0)
      goto out;
    if (st != VMDK_GRAIN_DATA)
      continue;
    if (off < meta_bytes) {
      ferry_error (FERRY_E_INPUT, "%s: grain %" PRIu64 " (LBA %" PRIu64 ") is "
                   "stored at offset %" PRIu64 ", inside the metadata area "
                   "(first %" PRIu64 " bytes)", g->e->name, i,
                   i * (g->grain_bytes / VMDK_SECTOR), off, meta_bytes);
      goto out;
    }
    if (!used || off % g->grain_bytes)
      continue;
    u = off / g->grain_bytes;
    if (used[u / 8] & (1u << (u % 8))) {
      ferry_error (FERRY_E_INPUT, "%s: grain %" PRIu64 " (LBA %" PRIu64 ") "
                   "overlaps another grain at offset %" PRIu64 " (two grain "
                   "table entries point to the same place)", g->e->name, i,
                   i * (g->grain_bytes / VMDK_SECTOR), off);
      goto out;
    }
    used[u / 8] |= (uint8_t) (1u << (u % 8));
  }
  r = 0;
out:
  free (used);
  return r;
}
