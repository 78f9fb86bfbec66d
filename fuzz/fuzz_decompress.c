/* libFuzzer target: compressed sources (importer/decompress.c).  The input
 * is taken as a file that may be gzip, xz, zstd or bzip2 compressed; it is
 * wrapped the way ferry_transport_open wraps a file, then read as
 * `ferry convert` reads a stream: format probing on the re-readable head,
 * then the raw or streamOptimized VMDK reader front to back.  A second pass
 * reads the decompressed bytes directly, in odd-sized pieces, re-reading
 * the head and skipping forward.
 *
 * Work per input is bounded (1 MiB of decompressed data per pass), so
 * decompression bombs end in the budget, not a timeout.  Besides memory
 * errors, a failure must leave a message, and reads must agree with
 * each other.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "converters/format.h"
#include "fuzz/memtransport.h"
#include "importer/decompress.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define BUDGET (1024 * 1024)

static struct ferry_log quiet_log = { .level = FERRY_LOG_ERROR };

static void
broken (const char *what)
{
  fprintf (stderr, "fuzz_decompress: invariant violated: %s\n", what);
  abort ();
}

static void
check_failed (const char *what)
{
  if (!ferry_error_msg ()[0])
    broken (what);
  ferry_error_clear ();
}

struct budget {
  uint64_t left, next;
};

static int
stream_cb (void *opaque, uint64_t offset, const void *buf, size_t len)
{
  struct budget *b = opaque;

  (void) buf;
  (void) offset;
  if (len >= b->left)
    return ferry_error (FERRY_E_INPUT, "fuzz: stream budget spent");
  b->left -= len;
  return 0;
}

static struct ferry_transport *
open_wrapped (const uint8_t *data, size_t size, bool seq)
{
  struct ferry_transport *t = fuzz_mem_open (data, size, seq, "fuzz.z");

  if (!t)
    return NULL;
  ferry_error_clear ();
  struct ferry_transport *w = ferry_decompress_wrap (t, &quiet_log);
  if (!w)
    check_failed ("wrap failed without a message");
  else if (ferry_compression_probe (data, size) && w == t)
    broken ("compressed input not wrapped");
  else if (!ferry_compression_probe (data, size) && w != t)
    broken ("uncompressed input wrapped");
  return w;
}

/* The reader path: probe, open, stream. */
static void
through_reader (const uint8_t *data, size_t size, bool seq)
{
  struct ferry_open_opts o = { .log = &quiet_log };
  struct ferry_transport *w = open_wrapped (data, size, seq);
  struct ferry_disk *d;

  if (!w)
    return;
  if (!ferry_transport_compression (w)) {
    ferry_transport_close (w);
    return;
  }
  if (!w->sequential)
    broken ("decompressing transport not sequential");
  if (!(d = ferry_disk_open (w, &o))) {
    check_failed ("disk open failed without a message");
    return;
  }
  if (!d->sequential)
    broken ("disk over a decompressing transport not sequential");
  struct budget b = { BUDGET, 0 };
  if (d->ops->stream (d, stream_cb, &b) < 0)
    check_failed ("stream failed without a message");
  ferry_disk_close (d);
}

/* Direct reads: the head twice, then forward in uneven pieces; a read
 * behind the position fails with a message. */
static void
direct (const uint8_t *data, size_t size)
{
  struct ferry_transport *w = open_wrapped (data, size, true);
  static uint8_t a[FERRY_SEQ_HEAD], b[FERRY_SEQ_HEAD];
  uint8_t *buf;
  int64_t n1, n2;
  uint64_t off, reached;
  size_t step = 509 + (size % 70001);

  if (!w)
    return;
  if (!ferry_transport_compression (w)) {
    ferry_transport_close (w);
    return;
  }
  if (ferry_transport_size (w) != -1)
    broken ("decompressed size should be unknown");
  n1 = w->ops->pread_partial (w, a, sizeof a, 0);
  n2 = w->ops->pread_partial (w, b, sizeof b, 0);
  if (n1 < 0 || n2 < 0) {
    check_failed ("head read failed without a message");
    ferry_transport_close (w);
    return;
  }
  if (n1 != n2 || memcmp (a, b, (size_t) n1) != 0)
    broken ("the head reads differently twice");
  if (!(buf = malloc (step))) {
    ferry_transport_close (w);
    return;
  }
  off = (uint64_t) n1 + (size % 3) * 1000;
  reached = (uint64_t) n1;
  while (off < BUDGET) {
    int64_t r = w->ops->pread_partial (w, buf, step, off);
    if (r < 0) {
      check_failed ("read failed without a message");
      break;
    }
    if (r == 0)
      break;
    if ((uint64_t) r > step)
      broken ("read returned more than asked");
    off += (uint64_t) r;
    reached = off;
  }
  if (reached > FERRY_SEQ_HEAD + 1
      && w->ops->pread_partial (w, buf, 1, FERRY_SEQ_HEAD) >= 0)
    broken ("a read behind the position succeeded");
  ferry_error_clear ();
  free (buf);
  ferry_transport_close (w);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  quiet_log.out = fopen ("/dev/null", "w");
  if (!quiet_log.out)
    quiet_log.level = -1;
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  through_reader (data, size, size & 1);
  direct (data, size);
  return 0;
}
