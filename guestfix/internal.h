/* ferry guestfix: pieces shared by the files of guestfix/ (not a public
 * header; the rest of ferry uses guestfix/guestfix.h). */
#ifndef FERRY_GUESTFIX_INTERNAL_H
#define FERRY_GUESTFIX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <guestfs.h>

#include "guestfix/guestfix.h"

/* One run of the stage: the handle, the options, the result being filled,
 * and the step that is running (for recorded changes and messages). */
struct gf_ctx {
  guestfs_h *g;
  const struct guestfix_opts *o;
  struct guestfix_result *r;
  const struct ferry_log *log;
  const char *step;
  const char *disk;          /* the target, as named by the user */
  const char *format;        /* "raw" or "qcow2" */
  char *overlay_dir;         /* mkdtemp'd directory holding the overlay */
  char *overlay;             /* the qcow2 overlay (backing = target) */
  bool commit_started;       /* the target may have been written */
  char **apps;               /* installed package names (gf_applications) */
  char *apps_error;          /* why they could not be listed */
  struct gf_windows *win;    /* Windows guests: facts and plan (windows_*.c) */
  struct gf_luks *luks;      /* encrypted devices and passphrases (luks.c) */
};

/* ---- result.c ---- */
void gf_change (struct gf_ctx *c, const char *file, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));
void gf_note (struct gf_ctx *c, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
struct guestfix_kernel *gf_kernel_add (struct gf_ctx *c, const char *version);
void gf_removed_package (struct gf_ctx *c, const char *name);
/* Abort on allocation failure: the stage cannot go on without memory and
 * the target is untouched at any point where this could fire. */
char *gf_strdup (const char *s);
char *gf_asprintf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
void gf_free_strings (char **v);   /* NULL-terminated, from libguestfs */
size_t gf_count_strings (char *const *v);

/* ---- appliance.c ---- */
/* Create the handle (environment honoured: LIBGUESTFS_BACKEND etc.), no
 * network, TCG when KVM is unusable (warned once per process), errors
 * collected instead of printed, and debug output routed to the log. */
guestfs_h *gf_handle_open (const struct ferry_log *log, bool *tcg);
/* Set the ferry error from the handle's last error: "WHAT: message". */
int gf_gerror (struct gf_ctx *c, int code, const char *what);
/* Launch with the overlay attached (read-write); times the start-up. */
int gf_launch (struct gf_ctx *c);
/* Flush and stop the appliance; -1 if the appliance reported a failure
 * writing the overlay.  Safe to call twice. */
int gf_shutdown (struct gf_ctx *c);
void gf_handle_close (struct gf_ctx *c);

/* ---- overlay.c ---- */
/* Detect "raw" or "qcow2" from the first bytes (qcow2 magic), never
 * anything else. */
int gf_detect_format (const char *disk, const char **format);
int gf_overlay_create (struct gf_ctx *c);
int gf_overlay_commit (struct gf_ctx *c);
void gf_overlay_discard (struct gf_ctx *c);

/* ---- inspect.c ---- */
/* Refuse ext2/3/4 filesystems that need recovery (before anything mounts
 * them: a mount would replay the journal and hide the state). */
int gf_check_dirty (struct gf_ctx *c);
/* inspect_os; choose the root (opts->root or the only one); fill the
 * guest facts; refuse what is not Linux. */
int gf_inspect (struct gf_ctx *c);
/* Mount the root's filesystems at their guest mount points. */
int gf_mount (struct gf_ctx *c);

/* ---- luks.c: encrypted devices ---- */
/* Step check: read the passphrase files named by opts->keys. */
int gf_luks_load_keys (struct gf_ctx *c);
/* Step decrypt: find the LUKS devices on the disk, open those a
 * passphrase was given for (a wrong one is an error naming the device),
 * then activate the volume groups they hold.  Devices without a key stay
 * locked and are noted. */
int gf_luks_open (struct gf_ctx *c);
/* The opened mappings (/dev/mapper/...), NULL-terminated; may be NULL. */
char *const *gf_luks_mapped (struct gf_ctx *c);
/* For "no operating system found": the locked devices and how to give a
 * passphrase ("; ..."), or NULL when no device is locked.  Caller
 * frees. */
char *gf_luks_hint (struct gf_ctx *c);
/* Forget the passphrases (their memory is cleared) and the lists. */
void gf_luks_free (struct gf_ctx *c);

/* ---- space.c ---- */
/* Step space (Linux guests, after mount): refuse before anything changes
 * when a filesystem guestfix writes to has no room for the changes. */
int gf_check_space (struct gf_ctx *c);

/* ---- guest file helpers (guestfs_ops.c) ---- */
bool gf_is_file (struct gf_ctx *c, const char *path);     /* not following */
bool gf_is_dir (struct gf_ctx *c, const char *path);
bool gf_is_symlink (struct gf_ctx *c, const char *path);
bool gf_exists (struct gf_ctx *c, const char *path);
/* First of PATHS (NULL-terminated) that exists as a file following links
 * (programs), or NULL. */
const char *gf_find_program (struct gf_ctx *c, const char *const *paths);
/* Read a whole text file; NULL with the error set. */
char *gf_read_text (struct gf_ctx *c, const char *path, size_t *len);
/* Replace a file's content, keeping its owner, mode and label (the file is
 * rewritten in place). */
int gf_write_text (struct gf_ctx *c, const char *path, const char *text);
/* Create a new file with MODE (an existing one is replaced). */
int gf_create_file (struct gf_ctx *c, const char *path, const char *text,
                    int mode);
int gf_mkdir_p (struct gf_ctx *c, const char *path);
/* Paths matching a glob in the guest; NULL-terminated, free with
 * gf_free_strings; NULL on error (set). */
char **gf_glob (struct gf_ctx *c, const char *pattern);
/* Run ARGV in the guest (chrooted, inside the appliance).  Returns 0 with
 * *out set (free it), or -1 with *out holding the complaint (free it);
 * the ferry error is not set: callers decide whether it is fatal. */
int gf_run (struct gf_ctx *c, const char *const *argv, char **out);

/* The guest's installed packages (names), listed once per run; NULL
 * with the error set. */
char *const *gf_applications (struct gf_ctx *c);
bool gf_has_application (struct gf_ctx *c, const char *name);

/* ---- text.c: pure string edits, unit-tested ---- */
/* Rename /dev/sdX, /dev/hdX (with partition numbers) to /dev/vdX in TEXT.
 * Returns a new string, and the number of renames in *n (0: same text);
 * each rename is also described in DESC (caller frees) as
 * "/dev/sda1 -> /dev/vda1, ..." (duplicates listed once). */
char *gf_rename_devices (const char *text, size_t *n, char **desc);
/* Remove lines whose first non-blank text starts with KEY (e.g. "HWADDR=");
 * the number removed in *n. */
char *gf_drop_lines (const char *text, const char *key, size_t *n);
/* Append LINE (without newline) unless a line equal to it, ignoring
 * leading/trailing blanks, exists; *added says which. */
char *gf_ensure_line (const char *text, const char *line, bool *added);
/* Value of KEY=VALUE in a shell-style config (quotes stripped); NULL. */
char *gf_config_value (const char *text, const char *key);

/* ---- linux*.c: the Linux steps ---- */
int gf_linux_devices (struct gf_ctx *c);
/* Rename sdX/hdX devices in one guest file (used again after the grub
 * config is regenerated); a missing file is not an error. */
int gf_linux_rename_devices_in (struct gf_ctx *c, const char *path);
int gf_linux_lvm (struct gf_ctx *c);
int gf_linux_network (struct gf_ctx *c);
int gf_linux_vmware_tools (struct gf_ctx *c);
int gf_linux_initramfs (struct gf_ctx *c);
int gf_linux_bootloader (struct gf_ctx *c);
int gf_linux_firstboot (struct gf_ctx *c);
int gf_linux_cloudinit (struct gf_ctx *c);
int gf_linux_selinux (struct gf_ctx *c);

/* ---- windows_*.c: the Windows steps ---- */
/* After inspection of a Windows root: read the facts the steps need
 * (system root, hives, control set, build, variant, arch) and refuse a
 * hibernated guest (or one shut down with Fast Startup). */
int gf_windows_inspect (struct gf_ctx *c);
void gf_windows_free (struct gf_windows *w);
int gf_windows_virtio (struct gf_ctx *c);
int gf_windows_registry (struct gf_ctx *c);
int gf_windows_firstboot (struct gf_ctx *c);

/* The modules every initramfs needs to boot from virtio. */
extern const char *const gf_virtio_modules[];

#endif
