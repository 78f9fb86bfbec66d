/* ferry guestfix, Linux: first-boot actions.  The appliance has no network,
 * so what needs the guest's repositories (qemu-guest-agent) is done by the
 * guest itself at its first boot on KVM, through a systemd unit that runs
 * the scripts in /usr/local/lib/ferry/firstboot/scripts once each:
 *
 *   /etc/systemd/system/ferry-firstboot.service   (enabled: wants link)
 *   /usr/local/lib/ferry/firstboot/run.sh          the runner
 *   /usr/local/lib/ferry/firstboot/scripts/NN-*.sh the actions
 *
 * A script that succeeds moves to scripts/done/; one that fails is retried
 * at the next boot, three times at most, then moved to scripts/failed/.
 * The runner logs to /var/log/ferry-firstboot.log and never fails the
 * boot. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "guestfix/internal.h"

#define FB_DIR "/usr/local/lib/ferry/firstboot"
#define FB_UNIT "/etc/systemd/system/ferry-firstboot.service"
#define FB_WANTS "/etc/systemd/system/multi-user.target.wants/" \
                 "ferry-firstboot.service"

static const char fb_unit[] =
  "# Written by ferry guestfix: first-boot actions after the move from\n"
  "# VMware to KVM (see " FB_DIR "/run.sh).\n"
  "[Unit]\n"
  "Description=ferry first-boot actions after conversion from VMware\n"
  "Wants=network-online.target\n"
  "After=network-online.target\n"
  "ConditionPathExistsGlob=" FB_DIR "/scripts/*.sh\n"
  "\n"
  "[Service]\n"
  "Type=oneshot\n"
  "ExecStart=/bin/sh " FB_DIR "/run.sh\n"
  "TimeoutStartSec=30min\n"
  "\n"
  "[Install]\n"
  "WantedBy=multi-user.target\n";

static const char fb_runner[] =
  "#!/bin/sh\n"
  "# Written by ferry guestfix: run each first-boot script once.\n"
  "dir=" FB_DIR "/scripts\n"
  "log=/var/log/ferry-firstboot.log\n"
  "mkdir -p \"$dir/done\" \"$dir/failed\"\n"
  "for s in \"$dir\"/*.sh; do\n"
  "  [ -f \"$s\" ] || continue\n"
  "  name=$(basename \"$s\")\n"
  "  echo \"$(date) ferry-firstboot: running $name\" >> \"$log\"\n"
  "  if sh \"$s\" >> \"$log\" 2>&1; then\n"
  "    echo \"$(date) ferry-firstboot: $name done\" >> \"$log\"\n"
  "    mv \"$s\" \"$dir/done/\"\n"
  "    rm -f \"$s.attempts\"\n"
  "  else\n"
  "    n=$(cat \"$s.attempts\" 2>/dev/null || echo 0)\n"
  "    n=$((n + 1))\n"
  "    echo \"$(date) ferry-firstboot: $name failed (attempt $n)\" >> \"$log\"\n"
  "    if [ \"$n\" -ge 3 ]; then\n"
  "      mv \"$s\" \"$dir/failed/\"; rm -f \"$s.attempts\"\n"
  "    else\n"
  "      echo \"$n\" > \"$s.attempts\"\n"
  "    fi\n"
  "  fi\n"
  "done\n"
  "exit 0\n";

/* The install command for the guest's package manager, or NULL. */
static const char *
install_command (const char *pm)
{
  if (!pm)
    return NULL;
  if (strcmp (pm, "dnf") == 0)
    return "dnf -y install qemu-guest-agent";
  if (strcmp (pm, "yum") == 0)
    return "yum -y install qemu-guest-agent";
  if (strcmp (pm, "apt") == 0)
    return "apt-get update && DEBIAN_FRONTEND=noninteractive "
           "apt-get -y install qemu-guest-agent";
  if (strcmp (pm, "zypper") == 0)
    return "zypper -n install qemu-guest-agent";
  return NULL;
}

static bool
has_systemd (struct gf_ctx *c)
{
  static const char *const paths[] = {
    "/usr/lib/systemd/systemd", "/lib/systemd/systemd", NULL,
  };
  return gf_is_dir (c, "/etc/systemd/system") && gf_find_program (c, paths);
}

int
gf_linux_firstboot (struct gf_ctx *c)
{
  if (gf_has_application (c, "qemu-guest-agent")) {
    gf_note (c, "qemu-guest-agent is already installed");
    return 0;
  }
  const char *cmd = install_command (c->r->package_management);
  if (!cmd) {
    gf_note (c, "qemu-guest-agent is not installed: the guest's package "
             "manager (%s) is not one ferry knows how to drive; install it "
             "by hand", c->r->package_management ? c->r->package_management
                                                 : "unknown");
    return 0;
  }
  if (!has_systemd (c)) {
    gf_note (c, "qemu-guest-agent is not installed: the guest does not use "
             "systemd, so no first-boot unit was added; install it by hand "
             "(%s)", cmd);
    return 0;
  }

  char *script = gf_asprintf (
    "#!/bin/sh\n"
    "# Written by ferry guestfix: install the QEMU guest agent from the\n"
    "# guest's own repositories.\n"
    "set -e\n"
    "%s\n"
    "systemctl enable --now qemu-guest-agent.service || "
    "systemctl start qemu-guest-agent.service\n", cmd);
  int rc = gf_mkdir_p (c, FB_DIR "/scripts");
  if (rc == 0)
    rc = gf_create_file (c, FB_DIR "/run.sh", fb_runner, 0755);
  if (rc == 0)
    rc = gf_create_file (c, FB_DIR "/scripts/50-qemu-guest-agent.sh", script,
                         0755);
  free (script);
  if (rc == 0)
    rc = gf_create_file (c, FB_UNIT, fb_unit, 0644);
  if (rc == 0)
    rc = gf_mkdir_p (c, "/etc/systemd/system/multi-user.target.wants");
  if (rc < 0)
    return -1;
  if (gf_exists (c, FB_WANTS) || gf_is_symlink (c, FB_WANTS))
    if (guestfs_rm (c->g, FB_WANTS) < 0)
      return gf_gerror (c, FERRY_E_OUTPUT, FB_WANTS);
  if (guestfs_ln_s (c->g, FB_UNIT, FB_WANTS) < 0)
    return gf_gerror (c, FERRY_E_OUTPUT, FB_WANTS);

  gf_change (c, FB_UNIT, "first-boot unit added and enabled");
  gf_change (c, FB_DIR "/scripts/50-qemu-guest-agent.sh",
             "first boot: %s", cmd);
  gf_note (c, "qemu-guest-agent will be installed at the first boot from "
           "the guest's repositories (log: /var/log/ferry-firstboot.log)");
  return 0;
}
