/* ferry guestfix, Linux: files written from the appliance carry no
 * SELinux labels (or wrong ones); on a guest with SELinux enabled, a full
 * relabel is requested for the first boot. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "guestfix/internal.h"

int
gf_linux_selinux (struct gf_ctx *c)
{
  if (!gf_is_file (c, "/etc/selinux/config"))
    return 0;
  char *text = gf_read_text (c, "/etc/selinux/config", NULL);
  if (!text)
    return -1;
  char *mode = gf_config_value (text, "SELINUX");
  free (text);
  bool enabled = mode && strcmp (mode, "disabled") != 0;
  if (!enabled) {
    free (mode);
    return 0;
  }
  c->r->selinux = true;
  if (guestfs_touch (c->g, "/.autorelabel") < 0) {
    free (mode);
    return gf_gerror (c, FERRY_E_OUTPUT, "/.autorelabel");
  }
  gf_change (c, "/.autorelabel", "created (SELinux %s: relabel at first "
             "boot)", mode);
  free (mode);
  return 0;
}
