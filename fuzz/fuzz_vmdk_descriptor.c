/* libFuzzer target: the VMDK text descriptor parser.
 *
 * The input is descriptor text (not NUL-terminated, possibly NUL-padded).
 * Besides memory errors (ASan/UBSan), a parse that succeeds must give a
 * descriptor the reader can rely on, and one that fails must say why.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "converters/vmdk.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
broken (const char *what)
{
  fprintf (stderr, "fuzz_vmdk_descriptor: invariant violated: %s\n", what);
  abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vmdk_descriptor d;
  /* An exact-size copy: the parser must not read past len, and libFuzzer's
   * own buffer is already exact, but a copy also keeps the input const. */
  char *text = malloc (size ? size : 1);

  if (!text)
    return 0;
  if (size)
    memcpy (text, data, size);

  ferry_error_clear ();
  if (vmdk_descriptor_parse (text, size, "fuzz.vmdk", &d) == 0) {
    if (!d.create_type)
      broken ("success without a createType");
    if (d.n_extents == 0 || !d.extents)
      broken ("success without extents");
    (void) vmdk_create_type_known (d.create_type);
    for (size_t i = 0; i < d.n_extents; i++) {
      const struct vmdk_extent_desc *e = &d.extents[i];
      if (e->sectors == 0)
        broken ("extent of zero sectors");
      if (!e->type_name)
        broken ("extent without a type name");
      if (e->kind == VMDK_EXT_ZERO) {
        if (e->filename)
          broken ("ZERO extent with a file name");
      }
      else if (!e->filename || !*e->filename)
        broken ("non-ZERO extent without a file name");
      if (e->kind != VMDK_EXT_FLAT && e->offset != 0)
        broken ("offset on a non-flat extent");
      if (e->access != VMDK_RW && e->access != VMDK_RDONLY
          && e->access != VMDK_NOACCESS)
        broken ("bad access value");
      /* Byte arithmetic the reader does must not overflow. */
      if (e->sectors > UINT64_MAX / VMDK_SECTOR
          || e->offset > UINT64_MAX / VMDK_SECTOR)
        broken ("sector count overflows bytes");
      (void) strlen (e->type_name);
      if (e->filename)
        (void) strlen (e->filename);
    }
    if (d.parent_hint)
      (void) strlen (d.parent_hint);
    if (d.adapter_type)
      (void) strlen (d.adapter_type);
    vmdk_descriptor_free (&d);
  }
  else {
    if (ferry_error_code () == FERRY_OK
        || strcmp (ferry_error_msg (), "unknown error") == 0)
      broken ("failure without an error message");
    if (!strstr (ferry_error_msg (), "fuzz.vmdk"))
      broken ("error message does not name the file");
    if (d.extents || d.n_extents || d.create_type)
      broken ("failed parse left allocations in the descriptor");
  }
  ferry_error_clear ();
  free (text);
  return 0;
}
