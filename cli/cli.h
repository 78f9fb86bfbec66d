/* ferry: shared pieces of the command-line program. */
#ifndef FERRY_CLI_CLI_H
#define FERRY_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/log.h"
#include "converters/copy.h"

/* Options every subcommand understands. */
struct cli_common {
  struct ferry_log log;
};

int cmd_convert (int argc, char **argv, struct cli_common *g);
int cmd_info (int argc, char **argv, struct cli_common *g);
int cmd_checksum (int argc, char **argv, struct cli_common *g);

/* Print "ferry: MESSAGE" for the current error and return its exit code. */
int cli_fail (void);

/* Parse "4k", "2M", "1G" and plain numbers; -1 on error. */
int cli_parse_size (const char *s, uint64_t *out);

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
