/* ferry sync / ferry cutover: warm migration of one disk.
 *
 * The first sync copies the whole disk (into DEST.sync, renamed to DEST
 * when complete); each later sync applies only the ranges a change list
 * names, in place.  The state file says what DEST holds.  While a sync
 * runs, the ranges done are checkpointed (target made durable first, then
 * the state written), so a killed sync resumes instead of starting over.
 * cutover is the same sync, optionally followed by a checksum comparison
 * of source and target.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/fileutil.h"
#include "converters/copy.h"
#include "converters/format.h"
#include "converters/sync_state.h"
#include "converters/target.h"
#include "guestfix/cloudinit.h"
#include "guestfix/guestfix.h"
#include "importer/cbt.h"
#include "importer/transport.h"

enum {
  OPT_STATE = 1,
  OPT_CHANGES,
  OPT_BITMAP,
  OPT_FULL,
  OPT_CHANGE_ID,
  OPT_VERIFY,
  OPT_CHECKSUM,
  OPT_THREADS,
  OPT_SPARSE_SIZE,
  OPT_PROGRESS,
  OPT_OVERWRITE,
  OPT_CHECKPOINT,
  OPT_GUESTFIX,
  OPT_NO_GUESTFIX,
  OPT_CI_USER,
  OPT_CI_META,
  OPT_CI_NET,
};

static const struct option long_opts[] = {
  { "state", required_argument, NULL, OPT_STATE },
  { "changes", required_argument, NULL, OPT_CHANGES },
  { "bitmap", required_argument, NULL, OPT_BITMAP },
  { "full", no_argument, NULL, OPT_FULL },
  { "change-id", required_argument, NULL, OPT_CHANGE_ID },
  { "verify", no_argument, NULL, OPT_VERIFY },
  { "checksum", no_argument, NULL, OPT_CHECKSUM },
  { "format", required_argument, NULL, 'O' },
  { "threads", required_argument, NULL, OPT_THREADS },
  { "sparse-size", required_argument, NULL, OPT_SPARSE_SIZE },
  { "progress", optional_argument, NULL, OPT_PROGRESS },
  { "overwrite", no_argument, NULL, OPT_OVERWRITE },
  { "checkpoint-interval", required_argument, NULL, OPT_CHECKPOINT },
  { "guestfix", no_argument, NULL, OPT_GUESTFIX },
  { "no-guestfix", no_argument, NULL, OPT_NO_GUESTFIX },
  { "cloud-init-user-data", required_argument, NULL, OPT_CI_USER },
  { "cloud-init-meta-data", required_argument, NULL, OPT_CI_META },
  { "cloud-init-network-config", required_argument, NULL, OPT_CI_NET },
  { "verbose", no_argument, NULL, 'v' },
  { "quiet", no_argument, NULL, 'q' },
  { "help", no_argument, NULL, 'h' },
  CLI_SOURCE_LONG_OPTS,
  { NULL, 0, NULL, 0 },
};

static void
usage (FILE *f, const char *cmd)
{
  fprintf (f,
    "Usage: ferry %s [OPTIONS] SOURCE DEST --state STATE\n"
    "\n"
    "Warm migration of one disk.  The first run (no STATE yet, or --full)\n"
    "copies the whole disk into DEST.sync and renames it to DEST when done\n"
    "(a block device or an NBD export, raw only, is written in place).\n"
    "Each later run copies only the ranges that changed, into DEST in place,\n"
    "and records the change id it reached in STATE.  A run that is killed\n"
    "resumes from its last checkpoint when started again.\n"
    "%s"
    "\n"
    "Options:\n"
    "      --state=FILE           the sync state of this disk (JSON; required)\n"
    "      --changes=FILE         changed areas as a DiskChangeInfo JSON file\n"
    "                             (changeId, previousChangeId, startOffset,\n"
    "                             length, changedArea[] of {start, length})\n"
    "      --bitmap=NAME          changed areas from the NBD dirty bitmap NAME\n"
    "                             of SOURCE (qemu:dirty-bitmap:NAME)\n"
    "      --full                 copy the whole disk again (new baseline)\n"
    "      --change-id=ID         the change id a first or --full sync\n"
    "                             records (default \"*\")\n"
    "  -O, --format=raw|qcow2     DEST format on the first sync (default raw)\n"
    "      --overwrite            first sync: replace an existing DEST\n"
    "      --checksum             store the checksum of DEST in STATE\n"
    "%s"
    "      --threads=N            copy threads (default: number of CPUs)\n"
    "      --sparse-size=SIZE     zero-detection block (default 4k)\n"
    "      --checkpoint-interval=SECONDS\n"
    "                             how often progress is made durable\n"
    "                             (default 2)\n"
    "      --progress[=MODE]      bar, plain, json or none\n"
    "  -v, --verbose              more messages\n"
    "  -q, --quiet                errors only\n"
    "  -h, --help                 this text\n"
    "%s"
    "\n"
    "A change list must follow the change id STATE records (its\n"
    "previousChangeId), or be a full list (\"*\"); a gap, or a source whose\n"
    "size changed, stops with an error: run with --full to start again.\n",
    cmd,
    strcmp (cmd, "cutover") == 0
        ? "cutover is the final sync (the source VM stopped), the same code,\n"
          "followed with --verify by a checksum comparison of SOURCE and DEST,\n"
          "then by guest conversion of DEST (see 'ferry guestfix'), so the\n"
          "final copy boots on KVM: by default when DEST holds an operating\n"
          "system (a data disk is left as copied).  After that DEST is final:\n"
          "STATE records the conversion and later syncs into DEST are refused.\n"
        : "",
    strcmp (cmd, "cutover") == 0
        ? "      --verify               compare checksums of SOURCE and DEST\n"
          "      --guestfix             convert the guest on DEST; no operating\n"
          "                             system there is an error\n"
          "      --no-guestfix          leave DEST as copied\n"
          "      --cloud-init-user-data=FILE, --cloud-init-meta-data=FILE,\n"
          "      --cloud-init-network-config=FILE\n"
          "                             a cloud-init NoCloud seed written into\n"
          "                             the guest by the conversion\n"
        : "",
    cli_source_help);
}

struct ckpt {
  struct ferry_sync_state *st;
  const char *state_path;
  struct ferry_target *t;
  double interval, last;
  int err;           /* a checkpoint failed: stop checkpointing */
  char errmsg[512];
  const struct ferry_log *log;
};

/* Called by the copy engine, serialised, as each piece is written. */
static void
piece_done (void *opaque, uint64_t off, uint64_t len)
{
  struct ckpt *k = opaque;
  double now = progress_now ();

  if (k->err)
    return;
  if (ferry_ranges_add (&k->st->done, &k->st->n_done, &k->st->cap_done,
                        (struct ferry_range) { off, len }) < 0)
    goto fail;
  if (now - k->last < k->interval)
    return;
  k->last = now;
  /* Target first: the state must never claim ranges the target could
   * still lose. */
  if ((k->t->ops->checkpoint && k->t->ops->checkpoint (k->t) < 0)
      || ferry_sync_state_save (k->state_path, k->st) < 0)
    goto fail;
  return;
fail:
  k->err = -1;
  snprintf (k->errmsg, sizeof k->errmsg, "%s", ferry_error_msg ());
  ferry_warn (k->log, "checkpoint failed, continuing without: %s", k->errmsg);
}

static int
file_exists (const char *p)
{
  struct stat st;

  return stat (p, &st) == 0;
}

static int
is_blockdev (const char *p)
{
  struct stat st;

  return stat (p, &st) == 0 && S_ISBLK (st.st_mode);
}

/* Create an empty DEST-format image at path (through the normal target,
 * which writes path.part and renames it). */
static int
create_empty (const char *path, uint64_t size, const char *format,
              const struct ferry_log *log)
{
  struct ferry_target_opts to = { .format = format, .overwrite = true,
                                  .log = log };
  struct ferry_target *t = ferry_target_open (path, size, &to);
  int r;

  if (!t)
    return -1;
  r = t->ops->finish (t);
  if (r < 0)
    t->ops->abort (t);
  ferry_target_close (t);
  return r;
}

/* Checksum of a disk image ferry can read, by reading it all. */
static int
checksum_of (const char *path, const struct cli_source *so,
             const struct ferry_log *log, unsigned threads, char *out)
{
  struct ferry_open_opts oo = { .log = log };
  struct ferry_copy_opts co = { .threads = threads,
                                .sparse_size = FERRY_COPY_DEFAULT_SPARSE,
                                .log = log };
  struct ferry_disk *d = cli_open_disk (path, so, &oo, false, "checksum");
  struct ferry_target *t;
  int r;

  if (!d)
    return -1;
  if (!(t = ferry_target_null_new (d->size))) {
    ferry_disk_close (d);
    return -1;
  }
  r = ferry_copy (d, t, &co, NULL, out);
  ferry_target_close (t);
  ferry_disk_close (d);
  if (r == 0 && !out[0])
    r = ferry_error (FERRY_E_INPUT, "%s: no checksum could be computed", path);
  return r;
}

static void
utc_now (char *buf, size_t size)
{
  time_t now = time (NULL);
  struct tm tm;
  gmtime_r (&now, &tm);
  strftime (buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* cutover: convert the guest on DEST in place (all or nothing, see
 * guestfix/guestfix.h), then record in STATE that DEST is converted.
 * REQUIRED false: a disk with no operating system is left as copied. */
static int
cutover_guestfix (const char *dst, struct ferry_sync_state *st,
                  const char *state_path, bool required,
                  struct ferry_cloudinit *ci, const struct ferry_log *log)
{
  struct guestfix_opts go = { .disk = dst, .format = st->format, .log = log,
                              .cloudinit = ci };
  struct guestfix_result gr;
  char when[32];
  int r;

  guestfix_result_init (&gr);
  r = guestfix_run (&go, &gr);
  if (r < 0) {
    if (!required && gr.failed_step && strcmp (gr.failed_step, "inspect") == 0
        && !gr.root && gr.error
        && strstr (gr.error, "no operating system found")
        /* a root inside a locked LUKS device is no data disk */
        && !strstr (gr.error, "LUKS-encrypted")) {
      ferry_warn (log, "%s: no operating system found; guest conversion "
                  "skipped (a data disk?  --guestfix makes this an error)",
                  dst);
      ferry_error_clear ();
      r = 0;
    }
    else
      ferry_error_prefix ("%s holds change id %s as copied; fix the cause "
                          "and run the same cutover again (or "
                          "--no-guestfix)", dst, st->change_id);
    guestfix_result_free (&gr);
    return r;
  }
  for (size_t i = 0; i < gr.n_notes; i++)
    ferry_info (log, "guestfix: %s: %s", gr.notes[i].step, gr.notes[i].text);
  printf ("%s: guest converted (%s): %zu changes in %.1f s\n", dst,
          gr.product_name ? gr.product_name
                          : gr.distro ? gr.distro : "unknown",
          gr.n_changes, gr.total_seconds);
  guestfix_result_free (&gr);
  utc_now (when, sizeof when);
  st->converted = true;
  free (st->converted_at);
  if (!(st->converted_at = strdup (when)))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  if (ferry_sync_state_save (state_path, st) < 0)
    return ferry_error_prefix ("%s was converted, but recording it failed",
                               dst);
  return 0;
}

static int
sync_main (int argc, char **argv, struct cli_common *g, const char *cmd)
{
  const char *state_path = NULL, *changes_path = NULL, *bitmap = NULL;
  const char *change_id = NULL, *format = NULL, *progress_arg = NULL;
  bool full = false, verify = false, want_checksum = false, overwrite = false;
  bool want_progress = false, cutover = strcmp (cmd, "cutover") == 0;
  int gfix = -1; /* cutover: -1 when there is an OS, 0 never, 1 always */
  const char *ci_user = NULL, *ci_meta = NULL, *ci_net = NULL;
  struct ferry_cloudinit ci = { 0 };
  double interval = 2.0;
  struct ferry_copy_opts co = { .sparse_size = FERRY_COPY_DEFAULT_SPARSE,
                                .log = &g->log };
  struct ferry_open_opts oo = { .log = &g->log };
  struct ferry_sync_state st = { 0 };
  struct ferry_changes ch = { 0 };
  struct ferry_disk *d = NULL;
  struct ferry_target *t = NULL;
  struct ferry_range *todo = NULL;
  size_t n_todo = 0;
  struct cli_source so;
  enum progress_mode pmode = PROGRESS_NONE;
  struct progress prog;
  struct ferry_progress result = { 0 };
  char *staging = NULL, *src_name = NULL;
  bool first, resume = false, was_in_progress;
  uint64_t v, already = 0, total = 0;
  int c, code = 0, loaded;

  cli_source_init (&so, &g->log);
  optind = 1;
  while ((c = getopt_long (argc, argv, "O:vqh", long_opts, NULL)) != -1) {
    switch (c) {
    case OPT_STATE: state_path = optarg; break;
    case OPT_CHANGES: changes_path = optarg; break;
    case OPT_BITMAP: bitmap = optarg; break;
    case OPT_FULL: full = true; break;
    case OPT_CHANGE_ID: change_id = optarg; break;
    case OPT_VERIFY: verify = true; break;
    case OPT_CHECKSUM: want_checksum = true; break;
    case OPT_OVERWRITE: overwrite = true; break;
    case 'O': format = optarg; break;
    case OPT_THREADS:
      if (cli_parse_size (optarg, &v) < 0 || v == 0 || v > 64) {
        fprintf (stderr, "ferry: --threads=%s: expected 1 to 64\n", optarg);
        return FERRY_E_USAGE;
      }
      co.threads = (unsigned) v;
      break;
    case OPT_SPARSE_SIZE:
      if (cli_parse_size (optarg, &v) < 0 || (v & (v - 1))) {
        fprintf (stderr, "ferry: --sparse-size=%s: expected 0 or a power of "
                 "two\n", optarg);
        return FERRY_E_USAGE;
      }
      co.sparse_size = (size_t) v;
      break;
    case OPT_CHECKPOINT:
      interval = strtod (optarg, NULL);
      if (!(interval >= 0)) {
        fprintf (stderr, "ferry: --checkpoint-interval=%s: expected seconds\n",
                 optarg);
        return FERRY_E_USAGE;
      }
      break;
    case OPT_PROGRESS: want_progress = true; progress_arg = optarg; break;
    case OPT_GUESTFIX: gfix = 1; break;
    case OPT_NO_GUESTFIX: gfix = 0; break;
    case OPT_CI_USER: ci_user = optarg; break;
    case OPT_CI_META: ci_meta = optarg; break;
    case OPT_CI_NET: ci_net = optarg; break;
    case 'v': g->log.level++; break;
    case 'q': g->log.level = FERRY_LOG_ERROR; break;
    case 'h': usage (stdout, cmd); return 0;
    default:
      if (c >= CLI_SOURCE_OPT_BASE && c < CLI_SOURCE_OPT_END) {
        if (cli_source_option (&so, c, optarg, cmd) < 0)
          return FERRY_E_USAGE;
        break;
      }
      usage (stderr, cmd);
      return FERRY_E_USAGE;
    }
  }
  if (argc - optind != 2 || !state_path) {
    fprintf (stderr, "ferry %s: expected SOURCE DEST and --state=FILE\n", cmd);
    usage (stderr, cmd);
    return FERRY_E_USAGE;
  }
  if (changes_path && bitmap) {
    fprintf (stderr, "ferry: --changes and --bitmap cannot be combined\n");
    return FERRY_E_USAGE;
  }
  if (!cutover && (gfix >= 0 || ci_user || ci_meta || ci_net)) {
    fprintf (stderr, "ferry sync: guest conversion and cloud-init options "
             "belong to 'ferry cutover' (the final sync)\n");
    return FERRY_E_USAGE;
  }
  if (gfix == 0 && (ci_user || ci_meta || ci_net)) {
    fprintf (stderr, "ferry cutover: the cloud-init seed is written by guest "
             "conversion, which --no-guestfix skips\n");
    return FERRY_E_USAGE;
  }
  if (ci_user || ci_meta || ci_net)
    gfix = 1; /* a seed is asked for: the guest must be there */
  if (format && strcmp (format, "raw") != 0 && strcmp (format, "qcow2") != 0) {
    fprintf (stderr, "ferry: --format=%s: expected raw or qcow2\n", format);
    return FERRY_E_USAGE;
  }
  if (want_progress && progress_mode_parse (progress_arg, &pmode) < 0) {
    fprintf (stderr, "ferry: --progress=%s: expected bar, plain, json or "
             "none\n", progress_arg);
    return FERRY_E_USAGE;
  }
  if (!want_progress && g->log.level > FERRY_LOG_ERROR && isatty (STDERR_FILENO))
    pmode = PROGRESS_BAR;
  const char *src = argv[optind], *dst = argv[optind + 1];
  if (cli_source_finish (&so, cmd, &code) < 0)
    return code;
  src_name = cli_source_name (src);
  if (ferry_cloudinit_load (&ci, ci_user, ci_meta, ci_net, &g->log) < 0)
    goto fail;

  if ((loaded = ferry_sync_state_load (state_path, &st)) < 0)
    goto fail;
  if (loaded && st.converted && !full) {
    ferry_error (FERRY_E_USAGE, "%s: %s was converted for KVM at cutover%s%s; "
                 "the guest's changes are in it, and syncing more source "
                 "changes on top would mix the two: it is final (--full "
                 "copies the whole disk again)", state_path, dst,
                 st.converted_at ? " on " : "",
                 st.converted_at ? st.converted_at : "");
    goto fail;
  }
  if (loaded && strcmp (st.target, dst) != 0) {
    ferry_error (FERRY_E_USAGE, "%s: this state belongs to the target %s, not "
                 "%s", state_path, st.target, dst);
    goto fail;
  }
  was_in_progress = loaded && st.in_progress;
  first = !loaded || full || (!st.change_id && !st.in_progress);
  if (loaded && !st.change_id && st.in_progress)
    first = true; /* the first copy was interrupted */
  if (!first && !changes_path && !bitmap) {
    ferry_error (FERRY_E_USAGE, "%s: %s already holds change id %s: give "
                 "--changes or --bitmap (or --full to copy everything again)",
                 state_path, dst, st.change_id);
    goto fail;
  }
  if (loaded && format && strcmp (format, st.format) != 0 && !full) {
    ferry_error (FERRY_E_USAGE, "--format=%s: %s is %s (from %s)", format, dst,
                 st.format, state_path);
    goto fail;
  }
  if (!loaded && file_exists (dst) && !overwrite && !is_blockdev (dst)) {
    ferry_error (FERRY_E_OUTPUT, "%s: already exists and %s has no state for "
                 "it (use --overwrite to replace it)", dst, state_path);
    goto fail;
  }

  /* A server may take one client at a time: read the bitmap, and let go
   * of it, before the disk is opened. */
  if (!first && bitmap
      && ferry_changes_from_nbd_bitmap (src, bitmap, 0, &ch) < 0)
    goto fail;
  if (!(d = cli_open_disk (src, &so, &oo, true, cmd)))
    goto fail;
  if (loaded && st.size != d->size && !full) {
    ferry_error (FERRY_E_INPUT, "%s: the source is now %" PRIu64 " bytes, but "
                 "%s was copied from %" PRIu64 " bytes: run with --full to "
                 "start again", src_name, d->size, dst, st.size);
    goto fail;
  }

  /* What to copy. */
  if (first) {
    if (ferry_changes_everything (d->size, change_id ? change_id : "*", &ch) < 0)
      goto fail;
  }
  else if (changes_path) {
    if (ferry_changes_from_json (changes_path, d->size, &ch) < 0)
      goto fail;
  }
  else if (ferry_changes_normalize (&ch, d->size, src_name) < 0)
    goto fail;
  /* A cutover run again after its guest conversion failed, with the
   * change list it applied: the copy is done, only the conversion is left.
   * (Not for bitmaps: their change id is the bitmap's name, which does not
   * change as the bitmap collects more writes.) */
  if (cutover && !first && !st.in_progress && gfix != 0 && changes_path
      && strcmp (ch.change_id, st.change_id) == 0
      && (!ch.since || strcmp (ch.since, st.change_id) != 0)) {
    ferry_info (&g->log, "%s already holds change id %s: nothing to copy",
                dst, st.change_id);
    goto convert;
  }
  if (!first && ch.since && strcmp (ch.since, "*") != 0
      && strcmp (ch.since, st.change_id) != 0) {
    ferry_error (FERRY_E_INPUT, "%s: the changes are relative to change id %s, "
                 "but %s holds change id %s: a sync is missing (run with "
                 "--full to start again)",
                 changes_path ? changes_path : src_name, ch.since, dst,
                 st.change_id);
    goto fail;
  }
  if (!first && !ch.since)
    ferry_info (&g->log, "%s: bitmap %s cannot be checked for gaps; it must "
                "cover every write since change id %s", src_name, bitmap,
                st.change_id);

  /* Resume? Only when the interrupted sync applied the same change list. */
  if (loaded && st.in_progress && !full
      && strcmp (st.ip_change_id, ch.change_id) == 0
      && ((!st.ip_since && !ch.since)
          || (st.ip_since && ch.since && strcmp (st.ip_since, ch.since) == 0)))
    resume = true;
  else if (loaded && st.in_progress && !first)
    ferry_warn (&g->log, "%s: an interrupted sync to change id %s left %s "
                "partly updated; applying %s in full", state_path,
                st.ip_change_id, dst, ch.change_id);
  if (!resume) {
    free (st.done);
    st.done = NULL;
    st.n_done = st.cap_done = 0;
  }
  if (ferry_ranges_subtract (ch.v, ch.n, st.done, st.n_done, &todo, &n_todo) < 0)
    goto fail;
  for (size_t i = 0; i < ch.n; i++)
    total += ch.v[i].length;
  for (size_t i = 0; i < n_todo; i++)
    already += todo[i].length;
  already = total - already;
  if (resume)
    ferry_info (&g->log, "%s: resuming the sync to change id %s: %" PRIu64
                " of %" PRIu64 " bytes already done", dst, ch.change_id,
                already, total);

  /* The target. */
  if (first) {
    /* A copy: st is rebuilt below. */
    char fmt[8];
    snprintf (fmt, sizeof fmt, "%s",
              format ? format : (loaded ? st.format : "raw"));
    if (is_blockdev (dst) || ferry_is_nbd_uri (dst)) {
      /* Written in place: there is no beside to build the copy in. */
      if (strcmp (fmt, "raw") != 0) {
        ferry_error (FERRY_E_USAGE, "%s: %s takes raw", dst,
                     ferry_is_nbd_uri (dst) ? "an NBD export" : "a block device");
        goto fail;
      }
    }
    else {
      /* The first copy is built beside DEST, so DEST never names a
       * half-copied disk. */
      if (asprintf (&staging, "%s.sync", dst) < 0) {
        staging = NULL;
        ferry_error (FERRY_E_SYSTEM, "out of memory");
        goto fail;
      }
      if (!(resume && file_exists (staging))) {
        resume = false;
        free (st.done);
        st.done = NULL;
        st.n_done = st.cap_done = 0;
        free (todo);
        todo = NULL;
        if (ferry_ranges_subtract (ch.v, ch.n, NULL, 0, &todo, &n_todo) < 0
            || create_empty (staging, d->size, fmt, &g->log) < 0)
          goto fail;
      }
    }
    ferry_sync_state_free (&st);
    memset (&st, 0, sizeof st);
    if (!(st.source = strdup (src_name)) || !(st.target = strdup (dst))
        || !(st.format = strdup (fmt))) {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto fail;
    }
    st.size = d->size;
    if (resume) {
      /* Keep the ranges the interrupted first copy recorded. */
      struct ferry_sync_state old;
      if (ferry_sync_state_load (state_path, &old) > 0) {
        st.done = old.done;
        st.n_done = old.n_done;
        st.cap_done = old.cap_done;
        old.done = NULL;
        ferry_sync_state_free (&old);
      }
    }
  }
  {
    struct ferry_target_opts to = { .format = st.format, .in_place = true,
                                    .allow_dirty = was_in_progress,
                                    .nbd_timeout = so.o.nbd_timeout,
                                    .log = &g->log };
    if (!(t = ferry_target_open (staging ? staging : dst, d->size, &to)))
      goto fail;
  }

  /* Mark the sync in progress before the first write. */
  st.in_progress = true;
  free (st.ip_change_id);
  free (st.ip_since);
  st.ip_change_id = strdup (ch.change_id);
  st.ip_since = ch.since ? strdup (ch.since) : NULL;
  if (!st.ip_change_id || (ch.since && !st.ip_since)) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto fail;
  }
  if (ferry_sync_state_save (state_path, &st) < 0)
    goto fail;

  struct ckpt k = { .st = &st, .state_path = state_path, .t = t,
                    .interval = interval, .last = progress_now (),
                    .log = &g->log };
  co.ranges = todo;
  co.n_ranges = n_todo;
  co.range_done = piece_done;
  co.range_done_opaque = &k;
  progress_init (&prog, pmode);
  if (pmode != PROGRESS_NONE) {
    co.progress = progress_update;
    co.progress_opaque = &prog;
  }
  if ((n_todo && ferry_copy (d, t, &co, &result, NULL) < 0)
      || t->ops->finish (t) < 0) {
    code = cli_fail ();
    progress_finish (&prog, &result, false);
    /* Keep what is durable for the next run. */
    ferry_target_close (t);
    t = NULL;
    goto out;
  }
  progress_finish (&prog, &result, true);
  ferry_target_close (t);
  t = NULL;
  if (staging && ferry_rename_durable (staging, dst) < 0)
    goto fail;

  free (st.change_id);
  st.change_id = strdup (ch.change_id);
  st.in_progress = false;
  st.syncs++;
  free (st.checksum);
  st.checksum = NULL;
  if (want_checksum || verify) {
    char sum[FERRY_CHECKSUM_MAX];
    if (checksum_of (dst, &so, &g->log, co.threads, sum) < 0
        || !(st.checksum = strdup (sum)))
      goto fail;
  }
  if (!st.change_id || ferry_sync_state_save (state_path, &st) < 0)
    goto fail;
  ferry_info (&g->log, "%s: now at change id %s: %" PRIu64 " bytes in %zu "
              "ranges (%" PRIu64 " copied, %" PRIu64 " zero, %" PRIu64
              " done before)", dst, st.change_id, total, ch.n, result.data,
              result.zero, already);

  if (verify) {
    char sum[FERRY_CHECKSUM_MAX];
    if (checksum_of (src, &so, &g->log, co.threads, sum) < 0)
      goto fail;
    if (strcmp (sum, st.checksum) != 0) {
      ferry_error (FERRY_E_OUTPUT, "verification failed: %s is %s, %s is %s",
                   src_name, sum, dst, st.checksum);
      goto fail;
    }
    printf ("verified: %s  %s %s\n", sum, src_name, dst);
  }
  else if (want_checksum)
    printf ("%s  %s\n", st.checksum, dst);

convert:
  if (cutover && gfix != 0) {
    /* Let go of the source (a server may take one client at a time). */
    ferry_disk_close (d);
    d = NULL;
    if (cutover_guestfix (dst, &st, state_path, gfix == 1, &ci, &g->log) < 0)
      goto fail;
  }
  goto out;

fail:
  code = cli_fail ();
out:
  if (t) {
    t->ops->abort (t);
    ferry_target_close (t);
  }
  ferry_disk_close (d);
  ferry_changes_free (&ch);
  ferry_sync_state_free (&st);
  cli_source_free (&so);
  free (todo);
  free (staging);
  free (src_name);
  ferry_cloudinit_free (&ci);
  return code;
}

int
cmd_sync (int argc, char **argv, struct cli_common *g)
{
  return sync_main (argc, argv, g, "sync");
}

int
cmd_cutover (int argc, char **argv, struct cli_common *g)
{
  return sync_main (argc, argv, g, "cutover");
}
