/* ferry: what a converted VM becomes on KVM.
 *
 * The emitters turn the VM model (importer/vm.h) into the files a KVM
 * platform needs:
 *
 *   NAME.xml            libvirt domain XML          (emit_libvirt.c, libxml2)
 *   NAME.kubevirt.yaml  KubeVirt VirtualMachine +   (emit_kubevirt.c, libyaml)
 *                       one DataVolume or PVC per disk
 *   NAME.report.json    what was converted and how  (emit_report.c, json-c)
 *
 * and the pre-flight checks (preflight.c) say, before anything is copied,
 * what will not migrate cleanly.  preflight.c also holds the rules the
 * emitters share (disk order, machine type, network and storage maps, name
 * sanitising), so the checks and the output can never disagree.
 *
 * Every function returns 0 (or a value) on success and -1 after setting the
 * error through common/error.h: FERRY_E_USAGE for a bad option or map entry,
 * FERRY_E_INPUT for a VM the output cannot express (no memory size, a disk
 * with no converted path, ...), FERRY_E_OUTPUT when the file cannot be
 * written, FERRY_E_SYSTEM for out of memory.
 *
 * Disks: only present disks of kind FERRY_DISK_DISK are emitted, in the
 * order of ferry_emit_disk_order (SCSI, NVMe, SATA, IDE; then controller,
 * then unit; the same order virt-v2v uses for .vmx), and the first one
 * boots.  Each needs target_path (target_format NULL means raw) for libvirt
 * and a capacity for KubeVirt.  CD-ROMs become empty drives (libvirt only);
 * floppies are dropped.  Absent NICs are dropped.
 */
#ifndef FERRY_CONVERTERS_EMIT_H
#define FERRY_CONVERTERS_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "importer/vm.h"

/* ---- options ---------------------------------------------------------- */

enum ferry_machine {
  FERRY_MACHINE_AUTO = 0, /* q35, or pc for guest OSes older than q35 (winXP, rhel5, ...) */
  FERRY_MACHINE_Q35,
  FERRY_MACHINE_PC,       /* i440fx */
};

enum ferry_cpu_mode {
  FERRY_CPU_HOST_PASSTHROUGH = 0,
  FERRY_CPU_HOST_MODEL,
};

/* The bus the converted disks go on; virtio unless guest conversion found
 * the guest cannot boot from virtio. */
enum ferry_disk_bus {
  FERRY_DISK_BUS_VIRTIO = 0,
  FERRY_DISK_BUS_SATA,
  FERRY_DISK_BUS_SCSI,    /* virtio-scsi */
  FERRY_DISK_BUS_IDE,     /* libvirt only, pc machine only */
};

enum ferry_kv_disk {
  FERRY_KV_DATAVOLUME = 0, /* cdi.kubevirt.io/v1beta1 DataVolume, source upload */
  FERRY_KV_PVC,            /* v1 PersistentVolumeClaim */
};

enum ferry_kv_volume_mode { FERRY_KV_BLOCK = 0, FERRY_KV_FILESYSTEM };

/* DataVolume source.  upload (the default): CDI makes an upload target and
 * the converted image (annotation ferry.io/image-path) is sent with
 * "virtctl image-upload dv NAME --no-create --image-path=FILE".  blank: an
 * empty volume that something else fills (e.g. a copy pod). */
enum ferry_kv_dv_source { FERRY_KV_SOURCE_UPLOAD = 0, FERRY_KV_SOURCE_BLANK };

/* Which outputs are going to be written; pre-flight only reports the
 * problems of the targets asked for. */
#define FERRY_TARGET_LIBVIRT  1u
#define FERRY_TARGET_KUBEVIRT 2u

struct ferry_emit_opts {
  enum ferry_machine machine;
  enum ferry_cpu_mode cpu_mode;
  enum ferry_disk_bus disk_bus;

  /* --network-map entries "SRC=TYPE[:NAME]", first match wins, SRC "*"
   * matches any source network (and a NIC without one).
   *   libvirt:  network:NAME  bridge:NAME
   *             (no libvirt entry for a NIC: network:default)
   *   KubeVirt: pod           multus:NAMESPACE/NAME (or multus:NAME)
   *             (no KubeVirt entry: pod; only one NIC may use pod)
   * Each emitter looks only at the entries of its own kinds, so one map
   * can serve both: "VM Network=bridge:br0" "VM Network=multus:ns/br0". */
  const char *const *network_map;
  size_t n_network_map;

  /* --storage-map entries "SRC=STORAGECLASS" (KubeVirt).  SRC is a
   * datastore name (a disk file written "[datastore1] vm/vm.vmdk"), a disk
   * file name as written in the description, or "*".  No match: no
   * storageClassName (the cluster default). */
  const char *const *storage_map;
  size_t n_storage_map;

  enum ferry_kv_disk kv_disk;
  enum ferry_kv_volume_mode kv_volume_mode;
  enum ferry_kv_dv_source kv_dv_source;
  const char *kv_namespace;    /* metadata.namespace; NULL: none */
  const char *kv_run_strategy; /* NULL: Halted */

  unsigned targets;            /* FERRY_TARGET_*; 0 means both */

  /* A cloud-init NoCloud seed to attach (convert --cloud-init-iso); NULL:
   * none.  libvirt: the "cidata" ISO as a read-only CD-ROM; KubeVirt: a
   * cloudInitNoCloud volume with the user data and network data inline
   * (base64 when not UTF-8 text).  The lengths count bytes. */
  const char *cloudinit_iso;
  const char *cloudinit_user_data;
  size_t cloudinit_user_data_len;
  const char *cloudinit_network_data;
  size_t cloudinit_network_data_len;
};

/* Defaults: auto machine, host-passthrough, virtio, DataVolume (upload),
 * Block, no maps, both targets. */
void ferry_emit_opts_init (struct ferry_emit_opts *opts);

/* ---- emitters --------------------------------------------------------- */

/* libvirt domain XML (type kvm), validating against libvirt's domain
 * schema. */
int ferry_emit_libvirt (const struct ferry_vm *vm,
                        const struct ferry_emit_opts *opts, FILE *out);
int ferry_emit_libvirt_file (const struct ferry_vm *vm,
                             const struct ferry_emit_opts *opts,
                             const char *path);

/* KubeVirt: a YAML stream of a VirtualMachine (kubevirt.io/v1) and one
 * DataVolume or PersistentVolumeClaim per disk. */
int ferry_emit_kubevirt (const struct ferry_vm *vm,
                         const struct ferry_emit_opts *opts, FILE *out);
int ferry_emit_kubevirt_file (const struct ferry_vm *vm,
                              const struct ferry_emit_opts *opts,
                              const char *path);

struct ferry_findings;

/* NAME.report.json.  findings: the pre-flight result for this VM (NULL:
 * none).  guest_json: a JSON object of guest facts from guest conversion
 * (NULL: {}); anything else is an error. */
int ferry_emit_report (const struct ferry_vm *vm,
                       const struct ferry_findings *findings,
                       const char *guest_json, FILE *out);
int ferry_emit_report_file (const struct ferry_vm *vm,
                            const struct ferry_findings *findings,
                            const char *guest_json, const char *path);

/* ---- pre-flight checks ------------------------------------------------ */

enum ferry_severity { FERRY_SEV_WARNING = 0, FERRY_SEV_CRITICAL };

/* Codes (stable; tests and scripts match on them):
 *   critical: rdm-disk, shared-disk, secure-boot-bios,
 *             secure-boot-machine-pc, mac-conflict, missing-disk-file,
 *             no-memory, pod-network-reused, bad-map
 *   warning:  independent-disk, snapshots, efi-old-guest, dns-name,
 *             usb-dropped, serial-dropped, floppy-dropped, absent-disk,
 *             unsupported-bus, no-disks, vtpm-state, network-unmapped,
 *             cpu-topology */
struct ferry_finding {
  enum ferry_severity severity;
  const char *code;  /* static string */
  char *vm;          /* the VM's name (or source) */
  char *message;     /* one line */
};

struct ferry_findings {
  struct ferry_finding *items;
  size_t n;
};

/* Check n_vms VMs (one migration wave; MAC addresses must be unique across
 * them) against opts (NULL: defaults).  Appends to *out, which starts
 * zeroed; 0, or -1 only for out of memory.  Findings are data, not
 * errors. */
int ferry_preflight (const struct ferry_vm *const *vms, size_t n_vms,
                     const struct ferry_emit_opts *opts,
                     struct ferry_findings *out);
/* True if any finding is critical (the conversion stops without --force). */
bool ferry_findings_critical (const struct ferry_findings *f);
/* Number of findings with this code (tests). */
size_t ferry_findings_count (const struct ferry_findings *f, const char *code);
void ferry_findings_free (struct ferry_findings *f);

/* ---- shared rules (preflight.c) --------------------------------------- */

/* Indexes into vm->disks of the disks to emit, in boot order.  Returns the
 * number (at most vm->n_disks) written to idx. */
size_t ferry_emit_disk_order (const struct ferry_vm *vm, size_t *idx);

/* True for VMware guest OS ids of Windows. */
bool ferry_guest_is_windows (const char *guest_os);
/* True for guest OS ids too old for q35 / UEFI (win2000, winXP, winNet
 * (2003), rhel2-5, sles9/10, ...). */
bool ferry_guest_is_legacy (const char *guest_os);
/* The machine to use: "q35" or "pc". */
const char *ferry_emit_machine (const struct ferry_vm *vm,
                                const struct ferry_emit_opts *opts);

/* s with bytes that are not UTF-8 and control characters replaced by '_';
 * name true: also '/', tab and newline (which text keeps).  malloc'd; NULL
 * on error. */
char *ferry_emit_clean_text (const char *s, bool name);

/* Write a file the way targets are written: fn writes PATH.part, which is
 * flushed, fsynced and renamed to path only when fn returned 0 (else
 * removed).  An existing path is replaced. */
int ferry_emit_write_file (const char *path,
                           int (*fn) (void *ctx, FILE *out), void *ctx);
/* The domain name for libvirt (vm->name, else the source's base name,
 * with '/' and control characters replaced).  malloc'd; NULL on error. */
char *ferry_emit_libvirt_name (const struct ferry_vm *vm);
/* An RFC 1123 label (lower case [a-z0-9-], 1..max characters, alphanumeric
 * at both ends) from any string: the same input always gives the same
 * output, and when the string had to change, an 8-hex-digit hash of the
 * original is appended so two names do not collide.  max >= 16.
 * malloc'd; NULL on error. */
char *ferry_k8s_name (const char *name, size_t max);

/* A network map resolved for one NIC. */
enum ferry_net_kind {
  FERRY_NET_NETWORK = 0, /* libvirt <interface type='network'> */
  FERRY_NET_BRIDGE,      /* libvirt <interface type='bridge'> */
  FERRY_NET_POD,         /* KubeVirt pod network, masquerade binding */
  FERRY_NET_MULTUS,      /* KubeVirt multus network, bridge binding */
};
struct ferry_net_target {
  enum ferry_net_kind kind;
  char name[256];   /* network / bridge / NAMESPACE/NAME; "" for pod */
  bool mapped;      /* false: the default was used */
};
/* Resolve the map for a NIC's network (may be NULL) for libvirt
 * (kubevirt false) or KubeVirt.  -1 (FERRY_E_USAGE) for a malformed
 * entry. */
int ferry_network_lookup (const struct ferry_emit_opts *opts,
                          const char *network, bool kubevirt,
                          struct ferry_net_target *out);
/* The storage class for a disk: 1 with the class in buf, 0 when no entry
 * matches, -1 (FERRY_E_USAGE) for a malformed entry. */
int ferry_storage_lookup (const struct ferry_emit_opts *opts,
                          const struct ferry_vm_disk *disk,
                          char *buf, size_t bufsize);

#endif
