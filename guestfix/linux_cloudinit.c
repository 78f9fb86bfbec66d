/* ferry guestfix, Linux: a cloud-init NoCloud seed in the guest's own
 * seed directory, which cloud-init's NoCloud data source reads before it
 * looks for a "cidata" volume; so the seed applies at the first boot on
 * KVM even when no ISO is attached.  Only when the operator gave one
 * (--cloud-init-user-data, -meta-data, -network-config). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "guestfix/cloudinit.h"
#include "guestfix/internal.h"

#define SEED_DIR "/var/lib/cloud/seed/nocloud"

static const char *const cloud_init_paths[] = {
  "/usr/bin/cloud-init", "/usr/local/bin/cloud-init", "/bin/cloud-init",
  NULL,
};

/* Write DATA (LEN bytes, may hold NULs) as a new file with MODE. */
static int
put (struct gf_ctx *c, const char *name, const char *data, size_t len,
     int mode, const char *what)
{
  char *path = gf_asprintf ("%s/%s", SEED_DIR, name);
  int rc = 0;
  if (guestfs_write (c->g, path, data, len) < 0
      || guestfs_chmod (c->g, mode, path) < 0)
    rc = gf_gerror (c, FERRY_E_OUTPUT, path);
  else
    gf_change (c, path, "%s (%zu bytes)", what, len);
  free (path);
  return rc;
}

/* The guest's host name (first line of /etc/hostname), or NULL. */
static char *
guest_hostname (struct gf_ctx *c)
{
  if (!gf_is_file (c, "/etc/hostname"))
    return NULL;
  char *text = gf_read_text (c, "/etc/hostname", NULL);
  if (!text) {
    ferry_error_clear ();
    return NULL;
  }
  text[strcspn (text, "\r\n")] = 0;
  return text;
}

int
gf_linux_cloudinit (struct gf_ctx *c)
{
  struct ferry_cloudinit *ci = c->o->cloudinit;
  if (!ferry_cloudinit_given (ci))
    return 0;

  if (!ci->meta_data) {
    char *h = guest_hostname (c);
    int rc = ferry_cloudinit_meta (ci, h);
    free (h);
    if (rc < 0)
      return -1;
  }
  if (gf_mkdir_p (c, SEED_DIR) < 0)
    return -1;
  /* user-data and network-config may carry passwords and keys. */
  if (put (c, "user-data", ci->user_data, ci->user_data_len, 0600,
           ci->user_data_given ? "written from --cloud-init-user-data"
                               : "written empty (NoCloud needs the file)")
      < 0
      || put (c, "meta-data", ci->meta_data, ci->meta_data_len, 0644,
              ci->meta_data_generated
                  ? "generated (instance-id, local-hostname)"
                  : "written from --cloud-init-meta-data") < 0)
    return -1;
  if (ci->network_config) {
    if (put (c, "network-config", ci->network_config,
             ci->network_config_len, 0600,
             "written from --cloud-init-network-config") < 0)
      return -1;
  } else {
    /* One left from an earlier seed would still apply. */
    char *p = gf_asprintf ("%s/network-config", SEED_DIR);
    if (gf_is_file (c, p)) {
      if (guestfs_rm (c->g, p) < 0) {
        int rc = gf_gerror (c, FERRY_E_OUTPUT, p);
        free (p);
        return rc;
      }
      gf_change (c, p, "removed (an earlier seed's; none was given)");
    }
    free (p);
  }

  if (!gf_find_program (c, cloud_init_paths)
      && !gf_has_application (c, "cloud-init"))
    gf_note (c, "cloud-init is not installed in the guest; the NoCloud seed "
             "in %s applies only once it is", SEED_DIR);
  if (gf_exists (c, "/etc/cloud/cloud-init.disabled"))
    gf_note (c, "cloud-init is disabled in the guest "
             "(/etc/cloud/cloud-init.disabled); the seed will not apply "
             "until that file is removed");
  return 0;
}
