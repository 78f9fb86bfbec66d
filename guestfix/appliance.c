/* ferry guestfix: the libguestfs appliance.  One handle per run, owned by
 * the run's context; no network; TCG when KVM cannot run a guest here. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "common/error.h"
#include "common/fileutil.h"
#include "guestfix/internal.h"

/* How long the KVM probe may take before KVM counts as unusable (a nested
 * hypervisor that accepts KVM_RUN but never enters the guest). */
#define KVM_PROBE_TIMEOUT_MS 3000
/* The boot probe: how long QEMU under KVM may take to print the kernel's
 * first line, and then to get to the end of its boot. */
#define BOOT_PROBE_FIRST_MS 5000
#define BOOT_PROBE_BOOT_MS 30000

/* The probe proper, in a child process: exit 0 when a one-instruction
 * guest (HLT at 0x1000, real mode) runs and exits with KVM_EXIT_HLT. */
static int
kvm_probe_child (void)
{
  int kvm = open ("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0)
    return 1;
  if (ioctl (kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
    return 2;
  int vm = ioctl (kvm, KVM_CREATE_VM, 0UL);
  if (vm < 0)
    return 3;
#if defined(__x86_64__) || defined(__i386__)
  unsigned char *mem = mmap (NULL, 0x1000, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED)
    return 4;
  mem[0] = 0xf4; /* hlt */
  struct kvm_userspace_memory_region region = {
    .slot = 0, .guest_phys_addr = 0x1000, .memory_size = 0x1000,
    .userspace_addr = (uint64_t) (uintptr_t) mem,
  };
  if (ioctl (vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
    return 5;
  int vcpu = ioctl (vm, KVM_CREATE_VCPU, 0UL);
  if (vcpu < 0)
    return 6;
  int run_size = ioctl (kvm, KVM_GET_VCPU_MMAP_SIZE, NULL);
  if (run_size <= 0)
    return 7;
  struct kvm_run *run = mmap (NULL, (size_t) run_size, PROT_READ | PROT_WRITE,
                              MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED)
    return 8;
  struct kvm_sregs sregs;
  if (ioctl (vcpu, KVM_GET_SREGS, &sregs) < 0)
    return 9;
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  if (ioctl (vcpu, KVM_SET_SREGS, &sregs) < 0)
    return 10;
  struct kvm_regs regs = { .rip = 0x1000, .rflags = 0x2 };
  if (ioctl (vcpu, KVM_SET_REGS, &regs) < 0)
    return 11;
  if (ioctl (vcpu, KVM_RUN, NULL) < 0)
    return 12;
  return run->exit_reason == KVM_EXIT_HLT ? 0 : 13;
#else
  return 0;
#endif
}

/* Some nested hypervisors run the one-instruction guest above but hang a
 * real kernel (spinning in the host, printing nothing) or make QEMU fail
 * to set an MSR.  So boot the host's kernel under KVM the way the
 * appliance will be booted (same QEMU, same -cpu), without an initramfs
 * or a root: a working KVM gets it to "Kernel panic ... unable to mount
 * root" within a second or two.  True when it does, or when there is no
 * kernel or QEMU to try (libguestfs would then fail with its own, better
 * message). */
static bool
kvm_boot_probe (void)
{
  glob_t gl;
  char kernel[512];
  const char *hv = getenv ("LIBGUESTFS_HV");
  int fds[2];

  if (glob ("/boot/vmlinuz-*", 0, NULL, &gl) != 0 || gl.gl_pathc == 0) {
    globfree (&gl);
    return true;
  }
  snprintf (kernel, sizeof kernel, "%s", gl.gl_pathv[gl.gl_pathc - 1]);
  globfree (&gl);
  if (access (kernel, R_OK) != 0)
    return true;
  if (!hv || !*hv)
    hv = "qemu-system-x86_64";
  if (pipe2 (fds, O_CLOEXEC) < 0)
    return true;

  pid_t pid = fork ();
  if (pid < 0) {
    close (fds[0]);
    close (fds[1]);
    return true;
  }
  if (pid == 0) {
    int null = open ("/dev/null", O_RDONLY);
    if (null >= 0)
      dup2 (null, 0);
    dup2 (fds[1], 1);
    dup2 (fds[1], 2);
    execlp (hv, hv, "-machine", "accel=kvm", "-cpu", "max,la57=off", "-m",
            "256", "-display", "none", "-no-user-config", "-nodefaults",
            "-no-reboot", "-serial", "stdio", "-kernel", kernel, "-append",
            "console=ttyS0 panic=-1 loglevel=4", (char *) NULL);
    _exit (127);
  }
  close (fds[1]);

  /* Look for the first line, then for the panic; keep the tail of what
   * was read so a marker split between two reads is still found. */
  char buf[8192];
  size_t len = 0;
  bool started = false, booted = false;
  struct timespec t0;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  for (;;) {
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
    long left = (started ? BOOT_PROBE_BOOT_MS : BOOT_PROBE_FIRST_MS) - ms;
    if (left <= 0)
      break;
    struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
    int pr = poll (&pfd, 1, (int) left);
    if (pr < 0 && errno == EINTR)
      continue;
    if (pr <= 0)
      break;
    ssize_t n = read (fds[0], buf + len, sizeof buf - 1 - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; /* QEMU exited (or failed to start) */
    len += (size_t) n;
    buf[len] = 0;
    if (!started && strstr (buf, "Linux version"))
      started = true;
    if (started && strstr (buf, "Kernel panic")) {
      booted = true;
      break;
    }
    if (len > sizeof buf / 2) {
      memmove (buf, buf + len - 64, 64);
      len = 64;
      buf[len] = 0;
    }
  }
  close (fds[0]);
  kill (pid, SIGKILL);
  int status;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!booted && WIFEXITED (status) && WEXITSTATUS (status) == 127)
    return true; /* no QEMU to try */
  return booted;
}

/* A small file's first line, or an empty string; a missing file is not
 * an error here. */
static void
first_line (const char *path, char *out, size_t len)
{
  size_t n;
  char *text = ferry_read_file (path, 4096, &n);
  out[0] = 0;
  if (!text) {
    ferry_error_clear ();
    return;
  }
  snprintf (out, len, "%.*s", (int) strcspn (text, "\n"), text);
  free (text);
}

/* The verdict is kept for the rest of this boot of the host, so that
 * every conversion does not pay for the probe (seconds when KVM hangs):
 * in the directory libguestfs keeps its appliance cache in. */
static void
probe_cache_path (char *path, size_t len, char *boot_id, size_t id_len)
{
  const char *dir = getenv ("LIBGUESTFS_CACHEDIR");
  if (!dir || !*dir)
    dir = getenv ("TMPDIR");
  if (!dir || !*dir)
    dir = "/var/tmp";
  snprintf (path, len, "%s/.ferry-kvm-%ld", dir, (long) geteuid ());
  first_line ("/proc/sys/kernel/random/boot_id", boot_id, id_len);
}

static int
probe_cache_read (void)
{
  char path[4096], id[64], line[128];
  probe_cache_path (path, sizeof path, id, sizeof id);
  if (!id[0])
    return -1;
  first_line (path, line, sizeof line);
  size_t n = strlen (id);
  if (strncmp (line, id, n) != 0 || line[n] != ' ')
    return -1;
  return line[n + 1] == '1' ? 1 : line[n + 1] == '0' ? 0 : -1;
}

static void
probe_cache_write (bool usable)
{
  char path[4096], tmp[4200], id[64];
  probe_cache_path (path, sizeof path, id, sizeof id);
  if (!id[0])
    return;
  snprintf (tmp, sizeof tmp, "%s.%ld", path, (long) getpid ());
  FILE *f = fopen (tmp, "we");
  if (!f)
    return;
  fprintf (f, "%s %d\n", id, usable ? 1 : 0);
  if (fclose (f) != 0 || rename (tmp, path) != 0)
    unlink (tmp);
}

bool
guestfix_kvm_usable (void)
{
  const char *force = getenv ("FERRY_GUESTFIX_FORCE_TCG");
  if (force && *force && strcmp (force, "0") != 0)
    return false;
  if (access ("/dev/kvm", R_OK | W_OK) != 0)
    return false;
  int cached = probe_cache_read ();
  if (cached >= 0)
    return cached == 1;

  pid_t pid = fork ();
  if (pid < 0)
    return false;
  if (pid == 0)
    _exit (kvm_probe_child ());

  int status;
  for (int waited = 0; ; waited += 10) {
    pid_t w = waitpid (pid, &status, WNOHANG);
    if (w == pid)
      break;
    if (w < 0 && errno != EINTR)
      return false;
    if (waited >= KVM_PROBE_TIMEOUT_MS) {
      kill (pid, SIGKILL);
      while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
      probe_cache_write (false);
      return false;
    }
    struct timespec ts = { 0, 10 * 1000 * 1000 };
    nanosleep (&ts, NULL);
  }
  bool usable = WIFEXITED (status) && WEXITSTATUS (status) == 0
                && kvm_boot_probe ();
  probe_cache_write (usable);
  return usable;
}

/* libguestfs messages go to ferry's log: warnings always, the library's
 * and the appliance's chatter with -v -v (debug). */
static void
on_event (guestfs_h *g, void *opaque, uint64_t event, int event_handle,
          int flags, const char *buf, size_t buf_len,
          const uint64_t *array, size_t array_len)
{
  const struct ferry_log *log = opaque;
  (void) g; (void) event_handle; (void) flags; (void) array;
  (void) array_len;
  while (buf_len && (buf[buf_len - 1] == '\n' || buf[buf_len - 1] == '\r'))
    buf_len--;
  if (!buf_len)
    return;
  int len = buf_len > 4000 ? 4000 : (int) buf_len;
  if (event == GUESTFS_EVENT_WARNING)
    ferry_warn (log, "guestfix: libguestfs: %.*s", len, buf);
  else
    ferry_debug (log, "libguestfs: %.*s", len, buf);
}

/* The TCG warning is said once per process, however many runs. */
static atomic_flag tcg_warned = ATOMIC_FLAG_INIT;

guestfs_h *
gf_handle_open (const struct ferry_log *log, bool *tcg)
{
  guestfs_h *g = guestfs_create_flags (0);
  if (!g) {
    ferry_error (FERRY_E_SYSTEM,
                 "cannot create a libguestfs handle (is libguestfs installed?)");
    return NULL;
  }
  guestfs_set_error_handler (g, NULL, NULL);

  bool debug = log && log->level >= FERRY_LOG_DEBUG;
  uint64_t events = GUESTFS_EVENT_WARNING;
  if (debug) {
    events |= GUESTFS_EVENT_LIBRARY | GUESTFS_EVENT_APPLIANCE
              | GUESTFS_EVENT_TRACE;
    guestfs_set_verbose (g, 1);
    guestfs_set_trace (g, 1);
  }
  if (guestfs_set_event_callback (g, on_event, events, 0, (void *) log) < 0)
    goto fail;
  if (guestfs_set_network (g, 0) < 0)
    goto fail;

  *tcg = false;
  char **settings = guestfs_get_backend_settings (g);
  if (!settings)
    goto fail;
  bool forced = false;
  for (char **s = settings; *s; s++)
    if (strcmp (*s, "force_tcg") == 0 || strncmp (*s, "force_tcg=", 10) == 0)
      forced = true;
  if (forced) {
    *tcg = true;
  } else if (!guestfix_kvm_usable ()) {
    size_t n = gf_count_strings (settings);
    char **ns = calloc (n + 2, sizeof *ns);
    if (!ns)
      abort ();
    memcpy (ns, settings, n * sizeof *ns);
    ns[n] = (char *) "force_tcg";
    int rc = guestfs_set_backend_settings (g, ns);
    free (ns);
    if (rc < 0) {
      gf_free_strings (settings);
      goto fail;
    }
    *tcg = true;
    if (!atomic_flag_test_and_set (&tcg_warned))
      ferry_warn (log, "guestfix: KVM is not usable here; the appliance runs "
                  "under TCG (slower)");
  }
  gf_free_strings (settings);
  return g;

 fail:
  ferry_error (FERRY_E_SYSTEM, "libguestfs: %s",
               guestfs_last_error (g) ? guestfs_last_error (g) : "setup failed");
  guestfs_close (g);
  return NULL;
}

int
gf_gerror (struct gf_ctx *c, int code, const char *what)
{
  const char *msg = c->g ? guestfs_last_error (c->g) : NULL;
  char buf[900];
  snprintf (buf, sizeof buf, "%s", msg ? msg : "unknown libguestfs error");
  size_t n = strlen (buf);
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
    buf[--n] = 0;
  return ferry_error ((enum ferry_errcode) code, "%s: %s", what, buf);
}

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
gf_launch (struct gf_ctx *c)
{
  /* cache=unsafe: the overlay is scratch until it is committed, and the
   * appliance is shut down cleanly (flushing everything) before that. */
  if (guestfs_add_drive_opts (c->g, c->overlay,
                              GUESTFS_ADD_DRIVE_OPTS_FORMAT, "qcow2",
                              GUESTFS_ADD_DRIVE_OPTS_CACHEMODE, "unsafe",
                              -1) < 0)
    return gf_gerror (c, FERRY_E_SYSTEM, "adding the overlay to the appliance");
  double t0 = now ();
  if (guestfs_launch (c->g) < 0)
    return gf_gerror (c, FERRY_E_SYSTEM, "starting the libguestfs appliance");
  c->r->launch_seconds = now () - t0;
  ferry_info (c->log, "guestfix: appliance started in %.1f s%s",
              c->r->launch_seconds, c->r->tcg ? " (TCG)" : "");
  return 0;
}

int
gf_shutdown (struct gf_ctx *c)
{
  if (!c->g)
    return 0;
  int rc = guestfs_shutdown (c->g);
  if (rc < 0)
    gf_gerror (c, FERRY_E_OUTPUT, "stopping the appliance");
  return rc;
}

void
gf_handle_close (struct gf_ctx *c)
{
  if (c->g) {
    guestfs_close (c->g);
    c->g = NULL;
  }
}
