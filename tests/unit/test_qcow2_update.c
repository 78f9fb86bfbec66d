/* Unit test for qcow2 images updated in place (converters/qcow2.c).
 *
 * Builds an image, commits it, reopens it and rewrites parts the way a
 * warm-migration delta does: overwrite allocated clusters, fill new ones,
 * zero whole and partial clusters, rewrite compressed clusters.  A plain
 * file receives the same writes; qemu-img (when installed) is the oracle
 * that the image is consistent and equals that file.
 */
#include <fcntl.h>
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
#include "converters/qcow2.h"

#define MiB (1024 * 1024)
#define SIZE (24 * MiB + 3 * 512)

struct fix {
  char dir[64];
  char img[128], raw[128];
  int rawfd;
};

static void
fill (uint8_t *b, size_t n, unsigned seed)
{
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245 + 12345;
    /* Half random, half text-like, so compression has work to do. */
    b[i] = (i / 4096) % 2 ? (uint8_t) (seed >> 16) : (uint8_t) ('a' + i % 23);
  }
}

static void
both_write (struct qcow2 *q, struct fix *f, size_t n, uint64_t off,
            unsigned seed)
{
  uint8_t *b = malloc (n);
  assert_non_null (b);
  fill (b, n, seed);
  assert_int_equal (qcow2_pwrite (q, b, n, off), 0);
  assert_int_equal (pwrite (f->rawfd, b, n, (off_t) off), (ssize_t) n);
  free (b);
}

static void
both_zero (struct qcow2 *q, struct fix *f, size_t n, uint64_t off)
{
  uint8_t *z = calloc (1, n);
  assert_non_null (z);
  assert_int_equal (qcow2_zero (q, off, n), 0);
  assert_int_equal (pwrite (f->rawfd, z, n, (off_t) off), (ssize_t) n);
  free (z);
}

static int
have_qemu_img (void)
{
  return system ("command -v qemu-img > /dev/null 2>&1") == 0;
}

static void
oracle (struct fix *f)
{
  char cmd[512];

  if (!have_qemu_img ())
    return;
  snprintf (cmd, sizeof cmd, "qemu-img check -q %s", f->img);
  assert_int_equal (system (cmd), 0);
  snprintf (cmd, sizeof cmd, "qemu-img compare -q -f qcow2 -F raw %s %s",
            f->img, f->raw);
  assert_int_equal (system (cmd), 0);
}

/* Our own reader agrees with the plain file too. */
static void
self_check (struct qcow2 *q, struct fix *f)
{
  uint8_t *a = malloc (SIZE), *b = malloc (SIZE);
  assert_non_null (a);
  assert_non_null (b);
  assert_int_equal (qcow2_pread (q, a, SIZE, 0), 0);
  assert_int_equal (pread (f->rawfd, b, SIZE, 0), SIZE);
  assert_memory_equal (a, b, SIZE);
  free (a);
  free (b);
}

static void
run (enum qcow2_compression comp, unsigned bits)
{
  struct fix f;
  struct qcow2_create_opts o = { .size = SIZE, .cluster_bits = bits,
                                 .compression = comp };
  struct qcow2 *q;
  int fd;

  snprintf (f.dir, sizeof f.dir, "/tmp/ferry-qcow2-unit.XXXXXX");
  assert_non_null (mkdtemp (f.dir));
  snprintf (f.img, sizeof f.img, "%s/img.qcow2", f.dir);
  snprintf (f.raw, sizeof f.raw, "%s/img.raw", f.dir);
  f.rawfd = open (f.raw, O_RDWR | O_CREAT | O_TRUNC, 0644);
  assert_true (f.rawfd >= 0);
  assert_int_equal (ftruncate (f.rawfd, SIZE), 0);

  fd = open (f.img, O_RDWR | O_CREAT | O_TRUNC, 0644);
  assert_true (fd >= 0);
  q = qcow2_create (fd, f.img, &o);
  assert_non_null (q);
  both_write (q, &f, 4 * MiB, 0, 1);
  both_write (q, &f, 2 * MiB, 10 * MiB, 2);
  both_write (q, &f, 3 * 512, SIZE - 3 * 512, 3); /* short last cluster */
  assert_int_equal (qcow2_commit (q), 0);
  self_check (q, &f);
  qcow2_free (q);
  close (fd);
  oracle (&f);

  /* Reopen and apply a "delta". */
  fd = open (f.img, O_RDWR);
  assert_true (fd >= 0);
  q = qcow2_open (fd, f.img, false);
  assert_non_null (q);
  both_write (q, &f, 1 * MiB, 512 * 1024, 4);      /* overwrite */
  both_write (q, &f, 5000, 3 * MiB + 100, 5);      /* partial clusters */
  both_write (q, &f, 2 * MiB, 20 * MiB, 6);        /* new clusters */
  both_zero (q, &f, 1 * MiB, 10 * MiB);            /* whole clusters */
  both_zero (q, &f, 3000, 11 * MiB + 700);         /* partial */
  both_zero (q, &f, 1 * MiB, 15 * MiB);            /* never allocated */
  assert_int_equal (qcow2_commit (q), 0);
  self_check (q, &f);
  /* A second delta on the same open image, then commit again. */
  both_write (q, &f, 64 * 1024, 10 * MiB, 7);      /* over a zero cluster */
  assert_int_equal (qcow2_commit (q), 0);
  self_check (q, &f);
  qcow2_free (q);
  close (fd);
  oracle (&f);

  /* A dirty image is refused. */
  fd = open (f.img, O_RDWR);
  q = qcow2_open (fd, f.img, false);
  assert_non_null (q);
  qcow2_free (q); /* no commit: stays dirty */
  close (fd);
  fd = open (f.img, O_RDWR);
  assert_null (qcow2_open (fd, f.img, false));
  assert_non_null (strstr (ferry_error_msg (), "dirty"));
  close (fd);

  close (f.rawfd);
  unlink (f.img);
  unlink (f.raw);
  rmdir (f.dir);
}

static void test_plain (void **s) { (void) s; run (QCOW2_COMP_NONE, 16); }
static void test_zlib (void **s) { (void) s; run (QCOW2_COMP_ZLIB, 16); }
static void test_zstd (void **s) { (void) s; run (QCOW2_COMP_ZSTD, 16); }
static void test_small_clusters (void **s) { (void) s; run (QCOW2_COMP_NONE, 12); }

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_plain),
    cmocka_unit_test (test_zlib),
    cmocka_unit_test (test_zstd),
    cmocka_unit_test (test_small_clusters),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
