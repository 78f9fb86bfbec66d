/* ferry guestfix: run the guest conversion stage (guestfix/) on a converted
 * disk, in place, through a qcow2 overlay that is committed only when every
 * step succeeded. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "cli/cli.h"
#include "common/error.h"
#include "guestfix/cloudinit.h"
#include "guestfix/guestfix.h"

static void
usage (FILE *f)
{
  fprintf (f,
    "Usage: ferry guestfix [OPTIONS] DISK\n"
    "\n"
    "Make the guest on a converted disk (raw or qcow2) boot on KVM, in place:\n"
    "/dev/sdX and /dev/hdX become /dev/vdX in fstab, crypttab, the GRUB\n"
    "configuration and resume= entries; LVM device pins, HWADDR= lines and\n"
    "persistent-net rules go; VMware tools are removed or disabled; virtio\n"
    "drivers are added to the initramfs configuration and every initramfs\n"
    "is regenerated; a first-boot unit installs qemu-guest-agent; SELinux\n"
    "guests are relabelled at first boot.  Windows guests get the virtio\n"
    "drivers from virtio-win (the boot disk driver registered to start at\n"
    "boot) and a first-boot service that installs the rest, the guest\n"
    "agent, removes VMware Tools and brings offline disks online.\n"
    "\n"
    "Every change goes to a qcow2 overlay over DISK, run through the\n"
    "libguestfs appliance (no network; TCG when KVM is unusable), and is\n"
    "committed into DISK only when every step succeeded; otherwise DISK is\n"
    "left byte-for-byte unchanged and the failed step is named.\n"
    "\n"
    "Options:\n"
    "      --format=raw|qcow2  the format of DISK (default: qcow2 if it has\n"
    "                          the qcow2 magic, else raw)\n"
    "      --root=DEVICE       the root to convert when DISK holds several\n"
    "                          operating systems (e.g. /dev/sda2)\n"
    "      --virtio-win=PATH   Windows guests: the virtio-win ISO or directory\n"
    "                          (default: $VIRTIO_WIN)\n"
    "      --key-file=DEVICE:FILE\n"
    "                          open the LUKS-encrypted DEVICE (e.g. /dev/sda2,\n"
    "                          or all) with the passphrase in FILE (one\n"
    "                          trailing newline ignored) before inspection\n"
    "                          (repeatable)\n"
    "  -n, --dry-run           do everything in the overlay, print the\n"
    "                          changes, then discard them\n"
    "      --json              print the result as one JSON object\n"
    "      --cloud-init-user-data=FILE, --cloud-init-meta-data=FILE,\n"
    "      --cloud-init-network-config=FILE\n"
    "                          write a cloud-init NoCloud seed into the guest\n"
    "                          (/var/lib/cloud/seed/nocloud/; files of at most\n"
    "                          1 MiB; meta-data is generated from the guest's\n"
    "                          host name when not given)\n"
    "      --tmpdir=DIR        where the overlay goes (default: $TMPDIR or\n"
    "                          /var/tmp)\n"
    "  -v, --verbose           more messages (twice: libguestfs debug)\n"
    "  -q, --quiet             errors only\n"
    "  -h, --help              this text\n"
    "\n"
    "Exit codes: 0 success, 1 the disk holds no usable guest (no OS, several\n"
    "without --root, a filesystem that needs recovery, neither Linux nor\n"
    "Windows, hibernated Windows, virtio-win without the boot disk driver,\n"
    "a LUKS passphrase that does not open its device, no space left for the\n"
    "changes),\n"
    "2 usage, 3 the disk or overlay cannot be written, 4 system (libguestfs\n"
    "cannot start).\n");
}

enum { OPT_FORMAT = 256, OPT_ROOT, OPT_JSON, OPT_TMPDIR, OPT_CI_USER,
       OPT_CI_META, OPT_CI_NET, OPT_VIRTIO_WIN, OPT_KEY_FILE };

static const struct option long_opts[] = {
  { "format", required_argument, NULL, OPT_FORMAT },
  { "root", required_argument, NULL, OPT_ROOT },
  { "dry-run", no_argument, NULL, 'n' },
  { "json", no_argument, NULL, OPT_JSON },
  { "tmpdir", required_argument, NULL, OPT_TMPDIR },
  { "virtio-win", required_argument, NULL, OPT_VIRTIO_WIN },
  { "key-file", required_argument, NULL, OPT_KEY_FILE },
  { "cloud-init-user-data", required_argument, NULL, OPT_CI_USER },
  { "cloud-init-meta-data", required_argument, NULL, OPT_CI_META },
  { "cloud-init-network-config", required_argument, NULL, OPT_CI_NET },
  { "verbose", no_argument, NULL, 'v' },
  { "quiet", no_argument, NULL, 'q' },
  { "help", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

static void
print_text (const struct guestfix_opts *o, const struct guestfix_result *r,
            int rc)
{
  if (r->root)
    printf ("%s: %s (%s %d.%d), root %s; appliance started in %.1f s%s\n",
            o->disk, r->product_name ? r->product_name : "unknown product",
            r->distro ? r->distro : "unknown", r->major, r->minor, r->root,
            r->launch_seconds, r->tcg ? " (TCG)" : "");
  for (size_t i = 0; i < r->n_changes; i++)
    printf ("  %-20s %s: %s\n", r->changes[i].step, r->changes[i].file,
            r->changes[i].what);
  for (size_t i = 0; i < r->n_kernels; i++) {
    const struct guestfix_kernel *k = &r->kernels[i];
    if (k->regenerated)
      printf ("kernel %s: initramfs regenerated with %s\n", k->version,
              k->tool);
    else
      printf ("kernel %s: initramfs NOT regenerated: %s\n", k->version,
              k->detail ? k->detail : "unknown reason");
  }
  for (size_t i = 0; i < r->n_notes; i++)
    printf ("note: %s: %s\n", r->notes[i].step, r->notes[i].text);
  if (rc < 0)
    printf ("failed at step %s: %zu change%s discarded\n", r->failed_step,
            r->n_changes, r->n_changes == 1 ? "" : "s");
  else if (r->dry_run)
    printf ("dry run: %zu change%s found, %s not changed (%.1f s)\n",
            r->n_changes, r->n_changes == 1 ? "" : "s", o->disk,
            r->total_seconds);
  else
    printf ("%zu change%s committed to %s (%.1f s)\n", r->n_changes,
            r->n_changes == 1 ? "" : "s", o->disk, r->total_seconds);
}

int
cmd_guestfix (int argc, char **argv, struct cli_common *g)
{
  struct guestfix_key keys[GUESTFIX_MAX_KEYS];
  struct guestfix_opts o = { .log = &g->log, .keys = keys };
  bool json = false;
  const char *ci_user = NULL, *ci_meta = NULL, *ci_net = NULL;
  struct ferry_cloudinit ci;
  int c;

  optind = 1;
  while ((c = getopt_long (argc, argv, "nvqh", long_opts, NULL)) != -1) {
    switch (c) {
    case OPT_FORMAT:
      if (strcmp (optarg, "raw") != 0 && strcmp (optarg, "qcow2") != 0) {
        fprintf (stderr, "ferry: --format=%s: expected raw or qcow2\n",
                 optarg);
        return FERRY_E_USAGE;
      }
      o.format = optarg;
      break;
    case OPT_ROOT: o.root = optarg; break;
    case 'n': o.dry_run = true; break;
    case OPT_JSON: json = true; break;
    case OPT_TMPDIR: o.tmpdir = optarg; break;
    case OPT_VIRTIO_WIN: o.virtio_win = optarg; break;
    case OPT_KEY_FILE:
      if (o.n_keys == GUESTFIX_MAX_KEYS) {
        fprintf (stderr, "ferry: at most %d --key-file options\n",
                 GUESTFIX_MAX_KEYS);
        return FERRY_E_USAGE;
      }
      if (guestfix_key_parse (optarg, &keys[o.n_keys++]) < 0)
        return cli_fail ();
      break;
    case OPT_CI_USER: ci_user = optarg; break;
    case OPT_CI_META: ci_meta = optarg; break;
    case OPT_CI_NET: ci_net = optarg; break;
    case 'v': g->log.level++; break;
    case 'q': g->log.level = FERRY_LOG_ERROR; break;
    case 'h': usage (stdout); return 0;
    default: usage (stderr); return FERRY_E_USAGE;
    }
  }
  if (optind != argc - 1) {
    fprintf (stderr, "ferry guestfix: expected one DISK (see --help)\n");
    return FERRY_E_USAGE;
  }
  o.disk = argv[optind];
  /* Read and checked before the appliance starts. */
  if (ferry_cloudinit_load (&ci, ci_user, ci_meta, ci_net, &g->log) < 0)
    return cli_fail ();
  o.cloudinit = &ci;

  struct guestfix_result r;
  guestfix_result_init (&r);
  int rc = guestfix_run (&o, &r);
  ferry_cloudinit_free (&ci);
  if (json) {
    json_object *j = guestfix_result_json (&r);
    printf ("%s\n", json_object_to_json_string_ext (j, JSON_C_TO_STRING_PRETTY
                                                    | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put (j);
  } else if (g->log.level > FERRY_LOG_ERROR || rc == 0) {
    print_text (&o, &r, rc);
  }
  guestfix_result_free (&r);
  if (fflush (stdout) != 0 && rc == 0)
    return ferry_error (FERRY_E_OUTPUT, "writing the result"), cli_fail ();
  return rc < 0 ? cli_fail () : 0;
}
