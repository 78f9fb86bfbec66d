/* ferry: small file helpers shared by targets, state files and readers. */
#ifndef FERRY_COMMON_FILEUTIL_H
#define FERRY_COMMON_FILEUTIL_H

#include <stddef.h>

/* fsync the directory holding path, so a rename into it is durable. */
int ferry_fsync_parent (const char *path);

/* Read a whole file of at most max bytes; NUL-terminated, length in *len.
 * Errors (missing file, too large) name path.  NULL on error. */
char *ferry_read_file (const char *path, size_t max, size_t *len);

#endif
