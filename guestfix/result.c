/* ferry guestfix: the result of a run (what was found, changed, left for
 * first boot) and its JSON form. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guestfix/internal.h"

char *
gf_strdup (const char *s)
{
  char *p = strdup (s ? s : "");
  if (!p)
    abort ();
  return p;
}

char *
gf_asprintf (const char *fmt, ...)
{
  va_list ap;
  char *p;
  va_start (ap, fmt);
  if (vasprintf (&p, fmt, ap) < 0)
    abort ();
  va_end (ap);
  return p;
}

void
gf_free_strings (char **v)
{
  if (!v)
    return;
  for (char **p = v; *p; p++)
    free (*p);
  free (v);
}

size_t
gf_count_strings (char *const *v)
{
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

/* Grow an array of ELEM-sized items to hold one more. */
static void *
grow (void *base, size_t *cap, size_t n, size_t elem)
{
  if (n < *cap)
    return base;
  size_t nc = *cap ? *cap * 2 : 8;
  void *p = realloc (base, nc * elem);
  if (!p)
    abort ();
  *cap = nc;
  return p;
}

void
gf_change (struct gf_ctx *c, const char *file, const char *fmt, ...)
{
  struct guestfix_result *r = c->r;
  va_list ap;
  char *what;

  va_start (ap, fmt);
  if (vasprintf (&what, fmt, ap) < 0)
    abort ();
  va_end (ap);
  r->changes = grow (r->changes, &r->cap_changes, r->n_changes,
                     sizeof *r->changes);
  r->changes[r->n_changes++] = (struct guestfix_change) {
    .step = gf_strdup (c->step), .file = gf_strdup (file), .what = what,
  };
  ferry_info (c->log, "guestfix: %s: %s: %s", c->step, file, what);
}

void
gf_note (struct gf_ctx *c, const char *fmt, ...)
{
  struct guestfix_result *r = c->r;
  va_list ap;
  char *text;

  va_start (ap, fmt);
  if (vasprintf (&text, fmt, ap) < 0)
    abort ();
  va_end (ap);
  r->notes = grow (r->notes, &r->cap_notes, r->n_notes, sizeof *r->notes);
  r->notes[r->n_notes++] = (struct guestfix_note) {
    .step = gf_strdup (c->step), .text = text,
  };
  ferry_info (c->log, "guestfix: %s: note: %s", c->step, text);
}

struct guestfix_kernel *
gf_kernel_add (struct gf_ctx *c, const char *version)
{
  struct guestfix_result *r = c->r;
  r->kernels = grow (r->kernels, &r->cap_kernels, r->n_kernels,
                     sizeof *r->kernels);
  r->kernels[r->n_kernels] = (struct guestfix_kernel) {
    .version = gf_strdup (version),
  };
  return &r->kernels[r->n_kernels++];
}

void
gf_removed_package (struct gf_ctx *c, const char *name)
{
  struct guestfix_result *r = c->r;
  r->removed_packages = grow (r->removed_packages, &r->cap_removed,
                              r->n_removed, sizeof *r->removed_packages);
  r->removed_packages[r->n_removed++] = gf_strdup (name);
}

void
guestfix_result_init (struct guestfix_result *r)
{
  memset (r, 0, sizeof *r);
  r->major = r->minor = -1;
}

void
guestfix_result_free (struct guestfix_result *r)
{
  free (r->root);
  free (r->os_type);
  free (r->distro);
  free (r->product_name);
  free (r->package_format);
  free (r->package_management);
  for (size_t i = 0; i < r->n_changes; i++) {
    free (r->changes[i].step);
    free (r->changes[i].file);
    free (r->changes[i].what);
  }
  free (r->changes);
  for (size_t i = 0; i < r->n_notes; i++) {
    free (r->notes[i].step);
    free (r->notes[i].text);
  }
  free (r->notes);
  for (size_t i = 0; i < r->n_kernels; i++) {
    free (r->kernels[i].version);
    free (r->kernels[i].tool);
    free (r->kernels[i].detail);
  }
  free (r->kernels);
  for (size_t i = 0; i < r->n_removed; i++)
    free (r->removed_packages[i]);
  free (r->removed_packages);
  free (r->failed_step);
  free (r->error);
  guestfix_result_init (r);
}

static json_object *
jstr (const char *s)
{
  return s ? json_object_new_string (s) : NULL;
}

json_object *
guestfix_result_json (const struct guestfix_result *r)
{
  json_object *o = json_object_new_object ();
  json_object *a;

  json_object_object_add (o, "root", jstr (r->root));
  json_object_object_add (o, "os_type", jstr (r->os_type));
  json_object_object_add (o, "distro", jstr (r->distro));
  json_object_object_add (o, "product_name", jstr (r->product_name));
  json_object_object_add (o, "major", r->major >= 0
                          ? json_object_new_int (r->major) : NULL);
  json_object_object_add (o, "minor", r->minor >= 0
                          ? json_object_new_int (r->minor) : NULL);
  json_object_object_add (o, "package_format", jstr (r->package_format));
  json_object_object_add (o, "package_management",
                          jstr (r->package_management));
  json_object_object_add (o, "selinux", json_object_new_boolean (r->selinux));
  json_object_object_add (o, "tcg", json_object_new_boolean (r->tcg));
  json_object_object_add (o, "launch_seconds",
                          json_object_new_double (r->launch_seconds));
  json_object_object_add (o, "total_seconds",
                          json_object_new_double (r->total_seconds));
  json_object_object_add (o, "dry_run", json_object_new_boolean (r->dry_run));
  json_object_object_add (o, "committed",
                          json_object_new_boolean (r->committed));
  json_object_object_add (o, "failed_step", jstr (r->failed_step));
  json_object_object_add (o, "error", jstr (r->error));

  a = json_object_new_array ();
  for (size_t i = 0; i < r->n_changes; i++) {
    json_object *c = json_object_new_object ();
    json_object_object_add (c, "step", jstr (r->changes[i].step));
    json_object_object_add (c, "file", jstr (r->changes[i].file));
    json_object_object_add (c, "what", jstr (r->changes[i].what));
    json_object_array_add (a, c);
  }
  json_object_object_add (o, "changes", a);

  a = json_object_new_array ();
  for (size_t i = 0; i < r->n_notes; i++) {
    json_object *c = json_object_new_object ();
    json_object_object_add (c, "step", jstr (r->notes[i].step));
    json_object_object_add (c, "text", jstr (r->notes[i].text));
    json_object_array_add (a, c);
  }
  json_object_object_add (o, "notes", a);

  a = json_object_new_array ();
  for (size_t i = 0; i < r->n_kernels; i++) {
    json_object *c = json_object_new_object ();
    json_object_object_add (c, "version", jstr (r->kernels[i].version));
    json_object_object_add (c, "tool", jstr (r->kernels[i].tool));
    json_object_object_add (c, "regenerated",
                            json_object_new_boolean (r->kernels[i].regenerated));
    json_object_object_add (c, "detail", jstr (r->kernels[i].detail));
    json_object_array_add (a, c);
  }
  json_object_object_add (o, "kernels", a);

  a = json_object_new_array ();
  for (size_t i = 0; i < r->n_removed; i++)
    json_object_array_add (a, jstr (r->removed_packages[i]));
  json_object_object_add (o, "removed_packages", a);
  return o;
}
