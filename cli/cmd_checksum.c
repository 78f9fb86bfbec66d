/* ferry checksum: the disk checksum of any image ferry reads, equal to what
 * "ferry convert --checksum" prints for the same content. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/error.h"
#include "converters/copy.h"
#include "converters/format.h"
#include "importer/transport.h"

static void
usage (FILE *f)
{
  fprintf (f,
    "Usage: ferry checksum [OPTIONS] IMAGE...\n"
    "\n"
    "Print the checksum of the logical content of each disk image (any\n"
    "format ferry reads), so a source and its converted target can be\n"
    "compared.  The value is a two-level SHA-256: the SHA-256 of the\n"
    "SHA-256 digests of every 1 MiB block followed by the virtual size as a\n"
    "64-bit little-endian number (see ferry(1)).\n"
    "\n"
    "Options:\n"
    "      --source-format=auto|vmdk|raw\n"
    "      --allow-absolute-extents, --ignore-cid   as for 'ferry convert'\n"
    "      --threads=N            hashing threads (default: number of CPUs)\n"
    "  -h, --help                 this text\n"
    "\n"
    "Each IMAGE is a path, '-', an http(s):// URL or an NBD URI.\n"
    "\n%s", cli_source_help);
}

enum { OPT_SOURCE_FORMAT = 256, OPT_ALLOW_ABS, OPT_IGNORE_CID, OPT_THREADS };

static const struct option long_opts[] = {
  { "source-format", required_argument, NULL, OPT_SOURCE_FORMAT },
  { "allow-absolute-extents", no_argument, NULL, OPT_ALLOW_ABS },
  { "ignore-cid", no_argument, NULL, OPT_IGNORE_CID },
  { "threads", required_argument, NULL, OPT_THREADS },
  { "help", no_argument, NULL, 'h' },
  CLI_SOURCE_LONG_OPTS,
  { NULL, 0, NULL, 0 },
};

int
cmd_checksum (int argc, char **argv, struct cli_common *g)
{
  struct ferry_open_opts oo = { .log = &g->log };
  struct ferry_copy_opts co = { .log = &g->log };
  struct cli_source so;
  uint64_t v;
  int c, code;

  cli_source_init (&so, &g->log);
  optind = 1;
  while ((c = getopt_long (argc, argv, "h", long_opts, NULL)) != -1) {
    switch (c) {
    case OPT_SOURCE_FORMAT: oo.format = optarg; break;
    case OPT_ALLOW_ABS: oo.allow_absolute_extents = true; break;
    case OPT_IGNORE_CID: oo.ignore_cid = true; break;
    case OPT_THREADS:
      if (cli_parse_size (optarg, &v) < 0 || v < 1 || v > 64) {
        fprintf (stderr, "ferry: --threads=%s: expected 1 to 64\n", optarg);
        return FERRY_E_USAGE;
      }
      co.threads = (unsigned) v;
      break;
    case 'h': usage (stdout); return 0;
    default:
      if (c >= CLI_SOURCE_OPT_BASE && c < CLI_SOURCE_OPT_END) {
        if (cli_source_option (&so, c, optarg, "checksum") < 0)
          return FERRY_E_USAGE;
        break;
      }
      usage (stderr);
      return FERRY_E_USAGE;
    }
  }
  if (optind >= argc) {
    usage (stderr);
    return FERRY_E_USAGE;
  }
  if (cli_source_finish (&so, "checksum", &code) < 0)
    return code;
  for (int i = optind; i < argc; i++) {
    char sum[FERRY_CHECKSUM_MAX];
    char *name = cli_source_name (argv[i]);
    struct ferry_disk *d = cli_open_disk (argv[i], &so, &oo, false,
                                          "checksum");
    struct ferry_target *t = d ? ferry_target_null_new (d->size) : NULL;
    int r = t ? ferry_copy (d, t, &co, NULL, sum) : -1;
    if (r == 0 && !sum[0])
      r = ferry_error (FERRY_E_INPUT, "%s: no checksum could be computed",
                       name);
    if (t)
      ferry_target_close (t);
    ferry_disk_close (d);
    if (r < 0) {
      free (name);
      cli_source_free (&so);
      return cli_fail ();
    }
    printf ("%s  %s\n", sum, name);
    free (name);
  }
  cli_source_free (&so);
  return 0;
}
