/* ferry guestfix: small wrappers over libguestfs file operations on the
 * mounted guest.  Paths are guest paths; files that are edited are never
 * followed through a final symlink (an absolute link would resolve in the
 * appliance, not in the guest). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "guestfix/internal.h"

bool
gf_is_file (struct gf_ctx *c, const char *path)
{
  return guestfs_is_file_opts (c->g, path,
                               GUESTFS_IS_FILE_OPTS_FOLLOWSYMLINKS, 0,
                               -1) > 0;
}

bool
gf_is_dir (struct gf_ctx *c, const char *path)
{
  /* Intermediate links (merged /usr: lib -> usr/lib) are relative and
   * resolve inside the guest; so does a final relative link. */
  return guestfs_is_dir_opts (c->g, path,
                              GUESTFS_IS_DIR_OPTS_FOLLOWSYMLINKS, 1,
                              -1) > 0;
}

bool
gf_is_symlink (struct gf_ctx *c, const char *path)
{
  return guestfs_is_symlink (c->g, path) > 0;
}

bool
gf_exists (struct gf_ctx *c, const char *path)
{
  return guestfs_exists (c->g, path) > 0;
}

const char *
gf_find_program (struct gf_ctx *c, const char *const *paths)
{
  for (; *paths; paths++)
    if (guestfs_is_file_opts (c->g, *paths,
                              GUESTFS_IS_FILE_OPTS_FOLLOWSYMLINKS, 1,
                              -1) > 0)
      return *paths;
  return NULL;
}

char *
gf_read_text (struct gf_ctx *c, const char *path, size_t *len)
{
  size_t n;
  char *data = guestfs_read_file (c->g, path, &n);
  if (!data) {
    gf_gerror (c, FERRY_E_OUTPUT, path);
    return NULL;
  }
  if (memchr (data, 0, n)) {
    free (data);
    ferry_error (FERRY_E_INPUT, "%s: not a text file (holds NUL bytes)",
                 path);
    return NULL;
  }
  if (len)
    *len = n;
  return data;
}

int
gf_write_text (struct gf_ctx *c, const char *path, const char *text)
{
  if (guestfs_write (c->g, path, text, strlen (text)) < 0)
    return gf_gerror (c, FERRY_E_OUTPUT, path);
  return 0;
}

int
gf_create_file (struct gf_ctx *c, const char *path, const char *text,
                int mode)
{
  if (guestfs_write (c->g, path, text, strlen (text)) < 0
      || guestfs_chmod (c->g, mode, path) < 0)
    return gf_gerror (c, FERRY_E_OUTPUT, path);
  return 0;
}

int
gf_mkdir_p (struct gf_ctx *c, const char *path)
{
  if (guestfs_mkdir_p (c->g, path) < 0)
    return gf_gerror (c, FERRY_E_OUTPUT, path);
  return 0;
}

char **
gf_glob (struct gf_ctx *c, const char *pattern)
{
  char **v = guestfs_glob_expand (c->g, pattern);
  if (!v) {
    gf_gerror (c, FERRY_E_OUTPUT, pattern);
    return NULL;
  }
  /* Directories come back with a trailing '/'. */
  for (char **p = v; *p; p++) {
    size_t n = strlen (*p);
    if (n > 1 && (*p)[n - 1] == '/')
      (*p)[n - 1] = 0;
  }
  return v;
}

int
gf_run (struct gf_ctx *c, const char *const *argv, char **out)
{
  char *o = guestfs_command (c->g, (char *const *) argv);
  if (o) {
    *out = o;
    return 0;
  }
  const char *e = guestfs_last_error (c->g);
  char *msg = gf_strdup (e ? e : "failed");
  /* One line: the tail of a long complaint is the useful part. */
  for (char *p = msg; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  size_t n = strlen (msg);
  while (n && msg[n - 1] == ' ')
    msg[--n] = 0;
  if (n > 600) {
    memmove (msg + 3, msg + n - 597, 598);
    memcpy (msg, "...", 3);
  }
  *out = msg;
  return -1;
}

char *const *
gf_applications (struct gf_ctx *c)
{
  if (c->apps)
    return c->apps;
  if (c->apps_error) { /* listed once per run, failures too */
    ferry_error (FERRY_E_INPUT, "%s", c->apps_error);
    return NULL;
  }
  struct guestfs_application2_list *apps =
    guestfs_inspect_list_applications2 (c->g, c->r->root);
  if (!apps) {
    gf_gerror (c, FERRY_E_INPUT, "listing the guest's packages");
    c->apps_error = gf_strdup (ferry_error_msg ());
    return NULL;
  }
  c->apps = calloc (apps->len + 1, sizeof *c->apps);
  if (!c->apps)
    abort ();
  for (uint32_t i = 0; i < apps->len; i++)
    c->apps[i] = gf_strdup (apps->val[i].app2_name);
  guestfs_free_application2_list (apps);
  return c->apps;
}

bool
gf_has_application (struct gf_ctx *c, const char *name)
{
  char *const *apps = gf_applications (c);
  if (!apps) {
    ferry_error_clear ();
    return false;
  }
  for (size_t i = 0; apps[i]; i++)
    if (strcmp (apps[i], name) == 0)
      return true;
  return false;
}
