/* ferry: NBD requests with a time limit (see nbd_io.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "importer/nbd_io.h"

static int64_t
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
ferry_nbd_timeout_ms (int seconds)
{
  if (seconds < 0)
    return 0;
  if (seconds == 0)
    seconds = FERRY_NBD_DEFAULT_TIMEOUT;
  return seconds > 1000000 ? 1000000000 : seconds * 1000;
}

/* Wait in nbd_poll for at most until deadline (timeout_ms 0: forever);
 * 1 when the handle made progress, 0 when the time is up, -1 on error.
 * nbd_poll also returns 0 when a signal interrupts it, so the clock says
 * whether the time is really up. */
static int
poll_until (struct nbd_handle *h, int timeout_ms, int64_t deadline)
{
  for (;;) {
    int64_t left = timeout_ms ? deadline - now_ms () : -1;
    int r;
    if (timeout_ms && left <= 0)
      return 0;
    r = nbd_poll (h, (int) left);
    if (r != 0)
      return r < 0 ? -1 : 1;
  }
}

static void
set_why (char *why, size_t why_len, const char *msg)
{
  if (why && why_len)
    snprintf (why, why_len, "%s", msg ? msg : "unknown error");
}

int
ferry_nbd_wait (struct nbd_handle *h, const int64_t *cookies, size_t n,
                int timeout_ms, size_t *first_bad, int *err, char *why,
                size_t why_len)
{
  bool done[FERRY_NBD_MAX_INFLIGHT] = { false };
  size_t left = n, bad = n;
  int64_t last = now_ms ();

  if (n > FERRY_NBD_MAX_INFLIGHT) {
    *first_bad = 0;
    *err = EINVAL;
    set_why (why, why_len, "internal: too many requests in flight");
    return -1;
  }
  *err = 0;
  for (;;) {
    char poll_why[512];
    int poll_err, r;

    for (size_t i = 0; i < n; i++) {
      if (done[i])
        continue;
      r = nbd_aio_command_completed (h, (uint64_t) cookies[i]);
      if (r == 0)
        continue;
      done[i] = true;
      left--;
      if (r < 0 && i < bad) {
        bad = i;
        *err = nbd_get_errno ();
        set_why (why, why_len, nbd_get_error ());
      }
    }
    if (left == 0)
      break;
    r = poll_until (h, timeout_ms, last + timeout_ms);
    if (r > 0) {
      last = now_ms ();
      continue;
    }
    if (r == 0) {
      for (size_t i = 0; i < n; i++)
        if (!done[i]) {
          *first_bad = i < bad ? i : bad;
          break;
        }
      *err = ETIMEDOUT;
      return FERRY_NBD_TIMEOUT;
    }
    /* The handle is dead (the server went away): its requests have
     * completed with errors, or never will. */
    poll_err = nbd_get_errno ();
    set_why (poll_why, sizeof poll_why, nbd_get_error ());
    for (size_t i = 0; i < n; i++) {
      if (done[i])
        continue;
      r = nbd_aio_command_completed (h, (uint64_t) cookies[i]);
      if (r > 0)
        continue;
      if (i < bad) {
        bad = i;
        *err = r < 0 ? nbd_get_errno () : poll_err;
        set_why (why, why_len, r < 0 ? nbd_get_error () : poll_why);
      }
    }
    break;
  }
  if (bad < n) {
    *first_bad = bad;
    if (*err == 0)
      *err = EIO;
    return -1;
  }
  return 0;
}

int
ferry_nbd_connect (struct nbd_handle *h, const char *uri, int timeout_ms)
{
  int64_t deadline = now_ms () + timeout_ms;

  if (nbd_aio_connect_uri (h, uri) < 0)
    return -1;
  while (nbd_aio_is_connecting (h) == 1) {
    int r = poll_until (h, timeout_ms, deadline);
    if (r == 0)
      return FERRY_NBD_TIMEOUT;
    if (r < 0)
      return -1;
  }
  return nbd_aio_is_ready (h) == 1 ? 0 : -1;
}

int
ferry_nbd_disconnect (struct nbd_handle *h, int timeout_ms)
{
  int64_t deadline = now_ms () + timeout_ms;

  if (nbd_aio_is_closed (h) == 1 || nbd_aio_is_dead (h) == 1)
    return 0;
  if (nbd_aio_disconnect (h, 0) < 0)
    return -1;
  while (nbd_aio_is_closed (h) != 1 && nbd_aio_is_dead (h) != 1) {
    int r = poll_until (h, timeout_ms, deadline);
    if (r == 0)
      return FERRY_NBD_TIMEOUT;
    if (r < 0)
      return nbd_aio_is_closed (h) == 1 ? 0 : -1;
  }
  return 0;
}
