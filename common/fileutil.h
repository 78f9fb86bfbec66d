/* ferry: small file helpers shared by targets, state files and readers. */
#ifndef FERRY_COMMON_FILEUTIL_H
#define FERRY_COMMON_FILEUTIL_H

#include <stddef.h>

/* fsync the directory holding path, so a rename into it is durable. */
int ferry_fsync_parent (const char *path);

/* Rename from to to, then fsync to's directory: the name change is
 * durable when this returns 0.  The error names both paths. */
int ferry_rename_durable (const char *from, const char *to);

/* Read a whole file of at most max bytes; NUL-terminated, length in *len.
 * Errors (missing file, too large) name path.  NULL on error. */
char *ferry_read_file (const char *path, size_t max, size_t *len);

#endif
