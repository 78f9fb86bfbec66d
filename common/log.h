/* ferry: logging.  A logger is a small value owned by the caller's context
 * and passed down; NULL means "warnings and errors to stderr". */
#ifndef FERRY_COMMON_LOG_H
#define FERRY_COMMON_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum ferry_log_level {
  FERRY_LOG_ERROR = 0,
  FERRY_LOG_WARN = 1,
  FERRY_LOG_INFO = 2,
  FERRY_LOG_DEBUG = 3,
};

struct ferry_log {
  int level;   /* print messages with level <= this */
  bool json;   /* one JSON object per line */
  FILE *out;   /* NULL: stderr */
};

void ferry_log (const struct ferry_log *l, enum ferry_log_level lvl,
                const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

#define ferry_warn(l, ...) ferry_log ((l), FERRY_LOG_WARN, __VA_ARGS__)
#define ferry_info(l, ...) ferry_log ((l), FERRY_LOG_INFO, __VA_ARGS__)
#define ferry_debug(l, ...) ferry_log ((l), FERRY_LOG_DEBUG, __VA_ARGS__)

#endif
