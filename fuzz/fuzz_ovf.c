/* libFuzzer target: the OVF reader (importer/ovf.c).
 *
 * The input is an OVF descriptor (not NUL-terminated).  Besides memory
 * errors (ASan/UBSan), a parse that succeeds must give a model the
 * emitters can rely on (limits kept, MACs and UUIDs normalised, every disk
 * path inside the descriptor's directory), and one that fails must say
 * why, name the file, and leave the model empty.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "importer/vm.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
broken (const char *what)
{
  fprintf (stderr, "fuzz_ovf: invariant violated: %s\n", what);
  abort ();
}

static void
check_mac (const char *m)
{
  if (!m)
    return;
  if (strlen (m) != 17)
    broken ("MAC not 17 characters");
  for (int i = 0; i < 17; i++)
    if (i % 3 == 2 ? m[i] != ':'
                   : !((m[i] >= '0' && m[i] <= '9') || (m[i] >= 'a' && m[i] <= 'f')))
      broken ("MAC not lower-case aa:bb:cc:dd:ee:ff");
}

static void
check_vm (const struct ferry_vm *vm)
{
  if (!vm->source || !vm->source_format || strcmp (vm->source_format, "ovf"))
    broken ("source / source_format");
  if (!vm->name || !*vm->name)
    broken ("success without a name");
  if (vm->vcpus < 1 || vm->vcpus > 4096)
    broken ("vcpus out of range");
  if (vm->memory_mib > (UINT64_C (16) << 20))
    broken ("memory above 16 TiB");
  if (vm->cores_per_socket && vm->vcpus % vm->cores_per_socket)
    broken ("cores per socket do not divide vcpus");
  if (vm->uuid && strlen (vm->uuid) != 36)
    broken ("uuid not 8-4-4-4-12");
  if (vm->firmware != FERRY_FW_BIOS && vm->firmware != FERRY_FW_EFI)
    broken ("firmware");
  (void) (vm->guest_os && strlen (vm->guest_os));
  (void) (vm->annotation && strlen (vm->annotation));
  for (size_t i = 0; i < vm->n_controllers; i++) {
    const struct ferry_vm_controller *c = &vm->controllers[i];
    if (c->bus < FERRY_BUS_SCSI || c->bus > FERRY_BUS_NVME || !c->model)
      broken ("controller bus/model");
    for (size_t k = 0; k < i; k++)
      if (vm->controllers[k].bus == c->bus
          && vm->controllers[k].index == c->index)
        broken ("two controllers with the same bus and index");
  }
  for (size_t i = 0; i < vm->n_disks; i++) {
    const struct ferry_vm_disk *d = &vm->disks[i];
    if (d->unit > 63)
      broken ("disk unit out of range");
    /* ovf:/disk/ID gives an id, ovf:/file/ID a file (no capacity). */
    if (d->kind == FERRY_DISK_DISK && !d->id && !d->file)
      broken ("disk with neither a DiskSection id nor a file");
    if (!d->file != !d->path)
      broken ("file and path disagree");
    /* The security property: every path stays in the package. */
    if (d->path) {
      if (strncmp (d->path, "/fuzz/dir/", 10) != 0)
        broken ("path outside the descriptor's directory");
      if (strstr (d->path, "/../") || strstr (d->path, "\\..")
          || strstr (d->path, "://"))
        broken ("path escapes the descriptor's directory");
      size_t n = strlen (d->path);
      if (n >= 3 && strcmp (d->path + n - 3, "/..") == 0)
        broken ("path ends in ..");
    }
    if (d->kind == FERRY_DISK_DISK && d->bus != FERRY_BUS_UNKNOWN) {
      bool found = false;
      for (size_t k = 0; k < vm->n_controllers; k++)
        if (vm->controllers[k].bus == d->bus
            && vm->controllers[k].index == d->controller)
          found = true;
      if (!found)
        broken ("disk on a controller the model does not list");
    }
    if (d->kind == FERRY_DISK_DISK && d->bus == FERRY_BUS_UNKNOWN)
      broken ("disk without a controller");
    (void) (d->mode && strlen (d->mode));
  }
  for (size_t i = 0; i < vm->n_nics; i++) {
    check_mac (vm->nics[i].mac);
    (void) (vm->nics[i].model && strlen (vm->nics[i].model));
    (void) (vm->nics[i].network && strlen (vm->nics[i].network));
  }
  for (size_t i = 0; i < vm->n_serials; i++)
    if (!vm->serials[i].type)
      broken ("serial port without a type");
  for (size_t i = 0; i < vm->n_warnings; i++)
    if (!vm->warnings[i] || !*vm->warnings[i])
      broken ("empty warning");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct ferry_vm vm;
  char *text = malloc (size ? size : 1);

  if (!text)
    return 0;
  if (size)
    memcpy (text, data, size);
  ferry_error_clear ();
  if (ferry_ovf_parse (text, size, "fuzz.ovf", "/fuzz/dir", &vm) == 0) {
    check_vm (&vm);
    ferry_vm_free (&vm);
  }
  else {
    if (ferry_error_code () == FERRY_OK
        || strcmp (ferry_error_msg (), "unknown error") == 0)
      broken ("failure without an error message");
    if (ferry_error_code () == FERRY_E_INPUT
        && strncmp (ferry_error_msg (), "fuzz.ovf: ", 10) != 0)
      broken ("error message does not start with the file name");
    if (vm.name || vm.disks || vm.nics || vm.warnings || vm.controllers
        || vm.n_disks || vm.source)
      broken ("failed parse left allocations in the model");
  }
  ferry_error_clear ();
  free (text);
  return 0;
}
