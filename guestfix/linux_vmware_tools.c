/* ferry guestfix, Linux: VMware tools.  Packages (open-vm-tools,
 * vmware-tools*, ...) are removed with the guest's own rpm or dpkg, run
 * inside the appliance; whatever could not be removed is disabled: the
 * systemd wants links and SysV start links of vmtoolsd go, and so does the
 * tarball installer's /etc/vmware-tools. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "guestfix/internal.h"

static const char *const tool_packages[] = {
  "open-vm-tools", "open-vm-toolbox", "vmware-tools", "VMwareTools",
  "vmware-open-vm-tools", "vmware-guestd", "vmware-kmp", NULL,
};

static const char *const tool_units[] = {
  "vmtoolsd.service", "open-vm-tools.service", "vmware-tools.service",
  "vgauth.service", "vgauthd.service", "vmware-vgauth.service",
  "vmware-tools-thinprint.service", "run-vmblock\\x2dfuse.mount",
  "vmware-tools-services.service", NULL,
};

static bool
is_tool_package (const char *name)
{
  for (size_t i = 0; tool_packages[i]; i++)
    if (strncmp (name, tool_packages[i], strlen (tool_packages[i])) == 0)
      return true;
  return false;
}

static const char *
base (const char *path)
{
  const char *s = strrchr (path, '/');
  return s ? s + 1 : path;
}

/* Remove the packages NAMES[0..n) with the guest's package tool. */
static void
remove_packages (struct gf_ctx *c, char **names, size_t n)
{
  static const char *const rpm[] = { "/usr/bin/rpm", "/bin/rpm", NULL };
  static const char *const dpkg[] = { "/usr/bin/dpkg", "/bin/dpkg", NULL };
  const char *fmt = c->r->package_format ? c->r->package_format : "";
  const char *prog = NULL, *const *args = NULL;
  static const char *const rpm_args[] = { "-e", "--nodeps", NULL };
  static const char *const dpkg_args[] = { "--purge", "--force-depends",
                                           NULL };

  if (strcmp (fmt, "rpm") == 0) {
    prog = gf_find_program (c, rpm);
    args = rpm_args;
  } else if (strcmp (fmt, "deb") == 0) {
    prog = gf_find_program (c, dpkg);
    args = dpkg_args;
  }
  if (!prog) {
    for (size_t i = 0; i < n; i++)
      gf_note (c, "package %s was not removed: the guest has no %s that can "
               "run in the appliance; its services are disabled instead",
               names[i], *fmt ? (strcmp (fmt, "rpm") == 0 ? "rpm" :
                                 strcmp (fmt, "deb") == 0 ? "dpkg" : fmt)
               : "package manager");
    return;
  }

  /* One package per command: one that refuses does not keep the others. */
  for (size_t i = 0; i < n; i++) {
    const char *argv[6];
    size_t k = 0;
    argv[k++] = prog;
    for (size_t j = 0; args[j]; j++)
      argv[k++] = args[j];
    argv[k++] = names[i];
    argv[k] = NULL;
    char *out;
    if (gf_run (c, argv, &out) == 0) {
      gf_removed_package (c, names[i]);
      gf_change (c, names[i], "package removed with %s", base (prog));
    } else {
      gf_note (c, "removing package %s with %s failed: %s; its services are "
               "disabled instead", names[i], base (prog), out);
    }
    free (out);
  }
}

static int
remove_links (struct gf_ctx *c, const char *pattern, bool unit_names_only)
{
  char **paths = gf_glob (c, pattern);
  if (!paths)
    return -1;
  int rc = 0;
  for (size_t i = 0; paths[i] && rc == 0; i++) {
    const char *p = paths[i], *b = base (p);
    if (unit_names_only) {
      bool match = false;
      for (size_t j = 0; tool_units[j] && !match; j++)
        match = strcmp (b, tool_units[j]) == 0;
      if (!match)
        continue;
    }
    if (!gf_is_symlink (c, p))
      continue;
    if (guestfs_rm (c->g, p) < 0) {
      rc = gf_gerror (c, FERRY_E_OUTPUT, p);
      break;
    }
    gf_change (c, p, "removed (disables %s)", b);
  }
  gf_free_strings (paths);
  return rc;
}

int
gf_linux_vmware_tools (struct gf_ctx *c)
{
  char *const *apps = gf_applications (c);
  if (!apps) {
    /* An unreadable package database (or none, as in a stripped image)
     * only means no package can be removed; the services are disabled
     * below either way. */
    gf_note (c, "the guest's packages could not be listed (%s); VMware "
             "tools packages, if any, were not removed", ferry_error_msg ());
    ferry_error_clear ();
    static char *const none[] = { NULL };
    apps = none;
  }
  char **names = calloc (gf_count_strings (apps) + 1, sizeof *names);
  if (!names)
    abort ();
  size_t n = 0;
  for (size_t i = 0; apps[i]; i++)
    if (is_tool_package (apps[i]))
      names[n++] = gf_strdup (apps[i]);
  if (n)
    remove_packages (c, names, n);
  for (size_t i = 0; i < n; i++)
    free (names[i]);
  free (names);

  /* Whatever is left: units enabled through wants links, SysV links. */
  static const char *const unit_dirs[] = {
    "/etc/systemd/system/*.wants/*",
    "/etc/systemd/system/*.requires/*",
    NULL,
  };
  for (size_t i = 0; unit_dirs[i]; i++)
    if (remove_links (c, unit_dirs[i], true) < 0)
      return -1;
  static const char *const sysv[] = {
    "/etc/rc?.d/S*vm*tools*",
    "/etc/rc.d/rc?.d/S*vm*tools*",
    NULL,
  };
  for (size_t i = 0; sysv[i]; i++)
    if (remove_links (c, sysv[i], false) < 0)
      return -1;

  /* The tarball installer (vmware-install.pl) keeps its configuration and
   * its record of installed files here; the packages' own copy is gone by
   * now if they were removed. */
  if (gf_is_dir (c, "/etc/vmware-tools")
      && !gf_is_symlink (c, "/etc/vmware-tools")) {
    if (guestfs_rm_rf (c->g, "/etc/vmware-tools") < 0)
      return gf_gerror (c, FERRY_E_OUTPUT, "/etc/vmware-tools");
    gf_change (c, "/etc/vmware-tools", "removed (VMware Tools configuration)");
    if (gf_exists (c, "/usr/bin/vmware-uninstall-tools.pl"))
      gf_note (c, "VMware Tools from the tarball installer: services "
               "disabled and configuration removed; run "
               "vmware-uninstall-tools.pl on the guest to remove the rest");
  }
  return 0;
}
