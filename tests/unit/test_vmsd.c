/* Unit tests for the .vmsd reader (importer/vmsd.c), loading a .vmx with
 * its .vmsd (importer/vm.c), and choosing a system of an OVF
 * VirtualSystemCollection (importer/ovf.c).
 *
 * Parses run on heap buffers of exactly the text's length so ASan sees a
 * read past len.  Failures must name the file and the reason and leave
 * the model as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "importer/vm.h"

static int
vmsd (const char *text, struct ferry_vm *vm)
{
  size_t len = strlen (text);
  char *copy = malloc (len ? len : 1);
  int r;

  assert_non_null (copy);
  memcpy (copy, text, len);
  ferry_error_clear ();
  r = ferry_vmsd_parse (copy, len, "t.vmsd", vm);
  free (copy);
  return r;
}

static void
expect_bad (const char *text, const char *reason)
{
  struct ferry_vm vm = { 0 };
  const char *msg;

  assert_int_equal (vmsd (text, &vm), -1);
  msg = ferry_error_msg ();
  assert_int_equal (ferry_error_code (), FERRY_E_INPUT);
  if (strncmp (msg, "t.vmsd: ", 8) != 0)
    fail_msg ("message does not start with the file name: %s", msg);
  if (!strstr (msg, reason))
    fail_msg ("message lacks \"%s\": %s", reason, msg);
  assert_int_equal (vm.n_snapshots, 0);
  assert_null (vm.snapshots);
  assert_false (vm.has_snapshots);
  assert_int_equal (vm.n_warnings, 0);
}

static void
test_empty (void **state)
{
  struct ferry_vm vm = { 0 };

  (void) state;
  /* VMware leaves an empty .vmsd after the last snapshot is deleted. */
  assert_int_equal (vmsd ("", &vm), 0);
  assert_int_equal (vm.n_snapshots, 0);
  assert_false (vm.has_snapshots);
  assert_int_equal (vmsd (".encoding = \"UTF-8\"\nsnapshot.lastUID = \"3\"\n"
                          "snapshot.numSnapshots = \"0\"\n", &vm), 0);
  assert_int_equal (vm.n_snapshots, 0);
  assert_int_equal (vm.n_warnings, 0);
  ferry_vm_free (&vm);
}

static void
test_chain (void **state)
{
  struct ferry_vm vm = { 0 };

  (void) state;
  assert_int_equal (vmsd ("snapshot.lastUID = \"7\"\n"
                          "snapshot.current = \"7\"\n"
                          "snapshot.numSnapshots = \"3\"\n"
                          "snapshot0.uid = \"1\"\n"
                          "snapshot0.displayName = \"base\"\n"
                          "snapshot0.filename = \"vm-Snapshot1.vmsn\"\n"
                          "snapshot0.numDisks = \"2\"\n"
                          "snapshot1.uid = \"5\"\n"
                          "snapshot1.parent = \"1\"\n"
                          "snapshot1.displayName = \"a |7C b\"\n"
                          "snapshot1.description = \"line1|0Aline2\"\n"
                          "snapshot2.uid = \"7\"\n"
                          "snapshot2.parent = \"1\"\n"
                          "SNAPSHOT2.DisplayName = \"branch\"\n", &vm), 0);
  assert_int_equal (vm.n_snapshots, 3);
  assert_true (vm.has_snapshots);
  assert_int_equal (vm.snapshots[0].uid, 1);
  assert_int_equal (vm.snapshots[0].parent, 0);
  assert_string_equal (vm.snapshots[0].name, "base");
  assert_string_equal (vm.snapshots[0].file, "vm-Snapshot1.vmsn");
  assert_int_equal (vm.snapshots[0].n_disks, 2);
  assert_null (vm.snapshots[0].description);
  assert_false (vm.snapshots[0].current);
  assert_string_equal (vm.snapshots[1].name, "a | b");
  assert_string_equal (vm.snapshots[1].description, "line1\nline2");
  assert_int_equal (vm.snapshots[1].parent, 1);
  assert_true (vm.snapshots[2].current);
  assert_string_equal (vm.snapshots[2].name, "branch");
  /* One warning saying what is converted. */
  assert_int_equal (vm.n_warnings, 1);
  assert_non_null (strstr (vm.warnings[0], "3 snapshots"));
  assert_non_null (strstr (vm.warnings[0], "current: \"branch\""));
  ferry_vm_free (&vm);
}

static void
test_bad (void **state)
{
  (void) state;
  expect_bad ("snapshot0.displayName = \"x\"\n"
              "snapshot.numSnapshots = \"1\"\n", "snapshot0 has no uid");
  expect_bad ("snapshot0.uid = \"x1\"\nsnapshot.numSnapshots = \"1\"\n",
              "line 1: key snapshot0.uid: expected a number");
  expect_bad ("snapshot0.uid = \"0\"\nsnapshot.numSnapshots = \"1\"\n",
              "a snapshot uid is not 0");
  expect_bad ("snapshot0.uid = \"99999999999\"\n", "is larger than");
  expect_bad ("snapshot0.uid = \"1\"\nsnapshot1.uid = \"1\"\n"
              "snapshot.numSnapshots = \"2\"\n", "two snapshots have uid 1");
  expect_bad ("snapshot0.uid = \"1\"\nsnapshot0.parent = \"4\"\n"
              "snapshot.numSnapshots = \"1\"\n", "names parent uid 4");
  expect_bad ("snapshot0.uid = \"1\"\nsnapshot0.parent = \"1\"\n"
              "snapshot.numSnapshots = \"1\"\n", "its own parent");
  expect_bad ("snapshot0.uid = \"1\"\nsnapshot.current = \"2\"\n"
              "snapshot.numSnapshots = \"1\"\n", "names no snapshot");
  expect_bad ("snapshot0.uid = \"1\"\nsnapshot.numSnapshots = \"3\"\n",
              "numSnapshots is 3 but the file lists 1");
  expect_bad ("snapshot0.uid = \"1\"\nsnapshot0.uid = \"2\"\n",
              "duplicate key");
  expect_bad ("snapshot0.uid = \"1\n", "line 1");
}

static void
test_huge_index (void **state)
{
  struct ferry_vm vm = { 0 };

  (void) state;
  /* An index beyond any real .vmsd is not a snapshot group (and must not
   * size an allocation). */
  assert_int_equal (vmsd ("snapshot4000000000.uid = \"1\"\n", &vm), 0);
  assert_int_equal (vm.n_snapshots, 0);
  ferry_vm_free (&vm);
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
    const char *f = __FILE__, *t = strstr (f, "tests/unit/test_vmsd.c");
    assert_non_null (t);
    assert_true (asprintf (&p, "%.*sfixtures/vm/%s", (int) (t - f), f,
                           name) > 0);
  }
  return p;
}

static void
test_load_fixture (void **state)
{
  struct ferry_vm vm;
  char *p = fixture_path ("esxi7-snapshots.vmx");

  (void) state;
  ferry_error_clear ();
  if (ferry_vm_load (p, NULL, NULL, &vm) != 0)
    fail_msg ("load failed: %s", ferry_error_msg ());
  assert_string_equal (vm.name, "db02");
  assert_int_equal (vm.n_snapshots, 2);
  assert_non_null (vm.snapshot_file);
  assert_non_null (strstr (vm.snapshot_file, "esxi7-snapshots.vmsd"));
  assert_string_equal (vm.snapshots[1].name, "after upgrade \"ok\"");
  assert_true (vm.snapshots[1].current);
  assert_false (vm.snapshots[0].current);
  /* The disk is the one the .vmx names (the current delta). */
  assert_int_equal (vm.n_disks, 1);
  assert_non_null (strstr (vm.disks[0].path, "/db02-000002.vmdk"));
  ferry_vm_free (&vm);
  free (p);

  /* No .vmsd next to it: no snapshots, no warning about the file. */
  p = fixture_path ("esxi67-bios.vmx");
  assert_int_equal (ferry_vm_load (p, NULL, NULL, &vm), 0);
  assert_int_equal (vm.n_snapshots, 0);
  assert_null (vm.snapshot_file);
  for (size_t i = 0; i < vm.n_warnings; i++)
    assert_null (strstr (vm.warnings[i], "snapshot list"));
  ferry_vm_free (&vm);
  free (p);
}

static void
test_bad_vmsd_is_a_warning (void **state)
{
  char dir[] = "/tmp/ferry-vmsd-XXXXXX", *vmx, *vmsdp;
  struct ferry_vm vm;
  FILE *f;

  (void) state;
  assert_non_null (mkdtemp (dir));
  assert_true (asprintf (&vmx, "%s/v.vmx", dir) > 0);
  assert_true (asprintf (&vmsdp, "%s/v.vmsd", dir) > 0);
  assert_non_null (f = fopen (vmx, "w"));
  fputs ("displayName = \"v\"\nmemsize = \"512\"\n", f);
  fclose (f);
  assert_non_null (f = fopen (vmsdp, "w"));
  fputs ("snapshot0.uid = \"1\"\nsnapshot.numSnapshots = \"5\"\n", f);
  fclose (f);
  assert_int_equal (ferry_vm_load (vmx, NULL, NULL, &vm), 0);
  assert_int_equal (vm.n_snapshots, 0);
  {
    bool found = false;
    for (size_t i = 0; i < vm.n_warnings; i++)
      if (strstr (vm.warnings[i], "snapshot list is not valid")
          && strstr (vm.warnings[i], "numSnapshots is 5"))
        found = true;
    assert_true (found);
  }
  ferry_vm_free (&vm);
  unlink (vmx);
  unlink (vmsdp);
  rmdir (dir);
  free (vmx);
  free (vmsdp);
}

static void
test_vapp (void **state)
{
  struct ferry_vm vm;
  char *p = fixture_path ("vapp-collection.ovf");
  const char *msg;

  (void) state;
  ferry_error_clear ();
  assert_int_equal (ferry_vm_load (p, NULL, NULL, &vm), -1);
  msg = ferry_error_msg ();
  if (!strstr (msg, "shop-web, shop-db") || !strstr (msg, "--vm NAME"))
    fail_msg ("the error does not list the systems: %s", msg);
  assert_null (vm.name);

  assert_int_equal (ferry_vm_load (p, NULL, "no-such", &vm), -1);
  assert_non_null (strstr (ferry_error_msg (), "no VirtualSystem named "
                                               "\"no-such\""));

  if (ferry_vm_load (p, NULL, "shop-db", &vm) != 0)
    fail_msg ("load failed: %s", ferry_error_msg ());
  assert_string_equal (vm.name, "shop-db");
  assert_int_equal (vm.vcpus, 4);
  assert_int_equal (vm.memory_mib, 4096);
  assert_int_equal (vm.n_disks, 1);
  assert_string_equal (vm.disks[0].file, "shop-db-disk1.vmdk");
  assert_int_equal (vm.disks[0].capacity, 32u << 20);
  assert_int_equal (vm.n_nics, 1);
  assert_string_equal (vm.nics[0].mac, "00:50:56:8a:00:02");
  ferry_vm_free (&vm);

  if (ferry_vm_load (p, NULL, "shop-web", &vm) != 0)
    fail_msg ("load failed: %s", ferry_error_msg ());
  assert_string_equal (vm.disks[0].file, "shop-web-disk1.vmdk");
  ferry_vm_free (&vm);

  /* --vm on a plain OVF must name its one system. */
  free (p);
  p = fixture_path ("vmware-export.ovf");
  assert_int_equal (ferry_vm_load (p, NULL, "app01", &vm), 0);
  ferry_vm_free (&vm);
  assert_int_equal (ferry_vm_load (p, NULL, "other", &vm), -1);
  assert_non_null (strstr (ferry_error_msg (), "named \"app01\""));
  free (p);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_empty),
    cmocka_unit_test (test_chain),
    cmocka_unit_test (test_bad),
    cmocka_unit_test (test_huge_index),
    cmocka_unit_test (test_load_fixture),
    cmocka_unit_test (test_bad_vmsd_is_a_warning),
    cmocka_unit_test (test_vapp),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
