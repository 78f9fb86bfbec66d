/* ferry: reading a random-access transport front to back with the next
 * chunks fetched ahead by threads of their own.
 *
 * An archive walked in one pass asks for its bytes one chunk at a time and
 * does real work between two asks (untarring, hashing, inflating).  Over
 * HTTP each chunk is a request, and reading it in the walking thread left
 * the network idle while the thread worked and the thread idle while the
 * network worked.
 */
#ifndef FERRY_IMPORTER_READAHEAD_H
#define FERRY_IMPORTER_READAHEAD_H

#include <stddef.h>
#include <stdint.h>

#include "importer/transport.h"

struct ferry_readahead;

/* Read t (random access, size known) from offset on.  NULL on error
 * (message set).  t stays the caller's. */
struct ferry_readahead *ferry_readahead_new (struct ferry_transport *t,
                                             uint64_t offset);

/* The next chunk: *data points to its bytes, valid until the next call.
 * Returns its length, 0 at the end, -1 on error (message set: the
 * transport's, naming the file and offset). */
int64_t ferry_readahead_next (struct ferry_readahead *ra, const void **data);

/* Continue from offset instead (what was fetched ahead is dropped). */
void ferry_readahead_seek (struct ferry_readahead *ra, uint64_t offset);

/* The tap: a second reader, in another thread, of the range
 * [offset, offset + len) of the same bytes, served from the same chunks
 * without a copy (an archive member's digest is computed from it while
 * the walk unpacks the member).  Chunks are fetched over again only once
 * both readers have passed them, so a slow tap holds the walk back by at
 * most the chunks in memory.  The range must not start before the main
 * reader's current chunk: -1 (no message) if it does or a tap is under
 * way, and the caller reads the member another way. */
int ferry_readahead_tap_start (struct ferry_readahead *ra, uint64_t offset,
                               uint64_t len);

/* The tap's next piece, valid until its next call: its length, 0 at the
 * end of the range (the tap is then over), -1 on a read error or a
 * cancelled tap (message set). */
int64_t ferry_readahead_tap_next (struct ferry_readahead *ra,
                                  const void **data);

/* End the tap now; a tap_next waiting or to come returns -1.  Also done
 * by a seek.  NULL is allowed. */
void ferry_readahead_tap_cancel (struct ferry_readahead *ra);

/* The tap's reader must have stopped calling tap_next first. */
void ferry_readahead_free (struct ferry_readahead *ra);

#endif
