/* libFuzzer target: the .vmx reader (importer/vmx.c), and the .vmsd
 * snapshot list reader (importer/vmsd.c) on the same bytes: both are
 * outside data in the same key = "value" syntax.
 *
 * The input is .vmx text (not NUL-terminated).  Besides memory errors
 * (ASan/UBSan), a parse that succeeds must give a model the emitters can
 * rely on (limits kept, strings well-formed, MACs and UUIDs normalised),
 * and one that fails must say why, name the file, and leave the model
 * empty.
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
  fprintf (stderr, "fuzz_vmx: invariant violated: %s\n", what);
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
  if (!vm->source || !vm->source_format || strcmp (vm->source_format, "vmx"))
    broken ("source / source_format");
  if (!vm->name)
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
  if (vm->usb_devices > 3)
    broken ("more USB controllers than keys");
  (void) (vm->guest_os && strlen (vm->guest_os));
  (void) (vm->annotation && strlen (vm->annotation));
  for (size_t i = 0; i < vm->n_controllers; i++) {
    const struct ferry_vm_controller *c = &vm->controllers[i];
    if (c->bus < FERRY_BUS_SCSI || c->bus > FERRY_BUS_NVME || c->index > 3)
      broken ("controller bus/index");
    if (i && (vm->controllers[i - 1].bus > c->bus
              || (vm->controllers[i - 1].bus == c->bus
                  && vm->controllers[i - 1].index >= c->index)))
      broken ("controllers not sorted and unique");
    (void) (c->model && strlen (c->model));
  }
  for (size_t i = 0; i < vm->n_disks; i++) {
    const struct ferry_vm_disk *d = &vm->disks[i];
    if (d->unit > 63 || d->controller > 3)
      broken ("disk address out of range");
    if (d->kind == FERRY_DISK_DISK && d->present && (!d->file || !*d->file))
      broken ("present disk without a file");
    if (d->path && d->path[0] != '/')
      broken ("resolved path not absolute (dir is absolute)");
    if (d->independent && !d->mode)
      broken ("independent without a mode");
    bool found = false;
    for (size_t k = 0; k < vm->n_controllers; k++)
      if (vm->controllers[k].bus == d->bus
          && vm->controllers[k].index == d->controller)
        found = true;
    if (!found)
      broken ("disk on a controller the model does not list");
    (void) (d->device_type && strlen (d->device_type));
  }
  for (size_t i = 0; i < vm->n_nics; i++) {
    check_mac (vm->nics[i].mac);
    (void) (vm->nics[i].model && strlen (vm->nics[i].model));
    (void) (vm->nics[i].network && strlen (vm->nics[i].network));
  }
  for (size_t i = 0; i < vm->n_serials; i++)
    (void) (vm->serials[i].type && strlen (vm->serials[i].type));
  for (size_t i = 0; i < vm->n_warnings; i++)
    if (!vm->warnings[i] || !*vm->warnings[i])
      broken ("empty warning");
}

/* The .vmsd parse adds to a model that already has content: on failure
 * that content is untouched; on success the snapshot list is coherent. */
static void
check_vmsd (const char *text, size_t size)
{
  struct ferry_vm vm = { 0 };

  ferry_error_clear ();
  if (ferry_vm_warn (&vm, "before") < 0)
    return;
  if (ferry_vmsd_parse (text, size, "fuzz.vmsd", &vm) == 0) {
    size_t current = 0;
    if (vm.n_snapshots && (!vm.snapshots || !vm.has_snapshots
                           || vm.n_warnings != 2))
      broken ("vmsd: snapshots without the flag and one warning");
    if (!vm.n_snapshots && vm.n_warnings != 1)
      broken ("vmsd: a warning without snapshots");
    for (size_t i = 0; i < vm.n_snapshots; i++) {
      const struct ferry_vm_snapshot *s = &vm.snapshots[i];
      bool parent_found = s->parent == 0;
      if (!s->name || s->uid == 0 || s->uid == s->parent)
        broken ("vmsd: snapshot without a name or uid, or its own parent");
      current += s->current;
      for (size_t k = 0; k < vm.n_snapshots; k++) {
        if (k != i && vm.snapshots[k].uid == s->uid)
          broken ("vmsd: duplicate uid");
        if (vm.snapshots[k].uid == s->parent)
          parent_found = true;
      }
      if (!parent_found)
        broken ("vmsd: parent not in the list");
      (void) (s->description && strlen (s->description));
      (void) (s->file && strlen (s->file));
    }
    if (current > 1)
      broken ("vmsd: more than one current snapshot");
  }
  else {
    if (ferry_error_code () == FERRY_OK
        || (ferry_error_code () == FERRY_E_INPUT
            && strncmp (ferry_error_msg (), "fuzz.vmsd: ", 11) != 0))
      broken ("vmsd: failure without a message naming the file");
    if (vm.n_snapshots || vm.snapshots || vm.has_snapshots
        || vm.n_warnings != 1)
      broken ("vmsd: a failed parse changed the model");
  }
  ferry_vm_free (&vm);
  ferry_error_clear ();
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
  if (ferry_vmx_parse (text, size, "fuzz.vmx", "/fuzz/dir", &vm) == 0) {
    check_vm (&vm);
    ferry_vm_free (&vm);
  }
  else {
    if (ferry_error_code () == FERRY_OK
        || strcmp (ferry_error_msg (), "unknown error") == 0)
      broken ("failure without an error message");
    if (ferry_error_code () == FERRY_E_INPUT
        && strncmp (ferry_error_msg (), "fuzz.vmx: ", 10) != 0)
      broken ("error message does not start with the file name");
    if (vm.name || vm.disks || vm.nics || vm.warnings || vm.controllers
        || vm.n_disks || vm.source)
      broken ("failed parse left allocations in the model");
  }
  ferry_error_clear ();
  check_vmsd (text, size);
  free (text);
  return 0;
}
