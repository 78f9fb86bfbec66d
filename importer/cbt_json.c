/* ferry: change lists from a DiskChangeInfo JSON file.
 *
 * The shape follows vSphere's QueryChangedDiskAreas result (startOffset,
 * length, changedArea[] of {start, length}), plus the pair of change ids
 * that say which copy the areas apply to.  Every field is checked, and
 * messages name it ("changes.json: changedArea[3].length: ...").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/error.h"
#include "common/fileutil.h"
#include "importer/cbt.h"

#define MAX_JSON (256 * 1024 * 1024)

static int
get_u64 (json_object *o, const char *key, const char *path, const char *field,
         uint64_t *out)
{
  json_object *v;
  int64_t n;

  if (!json_object_object_get_ex (o, key, &v))
    return ferry_error (FERRY_E_INPUT, "%s: %s: missing", path, field);
  if (!json_object_is_type (v, json_type_int))
    return ferry_error (FERRY_E_INPUT, "%s: %s: not an integer", path, field);
  errno = 0;
  n = json_object_get_int64 (v);
  if (n < 0 || errno == EINVAL)
    return ferry_error (FERRY_E_INPUT, "%s: %s: %" PRId64 " is negative",
                        path, field, n);
  if (n == INT64_MAX)
    return ferry_error (FERRY_E_INPUT, "%s: %s: out of range", path, field);
  *out = (uint64_t) n;
  return 0;
}

static int
get_str (json_object *o, const char *key, const char *path, char **out)
{
  json_object *v;

  if (!json_object_object_get_ex (o, key, &v))
    return 0;
  if (!json_object_is_type (v, json_type_string))
    return ferry_error (FERRY_E_INPUT, "%s: %s: not a string", path, key);
  if (!(*out = strdup (json_object_get_string (v))))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  return 0;
}

int
ferry_changes_from_json (const char *path, uint64_t disk_size,
                         struct ferry_changes *out)
{
  size_t len;
  char *text;
  int r;

  memset (out, 0, sizeof *out);
  if (!(text = ferry_read_file (path, MAX_JSON, &len)))
    return -1;
  r = ferry_changes_parse_json (text, len, path, disk_size, out);
  free (text);
  return r;
}

int
ferry_changes_parse_json (const char *text, size_t len, const char *path,
                          uint64_t disk_size, struct ferry_changes *out)
{
  json_tokener *tok = NULL;
  json_object *root = NULL, *info, *areas;
  uint64_t start, length;
  int r = -1;

  memset (out, 0, sizeof *out);
  if (len > MAX_JSON || len > INT32_MAX)
    return ferry_error (FERRY_E_INPUT, "%s: too large for a change list", path);
  if (!(tok = json_tokener_new ())) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto out;
  }
  root = json_tokener_parse_ex (tok, text, (int) len);
  if (!root || json_tokener_get_parse_end (tok) < len) {
    enum json_tokener_error e = json_tokener_get_error (tok);
    size_t at = json_tokener_get_parse_end (tok);
    if (root && e == json_tokener_success) {
      /* Trailing data after a complete document. */
      while (at < len && strchr (" \t\r\n", text[at]))
        at++;
      if (at == len)
        goto parsed;
      ferry_error (FERRY_E_INPUT, "%s: offset %zu: unexpected data after the "
                   "JSON document", path, at);
    }
    else
      ferry_error (FERRY_E_INPUT, "%s: offset %zu: %s", path, at,
                   e == json_tokener_continue ? "the JSON document ends early"
                                              : json_tokener_error_desc (e));
    goto out;
  }
parsed:
  if (!json_object_is_type (root, json_type_object)) {
    ferry_error (FERRY_E_INPUT, "%s: the document is not a JSON object", path);
    goto out;
  }
  if (get_str (root, "changeId", path, &out->change_id) < 0
      || get_str (root, "previousChangeId", path, &out->since) < 0)
    goto out;
  info = root;
  {
    json_object *wrapped;
    if (json_object_object_get_ex (root, "diskChangeInfo", &wrapped)) {
      if (!json_object_is_type (wrapped, json_type_object)) {
        ferry_error (FERRY_E_INPUT, "%s: diskChangeInfo: not an object", path);
        goto out;
      }
      info = wrapped;
    }
  }
  if (info != root && ((!out->change_id
                        && get_str (info, "changeId", path, &out->change_id) < 0)
                       || (!out->since
                           && get_str (info, "previousChangeId", path,
                                       &out->since) < 0)))
    goto out;
  if (!out->change_id) {
    ferry_error (FERRY_E_INPUT, "%s: changeId: missing (the change id this "
                 "list brings the copy to)", path);
    goto out;
  }
  if (!out->since) {
    ferry_error (FERRY_E_INPUT, "%s: previousChangeId: missing (the change id "
                 "the areas are relative to, or \"*\")", path);
    goto out;
  }
  if (get_u64 (info, "startOffset", path, "startOffset", &start) < 0
      || get_u64 (info, "length", path, "length", &length) < 0)
    goto out;
  if (start > disk_size || length > disk_size - start) {
    ferry_error (FERRY_E_INPUT, "%s: startOffset %" PRIu64 " + length %" PRIu64
                 " is past the end of the disk (%" PRIu64 " bytes)", path,
                 start, length, disk_size);
    goto out;
  }
  if (!json_object_object_get_ex (info, "changedArea", &areas)) {
    ferry_error (FERRY_E_INPUT, "%s: changedArea: missing", path);
    goto out;
  }
  if (!json_object_is_type (areas, json_type_array)) {
    ferry_error (FERRY_E_INPUT, "%s: changedArea: not an array", path);
    goto out;
  }
  out->n = json_object_array_length (areas);
  if (out->n && !(out->v = calloc (out->n, sizeof *out->v))) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < out->n; i++) {
    json_object *a = json_object_array_get_idx (areas, i);
    char f1[64], f2[64];
    snprintf (f1, sizeof f1, "changedArea[%zu].start", i);
    snprintf (f2, sizeof f2, "changedArea[%zu].length", i);
    if (!json_object_is_type (a, json_type_object)) {
      ferry_error (FERRY_E_INPUT, "%s: changedArea[%zu]: not an object", path,
                   i);
      goto out;
    }
    if (get_u64 (a, "start", path, f1, &out->v[i].offset) < 0
        || get_u64 (a, "length", path, f2, &out->v[i].length) < 0)
      goto out;
    /* Areas must lie in the window the query covered. */
    if (out->v[i].offset < start
        || out->v[i].offset > UINT64_MAX - out->v[i].length
        || out->v[i].offset + out->v[i].length > start + length) {
      ferry_error (FERRY_E_INPUT, "%s: changedArea[%zu] (start %" PRIu64
                   ", length %" PRIu64 ") lies outside startOffset %" PRIu64
                   " + length %" PRIu64, path, i, out->v[i].offset,
                   out->v[i].length, start, length);
      goto out;
    }
  }
  r = ferry_changes_normalize (out, disk_size, path);
out:
  if (r < 0)
    ferry_changes_free (out);
  json_object_put (root);
  if (tok)
    json_tokener_free (tok);
  return r;
}
