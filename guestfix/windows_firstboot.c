/* ferry guestfix, Windows: first-boot actions.  What needs Windows running
 * (installing the drivers into the driver store, the guest agent, removing
 * VMware Tools, bringing disks online) is done by the guest at its first
 * boot on KVM, by scripts run once each:
 *
 *   %SystemRoot%\ferry\firstboot\run.bat            the runner
 *   %SystemRoot%\ferry\firstboot\scripts\NN-*.bat   the actions
 *   %SystemRoot%\ferry\firstboot\firstboot.log      what happened
 *
 * The runner is started at boot by the service ferry-firstboot (an
 * automatic, LocalSystem, own-process service in the SYSTEM hive).
 * cmd.exe is not a real service program, so its ImagePath is
 * "cmd.exe /c start /b run.bat": the service control manager starts cmd,
 * which hands the runner to a process of its own and exits; the manager
 * then logs that the service stopped, and the runner goes on.  Each script
 * runs once: to scripts\done\ when it succeeded, to scripts\failed\ (with
 * its exit code in the log) when not; the runner never reboots and, once
 * every script has run, deletes the service, so a failing script (a driver
 * whose INF does not install, say) cannot cause a reboot loop. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "guestfix/windows_internal.h"

#define SERVICE "ferry-firstboot"
#define WIN_FB "%SystemRoot%\\ferry\\firstboot"
#define WIN_VIRTIO "%SystemRoot%\\Drivers\\VirtIO"
/* The same for printf formats. */
#define FMT_FB "%%SystemRoot%%\\ferry\\firstboot"
#define FMT_VIRTIO "%%SystemRoot%%\\Drivers\\VirtIO"

static const char runner[] =
  "@echo off\n"
  "rem Written by ferry guestfix: run each first-boot script once, after\n"
  "rem the move from VMware to KVM.  Started by the " SERVICE " service;\n"
  "rem never reboots; removes the service when every script has run.\n"
  "setlocal\n"
  "set \"FB=" WIN_FB "\"\n"
  "set \"LOG=%FB%\\firstboot.log\"\n"
  "if not exist \"%FB%\\scripts\\done\" mkdir \"%FB%\\scripts\\done\"\n"
  "if not exist \"%FB%\\scripts\\failed\" mkdir \"%FB%\\scripts\\failed\"\n"
  "echo %DATE% %TIME% " SERVICE ": start >> \"%LOG%\"\n"
  "for %%s in (\"%FB%\\scripts\\*.bat\") do call :run \"%%~fs\" \"%%~nxs\"\n"
  "echo %DATE% %TIME% " SERVICE ": all scripts run, removing the service"
  " >> \"%LOG%\"\n"
  "sc.exe delete " SERVICE " >> \"%LOG%\" 2>&1\n"
  "exit /b 0\n"
  "\n"
  ":run\n"
  "echo %DATE% %TIME% " SERVICE ": running %~2 >> \"%LOG%\"\n"
  "call \"%~1\" >> \"%LOG%\" 2>&1\n"
  "set rc=%ERRORLEVEL%\n"
  "if not \"%rc%\"==\"0\" goto failed\n"
  "echo %DATE% %TIME% " SERVICE ": %~2 done >> \"%LOG%\"\n"
  "move /y \"%~1\" \"%FB%\\scripts\\done\\\" > nul\n"
  "exit /b 0\n"
  ":failed\n"
  "echo %DATE% %TIME% " SERVICE ": %~2 FAILED (exit code %rc%), going on"
  " >> \"%LOG%\"\n"
  "move /y \"%~1\" \"%FB%\\scripts\\failed\\\" > nul\n"
  "exit /b 0\n";

/* TEXT with CRLF line ends, as cmd.exe expects. */
static char *
crlf (const char *text)
{
  size_t n = 0;
  for (const char *p = text; *p; p++)
    n += *p == '\n' ? 2 : 1;
  char *out = malloc (n + 1), *o = out;
  if (!out)
    abort ();
  for (const char *p = text; *p; p++) {
    if (*p == '\n')
      *o++ = '\r';
    *o++ = *p;
  }
  *o = 0;
  return out;
}

static int
write_file (struct gf_ctx *c, const char *path, const char *text)
{
  char *dos = crlf (text);
  int rc = guestfs_write (c->g, path, dos, strlen (dos));
  free (dos);
  if (rc < 0)
    return gf_gerror (c, FERRY_E_OUTPUT, path);
  return 0;
}

/* Install every copied INF on its own, so one failure does not stop the
 * rest; 3010 means installed, reboot wanted (the runner does not reboot:
 * the drivers are used from the next boot on). */
static char *
drivers_script (struct gf_ctx *c)
{
  struct gf_windows *w = c->win;
  /* pnputil /add-driver exists from Windows 10 on; before, -i -a. */
  const char *cmd = c->r->major >= 10 ? "pnputil /add-driver \"%F%\" /install"
                                      : "pnputil -i -a \"%F%\"";
  char *calls = gf_strdup ("");
  for (size_t i = 0; i < w->n_infs; i++) {
    char *s = gf_asprintf ("%scall :inf %s\n", calls, w->infs[i]);
    free (calls);
    calls = s;
  }
  char *body = gf_asprintf (
    "@echo off\n"
    "rem Written by ferry guestfix: install the virtio drivers from\n"
    "rem " FMT_VIRTIO " into the driver store, one INF at a time:\n"
    "rem one that fails is logged and the others still go in.\n"
    "set failed=0\n"
    "%s"
    "exit /b %%failed%%\n"
    "\n"
    ":inf\n"
    "set \"F=" FMT_VIRTIO "\\%%~1\"\n"
    "%s\n"
    "set rc=%%ERRORLEVEL%%\n"
    "if \"%%rc%%\"==\"3010\" set rc=0\n"
    "if not \"%%rc%%\"==\"0\" echo %s: %%~1: pnputil exit code %%rc%% "
    "& set failed=1\n"
    "exit /b 0\n", calls, cmd, SERVICE);
  free (calls);
  return body;
}

static char *
qemu_ga_script (struct gf_ctx *c)
{
  const char *base = strrchr (c->win->qemu_ga, '/');
  base = base ? base + 1 : c->win->qemu_ga;
  return gf_asprintf (
    "@echo off\n"
    "rem Written by ferry guestfix: install the QEMU guest agent.\n"
    "msiexec /i \"" FMT_VIRTIO "\\%s\" /qn /norestart "
    "/l*v \"" FMT_FB "\\qemu-ga-install.log\"\n"
    "set rc=%%ERRORLEVEL%%\n"
    "if \"%%rc%%\"==\"3010\" set rc=0\n"
    "exit /b %%rc%%\n", base);
}

/* The product code of an MSI install: the key name when it is one
 * ({GUID}), else the {GUID} in its UninstallString; NULL. */
static char *
product_code (const char *key, const char *uninstall)
{
  if (key[0] == '{' && strlen (key) == 38 && key[37] == '}')
    return gf_strdup (key);
  if (!uninstall || !strcasestr (uninstall, "msiexec"))
    return NULL;
  const char *b = strchr (uninstall, '{');
  const char *e = b ? strchr (b, '}') : NULL;
  if (!b || !e || e - b != 37)
    return NULL;
  return gf_asprintf ("%.38s", b);
}

/* MsiExec /X commands for every VMware Tools install in the SOFTWARE
 * hive's Uninstall keys (native and 32-bit views); "" when none. */
static int
vmware_tools (struct gf_ctx *c, char **cmds)
{
  static const char *const roots[] = {
    "Microsoft\\Windows\\CurrentVersion\\Uninstall",
    "WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
  };
  *cmds = gf_strdup ("");
  if (gf_hive_open (c, c->win->software_hive, false) < 0)
    return -1;
  int rc = 0;
  for (size_t r = 0; r < 2 && rc == 0; r++) {
    int64_t node = gf_hive_node (c, roots[r], false);
    if (node <= 0) {
      rc = node < 0 ? -1 : 0;
      continue;
    }
    char **keys = gf_hive_children (c, node);
    if (!keys) {
      rc = -1;
      break;
    }
    for (size_t i = 0; keys[i]; i++) {
      char *path = gf_asprintf ("%s\\%s", roots[r], keys[i]);
      int64_t k = gf_hive_node (c, path, false);
      char *name = k > 0 ? gf_hive_get_string (c, k, "DisplayName") : NULL;
      char *un = k > 0 ? gf_hive_get_string (c, k, "UninstallString") : NULL;
      if (name && strstr (name, "VMware Tools")) {
        char *code = product_code (keys[i], un);
        if (code) {
          char *s = gf_asprintf (
            "%smsiexec /x %s /qn /norestart REBOOT=ReallySuppress "
            "/l*v \"" FMT_FB "\\vmware-tools-removal.log\"\n"
            "set rc=%%ERRORLEVEL%%\n"
            "if \"%%rc%%\"==\"3010\" set rc=0\n"
            "if \"%%rc%%\"==\"1605\" set rc=0\n"
            "if not \"%%rc%%\"==\"0\" set failed=%%rc%%\n", *cmds, code);
          free (*cmds);
          *cmds = s;
          gf_note (c, "VMware Tools (%s, HKLM\\SOFTWARE\\%s) will be "
                   "uninstalled at first boot (msiexec /x %s)", name, path,
                   code);
          free (code);
        } else {
          gf_note (c, "VMware Tools (HKLM\\SOFTWARE\\%s) is not an MSI "
                   "install ferry can remove (UninstallString %s); remove "
                   "it by hand", path, un ? un : "missing");
        }
      }
      free (name);
      free (un);
      free (path);
    }
    gf_free_strings (keys);
  }
  gf_hive_close (c);
  return rc;
}

static const char disks_script[] =
  "@echo off\n"
  "rem Written by ferry guestfix: the disks come back on virtio as new\n"
  "rem disks, and Windows Server's default SAN policy keeps new shared\n"
  "rem disks offline.  Make the policy bring disks online, then put\n"
  "rem every offline or read-only disk online and writable.\n"
  "echo san policy=OnlineAll > \"%TEMP%\\ferry-san-policy.txt\"\n"
  "diskpart /s \"%TEMP%\\ferry-san-policy.txt\"\n"
  "powershell -NoProfile -ExecutionPolicy Bypass -Command "
  "\"Get-Disk | Where-Object IsOffline | Set-Disk -IsOffline $false; "
  "Get-Disk | Where-Object IsReadOnly | Set-Disk -IsReadOnly $false\"\n"
  "exit /b 0\n";

static int
register_service (struct gf_ctx *c)
{
  struct gf_windows *w = c->win;
  if (gf_hive_open (c, w->system_hive, true) < 0)
    return -1;
  struct gf_regkey k = { 0 };
  char *path = gf_asprintf ("%s\\Services\\" SERVICE, w->ccs);
  int rc = gf_regkey_open (c, &k, "HKLM\\SYSTEM", path);
  if (rc == 0)
    rc = gf_regkey_dword (c, &k, "Type", 0x10);   /* own process */
  if (rc == 0)
    rc = gf_regkey_dword (c, &k, "Start", 2);     /* automatic */
  if (rc == 0)
    rc = gf_regkey_dword (c, &k, "ErrorControl", 1);
  if (rc == 0)
    rc = gf_regkey_string (c, &k, "ImagePath", GF_REG_EXPAND_SZ,
                           "%SystemRoot%\\System32\\cmd.exe /c start /b "
                           WIN_FB "\\run.bat");
  if (rc == 0)
    rc = gf_regkey_string (c, &k, "DisplayName", GF_REG_SZ,
                           "ferry first-boot actions");
  if (rc == 0)
    rc = gf_regkey_string (c, &k, "ObjectName", GF_REG_SZ, "LocalSystem");
  if (rc == 0)
    gf_regkey_done (c, &k);
  free (k.path);
  free (k.desc);
  free (path);
  if (rc < 0) {
    gf_hive_close (c);
    return -1;
  }
  return gf_hive_commit (c);
}

struct fb_script {
  const char *name;
  char *text;
  const char *what;
};

int
gf_windows_firstboot (struct gf_ctx *c)
{
  struct gf_windows *w = c->win;
  char *uninstall = NULL;
  if (vmware_tools (c, &uninstall) < 0) {
    free (uninstall);
    return -1;
  }

  struct fb_script scripts[4] = { { 0 } };
  size_t n = 0;
  if (w->n_infs > 0)
    scripts[n++] = (struct fb_script) {
      "10-virtio-drivers.bat", drivers_script (c),
      "install the virtio drivers with pnputil, one INF at a time" };
  if (w->qemu_ga)
    scripts[n++] = (struct fb_script) {
      "20-qemu-guest-agent.bat", qemu_ga_script (c),
      "install the QEMU guest agent (msiexec /i)" };
  if (*uninstall)
    scripts[n++] = (struct fb_script) {
      "30-remove-vmware-tools.bat",
      gf_asprintf ("@echo off\n"
                   "rem Written by ferry guestfix: uninstall VMware Tools.\n"
                   "set failed=0\n%sexit /b %%failed%%\n", uninstall),
      "uninstall VMware Tools (msiexec /x)" };
  scripts[n++] = (struct fb_script) {
    "40-disks-online.bat", gf_strdup (disks_script),
    "bring offline disks online (SAN policy OnlineAll)" };
  free (uninstall);

  char *fb = gf_asprintf ("%s/ferry/firstboot", w->systemroot);
  char *dir = gf_asprintf ("%s/scripts", fb);
  int rc = 0;
  if (guestfs_mkdir_p (c->g, dir) < 0)
    rc = gf_gerror (c, FERRY_E_OUTPUT, dir);
  char *run = gf_asprintf ("%s/run.bat", fb);
  if (rc == 0)
    rc = write_file (c, run, runner);
  if (rc == 0)
    gf_change (c, run, "first-boot runner (started by the %s service)",
               SERVICE);
  for (size_t i = 0; i < n; i++) {
    char *path = gf_asprintf ("%s/%s", dir, scripts[i].name);
    if (rc == 0)
      rc = write_file (c, path, scripts[i].text);
    if (rc == 0) {
      gf_change (c, path, "first boot: %s", scripts[i].what);
      gf_note (c, "pending for the first boot: %s", scripts[i].what);
    }
    free (path);
    free (scripts[i].text);
  }
  free (run);
  free (dir);
  free (fb);
  if (rc == 0)
    rc = register_service (c);
  if (rc == 0)
    gf_note (c, "the first-boot log will be %s\\firstboot.log", WIN_FB);
  return rc;
}
