/* ferry: the command-line program.  main() only dispatches to one file per
 * subcommand. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/error.h"
#include "version.h"

static const struct {
  const char *name;
  int (*fn) (int, char **, struct cli_common *);
  const char *summary;
} commands[] = {
  { "convert", cmd_convert, "convert a disk (VMDK, raw, qcow2) or a whole VM (.vmx, .ovf)" },
  { "info", cmd_info, "show the format, size and allocation of a disk image" },
  { "checksum", cmd_checksum, "print the content checksum of disk images" },
  { "inspect", cmd_inspect, "show what a .vmx or .ovf says about a VM" },
  { "sync", cmd_sync, "warm migration: copy a disk, then only what changed" },
  { "cutover", cmd_cutover, "the final sync, with --verify of the result" },
  { "guestfix", cmd_guestfix, "make a converted disk's guest boot on KVM" },
};

static void
usage (FILE *f)
{
  fprintf (f,
           "Usage: ferry [--help] [--version] COMMAND [ARGS]\n"
           "\n"
           "Move virtual machine disks from VMware to KVM.\n"
           "\n"
           "Commands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf (f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (f,
           "\n"
           "Run 'ferry COMMAND --help' for the options of a command.\n"
           "Exit codes: 0 success, 1 input error, 2 usage error,\n"
           "3 output error, 4 system error (see ferry(1)).\n");
}

int
cli_fail (void)
{
  fprintf (stderr, "ferry: %s\n", ferry_error_msg ());
  return (int) ferry_error_code ();
}

int
cli_parse_size (const char *s, uint64_t *out)
{
  char *end;
  unsigned long long v;
  unsigned shift = 0;

  errno = 0;
  if (!*s || *s == '-')
    return -1;
  v = strtoull (s, &end, 10);
  if (errno || end == s)
    return -1;
  switch (*end) {
  case 0: break;
  case 'k': case 'K': shift = 10; end++; break;
  case 'm': case 'M': shift = 20; end++; break;
  case 'g': case 'G': shift = 30; end++; break;
  case 't': case 'T': shift = 40; end++; break;
  default: return -1;
  }
  if (*end == 'i' && end[1] == 'B')
    end += 2;
  else if (*end == 'B')
    end++;
  if (*end || (shift && v > (UINT64_MAX >> shift)))
    return -1;
  *out = (uint64_t) v << shift;
  return 0;
}

int
main (int argc, char **argv)
{
  struct cli_common g = { .log = { .level = FERRY_LOG_WARN } };

  if (argc < 2) {
    usage (stderr);
    return FERRY_E_USAGE;
  }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
      || strcmp (argv[1], "help") == 0) {
    usage (stdout);
    return 0;
  }
  if (strcmp (argv[1], "--version") == 0 || strcmp (argv[1], "-V") == 0) {
    printf ("ferry %s\n", FERRY_VERSION);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].fn (argc - 1, argv + 1, &g);
  fprintf (stderr, "ferry: unknown command '%s' (see 'ferry --help')\n",
           argv[1]);
  return FERRY_E_USAGE;
}
