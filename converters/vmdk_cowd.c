/* ferry: COWD extents (vmfsSparse, the "-delta.vmdk" of ESX snapshots).
 *
 * Header (little-endian): magic "COWD", version, flags, capacity in
 * sectors, grain size in sectors, grain directory sector, number of
 * directory entries.  Grain tables hold 4096 32-bit sector numbers; 0 means
 * "not in this delta" (read the parent).
 */
#include <inttypes.h>
#include <stdlib.h>

#include "common/error.h"
#include "converters/vmdk.h"

#define COWD_GTES 4096

static int
cowd_decode (struct vmdk_gtab *g, uint64_t grain, uint64_t raw,
             enum vmdk_grain_state *st, uint64_t *file_off)
{
  uint64_t need = g->grain_bytes;

  if (raw == 0) {
    *st = VMDK_GRAIN_UNALLOC;
    return 0;
  }
  *st = VMDK_GRAIN_DATA;
  *file_off = raw * VMDK_SECTOR;
  if ((grain + 1) * g->grain_bytes > g->capacity)
    need = g->capacity - grain * g->grain_bytes;
  if (raw < 4 || *file_off + need > g->file_size)
    return ferry_error (FERRY_E_INPUT, "%s: grain table entry for grain %"
                        PRIu64 " points to sector %" PRIu64 ", %s", g->e->name,
                        grain, raw, raw < 4 ? "inside the header"
                                            : "past the end of the file");
  return 0;
}

static int
cowd_open (struct vmdk_extent *e, const struct ferry_open_opts *o)
{
  uint8_t b[512];
  struct vmdk_gtab *g;
  int64_t fsize = ferry_transport_size (e->t);
  uint64_t cap, gran, gd, n_gd, per_gt, need;
  uint8_t *buf;

  (void) o;
  if (fsize < 0)
    return ferry_error (FERRY_E_INPUT, "%s: a COWD extent needs random access",
                        e->name);
  if (ferry_transport_pread (e->t, b, sizeof b, 0) < 0)
    return -1;
  if (vmdk_le32 (b) != VMDK_COWD_MAGIC)
    return ferry_error (FERRY_E_INPUT, "%s: not a COWD (vmfsSparse) extent: "
                        "no COWD magic at offset 0", e->name);
  cap = vmdk_le32 (b + 12);
  gran = vmdk_le32 (b + 16);
  gd = vmdk_le32 (b + 20);
  n_gd = vmdk_le32 (b + 24);
  if (cap == 0)
    return ferry_error (FERRY_E_INPUT, "%s: COWD capacity at offset 12 is 0",
                        e->name);
  if (!gran || (gran & (gran - 1)) || gran > 16384)
    return ferry_error (FERRY_E_INPUT, "%s: COWD grain size %" PRIu64 " "
                        "sectors at offset 16 is not a power of two between 1 "
                        "and 16384", e->name, gran);
  per_gt = gran * COWD_GTES;
  need = (cap + per_gt - 1) / per_gt;
  if (n_gd < need || n_gd > need + 65536)
    return ferry_error (FERRY_E_INPUT, "%s: COWD grain directory has %" PRIu64
                        " entries (offset 24), but %" PRIu64 " are needed for "
                        "%" PRIu64 " sectors", e->name, n_gd, need, cap);
  if (gd == 0 || (gd + (n_gd * 4 + 511) / 512) * 512 > (uint64_t) fsize)
    return ferry_error (FERRY_E_INPUT, "%s: COWD grain directory at sector %"
                        PRIu64 " (offset 20) lies outside the file", e->name,
                        gd);
  if (e->length == 0)
    e->length = cap * VMDK_SECTOR;
  else if (e->length != cap * VMDK_SECTOR)
    return ferry_error (FERRY_E_INPUT, "%s: the descriptor's extent line says "
                        "%" PRIu64 " sectors, but the COWD header's capacity is "
                        "%" PRIu64 " sectors", e->name,
                        e->length / VMDK_SECTOR, cap);

  if (!(g = calloc (1, sizeof *g)))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  e->priv = g;
  g->e = e;
  g->file_size = (uint64_t) fsize;
  g->capacity = cap * VMDK_SECTOR;
  g->grain_bytes = gran * VMDK_SECTOR;
  g->gt_entries = COWD_GTES;
  g->entry_size = 4;
  g->decode = cowd_decode;
  g->n_gd = need;
  if (!(g->gt_offset = calloc (need, sizeof *g->gt_offset))
      || !(buf = malloc (need * 4)))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  if (ferry_transport_pread (e->t, buf, need * 4, gd * 512) < 0) {
    free (buf);
    return -1;
  }
  for (uint64_t i = 0; i < need; i++) {
    uint64_t sec = vmdk_le32 (buf + i * 4);
    if (sec && (sec < 4 || sec * 512 + COWD_GTES * 4 > (uint64_t) fsize)) {
      free (buf);
      return ferry_error (FERRY_E_INPUT, "%s: COWD grain directory entry %"
                          PRIu64 " points to sector %" PRIu64 ", %s", e->name,
                          i, sec, sec < 4 ? "inside the header"
                                          : "past the end of the file");
    }
    g->gt_offset[i] = sec * 512;
  }
  free (buf);
  return vmdk_gtab_init (g);
}

static int
cowd_read (struct vmdk_extent *e, void *buf, size_t count, uint64_t offset)
{
  return vmdk_gtab_read (e->priv, buf, count, offset);
}

static int
cowd_map (struct vmdk_extent *e, uint64_t offset, uint64_t length,
          struct ferry_extent_list *out)
{
  return vmdk_gtab_map (e->priv, offset, length, out);
}

static void
cowd_close (struct vmdk_extent *e)
{
  if (e->priv) {
    vmdk_gtab_free (e->priv);
    free (e->priv);
    e->priv = NULL;
  }
}

const struct vmdk_extent_ops vmdk_cowd_ops = {
  .name = "vmfsSparse",
  .open = cowd_open,
  .read = cowd_read,
  .map = cowd_map,
  .close = cowd_close,
};
