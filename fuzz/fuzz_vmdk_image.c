/* libFuzzer target: a whole VMDK image file (hosted sparse "KDMV",
 * streamOptimized, COWD, SESparse, or a bare descriptor).
 *
 * The input is served from memory by a tiny transport with no
 * open_sibling, so descriptors that name other files fail cleanly.  The
 * disk is opened with format "vmdk", mapped, and read in a bounded number
 * of places; then, as the CLI does for standard input, opened again on a
 * sequential transport and streamed.  Work per input is capped (about
 * 4 MiB of reads, 16 MiB of streamed data) whatever capacity the header
 * claims.
 *
 * Besides ASan/UBSan/LSan findings, the target aborts on broken reader
 * contracts: an extent map that does not tile the asked range, a ZERO or
 * (top-level) HOLE extent that reads as non-zero, stream data outside the
 * disk, or a failure without an error message.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "converters/format.h"
#include "converters/vmdk.h"
#include "fuzz/memtransport.h"
#include "importer/transport.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

#define READ_BUDGET (4u * 1024 * 1024)
#define FIRST_READ (2u * 1024 * 1024)
#define STREAM_BUDGET (16u * 1024 * 1024)

static struct ferry_log quiet_log = { .level = FERRY_LOG_DEBUG };

static void
broken (const char *fmt, ...) __attribute__ ((format (printf, 1, 2), noreturn));

static void
broken (const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "fuzz_vmdk_image: reader contract violated: ");
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, " (last error: %s)\n", ferry_error_msg ());
  abort ();
}

/* A failing call must leave a message (error.h). */
static void
check_failed (const char *what)
{
  if (strcmp (ferry_error_msg (), "unknown error") == 0)
    broken ("%s failed without setting an error message", what);
  ferry_error_clear ();
}

/* ---- random access ----------------------------------------------------- */

static uint64_t read_left;

static bool
all_zero (const uint8_t *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (p[i])
      return false;
  return true;
}

/* Read [off, off+len) clipped to the disk and the budget.  If must_be_zero,
 * the range was mapped ZERO or HOLE and must read as zeros. */
static void
do_read (struct ferry_disk *d, uint64_t off, uint64_t len, bool must_be_zero)
{
  uint8_t *buf;

  if (off >= d->size || read_left == 0)
    return;
  if (len > d->size - off)
    len = d->size - off;
  if (len > read_left)
    len = read_left;
  if (len == 0)
    return;
  read_left -= len;
  /* Exactly the size asked for, so ASan sees a reader writing past it;
   * filled with a pattern so a reader that leaves bytes unset is seen by
   * the zero check. */
  buf = malloc ((size_t) len);
  if (!buf)
    return;
  memset (buf, 0xa5, (size_t) len);
  ferry_error_clear ();
  if (d->ops->read (d, buf, (size_t) len, off) < 0)
    check_failed ("read");
  else if (must_be_zero && !all_zero (buf, (size_t) len))
    broken ("[%llu, +%llu) is mapped as zero/hole but does not read as zeros",
            (unsigned long long) off, (unsigned long long) len);
  free (buf);
}

static void
random_access (const uint8_t *data, size_t size)
{
  struct ferry_open_opts o = { .format = "vmdk", .log = &quiet_log };
  struct ferry_transport *t = fuzz_mem_open (data, size, false, "fuzz.vmdk");
  struct ferry_extent_list l = { 0 };
  struct ferry_disk *d;
  uint64_t covered = 0, seed = 0x9e3779b97f4a7c15ull;

  if (!t)
    return;
  ferry_error_clear ();
  d = ferry_disk_open (t, &o);
  if (!d) {
    check_failed ("ferry_disk_open");
    return;
  }
  if (d->size > VMDK_MAX_CAPACITY)
    broken ("disk size %llu above VMDK_MAX_CAPACITY",
            (unsigned long long) d->size);

  /* The map of the whole disk must tile it exactly. */
  ferry_error_clear ();
  if (d->ops->extents (d, 0, d->size, &l) < 0) {
    check_failed ("extents");
    l.n = 0;
  }
  else {
    for (size_t i = 0; i < l.n; i++) {
      const struct ferry_extent *e = &l.v[i];
      if (e->offset != covered || e->length == 0
          || e->length > d->size - e->offset
          || (e->type != FERRY_EXTENT_DATA && e->type != FERRY_EXTENT_ZERO
              && e->type != FERRY_EXTENT_HOLE))
        broken ("extent %zu [%llu, +%llu) type %d does not continue the map "
                "at %llu of a %llu-byte disk", i,
                (unsigned long long) e->offset,
                (unsigned long long) e->length, (int) e->type,
                (unsigned long long) covered, (unsigned long long) d->size);
      covered += e->length;
    }
    if (covered != d->size)
      broken ("extents cover %llu of %llu bytes", (unsigned long long) covered,
              (unsigned long long) d->size);
  }

  read_left = READ_BUDGET;
  /* The start of the disk, in one call. */
  do_read (d, 0, FIRST_READ, false);
  /* A few extents: the head of each (checked against its type), and an
   * unaligned range straddling its end. */
  for (size_t k = 0; k < 8 && l.n > 0; k++) {
    size_t i;
    const struct ferry_extent *e;
    uint64_t n;

    if (k == 0)
      i = 0;
    else if (k == 1)
      i = l.n - 1;
    else {
      seed ^= seed << 13;
      seed ^= seed >> 7;
      seed ^= seed << 17;
      i = (size_t) (seed % l.n);
    }
    e = &l.v[i];
    n = e->length < 64 * 1024 ? e->length : 64 * 1024;
    do_read (d, e->offset, n, e->type != FERRY_EXTENT_DATA);
    if (e->offset + e->length > 700)
      do_read (d, e->offset + e->length - 700, 1400, false);
  }
  /* The very end of the disk, unaligned. */
  if (d->size > 4099)
    do_read (d, d->size - 4099, 4099, false);
  /* Past the end: must fail, not crash. */
  {
    uint8_t b[512];
    ferry_error_clear ();
    if (d->ops->read (d, b, sizeof b, d->size) == 0)
      broken ("read past the end of the disk succeeded");
    check_failed ("read past the end");
  }

  ferry_extent_list_free (&l);
  ferry_disk_close (d);
}

/* ---- sequential -------------------------------------------------------- */

struct stream_state {
  uint64_t size, delivered;
};

static int
stream_cb (void *opaque, uint64_t offset, const void *buf, size_t len)
{
  struct stream_state *s = opaque;
  const volatile uint8_t *p = buf;
  uint8_t x = 0;

  if (offset > s->size || len > s->size - offset)
    broken ("stream delivered [%llu, +%zu) outside the %llu-byte disk",
            (unsigned long long) offset, len, (unsigned long long) s->size);
  /* Touch every byte so ASan checks the buffer really holds len bytes. */
  for (size_t i = 0; i < len; i++)
    x ^= p[i];
  (void) x;
  s->delivered += len;
  if (s->delivered > STREAM_BUDGET)
    return ferry_error (FERRY_E_OUTPUT, "fuzz: stream budget exhausted");
  return 0;
}

static void
sequential (const uint8_t *data, size_t size)
{
  struct ferry_open_opts o = { .format = "vmdk", .sequential = true,
                               .log = &quiet_log };
  struct ferry_transport *t;
  struct ferry_disk *d;
  struct stream_state s = { 0 };

  if (!ferry_format_vmdk.stream)
    return;
  if (!(t = fuzz_mem_open (data, size, true, "fuzz-stream.vmdk")))
    return;
  ferry_error_clear ();
  d = ferry_disk_open (t, &o);
  if (!d) {
    check_failed ("ferry_disk_open (sequential)");
    return;
  }
  if (d->size > VMDK_MAX_CAPACITY)
    broken ("stream disk size %llu above VMDK_MAX_CAPACITY",
            (unsigned long long) d->size);
  s.size = d->size;
  ferry_error_clear ();
  if (d->ops->stream (d, stream_cb, &s) < 0)
    check_failed ("stream");
  ferry_disk_close (d);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  /* Log everything (so every message format is exercised) to nowhere. */
  quiet_log.out = fopen ("/dev/null", "w");
  if (!quiet_log.out)
    quiet_log.level = -1;
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  random_access (data, size);
  sequential (data, size);
  ferry_error_clear ();
  return 0;
}
