/* ferry: the VM model's memory management (importer/vm.h). */
#include "importer/vm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
ferry_vm_free (struct ferry_vm *vm)
{
  if (!vm)
    return;
  free (vm->source);
  free (vm->source_format);
  free (vm->name);
  free (vm->uuid);
  free (vm->guest_os);
  free (vm->annotation);
  for (size_t i = 0; i < vm->n_controllers; i++)
    free (vm->controllers[i].model);
  free (vm->controllers);
  for (size_t i = 0; i < vm->n_disks; i++) {
    struct ferry_vm_disk *d = &vm->disks[i];
    free (d->file);
    free (d->path);
    free (d->device_type);
    free (d->mode);
    free (d->id);
    free (d->target_path);
    free (d->target_format);
    free (d->checksum);
  }
  free (vm->disks);
  for (size_t i = 0; i < vm->n_nics; i++) {
    free (vm->nics[i].model);
    free (vm->nics[i].mac);
    free (vm->nics[i].network);
  }
  free (vm->nics);
  for (size_t i = 0; i < vm->n_serials; i++) {
    free (vm->serials[i].type);
    free (vm->serials[i].target);
  }
  free (vm->serials);
  for (size_t i = 0; i < vm->n_warnings; i++)
    free (vm->warnings[i]);
  free (vm->warnings);
  memset (vm, 0, sizeof *vm);
}

int
ferry_vm_warn (struct ferry_vm *vm, const char *fmt, ...)
{
  va_list ap;
  char *msg, **w;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (r < 0)
    return -1;
  w = realloc (vm->warnings, (vm->n_warnings + 1) * sizeof *w);
  if (!w) {
    free (msg);
    return -1;
  }
  vm->warnings = w;
  vm->warnings[vm->n_warnings++] = msg;
  return 0;
}
