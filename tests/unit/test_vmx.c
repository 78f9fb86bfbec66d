/* Unit tests for the .vmx reader (importer/vmx.c).
 *
 * Every parse runs on a heap buffer of exactly the text's length (no NUL
 * after it), so ASan catches reads past len.  Successful parses are freed
 * with ferry_vm_free; failures must return -1 with FERRY_E_INPUT and a
 * message naming the file, the line and the reason, and leave the model
 * empty.  The good fixtures in fixtures/vm/ are parsed too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "importer/vm.h"

/* ---- helpers ---------------------------------------------------------- */

static int
parse_exact (const char *text, size_t len, const char *name, const char *dir,
             struct ferry_vm *vm)
{
  char *copy = malloc (len ? len : 1);
  int r;

  assert_non_null (copy);
  memcpy (copy, text, len);
  ferry_error_clear ();
  r = ferry_vmx_parse (copy, len, name, dir, vm);
  free (copy);
  return r;
}

static void
parse_ok (const char *text, const char *dir, struct ferry_vm *vm)
{
  if (parse_exact (text, strlen (text), "t.vmx", dir, vm) != 0)
    fail_msg ("parse failed: %s", ferry_error_msg ());
}

/* Expect failure naming t.vmx, the line (0: no line) and the reason. */
static void
expect_fail_len (const char *text, size_t len, unsigned line,
                 const char *reason)
{
  struct ferry_vm vm;
  char needle[48];
  const char *msg;

  memset (&vm, 0xa5, sizeof vm);
  assert_int_equal (parse_exact (text, len, "t.vmx", "/d", &vm), -1);
  msg = ferry_error_msg ();
  assert_int_equal (ferry_error_code (), FERRY_E_INPUT);
  if (strncmp (msg, "t.vmx: ", 7) != 0)
    fail_msg ("message does not start with the file name: %s", msg);
  if (line) {
    snprintf (needle, sizeof needle, "t.vmx: line %u: ", line);
    if (!strstr (msg, needle))
      fail_msg ("message does not name line %u: %s", line, msg);
  }
  if (!strstr (msg, reason))
    fail_msg ("message lacks \"%s\": %s", reason, msg);
  /* The model is left empty (nothing to free, nothing dangling). */
  assert_null (vm.name);
  assert_null (vm.disks);
  assert_int_equal (vm.n_disks, 0);
  assert_null (vm.warnings);
}

static void
expect_fail (const char *text, unsigned line, const char *reason)
{
  expect_fail_len (text, strlen (text), line, reason);
}

static bool
has_warning (const struct ferry_vm *vm, const char *needle)
{
  for (size_t i = 0; i < vm->n_warnings; i++)
    if (strstr (vm->warnings[i], needle))
      return true;
  return false;
}

static const struct ferry_vm_disk *
find_disk (const struct ferry_vm *vm, enum ferry_bus bus, unsigned c,
           unsigned u)
{
  for (size_t i = 0; i < vm->n_disks; i++)
    if (vm->disks[i].bus == bus && vm->disks[i].controller == c
        && vm->disks[i].unit == u)
      return &vm->disks[i];
  fail_msg ("no disk %d %u:%u", bus, c, u);
  return NULL;
}

/* The source tree: $SRCDIR, else from this file's path. */
static char *
fixture_path (const char *name)
{
  const char *src = getenv ("SRCDIR");
  char *p;

  if (src)
    assert_true (asprintf (&p, "%s/fixtures/vm/%s", src, name) > 0);
  else {
    const char *f = __FILE__, *t = strstr (f, "tests/unit/test_vmx.c");
    assert_non_null (t);
    assert_true (asprintf (&p, "%.*sfixtures/vm/%s", (int) (t - f), f,
                           name) > 0);
  }
  return p;
}

static char *
slurp (const char *path, size_t *len)
{
  FILE *f = fopen (path, "rb");
  char *buf;
  long n;

  if (!f)
    fail_msg ("cannot open %s", path);
  assert_int_equal (fseek (f, 0, SEEK_END), 0);
  n = ftell (f);
  assert_true (n >= 0);
  rewind (f);
  buf = malloc ((size_t) n + 1);
  assert_non_null (buf);
  assert_int_equal (fread (buf, 1, (size_t) n, f), (size_t) n);
  fclose (f);
  *len = (size_t) n;
  return buf;
}

static void
parse_fixture (const char *name, struct ferry_vm *vm)
{
  char *path = fixture_path (name);
  size_t len;
  char *text = slurp (path, &len);

  if (parse_exact (text, len, name, "/vmfs/volumes/ds1/vm", vm) != 0)
    fail_msg ("%s: %s", name, ferry_error_msg ());
  free (text);
  free (path);
}

/* ---- the basics ---------------------------------------------------------- */

static void
test_basic_fields (void **state)
{
  struct ferry_vm vm;
  (void) state;

  parse_ok (".encoding = \"UTF-8\"\r\n"
            "# a comment\r\n"
            "\r\n"
            "   # an indented comment\n"
            "DisplayName = \"web|2201|22 |7C test\"\n"
            "guestOS = \"rhel8-64\"   # trailing comment\n"
            "MEMSIZE = \"4096\"\n"
            "numvcpus = 8\n"
            "cpuid.coresPerSocket = \"4\"\n"
            "uuid.bios = \"56 4D 12 34 56 78 9a bc-DE f0 12 34 56 78 9a bc\"\n"
            "annotation = \"line one|0Aline two|09tab\"\n"
            "firmware = \"EFI\"\n"
            "uefi.secureBoot.enabled = \"TRUE\"\n"
            "vhv.enable = \"true\"\n"
            "vtpm.present = \"TRUE\"\n",
            NULL, &vm);
  assert_string_equal (vm.source, "t.vmx");
  assert_string_equal (vm.source_format, "vmx");
  assert_string_equal (vm.name, "web\"01\" | test");
  assert_string_equal (vm.guest_os, "rhel8-64");
  assert_int_equal (vm.memory_mib, 4096);
  assert_int_equal (vm.vcpus, 8);
  assert_int_equal (vm.cores_per_socket, 4);
  assert_string_equal (vm.uuid, "564d1234-5678-9abc-def0-123456789abc");
  assert_string_equal (vm.annotation, "line one\nline two\ttab");
  assert_int_equal (vm.firmware, FERRY_FW_EFI);
  assert_true (vm.secure_boot);
  assert_true (vm.nested_hv);
  assert_true (vm.vtpm);
  assert_true (has_warning (&vm, "virtual TPM"));
  assert_int_equal (vm.n_disks, 0);
  assert_int_equal (vm.n_nics, 0);
  ferry_vm_free (&vm);
  ferry_vm_free (&vm); /* freeing twice is harmless: the struct is zeroed */
}

static void
test_defaults (void **state)
{
  struct ferry_vm vm;
  (void) state;

  /* No displayName: the file name; no memsize: warned; one vCPU; BIOS. */
  assert_int_equal (parse_exact ("guestOS = \"other\"\n", 18 /* strlen */,
                                 "/x/y/my-vm.vmx", NULL, &vm), 0);
  assert_string_equal (vm.name, "my-vm");
  assert_true (has_warning (&vm, "displayName is not set"));
  assert_true (has_warning (&vm, "memsize is not set"));
  assert_int_equal (vm.vcpus, 1);
  assert_int_equal (vm.cores_per_socket, 0);
  assert_int_equal (vm.firmware, FERRY_FW_BIOS);
  assert_null (vm.uuid);
  ferry_vm_free (&vm);
}

static void
test_encoding (void **state)
{
  struct ferry_vm vm;
  (void) state;

  /* windows-1252 0xE9 is U+00E9; also as an escape (|E9). */
  parse_ok (".encoding = \"windows-1252\"\n"
            "displayName = \"caf\xe9 |E9\"\n", NULL, &vm);
  assert_string_equal (vm.name, "caf\xc3\xa9 \xc3\xa9");
  ferry_vm_free (&vm);

  expect_fail ("displayName = \"caf\xe9\"\n", 1, "not valid UTF-8");
  expect_fail (".encoding = \"no-such-charset\"\ndisplayName = \"x\"\n", 1,
               "not a character set");
}

/* ---- devices --------------------------------------------------------------- */

static const char devices_vmx[] =
  "displayName = \"dev\"\n"
  "memsize = \"1024\"\n"
  "scsi0.present = \"TRUE\"\n"
  "scsi0.virtualDev = \"PVSCSI\"\n"
  "scsi0:0.present = \"TRUE\"\n"
  "scsi0:0.fileName = \"dev.vmdk\"\n"
  "scsi0:1.present = \"TRUE\"\n"
  "scsi0:1.fileName = \"/vmfs/volumes/ds2/dev/dev_1-000002.vmdk\"\n"
  "scsi0:1.mode = \"independent-nonpersistent\"\n"
  "scsi0:2.present = \"FALSE\"\n"
  "scsi0:2.fileName = \"old.vmdk\"\n"
  "scsi0:3.deviceType = \"scsi-hardDisk\"\n" /* stray key: no device */
  "scsi1.present = \"TRUE\"\n"
  "scsi1.virtualDev = \"lsilogic\"\n"
  "scsi1.sharedBus = \"physical\"\n"
  "scsi1:0.present = \"TRUE\"\n"
  "scsi1:0.fileName = \"rdm.vmdk\"\n"
  "scsi1:0.deviceType = \"rawDisk\"\n"
  "scsi1:1.present = \"TRUE\"\n"
  "scsi1:1.fileName = \"shared.vmdk\"\n"
  "scsi1:1.sharing = \"multi-writer\"\n"
  "sata0.present = \"TRUE\"\n"
  "sata0:0.present = \"TRUE\"\n"
  "sata0:0.deviceType = \"cdrom-image\"\n"
  "sata0:0.fileName = \"install.iso\"\n"
  "ide1:0.present = \"TRUE\"\n"
  "ide1:0.deviceType = \"atapi-cdrom\"\n"
  "ide1:0.fileName = \"auto detect\"\n"
  "nvme0.present = \"FALSE\"\n"
  "nvme0:0.present = \"TRUE\"\n"
  "nvme0:0.fileName = \"fast.vmdk\"\n"
  "ethernet0.present = \"TRUE\"\n"
  "ethernet0.virtualDev = \"VMXNET3\"\n"
  "ethernet0.addressType = \"static\"\n"
  "ethernet0.address = \"00:50:56:AA:BB:CC\"\n"
  "ethernet0.networkName = \"Prod |22A|22\"\n"
  "ethernet1.present = \"TRUE\"\n"
  "ethernet1.virtualDev = \"e1000e\"\n"
  "ethernet1.addressType = \"generated\"\n"
  "ethernet1.generatedAddress = \"00:0c:29:01:02:03\"\n"
  "ethernet1.startConnected = \"FALSE\"\n"
  "ethernet2.present = \"FALSE\"\n"
  "ethernet2.virtualDev = \"e1000\"\n"
  "ethernet3.present = \"TRUE\"\n"
  "ethernet3.addressType = \"vpx\"\n"
  "ethernet4.pciSlotNumber = \"33\"\n" /* no present key: not a NIC */
  "serial0.present = \"TRUE\"\n"
  "serial0.fileType = \"pipe\"\n"
  "serial0.fileName = \"/tmp/com1\"\n"
  "serial1.present = \"FALSE\"\n"
  "sata0:5.present = \"FALSE\"\n" /* absent, no file: no device */
  "floppy0.present = \"TRUE\"\n"
  "floppy0.fileName = \"boot.flp\"\n"
  "usb.present = \"TRUE\"\n"
  "ehci.present = \"FALSE\"\n"
  "usb_xhci.present = \"TRUE\"\n";

static void
test_devices (void **state)
{
  struct ferry_vm vm;
  const struct ferry_vm_disk *d;
  (void) state;

  parse_ok (devices_vmx, "/vm/dir/", &vm);

  /* Controllers, sorted by bus and index; IDE implied by its device. */
  assert_int_equal (vm.n_controllers, 5);
  assert_int_equal (vm.controllers[0].bus, FERRY_BUS_SCSI);
  assert_int_equal (vm.controllers[0].index, 0);
  assert_string_equal (vm.controllers[0].model, "pvscsi");
  assert_true (vm.controllers[0].present);
  assert_false (vm.controllers[0].shared_bus);
  assert_string_equal (vm.controllers[1].model, "lsilogic");
  assert_true (vm.controllers[1].shared_bus);
  assert_int_equal (vm.controllers[2].bus, FERRY_BUS_SATA);
  assert_string_equal (vm.controllers[2].model, "ahci");
  assert_int_equal (vm.controllers[3].bus, FERRY_BUS_IDE);
  assert_int_equal (vm.controllers[3].index, 1);
  assert_true (vm.controllers[3].present);
  assert_int_equal (vm.controllers[4].bus, FERRY_BUS_NVME);
  assert_false (vm.controllers[4].present);

  /* Disks: 8 devices (the stray deviceType key makes none). */
  assert_int_equal (vm.n_disks, 8);
  d = find_disk (&vm, FERRY_BUS_SCSI, 0, 0);
  assert_int_equal (d->kind, FERRY_DISK_DISK);
  assert_string_equal (d->file, "dev.vmdk");
  assert_string_equal (d->path, "/vm/dir/dev.vmdk");
  assert_true (d->present);
  assert_false (d->independent);
  assert_null (d->mode);
  d = find_disk (&vm, FERRY_BUS_SCSI, 0, 1);
  assert_string_equal (d->path, "/vmfs/volumes/ds2/dev/dev_1-000002.vmdk");
  assert_true (d->independent);
  assert_string_equal (d->mode, "independent-nonpersistent");
  d = find_disk (&vm, FERRY_BUS_SCSI, 0, 2);
  assert_false (d->present);
  d = find_disk (&vm, FERRY_BUS_SCSI, 1, 0);
  assert_true (d->rdm);
  assert_string_equal (d->device_type, "rawDisk");
  d = find_disk (&vm, FERRY_BUS_SCSI, 1, 1);
  assert_true (d->shared);
  d = find_disk (&vm, FERRY_BUS_SATA, 0, 0);
  assert_int_equal (d->kind, FERRY_DISK_CDROM);
  assert_string_equal (d->path, "/vm/dir/install.iso");
  d = find_disk (&vm, FERRY_BUS_IDE, 1, 0);
  assert_int_equal (d->kind, FERRY_DISK_CDROM);
  assert_string_equal (d->file, "auto detect");
  assert_null (d->path); /* a host device, not a file */
  d = find_disk (&vm, FERRY_BUS_NVME, 0, 0);
  assert_string_equal (d->file, "fast.vmdk");

  /* NICs: ethernet0-3 (ethernet4 has no present key). */
  assert_int_equal (vm.n_nics, 4);
  assert_string_equal (vm.nics[0].model, "vmxnet3");
  assert_string_equal (vm.nics[0].mac, "00:50:56:aa:bb:cc");
  assert_true (vm.nics[0].mac_static);
  assert_string_equal (vm.nics[0].network, "Prod \"A\"");
  assert_true (vm.nics[0].present);
  assert_true (vm.nics[0].start_connected);
  assert_string_equal (vm.nics[1].mac, "00:0c:29:01:02:03");
  assert_false (vm.nics[1].mac_static);
  assert_false (vm.nics[1].start_connected);
  assert_false (vm.nics[2].present);
  assert_null (vm.nics[3].mac);
  assert_null (vm.nics[3].model);

  assert_int_equal (vm.n_serials, 1);
  assert_string_equal (vm.serials[0].type, "pipe");
  assert_string_equal (vm.serials[0].target, "/tmp/com1");
  assert_int_equal (vm.usb_devices, 2);
  assert_true (vm.has_snapshots);

  /* Warnings for what migrates badly. */
  assert_true (has_warning (&vm, "scsi0:1 (/vmfs/volumes/ds2/dev/dev_1-000002.vmdk) is independent-nonpersistent"));
  assert_true (has_warning (&vm, "snapshot delta"));
  assert_true (has_warning (&vm, "scsi1:0 (rdm.vmdk) is a raw device mapping"));
  assert_true (has_warning (&vm, "scsi1:1 (shared.vmdk) is shared"));
  assert_true (has_warning (&vm, "scsi1: bus sharing \"physical\""));
  assert_true (has_warning (&vm, "nvme0:0 (fast.vmdk) is on controller nvme0, which is not present"));
  assert_true (has_warning (&vm, "ethernet3 has no generatedAddress"));
  assert_true (has_warning (&vm, "serial0 (pipe /tmp/com1)"));
  assert_true (has_warning (&vm, "2 USB controllers"));
  assert_false (has_warning (&vm, "old.vmdk"));
  assert_true (has_warning (&vm, "floppy0 is not migrated"));
  ferry_vm_free (&vm);

  /* Without a directory, relative paths stay unresolved. */
  parse_ok (devices_vmx, NULL, &vm);
  assert_null (find_disk (&vm, FERRY_BUS_SCSI, 0, 0)->path);
  assert_string_equal (find_disk (&vm, FERRY_BUS_SCSI, 0, 1)->path,
                       "/vmfs/volumes/ds2/dev/dev_1-000002.vmdk");
  ferry_vm_free (&vm);
}

/* ---- errors ----------------------------------------------------------- */

static void
test_errors_syntax (void **state)
{
  (void) state;
  expect_fail ("displayName = \"x\"\nmemsize = \"1024\n", 2,
               "unterminated quoted value");
  expect_fail ("displayName = \"x\"\n\nmemsize \"1024\"\n", 3, "no '='");
  expect_fail ("= \"x\"\n", 1, "empty key");
  expect_fail ("display name = \"x\"\n", 1, "bad character in key");
  expect_fail ("a = \"x\" junk\n", 1, "unexpected text after the closing");
  expect_fail ("a = x\"y\n", 1, "stray '\"'");
  expect_fail ("a = \"b\"\nannotation = \"a|2\"\n", 2, "bad escape");
  expect_fail ("annotation = \"a|ZZb\"\n", 1, "two hex digits");
  expect_fail ("annotation = \"a|\"\n", 1, "bad escape");
  expect_fail ("annotation = \"a|00b\"\n", 1, "NUL");
  static const char nul[] = "a = \"b\"\nc = \"d\0e\"\n";
  expect_fail_len (nul, sizeof nul - 1, 2, "NUL byte");
  expect_fail ("", 0, "not a .vmx file");
  expect_fail ("# only a comment\n\n", 0, "not a .vmx file");
}

static void
test_errors_duplicate (void **state)
{
  (void) state;
  /* Keys are case insensitive: MEMSIZE repeats memSize. */
  expect_fail ("memSize = \"1024\"\ndisplayName = \"x\"\nMEMSIZE = \"2048\"\n",
               3, "duplicate key MEMSIZE (already set on line 1)");
}

static void
test_errors_values (void **state)
{
  (void) state;
  expect_fail ("memsize = \"lots\"\n", 1, "key memsize: expected a decimal number");
  expect_fail ("memsize = \"-1\"\n", 1, "expected a decimal number");
  expect_fail ("memsize = \"12abc\"\n", 1, "expected a decimal number");
  expect_fail ("memsize = \"\"\n", 1, "expected a decimal number");
  expect_fail ("memsize = \"16777217\"\n", 1, "too large (maximum 16777216 MiB = 16 TiB)");
  expect_fail ("memsize = \"0\"\n", 1, "must not be 0");
  expect_fail ("memsize = \"99999999999999999999999\"\n", 1, "too large");
  expect_fail ("numvcpus = \"4097\"\n", 1, "too large (maximum 4096 vCPUs)");
  expect_fail ("numvcpus = \"0\"\n", 1, "must not be 0");
  expect_fail ("numvcpus = \"6\"\ncpuid.coresPerSocket = \"4\"\n", 2,
               "4 cores per socket do not divide numvcpus 6");
  expect_fail ("cpuid.coresPerSocket = \"0\"\n", 1, "do not divide");
  expect_fail ("firmware = \"uefi\"\n", 1, "expected bios or efi");
  expect_fail ("vhv.enable = \"maybe\"\n", 1, "expected TRUE or FALSE");
  expect_fail ("uuid.bios = \"56 4d 12\"\n", 1, "is not a UUID");
  expect_fail ("uuid.bios = \"56 4d 12 34 56 78 9a bc-de f0 12 34 56 78 9a bx\"\n",
               1, "is not a UUID");
  expect_fail ("ethernet0.present = \"TRUE\"\nethernet0.address = \"00:50:56:zz:00:01\"\n"
               "ethernet0.addressType = \"static\"\n", 2, "not a MAC address");
  expect_fail ("ethernet0.present = \"TRUE\"\nethernet0.addressType = \"random\"\n",
               2, "expected static, generated or vpx");
}

static void
test_errors_devices (void **state)
{
  (void) state;
  expect_fail ("scsi0.present = \"TRUE\"\nscsi0:1.present = \"TRUE\"\n", 2,
               "disk scsi0:1 is present but has no fileName");
  expect_fail ("scsi0.present = \"TRUE\"\nscsi0:1.present = \"TRUE\"\n"
               "scsi0:1.fileName = \"\"\n", 3, "has no fileName");
  expect_fail ("scsi9.present = \"TRUE\"\n", 1,
               "SCSI controller 9 is out of range (0-3)");
  expect_fail ("sata0:30.fileName = \"x.vmdk\"\n", 1,
               "SATA unit 30 is out of range (0-29)");
  expect_fail ("ide2:0.present = \"TRUE\"\n", 1, "IDE controller 2");
  expect_fail ("ethernet10.present = \"TRUE\"\n", 1,
               "network adapter 10 is out of range");
  expect_fail ("scsi0:0.present = \"yes please\"\nscsi0:0.fileName = \"a\"\n",
               1, "expected TRUE or FALSE");
}

/* ---- fixtures ------------------------------------------------------------- */

static void
test_fixture_esxi67 (void **state)
{
  struct ferry_vm vm;
  (void) state;

  parse_fixture ("esxi67-bios.vmx", &vm);
  assert_string_equal (vm.name, "web01");
  assert_string_equal (vm.uuid, "564d1234-5678-9abc-def0-123456789abc");
  assert_int_equal (vm.firmware, FERRY_FW_BIOS);
  assert_int_equal (vm.memory_mib, 8192);
  assert_int_equal (vm.vcpus, 4);
  assert_int_equal (vm.cores_per_socket, 2);
  assert_string_equal (vm.annotation, "Web front end\nOwner: ops | team \"blue\"");
  assert_int_equal (vm.n_controllers, 2);
  assert_string_equal (vm.controllers[0].model, "lsilogic");
  assert_int_equal (vm.n_disks, 3);
  assert_string_equal (vm.disks[0].path, "/vmfs/volumes/ds1/vm/web01.vmdk");
  assert_int_equal (vm.n_nics, 1);
  assert_string_equal (vm.nics[0].model, "e1000");
  assert_string_equal (vm.nics[0].mac, "00:0c:29:3a:5b:7c");
  assert_false (vm.nics[0].mac_static);
  assert_int_equal (vm.usb_devices, 2);
  ferry_vm_free (&vm);
}

static void
test_fixture_esxi7 (void **state)
{
  struct ferry_vm vm;
  size_t disks = 0, present = 0, cdroms = 0;
  (void) state;

  parse_fixture ("esxi7-efi-secureboot.vmx", &vm);
  assert_int_equal (vm.firmware, FERRY_FW_EFI);
  assert_true (vm.secure_boot);
  assert_true (vm.vtpm);
  assert_true (vm.has_snapshots);
  assert_int_equal (vm.n_controllers, 3);
  for (size_t i = 0; i < vm.n_disks; i++) {
    if (vm.disks[i].kind == FERRY_DISK_DISK) {
      disks++;
      present += vm.disks[i].present;
    }
    else
      cdroms++;
  }
  assert_int_equal (disks, 12);
  assert_int_equal (present, 11);
  assert_int_equal (cdroms, 1);
  assert_int_equal (vm.n_nics, 3);
  assert_true (vm.nics[0].mac_static);
  assert_string_equal (vm.nics[1].mac, "00:50:56:9a:12:34");
  assert_string_equal (vm.nics[2].model, "e1000e");
  assert_int_equal (vm.n_serials, 1);
  assert_true (has_warning (&vm, "independent-persistent"));
  ferry_vm_free (&vm);
}

static void
test_fixture_esxi8 (void **state)
{
  struct ferry_vm vm;
  (void) state;

  parse_fixture ("esxi8-windows.vmx", &vm);
  assert_int_equal (vm.firmware, FERRY_FW_EFI);
  assert_false (vm.secure_boot);
  assert_true (vm.nested_hv);
  assert_string_equal (vm.controllers[0].model, "lsisas1068");
  assert_string_equal (vm.guest_os, "windows2019srvNext-64");
  ferry_vm_free (&vm);
}

static void
test_fixture_malformed (void **state)
{
  static const struct { const char *file; unsigned line; const char *why; }
  bad[] = {
    { "unterminated-quote.vmx", 3, "unterminated quoted value" },
    { "duplicate-key.vmx", 8, "duplicate key MEMSIZE (already set on line 3)" },
    { "bad-memsize.vmx", 3, "expected a decimal number" },
    { "huge-vcpus.vmx", 4, "too large" },
    { "no-equals.vmx", 3, "no '='" },
  };
  (void) state;

  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *path = fixture_path (bad[i].file), needle[64];
    size_t len;
    char *text = slurp (path, &len);
    struct ferry_vm vm;
    assert_int_equal (parse_exact (text, len, bad[i].file, NULL, &vm), -1);
    snprintf (needle, sizeof needle, "%s: line %u: ", bad[i].file, bad[i].line);
    if (!strstr (ferry_error_msg (), needle)
        || !strstr (ferry_error_msg (), bad[i].why))
      fail_msg ("%s: unexpected message: %s", bad[i].file, ferry_error_msg ());
    free (text);
    free (path);
  }
}

/* Every prefix of a good file either parses or fails cleanly. */
static void
test_truncations (void **state)
{
  size_t n = strlen (devices_vmx);
  (void) state;

  for (size_t len = 0; len <= n; len += 7) {
    struct ferry_vm vm;
    if (parse_exact (devices_vmx, len, "t.vmx", "/d", &vm) == 0)
      ferry_vm_free (&vm);
    else
      assert_non_null (strstr (ferry_error_msg (), "t.vmx"));
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_basic_fields),
    cmocka_unit_test (test_defaults),
    cmocka_unit_test (test_encoding),
    cmocka_unit_test (test_devices),
    cmocka_unit_test (test_errors_syntax),
    cmocka_unit_test (test_errors_duplicate),
    cmocka_unit_test (test_errors_values),
    cmocka_unit_test (test_errors_devices),
    cmocka_unit_test (test_fixture_esxi67),
    cmocka_unit_test (test_fixture_esxi7),
    cmocka_unit_test (test_fixture_esxi8),
    cmocka_unit_test (test_fixture_malformed),
    cmocka_unit_test (test_truncations),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
