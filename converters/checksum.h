/* ferry: the disk checksum.
 *
 * A plain SHA-256 of a disk must be computed front to back on one core and
 * must hash every zero byte of a sparse disk.  ferry's checksum is a
 * two-level SHA-256 instead, so copy threads hash their own parts and a
 * block of zeros costs a table lookup:
 *
 *   leaf[i] = SHA-256 (bytes [i*1MiB, (i+1)*1MiB) of the logical disk;
 *                      the last leaf may be shorter)
 *   digest  = SHA-256 (leaf[0] || leaf[1] || ... || le64 (virtual size))
 *
 * It is printed as "sha256-tree:" + hex.  docs/ferry.1 gives the definition
 * so other tools can compute it (tests do, with an independent script).
 */
#ifndef FERRY_CONVERTERS_CHECKSUM_H
#define FERRY_CONVERTERS_CHECKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FERRY_CSUM_LEAF (1024u * 1024)
#define FERRY_CSUM_LEN 32
#define FERRY_CSUM_PREFIX "sha256-tree:"

/* Hashes one leaf from pieces given in order. */
struct ferry_leaf_hasher;

struct ferry_leaf_hasher *ferry_leaf_hasher_new (void);
void ferry_leaf_hasher_free (struct ferry_leaf_hasher *h);
/* Start the leaf that begins at disk offset leaf_start. */
int ferry_leaf_begin (struct ferry_leaf_hasher *h);
int ferry_leaf_update (struct ferry_leaf_hasher *h, const void *buf,
                       size_t len);
int ferry_leaf_update_zeros (struct ferry_leaf_hasher *h, size_t len);
int ferry_leaf_end (struct ferry_leaf_hasher *h, uint8_t out[FERRY_CSUM_LEN]);

/* Digest of a leaf of len zero bytes (len <= FERRY_CSUM_LEAF). */
int ferry_zero_leaf_digest (size_t len, uint8_t out[FERRY_CSUM_LEN]);

/* The root: leaf digests folded in disk order. */
struct ferry_root_hasher;

struct ferry_root_hasher *ferry_root_hasher_new (void);
int ferry_root_add (struct ferry_root_hasher *r,
                    const uint8_t leaf[FERRY_CSUM_LEN]);
int ferry_root_final (struct ferry_root_hasher *r, uint64_t virtual_size,
                      char hex[2 * FERRY_CSUM_LEN + 1]);
void ferry_root_hasher_free (struct ferry_root_hasher *r);

#endif
