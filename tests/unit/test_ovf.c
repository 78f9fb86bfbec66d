/* Unit tests for the OVF reader (importer/ovf.c).
 *
 * Fields from VMware- and VirtualBox-style descriptors, allocation units,
 * namespace handling (prefixes are arbitrary, only URIs count), refused
 * hrefs, errors naming the file, line and element, and the XML attacks:
 * entity expansion ("billion laughs") and external entities must be
 * refused before anything is expanded or read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/error.h"
#include "importer/vm.h"

/* ---- helpers ---------------------------------------------------------- */

#define NS_DECL                                                              \
  "xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\" "                         \
  "xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\" "                     \
  "xmlns:rasd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"           \
  "CIM_ResourceAllocationSettingData\" "                                      \
  "xmlns:vmw=\"http://www.vmware.com/schema/ovf\""

static int
parse_exact (const char *text, size_t len, const char *dir,
             struct ferry_vm *vm)
{
  char *copy = malloc (len ? len : 1);
  int r;

  assert_non_null (copy);
  memcpy (copy, text, len);
  ferry_error_clear ();
  r = ferry_ovf_parse (copy, len, "t.ovf", dir, vm);
  free (copy);
  return r;
}

static void
parse_ok (const char *text, struct ferry_vm *vm)
{
  if (parse_exact (text, strlen (text), "/pkg", vm) != 0)
    fail_msg ("parse failed: %s", ferry_error_msg ());
}

static void
expect_fail (const char *text, long line, const char *reason)
{
  struct ferry_vm vm;
  char needle[48];
  const char *msg;

  memset (&vm, 0x5a, sizeof vm);
  assert_int_equal (parse_exact (text, strlen (text), "/pkg", &vm), -1);
  msg = ferry_error_msg ();
  assert_int_equal (ferry_error_code (), FERRY_E_INPUT);
  if (strncmp (msg, "t.ovf: ", 7) != 0)
    fail_msg ("message does not start with the file name: %s", msg);
  if (line) {
    snprintf (needle, sizeof needle, "t.ovf: line %ld: ", line);
    if (!strstr (msg, needle))
      fail_msg ("message does not name line %ld: %s", line, msg);
  }
  if (!strstr (msg, reason))
    fail_msg ("message lacks \"%s\": %s", reason, msg);
  assert_null (vm.name);
  assert_null (vm.disks);
  assert_null (vm.warnings);
}

/* A descriptor: References + DiskSection from refs/disks, the items in the
 * VirtualHardwareSection.  Line 1 is the Envelope; the first item starts
 * on line 4 + lines(refs) + lines(disks). */
static char *
ovf (const char *refs, const char *disks, const char *items)
{
  char *s;
  assert_true (asprintf (&s,
    "<Envelope " NS_DECL ">\n"
    "<References>%s</References>\n"
    "<DiskSection><Info>d</Info>%s</DiskSection>\n"
    "<VirtualSystem ovf:id=\"vm1\"><Info>x</Info><Name>vm one</Name>\n"
    "<VirtualHardwareSection><Info>h</Info>\n"
    "%s\n"
    "</VirtualHardwareSection></VirtualSystem></Envelope>\n",
    refs, disks, items) > 0);
  return s;
}

#define CPU(n) "<Item><rasd:InstanceID>1</rasd:InstanceID>" \
  "<rasd:ResourceType>3</rasd:ResourceType>" \
  "<rasd:VirtualQuantity>" n "</rasd:VirtualQuantity></Item>\n"
#define MEM(q, u) "<Item><rasd:AllocationUnits>" u "</rasd:AllocationUnits>" \
  "<rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType>" \
  "<rasd:VirtualQuantity>" q "</rasd:VirtualQuantity></Item>\n"
#define SCSI(id, sub) "<Item><rasd:Address>0</rasd:Address>" \
  "<rasd:InstanceID>" id "</rasd:InstanceID>" \
  "<rasd:ResourceSubType>" sub "</rasd:ResourceSubType>" \
  "<rasd:ResourceType>6</rasd:ResourceType></Item>\n"
#define DISK(id, parent, unit, hr) "<Item><rasd:AddressOnParent>" unit \
  "</rasd:AddressOnParent><rasd:ElementName>Hard disk " id "</rasd:ElementName>" \
  "<rasd:HostResource>" hr "</rasd:HostResource>" \
  "<rasd:InstanceID>" id "</rasd:InstanceID><rasd:Parent>" parent "</rasd:Parent>" \
  "<rasd:ResourceType>17</rasd:ResourceType></Item>\n"
#define FILE1 "<File ovf:href=\"d1.vmdk\" ovf:id=\"file1\"/>"
#define VMDISK1(cap, units) "<Disk ovf:capacity=\"" cap "\" " \
  "ovf:capacityAllocationUnits=\"" units "\" ovf:diskId=\"vmdisk1\" " \
  "ovf:fileRef=\"file1\"/>"

static bool
has_warning (const struct ferry_vm *vm, const char *needle)
{
  for (size_t i = 0; i < vm->n_warnings; i++)
    if (strstr (vm->warnings[i], needle))
      return true;
  return false;
}

static char *
fixture_path (const char *name)
{
  const char *src = getenv ("SRCDIR");
  char *p;

  if (src)
    assert_true (asprintf (&p, "%s/fixtures/vm/%s", src, name) > 0);
  else {
    const char *f = __FILE__, *t = strstr (f, "tests/unit/test_ovf.c");
    assert_non_null (t);
    assert_true (asprintf (&p, "%.*sfixtures/vm/%s", (int) (t - f), f,
                           name) > 0);
  }
  return p;
}

static char *
slurp (const char *name, size_t *len)
{
  char *path = fixture_path (name);
  FILE *f = fopen (path, "rb");
  char *buf;
  long n;

  if (!f)
    fail_msg ("cannot open %s", path);
  free (path);
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

/* ---- fixtures ----------------------------------------------------------- */

static void
test_vmware_export (void **state)
{
  struct ferry_vm vm;
  size_t len;
  char *text = slurp ("vmware-export.ovf", &len);
  (void) state;

  if (parse_exact (text, len, "/exports/app01", &vm) != 0)
    fail_msg ("%s", ferry_error_msg ());
  free (text);
  assert_string_equal (vm.source_format, "ovf");
  assert_string_equal (vm.name, "app01");
  assert_string_equal (vm.guest_os, "rhel8_64Guest");
  assert_string_equal (vm.annotation, "Application server <app01>");
  assert_int_equal (vm.vcpus, 2);
  assert_int_equal (vm.cores_per_socket, 2);
  assert_int_equal (vm.memory_mib, 4096);
  assert_int_equal (vm.firmware, FERRY_FW_EFI);
  assert_true (vm.secure_boot);
  assert_true (vm.nested_hv);
  assert_int_equal (vm.usb_devices, 1);
  assert_int_equal (vm.n_controllers, 2);
  assert_int_equal (vm.controllers[0].bus, FERRY_BUS_SCSI);
  assert_string_equal (vm.controllers[0].model, "pvscsi");
  assert_int_equal (vm.controllers[1].bus, FERRY_BUS_SATA);
  assert_string_equal (vm.controllers[1].model, "ahci");
  assert_int_equal (vm.n_disks, 3);
  assert_int_equal (vm.disks[0].kind, FERRY_DISK_DISK);
  assert_int_equal (vm.disks[0].bus, FERRY_BUS_SCSI);
  assert_int_equal (vm.disks[0].unit, 0);
  assert_string_equal (vm.disks[0].id, "vmdisk1");
  assert_string_equal (vm.disks[0].file, "app01-disk1.vmdk");
  assert_string_equal (vm.disks[0].path, "/exports/app01/app01-disk1.vmdk");
  assert_int_equal (vm.disks[0].capacity, UINT64_C (40) << 30);
  assert_int_equal (vm.disks[1].unit, 1);
  assert_int_equal (vm.disks[1].capacity, UINT64_C (100) << 30);
  assert_true (vm.disks[1].independent);
  assert_string_equal (vm.disks[1].mode, "independent-persistent");
  assert_int_equal (vm.disks[2].kind, FERRY_DISK_CDROM);
  assert_int_equal (vm.disks[2].bus, FERRY_BUS_SATA);
  assert_null (vm.disks[2].file);
  assert_int_equal (vm.n_nics, 1);
  assert_string_equal (vm.nics[0].model, "vmxnet3");
  assert_string_equal (vm.nics[0].mac, "00:50:56:8a:1b:2c");
  assert_string_equal (vm.nics[0].network, "VM Network");
  assert_true (has_warning (&vm, "independent-persistent"));
  assert_true (has_warning (&vm, "USB"));
  ferry_vm_free (&vm);
}

static void
test_virtualbox_export (void **state)
{
  struct ferry_vm vm;
  size_t len;
  char *text = slurp ("virtualbox-export.ovf", &len);
  (void) state;

  if (parse_exact (text, len, NULL, &vm) != 0)
    fail_msg ("%s", ferry_error_msg ());
  free (text);
  assert_string_equal (vm.name, "devbox");
  assert_string_equal (vm.guest_os, "Ubuntu_64");
  assert_string_equal (vm.uuid, "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
  assert_int_equal (vm.firmware, FERRY_FW_EFI);
  assert_int_equal (vm.vcpus, 2);
  assert_int_equal (vm.memory_mib, 2048);
  assert_int_equal (vm.n_controllers, 3);
  assert_string_equal (vm.controllers[0].model, "piix4");
  assert_int_equal (vm.controllers[1].index, 1);
  assert_string_equal (vm.controllers[2].model, "ahci");
  assert_int_equal (vm.n_disks, 3);
  assert_int_equal (vm.disks[0].bus, FERRY_BUS_SATA);
  assert_int_equal (vm.disks[0].capacity, UINT64_C (26843545600));
  assert_null (vm.disks[0].path); /* no dir given */
  assert_string_equal (vm.disks[1].file, "devbox-disk002.vmdk");
  assert_int_equal (vm.disks[2].kind, FERRY_DISK_CDROM);
  assert_int_equal (vm.disks[2].bus, FERRY_BUS_IDE);
  assert_int_equal (vm.disks[2].controller, 1);
  assert_int_equal (vm.n_nics, 2);
  assert_string_equal (vm.nics[0].mac, "08:00:27:d1:e2:f3");
  assert_string_equal (vm.nics[0].network, "NAT");
  assert_string_equal (vm.nics[1].model, "vlance");
  assert_string_equal (vm.nics[1].mac, "08:00:27:a4:b5:c6");
  ferry_vm_free (&vm);
}

static void
test_malformed_fixtures (void **state)
{
  static const struct { const char *file; const char *why; } bad[] = {
    { "billion-laughs.ovf", "line 2: document type declaration" },
    { "external-entity.ovf", "line 2: document type declaration" },
    { "bad-units.ovf", "rasd:AllocationUnits \"furlongs * 2^20\" is not a unit" },
    { "missing-disk-ref.ovf", "\"ovf:/disk/vmdisk2\" names no Disk" },
  };
  (void) state;

  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct ferry_vm vm;
    size_t len;
    char *text = slurp (bad[i].file, &len);
    assert_int_equal (parse_exact (text, len, "/pkg", &vm), -1);
    if (!strstr (ferry_error_msg (), bad[i].why))
      fail_msg ("%s: unexpected message: %s", bad[i].file, ferry_error_msg ());
    free (text);
  }
}

/* ---- XML attacks ---------------------------------------------------------- */

static void
test_entity_attacks (void **state)
{
  (void) state;
  clock_t t0 = clock ();

  /* Billion laughs: refused at the DOCTYPE, so it costs nothing. */
  expect_fail ("<?xml version=\"1.0\"?>\n"
               "<!DOCTYPE Envelope [\n"
               "<!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">\n"
               "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
               "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
               "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
               "<!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
               "<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
               "<!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">\n"
               "]>\n"
               "<Envelope " NS_DECL "><VirtualSystem ovf:id=\"&g;\">"
               "<Name>&g;</Name></VirtualSystem></Envelope>\n",
               2, "document type declaration (<!DOCTYPE>) refused");
  /* External entity: never read. */
  expect_fail ("<?xml version=\"1.0\"?>\n"
               "<!DOCTYPE Envelope [ <!ENTITY x SYSTEM \"file:///etc/passwd\"> ]>\n"
               "<Envelope " NS_DECL "><VirtualSystem ovf:id=\"a\">"
               "<Name>&x;</Name></VirtualSystem></Envelope>\n",
               2, "refused");
  /* External DTD, parameter entities, a DOCTYPE with nothing in it. */
  expect_fail ("<!DOCTYPE Envelope SYSTEM \"http://127.0.0.1:9/ovf.dtd\">\n"
               "<Envelope " NS_DECL "/>\n", 1, "refused");
  expect_fail ("<!DOCTYPE Envelope [ <!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p; ]>\n"
               "<Envelope " NS_DECL "/>\n", 1, "refused");
  expect_fail ("<!DOCTYPE Envelope>\n<Envelope " NS_DECL "/>\n", 1,
               "refused");
  /* Without a DTD, an entity reference is just an error. */
  expect_fail ("<Envelope " NS_DECL ">\n<VirtualSystem ovf:id=\"a\">"
               "<Name>&x;</Name></VirtualSystem></Envelope>\n", 2,
               "not well-formed XML");
  /* All of that in well under a second even under ASan. */
  assert_true ((double) (clock () - t0) / CLOCKS_PER_SEC < 2.0);
}

static void
test_predefined_entities (void **state)
{
  struct ferry_vm vm;
  char *s = ovf ("", "", CPU ("1"));
  (void) state;

  /* Predefined and character references are plain XML: fine. */
  char *t = NULL;
  assert_true (asprintf (&t, "%s", s) > 0);
  free (s);
  char *p = strstr (t, "vm one");
  assert_non_null (p);
  memcpy (p, "a&lt;b", 6);
  parse_ok (t, &vm);
  assert_string_equal (vm.name, "a<b");
  ferry_vm_free (&vm);
  free (t);
}

/* ---- units ----------------------------------------------------------------- */

static void
test_memory_units (void **state)
{
  static const struct { const char *q, *u; uint64_t mib; } ok[] = {
    { "4096", "byte * 2^20", 4096 },
    { "4096", "byte*2^20", 4096 },
    { "4096", "MegaBytes", 4096 },
    { "4096", "MB", 4096 },
    { "4", "byte * 2^30", 4096 },
    { "4", "GigaBytes", 4096 },
    { "4194304", "KiloBytes", 4096 },
    { "4294967296", "byte", 4096 },
    { "4096", "byte * 1024 * 1024", 4096 },
    { "1000000", "byte", 1 },           /* rounded up to whole MiB */
    { "3", "byte * 10^9", 2862 },
  };
  static const char *const bad[] = {
    "furlongs", "bit * 2^20", "byte * ", "byte * 0", "byte * 2^99",
    "byte 2^20", "byte * 2^", "MegaBytes extra",
  };
  (void) state;

  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    struct ferry_vm vm;
    char item[512], *s;
    snprintf (item, sizeof item,
              "<Item><rasd:AllocationUnits>%s</rasd:AllocationUnits>"
              "<rasd:InstanceID>2</rasd:InstanceID>"
              "<rasd:ResourceType>4</rasd:ResourceType>"
              "<rasd:VirtualQuantity>%s</rasd:VirtualQuantity></Item>",
              ok[i].u, ok[i].q);
    s = ovf ("", "", item);
    parse_ok (s, &vm);
    if (vm.memory_mib != ok[i].mib)
      fail_msg ("%s %s: %" PRIu64 " MiB, expected %" PRIu64, ok[i].q,
                ok[i].u, vm.memory_mib, ok[i].mib);
    ferry_vm_free (&vm);
    free (s);
  }
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char item[512], *s;
    snprintf (item, sizeof item,
              "<Item><rasd:AllocationUnits>%s</rasd:AllocationUnits>"
              "<rasd:InstanceID>2</rasd:InstanceID>"
              "<rasd:ResourceType>4</rasd:ResourceType>"
              "<rasd:VirtualQuantity>4</rasd:VirtualQuantity></Item>", bad[i]);
    s = ovf ("", "", item);
    expect_fail (s, 6, "is not a unit of bytes");
    free (s);
  }

  char *s = ovf ("", "", MEM ("17", "byte * 2^40"));
  expect_fail (s, 6, "larger than 16 TiB");
  free (s);
  s = ovf ("", "", MEM ("99999999999999", "byte * 2^40"));
  expect_fail (s, 6, "larger than 16 TiB");
  free (s);
  s = ovf ("", "", MEM ("lots", "MegaBytes"));
  expect_fail (s, 6, "is not a number");
  free (s);
}

static void
test_capacity_units (void **state)
{
  struct ferry_vm vm;
  char *s;
  (void) state;

  s = ovf (FILE1, VMDISK1 ("10", "byte * 2^30"),
           SCSI ("3", "lsilogic") DISK ("4", "3", "0", "ovf:/disk/vmdisk1"));
  parse_ok (s, &vm);
  free (s);
  assert_int_equal (vm.disks[0].capacity, UINT64_C (10) << 30);
  assert_string_equal (vm.disks[0].path, "/pkg/d1.vmdk");
  ferry_vm_free (&vm);

  s = ovf (FILE1, VMDISK1 ("20000000000", "byte * 2^30"),
           SCSI ("3", "lsilogic") DISK ("4", "3", "0", "ovf:/disk/vmdisk1"));
  expect_fail (s, 3, "does not fit in 64 bits");
  free (s);
  s = ovf (FILE1, VMDISK1 ("10", "pints"),
           SCSI ("3", "lsilogic") DISK ("4", "3", "0", "ovf:/disk/vmdisk1"));
  expect_fail (s, 3, "ovf:capacityAllocationUnits \"pints\" is not a unit");
  free (s);
  s = ovf (FILE1, VMDISK1 ("${disk.size}", "byte"),
           SCSI ("3", "lsilogic") DISK ("4", "3", "0", "ovf:/disk/vmdisk1"));
  expect_fail (s, 3, "is not a number");
  free (s);
}

/* ---- structure ----------------------------------------------------------- */

static void
test_hrefs (void **state)
{
  static const char *const bad[] = {
    "../d1.vmdk", "a/../../d1.vmdk", "/etc/d1.vmdk", "http://h/d1.vmdk",
    "file:d1.vmdk", "C:\\d1.vmdk", "sub\\..\\..\\x", "",
  };
  (void) state;

  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char refs[256], *s;
    snprintf (refs, sizeof refs, "<File ovf:href=\"%s\" ovf:id=\"file1\"/>",
              bad[i]);
    s = ovf (refs, "", CPU ("1"));
    expect_fail (s, 2, "refused");
    free (s);
  }
  /* A subdirectory is fine. */
  struct ferry_vm vm;
  char *s = ovf ("<File ovf:href=\"disks/d1.vmdk\" ovf:id=\"file1\"/>",
                 VMDISK1 ("1", "byte * 2^30"),
                 SCSI ("3", "pvscsi") DISK ("4", "3", "0", "ovf:/disk/vmdisk1"));
  parse_ok (s, &vm);
  free (s);
  assert_string_equal (vm.disks[0].path, "/pkg/disks/d1.vmdk");
  assert_string_equal (vm.controllers[0].model, "pvscsi");
  ferry_vm_free (&vm);
}

static void
test_structure_errors (void **state)
{
  char *s;
  (void) state;

  expect_fail ("<Envelope " NS_DECL ">\n<VirtualSystem>\n</Envelope>\n", 3,
               "not well-formed XML");
  expect_fail ("", 0, "empty file");
  expect_fail ("<html xmlns=\"http://www.w3.org/1999/xhtml\"/>", 1,
               "not an OVF Envelope");
  expect_fail ("<Envelope/>", 1, "not an OVF Envelope"); /* no namespace */
  expect_fail ("<Envelope " NS_DECL "/>", 1, "no VirtualSystem");
  expect_fail ("<Envelope " NS_DECL "><VirtualSystemCollection/></Envelope>",
               1, "VirtualSystemCollection");
  expect_fail ("<Envelope " NS_DECL "><VirtualSystem ovf:id=\"a\"/>\n"
               "</Envelope>", 1, "without a VirtualHardwareSection");

  s = ovf ("", "", "<Item><rasd:InstanceID>1</rasd:InstanceID></Item>");
  expect_fail (s, 6, "has no rasd:ResourceType");
  free (s);
  s = ovf ("", "", CPU ("0"));
  expect_fail (s, 6, "is not a CPU count");
  free (s);
  s = ovf ("", "", CPU ("5000"));
  expect_fail (s, 6, "is not a CPU count (1-4096)");
  free (s);
  s = ovf (FILE1, VMDISK1 ("1", "byte"),
           SCSI ("3", "lsilogic") DISK ("4", "9", "0", "ovf:/disk/vmdisk1"));
  expect_fail (s, 7, "rasd:Parent \"9\" is not the InstanceID of a disk controller");
  free (s);
  s = ovf (FILE1, VMDISK1 ("1", "byte"),
           SCSI ("3", "lsilogic") DISK ("4", "3", "99", "ovf:/disk/vmdisk1"));
  expect_fail (s, 7, "rasd:AddressOnParent \"99\"");
  free (s);
  s = ovf (FILE1, VMDISK1 ("1", "byte"),
           SCSI ("3", "lsilogic") DISK ("4", "3", "0", "ovf:/disk/vmdisk7"));
  expect_fail (s, 7, "Item InstanceID 4 (Hard disk 4): rasd:HostResource "
               "\"ovf:/disk/vmdisk7\" names no Disk");
  free (s);
  s = ovf (FILE1, "<Disk ovf:capacity=\"1\" ovf:diskId=\"vmdisk1\" "
           "ovf:fileRef=\"file9\"/>", CPU ("1"));
  expect_fail (s, 3, "ovf:fileRef \"file9\" names no File");
  free (s);
  s = ovf (FILE1 FILE1, "", CPU ("1"));
  expect_fail (s, 2, "defined twice");
  free (s);
  s = ovf ("", "", SCSI ("3", "lsilogic") SCSI ("3", "pvscsi"));
  expect_fail (s, 7, "InstanceID is used twice");
  free (s);
}

/* Prefixes are arbitrary; only namespace URIs count.  OVF 2 works too. */
static void
test_namespaces (void **state)
{
  struct ferry_vm vm;
  (void) state;

  parse_ok ("<o:Envelope xmlns:o=\"http://schemas.dmtf.org/ovf/envelope/2\" "
            "xmlns:r=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
            "CIM_ResourceAllocationSettingData\" xmlns:x=\"urn:other\">"
            "<o:VirtualSystem o:id=\"ns-test\"><o:Info>i</o:Info>"
            "<o:VirtualHardwareSection>"
            "<o:Item><r:InstanceID>1</r:InstanceID><r:ResourceType>3"
            "</r:ResourceType><r:VirtualQuantity>6</r:VirtualQuantity></o:Item>"
            /* an Item in another namespace is not OVF hardware */
            "<x:Item><r:InstanceID>2</r:InstanceID><r:ResourceType>3"
            "</r:ResourceType><r:VirtualQuantity>9</r:VirtualQuantity></x:Item>"
            /* nor is a ResourceType outside the CIM namespaces */
            "<o:Item><x:ResourceType>4</x:ResourceType>"
            "<r:ResourceType>10</r:ResourceType>"
            "<r:InstanceID>3</r:InstanceID></o:Item>"
            "</o:VirtualHardwareSection></o:VirtualSystem></o:Envelope>",
            &vm);
  assert_string_equal (vm.name, "ns-test");
  assert_int_equal (vm.vcpus, 6);
  assert_int_equal (vm.n_nics, 1);
  assert_null (vm.nics[0].mac);
  assert_true (has_warning (&vm, "no MAC address"));
  ferry_vm_free (&vm);
}

static void
test_config_keys (void **state)
{
  struct ferry_vm vm;
  char *s;
  (void) state;

  s = ovf ("", "", CPU ("4")
           "<vmw:Config vmw:key=\"firmware\" vmw:value=\"efi\"/>\n"
           "<vmw:ExtraConfig vmw:key=\"uefi.secureBoot.enabled\" vmw:value=\"TRUE\"/>\n"
           "<vmw:Config vmw:key=\"nestedHVEnabled\" vmw:value=\"true\"/>\n"
           "<vmw:ExtraConfig vmw:key=\"vtpm.present\" vmw:value=\"true\"/>\n"
           "<vmw:ExtraConfig vmw:key=\"uuid.bios\" "
           "vmw:value=\"56 4d 12 34 56 78 9a bc-de f0 12 34 56 78 9a bc\"/>\n");
  parse_ok (s, &vm);
  free (s);
  assert_int_equal (vm.firmware, FERRY_FW_EFI);
  assert_true (vm.secure_boot);
  assert_true (vm.nested_hv);
  assert_true (vm.vtpm);
  assert_string_equal (vm.uuid, "564d1234-5678-9abc-def0-123456789abc");
  assert_true (has_warning (&vm, "no memory item"));
  ferry_vm_free (&vm);

  s = ovf ("", "", CPU ("4")
           "<vmw:Config vmw:key=\"firmware\" vmw:value=\"coreboot\"/>\n");
  expect_fail (s, 7, "expected bios or efi");
  free (s);
  s = ovf ("", "", CPU ("4")
           "<vmw:ExtraConfig vmw:key=\"vhv.enable\" vmw:value=\"sometimes\"/>\n");
  expect_fail (s, 7, "expected true or false");
  free (s);
}

/* Every prefix of a good descriptor either parses or fails cleanly. */
static void
test_truncations (void **state)
{
  size_t len;
  char *text = slurp ("vmware-export.ovf", &len);
  (void) state;

  for (size_t n = 0; n <= len; n += 97) {
    struct ferry_vm vm;
    if (parse_exact (text, n, "/d", &vm) == 0)
      ferry_vm_free (&vm);
    else
      assert_non_null (strstr (ferry_error_msg (), "t.ovf"));
  }
  free (text);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_vmware_export),
    cmocka_unit_test (test_virtualbox_export),
    cmocka_unit_test (test_malformed_fixtures),
    cmocka_unit_test (test_entity_attacks),
    cmocka_unit_test (test_predefined_entities),
    cmocka_unit_test (test_memory_units),
    cmocka_unit_test (test_capacity_units),
    cmocka_unit_test (test_hrefs),
    cmocka_unit_test (test_structure_errors),
    cmocka_unit_test (test_namespaces),
    cmocka_unit_test (test_config_keys),
    cmocka_unit_test (test_truncations),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
