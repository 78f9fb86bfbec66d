/* Unit tests for the VMDK text descriptor parser (converters/vmdk_descriptor.c).
 *
 * Every successful parse is freed and every failure is checked for the
 * contract of common/error.h: -1, FERRY_E_INPUT, and a message naming the
 * file, the line and the reason, so a user can fix the descriptor by hand.
 * The tests run under ASan in the Sanitize configuration, which also checks
 * that nothing leaks on either path.
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
#include "converters/vmdk.h"

/* ---- helpers ---------------------------------------------------------- */

/* Parse a C string from a heap buffer of exactly its length, with no NUL
 * after it, so ASan catches a parser that reads past len. */
static int
parse_exact (const char *text, size_t len, const char *name,
             struct vmdk_descriptor *d)
{
  char *copy = malloc (len ? len : 1);
  int r;

  assert_non_null (copy);
  memcpy (copy, text, len);
  r = vmdk_descriptor_parse (copy, len, name, d);
  free (copy);
  return r;
}

static void
parse_ok (const char *text, const char *name, struct vmdk_descriptor *d)
{
  ferry_error_clear ();
  if (parse_exact (text, strlen (text), name, d) != 0)
    fail_msg ("parse of %s failed: %s", name, ferry_error_msg ());
}

/* Expect failure.  lineno 0: a whole-file error that names no line. */
static void
expect_fail (const char *text, const char *name, unsigned lineno,
             const char *reason)
{
  struct vmdk_descriptor d;
  char needle[32];
  const char *msg;

  ferry_error_clear ();
  memset (&d, 0xa5, sizeof d);
  assert_int_equal (parse_exact (text, strlen (text), name, &d), -1);
  msg = ferry_error_msg ();
  assert_int_equal (ferry_error_code (), FERRY_E_INPUT);
  if (!strstr (msg, name))
    fail_msg ("message does not name the file %s: %s", name, msg);
  if (lineno) {
    snprintf (needle, sizeof needle, "line %u:", lineno);
    if (!strstr (msg, needle))
      fail_msg ("message does not name '%s': %s", needle, msg);
  }
  if (!strstr (msg, reason))
    fail_msg ("message does not give the reason '%s': %s", reason, msg);

  /* The parser frees what it built; the descriptor is left empty, so
   * freeing it again (as a careless caller might) is harmless. */
  assert_int_equal (d.n_extents, 0);
  assert_null (d.extents);
  assert_null (d.create_type);
  vmdk_descriptor_free (&d);
}

static void
check_extent (const struct vmdk_extent_desc *e, enum vmdk_access access,
              uint64_t sectors, enum vmdk_extent_kind kind,
              const char *type_name, const char *filename, uint64_t offset)
{
  assert_int_equal (e->access, access);
  assert_int_equal (e->sectors, sectors);
  assert_int_equal (e->kind, kind);
  assert_non_null (e->type_name);
  assert_string_equal (e->type_name, type_name);
  if (filename) {
    assert_non_null (e->filename);
    assert_string_equal (e->filename, filename);
  }
  else
    assert_null (e->filename);
  assert_int_equal (e->offset, offset);
}

/* ---- descriptors that parse ------------------------------------------- */

/* What qemu-img create -f vmdk writes (embedded in the sparse file). */
static const char qemu_sparse[] =
  "# Disk DescriptorFile\n"
  "version=1\n"
  "CID=52f0e8a4\n"
  "parentCID=ffffffff\n"
  "createType=\"monolithicSparse\"\n"
  "\n"
  "# Extent description\n"
  "RW 2048 SPARSE \"test.vmdk\"\n"
  "\n"
  "# The Disk Data Base\n"
  "#DDB\n"
  "\n"
  "ddb.virtualHWVersion = \"4\"\n"
  "ddb.geometry.cylinders = \"2\"\n"
  "ddb.geometry.heads = \"16\"\n"
  "ddb.geometry.sectors = \"63\"\n"
  "ddb.adapterType = \"ide\"\n";

static void
test_monolithic_sparse (void **state)
{
  struct vmdk_descriptor d;

  (void) state;
  parse_ok (qemu_sparse, "test.vmdk", &d);
  assert_int_equal (d.version, 1);
  assert_true (d.has_cid);
  assert_int_equal (d.cid, 0x52f0e8a4);
  assert_true (d.has_parent_cid);
  assert_int_equal (d.parent_cid, 0xffffffff);
  assert_string_equal (d.create_type, "monolithicSparse");
  assert_true (vmdk_create_type_known (d.create_type));
  assert_null (d.parent_hint);
  assert_non_null (d.adapter_type);
  assert_string_equal (d.adapter_type, "ide");
  assert_int_equal (d.n_extents, 1);
  check_extent (&d.extents[0], VMDK_RW, 2048, VMDK_EXT_SPARSE, "SPARSE",
                "test.vmdk", 0);
  vmdk_descriptor_free (&d);
  /* free leaves the descriptor empty: a second free is harmless */
  assert_int_equal (d.n_extents, 0);
  vmdk_descriptor_free (&d);
}

/* Without CID/parentCID lines the defaults hold: no CID, no parent. */
static void
test_minimal_defaults (void **state)
{
  struct vmdk_descriptor d;

  (void) state;
  parse_ok ("createType=monolithicSparse\nRW 8 SPARSE \"a.vmdk\"\n",
            "min.vmdk", &d);
  assert_false (d.has_cid);
  assert_false (d.has_parent_cid);
  assert_int_equal (d.parent_cid, 0xffffffff);
  assert_int_equal (d.version, 0);
  assert_null (d.parent_hint);
  assert_null (d.adapter_type);
  assert_string_equal (d.create_type, "monolithicSparse");
  vmdk_descriptor_free (&d);
}

static void
test_monolithic_flat (void **state)
{
  struct vmdk_descriptor d;

  (void) state;
  parse_ok ("# Disk DescriptorFile\n"
            "version=1\n"
            "encoding=\"UTF-8\"\n"
            "CID=fffffffe\n"
            "parentCID=ffffffff\n"
            "createType=\"monolithicFlat\"\n"
            "\n"
            "# Extent description\n"
            "RW 8192 FLAT \"disk-flat.vmdk\" 0\n"
            "RW 4096 FLAT \"other-flat.vmdk\" 128\n"
            "\n"
            "ddb.adapterType = \"lsilogic\"\n",
            "disk.vmdk", &d);
  assert_string_equal (d.create_type, "monolithicFlat");
  assert_int_equal (d.cid, 0xfffffffe);
  assert_int_equal (d.n_extents, 2);
  check_extent (&d.extents[0], VMDK_RW, 8192, VMDK_EXT_FLAT, "FLAT",
                "disk-flat.vmdk", 0);
  check_extent (&d.extents[1], VMDK_RW, 4096, VMDK_EXT_FLAT, "FLAT",
                "other-flat.vmdk", 128);
  assert_string_equal (d.adapter_type, "lsilogic");
  vmdk_descriptor_free (&d);
}

/* Six extents: more than the parser's first allocation, so the array has
 * to grow. */
static void
test_two_gb_sparse (void **state)
{
  struct vmdk_descriptor d;

  (void) state;
  parse_ok ("version=1\n"
            "CID=0000abcd\n"
            "parentCID=ffffffff\n"
            "createType=\"twoGbMaxExtentSparse\"\n"
            "RW 4192256 SPARSE \"big-s001.vmdk\"\n"
            "RW 4192256 SPARSE \"big-s002.vmdk\"\n"
            "RW 4192256 SPARSE \"big-s003.vmdk\"\n"
            "RW 4192256 SPARSE \"big-s004.vmdk\"\n"
            "RW 4192256 SPARSE \"big-s005.vmdk\"\n"
            "RW 20480 SPARSE \"big-s006.vmdk\"\n",
            "big.vmdk", &d);
  assert_string_equal (d.create_type, "twoGbMaxExtentSparse");
  assert_int_equal (d.n_extents, 6);
  for (size_t i = 0; i < 5; i++) {
    char fn[48];
    snprintf (fn, sizeof fn, "big-s%03zu.vmdk", i + 1);
    check_extent (&d.extents[i], VMDK_RW, 4192256, VMDK_EXT_SPARSE, "SPARSE",
                  fn, 0);
  }
  check_extent (&d.extents[5], VMDK_RW, 20480, VMDK_EXT_SPARSE, "SPARSE",
                "big-s006.vmdk", 0);
  vmdk_descriptor_free (&d);
}

static void
test_zero_extents (void **state)
{
  struct vmdk_descriptor d;

  (void) state;
  parse_ok ("createType=\"custom\"\n"
            "RW 1024 ZERO\n"
            "RW 2048 FLAT \"data.raw\" 0\n"
            "RDONLY 512 ZERO   \n"
            "RW 100 zero \"\"\n",
            "zero.vmdk", &d);
  assert_int_equal (d.n_extents, 4);
  check_extent (&d.extents[0], VMDK_RW, 1024, VMDK_EXT_ZERO, "ZERO", NULL, 0);
  check_extent (&d.extents[1], VMDK_RW, 2048, VMDK_EXT_FLAT, "FLAT",
                "data.raw", 0);
  check_extent (&d.extents[2], VMDK_RDONLY, 512, VMDK_EXT_ZERO, "ZERO", NULL,
                0);
  /* An empty quoted name on a ZERO extent is no name. */
  check_extent (&d.extents[3], VMDK_RW, 100, VMDK_EXT_ZERO, "zero", NULL, 0);
  vmdk_descriptor_free (&d);
}

static void
test_vmfs_kinds_and_access (void **state)
{
  struct vmdk_descriptor d;

  (void) state;
  parse_ok ("createType=\"vmfsSparse\"\n"
            "RW 4096 VMFS \"a-flat.vmdk\"\n"
            "RDONLY 4096 VMFSSPARSE \"a-delta.vmdk\"\n"
            "NOACCESS 4096 SESPARSE \"a-sesparse.vmdk\"\n"
            "RW 4096 VMFSRAW \"a-rdmp.vmdk\" 0\n"
            "RDONLY 4096 VMFSRDM \"a-rdm.vmdk\" 16\n"
            "NOACCESS 10 ZERO\n",
            "vmfs.vmdk", &d);
  assert_int_equal (d.n_extents, 6);
  check_extent (&d.extents[0], VMDK_RW, 4096, VMDK_EXT_FLAT, "VMFS",
                "a-flat.vmdk", 0);
  check_extent (&d.extents[1], VMDK_RDONLY, 4096, VMDK_EXT_VMFSSPARSE,
                "VMFSSPARSE", "a-delta.vmdk", 0);
  check_extent (&d.extents[2], VMDK_NOACCESS, 4096, VMDK_EXT_SESPARSE,
                "SESPARSE", "a-sesparse.vmdk", 0);
  check_extent (&d.extents[3], VMDK_RW, 4096, VMDK_EXT_FLAT, "VMFSRAW",
                "a-rdmp.vmdk", 0);
  check_extent (&d.extents[4], VMDK_RDONLY, 4096, VMDK_EXT_FLAT, "VMFSRDM",
                "a-rdm.vmdk", 16);
  check_extent (&d.extents[5], VMDK_NOACCESS, 10, VMDK_EXT_ZERO, "ZERO", NULL,
                0);
  vmdk_descriptor_free (&d);
}

static void
test_case_insensitive (void **state)
{
  struct vmdk_descriptor d;

  (void) state;
  parse_ok ("VERSION = 3\n"
            "CREATETYPE = \"vmfs\"\n"
            "cid = 0000000a\n"
            "ParentCid = 1234ABCD\n"
            "PARENTFILENAMEHINT = \"Base.vmdk\"\n"
            "DDB.ADAPTERTYPE = \"buslogic\"\n"
            "rw 64 vmfs \"x-flat.vmdk\"\n"
            "rdonly 64 Sparse \"x-s.vmdk\"\n"
            "NoAccess 64 sesparse \"x-se.vmdk\"\n",
            "case.vmdk", &d);
  assert_int_equal (d.version, 3);
  assert_string_equal (d.create_type, "vmfs");
  assert_true (d.has_cid);
  assert_int_equal (d.cid, 0xa);
  assert_true (d.has_parent_cid);
  assert_int_equal (d.parent_cid, 0x1234abcd);
  assert_string_equal (d.parent_hint, "Base.vmdk");
  assert_string_equal (d.adapter_type, "buslogic");
  assert_int_equal (d.n_extents, 3);
  check_extent (&d.extents[0], VMDK_RW, 64, VMDK_EXT_FLAT, "vmfs",
                "x-flat.vmdk", 0);
  check_extent (&d.extents[1], VMDK_RDONLY, 64, VMDK_EXT_SPARSE, "Sparse",
                "x-s.vmdk", 0);
  check_extent (&d.extents[2], VMDK_NOACCESS, 64, VMDK_EXT_SESPARSE,
                "sesparse", "x-se.vmdk", 0);
  vmdk_descriptor_free (&d);
}

/* Windows tools write CRLF; people indent, comment and leave blank lines. */
static void
test_comments_blank_crlf (void **state)
{
  struct vmdk_descriptor d;

  (void) state;
  parse_ok ("# Disk DescriptorFile\r\n"
            "\r\n"
            "   # an indented comment = with an equals sign\r\n"
            "\t\r\n"
            "version=1\r\n"
            "CID=0000002a\r\n"
            "createType = \"monolithicFlat\"   \r\n"
            "   \r\n"
            "# RW 99 BOGUS \"commented-out extent\"\r\n"
            "\tRW\t4096\tFLAT\t\"crlf-flat.vmdk\"\t2048\t\r\n"
            "ddb.adapterType = \"ide\"\r\n"
            "# no newline at the end\r\n"
            "ddb.uuid.image=\"6000C29a-1234\"",
            "crlf.vmdk", &d);
  assert_int_equal (d.version, 1);
  assert_int_equal (d.cid, 0x2a);
  assert_string_equal (d.create_type, "monolithicFlat");
  assert_string_equal (d.adapter_type, "ide");
  assert_int_equal (d.n_extents, 1);
  check_extent (&d.extents[0], VMDK_RW, 4096, VMDK_EXT_FLAT, "FLAT",
                "crlf-flat.vmdk", 2048);
  vmdk_descriptor_free (&d);

  /* Line numbers count comment, blank and CRLF lines. */
  expect_fail ("# comment\r\n"
               "\r\n"
               "createType=\"monolithicFlat\"\r\n"
               "   # indented\r\n"
               "RW 0 FLAT \"x.raw\" 0\r\n",
               "crlf-bad.vmdk", 5, "not a positive number of sectors");
}

static void
test_parent (void **state)
{
  struct vmdk_descriptor d;

  (void) state;
  parse_ok ("# Disk DescriptorFile\n"
            "version=1\n"
            "CID=a1b2c3d4\n"
            "parentCID=1a2b3c4d\n"
            "createType=\"monolithicSparse\"\n"
            "parentFileNameHint=\"base image.vmdk\"\n"
            "RW 2048 SPARSE \"child.vmdk\"\n",
            "child.vmdk", &d);
  assert_int_equal (d.cid, 0xa1b2c3d4);
  assert_true (d.has_parent_cid);
  assert_int_equal (d.parent_cid, 0x1a2b3c4d);
  assert_non_null (d.parent_hint);
  assert_string_equal (d.parent_hint, "base image.vmdk");
  vmdk_descriptor_free (&d);

  /* An empty hint is no hint; a repeated key keeps the last value and does
   * not leak the first (ASan). */
  parse_ok ("createType=\"monolithicSparse\"\n"
            "createType=\"streamOptimized\"\n"
            "parentFileNameHint=\"\"\n"
            "ddb.adapterType=ide\n"
            "ddb.adapterType=lsilogic\n"
            "RW 2048 SPARSE \"c.vmdk\"\n",
            "c.vmdk", &d);
  assert_null (d.parent_hint);
  assert_string_equal (d.create_type, "streamOptimized");
  assert_string_equal (d.adapter_type, "lsilogic");
  vmdk_descriptor_free (&d);

  parse_ok ("createType=\"monolithicSparse\"\n"
            "parentFileNameHint=\"first.vmdk\"\n"
            "parentFileNameHint=\"second.vmdk\"\n"
            "RW 2048 SPARSE \"c.vmdk\"\n",
            "c.vmdk", &d);
  assert_string_equal (d.parent_hint, "second.vmdk");
  vmdk_descriptor_free (&d);
}

/* A descriptor embedded in a sparse file fills its sectors with NULs after
 * the text; len covers the whole area. */
static void
test_embedded_nul_padding (void **state)
{
  struct vmdk_descriptor d;
  size_t tlen = strlen (qemu_sparse), len = 20 * 512;
  char *buf = calloc (1, len);

  (void) state;
  assert_non_null (buf);
  memcpy (buf, qemu_sparse, tlen);
  ferry_error_clear ();
  if (vmdk_descriptor_parse (buf, len, "embedded.vmdk", &d) != 0)
    fail_msg ("%s", ferry_error_msg ());
  assert_int_equal (d.n_extents, 1);
  check_extent (&d.extents[0], VMDK_RW, 2048, VMDK_EXT_SPARSE, "SPARSE",
                "test.vmdk", 0);
  assert_string_equal (d.adapter_type, "ide");
  vmdk_descriptor_free (&d);

  /* Whatever follows the first NUL is padding, not text. */
  memcpy (buf + tlen + 7, "garbage line\n", 13);
  if (vmdk_descriptor_parse (buf, len, "embedded.vmdk", &d) != 0)
    fail_msg ("%s", ferry_error_msg ());
  assert_int_equal (d.n_extents, 1);
  vmdk_descriptor_free (&d);

  /* The text filling the area exactly, with no NUL at all. */
  if (parse_exact (qemu_sparse, tlen, "exact.vmdk", &d) != 0)
    fail_msg ("%s", ferry_error_msg ());
  assert_int_equal (d.n_extents, 1);
  vmdk_descriptor_free (&d);

  /* len shorter than the text: only len bytes count.  Cut inside the
   * extent line's file name: an unterminated quote on line 8. */
  {
    const char *cut = strstr (qemu_sparse, "test.vmdk\"");
    assert_non_null (cut);
    ferry_error_clear ();
    assert_int_equal (parse_exact (qemu_sparse, (size_t) (cut + 4 - qemu_sparse),
                                   "cut.vmdk", &d),
                      -1);
    assert_non_null (strstr (ferry_error_msg (), "line 8:"));
    assert_non_null (strstr (ferry_error_msg (), "unterminated"));
  }
  free (buf);
}

static void
test_unquoted_filename (void **state)
{
  struct vmdk_descriptor d;

  (void) state;
  parse_ok ("createType=monolithicSparse\n"
            "RW 2048 SPARSE test.vmdk\n"
            "RW 4096 FLAT test-flat.vmdk 64\n"
            "RW 4096 FLAT\ttabbed-flat.vmdk\n",
            "unquoted.vmdk", &d);
  assert_string_equal (d.create_type, "monolithicSparse");
  assert_int_equal (d.n_extents, 3);
  check_extent (&d.extents[0], VMDK_RW, 2048, VMDK_EXT_SPARSE, "SPARSE",
                "test.vmdk", 0);
  check_extent (&d.extents[1], VMDK_RW, 4096, VMDK_EXT_FLAT, "FLAT",
                "test-flat.vmdk", 64);
  check_extent (&d.extents[2], VMDK_RW, 4096, VMDK_EXT_FLAT, "FLAT",
                "tabbed-flat.vmdk", 0);
  vmdk_descriptor_free (&d);

  /* Quoted names keep their spaces. */
  parse_ok ("createType=monolithicFlat\n"
            "RW 4096 FLAT \"my disk-flat.vmdk\" 0\n",
            "spaces.vmdk", &d);
  check_extent (&d.extents[0], VMDK_RW, 4096, VMDK_EXT_FLAT, "FLAT",
                "my disk-flat.vmdk", 0);
  vmdk_descriptor_free (&d);
}

/* ---- descriptors that must be rejected --------------------------------- */

static void
test_err_no_extents (void **state)
{
  (void) state;
  /* A whole-file error: it names the file and the createType, no line. */
  expect_fail ("# Disk DescriptorFile\n"
               "version=1\n"
               "createType=\"monolithicSparse\"\n"
               "# RW 2048 SPARSE \"commented.vmdk\"\n",
               "noext.vmdk", 0, "has no extents");
  expect_fail ("", "empty.vmdk", 0, "no createType");
}

static void
test_err_no_create_type (void **state)
{
  (void) state;
  expect_fail ("version=1\n"
               "CID=12345678\n"
               "RW 2048 SPARSE \"x.vmdk\"\n",
               "notype.vmdk", 0, "no createType");
}

static void
test_err_bad_access (void **state)
{
  (void) state;
  /* The access word is what marks an extent line, so a misspelt one is
   * reported as a line that is neither a key nor an extent; the message
   * quotes the line so the bad word is visible. */
  expect_fail ("createType=\"monolithicFlat\"\n"
               "RX 2048 FLAT \"x-flat.vmdk\" 0\n",
               "access.vmdk", 2, "RX 2048");
  expect_fail ("createType=\"monolithicFlat\"\n"
               "\n"
               "READWRITE 2048 FLAT \"x-flat.vmdk\" 0\n",
               "access2.vmdk", 3, "extent line");
}

static void
test_err_sectors_not_numeric (void **state)
{
  (void) state;
  expect_fail ("createType=\"monolithicFlat\"\n"
               "RW abc FLAT \"x-flat.vmdk\" 0\n",
               "sectors.vmdk", 2, "extent size 'abc'");
  expect_fail ("createType=\"monolithicFlat\"\n"
               "RW -5 FLAT \"x-flat.vmdk\" 0\n",
               "neg.vmdk", 2, "extent size '-5'");
  expect_fail ("createType=\"monolithicFlat\"\n"
               "RW 12x FLAT \"x-flat.vmdk\" 0\n",
               "suffix.vmdk", 2, "extent size '12x'");
  expect_fail ("createType=\"monolithicFlat\"\n"
               "RW 99999999999999999999999 FLAT \"x-flat.vmdk\" 0\n",
               "huge.vmdk", 2, "not a positive number of sectors");
  expect_fail ("createType=\"monolithicFlat\"\n"
               "RW\n",
               "short.vmdk", 2, "too few fields");
  expect_fail ("createType=\"monolithicFlat\"\n"
               "RW 2048\n",
               "short2.vmdk", 2, "too few fields");
}

static void
test_err_zero_sectors (void **state)
{
  (void) state;
  expect_fail ("createType=\"monolithicSparse\"\n"
               "RW 2048 SPARSE \"a.vmdk\"\n"
               "RW 0 SPARSE \"b.vmdk\"\n",
               "zerosize.vmdk", 3, "not a positive number of sectors");
}

static void
test_err_unknown_type (void **state)
{
  (void) state;
  expect_fail ("createType=\"monolithicSparse\"\n"
               "RW 2048 SPARSELY \"a.vmdk\"\n",
               "type.vmdk", 2, "unknown extent type 'SPARSELY'");
}

static void
test_err_flat_offset (void **state)
{
  (void) state;
  expect_fail ("createType=\"monolithicFlat\"\n"
               "RW 2048 FLAT \"a-flat.vmdk\" 12abc\n",
               "offset.vmdk", 2, "extent offset '12abc'");
  expect_fail ("createType=\"monolithicFlat\"\n"
               "RW 2048 FLAT \"a-flat.vmdk\" -1\n",
               "negoff.vmdk", 2, "extent offset '-1'");
  /* Only flat extents have an offset. */
  expect_fail ("createType=\"monolithicSparse\"\n"
               "RW 2048 SPARSE \"a.vmdk\" 0\n",
               "sparseoff.vmdk", 2, "unexpected '0'");
  /* A flat extent needs its file. */
  expect_fail ("createType=\"monolithicFlat\"\n"
               "RW 2048 FLAT\n",
               "nofile.vmdk", 2, "without a file name");
}

static void
test_err_unterminated_quote (void **state)
{
  (void) state;
  expect_fail ("createType=\"monolithicFlat\"\n"
               "# fine so far\n"
               "RW 2048 FLAT \"a-flat.vmdk 0\n"
               "RW 2048 FLAT \"b-flat.vmdk\" 0\n",
               "quote.vmdk", 3, "unterminated");
}

static void
test_err_zero_with_file (void **state)
{
  (void) state;
  expect_fail ("createType=\"custom\"\n"
               "RW 2048 ZERO \"zero.raw\"\n",
               "zerofile.vmdk", 2, "ZERO extent with a file name");
  expect_fail ("createType=\"custom\"\n"
               "RW 2048 ZERO zero.raw\n",
               "zerofile2.vmdk", 2, "ZERO extent with a file name");
}

static void
test_err_cid (void **state)
{
  (void) state;
  expect_fail ("version=1\n"
               "CID=xyz\n"
               "createType=\"monolithicSparse\"\n"
               "RW 2048 SPARSE \"a.vmdk\"\n",
               "cid.vmdk", 2, "CID 'xyz'");
  expect_fail ("CID=123456789\n"
               "createType=\"monolithicSparse\"\n"
               "RW 2048 SPARSE \"a.vmdk\"\n",
               "cidbig.vmdk", 1, "32-bit hex");
  expect_fail ("CID=\n"
               "createType=\"monolithicSparse\"\n"
               "RW 2048 SPARSE \"a.vmdk\"\n",
               "cidempty.vmdk", 1, "CID ''");
  expect_fail ("createType=\"monolithicSparse\"\n"
               "parentCID=fffffffg\n"
               "RW 2048 SPARSE \"a.vmdk\"\n",
               "pcid.vmdk", 2, "parentCID 'fffffffg'");
  expect_fail ("version=one\n"
               "createType=\"monolithicSparse\"\n"
               "RW 2048 SPARSE \"a.vmdk\"\n",
               "version.vmdk", 1, "version 'one'");
}

static void
test_err_garbage_line (void **state)
{
  (void) state;
  expect_fail ("# Disk DescriptorFile\n"
               "version=1\n"
               "createType=\"monolithicSparse\"\n"
               "this is not a descriptor line\n"
               "RW 2048 SPARSE \"a.vmdk\"\n",
               "garbage.vmdk", 4, "neither 'key = value' nor an extent line");
  /* Binary junk: a control character is named by its code. */
  expect_fail ("createType=\"monolithicSparse\"\n"
               "RW 2048 SPARSE \"a\x01.vmdk\"\n",
               "ctrl.vmdk", 2, "control character 0x01");
}

/* ---- createType ------------------------------------------------------- */

static void
test_create_type_known (void **state)
{
  static const char *const known[] = {
    "monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse",
    "2GbMaxExtentSparse", "twoGbMaxExtentFlat", "2GbMaxExtentFlat",
    "streamOptimized", "vmfs", "vmfsThin", "vmfsPreallocated",
    "vmfsEagerZeroedThick", "vmfsThick", "vmfsSparse", "vmfsRaw", "vmfsRDM",
    "vmfsRawDeviceMap", "vmfsPassthroughRawDeviceMap", "seSparse", "custom",
    "fullDevice", "partitionedDevice",
    /* case does not matter */
    "MONOLITHICSPARSE", "streamoptimized", "VmFs", "SESPARSE",
  };
  static const char *const unknown[] = {
    "", "monolithic", "monolithicSparseX", " monolithicSparse", "qcow2",
    "threeGbMaxExtentSparse", "vmfsThin ", "sparse",
  };

  (void) state;
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (!vmdk_create_type_known (known[i]))
      fail_msg ("createType '%s' should be known", known[i]);
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
    if (vmdk_create_type_known (unknown[i]))
      fail_msg ("createType '%s' should be unknown", unknown[i]);
}

/* The parser accepts any createType; whether it is known is the reader's
 * question. */
static void
test_unknown_create_type_parses (void **state)
{
  struct vmdk_descriptor d;

  (void) state;
  parse_ok ("createType=\"fancyNewType\"\nRW 8 FLAT \"f.raw\"\n", "new.vmdk",
            &d);
  assert_string_equal (d.create_type, "fancyNewType");
  assert_false (vmdk_create_type_known (d.create_type));
  vmdk_descriptor_free (&d);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_monolithic_sparse),
    cmocka_unit_test (test_minimal_defaults),
    cmocka_unit_test (test_monolithic_flat),
    cmocka_unit_test (test_two_gb_sparse),
    cmocka_unit_test (test_zero_extents),
    cmocka_unit_test (test_vmfs_kinds_and_access),
    cmocka_unit_test (test_case_insensitive),
    cmocka_unit_test (test_comments_blank_crlf),
    cmocka_unit_test (test_parent),
    cmocka_unit_test (test_embedded_nul_padding),
    cmocka_unit_test (test_unquoted_filename),
    cmocka_unit_test (test_err_no_extents),
    cmocka_unit_test (test_err_no_create_type),
    cmocka_unit_test (test_err_bad_access),
    cmocka_unit_test (test_err_sectors_not_numeric),
    cmocka_unit_test (test_err_zero_sectors),
    cmocka_unit_test (test_err_unknown_type),
    cmocka_unit_test (test_err_flat_offset),
    cmocka_unit_test (test_err_unterminated_quote),
    cmocka_unit_test (test_err_zero_with_file),
    cmocka_unit_test (test_err_cid),
    cmocka_unit_test (test_err_garbage_line),
    cmocka_unit_test (test_create_type_known),
    cmocka_unit_test (test_unknown_create_type_parses),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
