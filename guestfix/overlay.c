/* ferry guestfix: the qcow2 overlay that takes every change.
 *
 * The overlay's backing file is the target, opened read-only by the
 * appliance; so while the steps run, the target cannot change.  Only
 * gf_overlay_commit writes to it (qemu-img commit copies the clusters the
 * overlay holds into the target), and only after every step succeeded and
 * the appliance was shut down cleanly.  If qemu-img commit itself fails
 * half-way the target holds part of the changes: the message says so. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "guestfix/internal.h"
#include "importer/transport.h"

extern char **environ;

int
gf_detect_format (const char *disk, const char **format)
{
  unsigned char magic[4] = { 0 };
  int fd = open (disk, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return ferry_error_errno (FERRY_E_INPUT, errno, "%s", disk);
  ssize_t n = pread (fd, magic, sizeof magic, 0);
  int err = errno;
  close (fd);
  if (n < 0)
    return ferry_error_errno (FERRY_E_INPUT, err, "%s: reading the header",
                              disk);
  *format = (n == 4 && memcmp (magic, "QFI\xfb", 4) == 0) ? "qcow2" : "raw";
  return 0;
}

/* Run qemu-img with ARGV (argv[0] is "qemu-img"); its stderr is returned
 * in *err (free it) when it fails. */
static int
run_qemu_img (char *const *argv, char **err)
{
  int pfd[2];
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int rc, status;

  *err = NULL;
  if (pipe2 (pfd, O_CLOEXEC) < 0)
    return -1;
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_adddup2 (&fa, pfd[1], STDERR_FILENO);
  posix_spawn_file_actions_adddup2 (&fa, pfd[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen (&fa, STDIN_FILENO, "/dev/null", O_RDONLY,
                                    0);
  rc = posix_spawnp (&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  close (pfd[1]);
  if (rc != 0) {
    close (pfd[0]);
    *err = gf_asprintf ("cannot run %s: %s", argv[0], strerror (rc));
    return -1;
  }

  char buf[2048];
  size_t len = 0;
  for (;;) {
    ssize_t n = read (pfd[0], buf + len, sizeof buf - 1 - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    len += (size_t) n;
    if (len == sizeof buf - 1) {
      char sink[512]; /* keep draining so the child never blocks */
      while (read (pfd[0], sink, sizeof sink) > 0)
        ;
      break;
    }
  }
  buf[len] = 0;
  close (pfd[0]);
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return 0;
  while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
    buf[--len] = 0;
  for (char *p = buf; *p; p++)
    if (*p == '\n')
      *p = ' ';
  if (len)
    *err = gf_strdup (buf);
  else if (WIFEXITED (status))
    *err = gf_asprintf ("%s exited with status %d", argv[0],
                        WEXITSTATUS (status));
  else
    *err = gf_asprintf ("%s was killed by signal %d", argv[0],
                        WTERMSIG (status));
  return -1;
}

int
gf_overlay_create (struct gf_ctx *c)
{
  const char *tmp = c->o->tmpdir;
  char backing[PATH_MAX];
  char *err;

  if (!tmp || !*tmp)
    tmp = getenv ("TMPDIR");
  if (!tmp || !*tmp)
    tmp = "/var/tmp";
  /* An NBD export (a cutover into one) is its own absolute name. */
  if (ferry_is_nbd_uri (c->disk)) {
    if (strlen (c->disk) >= sizeof backing)
      return ferry_error (FERRY_E_INPUT, "%s: URI too long", c->disk);
    strcpy (backing, c->disk);
  }
  else if (!realpath (c->disk, backing))
    return ferry_error_errno (FERRY_E_INPUT, errno, "%s", c->disk);

  c->overlay_dir = gf_asprintf ("%s/ferry-guestfix.XXXXXX", tmp);
  if (!mkdtemp (c->overlay_dir)) {
    int e = errno;
    ferry_error_errno (FERRY_E_OUTPUT, e, "creating a directory for the "
                       "overlay in %s", tmp);
    free (c->overlay_dir);
    c->overlay_dir = NULL;
    return -1;
  }
  c->overlay = gf_asprintf ("%s/overlay.qcow2", c->overlay_dir);

  char *argv[] = {
    (char *) "qemu-img", (char *) "create", (char *) "-q", (char *) "-f",
    (char *) "qcow2", (char *) "-b", backing, (char *) "-F",
    (char *) c->format, c->overlay, NULL,
  };
  if (run_qemu_img (argv, &err) < 0) {
    ferry_error (FERRY_E_OUTPUT, "creating the overlay %s over %s: %s",
                 c->overlay, c->disk, err ? err : strerror (errno));
    free (err);
    return -1;
  }
  ferry_debug (c->log, "guestfix: overlay %s (backing %s, %s)", c->overlay,
               backing, c->format);
  return 0;
}

int
gf_overlay_commit (struct gf_ctx *c)
{
  char *err;
  char *argv[] = {
    (char *) "qemu-img", (char *) "commit", (char *) "-q", (char *) "-d",
    (char *) "-f", (char *) "qcow2", c->overlay, NULL,
  };
  if (run_qemu_img (argv, &err) < 0) {
    ferry_error (FERRY_E_OUTPUT, "committing the changes into %s (the target "
                 "may hold part of them): %s", c->disk,
                 err ? err : strerror (errno));
    free (err);
    return -1;
  }
  return 0;
}

void
gf_overlay_discard (struct gf_ctx *c)
{
  if (c->overlay) {
    if (unlink (c->overlay) < 0 && errno != ENOENT)
      ferry_warn (c->log, "guestfix: cannot remove %s: %s", c->overlay,
                  strerror (errno));
    free (c->overlay);
    c->overlay = NULL;
  }
  if (c->overlay_dir) {
    rmdir (c->overlay_dir);
    free (c->overlay_dir);
    c->overlay_dir = NULL;
  }
}
