/* ferry: FLAT/VMFS and ZERO extents of a VMDK.
 *
 * A flat extent is a window of a plain file (at a sector offset).  The
 * file's own allocation (SEEK_HOLE, NBD block status) is passed up so a
 * thin-provisioned -flat.vmdk is not read in full.
 */
#include <inttypes.h>
#include <string.h>

#include "common/error.h"
#include "converters/vmdk.h"

static int
flat_open (struct vmdk_extent *e, const struct ferry_open_opts *o)
{
  int64_t size = ferry_transport_size (e->t);

  (void) o;
  /* A sequential (stream) transport has no size; reads past its end fail
   * with their own message. */
  if (size >= 0 && (uint64_t) size < e->file_offset + e->length)
    return ferry_error (FERRY_E_INPUT, "%s: file is %" PRId64 " bytes, but "
                        "the descriptor's extent needs %" PRIu64 " bytes "
                        "(offset %" PRIu64 " + size %" PRIu64 ")", e->name,
                        size, e->file_offset + e->length, e->file_offset,
                        e->length);
  return 0;
}

static int
flat_read (struct vmdk_extent *e, void *buf, size_t count, uint64_t offset)
{
  return ferry_transport_pread (e->t, buf, count, e->file_offset + offset);
}

static int
flat_map (struct vmdk_extent *e, uint64_t offset, uint64_t length,
          struct ferry_extent_list *out)
{
  while (length > 0) {
    enum ferry_bs_type bt = FERRY_BS_DATA;
    uint64_t n = length;

    if (e->t->ops->block_status) {
      if (e->t->ops->block_status (e->t, e->file_offset + offset, length,
                                   &bt, &n) < 0)
        return -1;
      if (n == 0 || n > length)
        n = length;
    }
    /* A hole in a flat file reads as zeros: it is not "unallocated in this
     * link" (flat extents have no parent), so ZERO, not HOLE. */
    if (ferry_extent_list_add (out, offset, n,
                               bt == FERRY_BS_HOLE ? FERRY_EXTENT_ZERO
                                                   : FERRY_EXTENT_DATA) < 0)
      return -1;
    offset += n;
    length -= n;
  }
  return 0;
}

static void
flat_close (struct vmdk_extent *e)
{
  (void) e;
}

const struct vmdk_extent_ops vmdk_flat_ops = {
  .name = "flat",
  .open = flat_open,
  .read = flat_read,
  .map = flat_map,
  .close = flat_close,
};

static int
zero_open (struct vmdk_extent *e, const struct ferry_open_opts *o)
{
  (void) e;
  (void) o;
  return 0;
}

static int
zero_read (struct vmdk_extent *e, void *buf, size_t count, uint64_t offset)
{
  (void) e;
  (void) offset;
  memset (buf, 0, count);
  return 0;
}

static int
zero_map (struct vmdk_extent *e, uint64_t offset, uint64_t length,
          struct ferry_extent_list *out)
{
  (void) e;
  return ferry_extent_list_add (out, offset, length, FERRY_EXTENT_ZERO);
}

const struct vmdk_extent_ops vmdk_zero_ops = {
  .name = "zero",
  .open = zero_open,
  .read = zero_read,
  .map = zero_map,
  .close = flat_close,
};
