/* ferry guestfix, Linux: block device names.  On KVM the disks are virtio
 * (/dev/vdX), so every /dev/sdX and /dev/hdX in the files that name the
 * boot, swap and encrypted devices is renamed, partition numbers kept.
 * In /etc/fstab a device whose filesystem is on the converted disk and has
 * a UUID is named UUID=... instead: that stays right whatever order the
 * disks come in on KVM; /dev/vdX is written only where no UUID is known.
 * Names by UUID=, LABEL=, /dev/mapper/ or /dev/disk/by-* are left alone.
 * LVM caches and devices files that pin the old devices are removed. */
#include <stdio.h>
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

/* ---- /etc/fstab: UUID= where the filesystem is known ----------------- */

/* The appliance device for the guest's /dev/sdXN or /dev/hdXN (N may be
 * absent), by disk index as the appliance lists them: the guest's sda is
 * the first disk attached (the converted boot disk).  NULL when the name
 * is not of that form or the disk is not attached. */
static char *
appliance_device (char **devices, const char *name, size_t len)
{
  if (len < 8 || strncmp (name, "/dev/", 5) != 0
      || (name[5] != 's' && name[5] != 'h') || name[6] != 'd')
    return NULL;
  size_t i = 7, index = 0, letters = 0;
  while (i < len && name[i] >= 'a' && name[i] <= 'z' && letters < 3) {
    index = index * 26 + (size_t) (name[i] - 'a') + (letters ? 26 : 0);
    i++;
    letters++;
  }
  size_t digits = i;
  while (i < len && name[i] >= '0' && name[i] <= '9')
    i++;
  if (letters == 0 || i != len || i - digits > 3
      || index >= gf_count_strings (devices))
    return NULL;
  return gf_asprintf ("%s%.*s", devices[index], (int) (len - digits),
                      name + digits);
}

/* The filesystem UUID of DEV when its type agrees with the fstab's TYPE
 * ("auto" agrees with anything); NULL otherwise. */
static char *
fs_uuid (struct gf_ctx *c, const char *dev, const char *type, size_t tlen)
{
  char *vt = guestfs_vfs_type (c->g, dev);
  if (!vt)
    return NULL;
  bool ok = (tlen == 4 && strncmp (type, "auto", 4) == 0)
            || (strlen (vt) == tlen && strncmp (vt, type, tlen) == 0);
  free (vt);
  if (!ok)
    return NULL;
  /* The UUID comes from the guest's superblock: only a plain one goes
   * into fstab (a blank or newline would change the line's meaning). */
  char *u = guestfs_vfs_uuid (c->g, dev);
  size_t ul = u ? strlen (u) : 0;
  if (u && (ul == 0 || ul > 64 || strspn (u, "0123456789abcdefABCDEF-") != ul)) {
    free (u);
    u = NULL;
  }
  return u;
}

/* Field K (0-based) of LINE (blank-separated): start and length. */
static bool
field (const char *line, size_t llen, int k, const char **f, size_t *flen)
{
  size_t i = 0;
  for (int n = 0;; n++) {
    while (i < llen && (line[i] == ' ' || line[i] == '\t'))
      i++;
    size_t s = i;
    while (i < llen && line[i] != ' ' && line[i] != '\t')
      i++;
    if (s == i)
      return false;
    if (n == k) {
      *f = line + s;
      *flen = i - s;
      return true;
    }
  }
}

/* Replace /dev/sdXN first fields by UUID=... where the filesystem is on
 * an attached disk and has a UUID.  Returns the new text (or NULL when
 * nothing changed); the replacements appended to DESC.  A root line whose
 * device does not map to the inspected root means the index mapping is
 * wrong for this guest: then nothing is replaced. */
static char *
fstab_uuids (struct gf_ctx *c, const char *text, char **desc)
{
  char **devices = guestfs_list_devices (c->g);
  if (!devices) {
    ferry_debug (c->log, "guestfix: listing devices: %s",
                 guestfs_last_error (c->g));
    return NULL;
  }
  size_t cap = strlen (text) + 64, o = 0, changed = 0;
  char *out = malloc (cap);
  char *d = gf_strdup ("");
  if (!out)
    abort ();
  bool trust = true;
  for (const char *p = text; *p && trust;) {
    const char *nl = strchr (p, '\n');
    size_t llen = nl ? (size_t) (nl - p) : strlen (p);
    const char *f0, *f1, *f2;
    size_t l0, l1, l2;
    char *dev = NULL, *uuid = NULL;
    if (field (p, llen, 0, &f0, &l0) && *f0 != '#'
        && field (p, llen, 1, &f1, &l1) && field (p, llen, 2, &f2, &l2)
        && (dev = appliance_device (devices, f0, l0))) {
      if (l1 == 1 && *f1 == '/' && c->r->root && strcmp (dev, c->r->root) != 0)
        trust = false;
      else
        uuid = fs_uuid (c, dev, f2, l2);
    }
    /* Room for the line, a UUID (at most 36 + "UUID=") and the newline. */
    if (o + llen + (uuid ? strlen (uuid) + 8 : 0) + 2 > cap) {
      cap = 2 * (o + llen + (uuid ? strlen (uuid) : 0)) + 64;
      if (!(out = realloc (out, cap)))
        abort ();
    }
    if (uuid) {
      size_t pre = (size_t) (f0 - p);
      memcpy (out + o, p, pre);
      o += pre;
      o += (size_t) sprintf (out + o, "UUID=%s", uuid);
      memcpy (out + o, f0 + l0, llen - pre - l0);
      o += llen - pre - l0;
      char *nd = gf_asprintf ("%s%s%.*s -> UUID=%s", d, *d ? ", " : "",
                              (int) l0, f0, uuid);
      free (d);
      d = nd;
      changed++;
    } else {
      memcpy (out + o, p, llen);
      o += llen;
    }
    if (nl)
      out[o++] = '\n';
    p = nl ? nl + 1 : p + llen;
    free (dev);
    free (uuid);
  }
  out[o] = 0;
  gf_free_strings (devices);
  if (!trust) {
    gf_note (c, "/etc/fstab: the root line's device is not the inspected "
             "root %s; devices renamed to /dev/vdX, not UUID=", c->r->root);
    changed = 0;
  }
  if (!changed) {
    free (out);
    free (d);
    return NULL;
  }
  *desc = d;
  return out;
}

static int
fix_fstab (struct gf_ctx *c)
{
  const char *path = "/etc/fstab";
  if (!gf_is_file (c, path))
    return 0;
  char *text = gf_read_text (c, path, NULL);
  if (!text)
    return -1;
  char *udesc = NULL;
  char *mid = fstab_uuids (c, text, &udesc);
  size_t n;
  char *desc;
  char *out = gf_rename_devices (mid ? mid : text, &n, &desc);
  int rc = 0;
  if (n > 0 || mid) {
    rc = gf_write_text (c, path, out);
    if (rc == 0)
      gf_change (c, path, "device names: %s%s%s", udesc ? udesc : "",
                 udesc && n ? ", " : "", n ? desc : "");
  }
  free (udesc);
  free (desc);
  free (out);
  free (mid);
  free (text);
  return rc;
}

int
gf_linux_devices (struct gf_ctx *c)
{
  if (fix_fstab (c) < 0)
    return -1;
  for (size_t i = 0; device_files[i]; i++)
    if (strcmp (device_files[i], "/etc/fstab") != 0
        && rename_in_file (c, device_files[i]) < 0)
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
