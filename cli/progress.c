/* ferry: progress display: a bar on a terminal, plain lines otherwise,
 * JSON lines for machines. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

double
progress_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
progress_mode_parse (const char *s, enum progress_mode *m)
{
  if (!s || strcmp (s, "auto") == 0)
    *m = isatty (STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_PLAIN;
  else if (strcmp (s, "bar") == 0)
    *m = PROGRESS_BAR;
  else if (strcmp (s, "plain") == 0)
    *m = PROGRESS_PLAIN;
  else if (strcmp (s, "json") == 0)
    *m = PROGRESS_JSON;
  else if (strcmp (s, "none") == 0)
    *m = PROGRESS_NONE;
  else
    return -1;
  return 0;
}

void
progress_init (struct progress *p, enum progress_mode m)
{
  memset (p, 0, sizeof *p);
  p->mode = m;
  /* JSON goes to stdout so it can be piped apart from errors. */
  p->out = m == PROGRESS_JSON ? stdout : stderr;
  p->start = p->last = progress_now ();
}

static void
emit (struct progress *p, const struct ferry_progress *fp, double now,
      bool final)
{
  double elapsed = now - p->start;
  double rate = elapsed > 0 ? (double) fp->done / elapsed : 0;
  double eta = rate > 0 && fp->total > fp->done
                   ? (double) (fp->total - fp->done) / rate
                   : 0;
  double pct = fp->total ? 100.0 * (double) fp->done / (double) fp->total
                         : 100.0;

  switch (p->mode) {
  case PROGRESS_NONE:
    return;
  case PROGRESS_BAR: {
    char bar[41];
    int filled = (int) (pct * 40 / 100);
    for (int i = 0; i < 40; i++)
      bar[i] = i < filled ? '#' : '.';
    bar[40] = 0;
    fprintf (p->out, "\r[%s] %5.1f%% %8.1f MiB/s ETA %4.0fs%s", bar, pct,
             rate / 1048576, eta, final ? "\n" : "");
    break;
  }
  case PROGRESS_PLAIN:
    fprintf (p->out,
             "progress: %.1f%% (%llu of %llu bytes) %.1f MiB/s eta %.0fs\n",
             pct, (unsigned long long) fp->done,
             (unsigned long long) fp->total, rate / 1048576, eta);
    break;
  case PROGRESS_JSON:
    fprintf (p->out,
             "{\"event\":\"%s\",\"done\":%llu,\"total\":%llu,"
             "\"data\":%llu,\"zero\":%llu,\"elapsed\":%.3f,"
             "\"rate\":%.0f,\"eta\":%.1f}\n",
             final ? "done" : "progress", (unsigned long long) fp->done,
             (unsigned long long) fp->total, (unsigned long long) fp->data,
             (unsigned long long) fp->zero, elapsed, rate, eta);
    break;
  }
  fflush (p->out);
}

void
progress_update (void *opaque, const struct ferry_progress *fp)
{
  struct progress *p = opaque;
  double now = progress_now ();
  /* A bar redraws often; lines are for logs and should be sparse. */
  double interval = p->mode == PROGRESS_BAR ? 0.2 : 1.0;

  if (now - p->last < interval)
    return;
  p->last = now;
  emit (p, fp, now, false);
}

void
progress_finish (struct progress *p, const struct ferry_progress *fp, bool ok)
{
  if (p->finished)
    return;
  p->finished = true;
  if (ok)
    emit (p, fp, progress_now (), true);
  else if (p->mode == PROGRESS_BAR)
    fputc ('\n', p->out);
}
