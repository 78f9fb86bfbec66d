/* ferry: forward-only reading shared by the stream transports. */
#include <string.h>

#include "common/error.h"
#include "importer/seqread.h"

int64_t
ferry_seq_read (struct ferry_transport *t, const struct ferry_seq_stream *s,
                char *buf, size_t count, uint64_t offset)
{
  size_t done = 0;

  if (offset < s->head_len) {
    size_t n = s->head_len - (size_t) offset;
    if (n > count)
      n = count;
    memcpy (buf, s->head + offset, n);
    buf += n;
    count -= n;
    offset += n;
    done = n;
  }
  if (count == 0)
    return (int64_t) done;
  if (offset < *s->pos)
    return ferry_error (FERRY_E_INPUT, "%s: offset %llu was already passed; "
                        "%s", t->name, (unsigned long long) offset,
                        s->passed_hint);
  while (*s->pos < offset) {
    char skip[65536];
    uint64_t want = offset - *s->pos;
    int64_t r = s->pull (s->ctx, skip, want < sizeof skip ? (size_t) want
                                                          : sizeof skip);
    if (r < 0)
      return -1;
    if (r == 0)
      return (int64_t) done;
  }
  while (count > 0) {
    int64_t r = s->pull (s->ctx, buf, count);
    if (r < 0)
      return -1;
    if (r == 0)
      break;
    buf += r;
    count -= (size_t) r;
    done += (size_t) r;
  }
  return (int64_t) done;
}
