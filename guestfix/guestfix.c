/* ferry guestfix: the stage as a list of named steps run against a qcow2
 * overlay over the target, committed only when all of them succeeded.
 *
 * Test hook: FERRY_GUESTFIX_FAIL_STEP=NAME makes the step NAME fail right
 * after it has done its work (so the overlay already holds changes when
 * the failure happens; for "commit" the failure comes before anything is
 * committed).  Only the test suite sets it (tests/guestfix_linux.sh); it
 * proves a failure leaves the target byte-for-byte unchanged. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "guestfix/cloudinit.h"
#include "guestfix/internal.h"
#include "importer/transport.h"

static const struct {
  const char *name;
  int (*fn) (struct gf_ctx *);
} linux_steps[] = {
  { "linux-devices", gf_linux_devices },
  { "linux-lvm", gf_linux_lvm },
  { "linux-network", gf_linux_network },
  { "linux-vmware-tools", gf_linux_vmware_tools },
  { "linux-initramfs", gf_linux_initramfs },
  { "linux-bootloader", gf_linux_bootloader },
  { "linux-firstboot", gf_linux_firstboot },
  { "linux-cloudinit", gf_linux_cloudinit },
  { "linux-selinux", gf_linux_selinux },
};

static const struct {
  const char *name;
  int (*fn) (struct gf_ctx *);
} windows_steps[] = {
  { "windows-virtio", gf_windows_virtio },
  { "windows-registry", gf_windows_registry },
  { "windows-firstboot", gf_windows_firstboot },
};

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* The test hook described above: -1 when the running step is the one to
 * fail. */
static int
injected_failure (struct gf_ctx *c)
{
  const char *s = getenv ("FERRY_GUESTFIX_FAIL_STEP");
  if (s && strcmp (s, c->step) == 0)
    return ferry_error (FERRY_E_SYSTEM, "injected failure "
                        "(FERRY_GUESTFIX_FAIL_STEP=%s)", s);
  return 0;
}

static int
check_disk (struct gf_ctx *c)
{
  struct stat st;
  /* An NBD export (a cutover into one): raw, checked by opening it. */
  if (ferry_is_nbd_uri (c->disk)) {
    if (c->o->format && strcmp (c->o->format, "raw") != 0)
      return ferry_error (FERRY_E_USAGE, "%s: an NBD export is raw",
                          c->disk);
    c->format = "raw";
    return 0;
  }
  if (stat (c->disk, &st) < 0)
    return ferry_error_errno (FERRY_E_INPUT, errno, "%s", c->disk);
  if (!S_ISREG (st.st_mode) && !S_ISBLK (st.st_mode))
    return ferry_error (FERRY_E_INPUT, "%s: not a disk image file or block "
                        "device", c->disk);
  if (!c->o->dry_run && access (c->disk, R_OK | W_OK) < 0)
    return ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: cannot be changed "
                              "in place", c->disk);
  if (c->o->format) {
    if (strcmp (c->o->format, "raw") != 0
        && strcmp (c->o->format, "qcow2") != 0)
      return ferry_error (FERRY_E_USAGE, "--format %s: expected raw or qcow2",
                          c->o->format);
    c->format = c->o->format;
    return 0;
  }
  return gf_detect_format (c->disk, &c->format);
}

static int
run_steps (struct gf_ctx *c)
{
  c->step = "check";
  if (check_disk (c) < 0 || gf_luks_load_keys (c) < 0)
    return -1;
  c->step = "overlay";
  if (gf_overlay_create (c) < 0
      || injected_failure (c) < 0)
    return -1;

  c->step = "launch";
  c->g = gf_handle_open (c->log, &c->r->tcg);
  if (!c->g || gf_launch (c) < 0 || injected_failure (c) < 0)
    return -1;

  c->step = "decrypt";
  if (gf_luks_open (c) < 0 || injected_failure (c) < 0)
    return -1;

  c->step = "inspect";
  if (gf_check_dirty (c) < 0 || gf_inspect (c) < 0
      || injected_failure (c) < 0)
    return -1;

  c->step = "mount";
  if (gf_mount (c) < 0 || injected_failure (c) < 0)
    return -1;

  /* Windows steps copy drivers whose size only they know; a full NTFS
   * volume fails them at the write. */
  if (!c->win) {
    c->step = "space";
    if (gf_check_space (c) < 0 || injected_failure (c) < 0)
      return -1;
  }

  for (size_t i = 0; i < sizeof windows_steps / sizeof windows_steps[0]
                     && c->win; i++) {
    c->step = windows_steps[i].name;
    ferry_debug (c->log, "guestfix: step %s", c->step);
    if (windows_steps[i].fn (c) < 0 || injected_failure (c) < 0)
      return -1;
  }
  /* The NoCloud seed directory is a Linux one (linux_cloudinit.c). */
  if (c->win && ferry_cloudinit_given (c->o->cloudinit)) {
    c->step = "cloudinit";
    gf_note (c, "the guest is Windows: the cloud-init seed was not written "
             "into it (convert --cloud-init-iso attaches it as a volume)");
  }
  for (size_t i = 0; i < sizeof linux_steps / sizeof linux_steps[0]
                     && !c->win; i++) {
    c->step = linux_steps[i].name;
    ferry_debug (c->log, "guestfix: step %s", c->step);
    if (linux_steps[i].fn (c) < 0 || injected_failure (c) < 0)
      return -1;
  }

  c->step = "unmount";
  if (guestfs_umount_all (c->g) < 0)
    return gf_gerror (c, FERRY_E_OUTPUT, "unmounting the guest filesystems");
  if (gf_shutdown (c) < 0 || injected_failure (c) < 0)
    return -1;

  c->step = "commit";
  if (injected_failure (c) < 0)
    return -1;
  if (c->o->dry_run)
    return 0;
  c->commit_started = true;
  if (gf_overlay_commit (c) < 0)
    return -1;
  c->r->committed = true;
  return 0;
}

int
guestfix_run (const struct guestfix_opts *opts, struct guestfix_result *r)
{
  struct gf_ctx c = {
    .o = opts, .r = r, .log = opts->log, .disk = opts->disk, .step = "start",
  };
  double t0 = now ();

  r->dry_run = opts->dry_run;
  int rc = run_steps (&c);
  if (rc < 0) {
    /* Until qemu-img commit starts, nothing was written to the target. */
    bool untouched = !c.commit_started;
    r->failed_step = gf_strdup (c.step);
    r->error = gf_strdup (ferry_error_msg ());
    if (strcmp (c.step, "check") == 0)
      ; /* the disk's own problem, said as it is */
    else if (untouched)
      ferry_error_prefix ("guestfix step %s failed (%s is unchanged)",
                          c.step, opts->disk);
    else
      ferry_error_prefix ("guestfix step %s failed", c.step);
  }
  /* Closing the handle after a failure kills the appliance; the overlay
   * then goes, and with it every change. */
  gf_handle_close (&c);
  gf_overlay_discard (&c);
  gf_windows_free (c.win);
  gf_luks_free (&c);
  gf_free_strings (c.apps);
  free (c.apps_error);
  r->total_seconds = now () - t0;
  return rc;
}
