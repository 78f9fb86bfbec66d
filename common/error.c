#include "common/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Thread-local by design: each worker thread owns its slot, so this is not
 * shared mutable state. */
static _Thread_local char msg_buf[1024];
static _Thread_local enum ferry_errcode msg_code;

int
ferry_verror (enum ferry_errcode code, const char *fmt, va_list ap)
{
  vsnprintf (msg_buf, sizeof msg_buf, fmt, ap);
  msg_code = code;
  return -1;
}

int
ferry_error (enum ferry_errcode code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  ferry_verror (code, fmt, ap);
  va_end (ap);
  return -1;
}

int
ferry_error_errno (enum ferry_errcode code, int errnum, const char *fmt, ...)
{
  va_list ap;
  char tmp[768];
  va_start (ap, fmt);
  vsnprintf (tmp, sizeof tmp, fmt, ap);
  va_end (ap);
  return ferry_error (code, "%s: %s", tmp, strerror (errnum));
}

int
ferry_error_prefix (const char *fmt, ...)
{
  char prefix[512], old[sizeof msg_buf];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (prefix, sizeof prefix, fmt, ap);
  va_end (ap);
  memcpy (old, msg_buf, sizeof old);
  /* Truncation is acceptable: the message stays one readable line. */
  size_t n = strnlen (prefix, sizeof prefix - 3);
  memcpy (prefix + n, ": ", 3);
  n += 2;
  memcpy (msg_buf, prefix, n);
  size_t rest = sizeof msg_buf - 1 - n;
  size_t m = strnlen (old, rest);
  memcpy (msg_buf + n, old, m);
  msg_buf[n + m] = 0;
  return -1;
}

const char *
ferry_error_msg (void)
{
  return msg_buf[0] ? msg_buf : "unknown error";
}

enum ferry_errcode
ferry_error_code (void)
{
  return msg_code ? msg_code : FERRY_E_SYSTEM;
}

void
ferry_error_clear (void)
{
  msg_buf[0] = 0;
  msg_code = FERRY_OK;
}

void
ferry_error_set_raw (enum ferry_errcode code, const char *msg)
{
  /* msg may be ferry_error_msg () itself, to change only the code. */
  if (msg != msg_buf)
    snprintf (msg_buf, sizeof msg_buf, "%s", msg);
  msg_code = code;
}
