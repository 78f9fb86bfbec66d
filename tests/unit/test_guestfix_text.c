/* Unit tests for the text edits of guestfix (guestfix/text.c): device
 * renames in fstab/grub/device.map text, line removal (HWADDR=), adding
 * module lines once, and shell-style config values.  The appliance-side
 * behaviour is covered by tests/guestfix_*.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guestfix/internal.h"

static void
rename_is (const char *in, const char *want, size_t want_n,
           const char *want_desc)
{
  size_t n;
  char *desc;
  char *out = gf_rename_devices (in, &n, &desc);
  assert_string_equal (out, want);
  assert_int_equal (n, want_n);
  if (want_desc)
    assert_string_equal (desc, want_desc);
  free (out);
  free (desc);
}

static void
test_rename_fstab (void **state)
{
  (void) state;
  rename_is ("/dev/sda1 / ext4 defaults 1 1\n"
             "/dev/sda2 swap swap defaults 0 0\n"
             "/dev/sdb1\t/data xfs defaults 0 0\n"
             "UUID=abcd /boot ext4 defaults 1 2\n"
             "/dev/mapper/vg-root /x ext4 defaults 0 0\n",
             "/dev/vda1 / ext4 defaults 1 1\n"
             "/dev/vda2 swap swap defaults 0 0\n"
             "/dev/vdb1\t/data xfs defaults 0 0\n"
             "UUID=abcd /boot ext4 defaults 1 2\n"
             "/dev/mapper/vg-root /x ext4 defaults 0 0\n",
             3, "/dev/sda1 -> /dev/vda1, /dev/sda2 -> /dev/vda2, "
             "/dev/sdb1 -> /dev/vdb1");
}

static void
test_rename_grub (void **state)
{
  (void) state;
  /* root= and resume=, the same device twice listed once. */
  rename_is ("GRUB_CMDLINE_LINUX=\"root=/dev/sda1 resume=/dev/sda2 "
             "rd.lvm.lv=x root=/dev/sda1\"\n",
             "GRUB_CMDLINE_LINUX=\"root=/dev/vda1 resume=/dev/vda2 "
             "rd.lvm.lv=x root=/dev/vda1\"\n",
             3, "/dev/sda1 -> /dev/vda1, /dev/sda2 -> /dev/vda2");
  /* device.map: a whole disk, IDE too. */
  rename_is ("(hd0) /dev/sda\n(hd1)\t/dev/hdb\n",
             "(hd0) /dev/vda\n(hd1)\t/dev/vdb\n", 2, NULL);
  /* Many disks: two- and three-letter names. */
  rename_is ("/dev/sdaa1 /dev/sdabc\n", "/dev/vdaa1 /dev/vdabc\n", 2, NULL);
  /* The last thing in the text. */
  rename_is ("resume=/dev/hda5", "resume=/dev/vda5", 1, NULL);
}

static void
test_rename_leaves_others (void **state)
{
  (void) state;
  static const char *const same[] = {
    "/dev/disk/by-id/scsi-0QEMU_disk-part1 / ext4 defaults 0 0\n",
    "/mnt/dev/sda1 is a path, not a device\n",
    "x/dev/sda1 and /dev/sda1x and /dev/sda_1\n",
    "/dev/sd /dev/hd /dev/hdab /dev/sdabcd /dev/sr0 /dev/vda1 /dev/nvme0n1\n",
    "/dev/xvda1 /dev/cciss/c0d0p1 LABEL=/dev/sdx\n",
    "",
  };
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
    size_t n;
    char *desc;
    char *out = gf_rename_devices (same[i], &n, &desc);
    /* "LABEL=/dev/sdx" is a name after '=', renamed like root=; every
     * other line is unchanged. */
    if (strstr (same[i], "LABEL=")) {
      assert_string_equal (out, "/dev/xvda1 /dev/cciss/c0d0p1 "
                                "LABEL=/dev/vdx\n");
    } else {
      assert_string_equal (out, same[i]);
      assert_int_equal (n, 0);
      assert_string_equal (desc, "");
    }
    free (out);
    free (desc);
  }
}

static void
test_drop_lines (void **state)
{
  (void) state;
  size_t n;
  char *out = gf_drop_lines ("TYPE=Ethernet\nHWADDR=00:50:56:aa:bb:cc\n"
                             "  HWADDR=x\nMY_HWADDR=keep\nIPADDR=1.2.3.4",
                             "HWADDR=", &n);
  assert_string_equal (out, "TYPE=Ethernet\nMY_HWADDR=keep\nIPADDR=1.2.3.4");
  assert_int_equal (n, 2);
  free (out);
  out = gf_drop_lines ("", "HWADDR=", &n);
  assert_string_equal (out, "");
  assert_int_equal (n, 0);
  free (out);
  /* The last line without a newline is removed too. */
  out = gf_drop_lines ("a=1\nmac-address=00:11", "mac-address=", &n);
  assert_string_equal (out, "a=1\n");
  assert_int_equal (n, 1);
  free (out);
}

static void
test_ensure_line (void **state)
{
  (void) state;
  bool added;
  char *out = gf_ensure_line ("# modules\nvmw_pvscsi\n  virtio_blk \n",
                              "virtio_blk", &added);
  assert_false (added);
  assert_string_equal (out, "# modules\nvmw_pvscsi\n  virtio_blk \n");
  free (out);
  out = gf_ensure_line ("vmw_pvscsi", "virtio_scsi", &added);
  assert_true (added);
  assert_string_equal (out, "vmw_pvscsi\nvirtio_scsi\n");
  free (out);
  /* A commented-out line does not count. */
  out = gf_ensure_line ("#virtio_net\n", "virtio_net", &added);
  assert_true (added);
  assert_string_equal (out, "#virtio_net\nvirtio_net\n");
  free (out);
  out = gf_ensure_line ("", "virtio_pci", &added);
  assert_true (added);
  assert_string_equal (out, "virtio_pci\n");
  free (out);
}

static void
test_config_value (void **state)
{
  (void) state;
  const char *text = "# SELINUX=disabled\nSELINUX=enforcing\n"
                     "SELINUXTYPE=\"targeted\"\n export X='a b'\n";
  char *v = gf_config_value (text, "SELINUX");
  assert_string_equal (v, "enforcing");
  free (v);
  v = gf_config_value (text, "SELINUXTYPE");
  assert_string_equal (v, "targeted");
  free (v);
  v = gf_config_value (text, "X");
  assert_string_equal (v, "a b");
  free (v);
  assert_null (gf_config_value (text, "SELINU"));
  assert_null (gf_config_value ("", "SELINUX"));
  /* The last assignment wins, as in the shell. */
  v = gf_config_value ("A=1\nA=2", "A");
  assert_string_equal (v, "2");
  free (v);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_rename_fstab),
    cmocka_unit_test (test_rename_grub),
    cmocka_unit_test (test_rename_leaves_others),
    cmocka_unit_test (test_drop_lines),
    cmocka_unit_test (test_ensure_line),
    cmocka_unit_test (test_config_value),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
