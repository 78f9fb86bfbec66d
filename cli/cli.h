/* ferry: shared pieces of the command-line program. */
#ifndef FERRY_CLI_CLI_H
#define FERRY_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/log.h"
#include "converters/copy.h"
#include "converters/format.h"
#include "importer/transport.h"

/* Options every subcommand understands. */
struct cli_common {
  struct ferry_log log;
};

int cmd_convert (int argc, char **argv, struct cli_common *g);
/* ferry convert VM-SOURCE -o DIR (cli/cmd_convert_vm.c), chosen when the
 * command line names a .vmx/.ovf/.ova or an output directory. */
int cmd_convert_vm (int argc, char **argv, struct cli_common *g);
bool cli_convert_is_vm (int argc, char **argv);
int cmd_info (int argc, char **argv, struct cli_common *g);
int cmd_checksum (int argc, char **argv, struct cli_common *g);
int cmd_inspect (int argc, char **argv, struct cli_common *g);
int cmd_sync (int argc, char **argv, struct cli_common *g);
int cmd_cutover (int argc, char **argv, struct cli_common *g);
int cmd_guestfix (int argc, char **argv, struct cli_common *g);

/* Print "ferry: MESSAGE" for the current error and return its exit code. */
int cli_fail (void);

/* Parse "4k", "2M", "1G" and plain numbers; -1 on error. */
int cli_parse_size (const char *s, uint64_t *out);

/* Options for reaching remote sources, shared by convert, info and
 * checksum (cli/source_opts.c).  Each command's option table includes
 * CLI_SOURCE_LONG_OPTS and its switch passes codes from CLI_SOURCE_OPT_BASE
 * up to cli_source_option; cli_source_finish reads the secrets from their
 * files or the environment once the command line is parsed. */
struct cli_source {
  struct ferry_source_opts o;
  const char *password_file;
  const char *cookie_file;
  char *password; /* owned, wiped on free */
  char *cookie;
};

enum {
  CLI_SOURCE_OPT_BASE = 1000,
  CLI_OPT_CONNECTIONS = CLI_SOURCE_OPT_BASE,
  CLI_OPT_RETRIES,
  CLI_OPT_CACERT,
  CLI_OPT_INSECURE,
  CLI_OPT_THUMBPRINT,
  CLI_OPT_USER,
  CLI_OPT_PASSWORD_FILE,
  CLI_OPT_COOKIE_FILE,
  CLI_OPT_NBD_REQUEST_SIZE,
  CLI_OPT_NBD_TIMEOUT,
  CLI_SOURCE_OPT_END,
};

#define CLI_SOURCE_LONG_OPTS                                                  \
  { "connections", required_argument, NULL, CLI_OPT_CONNECTIONS },            \
  { "retries", required_argument, NULL, CLI_OPT_RETRIES },                    \
  { "cacert", required_argument, NULL, CLI_OPT_CACERT },                      \
  { "insecure", no_argument, NULL, CLI_OPT_INSECURE },                        \
  { "thumbprint", required_argument, NULL, CLI_OPT_THUMBPRINT },              \
  { "user", required_argument, NULL, CLI_OPT_USER },                          \
  { "password-file", required_argument, NULL, CLI_OPT_PASSWORD_FILE },        \
  { "cookie-file", required_argument, NULL, CLI_OPT_COOKIE_FILE },            \
  { "nbd-request-size", required_argument, NULL, CLI_OPT_NBD_REQUEST_SIZE }, \
  { "nbd-timeout", required_argument, NULL, CLI_OPT_NBD_TIMEOUT }

/* The --help lines for those options. */
extern const char cli_source_help[];

void cli_source_init (struct cli_source *s, const struct ferry_log *log);
/* Handle one option; on a bad value print the message and return -1
 * (exit code FERRY_E_USAGE). */
int cli_source_option (struct cli_source *s, int code, const char *arg,
                       const char *command);
/* Read the password and cookie (files, FERRY_PASSWORD, FERRY_COOKIE);
 * -1 after printing the message (code in *exit_code). */
int cli_source_finish (struct cli_source *s, const char *command,
                       int *exit_code);
void cli_source_free (struct cli_source *s);

/* Open SOURCE as a disk with those options.  need_random: refuse a source
 * that can only be read front to back (info), naming why.  On failure the
 * error is set and NULL returned. */
struct ferry_disk *cli_open_disk (const char *source,
                                  const struct cli_source *s,
                                  const struct ferry_open_opts *oo,
                                  bool need_random, const char *command);

/* SOURCE for messages and output: credentials and query stripped from
 * URLs (ferry_source_display).  Free with free(). */
char *cli_source_name (const char *source);

/* Progress display. */
enum progress_mode { PROGRESS_NONE, PROGRESS_BAR, PROGRESS_PLAIN,
                     PROGRESS_JSON };

struct progress {
  enum progress_mode mode;
  FILE *out;
  double start;
  double last;
  uint64_t last_done;
  bool finished;
};

int progress_mode_parse (const char *s, enum progress_mode *m);
void progress_init (struct progress *p, enum progress_mode m);
void progress_update (void *opaque, const struct ferry_progress *fp);
void progress_finish (struct progress *p, const struct ferry_progress *fp,
                      bool ok);
double progress_now (void);

#endif
