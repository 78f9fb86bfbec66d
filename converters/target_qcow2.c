/* ferry: the qcow2 target (being written). */
#include "common/error.h"
#include "converters/target.h"

struct ferry_target *ferry_target_qcow2_open (const char *path, uint64_t size,
                                              const struct ferry_target_opts *o);

struct ferry_target *
ferry_target_qcow2_open (const char *path, uint64_t size,
                         const struct ferry_target_opts *o)
{
  (void) path, (void) size, (void) o;
  ferry_error (FERRY_E_USAGE, "--format=qcow2: qcow2 output is not "
               "implemented yet; use --format=raw");
  return NULL;
}
