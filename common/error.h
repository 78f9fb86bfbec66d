/* ferry: the one error API.
 *
 * A function that fails sets a message (and a category that the CLI maps to
 * an exit code) and returns -1 (or NULL).  The message is kept per thread, so
 * worker threads of the copy engine can fail independently; the caller that
 * collects the failure reads it in the same thread or copies it out.
 */
#ifndef FERRY_COMMON_ERROR_H
#define FERRY_COMMON_ERROR_H

#include <stdarg.h>

/* Categories double as process exit codes (documented in docs/ferry.1). */
enum ferry_errcode {
  FERRY_OK = 0,
  FERRY_E_INPUT = 1,  /* bad or unreadable source: format, size, missing file */
  FERRY_E_USAGE = 2,  /* bad command line */
  FERRY_E_OUTPUT = 3, /* target cannot be created, written or finished */
  FERRY_E_SYSTEM = 4, /* out of memory, thread creation, other internal */
};

/* Set the current thread's error.  Always returns -1 so callers can write
 * "return ferry_error (...)". */
int ferry_error (enum ferry_errcode code, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
int ferry_verror (enum ferry_errcode code, const char *fmt, va_list ap);

/* Like ferry_error, appending ": strerror(errnum)". */
int ferry_error_errno (enum ferry_errcode code, int errnum, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));

/* Prefix the current message with more context: the formatted prefix,
 * ": ", then the old message. */
int ferry_error_prefix (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));

const char *ferry_error_msg (void);
enum ferry_errcode ferry_error_code (void);
void ferry_error_clear (void);

/* Copy another thread's error into this one (used when joining workers). */
void ferry_error_set_raw (enum ferry_errcode code, const char *msg);

#endif
