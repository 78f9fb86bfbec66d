/* ferry guestfix: the libguestfs appliance.  One handle per run, owned by
 * the run's context; no network; TCG when KVM cannot run a guest here. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
#include "guestfix/internal.h"

/* How long the KVM probe may take before KVM counts as unusable (a nested
 * hypervisor that accepts KVM_RUN but never enters the guest). */
#define KVM_PROBE_TIMEOUT_MS 3000

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

bool
guestfix_kvm_usable (void)
{
  const char *force = getenv ("FERRY_GUESTFIX_FORCE_TCG");
  if (force && *force && strcmp (force, "0") != 0)
    return false;
  if (access ("/dev/kvm", R_OK | W_OK) != 0)
    return false;

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
      return false;
    }
    struct timespec ts = { 0, 10 * 1000 * 1000 };
    nanosleep (&ts, NULL);
  }
  return WIFEXITED (status) && WEXITSTATUS (status) == 0;
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
