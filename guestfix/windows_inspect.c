/* ferry guestfix, Windows: the facts the Windows steps need, and the
 * refusal of guests that must not be changed.
 *
 * A hibernated Windows (or one shut down with Fast Startup, which is a
 * hibernation of the kernel session) keeps its state in hiberfil.sys and
 * resumes from it: changes made to the disk now would be lost, or worse,
 * corrupt the filesystem when the saved state is written back.  Windows
 * marks an image to resume from with "HIBR" (older: "hibr") at the start of
 * hiberfil.sys, and "WAKE" ("wake") while resuming; a zeroed header means
 * nothing to resume.  Those guests are refused.
 *
 * Fast Startup (Windows 8 and later, on by default on client editions:
 * HiberbootEnabled=1 under Control\Session Manager\Power) turns "Shut
 * down" into a hibernation of the kernel session, and the header it leaves
 * is not always one of those signatures.  With Fast Startup on, any
 * non-zero header of a non-empty hiberfil.sys is taken as a saved session
 * and refused too; a full shutdown (Shift+Shut down, shutdown /s /full)
 * zeroes the header, and powercfg /h off removes the file, so the advice
 * given in the refusal leads to a guest that passes.  Fast Startup on with
 * no saved session is only noted: the guest converts, and its first
 * "Shut down" on KVM will hibernate again. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "guestfix/windows_internal.h"

void
gf_windows_free (struct gf_windows *w)
{
  if (!w)
    return;
  free (w->systemroot);
  free (w->system_hive);
  free (w->software_hive);
  free (w->ccs);
  free (w->variant);
  free (w->arch);
  free (w->os_desc);
  free (w->driver_dir);
  for (size_t i = 0; i < w->n_infs; i++)
    free (w->infs[i]);
  free (w->infs);
  free (w->qemu_ga);
  free (w->source);
  free (w);
}

/* The virtio-win directory name for this Windows (the names the virtio-win
 * ISO uses: viostor/2k22/amd64/...), or NULL. */
static const char *
os_tag (const struct gf_windows *w, int major, int minor,
        const char *product)
{
  bool client = w->variant && strcmp (w->variant, "Client") == 0;
  if (major == 6 && minor == 0)
    return client ? "vista" : "2k8";
  if (major == 6 && minor == 1)
    return client ? "w7" : "2k8R2";
  if (major == 6 && minor == 2)
    return client ? "w8" : "2k12";
  if (major == 6 && minor == 3)
    return client ? "w8.1" : "2k12R2";
  if (major != 10 || minor != 0)
    return NULL;
  /* Windows 10 and later all say 10.0: the build number tells them apart
   * (and the product name when the build is missing). */
  int b = w->build;
  const char *p = product ? product : "";
  if (client)
    return b >= 22000 || strstr (p, "Windows 11") ? "w11" : "w10";
  if (b >= 26100 || strstr (p, "2025"))
    return "2k25";
  if (b >= 20348 || strstr (p, "2022"))
    return "2k22";
  if (b >= 17763 || strstr (p, "2019"))
    return "2k19";
  return "2k16";
}

static const char *
arch_tag (const char *arch)
{
  if (!arch)
    return NULL;
  if (strcmp (arch, "x86_64") == 0)
    return "amd64";
  if (strcmp (arch, "i386") == 0)
    return "x86";
  if (strcmp (arch, "aarch64") == 0)
    return "ARM64";
  return NULL;
}

static char *
known (char *s)
{
  if (s && strcmp (s, "unknown") == 0) {
    free (s);
    return NULL;
  }
  return s;
}

/* CurrentBuildNumber (or CurrentBuild) from the SOFTWARE hive; 0 when
 * absent. */
static int
read_build (struct gf_ctx *c, struct gf_windows *w)
{
  if (gf_hive_open (c, w->software_hive, false) < 0)
    return -1;
  int64_t node = gf_hive_node (c, "Microsoft\\Windows NT\\CurrentVersion",
                               false);
  if (node > 0) {
    char *s = gf_hive_get_string (c, node, "CurrentBuildNumber");
    if (!s)
      s = gf_hive_get_string (c, node, "CurrentBuild");
    if (s)
      w->build = atoi (s);
    free (s);
  }
  gf_hive_close (c);
  return node < 0 ? -1 : 0;
}

/* HiberbootEnabled in the current control set: 1 (Fast Startup on), 0,
 * or -1 when the value is absent.  *ret is -1 on error (set). */
static int
read_hiberboot (struct gf_ctx *c, const struct gf_windows *w, int *ret)
{
  *ret = 0;
  if (gf_hive_open (c, w->system_hive, false) < 0) {
    *ret = -1;
    return -1;
  }
  char *key = gf_asprintf ("%s\\Control\\Session Manager\\Power", w->ccs);
  int64_t node = gf_hive_node (c, key, false);
  free (key);
  uint32_t v = 0;
  int enabled = -1;
  if (node < 0)
    *ret = -1;
  else if (node > 0 && gf_hive_get_dword (c, node, "HiberbootEnabled", &v))
    enabled = v != 0;
  gf_hive_close (c);
  return enabled;
}

/* The first bytes of a header for a message: as text when printable,
 * else in hex. */
static void
show_header (const unsigned char *h, size_t n, char *buf, size_t size)
{
  bool text = n >= 4;
  for (size_t i = 0; i < 4 && i < n; i++)
    text &= isprint (h[i]) != 0;
  if (text) {
    snprintf (buf, size, "\"%.4s\"", (const char *) h);
    return;
  }
  size_t o = 0;
  for (size_t i = 0; i < 8 && i < n && o + 4 < size; i++)
    o += (size_t) snprintf (buf + o, size - o, "%s%02x", i ? " " : "", h[i]);
}

/* Refuse a hibernated guest, or one shut down with Fast Startup (see the
 * top of this file). */
static int
check_hibernation (struct gf_ctx *c, const struct gf_windows *w)
{
  int err = 0;
  int fast = read_hiberboot (c, w, &err);
  if (err < 0)
    return -1;
  char *ccs_power = gf_asprintf ("HKLM\\SYSTEM\\%s\\Control\\Session "
                                 "Manager\\Power\\HiberbootEnabled", w->ccs);
  int rc = 0;
  char *path = guestfs_case_sensitive_path (c->g, "/hiberfil.sys");
  int64_t size = -1;
  if (path && guestfs_is_file (c->g, path) > 0
      && (size = guestfs_filesize (c->g, path)) < 0)
    rc = gf_gerror (c, FERRY_E_INPUT, "reading hiberfil.sys");
  if (rc == 0 && size > 0) {
    size_t n = 0;
    char *head = guestfs_pread (c->g, path, size < 4096 ? (int) size : 4096,
                                0, &n);
    if (!head) {
      rc = gf_gerror (c, FERRY_E_INPUT, "reading hiberfil.sys");
      goto out;
    }
    const unsigned char *h = (const unsigned char *) head;
    char sig[5] = "";
    for (size_t i = 0; i < 4 && i < n; i++)
      sig[i] = (char) toupper (h[i]);
    bool zero = true;
    for (size_t i = 0; i < n; i++)
      zero &= h[i] == 0;
    char shown[40];
    show_header (h, n, shown, sizeof shown);
    if (n >= 4 && (strcmp (sig, "HIBR") == 0 || strcmp (sig, "WAKE") == 0))
      rc = ferry_error (FERRY_E_INPUT, "%s: Windows on %s is hibernated "
                        "(hiberfil.sys starts with \"%.4s\"): it was "
                        "hibernated or shut down with Fast Startup, and "
                        "changes made now would be lost or corrupt the "
                        "disk when it resumes; boot it on VMware, disable "
                        "Fast Startup (powercfg /h off) and shut it down "
                        "fully, then copy it again", c->disk, c->r->root,
                        head);
    else if (fast == 1 && !zero)
      rc = ferry_error (FERRY_E_INPUT, "%s: Windows on %s was shut down "
                        "with Fast Startup (%s is 1 and hiberfil.sys, %lld "
                        "bytes, holds a saved session: header %s): with Fast "
                        "Startup, \"Shut down\" hibernates the Windows "
                        "kernel session into hiberfil.sys and the next boot "
                        "resumes it, so changes made now would be lost or "
                        "corrupt the disk; boot it on VMware and either "
                        "disable Fast Startup (powercfg /h off as "
                        "administrator, which also deletes hiberfil.sys) or "
                        "do a full shutdown (hold Shift while choosing Shut "
                        "down, or shutdown /s /full /t 0), then copy it "
                        "again", c->disk, c->r->root, ccs_power,
                        (long long) size, shown);
    else if (fast == 1)
      gf_note (c, "Fast Startup is enabled (%s is 1); hiberfil.sys (%lld "
               "bytes) holds no saved session (zeroed header), so the guest "
               "was converted; its next \"Shut down\" will hibernate again, "
               "so before any later copy shut it down fully or disable Fast "
               "Startup (powercfg /h off)", ccs_power, (long long) size);
    free (head);
  }
  else if (rc == 0 && fast == 1)
    gf_note (c, "Fast Startup is enabled (%s is 1) but there is %s, so "
             "the guest was not shut down into a saved session and was "
             "converted; its next \"Shut down\" will hibernate, so before "
             "any later copy shut it down fully or disable Fast Startup "
             "(powercfg /h off)", ccs_power,
             size == 0 ? "an empty hiberfil.sys" : "no hiberfil.sys");
out:
  free (ccs_power);
  free (path);
  return rc;
}

int
gf_windows_inspect (struct gf_ctx *c)
{
  const char *root = c->r->root;
  struct gf_windows *w = calloc (1, sizeof *w);
  if (!w)
    abort ();
  c->win = w;

  w->systemroot = known (guestfs_inspect_get_windows_systemroot (c->g, root));
  w->system_hive = known (guestfs_inspect_get_windows_system_hive (c->g,
                                                                   root));
  w->software_hive =
    known (guestfs_inspect_get_windows_software_hive (c->g, root));
  w->ccs = known (guestfs_inspect_get_windows_current_control_set (c->g,
                                                                   root));
  w->variant = known (guestfs_inspect_get_product_variant (c->g, root));
  w->arch = known (guestfs_inspect_get_arch (c->g, root));
  if (!w->systemroot || !w->system_hive || !w->software_hive || !w->ccs)
    return ferry_error (FERRY_E_INPUT, "%s: the Windows guest on %s lacks "
                        "%s (inspection could not find it)", c->disk, root,
                        !w->systemroot ? "its system root"
                        : !w->system_hive ? "the SYSTEM registry hive"
                        : !w->software_hive ? "the SOFTWARE registry hive"
                        : "a current control set in the SYSTEM hive");

  /* Read-only: a hibernated NTFS must not even be mounted read-write. */
  if (guestfs_mount_ro (c->g, root, "/") < 0)
    return gf_gerror (c, FERRY_E_INPUT, "mounting the Windows root");
  int rc = check_hibernation (c, w);
  if (rc == 0)
    rc = read_build (c, w);
  if (guestfs_umount_all (c->g) < 0 && rc == 0)
    rc = gf_gerror (c, FERRY_E_INPUT, "unmounting the Windows root");
  if (rc < 0)
    return -1;

  w->os_tag = os_tag (w, c->r->major, c->r->minor, c->r->product_name);
  w->arch_tag = arch_tag (w->arch);
  w->os_desc = gf_asprintf ("%s (%d.%d %s, build %d, %s)",
                            c->r->product_name ? c->r->product_name
                                               : "Windows",
                            c->r->major, c->r->minor,
                            w->variant ? w->variant : "unknown variant",
                            w->build, w->arch ? w->arch : "unknown arch");
  if (!w->os_tag || !w->arch_tag)
    return ferry_error (FERRY_E_INPUT, "%s: %s: ferry has no virtio-win "
                        "driver mapping for this Windows version or "
                        "architecture (Windows Vista/2008 and later on "
                        "x86, amd64, ARM64)", c->disk, w->os_desc);
  ferry_info (c->log, "guestfix: Windows %s: virtio-win drivers from "
              "*/%s/%s/", w->os_desc, w->os_tag, w->arch_tag);
  return 0;
}
