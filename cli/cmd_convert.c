/* ferry convert: one disk image to a raw file or block device. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/error.h"
#include "converters/copy.h"
#include "converters/format.h"
#include "converters/target.h"
#include "importer/transport.h"

static void
usage (FILE *f)
{
  fprintf (f,
    "Usage: ferry convert [OPTIONS] SOURCE DEST\n"
    "\n"
    "Copy the disk image SOURCE (any VMDK variant, raw, or a qcow2 ferry\n"
    "wrote) to DEST: a raw or qcow2 file, a block device, or an NBD export.\n"
    "SOURCE is a path, '-' (a stream on standard input), an http:// or\n"
    "https:// URL, or an nbd://, nbds:// or nbd+unix:// URI.  A gzip, xz,\n"
    "zstd or bzip2 compressed SOURCE is decompressed as a stream (raw and\n"
    "streamOptimized VMDK only).  A file DEST is written as DEST.part and\n"
    "renamed when complete.\n"
    "\n"
    "A whole VM: ferry convert [OPTIONS] VM.vmx|VM.ovf -o DIR (see\n"
    "'ferry convert VM.vmx -o DIR --help').\n"
    "\n"
    "Options:\n"
    "  -O, --format=raw|qcow2     output format (default raw)\n"
    "      --cluster-size=SIZE    qcow2 cluster size (default 64k)\n"
    "      --compress[=zlib|zstd] qcow2 compressed clusters (default zstd)\n"
    "      --source-format=auto|vmdk|raw\n"
    "                             source format (default: detect)\n"
    "      --overwrite            replace an existing DEST file\n"
    "      --preallocate[=full|metadata]\n"
    "                             raw: allocate every byte of a DEST file;\n"
    "                             qcow2: metadata (tables, cluster offsets)\n"
    "      --sequential           read SOURCE once, front to back (raw and\n"
    "                             streamOptimized VMDK); implied for '-' and\n"
    "                             for HTTP servers without Range support\n"
    "      --allow-absolute-extents\n"
    "                             follow VMDK extent and parent paths that are\n"
    "                             absolute or leave the descriptor's directory\n"
    "      --ignore-cid           do not check parentCID against the parent\n"
    "      --checksum             compute the disk checksum on the way and\n"
    "                             print it (same value as 'ferry checksum')\n"
    "      --threads=N            copy threads (default: number of CPUs)\n"
    "      --request-size=SIZE    largest read (default 2M)\n"
    "      --sparse-size=SIZE     zero-detection block (default 4k; 0: off)\n"
    "      --progress[=MODE]      bar, plain, json or none; without a MODE:\n"
    "                             bar on a terminal, else plain.  Without\n"
    "                             the option: a bar on a terminal, else none\n"
    "      --log-format=text|json\n"
    "  -v, --verbose              more messages (twice: debug)\n"
    "  -q, --quiet                errors only\n"
    "  -h, --help                 this text\n"
    "\n%s", cli_source_help);
}

enum {
  OPT_SOURCE_FORMAT = 256, OPT_OVERWRITE, OPT_PREALLOCATE, OPT_SEQUENTIAL,
  OPT_ALLOW_ABS, OPT_IGNORE_CID, OPT_THREADS, OPT_REQUEST_SIZE,
  OPT_SPARSE_SIZE, OPT_PROGRESS, OPT_LOG_FORMAT, OPT_CLUSTER_SIZE,
  OPT_COMPRESS, OPT_CHECKSUM,
};

static const struct option long_opts[] = {
  { "format", required_argument, NULL, 'O' },
  { "source-format", required_argument, NULL, OPT_SOURCE_FORMAT },
  { "overwrite", no_argument, NULL, OPT_OVERWRITE },
  { "preallocate", optional_argument, NULL, OPT_PREALLOCATE },
  { "cluster-size", required_argument, NULL, OPT_CLUSTER_SIZE },
  { "compress", optional_argument, NULL, OPT_COMPRESS },
  { "checksum", no_argument, NULL, OPT_CHECKSUM },
  { "sequential", no_argument, NULL, OPT_SEQUENTIAL },
  { "allow-absolute-extents", no_argument, NULL, OPT_ALLOW_ABS },
  { "ignore-cid", no_argument, NULL, OPT_IGNORE_CID },
  { "threads", required_argument, NULL, OPT_THREADS },
  { "request-size", required_argument, NULL, OPT_REQUEST_SIZE },
  { "sparse-size", required_argument, NULL, OPT_SPARSE_SIZE },
  { "progress", optional_argument, NULL, OPT_PROGRESS },
  { "log-format", required_argument, NULL, OPT_LOG_FORMAT },
  { "verbose", no_argument, NULL, 'v' },
  { "quiet", no_argument, NULL, 'q' },
  { "help", no_argument, NULL, 'h' },
  CLI_SOURCE_LONG_OPTS,
  { NULL, 0, NULL, 0 },
};

/* Bytes this process read through read(2)-like calls: the honest measure
 * of how much of the source was touched. */
static unsigned long long
bytes_read_by_process (void)
{
  FILE *f = fopen ("/proc/self/io", "r");
  char line[128];
  unsigned long long v = 0;
  if (!f)
    return 0;
  while (fgets (line, sizeof line, f))
    if (sscanf (line, "rchar: %llu", &v) == 1)
      break;
  fclose (f);
  return v;
}

static int
usage_error (const char *fmt, const char *arg)
{
  fprintf (stderr, "ferry: ");
  fprintf (stderr, fmt, arg);
  fprintf (stderr, " (see 'ferry convert --help')\n");
  return FERRY_E_USAGE;
}

int
cmd_convert (int argc, char **argv, struct cli_common *g)
{
  struct ferry_open_opts oo = { .log = &g->log };
  struct ferry_target_opts to = { .format = "raw", .log = &g->log };
  struct ferry_copy_opts co = { .sparse_size = FERRY_COPY_DEFAULT_SPARSE,
                                .log = &g->log };
  const char *progress_arg = NULL;
  bool want_progress = false, want_checksum = false;
  char checksum[FERRY_CHECKSUM_MAX];
  enum progress_mode pmode = PROGRESS_NONE;
  struct progress prog;
  struct ferry_progress result = { 0 };
  struct ferry_disk *d;
  struct ferry_target *t;
  struct cli_source so;
  uint64_t v;
  int c, code;
  double t0;

  if (cli_convert_is_vm (argc, argv))
    return cmd_convert_vm (argc, argv, g);
  cli_source_init (&so, &g->log);
  optind = 1;
  while ((c = getopt_long (argc, argv, "O:vqh", long_opts, NULL)) != -1) {
    switch (c) {
    case 'O': to.format = optarg; break;
    case OPT_SOURCE_FORMAT: oo.format = optarg; break;
    case OPT_OVERWRITE: to.overwrite = true; break;
    case OPT_PREALLOCATE:
      if (!optarg || strcmp (optarg, "full") == 0)
        to.preallocate = true;
      else if (strcmp (optarg, "metadata") == 0)
        to.preallocate_metadata = true;
      else
        return usage_error ("--preallocate=%s: expected full or metadata",
                            optarg);
      break;
    case OPT_CLUSTER_SIZE:
      if (cli_parse_size (optarg, &v) < 0 || v < 512 || v > (2u << 20)
          || (v & (v - 1)))
        return usage_error ("--cluster-size=%s: expected a power of two "
                            "from 512 to 2M", optarg);
      to.cluster_size = (uint32_t) v;
      break;
    case OPT_COMPRESS:
      if (!optarg)
        to.compress = "zstd";
      else if (strcmp (optarg, "zlib") == 0 || strcmp (optarg, "zstd") == 0)
        to.compress = optarg;
      else
        return usage_error ("--compress=%s: expected zlib or zstd", optarg);
      break;
    case OPT_SEQUENTIAL: oo.sequential = true; break;
    case OPT_ALLOW_ABS: oo.allow_absolute_extents = true; break;
    case OPT_IGNORE_CID: oo.ignore_cid = true; break;
    case OPT_THREADS:
      if (cli_parse_size (optarg, &v) < 0 || v < 1 || v > 64)
        return usage_error ("--threads=%s: expected a number from 1 to 64",
                            optarg);
      co.threads = (unsigned) v;
      break;
    case OPT_REQUEST_SIZE:
      if (cli_parse_size (optarg, &v) < 0 || v < 4096 || v > (64u << 20)
          || v % 512)
        return usage_error ("--request-size=%s: expected a multiple of 512 "
                            "from 4k to 64M", optarg);
      co.request_size = (size_t) v;
      break;
    case OPT_SPARSE_SIZE:
      if (cli_parse_size (optarg, &v) < 0
          || (v && (v < 512 || v > (64u << 20) || (v & (v - 1)))))
        return usage_error ("--sparse-size=%s: expected 0 or a power of two "
                            "from 512 to 64M", optarg);
      co.sparse_size = (size_t) v;
      break;
    case OPT_CHECKSUM: want_checksum = true; break;
    case OPT_PROGRESS:
      want_progress = true;
      progress_arg = optarg;
      break;
    case OPT_LOG_FORMAT:
      if (strcmp (optarg, "json") == 0)
        g->log.json = true;
      else if (strcmp (optarg, "text") != 0)
        return usage_error ("--log-format=%s: expected text or json", optarg);
      break;
    case 'v': g->log.level++; break;
    case 'q': g->log.level = FERRY_LOG_ERROR; break;
    case 'h': usage (stdout); return 0;
    default:
      if (c >= CLI_SOURCE_OPT_BASE && c < CLI_SOURCE_OPT_END) {
        if (cli_source_option (&so, c, optarg, "convert") < 0)
          return FERRY_E_USAGE;
        break;
      }
      usage (stderr);
      return FERRY_E_USAGE;
    }
  }
  if (argc - optind != 2) {
    fprintf (stderr, "ferry convert: expected SOURCE and DEST\n");
    usage (stderr);
    return FERRY_E_USAGE;
  }
  if (want_progress && progress_mode_parse (progress_arg, &pmode) < 0)
    return usage_error ("--progress=%s: expected bar, plain, json or none",
                        progress_arg);
  /* Without --progress: a bar for a person at a terminal, silence for
   * scripts and logs. */
  if (!want_progress && g->log.level > FERRY_LOG_ERROR
      && isatty (STDERR_FILENO))
    pmode = PROGRESS_BAR;
  const char *src = argv[optind], *dst = argv[optind + 1];

  /* Check option combinations before touching the source, so a usage
   * mistake costs nothing. */
  bool qcow2 = strcmp (to.format, "qcow2") == 0;
  if (!qcow2 && strcmp (to.format, "raw") != 0)
    return usage_error ("--format=%s: expected raw or qcow2", to.format);
  if (!qcow2 && (to.compress || to.cluster_size || to.preallocate_metadata))
    return usage_error ("%s: --compress, --cluster-size and "
                        "--preallocate=metadata need --format=qcow2",
                        to.format);
  if (qcow2 && to.preallocate)
    return usage_error ("%s: --preallocate=full is for raw output; qcow2 "
                        "takes --preallocate=metadata", to.format);

  if (cli_source_finish (&so, "convert", &code) < 0)
    return code;
  to.nbd_timeout = so.o.nbd_timeout;
  t0 = progress_now ();
  d = cli_open_disk (src, &so, &oo, false, "convert");
  cli_source_free (&so);
  if (!d)
    return cli_fail ();
  {
    char *name = cli_source_name (src);
    ferry_info (&g->log, "%s: %s (%s), virtual size %llu bytes%s", name,
                d->ops->name, d->subformat ? d->subformat : "-",
                (unsigned long long) d->size,
                d->sequential ? ", read front to back" : "");
    free (name);
  }

  t = ferry_target_open (dst, d->size, &to);
  if (!t) {
    int code = cli_fail ();
    ferry_disk_close (d);
    return code;
  }
  progress_init (&prog, pmode);
  if (pmode != PROGRESS_NONE) {
    co.progress = progress_update;
    co.progress_opaque = &prog;
  }
  if (ferry_copy (d, t, &co, &result, want_checksum ? checksum : NULL) < 0 || t->ops->finish (t) < 0) {
    int code = cli_fail ();
    progress_finish (&prog, &result, false);
    t->ops->abort (t);
    ferry_target_close (t);
    ferry_disk_close (d);
    return code;
  }
  progress_finish (&prog, &result, true);
  if (want_checksum && checksum[0])
    printf ("%s  %s\n", checksum, dst);
  double secs = progress_now () - t0;
  ferry_info (&g->log,
              "%s: wrote %llu bytes of data, %llu bytes zero, virtual size "
              "%llu, %.2f s, source bytes read: %llu",
              dst, (unsigned long long) result.data,
              (unsigned long long) result.zero,
              (unsigned long long) d->size, secs, bytes_read_by_process ());
  ferry_target_close (t);
  ferry_disk_close (d);
  return 0;
}
