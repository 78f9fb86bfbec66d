/* ferry guestfix, Linux: the initramfs must carry the virtio drivers, or
 * the kernel cannot find its root disk on KVM.  The guest's initramfs
 * configuration gets them (dracut: a drop-in file; initramfs-tools: lines
 * in /etc/initramfs-tools/modules), so later regenerations inside the
 * guest keep them; then the initramfs of every installed kernel that has
 * the drivers is regenerated with the guest's own tool, run inside the
 * appliance.  Each kernel's outcome is recorded; a kernel whose initramfs
 * could not be regenerated is reported, not fatal (the guest may still
 * boot another kernel, and the report says which). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "guestfix/internal.h"

const char *const gf_virtio_modules[] = {
  "virtio_blk", "virtio_scsi", "virtio_net", "virtio_pci", NULL,
};

static const char *const dracut_paths[] = {
  "/usr/bin/dracut", "/usr/sbin/dracut", "/sbin/dracut", "/bin/dracut", NULL,
};
static const char *const update_initramfs_paths[] = {
  "/usr/sbin/update-initramfs", "/sbin/update-initramfs", NULL,
};
static const char *const mkinitrd_paths[] = {
  "/usr/sbin/mkinitrd", "/sbin/mkinitrd", NULL,
};

#define DRACUT_CONF "/etc/dracut.conf.d/ferry-virtio.conf"
#define ITOOLS_MODULES "/etc/initramfs-tools/modules"

static int
configure_dracut (struct gf_ctx *c)
{
  char list[128] = "";
  for (size_t i = 0; gf_virtio_modules[i]; i++) {
    strcat (list, gf_virtio_modules[i]);
    strcat (list, " ");
  }
  char *text = gf_asprintf ("# Written by ferry guestfix: the drivers a KVM "
                            "guest boots from.\nadd_drivers+=\" %s\"\n",
                            list);
  int rc = gf_mkdir_p (c, "/etc/dracut.conf.d");
  if (rc == 0)
    rc = gf_create_file (c, DRACUT_CONF, text, 0644);
  free (text);
  if (rc == 0)
    gf_change (c, DRACUT_CONF, "added: add_drivers+=\" %s\"", list);
  return rc;
}

static int
configure_initramfs_tools (struct gf_ctx *c)
{
  char *text;
  if (gf_is_file (c, ITOOLS_MODULES)) {
    text = gf_read_text (c, ITOOLS_MODULES, NULL);
    if (!text)
      return -1;
  } else {
    text = gf_strdup ("# List of modules that you want to include in your "
                      "initramfs.\n");
  }
  char added_list[128] = "";
  for (size_t i = 0; gf_virtio_modules[i]; i++) {
    bool added;
    char *next = gf_ensure_line (text, gf_virtio_modules[i], &added);
    free (text);
    text = next;
    if (added) {
      if (*added_list)
        strcat (added_list, " ");
      strcat (added_list, gf_virtio_modules[i]);
    }
  }
  int rc = 0;
  if (*added_list) {
    rc = gf_write_text (c, ITOOLS_MODULES, text);
    if (rc == 0)
      gf_change (c, ITOOLS_MODULES, "added modules: %s", added_list);
  }
  free (text);
  return rc;
}

/* SUSE: mkinitrd (and the dracut wrapper SLES ships as mkinitrd) takes
 * the drivers to add from INITRD_MODULES in /etc/sysconfig/kernel. */
#define SUSE_KERNEL "/etc/sysconfig/kernel"

static bool
is_suse (struct gf_ctx *c)
{
  const char *d = c->r->distro;
  return d && (strcmp (d, "sles") == 0 || strcmp (d, "opensuse") == 0
               || strcmp (d, "suse-based") == 0);
}

/* Whether the blank-separated LIST holds WORD. */
static bool
has_word (const char *list, const char *word)
{
  size_t wl = strlen (word);
  for (const char *p = list; (p = strstr (p, word)) != NULL; p += wl)
    if ((p == list || p[-1] == ' ' || p[-1] == '\t')
        && (p[wl] == 0 || p[wl] == ' ' || p[wl] == '\t'))
      return true;
  return false;
}

static int
configure_suse (struct gf_ctx *c)
{
  char *text = gf_is_file (c, SUSE_KERNEL)
                 ? gf_read_text (c, SUSE_KERNEL, NULL)
                 : gf_strdup ("");
  if (!text)
    return -1;
  char *old = gf_config_value (text, "INITRD_MODULES");
  char added[128] = "";
  for (size_t i = 0; gf_virtio_modules[i]; i++)
    if (!old || !has_word (old, gf_virtio_modules[i])) {
      if (*added)
        strcat (added, " ");
      strcat (added, gf_virtio_modules[i]);
    }
  if (!*added) {
    free (old);
    free (text);
    return 0;
  }
  char *line = gf_asprintf ("INITRD_MODULES=\"%s%s%s\"", old ? old : "",
                            old && *old ? " " : "", added);
  /* Replace the assignment in place (the last one wins in a shell file,
   * so every one is replaced), or append it. */
  size_t n;
  char *rest = gf_drop_lines (text, "INITRD_MODULES=", &n);
  char *out;
  if (n == 0) {
    bool dummy;
    out = gf_ensure_line (rest, line, &dummy);
  } else {
    /* Put it where the first one was. */
    const char *p = text;
    while (*p) {
      const char *q = p + strspn (p, " \t");
      if (strncmp (q, "INITRD_MODULES=", 15) == 0)
        break;
      const char *nl = strchr (p, '\n');
      p = nl ? nl + 1 : p + strlen (p);
    }
    size_t pre = (size_t) (p - text);
    out = gf_asprintf ("%.*s%s\n%s", (int) pre, text, line, rest + pre);
  }
  int rc = gf_is_file (c, SUSE_KERNEL) ? gf_write_text (c, SUSE_KERNEL, out)
                                       : gf_create_file (c, SUSE_KERNEL, out,
                                                         0644);
  if (rc == 0)
    gf_change (c, SUSE_KERNEL, "INITRD_MODULES: added %s", added);
  free (out);
  free (rest);
  free (line);
  free (old);
  free (text);
  return rc;
}

/* Whether kernel VER has virtio_blk, as a module or built in. */
static bool
kernel_has_virtio (struct gf_ctx *c, const char *ver)
{
  static const char *const suffixes[] = { ".ko", ".ko.xz", ".ko.zst",
                                          ".ko.gz", NULL };
  for (size_t i = 0; suffixes[i]; i++) {
    char *p = gf_asprintf ("/lib/modules/%s/kernel/drivers/block/virtio_blk%s",
                           ver, suffixes[i]);
    bool ok = gf_exists (c, p);
    free (p);
    if (ok)
      return true;
  }
  char *b = gf_asprintf ("/lib/modules/%s/modules.builtin", ver);
  bool ok = false;
  if (gf_is_file (c, b)) {
    char *text = gf_read_text (c, b, NULL);
    ok = text && strstr (text, "/virtio_blk.ko") != NULL;
    free (text);
    if (!text)
      ferry_error_clear ();
  }
  free (b);
  return ok;
}

/* Installed kernels: versions under /lib/modules with a kernel image in
 * /boot. */
static char **
list_kernels (struct gf_ctx *c)
{
  char **dirs = gf_glob (c, "/lib/modules/*");
  if (!dirs)
    return NULL;
  size_t n = 0;
  for (size_t i = 0; dirs[i]; i++) {
    const char *ver = strrchr (dirs[i], '/') + 1;
    static const char *const images[] = { "/boot/vmlinuz-%s", "/boot/vmlinux-%s",
                                          "/boot/Image-%s",
                                          "/lib/modules/%s/vmlinuz", NULL };
    bool found = false;
    for (size_t j = 0; images[j] && !found; j++) {
      char *p = gf_asprintf (images[j], ver);
      found = gf_exists (c, p);
      free (p);
    }
    if (found) {
      char *v = gf_strdup (ver);
      free (dirs[i]);
      dirs[n++] = v;
    } else {
      free (dirs[i]);
    }
  }
  dirs[n] = NULL;
  return dirs;
}

int
gf_linux_initramfs (struct gf_ctx *c)
{
  const char *dracut = gf_find_program (c, dracut_paths);
  const char *uitools = gf_find_program (c, update_initramfs_paths);
  const char *mkinitrd = gf_find_program (c, mkinitrd_paths);
  bool itools = uitools || gf_is_dir (c, "/etc/initramfs-tools");
  bool is_rpm = c->r->package_format
                && strcmp (c->r->package_format, "rpm") == 0;
  /* dracut-based: the tool, its configuration, or an rpm distribution
   * (all of them use dracut since RHEL 6 / SLES 12) without
   * initramfs-tools. */
  bool use_dracut = dracut || gf_exists (c, "/etc/dracut.conf")
                    || gf_is_dir (c, "/etc/dracut.conf.d")
                    || (is_rpm && !itools);

  if (use_dracut && configure_dracut (c) < 0)
    return -1;
  if (itools && configure_initramfs_tools (c) < 0)
    return -1;
  bool suse = is_suse (c);
  if (suse && configure_suse (c) < 0)
    return -1;
  if (!use_dracut && !itools && !suse)
    gf_note (c, "no dracut or initramfs-tools configuration in the guest; "
             "virtio drivers were not added to its initramfs");

  /* Regenerate: initramfs-tools on Debian/Ubuntu, dracut elsewhere. */
  const char *tool = NULL, *prog = NULL;
  if (suse && mkinitrd) {
    /* It reads INITRD_MODULES; on dracut-based SUSE it runs dracut. */
    tool = "mkinitrd";
    prog = mkinitrd;
  } else if (uitools) {
    tool = "update-initramfs";
    prog = uitools;
  } else if (dracut) {
    tool = "dracut";
    prog = dracut;
  } else if (mkinitrd) {
    tool = "mkinitrd";
    prog = mkinitrd;
  }

  char driver_list[128] = "";
  for (size_t i = 0; gf_virtio_modules[i]; i++) {
    if (*driver_list)
      strcat (driver_list, " ");
    strcat (driver_list, gf_virtio_modules[i]);
  }

  char **kernels = list_kernels (c);
  if (!kernels)
    return -1;
  if (!kernels[0])
    gf_note (c, "no installed kernel found (/lib/modules with a kernel "
             "image in /boot); no initramfs was regenerated");
  for (size_t i = 0; kernels[i]; i++) {
    const char *ver = kernels[i];
    struct guestfix_kernel *k = gf_kernel_add (c, ver);
    if (tool)
      k->tool = gf_strdup (tool);
    if (!kernel_has_virtio (c, ver)) {
      k->detail = gf_strdup ("the kernel has no virtio_blk driver");
      gf_note (c, "kernel %s has no virtio_blk driver; it cannot boot on "
               "virtio", ver);
      continue;
    }
    if (!prog) {
      k->detail = gf_strdup ("the guest has no dracut, update-initramfs or "
                             "mkinitrd");
      gf_note (c, "the initramfs of kernel %s was not regenerated: the guest "
               "has no dracut, update-initramfs or mkinitrd", ver);
      continue;
    }
    const char *argv[8];
    char *kimg = NULL, *iimg = NULL;
    if (strcmp (tool, "update-initramfs") == 0) {
      argv[0] = prog; argv[1] = "-u"; argv[2] = "-k"; argv[3] = ver;
      argv[4] = NULL;
    } else if (strcmp (tool, "dracut") == 0) {
      /* The drop-in is for later regenerations inside the guest; on the
       * command line the drivers come after every configuration file, so
       * a file that assigns add_drivers= (rather than +=) after ours
       * cannot drop them. */
      argv[0] = prog; argv[1] = "-f"; argv[2] = "--add-drivers";
      argv[3] = driver_list; argv[4] = "--kver"; argv[5] = ver;
      argv[6] = NULL;
    } else {
      kimg = gf_asprintf ("/boot/vmlinuz-%s", ver);
      iimg = gf_asprintf ("/boot/initrd-%s", ver);
      argv[0] = prog; argv[1] = "-k"; argv[2] = kimg; argv[3] = "-i";
      argv[4] = iimg; argv[5] = NULL;
    }
    char *out;
    if (gf_run (c, argv, &out) == 0) {
      k->regenerated = true;
      gf_change (c, ver, "initramfs regenerated with %s", tool);
    } else {
      k->detail = gf_strdup (out);
      gf_note (c, "regenerating the initramfs of kernel %s with %s failed: "
               "%s", ver, tool, out);
      ferry_warn (c->log, "guestfix: the initramfs of kernel %s was not "
                  "regenerated (%s failed)", ver, tool);
    }
    free (out);
    free (kimg);
    free (iimg);
  }
  gf_free_strings (kernels);
  return 0;
}
