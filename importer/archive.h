/* ferry: OVA archives (tar) read in one forward pass with libarchive.
 *
 * A walk visits the members in archive order.  Each member can be read
 * through a sequential transport (forward-only, with the first
 * FERRY_SEQ_HEAD bytes re-readable so format probing works) that stays
 * valid until the walk moves to the next member.  Member names that are
 * absolute or contain "..", links, devices, FIFOs and directories holding
 * data are refused.
 *
 * While a member streams its SHA-256 and SHA-1 are computed.  A ".mf"
 * manifest member (VMware's "SHA256(name)= hex" lines) is read by the walk
 * itself and not returned: members that came before it are checked against
 * the digests recorded for them, members after it when they end, and at the
 * end of the walk every member the manifest lists must have been seen.
 */
#ifndef FERRY_IMPORTER_ARCHIVE_H
#define FERRY_IMPORTER_ARCHIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"
#include "importer/transport.h"

struct ferry_ova;

struct ferry_ova_member {
  const char *name; /* as stored, without a leading "./" */
  uint64_t size;    /* bytes */
  uint64_t index;   /* 0-based position in the archive */
};

/* Start a walk over the archive read from src (a local file, a URL, "-"),
 * which the walk owns and closes.  verify: compute digests and check the
 * manifest.  NULL with an error set on failure (src is closed). */
struct ferry_ova *ferry_ova_open (struct ferry_transport *src, bool verify,
                                  const struct ferry_log *log);

/* Move to the next member: the current one is read to its end (so its
 * digests are complete) and checked against the manifest.  1 with *m set,
 * 0 at the end of the archive (the manifest has then been fully checked),
 * -1 on error (bad entry, digest mismatch, truncated archive). */
int ferry_ova_next (struct ferry_ova *a, struct ferry_ova_member *m);

/* A new sequential transport over the current member's bytes, decompressed
 * if the member is compressed (see importer/decompress.h); close it
 * with ferry_transport_close (ferry_disk_close does).  It fails reads once
 * the walk has moved on.  At most one open per member. */
struct ferry_transport *ferry_ova_member_open (struct ferry_ova *a);

/* Read the current member to its end and check it against the manifest
 * (when the manifest is known).  Done by ferry_ova_next anyway; call it to
 * learn about a mismatch before committing what was made from the member. */
int ferry_ova_member_end (struct ferry_ova *a);

/* Read the whole current member into a NUL-terminated buffer (at most max
 * bytes).  Free with free(). */
char *ferry_ova_member_read_all (struct ferry_ova *a, size_t max, size_t *len);

/* True if t starts with a tar header block (an OVA read from a stream,
 * which has no name to go by).  Reads only the re-readable head. */
bool ferry_ova_probe (struct ferry_transport *t);

/* True once a manifest member was found. */
bool ferry_ova_has_manifest (const struct ferry_ova *a);

/* True if the archive can be opened and read again (not a stream). */
bool ferry_ova_rewindable (const struct ferry_ova *a);

/* True if a member of this name was already passed. */
bool ferry_ova_seen (const struct ferry_ova *a, const char *name);

void ferry_ova_close (struct ferry_ova *a);

#endif
