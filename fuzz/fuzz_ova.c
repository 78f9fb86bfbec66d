/* libFuzzer target: OVA archives (importer/archive.c) with their .mf
 * manifests, and the .ovf and streamOptimized members inside, read the way
 * `ferry convert VM.ova` reads them: one forward pass over a stream.
 *
 * Work per input is bounded (16 members, 4 MiB streamed per disk).
 * Besides memory errors, a failure must leave a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "converters/format.h"
#include "fuzz/memtransport.h"
#include "importer/archive.h"
#include "importer/vm.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define MAX_MEMBERS 16
#define STREAM_BUDGET (4u * 1024 * 1024)

static struct ferry_log quiet_log = { .level = FERRY_LOG_ERROR };

static void
broken (const char *what)
{
  fprintf (stderr, "fuzz_ova: invariant violated: %s\n", what);
  abort ();
}

struct budget {
  uint64_t left, size;
};

static int
stream_cb (void *opaque, uint64_t offset, const void *buf, size_t len)
{
  struct budget *b = opaque;

  (void) buf;
  if (offset > b->size || len > b->size - offset)
    broken ("stream data outside the disk");
  if (len >= b->left)
    return ferry_error (FERRY_E_INPUT, "fuzz: stream budget spent");
  b->left -= len;
  return 0;
}

static bool
ends_with (const char *s, const char *suffix)
{
  size_t n = strlen (s), m = strlen (suffix);

  return n >= m && strcasecmp (s + n - m, suffix) == 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct ferry_transport *t = fuzz_mem_open (data, size, true, "fuzz.ova");
  struct ferry_ova *a;
  struct ferry_ova_member m;
  int r = 0;

  if (!t)
    return 0;
  if (!(a = ferry_ova_open (t, true, &quiet_log))) {
    if (!ferry_error_msg ()[0])
      broken ("open failed without a message");
    ferry_error_clear ();
    return 0;
  }
  for (int i = 0; i < MAX_MEMBERS && (r = ferry_ova_next (a, &m)) == 1; i++) {
    if (ends_with (m.name, ".ovf")) {
      size_t len;
      char *text = ferry_ova_member_read_all (a, 1024 * 1024, &len);
      struct ferry_vm vm = { 0 };
      if (text && ferry_ovf_parse (text, len, m.name, NULL, &vm) == 0)
        ferry_vm_free (&vm);
      free (text);
    }
    else if (ends_with (m.name, ".vmdk")) {
      struct ferry_transport *mt = ferry_ova_member_open (a);
      struct ferry_open_opts oo = { .format = "vmdk", .sequential = true,
                                    .log = &quiet_log };
      struct ferry_disk *d = mt ? ferry_disk_open (mt, &oo) : NULL;
      if (d) {
        struct budget b = { STREAM_BUDGET, d->size };
        (void) d->ops->stream (d, stream_cb, &b);
        ferry_disk_close (d);
      }
    }
    ferry_error_clear ();
  }
  if (r < 0 && !ferry_error_msg ()[0])
    broken ("walk failed without a message");
  ferry_error_clear ();
  ferry_ova_close (a);
  return 0;
}
