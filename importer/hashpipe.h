/* ferry: message digests computed in a thread of their own.
 *
 * An archive member is hashed as it streams past, and the SHA-256 of a
 * disk costs about as much CPU as inflating it; done inline it held the
 * whole stream back.  The bytes are digested by a second thread while
 * the reader goes on: read from the same read-ahead chunks the reader
 * takes (a tap), or else copied into a small ring.
 */
#ifndef FERRY_IMPORTER_HASHPIPE_H
#define FERRY_IMPORTER_HASHPIPE_H

#include <openssl/evp.h>
#include <stddef.h>

struct ferry_hashpipe;

/* Start the hashing thread; NULL on error (message set). */
struct ferry_hashpipe *ferry_hashpipe_new (void);

/* Stop the thread and free everything.  NULL is allowed. */
void ferry_hashpipe_free (struct ferry_hashpipe *hp);

/* From now on, bytes fed are added to the initialised contexts a and b
 * (either may be NULL).  The caller must not touch them until
 * ferry_hashpipe_wait has returned. */
void ferry_hashpipe_begin (struct ferry_hashpipe *hp, EVP_MD_CTX *a,
                           EVP_MD_CTX *b);

/* Queue len bytes (copied) for the contexts; waits while the ring is
 * full.  0 or -1 (an earlier update failed; message set). */
int ferry_hashpipe_feed (struct ferry_hashpipe *hp, const void *buf,
                         size_t len);

/* Digest the range of ra's tap (ferry_readahead_tap_start) instead of
 * fed bytes: nothing is copied.  Nothing may be fed until
 * ferry_hashpipe_wait; the tap must be cancelled before the pipe is
 * freed unless it was waited for. */
struct ferry_readahead;
void ferry_hashpipe_tap (struct ferry_hashpipe *hp,
                         struct ferry_readahead *ra);

/* Wait until everything fed has been digested; the contexts are the
 * caller's again.  0 or -1 (message set). */
int ferry_hashpipe_wait (struct ferry_hashpipe *hp);

#endif
