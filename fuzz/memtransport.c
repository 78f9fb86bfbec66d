/* ferry fuzzing: a transport over the fuzzer's input buffer, random access
 * or sequential like standard input (importer/file.c): in sequential mode
 * the first FERRY_SEQ_HEAD bytes may be read again, the rest only
 * forwards. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "fuzz/memtransport.h"


struct mem {
  const uint8_t *data;
  size_t len;
  /* sequential mode: like standard input (importer/file.c), the first
   * FERRY_SEQ_HEAD bytes may be read again, the rest only forwards. */
  bool seq;
  size_t head_len;
  uint64_t pos;
  pthread_mutex_t lock;
};

static int64_t
mem_read_partial (struct ferry_transport *t, void *buf, size_t count,
                  uint64_t offset)
{
  struct mem *m = t->priv;
  size_t done = 0;
  uint8_t *b = buf;

  if (!m->seq) {
    if (offset >= m->len)
      return 0;
    done = m->len - offset < count ? (size_t) (m->len - offset) : count;
    memcpy (b, m->data + offset, done);
    return (int64_t) done;
  }

  pthread_mutex_lock (&m->lock);
  if (offset < m->head_len) {
    size_t n = m->head_len - (size_t) offset;
    if (n > count)
      n = count;
    memcpy (b, m->data + offset, n);
    b += n;
    count -= n;
    offset += n;
    done = n;
  }
  if (count > 0) {
    if (offset < m->pos) {
      pthread_mutex_unlock (&m->lock);
      return ferry_error (FERRY_E_INPUT, "%s: offset %llu was already passed; "
                          "this format cannot be read from a stream (try a "
                          "local file)", t->name,
                          (unsigned long long) offset);
    }
    if (offset < m->len) {
      size_t n = m->len - offset < count ? (size_t) (m->len - offset) : count;
      memcpy (b, m->data + offset, n);
      done += n;
      m->pos = offset + n;
    }
    else
      m->pos = m->len;
  }
  pthread_mutex_unlock (&m->lock);
  return (int64_t) done;
}

static int
mem_pread (struct ferry_transport *t, void *buf, size_t count,
           uint64_t offset)
{
  struct mem *m = t->priv;
  int64_t r;

  if (!m->seq && (offset > m->len || count > m->len - offset))
    return ferry_error (FERRY_E_INPUT, "%s: read of %zu bytes at offset %llu "
                        "is past the end of the file (size %zu)", t->name,
                        count, (unsigned long long) offset, m->len);
  r = mem_read_partial (t, buf, count, offset);
  if (r < 0)
    return -1;
  if ((size_t) r < count)
    return ferry_error (FERRY_E_INPUT, "%s: unexpected end of stream at "
                        "offset %llu (truncated input?)", t->name,
                        (unsigned long long) (offset + (uint64_t) r));
  return 0;
}

static int64_t
mem_size (struct ferry_transport *t)
{
  struct mem *m = t->priv;

  return m->seq ? -1 : (int64_t) m->len;
}

static int
mem_block_status (struct ferry_transport *t, uint64_t offset, uint64_t count,
                  enum ferry_bs_type *type, uint64_t *len)
{
  (void) t;
  (void) offset;
  *type = FERRY_BS_DATA;
  *len = count;
  return 0;
}

static void
mem_close (struct ferry_transport *t)
{
  struct mem *m = t->priv;

  pthread_mutex_destroy (&m->lock);
  free (m);
}

static const struct ferry_transport_ops mem_ops = {
  .name = "memory",
  .pread = mem_pread,
  .size = mem_size,
  .block_status = mem_block_status,
  .close = mem_close,
  /* no open_sibling: extent files and parents cannot be reached */
};

static const struct ferry_transport_ops mem_seq_ops = {
  .name = "memory-stream",
  .pread = mem_pread,
  .pread_partial = mem_read_partial,
  .size = mem_size,
  .close = mem_close,
};

struct ferry_transport *
fuzz_mem_open (const uint8_t *data, size_t len, bool seq,
               const char *name)
{
  struct mem *m = calloc (1, sizeof *m);
  struct ferry_transport *t;

  if (!m)
    return NULL;
  m->data = data;
  m->len = len;
  m->seq = seq;
  m->head_len = len < FERRY_SEQ_HEAD ? len : FERRY_SEQ_HEAD;
  m->pos = m->head_len;
  pthread_mutex_init (&m->lock, NULL);
  t = ferry_transport_new (seq ? &mem_seq_ops : &mem_ops,
                           name, m);
  if (!t) {
    pthread_mutex_destroy (&m->lock);
    free (m);
    return NULL;
  }
  t->sequential = seq;
  return t;
}
