/* ferry: one model of a virtual machine.
 *
 * The VMX and OVF parsers fill it; the emitters (libvirt XML, KubeVirt
 * manifests, the report) read it; guest conversion adds guest facts.  It
 * records what the source says, not what the target will be: choices such
 * as the disk bus on KVM are made by the emitters.
 *
 * Strings are owned by the struct (malloc'd, freed by ferry_vm_free) and
 * NULL when the source does not say.
 */
#ifndef FERRY_IMPORTER_VM_H
#define FERRY_IMPORTER_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ferry_firmware { FERRY_FW_BIOS = 0, FERRY_FW_EFI };

enum ferry_bus {
  FERRY_BUS_UNKNOWN = 0,
  FERRY_BUS_SCSI,
  FERRY_BUS_SATA,
  FERRY_BUS_IDE,
  FERRY_BUS_NVME,
};

struct ferry_vm_controller {
  enum ferry_bus bus;
  unsigned index;    /* scsi0 -> 0 */
  char *model;       /* pvscsi, lsilogic, lsisas1068, buslogic, ahci, ... */
  bool present;
  bool shared_bus;   /* scsiN.sharedBus = virtual/physical */
};

enum ferry_disk_kind {
  FERRY_DISK_DISK = 0,
  FERRY_DISK_CDROM,
  FERRY_DISK_FLOPPY,
};

struct ferry_vm_disk {
  enum ferry_disk_kind kind;
  enum ferry_bus bus;
  unsigned controller;  /* controller index on that bus */
  unsigned unit;        /* unit / port on the controller */
  char *file;           /* as written: VMX fileName, OVF href */
  char *path;           /* resolved: a local path or URL, NULL if unknown */
  char *device_type;    /* VMX deviceType (scsi-hardDisk, rawDisk, cdrom-image, ...) */
  char *mode;           /* VMX mode (persistent, independent-persistent, ...) */
  bool present;
  bool independent;     /* mode independent-* */
  bool rdm;             /* raw device mapping / passthrough */
  bool shared;          /* multi-writer sharing */
  uint64_t capacity;    /* bytes; 0 if the description does not say */
  char *id;             /* OVF disk id (vmdisk1), else NULL */

  /* Filled in after conversion. */
  char *target_path;
  char *target_format;  /* raw, qcow2 */
  uint64_t bytes_copied;
  char *checksum;
  double seconds;
};

struct ferry_vm_nic {
  char *model;          /* vmxnet3, e1000, e1000e, vlance, ... */
  char *mac;            /* aa:bb:cc:dd:ee:ff, lower case, or NULL */
  bool mac_static;      /* addressType static (else generated/vpx) */
  char *network;        /* networkName / OVF Connection */
  bool present;
  bool start_connected;
};

struct ferry_vm_serial {
  char *type;           /* file, pipe, network, device */
  char *target;         /* fileName / pipe name / URI */
};

/* A snapshot listed in the .vmsd next to a .vmx. */
struct ferry_vm_snapshot {
  unsigned uid;         /* snapshotN.uid */
  unsigned parent;      /* parent's uid, 0 for a root snapshot */
  char *name;           /* displayName ("" when unnamed) */
  char *description;    /* NULL when empty */
  char *file;           /* the .vmsn state file, NULL if not given */
  unsigned n_disks;     /* numDisks */
  bool current;         /* snapshot.current: the state the VM runs from */
};

struct ferry_vm {
  char *source;         /* the .vmx/.ovf path or URL */
  char *source_format;  /* "vmx" or "ovf" */
  char *name;           /* displayName / VirtualSystem name */
  char *uuid;           /* uuid.bios as 8-4-4-4-12 lower case */
  char *guest_os;       /* VMware guestOS id (rhel8-64, windows2019srv-64, ...) */
  char *annotation;

  uint64_t memory_mib;
  unsigned vcpus;
  unsigned cores_per_socket; /* 0: not set (1) */
  enum ferry_firmware firmware;
  bool secure_boot;
  bool nested_hv;       /* vhv.enable */
  bool vtpm;
  bool has_snapshots;   /* the disks are snapshot deltas / snapshot files present */
  unsigned usb_devices; /* USB controllers/devices that will be dropped */

  struct ferry_vm_controller *controllers;
  size_t n_controllers;
  struct ferry_vm_disk *disks;
  size_t n_disks;
  struct ferry_vm_nic *nics;
  size_t n_nics;
  struct ferry_vm_serial *serials;
  size_t n_serials;

  /* From the .vmsd (VMX sources only; none when it is missing).  The disks
   * converted are the ones the .vmx names: the running state on top of
   * the current snapshot, its delta chain flattened. */
  struct ferry_vm_snapshot *snapshots;
  size_t n_snapshots;
  char *snapshot_file;  /* the .vmsd that was read, NULL if none */

  /* Things that will not migrate cleanly, found while parsing. */
  char **warnings;
  size_t n_warnings;
};

void ferry_vm_free (struct ferry_vm *vm);
/* Append a formatted warning (0, or -1 out of memory). */
int ferry_vm_warn (struct ferry_vm *vm, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* Parsers: text (len bytes, need not be NUL-terminated) named name (for
 * messages).  Disk paths are resolved relative to dir (NULL: leave path
 * NULL).  0 on success, -1 with an error naming the file, line or element
 * and the reason. */
int ferry_vmx_parse (const char *text, size_t len, const char *name,
                     const char *dir, struct ferry_vm *out);
int ferry_ovf_parse (const char *text, size_t len, const char *name,
                     const char *dir, struct ferry_vm *out);
/* The same for one VirtualSystem of a VirtualSystemCollection (vApp):
 * vm_name matches its Name or ovf:id.  NULL takes the only system; with
 * several, the error lists their names. */
int ferry_ovf_parse_select (const char *text, size_t len, const char *name,
                            const char *dir, const char *vm_name,
                            struct ferry_vm *out);

/* The snapshot list of a .vmx: the .vmsd text (same syntax as a .vmx)
 * named name.  Adds vm->snapshots, sets has_snapshots when there is one
 * and warns that snapshots are not kept.  0, or -1 with an error naming
 * the file and line (vm keeps what it had). */
int ferry_vmsd_parse (const char *text, size_t len, const char *name,
                      struct ferry_vm *vm);

struct ferry_source_opts;

/* Read a VM description from src: a local .vmx/.ovf path or an http(s)
 * URL to one (fetched with o, which may be NULL).  Disk paths are resolved
 * next to the description: local paths, or URLs built like the VMDK
 * extent siblings (the dcPath/dsName query kept; "[ds] dir/x.vmdk" and
 * /vmfs/volumes/ds/dir/x.vmdk datastore paths mapped to the ESXi /folder
 * URL of that datastore; '..' refused).  For a .vmx the .vmsd next to it
 * is read when it exists.  vm_name picks one VirtualSystem of an OVF
 * VirtualSystemCollection (NULL: the only one; an error lists the names
 * when there are several).  0, or -1 with the error set. */
int ferry_vm_load (const char *src, const struct ferry_source_opts *o,
                   const char *vm_name, struct ferry_vm *out);

/* The .vmsd next to the .vmx at src (path or URL) into vm, as
 * ferry_vm_load does: missing is fine, unreadable or invalid is a warning
 * in vm.  -1 only when out of memory. */
int ferry_vm_load_vmsd (const char *src, const struct ferry_source_opts *o,
                        struct ferry_vm *vm);

#endif
