/* ferry: KubeVirt manifests.
 *
 * One YAML stream, written with libyaml's emitter (quoting and escaping are
 * libyaml's business): the VirtualMachine (kubevirt.io/v1) first, then one
 * DataVolume (cdi.kubevirt.io/v1beta1) or PersistentVolumeClaim (v1) per
 * disk, in boot order.  Field names follow the KubeVirt and CDI API types
 * exactly; the tests check them by path.
 *
 * Names: the VM name is ferry_k8s_name (vm name, 63); disk n's volume is
 * "VMNAME-disk-N" (N from 0 in boot order), with VMNAME cut so the whole
 * stays within 63 characters.  In the VM, disk/volume names are
 * "disk-N", interface/network names "net-N" (N the NIC's index in the
 * source).
 *
 * DataVolumes use source upload (see emit.h) and carry the converted image
 * path in the annotation ferry.io/image-path.
 */
#include "converters/emit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "common/error.h"

struct ye {
  yaml_emitter_t e;
  int err;
};

static void
emit (struct ye *y, yaml_event_t *ev, int ok)
{
  if (y->err)
    {
      if (ok)
        yaml_event_delete (ev);
      return;
    }
  if (!ok || !yaml_emitter_emit (&y->e, ev))
    y->err = 1;
}

/* A string that a YAML 1.1 parser reads back as the same string when
 * written plain: letters first (no numbers, no '.inf'), only characters
 * that mean nothing in plain scalars, and none of the words that resolve
 * to booleans or null. */
static bool
plain_safe (const char *s)
{
  static const char *const words[] = {
    "y", "yes", "n", "no", "true", "false", "on", "off", "null",
  };
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
    return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
          || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '/'
          || *p == '_'))
      return false;
  for (size_t i = 0; i < sizeof words / sizeof *words; i++)
    if (strcasecmp (s, words[i]) == 0)
      return false;
  return true;
}

/* A string scalar. */
static void
y_str (struct ye *y, const char *s)
{
  yaml_event_t ev;
  bool plain = plain_safe (s);
  int ok = yaml_scalar_event_initialize (
    &ev, NULL, (yaml_char_t *) "tag:yaml.org,2002:str", (yaml_char_t *) s,
    (int) strlen (s), plain, !plain,
    plain ? YAML_PLAIN_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
  emit (y, &ev, ok);
}

/* A number or boolean: plain, resolved by the reader. */
static void
y_raw (struct ye *y, const char *s)
{
  yaml_event_t ev;
  int ok = yaml_scalar_event_initialize (&ev, NULL, NULL, (yaml_char_t *) s,
                                         (int) strlen (s), 1, 0,
                                         YAML_PLAIN_SCALAR_STYLE);
  emit (y, &ev, ok);
}

static void
y_uint (struct ye *y, unsigned long long v)
{
  char buf[32];
  snprintf (buf, sizeof buf, "%llu", v);
  y_raw (y, buf);
}

static void
y_bool (struct ye *y, bool v)
{
  y_raw (y, v ? "true" : "false");
}

static void
y_map (struct ye *y)
{
  yaml_event_t ev;
  int ok = yaml_mapping_start_event_initialize (&ev, NULL, NULL, 1,
                                                YAML_BLOCK_MAPPING_STYLE);
  emit (y, &ev, ok);
}

/* {} */
static void
y_empty_map (struct ye *y)
{
  yaml_event_t ev;
  int ok = yaml_mapping_start_event_initialize (&ev, NULL, NULL, 1,
                                                YAML_FLOW_MAPPING_STYLE);
  emit (y, &ev, ok);
  ok = yaml_mapping_end_event_initialize (&ev);
  emit (y, &ev, ok);
}

static void
y_end_map (struct ye *y)
{
  yaml_event_t ev;
  int ok = yaml_mapping_end_event_initialize (&ev);
  emit (y, &ev, ok);
}

static void
y_seq (struct ye *y)
{
  yaml_event_t ev;
  int ok = yaml_sequence_start_event_initialize (&ev, NULL, NULL, 1,
                                                 YAML_BLOCK_SEQUENCE_STYLE);
  emit (y, &ev, ok);
}

static void
y_end_seq (struct ye *y)
{
  yaml_event_t ev;
  int ok = yaml_sequence_end_event_initialize (&ev);
  emit (y, &ev, ok);
}

/* key: "value" */
static void
y_kv (struct ye *y, const char *k, const char *v)
{
  y_str (y, k);
  y_str (y, v);
}

static void
y_doc (struct ye *y, bool start)
{
  yaml_event_t ev;
  int ok = start ? yaml_document_start_event_initialize (&ev, NULL, NULL, NULL, 0)
                 : yaml_document_end_event_initialize (&ev, 1);
  emit (y, &ev, ok);
}

/* ---- cloud-init seed (cloudInitNoCloud) ------------------------------ */

/* UTF-8 text with no control characters but tab, CR and newline: what
 * goes inline as userData / networkData. */
static bool
ci_is_text (const char *p, size_t n)
{
  const unsigned char *u = (const unsigned char *) p;
  size_t i = 0;
  while (i < n)
    {
      unsigned char c = u[i];
      size_t k;
      if (c < 0x80)
        {
          if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
            return false;
          i++;
          continue;
        }
      if (c >= 0xc2 && c <= 0xdf)
        k = 1;
      else if (c >= 0xe0 && c <= 0xef)
        k = 2;
      else if (c >= 0xf0 && c <= 0xf4)
        k = 3;
      else
        return false;
      if (n - i <= k)
        return false;
      for (size_t j = 1; j <= k; j++)
        if ((u[i + j] & 0xc0) != 0x80)
          return false;
      /* Overlong forms, surrogates, past U+10FFFF. */
      if ((c == 0xe0 && u[i + 1] < 0xa0) || (c == 0xed && u[i + 1] >= 0xa0)
          || (c == 0xf0 && u[i + 1] < 0x90) || (c == 0xf4 && u[i + 1] >= 0x90))
        return false;
      i += k + 1;
    }
  return true;
}

static char *
ci_base64 (const char *p, size_t n)
{
  static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                          "0123456789+/";
  char *r = malloc ((n + 2) / 3 * 4 + 1), *o = r;
  if (!r)
    return NULL;
  for (size_t i = 0; i < n; i += 3)
    {
      unsigned v = (unsigned char) p[i] << 16;
      if (i + 1 < n)
        v |= (unsigned char) p[i + 1] << 8;
      if (i + 2 < n)
        v |= (unsigned char) p[i + 2];
      *o++ = t[v >> 18 & 63];
      *o++ = t[v >> 12 & 63];
      *o++ = i + 1 < n ? t[v >> 6 & 63] : '=';
      *o++ = i + 2 < n ? t[v & 63] : '=';
    }
  *o = 0;
  return r;
}

/* KEY: text as a literal block (libyaml falls back to a quoted scalar
 * when the text cannot be one), or KEYBase64: the bytes encoded. */
static int
ci_data (struct ye *y, const char *key, const char *p, size_t n)
{
  char k64[32];
  if (ci_is_text (p, n))
    {
      yaml_event_t ev;
      y_str (y, key);
      int ok = yaml_scalar_event_initialize (
        &ev, NULL, (yaml_char_t *) "tag:yaml.org,2002:str",
        (yaml_char_t *) p, (int) n, 0, 1, YAML_LITERAL_SCALAR_STYLE);
      emit (y, &ev, ok);
      return 0;
    }
  char *b = ci_base64 (p, n);
  if (!b)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  snprintf (k64, sizeof k64, "%sBase64", key);
  y_kv (y, k64, b);
  free (b);
  return 0;
}

/* ---- the manifests ---------------------------------------------------- */

struct kv {
  struct ye y;
  const struct ferry_vm *vm;
  const struct ferry_emit_opts *opts;
  char *name;          /* k8s VM name */
  char *orig;          /* the name it came from */
  size_t *order;
  size_t n_disks;
};

static bool
valid_uuid (const char *u)
{
  if (!u || strlen (u) != 36)
    return false;
  for (int i = 0; i < 36; i++)
    {
      char c = u[i];
      if (i == 8 || i == 13 || i == 18 || i == 23)
        {
          if (c != '-')
            return false;
        }
      else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                 || (c >= 'A' && c <= 'F')))
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
    if (i % 3 == 2 ? m[i] != ':'
                   : !((m[i] >= '0' && m[i] <= '9') || (m[i] >= 'a' && m[i] <= 'f')
                       || (m[i] >= 'A' && m[i] <= 'F')))
      return false;
  return true;
}

/* Capacity as a Kubernetes quantity: whole Gi when exact, else Mi
 * rounded up. */
static void
quantity (uint64_t bytes, char *buf, size_t size)
{
  const uint64_t mi = 1024 * 1024, gi = mi * 1024;
  if (bytes % gi == 0)
    snprintf (buf, size, "%lluGi", (unsigned long long) (bytes / gi));
  else
    snprintf (buf, size, "%lluMi",
              (unsigned long long) (bytes / mi + (bytes % mi != 0)));
}

/* "VMNAME-disk-N" within 63 characters. */
static char *
volume_name (const char *vmname, size_t n)
{
  char suffix[32];
  char *r;
  int sl = snprintf (suffix, sizeof suffix, "-disk-%zu", n);
  size_t keep = strlen (vmname);

  if (keep + (size_t) sl > 63)
    keep = 63 - (size_t) sl;
  while (keep > 0 && vmname[keep - 1] == '-')
    keep--;
  if (asprintf (&r, "%.*s%s", (int) keep, vmname, suffix) < 0)
    {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      return NULL;
    }
  return r;
}

static void
labels (struct kv *k)
{
  struct ye *y = &k->y;
  y_str (y, "labels");
  y_map (y);
  y_kv (y, "app.kubernetes.io/managed-by", "ferry");
  y_kv (y, "ferry.io/vm", k->name);
  y_end_map (y);
}

static int
annotations (struct kv *k, const char *image)
{
  struct ye *y = &k->y;
  const struct ferry_vm *vm = k->vm;
  const char *keys[] = { "ferry.io/source", "ferry.io/source-format",
                         "ferry.io/original-name", "ferry.io/guest-os",
                         "ferry.io/image-path", "kubevirt.io/description" };
  const char *vals[] = { vm->source, vm->source_format, k->orig,
                         vm->guest_os, image,
                         image ? NULL : vm->annotation };
  bool any = false;

  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    {
      if (!vals[i])
        continue;
      char *t = ferry_emit_clean_text (vals[i], false);
      if (!t)
        return -1;
      if (!any)
        {
          y_str (y, "annotations");
          y_map (y);
          any = true;
        }
      y_kv (y, keys[i], t);
      free (t);
    }
  if (any)
    y_end_map (y);
  return 0;
}

static void
metadata (struct kv *k, const char *name)
{
  struct ye *y = &k->y;
  y_kv (y, "name", name);
  if (k->opts->kv_namespace)
    y_kv (y, "namespace", k->opts->kv_namespace);
}

static int
write_vm (struct kv *k)
{
  struct ye *y = &k->y;
  const struct ferry_vm *vm = k->vm;
  const struct ferry_emit_opts *o = k->opts;
  unsigned vcpus = vm->vcpus ? vm->vcpus : 1;
  unsigned cores = vm->cores_per_socket ? vm->cores_per_socket : 1;
  bool efi = vm->firmware == FERRY_FW_EFI;
  bool sb = efi && vm->secure_boot;
  bool windows = ferry_guest_is_windows (vm->guest_os);
  const char *bus;
  char buf[64];

  size_t n_nics = 0;
  for (size_t i = 0; i < vm->n_nics; i++)
    n_nics += vm->nics[i].present;

  if (vcpus % cores != 0)
    cores = 1;
  switch (o->disk_bus)
    {
    case FERRY_DISK_BUS_SATA: bus = "sata"; break;
    case FERRY_DISK_BUS_SCSI: bus = "scsi"; break;
    case FERRY_DISK_BUS_IDE:
      return ferry_error (FERRY_E_USAGE, "KubeVirt has no IDE disk bus");
    case FERRY_DISK_BUS_VIRTIO:
    default: bus = "virtio"; break;
    }

  y_doc (y, true);
  y_map (y);
  y_kv (y, "apiVersion", "kubevirt.io/v1");
  y_kv (y, "kind", "VirtualMachine");
  y_str (y, "metadata");
  y_map (y);
  metadata (k, k->name);
  labels (k);
  if (annotations (k, NULL) == -1)
    return -1;
  y_end_map (y);

  y_str (y, "spec");
  y_map (y);
  y_kv (y, "runStrategy", o->kv_run_strategy ? o->kv_run_strategy : "Halted");
  y_str (y, "template");
  y_map (y);
  y_str (y, "metadata");
  y_map (y);
  y_str (y, "labels");
  y_map (y);
  y_kv (y, "kubevirt.io/domain", k->name);
  y_end_map (y);
  y_end_map (y);
  y_str (y, "spec");
  y_map (y);

  y_str (y, "domain");
  y_map (y);
  y_str (y, "cpu");
  y_map (y);
  y_str (y, "sockets");
  y_uint (y, vcpus / cores);
  y_str (y, "cores");
  y_uint (y, cores);
  y_str (y, "threads");
  y_uint (y, 1);
  if (o->cpu_mode == FERRY_CPU_HOST_MODEL)
    y_kv (y, "model", "host-model");
  else
    y_kv (y, "model", "host-passthrough");
  y_end_map (y);

  y_str (y, "memory");
  y_map (y);
  snprintf (buf, sizeof buf, "%lluMi", (unsigned long long) vm->memory_mib);
  y_kv (y, "guest", buf);
  y_end_map (y);

  y_str (y, "firmware");
  y_map (y);
  if (valid_uuid (vm->uuid))
    {
      y_kv (y, "uuid", vm->uuid);
      /* The SMBIOS serial VMware gives the VM. */
      char serial[64];
      size_t n = 0;
      int o2 = snprintf (serial, sizeof serial, "VMware-");
      for (const char *p = vm->uuid; *p; p++)
        if (*p != '-')
          {
            serial[o2++] = *p;
            if (++n % 2 == 0 && n < 32)
              serial[o2++] = n == 16 ? '-' : ' ';
          }
      serial[o2] = 0;
      y_kv (y, "serial", serial);
    }
  y_str (y, "bootloader");
  y_map (y);
  if (efi)
    {
      y_str (y, "efi");
      y_map (y);
      y_str (y, "secureBoot");
      y_bool (y, sb);
      y_end_map (y);
    }
  else
    {
      y_str (y, "bios");
      y_empty_map (y);
    }
  y_end_map (y);
  y_end_map (y);

  y_str (y, "features");
  y_map (y);
  y_str (y, "acpi");
  y_empty_map (y);
  y_str (y, "apic");
  y_empty_map (y);
  if (sb)
    {
      y_str (y, "smm");
      y_map (y);
      y_str (y, "enabled");
      y_bool (y, true);
      y_end_map (y);
    }
  if (windows)
    {
      y_str (y, "hyperv");
      y_map (y);
      static const char *const on[] = {
        "relaxed", "vapic", "vpindex", "runtime", "synic", "reset",
        "frequencies",
      };
      for (size_t i = 0; i < sizeof on / sizeof *on; i++)
        {
          y_str (y, on[i]);
          y_empty_map (y);
        }
      y_str (y, "spinlocks");
      y_map (y);
      y_str (y, "spinlocks");
      y_uint (y, 8191);
      y_end_map (y);
      y_end_map (y);
    }
  y_end_map (y);

  y_str (y, "clock");
  y_map (y);
  if (windows)
    {
      /* KubeVirt's clock has no localtime offset: Windows must be told
       * the RTC is UTC (RealTimeIsUniversal=1), which is guest
       * conversion's business. */
      y_str (y, "utc");
      y_empty_map (y);
      y_str (y, "timer");
      y_map (y);
      y_str (y, "hyperv");
      y_empty_map (y);
      y_end_map (y);
    }
  else
    {
      y_str (y, "utc");
      y_empty_map (y);
    }
  y_end_map (y);

  y_str (y, "devices");
  y_map (y);
  y_str (y, "disks");
  y_seq (y);
  for (size_t i = 0; i < k->n_disks; i++)
    {
      y_map (y);
      snprintf (buf, sizeof buf, "disk-%zu", i);
      y_kv (y, "name", buf);
      y_str (y, "disk");
      y_map (y);
      y_kv (y, "bus", bus);
      y_end_map (y);
      if (i == 0)
        {
          y_str (y, "bootOrder");
          y_uint (y, 1);
        }
      y_end_map (y);
    }
  if (o->cloudinit_iso)
    {
      y_map (y);
      y_kv (y, "name", "cloudinitdisk");
      y_str (y, "disk");
      y_map (y);
      y_kv (y, "bus", bus);
      y_end_map (y);
      y_end_map (y);
    }
  y_end_seq (y);

  if (n_nics > 0)
    {
      y_str (y, "interfaces");
      y_seq (y);
      for (size_t i = 0; i < vm->n_nics; i++)
        {
          const struct ferry_vm_nic *nic = &vm->nics[i];
          struct ferry_net_target t;
          if (!nic->present)
            continue;
          if (ferry_network_lookup (o, nic->network, true, &t) == -1)
            return -1;
          if (nic->mac && !valid_mac (nic->mac))
            return ferry_error (FERRY_E_INPUT,
                                "NIC %zu: MAC address '%s' is not of the form aa:bb:cc:dd:ee:ff",
                                i, nic->mac);
          y_map (y);
          snprintf (buf, sizeof buf, "net-%zu", i);
          y_kv (y, "name", buf);
          y_str (y, t.kind == FERRY_NET_POD ? "masquerade" : "bridge");
          y_empty_map (y);
          if (nic->mac)
            y_kv (y, "macAddress", nic->mac);
          y_kv (y, "model", "virtio");
          y_end_map (y);
        }
      y_end_seq (y);
    }
  if (n_nics == 0)
    {
      /* Else KubeVirt gives the VM a pod network NIC of its own. */
      y_str (y, "autoattachPodInterface");
      y_bool (y, false);
    }
  y_str (y, "rng");
  y_empty_map (y);
  if (vm->vtpm)
    {
      /* Not persistent: that needs the VMPersistentState feature gate. */
      y_str (y, "tpm");
      y_empty_map (y);
    }
  y_end_map (y); /* devices */
  y_end_map (y); /* domain */

  if (n_nics > 0)
    {
      y_str (y, "networks");
      y_seq (y);
      bool pod_used = false;
      for (size_t i = 0; i < vm->n_nics; i++)
        {
          const struct ferry_vm_nic *nic = &vm->nics[i];
          struct ferry_net_target t;
          if (!nic->present)
            continue;
          if (ferry_network_lookup (o, nic->network, true, &t) == -1)
            return -1;
          y_map (y);
          snprintf (buf, sizeof buf, "net-%zu", i);
          y_kv (y, "name", buf);
          if (t.kind == FERRY_NET_POD)
            {
              if (pod_used)
                return ferry_error (FERRY_E_USAGE,
                                    "NIC %zu (network '%s') maps to the pod network, which another NIC already uses; map it with '%s=multus:NAMESPACE/NAME'",
                                    i, nic->network ? nic->network : "",
                                    nic->network ? nic->network : "*");
              pod_used = true;
              y_str (y, "pod");
              y_empty_map (y);
            }
          else
            {
              y_str (y, "multus");
              y_map (y);
              y_kv (y, "networkName", t.name);
              y_end_map (y);
            }
          y_end_map (y);
        }
      y_end_seq (y);
    }

  y_str (y, "volumes");
  y_seq (y);
  for (size_t i = 0; i < k->n_disks; i++)
    {
      char *vol = volume_name (k->name, i);
      if (!vol)
        return -1;
      y_map (y);
      snprintf (buf, sizeof buf, "disk-%zu", i);
      y_kv (y, "name", buf);
      if (o->kv_disk == FERRY_KV_PVC)
        {
          y_str (y, "persistentVolumeClaim");
          y_map (y);
          y_kv (y, "claimName", vol);
        }
      else
        {
          y_str (y, "dataVolume");
          y_map (y);
          y_kv (y, "name", vol);
        }
      y_end_map (y);
      y_end_map (y);
      free (vol);
    }
  if (o->cloudinit_iso)
    {
      /* KubeVirt makes the cidata volume itself; it takes no meta-data
       * (the instance id is the VM's).  It wants user data: an empty
       * configuration when only network data was given. */
      y_map (y);
      y_kv (y, "name", "cloudinitdisk");
      y_str (y, "cloudInitNoCloud");
      y_map (y);
      if (o->cloudinit_user_data)
        {
          if (ci_data (y, "userData", o->cloudinit_user_data,
                       o->cloudinit_user_data_len) < 0)
            return -1;
        }
      else
        y_kv (y, "userData", "#cloud-config\n");
      if (o->cloudinit_network_data
          && ci_data (y, "networkData", o->cloudinit_network_data,
                      o->cloudinit_network_data_len) < 0)
        return -1;
      y_end_map (y);
      y_end_map (y);
    }
  y_end_seq (y);

  y_end_map (y); /* template.spec */
  y_end_map (y); /* template */
  y_end_map (y); /* spec */
  y_end_map (y);
  y_doc (y, false);
  return 0;
}

static void
storage_spec (struct kv *k, const char *size, const char *sc)
{
  struct ye *y = &k->y;
  y_str (y, "accessModes");
  y_seq (y);
  y_str (y, "ReadWriteOnce");
  y_end_seq (y);
  y_kv (y, "volumeMode",
        k->opts->kv_volume_mode == FERRY_KV_FILESYSTEM ? "Filesystem" : "Block");
  if (sc)
    y_kv (y, "storageClassName", sc);
  y_str (y, "resources");
  y_map (y);
  y_str (y, "requests");
  y_map (y);
  y_kv (y, "storage", size);
  y_end_map (y);
  y_end_map (y);
}

static int
write_volume (struct kv *k, size_t n)
{
  struct ye *y = &k->y;
  const struct ferry_vm_disk *d = &k->vm->disks[k->order[n]];
  char size[32], scbuf[256];
  const char *sc = NULL;
  int r;
  char *vol;

  if (d->capacity == 0)
    return ferry_error (FERRY_E_INPUT,
                        "disk %zu (%s): size unknown, cannot size its volume",
                        k->order[n], d->file ? d->file : "no file");
  quantity (d->capacity, size, sizeof size);
  r = ferry_storage_lookup (k->opts, d, scbuf, sizeof scbuf);
  if (r == -1)
    return -1;
  if (r == 1)
    sc = scbuf;
  vol = volume_name (k->name, n);
  if (!vol)
    return -1;

  y_doc (y, true);
  y_map (y);
  if (k->opts->kv_disk == FERRY_KV_PVC)
    {
      y_kv (y, "apiVersion", "v1");
      y_kv (y, "kind", "PersistentVolumeClaim");
    }
  else
    {
      y_kv (y, "apiVersion", "cdi.kubevirt.io/v1beta1");
      y_kv (y, "kind", "DataVolume");
    }
  y_str (y, "metadata");
  y_map (y);
  metadata (k, vol);
  free (vol);
  labels (k);
  if (annotations (k, d->target_path) == -1)
    return -1;
  y_end_map (y);
  y_str (y, "spec");
  y_map (y);
  if (k->opts->kv_disk == FERRY_KV_PVC)
    storage_spec (k, size, sc);
  else
    {
      y_str (y, "source");
      y_map (y);
      y_str (y, k->opts->kv_dv_source == FERRY_KV_SOURCE_BLANK ? "blank" : "upload");
      y_empty_map (y);
      y_end_map (y);
      y_str (y, "storage");
      y_map (y);
      storage_spec (k, size, sc);
      y_end_map (y);
    }
  y_end_map (y);
  y_end_map (y);
  y_doc (y, false);
  return 0;
}

static int
write_handler (void *data, unsigned char *buffer, size_t size)
{
  FILE *f = data;
  return fwrite (buffer, 1, size, f) == size;
}

int
ferry_emit_kubevirt (const struct ferry_vm *vm,
                     const struct ferry_emit_opts *opts, FILE *out)
{
  struct ferry_emit_opts defaults;
  struct kv k;
  yaml_event_t ev;
  int r = -1;

  if (!opts)
    {
      ferry_emit_opts_init (&defaults);
      opts = &defaults;
    }
  memset (&k, 0, sizeof k);
  k.vm = vm;
  k.opts = opts;

  if (vm->memory_mib == 0)
    return ferry_error (FERRY_E_INPUT, "the VM has no memory size");
  if (opts->kv_namespace)
    {
      char *ns = ferry_k8s_name (opts->kv_namespace, 63);
      bool same = ns && strcmp (ns, opts->kv_namespace) == 0;
      free (ns);
      if (!same)
        return ferry_error (FERRY_E_USAGE,
                            "namespace '%s' is not an RFC 1123 label",
                            opts->kv_namespace);
    }
  if (opts->kv_run_strategy)
    {
      static const char *const ok[] = {
        "Always", "RerunOnFailure", "Manual", "Halted", "Once",
      };
      bool found = false;
      for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        found |= strcmp (opts->kv_run_strategy, ok[i]) == 0;
      if (!found)
        return ferry_error (FERRY_E_USAGE,
                            "run strategy '%s': expected Always, RerunOnFailure, Manual, Halted or Once",
                            opts->kv_run_strategy);
    }

  k.orig = ferry_emit_libvirt_name (vm);
  if (!k.orig)
    return -1;
  k.name = ferry_k8s_name (k.orig, 63);
  k.order = malloc ((vm->n_disks ? vm->n_disks : 1) * sizeof *k.order);
  if (!k.name || !k.order)
    {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto out;
    }
  k.n_disks = ferry_emit_disk_order (vm, k.order);

  if (!yaml_emitter_initialize (&k.y.e))
    {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto out;
    }
  yaml_emitter_set_output (&k.y.e, write_handler, out);
  yaml_emitter_set_unicode (&k.y.e, 1);
  yaml_emitter_set_indent (&k.y.e, 2);
  yaml_emitter_set_width (&k.y.e, -1);

  emit (&k.y, &ev, yaml_stream_start_event_initialize (&ev, YAML_UTF8_ENCODING));
  if (write_vm (&k) == -1)
    goto out_emitter;
  for (size_t i = 0; i < k.n_disks; i++)
    if (write_volume (&k, i) == -1)
      goto out_emitter;
  emit (&k.y, &ev, yaml_stream_end_event_initialize (&ev));
  if (k.y.err || !yaml_emitter_flush (&k.y.e))
    {
      if (k.y.e.error == YAML_WRITER_ERROR)
        ferry_error_errno (FERRY_E_OUTPUT, errno ? errno : EIO,
                           "writing the KubeVirt YAML");
      else
        ferry_error (FERRY_E_SYSTEM, "libyaml: %s",
                     k.y.e.problem ? k.y.e.problem : "emitter error");
      goto out_emitter;
    }
  if (fflush (out) != 0)
    {
      ferry_error_errno (FERRY_E_OUTPUT, errno, "writing the KubeVirt YAML");
      goto out_emitter;
    }
  r = 0;
 out_emitter:
  yaml_emitter_delete (&k.y.e);
 out:
  free (k.order);
  free (k.name);
  free (k.orig);
  return r;
}

struct kv_file_ctx {
  const struct ferry_vm *vm;
  const struct ferry_emit_opts *opts;
};

static int
kv_file_fn (void *ctx, FILE *out)
{
  struct kv_file_ctx *c = ctx;
  return ferry_emit_kubevirt (c->vm, c->opts, out);
}

int
ferry_emit_kubevirt_file (const struct ferry_vm *vm,
                          const struct ferry_emit_opts *opts, const char *path)
{
  struct kv_file_ctx c = { vm, opts };
  if (ferry_emit_write_file (path, kv_file_fn, &c) == -1)
    return ferry_error_prefix ("%s", path);
  return 0;
}
