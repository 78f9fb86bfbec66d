/* ferry guestfix: make a copied VMware guest bootable on KVM, through
 * libguestfs, in place on the converted disk.
 *
 * Safety: every change is made in a qcow2 overlay whose backing file is the
 * target disk.  Only when every step succeeded is the overlay committed
 * into the target (qemu-img commit); on any failure, and always with
 * dry_run, the overlay is discarded, so the target stays byte-for-byte as it
 * was copied.  The result says which step failed.
 *
 * Steps (names as used in the result, in messages and by
 * FERRY_GUESTFIX_FAIL_STEP, see guestfix/guestfix.c):
 *   check (the disk and options), overlay, launch, decrypt (LUKS devices,
 *   guestfix/luks.c), inspect, mount, space (free space, guestfix/space.c),
 *   linux-devices, linux-lvm, linux-network, linux-vmware-tools,
 *   linux-initramfs, linux-bootloader, linux-firstboot, linux-cloudinit,
 *   linux-selinux,
 *   windows-virtio, windows-registry, windows-firstboot (Windows guests),
 *   unmount, commit
 */
#ifndef FERRY_GUESTFIX_GUESTFIX_H
#define FERRY_GUESTFIX_GUESTFIX_H

#include <stdbool.h>
#include <stddef.h>

#include <json.h>

#include "common/log.h"

struct ferry_cloudinit;

/* A passphrase for encrypted (LUKS) devices on the disk, given as
 * --key-file DEVICE:PATH: the passphrase is read from PATH (one trailing
 * newline ignored), never from the command line. */
struct guestfix_key {
  char device[64];   /* "/dev/sda2" (as the appliance names the disk's
                        devices) or "all": every encrypted device */
  const char *path;  /* the file holding the passphrase */
};

/* The most --key-file options a command takes. */
#define GUESTFIX_MAX_KEYS 16

/* Parse "DEVICE:PATH" into K (PATH points into ARG).  -1 with a usage
 * error set when ARG is malformed. */
int guestfix_key_parse (const char *arg, struct guestfix_key *k);

struct guestfix_opts {
  const char *disk;          /* the converted disk, changed in place */
  const char *format;        /* "raw", "qcow2" or NULL: detect (never probes
                                a raw image as something else) */
  const char *root;          /* choose this root device when the disk has
                                several operating systems; NULL: exactly one */
  bool dry_run;              /* make the changes in the overlay, report them,
                                then discard it */
  const char *tmpdir;        /* where the overlay goes; NULL: $TMPDIR or
                                /var/tmp */
  const struct ferry_log *log;
  /* cloud-init NoCloud seed to write into a Linux guest (step
   * linux-cloudinit; guestfix/cloudinit.h); NULL or empty: none.  Its
   * meta-data is generated from the guest's host name when not given. */
  struct ferry_cloudinit *cloudinit;
  /* virtio-win drivers for Windows guests: an ISO (read with libarchive,
   * never mounted) or a directory with the same layout; NULL: the
   * VIRTIO_WIN environment variable. */
  const char *virtio_win;
  /* Passphrases for LUKS devices (step decrypt, guestfix/luks.c); the
   * devices are opened before inspection. */
  const struct guestfix_key *keys;
  size_t n_keys;
};

/* One change made to the guest (or that would be made with dry_run). */
struct guestfix_change {
  char *step;   /* e.g. "linux-devices" */
  char *file;   /* path in the guest, or a package name for removals */
  char *what;   /* what changed, one line */
};

/* Something that was not done, or is left for the guest's first boot. */
struct guestfix_note {
  char *step;
  char *text;
};

/* The initramfs of one installed kernel. */
struct guestfix_kernel {
  char *version;   /* "6.1.0-18-amd64" */
  char *tool;      /* "dracut", "update-initramfs", "mkinitrd" or NULL */
  bool regenerated;
  char *detail;    /* why not, or the tool's complaint; may be NULL */
};

struct guestfix_result {
  /* Guest facts from inspection (NULL when unknown). */
  char *root;            /* "/dev/sda1" as the appliance sees it */
  char *os_type;         /* "linux", "windows", ... */
  char *distro;          /* "rhel", "debian", ... */
  char *product_name;
  int major, minor;
  char *package_format;  /* "rpm", "deb", ... */
  char *package_management; /* "dnf", "yum", "apt", ... */
  bool selinux;

  struct guestfix_change *changes;
  size_t n_changes, cap_changes;
  struct guestfix_note *notes;
  size_t n_notes, cap_notes;
  struct guestfix_kernel *kernels;
  size_t n_kernels, cap_kernels;
  char **removed_packages;
  size_t n_removed, cap_removed;

  bool tcg;              /* the appliance ran under TCG */
  double launch_seconds; /* appliance start-up */
  double total_seconds;
  bool dry_run;
  bool committed;        /* the changes are in the target now */
  char *failed_step;     /* NULL on success */
  char *error;           /* the failure message, NULL on success */
};

void guestfix_result_init (struct guestfix_result *r);
void guestfix_result_free (struct guestfix_result *r);

/* Run the whole stage on opts->disk.  Returns 0 when every step succeeded
 * (and, unless dry_run, the changes were committed), -1 with the error set
 * (common/error.h; the message names the failed step) and r->failed_step
 * filled.  r holds what was found and changed either way. */
int guestfix_run (const struct guestfix_opts *opts, struct guestfix_result *r);

/* The result as a JSON object (caller owns the reference):
 *   disk facts: root, os_type, distro, product_name, major, minor,
 *   package_format, package_management, selinux; tcg, launch_seconds,
 *   total_seconds, dry_run, committed, failed_step, error,
 *   changes[]: {step, file, what}, notes[]: {step, text},
 *   kernels[]: {version, tool, regenerated, detail},
 *   removed_packages[]: strings. */
json_object *guestfix_result_json (const struct guestfix_result *r);

/* Whether KVM can run a guest here: /dev/kvm opens, a VM and a vCPU can be
 * created and a one-instruction guest (HLT) runs to completion.  The probe
 * runs in a child process with a time limit, so a nested setup where KVM
 * accepts the ioctls but never enters the guest counts as unusable.
 * FERRY_GUESTFIX_FORCE_TCG=1 in the environment answers false. */
bool guestfix_kvm_usable (void);

#endif
