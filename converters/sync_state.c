/* ferry: reading and writing the sync state file. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/error.h"
#include "common/fileutil.h"
#include "converters/sync_state.h"
#include "importer/cbt.h"

void
ferry_sync_state_free (struct ferry_sync_state *s)
{
  free (s->source);
  free (s->fingerprint);
  free (s->target);
  free (s->format);
  free (s->change_id);
  free (s->checksum);
  free (s->converted_at);
  free (s->ip_change_id);
  free (s->ip_since);
  free (s->done);
  memset (s, 0, sizeof *s);
}

static int
want_str (json_object *o, const char *key, const char *path, bool required,
          char **out)
{
  json_object *v;

  if (!json_object_object_get_ex (o, key, &v) || json_object_is_type (v, json_type_null)) {
    if (required)
      return ferry_error (FERRY_E_INPUT, "%s: %s: missing", path, key);
    return 0;
  }
  if (!json_object_is_type (v, json_type_string))
    return ferry_error (FERRY_E_INPUT, "%s: %s: not a string", path, key);
  if (!(*out = strdup (json_object_get_string (v))))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  return 0;
}

static int
want_u64 (json_object *o, const char *key, const char *path, const char *field,
          bool required, uint64_t *out)
{
  json_object *v;
  int64_t n;

  if (!json_object_object_get_ex (o, key, &v)) {
    if (required)
      return ferry_error (FERRY_E_INPUT, "%s: %s: missing", path, field);
    return 0;
  }
  if (!json_object_is_type (v, json_type_int))
    return ferry_error (FERRY_E_INPUT, "%s: %s: not an integer", path, field);
  n = json_object_get_int64 (v);
  if (n < 0 || n == INT64_MAX)
    return ferry_error (FERRY_E_INPUT, "%s: %s: out of range", path, field);
  *out = (uint64_t) n;
  return 0;
}

int
ferry_sync_state_load (const char *path, struct ferry_sync_state *s)
{
  size_t n;
  char *text;
  int r;

  memset (s, 0, sizeof *s);
  if (access (path, F_OK) < 0 && errno == ENOENT)
    return 0;
  if (!(text = ferry_read_file (path, 64 * 1024 * 1024, &n)))
    return -1;
  r = ferry_sync_state_parse (text, n, path, s);
  free (text);
  return r;
}

int
ferry_sync_state_parse (const char *text, size_t len, const char *path,
                        struct ferry_sync_state *s)
{
  json_object *root = NULL, *v, *ip;
  json_tokener *tok = NULL;
  uint64_t version = 0;
  int r = -1;

  memset (s, 0, sizeof *s);
  if (len > INT32_MAX)
    return ferry_error (FERRY_E_INPUT, "%s: too large for a state file", path);
  if (!(tok = json_tokener_new ())) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto out;
  }
  root = json_tokener_parse_ex (tok, text, (int) len);
  if (!root) {
    enum json_tokener_error e = json_tokener_get_error (tok);
    ferry_error (FERRY_E_INPUT, "%s: offset %zu: %s (not a valid state file)",
                 path, json_tokener_get_parse_end (tok),
                 e == json_tokener_continue ? "the JSON document ends early"
                                            : json_tokener_error_desc (e));
    goto out;
  }
  if (!json_object_is_type (root, json_type_object)) {
    ferry_error (FERRY_E_INPUT, "%s: not a JSON object", path);
    goto out;
  }
  if (want_u64 (root, "version", path, "version", true, &version) < 0)
    goto out;
  if (version < FERRY_SYNC_STATE_VERSION_MIN
      || version > FERRY_SYNC_STATE_VERSION) {
    ferry_error (FERRY_E_INPUT, "%s: version: %" PRIu64 " is not a state "
                 "version this ferry knows (%d to %d)", path, version,
                 FERRY_SYNC_STATE_VERSION_MIN, FERRY_SYNC_STATE_VERSION);
    goto out;
  }
  if (want_str (root, "source", path, true, &s->source) < 0
      || want_u64 (root, "size", path, "size", true, &s->size) < 0
      || want_str (root, "fingerprint", path, false, &s->fingerprint) < 0
      || want_str (root, "target", path, true, &s->target) < 0
      || want_str (root, "format", path, true, &s->format) < 0
      || want_str (root, "change_id", path, false, &s->change_id) < 0
      || want_str (root, "checksum", path, false, &s->checksum) < 0
      || want_u64 (root, "syncs", path, "syncs", false, &s->syncs) < 0
      || want_str (root, "converted_at", path, false, &s->converted_at) < 0)
    goto out;
  if (json_object_object_get_ex (root, "converted", &v)
      && !json_object_is_type (v, json_type_null)) {
    if (!json_object_is_type (v, json_type_boolean)) {
      ferry_error (FERRY_E_INPUT, "%s: converted: not true or false", path);
      goto out;
    }
    s->converted = json_object_get_boolean (v);
  }
  if (strcmp (s->format, "raw") != 0 && strcmp (s->format, "qcow2") != 0) {
    ferry_error (FERRY_E_INPUT, "%s: format: '%s' is not raw or qcow2", path,
                 s->format);
    goto out;
  }
  if (json_object_object_get_ex (root, "in_progress", &ip)
      && !json_object_is_type (ip, json_type_null)) {
    if (!json_object_is_type (ip, json_type_object)) {
      ferry_error (FERRY_E_INPUT, "%s: in_progress: not an object", path);
      goto out;
    }
    s->in_progress = true;
    if (want_str (ip, "change_id", path, true, &s->ip_change_id) < 0
        || want_str (ip, "since", path, false, &s->ip_since) < 0)
      goto out;
    if (!json_object_object_get_ex (ip, "done", &v)
        || !json_object_is_type (v, json_type_array)) {
      ferry_error (FERRY_E_INPUT, "%s: in_progress.done: missing or not an "
                   "array", path);
      goto out;
    }
    for (size_t i = 0; i < json_object_array_length (v); i++) {
      json_object *e = json_object_array_get_idx (v, i);
      struct ferry_range g;
      char f1[64], f2[64];
      snprintf (f1, sizeof f1, "in_progress.done[%zu].offset", i);
      snprintf (f2, sizeof f2, "in_progress.done[%zu].length", i);
      if (!json_object_is_type (e, json_type_object)) {
        ferry_error (FERRY_E_INPUT, "%s: in_progress.done[%zu]: not an "
                     "object", path, i);
        goto out;
      }
      if (want_u64 (e, "offset", path, f1, true, &g.offset) < 0
          || want_u64 (e, "length", path, f2, true, &g.length) < 0)
        goto out;
      if (g.offset > s->size || g.length > s->size - g.offset) {
        ferry_error (FERRY_E_INPUT, "%s: in_progress.done[%zu]: past the end "
                     "of the disk", path, i);
        goto out;
      }
      if (ferry_ranges_add (&s->done, &s->n_done, &s->cap_done, g) < 0)
        goto out;
    }
  }
  r = 1;
out:
  if (r < 0)
    ferry_sync_state_free (s);
  json_object_put (root);
  if (tok)
    json_tokener_free (tok);
  return r;
}

static json_object *
str_or_null (const char *s)
{
  return s ? json_object_new_string (s) : NULL;
}

int
ferry_sync_state_save (const char *path, const struct ferry_sync_state *s)
{
  json_object *root = json_object_new_object ();
  char *tmp = NULL;
  const char *text;
  char when[32];
  time_t now = time (NULL);
  struct tm tm;
  int fd = -1, r = -1;
  size_t len;

  if (!root)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  gmtime_r (&now, &tm);
  strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  json_object_object_add (root, "version",
                          json_object_new_int (FERRY_SYNC_STATE_VERSION));
  json_object_object_add (root, "source", str_or_null (s->source));
  json_object_object_add (root, "size", json_object_new_int64 ((int64_t) s->size));
  json_object_object_add (root, "fingerprint", str_or_null (s->fingerprint));
  json_object_object_add (root, "target", str_or_null (s->target));
  json_object_object_add (root, "format", str_or_null (s->format));
  json_object_object_add (root, "change_id", str_or_null (s->change_id));
  json_object_object_add (root, "checksum", str_or_null (s->checksum));
  json_object_object_add (root, "syncs", json_object_new_int64 ((int64_t) s->syncs));
  json_object_object_add (root, "converted", json_object_new_boolean (s->converted));
  json_object_object_add (root, "converted_at", str_or_null (s->converted_at));
  json_object_object_add (root, "updated", json_object_new_string (when));
  if (s->in_progress) {
    json_object *ip = json_object_new_object (), *done = json_object_new_array ();
    json_object_object_add (ip, "change_id", str_or_null (s->ip_change_id));
    json_object_object_add (ip, "since", str_or_null (s->ip_since));
    for (size_t i = 0; i < s->n_done; i++) {
      json_object *e = json_object_new_object ();
      json_object_object_add (e, "offset",
                              json_object_new_int64 ((int64_t) s->done[i].offset));
      json_object_object_add (e, "length",
                              json_object_new_int64 ((int64_t) s->done[i].length));
      json_object_array_add (done, e);
    }
    json_object_object_add (ip, "done", done);
    json_object_object_add (root, "in_progress", ip);
  }
  else
    json_object_object_add (root, "in_progress", NULL);

  text = json_object_to_json_string_ext (root, JSON_C_TO_STRING_PRETTY
                                                   | JSON_C_TO_STRING_NOSLASHESCAPE);
  len = strlen (text);
  if (asprintf (&tmp, "%s.tmp", path) < 0) {
    tmp = NULL;
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto out;
  }
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    ferry_error_errno (FERRY_E_OUTPUT, errno, "%s", tmp);
    goto out;
  }
  if (write (fd, text, len) != (ssize_t) len || write (fd, "\n", 1) != 1
      || fsync (fd) < 0) {
    ferry_error_errno (FERRY_E_OUTPUT, errno, "%s: write", tmp);
    goto out;
  }
  close (fd);
  fd = -1;
  r = ferry_rename_durable (tmp, path);
out:
  if (fd >= 0)
    close (fd);
  if (r < 0 && tmp)
    unlink (tmp);
  free (tmp);
  json_object_put (root);
  return r;
}
