/* ferry: SESparse extents (the "-sesparse.vmdk" of vSphere 6.5+ snapshots).
 *
 * A constant header (magic 0xcafebabe) gives regions in sectors: volatile
 * header, journal, grain directory, grain tables, grains.  Entries are
 * 64-bit with a type in the top nibble.  ferry reads these files, never
 * writes them, and refuses one whose journal still needs replaying: its
 * tables may not describe the data.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "common/error.h"
#include "converters/vmdk.h"

#define SES_VERSION UINT64_C (0x200000001)
#define SES_VOLATILE_MAGIC UINT64_C (0xcafecafe)
#define SES_GRAIN_SECTORS 8
#define SES_GT_SECTORS 64
#define SES_GTES (SES_GT_SECTORS * 512 / 8)

struct ses {
  struct vmdk_gtab g;
  uint64_t grains_offset, grains_size; /* sectors */
};

static int
ses_decode (struct vmdk_gtab *g, uint64_t grain, uint64_t raw,
            enum vmdk_grain_state *st, uint64_t *file_off)
{
  struct ses *s = (struct ses *) g;
  uint64_t idx;

  switch (raw >> 60) {
  case 0:
    if (raw != 0)
      break;
    *st = VMDK_GRAIN_UNALLOC;
    return 0;
  case 1: /* unmapped by the guest: reads as zeros */
  case 2: /* zero grain */
    *st = VMDK_GRAIN_ZERO;
    return 0;
  case 3:
    idx = ((raw & UINT64_C (0x0fff000000000000)) >> 48)
          | ((raw & UINT64_C (0x0000ffffffffffff)) << 12);
    if (idx >= s->grains_size / SES_GRAIN_SECTORS)
      return ferry_error (FERRY_E_INPUT, "%s: grain table entry for grain %"
                          PRIu64 " points to grain %" PRIu64 ", outside the "
                          "grain region", g->e->name, grain, idx);
    *st = VMDK_GRAIN_DATA;
    *file_off = (s->grains_offset + idx * SES_GRAIN_SECTORS) * VMDK_SECTOR;
    if (*file_off + g->grain_bytes > g->file_size)
      return ferry_error (FERRY_E_INPUT, "%s: grain table entry for grain %"
                          PRIu64 " points past the end of the file",
                          g->e->name, grain);
    return 0;
  }
  return ferry_error (FERRY_E_INPUT, "%s: grain table entry for grain %" PRIu64
                      " has the invalid value 0x%016" PRIx64, g->e->name,
                      grain, raw);
}

static int
ses_open (struct vmdk_extent *e, const struct ferry_open_opts *o)
{
  uint8_t b[512], v[512];
  struct ses *s;
  struct vmdk_gtab *g;
  int64_t fsize = ferry_transport_size (e->t);
  uint64_t cap, vol, gd, gd_size, gt_off, gt_size, n_gd, per_gt;
  uint8_t *buf;

  (void) o;
  if (fsize < 0)
    return ferry_error (FERRY_E_INPUT, "%s: a SESparse extent needs random "
                        "access", e->name);
  if (ferry_transport_pread (e->t, b, sizeof b, 0) < 0)
    return -1;
  if (vmdk_le64 (b) != VMDK_SESPARSE_MAGIC)
    return ferry_error (FERRY_E_INPUT, "%s: not a SESparse extent: no "
                        "0xcafebabe magic at offset 0", e->name);
  if (vmdk_le64 (b + 8) != SES_VERSION)
    return ferry_error (FERRY_E_INPUT, "%s: SESparse version 0x%" PRIx64 " at "
                        "offset 8 is not supported (ferry reads 0x200000001)",
                        e->name, vmdk_le64 (b + 8));
  cap = vmdk_le64 (b + 16);
  if (vmdk_le64 (b + 24) != SES_GRAIN_SECTORS
      || vmdk_le64 (b + 32) != SES_GT_SECTORS)
    return ferry_error (FERRY_E_INPUT, "%s: SESparse grain size %" PRIu64 " / "
                        "grain table size %" PRIu64 " sectors (offsets 24, 32) "
                        "are not the 8 / 64 every SESparse file uses", e->name,
                        vmdk_le64 (b + 24), vmdk_le64 (b + 32));
  if (vmdk_le64 (b + 40) != 0)
    return ferry_error (FERRY_E_INPUT, "%s: SESparse flags 0x%" PRIx64 " at "
                        "offset 40 are not supported", e->name,
                        vmdk_le64 (b + 40));
  if (cap == 0 || cap > VMDK_MAX_CAPACITY / VMDK_SECTOR)
    return ferry_error (FERRY_E_INPUT, "%s: SESparse capacity %" PRIu64
                        " sectors at offset 16 is %s", e->name, cap,
                        cap ? "absurdly large" : "zero");
  vol = vmdk_le64 (b + 80);
  gd = vmdk_le64 (b + 128);
  gd_size = vmdk_le64 (b + 136);
  gt_off = vmdk_le64 (b + 144);
  gt_size = vmdk_le64 (b + 152);

  if (vol == 0 || vol > (uint64_t) fsize / 512 - 1)
    return ferry_error (FERRY_E_INPUT, "%s: SESparse volatile header sector %"
                        PRIu64 " (offset 80) lies outside the file", e->name,
                        vol);
  if (ferry_transport_pread (e->t, v, sizeof v, vol * 512) < 0)
    return -1;
  if (vmdk_le64 (v) != SES_VOLATILE_MAGIC)
    return ferry_error (FERRY_E_INPUT, "%s: SESparse volatile header at sector "
                        "%" PRIu64 " has no 0xcafecafe magic", e->name, vol);
  if (vmdk_le64 (v + 24) != 0)
    return ferry_error (FERRY_E_INPUT, "%s: the SESparse journal is dirty "
                        "(replayJournal is set): the snapshot was not closed "
                        "cleanly; consolidate or power-cycle it in vSphere and "
                        "export again", e->name);

  per_gt = (uint64_t) SES_GTES * SES_GRAIN_SECTORS;
  n_gd = (cap + per_gt - 1) / per_gt;
  if (n_gd > gd_size * 64)
    return ferry_error (FERRY_E_INPUT, "%s: SESparse grain directory (%" PRIu64
                        " sectors, offset 136) is too small for %" PRIu64
                        " sectors of capacity", e->name, gd_size, cap);
  if (gd == 0 || gd > (uint64_t) fsize / 512
      || (gd + (n_gd * 8 + 511) / 512) * 512 > (uint64_t) fsize)
    return ferry_error (FERRY_E_INPUT, "%s: SESparse grain directory at sector "
                        "%" PRIu64 " (offset 128) lies outside the file",
                        e->name, gd);
  if (e->length == 0)
    e->length = cap * VMDK_SECTOR;
  else if (e->length != cap * VMDK_SECTOR)
    return ferry_error (FERRY_E_INPUT, "%s: the descriptor's extent line says "
                        "%" PRIu64 " sectors, but the SESparse capacity is %"
                        PRIu64 " sectors", e->name, e->length / VMDK_SECTOR,
                        cap);

  if (!(s = calloc (1, sizeof *s)))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  e->priv = s;
  g = &s->g;
  g->e = e;
  g->file_size = (uint64_t) fsize;
  g->capacity = cap * VMDK_SECTOR;
  g->grain_bytes = SES_GRAIN_SECTORS * VMDK_SECTOR;
  g->gt_entries = SES_GTES;
  g->entry_size = 8;
  g->decode = ses_decode;
  g->n_gd = n_gd;
  s->grains_offset = vmdk_le64 (b + 192);
  s->grains_size = vmdk_le64 (b + 200);
  if (!(g->gt_offset = calloc (n_gd, sizeof *g->gt_offset))
      || !(buf = malloc (n_gd * 8)))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  if (ferry_transport_pread (e->t, buf, n_gd * 8, gd * 512) < 0) {
    free (buf);
    return -1;
  }
  for (uint64_t i = 0; i < n_gd; i++) {
    uint64_t raw = vmdk_le64 (buf + i * 8), idx, off;
    if (raw == 0)
      continue;
    idx = raw & 0xffffffffu;
    off = (gt_off + idx * SES_GT_SECTORS) * 512;
    if ((raw >> 32) != 0x10000000u || idx * SES_GT_SECTORS >= gt_size
        || off + SES_GT_SECTORS * 512 > (uint64_t) fsize) {
      free (buf);
      return ferry_error (FERRY_E_INPUT, "%s: SESparse grain directory entry %"
                          PRIu64 " (0x%016" PRIx64 ") is not a valid grain "
                          "table reference", e->name, i, raw);
    }
    g->gt_offset[i] = off;
  }
  free (buf);
  return vmdk_gtab_init (g);
}

static int
ses_read (struct vmdk_extent *e, void *buf, size_t count, uint64_t offset)
{
  return vmdk_gtab_read (e->priv, buf, count, offset);
}

static int
ses_map (struct vmdk_extent *e, uint64_t offset, uint64_t length,
         struct ferry_extent_list *out)
{
  return vmdk_gtab_map (e->priv, offset, length, out);
}

static void
ses_close (struct vmdk_extent *e)
{
  if (e->priv) {
    vmdk_gtab_free (e->priv);
    free (e->priv);
    e->priv = NULL;
  }
}

const struct vmdk_extent_ops vmdk_sesparse_ops = {
  .name = "seSparse",
  .open = ses_open,
  .read = ses_read,
  .map = ses_map,
  .close = ses_close,
};
