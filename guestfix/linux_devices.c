/* ferry guestfix, Linux: block device names.  On KVM the disks are virtio
 * (/dev/vdX), so every /dev/sdX and /dev/hdX in the files that name the
 * boot, swap and encrypted devices is renamed, partition numbers kept.
 * Names by UUID=, LABEL=, /dev/mapper/ or /dev/disk/by-* are left alone.
 * LVM caches and devices files that pin the old devices are removed. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "guestfix/internal.h"

static const char *const device_files[] = {
  "/etc/fstab",
  "/etc/crypttab",
  "/etc/default/grub",              /* GRUB_CMDLINE_LINUX root= resume= */
  "/etc/sysconfig/grub",            /* usually a link to the one above */
  "/etc/kernel/cmdline",
  "/boot/grub/device.map",
  "/boot/grub2/device.map",
  "/boot/grub/grub.cfg",
  "/boot/grub2/grub.cfg",
  "/boot/grub/menu.lst",            /* GRUB legacy */
  "/boot/grub/grub.conf",
  "/etc/initramfs-tools/conf.d/resume", /* RESUME=/dev/sda2 */
  "/etc/uswsusp.conf",              /* resume device = /dev/sda2 */
  "/etc/sysconfig/bootloader",      /* SUSE */
  NULL,
};

static const char *const device_globs[] = {
  "/etc/default/grub.d/*.cfg",
  "/boot/loader/entries/*.conf",    /* BLS entries: options root=... */
  "/boot/efi/EFI/*/grub.cfg",
  "/etc/dracut.conf.d/*.conf",      /* resume= in kernel_cmdline */
  NULL,
};

/* Rename the devices in one file; a missing file or a symlink is left as
 * it is (the link's target is in the list when it matters). */
static int
rename_in_file (struct gf_ctx *c, const char *path)
{
  if (!gf_is_file (c, path))
    return 0;
  char *text = gf_read_text (c, path, NULL);
  if (!text)
    return -1;
  size_t n;
  char *desc;
  char *out = gf_rename_devices (text, &n, &desc);
  int rc = 0;
  if (n > 0) {
    rc = gf_write_text (c, path, out);
    if (rc == 0)
      gf_change (c, path, "device names: %s", desc);
  }
  free (desc);
  free (out);
  free (text);
  return rc;
}

int
gf_linux_rename_devices_in (struct gf_ctx *c, const char *path)
{
  return rename_in_file (c, path);
}

int
gf_linux_devices (struct gf_ctx *c)
{
  for (size_t i = 0; device_files[i]; i++)
    if (rename_in_file (c, device_files[i]) < 0)
      return -1;
  for (size_t i = 0; device_globs[i]; i++) {
    char **paths = gf_glob (c, device_globs[i]);
    if (!paths)
      return -1;
    int rc = 0;
    for (size_t j = 0; paths[j] && rc == 0; j++)
      rc = rename_in_file (c, paths[j]);
    gf_free_strings (paths);
    if (rc < 0)
      return -1;
  }
  return 0;
}

int
gf_linux_lvm (struct gf_ctx *c)
{
  /* The cache lists the devices LVM last scanned; the devices file (LVM
   * 2.03.12+, default on RHEL 9) makes LVM ignore every device it does not
   * name, which would hide the root volume group on virtio. */
  static const char *const pinned[] = {
    "/etc/lvm/cache/.cache",
    "/etc/lvm/devices/system.devices",
    NULL,
  };
  for (size_t i = 0; pinned[i]; i++) {
    if (!gf_is_file (c, pinned[i]))
      continue;
    if (guestfs_rm (c->g, pinned[i]) < 0)
      return gf_gerror (c, FERRY_E_OUTPUT, pinned[i]);
    gf_change (c, pinned[i], "removed (it pins the VMware device names)");
  }
  return 0;
}
