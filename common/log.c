#include "common/log.h"

#include <stdarg.h>
#include <string.h>

static const char *const level_names[] = { "error", "warning", "info", "debug" };

static void
json_escape (FILE *f, const char *s)
{
  for (; *s; s++) {
    unsigned char c = (unsigned char) *s;
    if (c == '"' || c == '\\')
      fprintf (f, "\\%c", c);
    else if (c < 0x20)
      fprintf (f, "\\u%04x", c);
    else
      fputc (c, f);
  }
}

void
ferry_log (const struct ferry_log *l, enum ferry_log_level lvl,
           const char *fmt, ...)
{
  int level = l ? l->level : FERRY_LOG_WARN;
  FILE *out = l && l->out ? l->out : stderr;
  char msg[2048];
  va_list ap;

  if ((int) lvl > level)
    return;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);

  /* Whole lines in one call so concurrent threads do not interleave. */
  flockfile (out);
  if (l && l->json) {
    fprintf (out, "{\"level\":\"%s\",\"message\":\"", level_names[lvl]);
    json_escape (out, msg);
    fputs ("\"}\n", out);
  }
  else if (lvl <= FERRY_LOG_WARN)
    fprintf (out, "ferry: %s: %s\n", level_names[lvl], msg);
  else
    fprintf (out, "ferry: %s\n", msg);
  funlockfile (out);
}
