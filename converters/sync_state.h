/* ferry: the state file of an incremental sync (warm migration).
 *
 * One JSON file per disk records what the target holds: the source it is a
 * copy of (name, size, fingerprint), the target, the last change id
 * applied, and while a sync runs, the change id being applied and the
 * ranges already done, so a killed sync resumes instead of starting over.
 * It is written atomically (temporary file, fsync, rename, directory
 * fsync) and validated field by field on load.
 */
#ifndef FERRY_CONVERTERS_SYNC_STATE_H
#define FERRY_CONVERTERS_SYNC_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "converters/copy.h"

/* Version 2 added "converted"; version 1 files are read as not
 * converted.  Files are written as version 2, so a ferry that knows only
 * version 1 refuses a converted target's state instead of syncing into
 * it. */
#define FERRY_SYNC_STATE_VERSION 2
#define FERRY_SYNC_STATE_VERSION_MIN 1

struct ferry_sync_state {
  char *source;        /* as given on the command line, credentials removed */
  uint64_t size;       /* virtual size of the source */
  char *fingerprint;   /* how the source identifies itself; may be NULL */
  char *target;
  char *format;        /* raw or qcow2 */
  char *change_id;     /* last change id fully applied; NULL: none yet */
  char *checksum;      /* of the target after the last sync, if asked */
  uint64_t syncs;      /* completed syncs */

  /* Guest conversion (guestfix) changed the target at cutover: it now
   * differs from the source by the guest's changes, so no further change
   * list may be applied to it (only a --full copy starts again). */
  bool converted;
  char *converted_at;  /* when, "YYYY-MM-DDTHH:MM:SSZ"; may be NULL */

  /* A sync that has not finished. */
  bool in_progress;
  char *ip_change_id;  /* the change id being applied */
  char *ip_since;      /* the id it was relative to */
  struct ferry_range *done;
  size_t n_done, cap_done;
};

void ferry_sync_state_free (struct ferry_sync_state *s);

/* 1 loaded, 0 the file does not exist, -1 error (naming the field). */
int ferry_sync_state_load (const char *path, struct ferry_sync_state *s);
int ferry_sync_state_save (const char *path, const struct ferry_sync_state *s);
/* Parse state text already in memory (1 on success, -1 error). */
int ferry_sync_state_parse (const char *text, size_t len, const char *path,
                            struct ferry_sync_state *s);

#endif
