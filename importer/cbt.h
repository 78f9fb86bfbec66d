/* ferry: change lists for incremental sync.
 *
 * A change list says which byte ranges of a disk changed since a change
 * id, and names the change id it brings the copy to.  Three sources fill
 * it: an NBD dirty bitmap, a JSON file shaped like vSphere's
 * DiskChangeInfo, and "everything" (change id "*": a full copy).
 * Whatever the source, the ranges are validated (inside the disk, no
 * overflow, no overlaps), sorted and merged before use.
 */
#ifndef FERRY_IMPORTER_CBT_H
#define FERRY_IMPORTER_CBT_H

#include <stddef.h>
#include <stdint.h>

#include "converters/copy.h"

struct ferry_changes {
  char *change_id;      /* the id this list brings the copy to */
  char *since;          /* the id it is relative to; "*" = from nothing;
                           NULL = the source cannot say (NBD bitmaps) */
  struct ferry_range *v;
  size_t n;
};

void ferry_changes_free (struct ferry_changes *c);

/* Sort, check (inside disk_size, no overflow, no overlap) and merge
 * adjacent ranges.  name and field prefix the messages. */
int ferry_changes_normalize (struct ferry_changes *c, uint64_t disk_size,
                             const char *name);

/* The whole disk. */
int ferry_changes_everything (uint64_t disk_size, const char *change_id,
                              struct ferry_changes *out);

/* A DiskChangeInfo JSON file:
 *   { "changeId": "NEW", "previousChangeId": "OLD" | "*",
 *     "startOffset": N, "length": N,
 *     "changedArea": [ { "start": N, "length": N }, ... ] }
 * (also accepted wrapped as { "diskChangeInfo": { ... } }, and with
 * "changeId"/"previousChangeId" beside the wrapper). */
int ferry_changes_from_json (const char *path, uint64_t disk_size,
                             struct ferry_changes *out);
/* The same from text already in memory (len bytes; name for messages). */
int ferry_changes_parse_json (const char *text, size_t len, const char *name,
                              uint64_t disk_size, struct ferry_changes *out);

/* The dirty ranges of bitmap NAME on an NBD export (meta context
 * qemu:dirty-bitmap:NAME).  change_id is the bitmap name.  disk_size 0:
 * take the export's size.  Servers often allow one client at a time, so
 * call this before opening the disk. */
int ferry_changes_from_nbd_bitmap (const char *uri, const char *bitmap,
                                   uint64_t disk_size,
                                   struct ferry_changes *out);

/* out = a minus b (both sorted, merged).  Used to skip what a killed
 * run already copied. */
int ferry_ranges_subtract (const struct ferry_range *a, size_t na,
                           const struct ferry_range *b, size_t nb,
                           struct ferry_range **out, size_t *nout);

/* Add r to a sorted, merged list (merging what it touches). */
int ferry_ranges_add (struct ferry_range **v, size_t *n, size_t *cap,
                      struct ferry_range r);

#endif
