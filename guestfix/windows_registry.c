/* ferry guestfix, Windows: make the virtio boot disk driver load at boot,
 * and let Plug and Play find the other drivers.
 *
 * Plug and Play installs a driver only once Windows runs, but the boot
 * disk is needed before that: the driver must be a boot-start service
 * (Services\viostor: Start=0 boot, Type=1 kernel driver, in the "SCSI
 * miniport" load group) and the virtio PCI ids must already be bound to
 * it.  Windows before 8 (6.2) binds them through
 * Control\CriticalDeviceDatabase\PCI#<id> (Service, ClassGUID); Windows 8
 * and later ignore that key and read the driver store index in the
 * DriverDatabase key at the root of the SYSTEM hive: a driver package
 * whose configuration names the service, the device id pointing at the
 * package's INF, and the INF pointing at the package.  The package is
 * registered under ferry's own INF name so that the real viostor.inf that
 * pnputil installs at first boot (as oemN.inf) does not collide with it.
 *
 * Both ids of each driver are bound: the transitional (legacy) device and
 * the virtio 1.0 (modern) one, since the target machine type decides which
 * one the guest sees.
 *
 * DevicePath (SOFTWARE\Microsoft\Windows\CurrentVersion) gets
 * %SystemRoot%\Drivers\VirtIO so that Plug and Play finds the other
 * drivers (network, balloon, rng) by itself too. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "guestfix/windows_internal.h"

#define SCSI_ADAPTER_CLASS "{4D36E97B-E325-11CE-BFC1-08002BE10318}"
#define VIRTIO_DIR "%SystemRoot%\\Drivers\\VirtIO"

static const struct {
  const char *driver;
  const char *pci[2];   /* transitional, modern */
} boot_ids[] = {
  { "viostor", { "VEN_1AF4&DEV_1001&SUBSYS_00021AF4&REV_00",
                 "VEN_1AF4&DEV_1042&SUBSYS_11001AF4&REV_01" } },
  { "vioscsi", { "VEN_1AF4&DEV_1004&SUBSYS_00081AF4&REV_00",
                 "VEN_1AF4&DEV_1048&SUBSYS_11001AF4&REV_01" } },
};

/* The driver package's Version value: a version marker, then the class
 * GUID (SCSI adapter) in its binary form, then zeros. */
static const unsigned char package_version[48] = {
  0x00, 0xff, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x7b, 0xe9, 0x36, 0x4d, 0x25, 0xe3, 0xce, 0x11,
  0xbf, 0xc1, 0x08, 0x00, 0x2b, 0xe1, 0x03, 0x18,
};

/* The device id's value: the INF ranks first for the id. */
static const unsigned char device_rank[4] = { 0x01, 0xff, 0x00, 0x00 };

static int
service (struct gf_ctx *c, const char *drv)
{
  struct gf_regkey k = { 0 };
  char *path = gf_asprintf ("%s\\Services\\%s", c->win->ccs, drv);
  char *image = gf_asprintf ("system32\\drivers\\%s.sys", drv);
  int rc = gf_regkey_open (c, &k, "HKLM\\SYSTEM", path);
  if (rc == 0)
    rc = gf_regkey_dword (c, &k, "Type", 1);
  if (rc == 0)
    rc = gf_regkey_dword (c, &k, "Start", 0);
  if (rc == 0)
    rc = gf_regkey_dword (c, &k, "ErrorControl", 1);
  if (rc == 0)
    rc = gf_regkey_string (c, &k, "Group", GF_REG_SZ, "SCSI miniport");
  if (rc == 0)
    rc = gf_regkey_string (c, &k, "ImagePath", GF_REG_EXPAND_SZ, image);
  if (rc == 0)
    gf_regkey_done (c, &k);
  else
    free (k.path), free (k.desc);
  free (image);
  free (path);
  return rc;
}

static int
critical_device (struct gf_ctx *c, const char *drv, const char *pci)
{
  struct gf_regkey k = { 0 };
  char *path = gf_asprintf ("%s\\Control\\CriticalDeviceDatabase\\PCI#%s",
                            c->win->ccs, pci);
  int rc = gf_regkey_open (c, &k, "HKLM\\SYSTEM", path);
  if (rc == 0)
    rc = gf_regkey_string (c, &k, "Service", GF_REG_SZ, drv);
  if (rc == 0)
    rc = gf_regkey_string (c, &k, "ClassGUID", GF_REG_SZ, SCSI_ADAPTER_CLASS);
  if (rc == 0)
    gf_regkey_done (c, &k);
  else
    free (k.path), free (k.desc);
  free (path);
  return rc;
}

/* The DriverDatabase entries binding PCI ids to DRV (see the top). */
static int
driver_database (struct gf_ctx *c, const char *drv, const char *const *pci,
                 size_t n_pci)
{
  char *inf = gf_asprintf ("ferry_%s.inf", drv);
  char *package = gf_asprintf ("%s_boot", inf);
  char *config = gf_asprintf ("ferry_%s_boot", drv);
  char *path = NULL;
  struct gf_regkey k = { 0 };
  int rc;

  path = gf_asprintf ("DriverDatabase\\DriverInfFiles\\%s", inf);
  rc = gf_regkey_open (c, &k, "HKLM\\SYSTEM", path);
  if (rc == 0)
    rc = gf_regkey_multi (c, &k, "", (const char *[]) { package, NULL });
  if (rc == 0)
    rc = gf_regkey_string (c, &k, "Active", GF_REG_SZ, package);
  if (rc == 0)
    rc = gf_regkey_multi (c, &k, "Configurations",
                          (const char *[]) { config, NULL });
  if (rc == 0)
    gf_regkey_done (c, &k);

  free (path);
  path = gf_asprintf ("DriverDatabase\\DriverPackages\\%s", package);
  if (rc == 0)
    rc = gf_regkey_open (c, &k, "HKLM\\SYSTEM", path);
  if (rc == 0)
    rc = gf_regkey_binary (c, &k, "Version", package_version,
                           sizeof package_version);
  if (rc == 0)
    gf_regkey_done (c, &k);

  free (path);
  path = gf_asprintf ("DriverDatabase\\DriverPackages\\%s\\Configurations\\%s",
                      package, config);
  if (rc == 0)
    rc = gf_regkey_open (c, &k, "HKLM\\SYSTEM", path);
  if (rc == 0)
    rc = gf_regkey_dword (c, &k, "ConfigFlags", 0);
  if (rc == 0)
    rc = gf_regkey_string (c, &k, "Service", GF_REG_SZ, drv);
  if (rc == 0)
    gf_regkey_done (c, &k);

  for (size_t i = 0; i < n_pci && rc == 0; i++) {
    free (path);
    path = gf_asprintf ("DriverDatabase\\DeviceIds\\PCI\\%s", pci[i]);
    rc = gf_regkey_open (c, &k, "HKLM\\SYSTEM", path);
    if (rc == 0)
      rc = gf_regkey_binary (c, &k, inf, device_rank, sizeof device_rank);
    if (rc == 0)
      gf_regkey_done (c, &k);
    free (path);
    path = gf_asprintf ("DriverDatabase\\DriverPackages\\%s\\Descriptors\\"
                        "PCI\\%s", package, pci[i]);
    if (rc == 0)
      rc = gf_regkey_open (c, &k, "HKLM\\SYSTEM", path);
    if (rc == 0)
      rc = gf_regkey_string (c, &k, "Configuration", GF_REG_SZ, config);
    if (rc == 0)
      gf_regkey_done (c, &k);
  }
  if (rc < 0)
    free (k.path), free (k.desc);
  free (path);
  free (config);
  free (package);
  free (inf);
  return rc;
}

static int
system_hive (struct gf_ctx *c)
{
  struct gf_windows *w = c->win;
  bool ddb = c->r->major > 6 || (c->r->major == 6 && c->r->minor >= 2);
  if (gf_hive_open (c, w->system_hive, true) < 0)
    return -1;
  int rc = 0;
  for (size_t i = 0; i < sizeof boot_ids / sizeof boot_ids[0] && rc == 0;
       i++) {
    const char *drv = boot_ids[i].driver;
    bool copied = strcmp (drv, "viostor") == 0 ? w->viostor : w->vioscsi;
    if (!copied)
      continue;
    rc = service (c, drv);
    if (rc == 0 && ddb)
      rc = driver_database (c, drv, boot_ids[i].pci, 2);
    for (size_t j = 0; j < 2 && rc == 0 && !ddb; j++)
      rc = critical_device (c, drv, boot_ids[i].pci[j]);
  }
  if (rc < 0) {
    gf_hive_close (c);
    return -1;
  }
  return gf_hive_commit (c);
}

/* DevicePath is a list separated by ';'; add the directory once. */
static int
software_hive (struct gf_ctx *c)
{
  struct gf_windows *w = c->win;
  if (gf_hive_open (c, w->software_hive, true) < 0)
    return -1;
  int rc = 0;
  struct gf_regkey k = { 0 };
  rc = gf_regkey_open (c, &k, "HKLM\\SOFTWARE",
                       "Microsoft\\Windows\\CurrentVersion");
  char *old = rc == 0 ? gf_hive_get_string (c, k.node, "DevicePath") : NULL;
  if (rc == 0) {
    bool present = false;
    char *copy = gf_strdup (old ? old : ""), *save = NULL;
    for (char *e = strtok_r (copy, ";", &save); e;
         e = strtok_r (NULL, ";", &save))
      present |= strcasecmp (e, VIRTIO_DIR) == 0;
    free (copy);
    if (present) {
      gf_note (c, "DevicePath already lists %s", VIRTIO_DIR);
    } else {
      char *val = old && *old ? gf_asprintf ("%s;%s", old, VIRTIO_DIR)
                              : gf_strdup ("%SystemRoot%\\inf;" VIRTIO_DIR);
      rc = gf_regkey_string (c, &k, "DevicePath", GF_REG_EXPAND_SZ, val);
      if (rc == 0)
        gf_regkey_done (c, &k);
      free (val);
    }
  }
  free (old);
  free (k.path);
  free (k.desc);
  if (rc < 0) {
    gf_hive_close (c);
    return -1;
  }
  return gf_hive_commit (c);
}

int
gf_windows_registry (struct gf_ctx *c)
{
  if (system_hive (c) < 0 || software_hive (c) < 0)
    return -1;
  return 0;
}
