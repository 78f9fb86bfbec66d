/* ferry info: what a disk image is and how much of it holds data. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/error.h"
#include "converters/format.h"
#include "importer/transport.h"

static void
usage (FILE *f)
{
  fprintf (f,
    "Usage: ferry info [OPTIONS] SOURCE\n"
    "\n"
    "Show the format, virtual size and allocation (data, zero and\n"
    "unallocated bytes) of a disk image.  SOURCE is a path, an http(s)://\n"
    "URL of a server with Range support, or an NBD URI.\n"
    "\n"
    "Options:\n"
    "      --json                 print one JSON object\n"
    "      --map                  also list every extent\n"
    "      --source-format=auto|vmdk|raw\n"
    "      --allow-absolute-extents, --ignore-cid   as for 'ferry convert'\n"
    "  -h, --help                 this text\n"
    "\n%s", cli_source_help);
}

enum { OPT_JSON = 256, OPT_MAP, OPT_SOURCE_FORMAT, OPT_ALLOW_ABS,
       OPT_IGNORE_CID };

static const struct option long_opts[] = {
  { "json", no_argument, NULL, OPT_JSON },
  { "map", no_argument, NULL, OPT_MAP },
  { "source-format", required_argument, NULL, OPT_SOURCE_FORMAT },
  { "allow-absolute-extents", no_argument, NULL, OPT_ALLOW_ABS },
  { "ignore-cid", no_argument, NULL, OPT_IGNORE_CID },
  { "help", no_argument, NULL, 'h' },
  CLI_SOURCE_LONG_OPTS,
  { NULL, 0, NULL, 0 },
};

static const char *const type_names[] = { "data", "zero", "hole" };

#define INFO_WINDOW (1ull << 30)

/* The body of a JSON string. */
static void
json_string (const char *s)
{
  for (; *s; s++) {
    unsigned char ch = (unsigned char) *s;
    if (ch == '"' || ch == '\\')
      printf ("\\%c", ch);
    else if (ch < 0x20)
      printf ("\\u%04x", ch);
    else
      putchar (ch);
  }
}

int
cmd_info (int argc, char **argv, struct cli_common *g)
{
  struct ferry_open_opts oo = { .log = &g->log };
  bool json = false, map = false;
  uint64_t totals[3] = { 0 };
  struct ferry_extent_list el = { 0 };
  int c, code, first = 1;
  struct cli_source so;
  char *name;

  cli_source_init (&so, &g->log);
  optind = 1;
  while ((c = getopt_long (argc, argv, "h", long_opts, NULL)) != -1) {
    switch (c) {
    case OPT_JSON: json = true; break;
    case OPT_MAP: map = true; break;
    case OPT_SOURCE_FORMAT: oo.format = optarg; break;
    case OPT_ALLOW_ABS: oo.allow_absolute_extents = true; break;
    case OPT_IGNORE_CID: oo.ignore_cid = true; break;
    case 'h': usage (stdout); return 0;
    default:
      if (c >= CLI_SOURCE_OPT_BASE && c < CLI_SOURCE_OPT_END) {
        if (cli_source_option (&so, c, optarg, "info") < 0)
          return FERRY_E_USAGE;
        break;
      }
      usage (stderr);
      return FERRY_E_USAGE;
    }
  }
  if (argc - optind != 1) {
    usage (stderr);
    return FERRY_E_USAGE;
  }
  if (cli_source_finish (&so, "info", &code) < 0)
    return code;
  struct ferry_disk *d = cli_open_disk (argv[optind], &so, &oo, true, "info");
  cli_source_free (&so);
  if (!d)
    return cli_fail ();

  name = cli_source_name (argv[optind]);
  if (json) {
    printf ("{\"source\":\"");
    json_string (name);
    printf ("\",\"format\":\"%s\",\"subformat\":\"%s\",\"virtual_size\":%llu",
            d->ops->name, d->subformat ? d->subformat : "",
            (unsigned long long) d->size);
  }
  else
    printf ("source:       %s\nformat:       %s\nsubformat:    %s\n"
            "virtual size: %llu\n",
            name, d->ops->name, d->subformat ? d->subformat : "-",
            (unsigned long long) d->size);
  free (name);
  if (map && json)
    printf (",\"map\":[");
  for (uint64_t off = 0; off < d->size; off += INFO_WINDOW) {
    uint64_t len = d->size - off < INFO_WINDOW ? d->size - off : INFO_WINDOW;
    ferry_extent_list_reset (&el);
    if (d->ops->extents (d, off, len, &el) < 0) {
      if (json || map)
        printf ("\n");
      ferry_extent_list_free (&el);
      ferry_disk_close (d);
      return cli_fail ();
    }
    for (size_t i = 0; i < el.n; i++) {
      totals[el.v[i].type] += el.v[i].length;
      if (map && json)
        printf ("%s{\"offset\":%llu,\"length\":%llu,\"type\":\"%s\"}",
                first ? "" : ",", (unsigned long long) el.v[i].offset,
                (unsigned long long) el.v[i].length, type_names[el.v[i].type]);
      else if (map)
        printf ("%20llu %20llu %s\n", (unsigned long long) el.v[i].offset,
                (unsigned long long) el.v[i].length, type_names[el.v[i].type]);
      first = 0;
    }
  }
  if (json)
    printf ("%s,\"data\":%llu,\"zero\":%llu,\"hole\":%llu}\n", map ? "]" : "",
            (unsigned long long) totals[0], (unsigned long long) totals[1],
            (unsigned long long) totals[2]);
  else
    printf ("data:         %llu\nzero:         %llu\nunallocated:  %llu\n",
            (unsigned long long) totals[0], (unsigned long long) totals[1],
            (unsigned long long) totals[2]);
  ferry_extent_list_free (&el);
  ferry_disk_close (d);
  return 0;
}
