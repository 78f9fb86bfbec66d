/* ferry: libvirt domain XML.
 *
 * Written with libxml2's xmlTextWriter (escaping is libxml2's business),
 * checked by the tests against libvirt's own schema (virt-xml-validate)
 * and parser (virsh -c test:///default define).
 *
 * Choices, and why:
 *  - machine q35 unless the guest OS predates it (ferry_emit_machine);
 *    UEFI guests always q35.
 *  - firmware by libvirt's auto-selection (<os firmware='efi'>) with the
 *    secure-boot feature on or off as the source had it; secure boot adds
 *    SMM, which q35 alone has.
 *  - disks: cache none + io native (no host page cache, the usual choice for
 *    VM images), discard unmap so guest TRIM keeps sparse images sparse.
 *  - CD-ROMs: empty drives on SATA (q35) or IDE (pc, old guests have no
 *    AHCI driver).
 *  - Windows: hyperv enlightenments, localtime clock, qxl video.
 */
#include "converters/emit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlwriter.h>

#include "common/error.h"

#define FERRY_XMLNS "https://ferry.invalid/xmlns/vm/1.0"

struct xw {
  xmlTextWriterPtr w;
  int err;
};

static void
x_start (struct xw *x, const char *name)
{
  if (!x->err && xmlTextWriterStartElement (x->w, BAD_CAST name) < 0)
    x->err = 1;
}

static void
x_end (struct xw *x)
{
  if (!x->err && xmlTextWriterEndElement (x->w) < 0)
    x->err = 1;
}

static void
x_attr (struct xw *x, const char *name, const char *value)
{
  if (!x->err
      && xmlTextWriterWriteAttribute (x->w, BAD_CAST name, BAD_CAST value) < 0)
    x->err = 1;
}

static void
x_attrf (struct xw *x, const char *name, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));

static void
x_attrf (struct xw *x, const char *name, const char *fmt, ...)
{
  char buf[64];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  x_attr (x, name, buf);
}

static void
x_text (struct xw *x, const char *text)
{
  if (!x->err && xmlTextWriterWriteString (x->w, BAD_CAST text) < 0)
    x->err = 1;
}

/* <name>text</name> */
static void
x_elem (struct xw *x, const char *name, const char *text)
{
  x_start (x, name);
  x_text (x, text);
  x_end (x);
}

/* <name a1='v1' .../> from a NULL-terminated list of name, value pairs. */
static void
x_empty (struct xw *x, const char *name, ...)
{
  va_list ap;
  const char *a;

  x_start (x, name);
  va_start (ap, name);
  while ((a = va_arg (ap, const char *)) != NULL)
    {
      const char *v = va_arg (ap, const char *);
      x_attr (x, a, v);
    }
  va_end (ap);
  x_end (x);
}

/* ---- checks on the model ---------------------------------------------- */

static bool
valid_uuid (const char *u)
{
  static const char pattern[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
  if (!u || strlen (u) != sizeof pattern - 1)
    return false;
  for (size_t i = 0; pattern[i]; i++)
    {
      if (pattern[i] == '-')
        {
          if (u[i] != '-')
            return false;
        }
      else if (!((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f')
                 || (u[i] >= 'A' && u[i] <= 'F')))
        return false;
    }
  return true;
}

static bool
valid_mac (const char *m)
{
  if (!m || strlen (m) != 17)
    return false;
  for (int i = 0; i < 17; i++)
    {
      char c = m[i];
      if (i % 3 == 2)
        {
          if (c != ':')
            return false;
        }
      else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                 || (c >= 'A' && c <= 'F')))
        return false;
    }
  return true;
}

/* "VMware-56 4d ... 5c-77 8e ... 11": the SMBIOS serial number VMware
 * derives from uuid.bios; software licensed to the serial keeps seeing it. */
static void
vmware_serial (const char *uuid, char *buf, size_t size)
{
  char hex[33];
  size_t n = 0, o;

  for (const char *p = uuid; *p && n < 32; p++)
    if (*p != '-')
      hex[n++] = *p;
  hex[n] = 0;
  o = (size_t) snprintf (buf, size, "VMware-");
  for (int i = 0; i < 16 && o + 4 < size; i++)
    {
      buf[o++] = hex[2 * i];
      buf[o++] = hex[2 * i + 1];
      if (i == 7)
        buf[o++] = '-';
      else if (i != 15)
        buf[o++] = ' ';
    }
  buf[o] = 0;
}

/* vda, vdz, vdaa, ... */
static void
dev_name (const char *prefix, unsigned index, char *buf, size_t size)
{
  char letters[8];
  int n = 0;
  unsigned i = index + 1;

  while (i > 0 && n < (int) sizeof letters)
    {
      i--;
      letters[n++] = (char) ('a' + i % 26);
      i /= 26;
    }
  int o = snprintf (buf, size, "%s", prefix);
  while (n > 0 && (size_t) o + 1 < size)
    buf[o++] = letters[--n];
  buf[o] = 0;
}

/* ---- the domain -------------------------------------------------------- */

struct lv {
  struct xw x;
  const struct ferry_vm *vm;
  const struct ferry_emit_opts *opts;
  const char *machine;
  bool windows;
  bool secure_boot;
  /* device name counters per prefix */
  unsigned n_vd, n_sd, n_hd;
};

/* The next free name for a bus: virtio vdX, ide hdX, sata/scsi sdX. */
static const char *
next_dev (struct lv *lv, const char *bus, char *buf, size_t size)
{
  switch (bus[0])
    {
    case 'v': dev_name ("vd", lv->n_vd++, buf, size); break;
    case 'i': dev_name ("hd", lv->n_hd++, buf, size); break;
    default: dev_name ("sd", lv->n_sd++, buf, size); break;
    }
  return buf;
}

static const char *
disk_bus_name (enum ferry_disk_bus b)
{
  switch (b)
    {
    case FERRY_DISK_BUS_VIRTIO: return "virtio";
    case FERRY_DISK_BUS_SATA: return "sata";
    case FERRY_DISK_BUS_SCSI: return "scsi";
    case FERRY_DISK_BUS_IDE: return "ide";
    }
  return "virtio";
}

static int
write_disks (struct lv *lv)
{
  struct xw *x = &lv->x;
  const struct ferry_vm *vm = lv->vm;
  size_t *order = malloc ((vm->n_disks ? vm->n_disks : 1) * sizeof *order);
  size_t n;
  const char *bus = disk_bus_name (lv->opts->disk_bus);
  char dev[16];

  if (!order)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  n = ferry_emit_disk_order (vm, order);
  if (strcmp (bus, "ide") == 0 && strcmp (lv->machine, "q35") == 0)
    {
      free (order);
      return ferry_error (FERRY_E_USAGE,
                          "disk bus ide needs machine pc: q35 has no IDE controller");
    }

  for (size_t k = 0; k < n; k++)
    {
      const struct ferry_vm_disk *d = &vm->disks[order[k]];
      if (!d->target_path || !*d->target_path)
        {
          size_t i = order[k];
          free (order);
          return ferry_error (FERRY_E_INPUT,
                              "disk %zu (%s): no converted image path to put in the domain",
                              i, d->file ? d->file : "no file");
        }
      const char *fmt = d->target_format ? d->target_format : "raw";
      if (strcmp (fmt, "raw") != 0 && strcmp (fmt, "qcow2") != 0)
        {
          free (order);
          return ferry_error (FERRY_E_INPUT, "disk %s: unknown format '%s'",
                              d->target_path, fmt);
        }
      bool block = strncmp (d->target_path, "/dev/", 5) == 0;
      x_start (x, "disk");
      x_attr (x, "type", block ? "block" : "file");
      x_attr (x, "device", "disk");
      x_empty (x, "driver", "name", "qemu", "type", fmt, "cache", "none",
               "io", "native", "discard", "unmap", NULL);
      x_empty (x, "source", block ? "dev" : "file", d->target_path, NULL);
      x_empty (x, "target", "dev", next_dev (lv, bus, dev, sizeof dev),
               "bus", bus, NULL);
      if (k == 0)
        x_empty (x, "boot", "order", "1", NULL);
      x_end (x);
    }
  free (order);
  if (strcmp (bus, "ide") == 0 && lv->n_hd > 4)
    return ferry_error (FERRY_E_INPUT,
                        "%u disks do not fit on IDE (4 devices at most)", lv->n_hd);

  /* CD-ROMs, empty. */
  bool pc = strcmp (lv->machine, "pc") == 0;
  for (size_t i = 0; i < vm->n_disks; i++)
    {
      const struct ferry_vm_disk *d = &vm->disks[i];
      if (d->kind != FERRY_DISK_CDROM || !d->present)
        continue;
      const char *cbus = pc && lv->n_hd < 4 ? "ide" : "sata";
      x_start (x, "disk");
      x_attr (x, "type", "file");
      x_attr (x, "device", "cdrom");
      x_empty (x, "driver", "name", "qemu", "type", "raw", NULL);
      x_empty (x, "target", "dev", next_dev (lv, cbus, dev, sizeof dev),
               "bus", cbus, NULL);
      x_empty (x, "readonly", NULL);
      x_end (x);
    }
  /* The cloud-init seed volume, found by its "cidata" label. */
  if (lv->opts->cloudinit_iso)
    {
      const char *cbus = pc && lv->n_hd < 4 ? "ide" : "sata";
      x_start (x, "disk");
      x_attr (x, "type", "file");
      x_attr (x, "device", "cdrom");
      x_empty (x, "driver", "name", "qemu", "type", "raw", NULL);
      x_empty (x, "source", "file", lv->opts->cloudinit_iso, NULL);
      x_empty (x, "target", "dev", next_dev (lv, cbus, dev, sizeof dev),
               "bus", cbus, NULL);
      x_empty (x, "readonly", NULL);
      x_end (x);
    }
  if (strcmp (bus, "scsi") == 0)
    x_empty (x, "controller", "type", "scsi", "index", "0",
             "model", "virtio-scsi", NULL);
  return 0;
}

static int
write_nics (struct lv *lv)
{
  struct xw *x = &lv->x;
  const struct ferry_vm *vm = lv->vm;

  for (size_t i = 0; i < vm->n_nics; i++)
    {
      const struct ferry_vm_nic *nic = &vm->nics[i];
      struct ferry_net_target t;

      if (!nic->present)
        continue;
      if (ferry_network_lookup (lv->opts, nic->network, false, &t) == -1)
        return -1;
      if (nic->mac && !valid_mac (nic->mac))
        return ferry_error (FERRY_E_INPUT,
                            "NIC %zu: MAC address '%s' is not of the form aa:bb:cc:dd:ee:ff",
                            i, nic->mac);
      bool bridge = t.kind == FERRY_NET_BRIDGE;
      x_start (x, "interface");
      x_attr (x, "type", bridge ? "bridge" : "network");
      if (nic->mac)
        x_empty (x, "mac", "address", nic->mac, NULL);
      x_empty (x, "source", bridge ? "bridge" : "network", t.name, NULL);
      x_empty (x, "model", "type", "virtio", NULL);
      if (!nic->start_connected)
        x_empty (x, "link", "state", "down", NULL);
      x_end (x);
    }
  return 0;
}

static void
write_features (struct lv *lv)
{
  struct xw *x = &lv->x;

  x_start (x, "features");
  x_empty (x, "acpi", NULL);
  x_empty (x, "apic", NULL);
  if (lv->windows)
    {
      x_start (x, "hyperv");
      x_attr (x, "mode", "custom");
      static const char *const on[] = {
        "relaxed", "vapic", "vpindex", "runtime", "synic", "stimer",
        "reset", "frequencies",
      };
      for (size_t i = 0; i < sizeof on / sizeof *on; i++)
        {
          if (i == 2)
            x_empty (x, "spinlocks", "state", "on", "retries", "8191", NULL);
          x_empty (x, on[i], "state", "on", NULL);
        }
      x_end (x);
    }
  if (lv->secure_boot)
    x_empty (x, "smm", "state", "on", NULL);
  x_end (x);
}

static int
write_domain (struct lv *lv, const char *name)
{
  struct xw *x = &lv->x;
  const struct ferry_vm *vm = lv->vm;
  unsigned vcpus = vm->vcpus ? vm->vcpus : 1;
  unsigned cores = vm->cores_per_socket ? vm->cores_per_socket : 1;
  bool efi = vm->firmware == FERRY_FW_EFI;
  bool uuid = valid_uuid (vm->uuid);
  char buf[128];

  if (vcpus % cores != 0)
    cores = 1;

  x_start (x, "domain");
  x_attr (x, "type", "kvm");
  x_elem (x, "name", name);
  if (uuid)
    x_elem (x, "uuid", vm->uuid);
  if (vm->annotation && *vm->annotation)
    {
      char *t = ferry_emit_clean_text (vm->annotation, false);
      if (!t)
        return -1;
      x_elem (x, "description", t);
      free (t);
    }

  /* Where it came from, for people and for tools that read it back. */
  x_start (x, "metadata");
  if (!x->err
      && xmlTextWriterStartElementNS (x->w, BAD_CAST "ferry", BAD_CAST "vm",
                                      BAD_CAST FERRY_XMLNS) < 0)
    x->err = 1;
  {
    const char *keys[] = { "source", "source-format", "guest-os", "name" };
    const char *vals[] = { vm->source, vm->source_format, vm->guest_os, vm->name };
    for (int i = 0; i < 4; i++)
      if (vals[i])
        {
          char *t = ferry_emit_clean_text (vals[i], false);
          if (!t)
            return -1;
          if (!x->err
              && xmlTextWriterWriteElementNS (x->w, BAD_CAST "ferry",
                                              BAD_CAST keys[i], NULL,
                                              BAD_CAST t) < 0)
            x->err = 1;
          free (t);
        }
  }
  x_end (x);
  x_end (x);

  snprintf (buf, sizeof buf, "%llu",
            (unsigned long long) vm->memory_mib * 1024);
  x_start (x, "memory");
  x_attr (x, "unit", "KiB");
  x_text (x, buf);
  x_end (x);
  x_start (x, "currentMemory");
  x_attr (x, "unit", "KiB");
  x_text (x, buf);
  x_end (x);
  snprintf (buf, sizeof buf, "%u", vcpus);
  x_start (x, "vcpu");
  x_attr (x, "placement", "static");
  x_text (x, buf);
  x_end (x);

  if (uuid)
    {
      vmware_serial (vm->uuid, buf, sizeof buf);
      x_start (x, "sysinfo");
      x_attr (x, "type", "smbios");
      x_start (x, "system");
      x_start (x, "entry");
      x_attr (x, "name", "serial");
      x_text (x, buf);
      x_end (x);
      x_end (x);
      x_end (x);
    }

  x_start (x, "os");
  if (efi)
    x_attr (x, "firmware", "efi");
  x_start (x, "type");
  x_attr (x, "arch", "x86_64");
  x_attr (x, "machine", lv->machine);
  x_text (x, "hvm");
  x_end (x);
  if (efi)
    {
      x_start (x, "firmware");
      if (lv->secure_boot)
        x_empty (x, "feature", "enabled", "yes", "name", "enrolled-keys", NULL);
      x_empty (x, "feature", "enabled", lv->secure_boot ? "yes" : "no",
               "name", "secure-boot", NULL);
      x_end (x);
    }
  if (uuid)
    x_empty (x, "smbios", "mode", "sysinfo", NULL);
  x_end (x);

  write_features (lv);

  x_start (x, "cpu");
  x_attr (x, "mode", lv->opts->cpu_mode == FERRY_CPU_HOST_MODEL
                       ? "host-model" : "host-passthrough");
  x_attr (x, "check", "none");
  x_start (x, "topology");
  x_attrf (x, "sockets", "%u", vcpus / cores);
  x_attr (x, "dies", "1");
  x_attrf (x, "cores", "%u", cores);
  x_attr (x, "threads", "1");
  x_end (x);
  x_end (x);

  x_start (x, "clock");
  x_attr (x, "offset", lv->windows ? "localtime" : "utc");
  x_empty (x, "timer", "name", "rtc", "tickpolicy", "catchup", NULL);
  x_empty (x, "timer", "name", "pit", "tickpolicy", "delay", NULL);
  x_empty (x, "timer", "name", "hpet", "present", "no", NULL);
  if (lv->windows)
    x_empty (x, "timer", "name", "hypervclock", "present", "yes", NULL);
  x_end (x);

  x_elem (x, "on_poweroff", "destroy");
  x_elem (x, "on_reboot", "restart");
  x_elem (x, "on_crash", "destroy");

  x_start (x, "devices");
  if (write_disks (lv) == -1 || write_nics (lv) == -1)
    return -1;

  x_start (x, "serial");
  x_attr (x, "type", "pty");
  x_empty (x, "target", "port", "0", NULL);
  x_end (x);
  x_start (x, "console");
  x_attr (x, "type", "pty");
  x_empty (x, "target", "type", "serial", "port", "0", NULL);
  x_end (x);

  x_start (x, "channel");
  x_attr (x, "type", "unix");
  x_empty (x, "source", "mode", "bind", NULL);
  x_empty (x, "target", "type", "virtio", "name", "org.qemu.guest_agent.0", NULL);
  x_end (x);

  x_empty (x, "input", "type", "tablet", "bus", "usb", NULL);
  x_start (x, "graphics");
  x_attr (x, "type", "vnc");
  x_attr (x, "port", "-1");
  x_attr (x, "autoport", "yes");
  x_attr (x, "listen", "127.0.0.1");
  x_empty (x, "listen", "type", "address", "address", "127.0.0.1", NULL);
  x_end (x);
  x_start (x, "video");
  x_empty (x, "model", "type", lv->windows ? "qxl" : "virtio", "heads", "1",
           "primary", "yes", NULL);
  x_end (x);

  x_empty (x, "memballoon", "model", "virtio", NULL);
  x_start (x, "rng");
  x_attr (x, "model", "virtio");
  x_start (x, "backend");
  x_attr (x, "model", "random");
  x_text (x, "/dev/urandom");
  x_end (x);
  x_end (x);
  if (vm->vtpm)
    {
      x_start (x, "tpm");
      x_attr (x, "model", "tpm-crb");
      x_empty (x, "backend", "type", "emulator", "version", "2.0", NULL);
      x_end (x);
    }
  x_end (x); /* devices */
  x_end (x); /* domain */
  return 0;
}

int
ferry_emit_libvirt (const struct ferry_vm *vm,
                    const struct ferry_emit_opts *opts, FILE *out)
{
  struct ferry_emit_opts defaults;
  struct lv lv;
  xmlBufferPtr buf = NULL;
  char *name = NULL;
  int r = -1;

  if (!opts)
    {
      ferry_emit_opts_init (&defaults);
      opts = &defaults;
    }
  memset (&lv, 0, sizeof lv);
  lv.vm = vm;
  lv.opts = opts;
  lv.machine = ferry_emit_machine (vm, opts);
  lv.windows = ferry_guest_is_windows (vm->guest_os);
  /* Secure boot without UEFI cannot be (pre-flight says so); the VM keeps
   * its BIOS. */
  lv.secure_boot = vm->secure_boot && vm->firmware == FERRY_FW_EFI;

  if (vm->memory_mib == 0)
    return ferry_error (FERRY_E_INPUT, "the VM has no memory size");
  if (vm->memory_mib > UINT64_MAX / 1024 / 1024)
    return ferry_error (FERRY_E_INPUT, "memory size %llu MiB is too large",
                        (unsigned long long) vm->memory_mib);
  if (lv.secure_boot && strcmp (lv.machine, "q35") != 0)
    return ferry_error (FERRY_E_USAGE,
                        "secure boot needs the q35 machine (SMM); machine pc cannot have it");
  name = ferry_emit_libvirt_name (vm);
  if (!name)
    return -1;

  buf = xmlBufferCreate ();
  if (!buf || !(lv.x.w = xmlNewTextWriterMemory (buf, 0)))
    {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto out;
    }
  xmlTextWriterSetIndent (lv.x.w, 1);
  xmlTextWriterSetIndentString (lv.x.w, BAD_CAST "  ");
  /* No XML declaration: libvirt's own files start at <domain>. */
  if (write_domain (&lv, name) == -1)
    goto out;
  if (lv.x.err || xmlTextWriterEndDocument (lv.x.w) < 0)
    {
      ferry_error (FERRY_E_SYSTEM, "libxml2 could not write the domain XML");
      goto out;
    }
  xmlFreeTextWriter (lv.x.w); /* flushes into buf */
  lv.x.w = NULL;
  {
    size_t len = (size_t) xmlBufferLength (buf);
    if (fwrite (xmlBufferContent (buf), 1, len, out) != len
        || fflush (out) != 0)
      {
        ferry_error_errno (FERRY_E_OUTPUT, errno, "writing the domain XML");
        goto out;
      }
  }
  r = 0;
 out:
  if (lv.x.w)
    xmlFreeTextWriter (lv.x.w);
  if (buf)
    xmlBufferFree (buf);
  free (name);
  return r;
}

struct lv_file_ctx {
  const struct ferry_vm *vm;
  const struct ferry_emit_opts *opts;
};

static int
lv_file_fn (void *ctx, FILE *out)
{
  struct lv_file_ctx *c = ctx;
  return ferry_emit_libvirt (c->vm, c->opts, out);
}

int
ferry_emit_libvirt_file (const struct ferry_vm *vm,
                         const struct ferry_emit_opts *opts, const char *path)
{
  struct lv_file_ctx c = { vm, opts };
  if (ferry_emit_write_file (path, lv_file_fn, &c) == -1)
    return ferry_error_prefix ("%s", path);
  return 0;
}
