/* ferry guestfix, Linux: regenerate the GRUB 2 configuration with the
 * guest's own grub2-mkconfig / grub-mkconfig (inside the appliance), so it
 * matches /etc/default/grub after the device renames.  A generated config
 * can name the appliance's devices (/dev/sdX) when the guest disables
 * UUIDs; those are renamed again.  Not being able to regenerate is
 * recorded, not fatal: the existing config was already renamed in place
 * by linux-devices. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "guestfix/internal.h"

static int regenerate (struct gf_ctx *c, const char *cfg);
static int pin_root (struct gf_ctx *c, const char *cfg);

/* On UEFI guests up to RHEL 8 the real configuration is on the ESP;
 * later ones (and Debian) keep a stub there that loads /boot/grub*'s
 * ("configfile"), which is the one to regenerate then. */
static char *
efi_config (struct gf_ctx *c)
{
  char **paths = gf_glob (c, "/boot/efi/EFI/*/grub.cfg");
  char *found = NULL;
  if (!paths) {
    ferry_error_clear ();
    return NULL;
  }
  for (size_t i = 0; paths[i] && !found; i++) {
    if (!gf_is_file (c, paths[i]))
      continue;
    char *text = gf_read_text (c, paths[i], NULL);
    if (!text) {
      ferry_error_clear ();
      continue;
    }
    if (!strstr (text, "configfile"))
      found = gf_strdup (paths[i]);
    free (text);
  }
  gf_free_strings (paths);
  return found;
}

int
gf_linux_bootloader (struct gf_ctx *c)
{
  static const char *const configs[] = {
    "/boot/grub2/grub.cfg", "/boot/grub/grub.cfg", NULL,
  };
  const char *cfg = NULL;
  char *efi_cfg = efi_config (c);
  if (efi_cfg)
    cfg = efi_cfg;
  for (size_t i = 0; configs[i] && !cfg; i++)
    if (gf_is_file (c, configs[i]))
      cfg = configs[i];
  int rc = regenerate (c, cfg);
  free (efi_cfg);
  return rc;
}

static int
regenerate (struct gf_ctx *c, const char *cfg)
{
  static const char *const mkconfig[] = {
    "/usr/sbin/grub2-mkconfig", "/sbin/grub2-mkconfig",
    "/usr/sbin/grub-mkconfig", "/sbin/grub-mkconfig", NULL,
  };
  if (!cfg) {
    if (gf_is_file (c, "/boot/grub/menu.lst")
        || gf_is_file (c, "/boot/grub/grub.conf"))
      gf_note (c, "GRUB legacy configuration: device names renamed in place, "
               "not regenerated");
    else
      gf_note (c, "no GRUB configuration found in /boot/grub2 or /boot/grub; "
               "the bootloader was not changed");
    return 0;
  }
  const char *prog = gf_find_program (c, mkconfig);
  if (!prog) {
    gf_note (c, "%s was not regenerated: the guest has no grub2-mkconfig or "
             "grub-mkconfig (device names were renamed in place)", cfg);
    return 0;
  }
  const char *argv[] = { prog, "-o", cfg, NULL };
  char *out;
  if (gf_run (c, argv, &out) < 0) {
    gf_note (c, "regenerating %s with %s failed: %s (device names were "
             "renamed in place)", cfg, strrchr (prog, '/') + 1, out);
    free (out);
    return 0;
  }
  free (out);
  gf_change (c, cfg, "regenerated with %s", strrchr (prog, '/') + 1);
  if (pin_root (c, cfg) < 0)
    return -1;
  return gf_linux_rename_devices_in (c, cfg);
}

/* grub-mkconfig takes root= from grub-probe inside the appliance, which
 * can name the guest's root partition by the appliance kernel's disk
 * order (/dev/sdb1 for the guest's sda1) rather than the order the
 * inspection uses.  Every root=/dev/sdX or /dev/hdX naming another
 * device than the inspected root is set to the inspected root, which the
 * rename that follows maps to /dev/vdX. */
static int
pin_root (struct gf_ctx *c, const char *cfg)
{
  const char *want = c->r->root;
  if (!want || (strncmp (want, "/dev/sd", 7) != 0
                && strncmp (want, "/dev/hd", 7) != 0))
    return 0;
  char *text = gf_read_text (c, cfg, NULL);
  if (!text)
    return -1;
  size_t wl = strlen (want), n = 0, cap = strlen (text) + 1;
  char *out = malloc (cap + 64 * wl);
  if (!out) {
    free (text);
    return ferry_error (FERRY_E_SYSTEM, "%s: out of memory", cfg);
  }
  size_t o = 0;
  for (const char *p = text; *p;) {
    if (strncmp (p, "root=/dev/", 10) == 0 && (p[10] == 's' || p[10] == 'h')
        && p[11] == 'd' && (p == text || p[-1] == ' ' || p[-1] == '\t')
        && n < 64) {
      const char *d = p + 5;
      size_t dl = strcspn (d, " \t\n");
      if (dl != wl || strncmp (d, want, wl) != 0) {
        memcpy (out + o, "root=", 5);
        memcpy (out + o + 5, want, wl);
        o += 5 + wl;
        p = d + dl;
        n++;
        continue;
      }
    }
    out[o++] = *p++;
  }
  out[o] = 0;
  int rc = 0;
  if (n > 0) {
    rc = gf_write_text (c, cfg, out);
    if (rc == 0)
      gf_change (c, cfg, "root= set to the inspected root %s (%zu entries)",
                 want, n);
  }
  free (out);
  free (text);
  return rc;
}
