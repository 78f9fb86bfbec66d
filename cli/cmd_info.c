/* ferry info: what a disk image is and how much of it holds data. */
#include <getopt.h>
#include <stdio.h>
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
    "unallocated bytes) of a disk image.\n"
    "\n"
    "Options:\n"
    "      --json                 print one JSON object\n"
    "      --map                  also list every extent\n"
    "      --source-format=auto|vmdk|raw\n"
    "      --allow-absolute-extents, --ignore-cid   as for 'ferry convert'\n"
    "  -h, --help                 this text\n");
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
  { NULL, 0, NULL, 0 },
};

static const char *const type_names[] = { "data", "zero", "hole" };

#define INFO_WINDOW (1ull << 30)

int
cmd_info (int argc, char **argv, struct cli_common *g)
{
  struct ferry_open_opts oo = { .log = &g->log };
  bool json = false, map = false;
  uint64_t totals[3] = { 0 };
  struct ferry_extent_list el = { 0 };
  int c, first = 1;

  optind = 1;
  while ((c = getopt_long (argc, argv, "h", long_opts, NULL)) != -1) {
    switch (c) {
    case OPT_JSON: json = true; break;
    case OPT_MAP: map = true; break;
    case OPT_SOURCE_FORMAT: oo.format = optarg; break;
    case OPT_ALLOW_ABS: oo.allow_absolute_extents = true; break;
    case OPT_IGNORE_CID: oo.ignore_cid = true; break;
    case 'h': usage (stdout); return 0;
    default: usage (stderr); return FERRY_E_USAGE;
    }
  }
  if (argc - optind != 1) {
    usage (stderr);
    return FERRY_E_USAGE;
  }
  struct ferry_transport *tr = ferry_transport_open (argv[optind]);
  if (!tr)
    return cli_fail ();
  if (tr->sequential) {
    ferry_transport_close (tr);
    ferry_error (FERRY_E_USAGE, "info needs a file, not a stream");
    return cli_fail ();
  }
  struct ferry_disk *d = ferry_disk_open (tr, &oo);
  if (!d)
    return cli_fail ();

  if (json)
    printf ("{\"source\":\"%s\",\"format\":\"%s\",\"subformat\":\"%s\","
            "\"virtual_size\":%llu",
            argv[optind], d->ops->name, d->subformat ? d->subformat : "",
            (unsigned long long) d->size);
  else
    printf ("source:       %s\nformat:       %s\nsubformat:    %s\n"
            "virtual size: %llu\n",
            argv[optind], d->ops->name, d->subformat ? d->subformat : "-",
            (unsigned long long) d->size);
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
