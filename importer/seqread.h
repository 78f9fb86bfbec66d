/* ferry: forward-only reading, shared by the transports that read a
 * stream (standard input, an HTTP body without Range support, an archive
 * member, a decompressor's output).
 *
 * Such a stream keeps its first FERRY_SEQ_HEAD bytes so that probing and
 * header parsing may read them again; any other read must not go back
 * before the point the stream has reached.  Bytes skipped over are read
 * and dropped.
 */
#ifndef FERRY_IMPORTER_SEQREAD_H
#define FERRY_IMPORTER_SEQREAD_H

#include <stddef.h>
#include <stdint.h>

#include "importer/transport.h"

/* Take up to count bytes from the stream and advance its position by what
 * it returns: 0 at the end, -1 on error (message set). */
typedef int64_t (*ferry_seq_pull) (void *ctx, char *buf, size_t count);

struct ferry_seq_stream {
  const unsigned char *head; /* the kept start of the stream */
  size_t head_len;
  const uint64_t *pos;       /* bytes consumed so far; pull advances it */
  ferry_seq_pull pull;
  void *ctx;
  const char *passed_hint;   /* why going back is impossible, for messages */
};

/* Read up to count bytes at offset; returns how many (short only at the
 * end of the stream) or -1.  The caller serialises calls. */
int64_t ferry_seq_read (struct ferry_transport *t,
                        const struct ferry_seq_stream *s, char *buf,
                        size_t count, uint64_t offset);

#endif
