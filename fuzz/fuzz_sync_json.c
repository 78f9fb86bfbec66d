/* libFuzzer target: the JSON that incremental sync reads from outside:
 * DiskChangeInfo change lists (importer/cbt_json.c) and sync state files
 * (converters/sync_state.c).  The same input goes to both.
 *
 * Besides memory errors, a change list that parses must be sorted, merged,
 * non-empty per range and inside the disk; a state that parses must keep
 * its done ranges inside the disk; a failure must leave a message naming
 * the file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "converters/sync_state.h"
#include "importer/cbt.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define DISK_SIZE (UINT64_C (1) << 34)

static void
broken (const char *what)
{
  fprintf (stderr, "fuzz_sync_json: invariant violated: %s\n", what);
  abort ();
}

static void
check_ranges (const struct ferry_range *v, size_t n, uint64_t size)
{
  for (size_t i = 0; i < n; i++) {
    if (v[i].length == 0 || v[i].offset > size || v[i].length > size - v[i].offset)
      broken ("range empty or outside the disk");
    if (i > 0 && v[i].offset <= v[i - 1].offset + v[i - 1].length)
      broken ("ranges not sorted and merged");
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct ferry_changes c;
  struct ferry_sync_state s;

  if (ferry_changes_parse_json ((const char *) data, size, "fuzz.json",
                                DISK_SIZE, &c) == 0) {
    if (!c.change_id || !c.since)
      broken ("change list without its ids");
    check_ranges (c.v, c.n, DISK_SIZE);
    ferry_changes_free (&c);
  }
  else if (!strstr (ferry_error_msg (), "fuzz.json"))
    broken ("change list error does not name the file");
  ferry_error_clear ();

  if (ferry_sync_state_parse ((const char *) data, size, "state.json", &s) == 1) {
    if (!s.source || !s.target || !s.format)
      broken ("state without source, target or format");
    if (s.in_progress && !s.ip_change_id)
      broken ("in-progress state without its change id");
    check_ranges (s.done, s.n_done, s.size);
    ferry_sync_state_free (&s);
  }
  else if (!strstr (ferry_error_msg (), "state.json"))
    broken ("state error does not name the file");
  ferry_error_clear ();
  return 0;
}
