/* ferry guestfix, Linux: network.  The NIC changes from vmxnet3/e1000 to
 * virtio-net, often with a new MAC: configuration pinned to the old MAC
 * (HWADDR= in ifcfg files, mac-address= in NetworkManager keyfiles, udev
 * persistent-net rules) would leave the interface unconfigured or renamed.
 * The pins go; the IP configuration stays. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "guestfix/internal.h"

/* Drop lines starting with KEY from the files matching PATTERN. */
static int
drop_key (struct gf_ctx *c, const char *pattern, const char *key,
          const char *skip_suffix)
{
  char **paths = gf_glob (c, pattern);
  if (!paths)
    return -1;
  int rc = 0;
  for (size_t i = 0; paths[i] && rc == 0; i++) {
    const char *p = paths[i];
    size_t pl = strlen (p);
    if (skip_suffix && pl >= strlen (skip_suffix)
        && strcmp (p + pl - strlen (skip_suffix), skip_suffix) == 0)
      continue;
    if (!gf_is_file (c, p))
      continue;
    char *text = gf_read_text (c, p, NULL);
    if (!text) {
      rc = -1;
      break;
    }
    size_t n;
    char *out = gf_drop_lines (text, key, &n);
    if (n > 0) {
      rc = gf_write_text (c, p, out);
      if (rc == 0)
        gf_change (c, p, "removed %s (%zu line%s)", key, n, n == 1 ? "" : "s");
    }
    free (out);
    free (text);
  }
  gf_free_strings (paths);
  return rc;
}

int
gf_linux_network (struct gf_ctx *c)
{
  if (drop_key (c, "/etc/sysconfig/network-scripts/ifcfg-*", "HWADDR=",
                "ifcfg-lo") < 0
      || drop_key (c, "/etc/sysconfig/network/ifcfg-*", "HWADDR=",
                   "ifcfg-lo") < 0
      || drop_key (c, "/etc/NetworkManager/system-connections/*",
                   "mac-address=", NULL) < 0)
    return -1;

  static const char *const rules[] = {
    "/etc/udev/rules.d/70-persistent-net.rules",
    NULL,
  };
  for (size_t i = 0; rules[i]; i++) {
    if (!gf_is_file (c, rules[i]))
      continue;
    if (guestfs_rm (c->g, rules[i]) < 0)
      return gf_gerror (c, FERRY_E_OUTPUT, rules[i]);
    gf_change (c, rules[i], "removed (persistent NIC names by MAC)");
  }

  /* netplan matches by MAC are YAML inside a block: not edited, said. */
  char **plans = gf_glob (c, "/etc/netplan/*.yaml");
  if (!plans)
    return -1;
  for (size_t i = 0; plans[i]; i++) {
    if (!gf_is_file (c, plans[i]))
      continue;
    char *text = gf_read_text (c, plans[i], NULL);
    if (!text) {
      gf_free_strings (plans);
      return -1;
    }
    if (strstr (text, "macaddress:"))
      gf_note (c, "%s matches an interface by MAC address; check it after "
               "the first boot on KVM", plans[i]);
    free (text);
  }
  gf_free_strings (plans);
  return 0;
}
