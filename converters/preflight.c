/* ferry: pre-flight checks, and the rules the emitters share.
 *
 * The checks follow Forklift's validation rules (a finding per concern,
 * warning or critical), adjusted to what ferry does: it reads the disk
 * files itself, so an independent disk can be copied (a warning, where
 * Forklift through VDDK must refuse), but a raw device mapping has no file
 * to copy and a multi-writer disk would silently become one private copy
 * per VM (critical).
 *
 * The shared rules (which disks in which order, q35 or pc, network and
 * storage maps, names) live here too so that what pre-flight promises is
 * exactly what the emitters write.
 */
#include "converters/emit.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fileutil.h"

void
ferry_emit_opts_init (struct ferry_emit_opts *opts)
{
  memset (opts, 0, sizeof *opts);
  opts->machine = FERRY_MACHINE_AUTO;
  opts->cpu_mode = FERRY_CPU_HOST_PASSTHROUGH;
  opts->disk_bus = FERRY_DISK_BUS_VIRTIO;
  opts->kv_disk = FERRY_KV_DATAVOLUME;
  opts->kv_volume_mode = FERRY_KV_BLOCK;
  opts->kv_dv_source = FERRY_KV_SOURCE_UPLOAD;
  opts->targets = FERRY_TARGET_LIBVIRT | FERRY_TARGET_KUBEVIRT;
}

/* ---- disk order ------------------------------------------------------- */

static int
bus_rank (enum ferry_bus bus)
{
  switch (bus)
    {
    case FERRY_BUS_SCSI: return 0;
    case FERRY_BUS_NVME: return 1;
    case FERRY_BUS_SATA: return 2;
    case FERRY_BUS_IDE: return 3;
    case FERRY_BUS_UNKNOWN: break;
    }
  return 4;
}

static int
disk_before (const struct ferry_vm_disk *a, size_t ia,
             const struct ferry_vm_disk *b, size_t ib)
{
  if (bus_rank (a->bus) != bus_rank (b->bus))
    return bus_rank (a->bus) < bus_rank (b->bus);
  if (a->controller != b->controller)
    return a->controller < b->controller;
  if (a->unit != b->unit)
    return a->unit < b->unit;
  return ia < ib;
}

size_t
ferry_emit_disk_order (const struct ferry_vm *vm, size_t *idx)
{
  size_t n = 0;

  for (size_t i = 0; i < vm->n_disks; i++)
    {
      const struct ferry_vm_disk *d = &vm->disks[i];
      if (d->kind != FERRY_DISK_DISK || !d->present)
        continue;
      /* Insertion sort: a VM has tens of disks at most. */
      size_t j = n++;
      while (j > 0 && disk_before (d, i, &vm->disks[idx[j - 1]], idx[j - 1]))
        {
          idx[j] = idx[j - 1];
          j--;
        }
      idx[j] = i;
    }
  return n;
}

/* ---- guest classification --------------------------------------------- */

static bool
has_prefix_ci (const char *s, const char *prefix)
{
  return strncasecmp (s, prefix, strlen (prefix)) == 0;
}

bool
ferry_guest_is_windows (const char *g)
{
  if (!g)
    return false;
  /* winXPPro, windows9-64, winNetStandard, longhorn (2008), ... */
  return has_prefix_ci (g, "win") || has_prefix_ci (g, "longhorn");
}

bool
ferry_guest_is_legacy (const char *g)
{
  /* Guest OS ids of systems that predate AHCI/PCIe support or UEFI: they
   * get the i440fx machine (IDE, PCI) they were installed on.  The ids
   * come as VMware .vmx writes them (winXPPro, rhel5-64), as the vSphere
   * API does (winXPProGuest, rhel5_64Guest) and as VirtualBox does
   * (WindowsXP_64, RedHat); they are compared in lower case, without a
   * trailing "Guest", with '_' read as '-'.  Generic ids that VMware still
   * uses for current releases (ubuntu-64, debian10-64, ...) are not here. */
  static const char *const prefixes[] = {
    "dos", "win31", "win95", "win98", "winme", "winnt", "win2000",
    "winxp", "winnet", "windows31", "windows95", "windows98", "windowsme",
    "windowsnt", "windows2000", "windowsxp", "windows2003", "rhel2",
    "rhel3", "rhel4", "rhel5", "sles9", "sles10", "nld9", "oes",
    "other24xlinux", "netware", "solaris8", "solaris9", "mandrake",
    "turbolinux", "redhat", "suse", "linux22", "linux24",
  };
  static const char *const exact[] = {
    "sles", "sles-64", "sles64", "centos", "centos-64", "centos64",
    "other26xlinux", "other26xlinux-64", "other26xlinux64", "debian4",
    "debian4-64", "debian464", "debian5", "debian5-64", "debian564",
    "freebsd", "freebsd-64", "freebsd64",
  };
  char id[64];
  size_t n = 0;

  if (!g)
    return false;
  for (; g[n] && n < sizeof id - 1; n++)
    {
      char c = g[n];
      id[n] = c == '_' ? '-' : (char) tolower ((unsigned char) c);
    }
  id[n] = 0;
  if (n > 5 && strcmp (id + n - 5, "guest") == 0)
    id[n - 5] = 0;
  for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
    if (strncmp (id, prefixes[i], strlen (prefixes[i])) == 0)
      return true;
  for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
    if (strcmp (id, exact[i]) == 0)
      return true;
  return false;
}

const char *
ferry_emit_machine (const struct ferry_vm *vm,
                    const struct ferry_emit_opts *opts)
{
  switch (opts ? opts->machine : FERRY_MACHINE_AUTO)
    {
    case FERRY_MACHINE_Q35: return "q35";
    case FERRY_MACHINE_PC: return "pc";
    case FERRY_MACHINE_AUTO: break;
    }
  if (vm->firmware == FERRY_FW_EFI)
    return "q35";
  return ferry_guest_is_legacy (vm->guest_os) ? "pc" : "q35";
}

/* ---- names ------------------------------------------------------------ */

/* Copy s replacing what cannot be in a one-line XML/YAML text: control
 * characters and bytes that are not UTF-8 become '_' ('?' would be as
 * good; '_' also suits names). */
char *
ferry_emit_clean_text (const char *s, bool name)
{
  size_t n = strlen (s);
  char *r = malloc (n + 1);
  size_t o = 0;

  if (!r)
    {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      return NULL;
    }
  for (size_t i = 0; i < n;)
    {
      unsigned char c = (unsigned char) s[i];
      size_t len = 0;
      if (c < 0x80)
        len = 1;
      else if (c >= 0xc2 && c <= 0xdf)
        len = 2;
      else if (c >= 0xe0 && c <= 0xef)
        len = 3;
      else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
      bool ok = len > 0 && i + len <= n;
      for (size_t k = 1; ok && k < len; k++)
        if (((unsigned char) s[i + k] & 0xc0) != 0x80)
          ok = false;
      if (ok && len == 3)
        {
          unsigned cp = ((c & 0x0fu) << 12)
                        | (((unsigned char) s[i + 1] & 0x3fu) << 6)
                        | ((unsigned char) s[i + 2] & 0x3fu);
          if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)
              || cp == 0xfffe || cp == 0xffff)
            ok = false;
        }
      if (ok && len == 4)
        {
          unsigned cp = ((c & 0x07u) << 18)
                        | (((unsigned char) s[i + 1] & 0x3fu) << 12)
                        | (((unsigned char) s[i + 2] & 0x3fu) << 6)
                        | ((unsigned char) s[i + 3] & 0x3fu);
          if (cp < 0x10000 || cp > 0x10ffff)
            ok = false;
        }
      if (ok && len == 1
          && ((c < 0x20 && (name || (c != '\n' && c != '\t')))
              || c == 0x7f || (name && c == '/')))
        ok = false;
      if (!ok)
        {
          r[o++] = '_';
          i++;
          continue;
        }
      memcpy (r + o, s + i, len);
      o += len;
      i += len;
    }
  r[o] = 0;
  return r;
}

char *
ferry_emit_libvirt_name (const struct ferry_vm *vm)
{
  const char *name = vm->name;
  char *base = NULL, *r;

  if (!name || !*name)
    {
      const char *src = vm->source;
      if (!src || !*src)
        {
          ferry_error (FERRY_E_INPUT, "the VM has no name and no source to name it by");
          return NULL;
        }
      const char *slash = strrchr (src, '/');
      base = strdup (slash && slash[1] ? slash + 1 : src);
      if (!base)
        {
          ferry_error (FERRY_E_SYSTEM, "out of memory");
          return NULL;
        }
      char *dot = strrchr (base, '.');
      if (dot && dot != base)
        *dot = 0;
      name = base;
    }
  r = ferry_emit_clean_text (name, true);
  free (base);
  return r;
}

static uint32_t
fnv1a (const char *s)
{
  uint32_t h = 2166136261u;
  for (; *s; s++)
    {
      h ^= (unsigned char) *s;
      h *= 16777619u;
    }
  return h;
}

char *
ferry_k8s_name (const char *name, size_t max)
{
  size_t n = name ? strlen (name) : 0;
  char *r;
  size_t o = 0;

  if (max < 16)
    max = 16;
  r = malloc (n + 16 > max + 1 ? n + 16 : max + 1);
  if (!r)
    {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      return NULL;
    }
  for (size_t i = 0; i < n; i++)
    {
      unsigned char c = (unsigned char) name[i];
      if (c >= 'A' && c <= 'Z')
        c = (unsigned char) (c - 'A' + 'a');
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        r[o++] = (char) c;
      else if (o > 0 && r[o - 1] != '-')
        r[o++] = '-';
    }
  while (o > 0 && r[o - 1] == '-')
    o--;
  r[o] = 0;
  if (o > 0 && o <= max && strcmp (r, name) == 0)
    return r;

  /* Changed: keep what fits and add the hash of the original. */
  char suffix[16];
  snprintf (suffix, sizeof suffix, "%08x", fnv1a (name ? name : ""));
  size_t keep = max - 1 - strlen (suffix);
  if (o > keep)
    o = keep;
  while (o > 0 && r[o - 1] == '-')
    o--;
  if (o == 0)
    snprintf (r, max + 1, "vm-%s", suffix);
  else
    snprintf (r + o, max + 1 - o, "-%s", suffix);
  return r;
}

int
ferry_emit_write_file (const char *path, int (*fn) (void *ctx, FILE *out),
                       void *ctx)
{
  char *part = NULL;
  FILE *f;
  int r;

  if (asprintf (&part, "%s.part", path) < 0)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  f = fopen (part, "w");
  if (!f)
    {
      ferry_error_errno (FERRY_E_OUTPUT, errno, "%s", part);
      free (part);
      return -1;
    }
  r = fn (ctx, f);
  if (r == 0 && fflush (f) != 0)
    r = ferry_error_errno (FERRY_E_OUTPUT, errno, "%s", part);
  if (r == 0 && fsync (fileno (f)) != 0)
    r = ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: fsync", part);
  if (fclose (f) != 0 && r == 0)
    r = ferry_error_errno (FERRY_E_OUTPUT, errno, "%s", part);
  if (r == 0)
    r = ferry_rename_durable (part, path);
  if (r != 0)
    unlink (part);
  free (part);
  return r;
}

/* ---- maps ------------------------------------------------------------- */

/* Split "SRC=VALUE" at the last '=' (network names may hold '=', the
 * values never do). */
static int
split_entry (const char *what, const char *e, size_t *srclen,
             const char **value)
{
  const char *eq = e ? strrchr (e, '=') : NULL;
  if (!eq || eq == e || !eq[1])
    return ferry_error (FERRY_E_USAGE, "%s entry '%s': expected SRC=VALUE",
                        what, e ? e : "(null)");
  *srclen = (size_t) (eq - e);
  *value = eq + 1;
  return 0;
}

static int
parse_net_value (const char *entry, const char *v, struct ferry_net_target *t)
{
  const char *name = NULL;
  size_t tlen;
  const char *colon = strchr (v, ':');

  tlen = colon ? (size_t) (colon - v) : strlen (v);
  if (colon)
    name = colon + 1;
  if (tlen == 7 && strncmp (v, "network", 7) == 0)
    t->kind = FERRY_NET_NETWORK;
  else if (tlen == 6 && strncmp (v, "bridge", 6) == 0)
    t->kind = FERRY_NET_BRIDGE;
  else if (tlen == 3 && strncmp (v, "pod", 3) == 0)
    t->kind = FERRY_NET_POD;
  else if (tlen == 6 && strncmp (v, "multus", 6) == 0)
    t->kind = FERRY_NET_MULTUS;
  else
    return ferry_error (FERRY_E_USAGE,
                        "network map entry '%s': type must be network, bridge, pod or multus",
                        entry);
  if (t->kind == FERRY_NET_POD)
    {
      if (name)
        return ferry_error (FERRY_E_USAGE,
                            "network map entry '%s': pod takes no name", entry);
      t->name[0] = 0;
      return 0;
    }
  if (!name || !*name)
    return ferry_error (FERRY_E_USAGE,
                        "network map entry '%s': %.*s needs a name (TYPE:NAME)",
                        entry, (int) tlen, v);
  if (strlen (name) >= sizeof t->name)
    return ferry_error (FERRY_E_USAGE, "network map entry '%s': name too long",
                        entry);
  for (const char *p = name; *p; p++)
    if ((unsigned char) *p < 0x20 || *p == 0x7f)
      return ferry_error (FERRY_E_USAGE,
                          "network map entry '%s': control character in the name",
                          entry);
  if (t->kind == FERRY_NET_MULTUS)
    {
      /* NAMESPACE/NAME or NAME, both RFC 1123 */
      int slashes = 0;
      for (const char *p = name; *p; p++)
        {
          if (*p == '/')
            slashes++;
          else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
                     || *p == '-' || *p == '.'))
            slashes = 99;
        }
      if (slashes > 1 || name[0] == '/' || name[strlen (name) - 1] == '/')
        return ferry_error (FERRY_E_USAGE,
                            "network map entry '%s': multus network must be NAMESPACE/NAME in lower case",
                            entry);
    }
  strcpy (t->name, name);
  return 0;
}

int
ferry_network_lookup (const struct ferry_emit_opts *opts, const char *network,
                      bool kubevirt, struct ferry_net_target *out)
{
  bool found = false;
  size_t n = opts ? opts->n_network_map : 0;

  memset (out, 0, sizeof *out);
  /* Two passes: an exact match beats "*", wherever it is. */
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < n; i++)
      {
        const char *e = opts->network_map[i], *v = NULL;
        size_t slen = 0;
        struct ferry_net_target t;

        if (split_entry ("network map", e, &slen, &v) == -1
            || parse_net_value (e, v, &t) == -1)
          return -1;
        bool kv = t.kind == FERRY_NET_POD || t.kind == FERRY_NET_MULTUS;
        if (found || kv != kubevirt)
          continue;
        bool match = pass == 0
                       ? network && strlen (network) == slen
                           && strncmp (e, network, slen) == 0
                       : slen == 1 && e[0] == '*';
        if (match)
          {
            *out = t;
            out->mapped = true;
            found = true;
          }
      }
  if (!found)
    {
      out->kind = kubevirt ? FERRY_NET_POD : FERRY_NET_NETWORK;
      strcpy (out->name, kubevirt ? "" : "default");
      out->mapped = false;
    }
  return 0;
}

/* "[datastore1] dir/x.vmdk" -> "datastore1" */
static bool
datastore_of (const char *file, const char **ds, size_t *len)
{
  if (!file || file[0] != '[')
    return false;
  const char *end = strchr (file, ']');
  if (!end || end == file + 1)
    return false;
  *ds = file + 1;
  *len = (size_t) (end - file - 1);
  return true;
}

int
ferry_storage_lookup (const struct ferry_emit_opts *opts,
                      const struct ferry_vm_disk *disk, char *buf,
                      size_t bufsize)
{
  size_t n = opts ? opts->n_storage_map : 0;
  const char *ds = NULL;
  size_t dslen = 0;
  bool have_ds = datastore_of (disk->file, &ds, &dslen);
  int found = 0;

  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < n; i++)
      {
        const char *e = opts->storage_map[i], *v = NULL;
        size_t slen = 0;

        if (split_entry ("storage map", e, &slen, &v) == -1)
          return -1;
        size_t vlen = strlen (v);
        for (size_t k = 0; k < vlen; k++)
          if (!((v[k] >= 'a' && v[k] <= 'z') || (v[k] >= '0' && v[k] <= '9')
                || ((v[k] == '-' || v[k] == '.') && k > 0 && k + 1 < vlen)))
            return ferry_error (FERRY_E_USAGE,
                                "storage map entry '%s': '%s' is not a valid storage class name",
                                e, v);
        if (vlen > 253 || vlen >= bufsize)
          return ferry_error (FERRY_E_USAGE,
                              "storage map entry '%s': storage class name too long", e);
        if (found)
          continue;
        bool match;
        if (pass == 0)
          match = (have_ds && slen == dslen && strncmp (e, ds, slen) == 0)
                  || (disk->file && strlen (disk->file) == slen
                      && strncmp (e, disk->file, slen) == 0);
        else
          match = slen == 1 && e[0] == '*';
        if (match)
          {
            memcpy (buf, v, vlen + 1);
            found = 1;
          }
      }
  return found;
}

/* ---- findings --------------------------------------------------------- */

static int
add (struct ferry_findings *f, enum ferry_severity sev, const char *code,
     const char *vm, const char *fmt, ...)
  __attribute__ ((format (printf, 5, 6)));

static int
add (struct ferry_findings *f, enum ferry_severity sev, const char *code,
     const char *vm, const char *fmt, ...)
{
  struct ferry_finding *items;
  char *msg = NULL, *name;
  va_list ap;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (r < 0)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  name = strdup (vm);
  items = realloc (f->items, (f->n + 1) * sizeof *items);
  if (!name || !items)
    {
      free (msg);
      free (name);
      if (items)
        f->items = items;
      return ferry_error (FERRY_E_SYSTEM, "out of memory");
    }
  f->items = items;
  items[f->n].severity = sev;
  items[f->n].code = code;
  items[f->n].vm = name;
  items[f->n].message = msg;
  f->n++;
  return 0;
}

#define W FERRY_SEV_WARNING
#define C FERRY_SEV_CRITICAL
#define ADD(...) do { if (add (out, __VA_ARGS__) == -1) goto oom; } while (0)

static const char *
bus_name (enum ferry_bus b)
{
  switch (b)
    {
    case FERRY_BUS_SCSI: return "scsi";
    case FERRY_BUS_SATA: return "sata";
    case FERRY_BUS_IDE: return "ide";
    case FERRY_BUS_NVME: return "nvme";
    case FERRY_BUS_UNKNOWN: break;
    }
  return "unknown";
}

static const struct ferry_vm_controller *
controller_of (const struct ferry_vm *vm, const struct ferry_vm_disk *d)
{
  for (size_t i = 0; i < vm->n_controllers; i++)
    if (vm->controllers[i].bus == d->bus
        && vm->controllers[i].index == d->controller)
      return &vm->controllers[i];
  return NULL;
}

static const char *
disk_label (const struct ferry_vm_disk *d, char *buf, size_t size)
{
  snprintf (buf, size, "%s%u:%u (%s)", bus_name (d->bus), d->controller,
            d->unit, d->file ? d->file : "no file");
  return buf;
}

static int
check_vm (const struct ferry_vm *vm, const struct ferry_emit_opts *opts,
          struct ferry_findings *out)
{
  char *lvname = ferry_emit_libvirt_name (vm);
  const char *name = lvname ? lvname : "(unnamed)";
  unsigned targets = opts->targets ? opts->targets
                       : FERRY_TARGET_LIBVIRT | FERRY_TARGET_KUBEVIRT;
  char lbl[512];
  size_t n_disks = 0;

  if (!lvname && ferry_error_code () == FERRY_E_SYSTEM)
    return -1;

  if (targets & FERRY_TARGET_KUBEVIRT)
    {
      char *k = ferry_k8s_name (name, 63);
      if (!k)
        goto oom;
      if (strcmp (k, name) != 0)
        {
          int r = add (out, W, "dns-name", name,
                       "the name '%s' is not DNS-safe; the KubeVirt name will be '%s'",
                       name, k);
          free (k);
          if (r == -1)
            goto oom;
        }
      else
        free (k);
    }

  if (vm->memory_mib == 0)
    ADD (C, "no-memory", name, "the description gives no memory size");
  {
    unsigned vcpus = vm->vcpus ? vm->vcpus : 1;
    unsigned cores = vm->cores_per_socket ? vm->cores_per_socket : 1;
    if (vcpus % cores != 0)
      ADD (W, "cpu-topology", name,
           "%u vCPUs do not divide into sockets of %u cores; using %u sockets of 1 core",
           vcpus, cores, vcpus);
  }

  if (vm->secure_boot && vm->firmware == FERRY_FW_BIOS)
    ADD (C, "secure-boot-bios", name,
         "secure boot is enabled with BIOS firmware, which cannot exist; the VM will get BIOS without secure boot");
  if (vm->secure_boot && vm->firmware == FERRY_FW_EFI
      && opts->machine == FERRY_MACHINE_PC)
    ADD (C, "secure-boot-machine-pc", name,
         "secure boot needs the q35 machine (SMM), but machine pc was asked for");
  if (vm->firmware == FERRY_FW_EFI && ferry_guest_is_legacy (vm->guest_os))
    ADD (W, "efi-old-guest", name,
         "UEFI firmware with guest OS '%s', which predates UEFI support; it may not boot on OVMF",
         vm->guest_os);
  if (vm->has_snapshots)
    ADD (W, "snapshots", name,
         "the VM has snapshots; the current state is converted and the snapshots are not kept");
  if (vm->usb_devices)
    ADD (W, "usb-dropped", name,
         "%u USB device(s) or controller(s) will not be migrated", vm->usb_devices);
  for (size_t i = 0; i < vm->n_serials; i++)
    ADD (W, "serial-dropped", name,
         "serial port %zu (%s %s) will not be migrated; the VM gets a pty console instead",
         i, vm->serials[i].type ? vm->serials[i].type : "unknown",
         vm->serials[i].target ? vm->serials[i].target : "");
  if (vm->vtpm)
    ADD (W, "vtpm-state", name,
         "the vTPM's contents (keys, BitLocker/LUKS seals) cannot be migrated; the VM gets an empty TPM 2.0");

  for (size_t i = 0; i < vm->n_disks; i++)
    {
      const struct ferry_vm_disk *d = &vm->disks[i];
      const struct ferry_vm_controller *c = controller_of (vm, d);

      disk_label (d, lbl, sizeof lbl);
      if (d->kind == FERRY_DISK_FLOPPY)
        {
          ADD (W, "floppy-dropped", name, "floppy drive %s will not be migrated", lbl);
          continue;
        }
      if (d->kind == FERRY_DISK_CDROM)
        continue;
      if (!d->present)
        {
          ADD (W, "absent-disk", name,
               "disk %s is marked not present and will not be migrated", lbl);
          continue;
        }
      n_disks++;
      if (d->independent)
        ADD (W, "independent-disk", name,
             "disk %s is independent (%s): snapshots do not cover it; ferry copies its base file as it is",
             lbl, d->mode ? d->mode : "independent");
      if (d->rdm)
        ADD (C, "rdm-disk", name,
             "disk %s is a raw device mapping / passthrough device: there is no disk file to copy",
             lbl);
      if (d->shared || (c && c->shared_bus))
        ADD (C, "shared-disk", name,
             "disk %s is shared (multi-writer%s): each VM would get its own private copy",
             lbl, c && c->shared_bus ? ", SCSI bus sharing" : "");
      if (d->bus == FERRY_BUS_UNKNOWN)
        ADD (W, "unsupported-bus", name,
             "disk %s is on a bus with no KVM equivalent; it moves to the target bus and the guest needs its driver",
             lbl);
      else if (c && c->model && strcasecmp (c->model, "buslogic") == 0)
        ADD (W, "unsupported-bus", name,
             "disk %s is on a BusLogic controller, which KVM does not emulate; the guest must boot from virtio (or SATA) after conversion",
             lbl);
      if (d->path && !d->rdm && !strstr (d->path, "://"))
        {
          struct stat st;
          if (stat (d->path, &st) == -1 && errno == ENOENT)
            ADD (C, "missing-disk-file", name, "disk %s: %s does not exist",
                 lbl, d->path);
        }
    }
  if (n_disks == 0)
    ADD (W, "no-disks", name, "the VM has no disks to convert");

  /* Networks. */
  {
    bool bad_map = false;
    long pod_nic = -1;
    for (size_t i = 0; i < vm->n_nics; i++)
      {
        const struct ferry_vm_nic *nic = &vm->nics[i];
        if (!nic->present)
          continue;
        for (int kv = 0; kv < 2; kv++)
          {
            struct ferry_net_target t;
            if (!(targets & (kv ? FERRY_TARGET_KUBEVIRT : FERRY_TARGET_LIBVIRT)))
              continue;
            if (ferry_network_lookup (opts, nic->network, kv, &t) == -1)
              {
                if (!bad_map)
                  ADD (C, "bad-map", name, "%s", ferry_error_msg ());
                bad_map = true;
                continue;
              }
            if (!t.mapped)
              ADD (W, "network-unmapped", name,
                   "NIC %zu (network '%s') has no %s network map entry; it goes to %s",
                   i, nic->network ? nic->network : "", kv ? "KubeVirt" : "libvirt",
                   kv ? "the pod network" : "libvirt network 'default'");
            if (kv && t.kind == FERRY_NET_POD)
              {
                if (pod_nic >= 0)
                  ADD (C, "pod-network-reused", name,
                       "NICs %ld and %zu both map to the pod network, which a KubeVirt VM can use once; map one with SRC=multus:NAMESPACE/NAME",
                       pod_nic, i);
                else
                  pod_nic = (long) i;
              }
          }
      }
    if (targets & FERRY_TARGET_KUBEVIRT)
      for (size_t i = 0; i < vm->n_disks; i++)
        {
          char buf[256];
          if (vm->disks[i].kind != FERRY_DISK_DISK || !vm->disks[i].present)
            continue;
          if (ferry_storage_lookup (opts, &vm->disks[i], buf, sizeof buf) == -1)
            {
              ADD (C, "bad-map", name, "%s", ferry_error_msg ());
              break;
            }
        }
  }

  free (lvname);
  return 0;
 oom:
  free (lvname);
  return -1;
}

static bool
mac_equal (const char *a, const char *b)
{
  return strcasecmp (a, b) == 0;
}

int
ferry_preflight (const struct ferry_vm *const *vms, size_t n_vms,
                 const struct ferry_emit_opts *opts,
                 struct ferry_findings *out)
{
  struct ferry_emit_opts defaults;

  if (!opts)
    {
      ferry_emit_opts_init (&defaults);
      opts = &defaults;
    }
  for (size_t v = 0; v < n_vms; v++)
    if (check_vm (vms[v], opts, out) == -1)
      return -1;

  /* MAC conflicts in the wave: report each later NIC that repeats an
   * earlier one, naming both. */
  for (size_t v = 0; v < n_vms; v++)
    for (size_t i = 0; i < vms[v]->n_nics; i++)
      {
        const struct ferry_vm_nic *a = &vms[v]->nics[i];
        bool dup = false;
        if (!a->present || !a->mac)
          continue;
        for (size_t w = 0; w <= v && !dup; w++)
          for (size_t j = 0; j < vms[w]->n_nics && !dup; j++)
            {
              const struct ferry_vm_nic *b = &vms[w]->nics[j];
              if (w == v && j >= i)
                break;
              if (!b->present || !b->mac || !mac_equal (a->mac, b->mac))
                continue;
              dup = true;
              char *na = ferry_emit_libvirt_name (vms[v]);
              char *nb = ferry_emit_libvirt_name (vms[w]);
              int r = add (out, C, "mac-conflict", na ? na : "(unnamed)",
                           "MAC %s of NIC %zu is also used by NIC %zu of VM '%s'",
                           a->mac, i, j, nb ? nb : "(unnamed)");
              free (na);
              free (nb);
              if (r == -1)
                return -1;
            }
      }
  return 0;
}

bool
ferry_findings_critical (const struct ferry_findings *f)
{
  for (size_t i = 0; f && i < f->n; i++)
    if (f->items[i].severity == FERRY_SEV_CRITICAL)
      return true;
  return false;
}

size_t
ferry_findings_count (const struct ferry_findings *f, const char *code)
{
  size_t n = 0;
  for (size_t i = 0; f && i < f->n; i++)
    if (strcmp (f->items[i].code, code) == 0)
      n++;
  return n;
}

void
ferry_findings_free (struct ferry_findings *f)
{
  if (!f)
    return;
  for (size_t i = 0; i < f->n; i++)
    {
      free (f->items[i].vm);
      free (f->items[i].message);
    }
  free (f->items);
  f->items = NULL;
  f->n = 0;
}
