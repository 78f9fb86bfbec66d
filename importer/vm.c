/* ferry: the VM model's memory management, and loading a description
 * from a local path or a URL with its disks resolved (importer/vm.h). */
#include "importer/vm.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/error.h"
#include "importer/http.h"
#include "importer/transport.h"

/* A description is small; anything larger is not one. */
#define VM_DESC_MAX (16u << 20)

void
ferry_vm_free (struct ferry_vm *vm)
{
  if (!vm)
    return;
  free (vm->source);
  free (vm->source_format);
  free (vm->name);
  free (vm->uuid);
  free (vm->guest_os);
  free (vm->annotation);
  for (size_t i = 0; i < vm->n_controllers; i++)
    free (vm->controllers[i].model);
  free (vm->controllers);
  for (size_t i = 0; i < vm->n_disks; i++) {
    struct ferry_vm_disk *d = &vm->disks[i];
    free (d->file);
    free (d->path);
    free (d->device_type);
    free (d->mode);
    free (d->id);
    free (d->target_path);
    free (d->target_format);
    free (d->checksum);
  }
  free (vm->disks);
  for (size_t i = 0; i < vm->n_nics; i++) {
    free (vm->nics[i].model);
    free (vm->nics[i].mac);
    free (vm->nics[i].network);
  }
  free (vm->nics);
  for (size_t i = 0; i < vm->n_serials; i++) {
    free (vm->serials[i].type);
    free (vm->serials[i].target);
  }
  free (vm->serials);
  for (size_t i = 0; i < vm->n_snapshots; i++) {
    free (vm->snapshots[i].name);
    free (vm->snapshots[i].description);
    free (vm->snapshots[i].file);
  }
  free (vm->snapshots);
  free (vm->snapshot_file);
  for (size_t i = 0; i < vm->n_warnings; i++)
    free (vm->warnings[i]);
  free (vm->warnings);
  memset (vm, 0, sizeof *vm);
}

int
ferry_vm_warn (struct ferry_vm *vm, const char *fmt, ...)
{
  va_list ap;
  char *msg, **w;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (r < 0)
    return -1;
  w = realloc (vm->warnings, (vm->n_warnings + 1) * sizeof *w);
  if (!w) {
    free (msg);
    return -1;
  }
  vm->warnings = w;
  vm->warnings[vm->n_warnings++] = msg;
  return 0;
}

/* ---- loading ------------------------------------------------------------ */

static bool
is_url (const char *s)
{
  return strncasecmp (s, "http://", 7) == 0
         || strncasecmp (s, "https://", 8) == 0;
}

/* The path part's extension (before any '?'), case-insensitively. */
static bool
has_ext (const char *s, const char *ext)
{
  size_t n = strcspn (s, "?#"), el = strlen (ext);

  if (!is_url (s))
    n = strlen (s);
  return n > el && strncasecmp (s + n - el, ext, el) == 0;
}

/* The whole content of t (at most max bytes), NUL-terminated. */
static char *
read_all (struct ferry_transport *t, size_t max, size_t *len)
{
  int64_t size = ferry_transport_size (t);
  char *buf = NULL;
  size_t n = 0;

  if (size > (int64_t) max) {
    ferry_error (FERRY_E_INPUT, "%s: %lld bytes is too large for a VM "
                 "description (at most %zu)", t->name, (long long) size, max);
    return NULL;
  }
  if (size >= 0) {
    if (!(buf = malloc ((size_t) size + 1))) {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      return NULL;
    }
    if (size && ferry_transport_pread (t, buf, (size_t) size, 0) < 0) {
      free (buf);
      return NULL;
    }
    n = (size_t) size;
  }
  else {
    /* A stream of unknown length: read until its end. */
    if (!t->ops->pread_partial) {
      ferry_error (FERRY_E_INPUT, "%s: the size is unknown", t->name);
      return NULL;
    }
    if (!(buf = malloc (max + 1))) {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      return NULL;
    }
    for (;;) {
      int64_t r = t->ops->pread_partial (t, buf + n, max + 1 - n, n);
      if (r < 0) {
        free (buf);
        return NULL;
      }
      if (r == 0)
        break;
      n += (size_t) r;
      if (n > max) {
        free (buf);
        ferry_error (FERRY_E_INPUT, "%s: more than %zu bytes: too large for "
                     "a VM description", t->name, max);
        return NULL;
      }
    }
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

/* Read src (a path or URL) whole; missing is set (and NULL returned with
 * the error set) when the file does not exist. */
static char *
fetch (const char *src, const struct ferry_source_opts *o, size_t *len)
{
  struct ferry_transport *t = ferry_transport_open_opts (src, o);
  char *text;

  if (!t)
    return NULL;
  text = read_all (t, VM_DESC_MAX, len);
  ferry_transport_close (t);
  return text;
}

/* A path from a description must not climb out of its folder on a web
 * server: the server resolves '..' and would hand out other files. */
static int
check_no_dotdot (const char *name, const char *file)
{
  for (const char *p = file; *p;) {
    size_t n = strcspn (p, "/");
    if (n == 2 && p[0] == '.' && p[1] == '.')
      return ferry_error (FERRY_E_INPUT, "%s: disk path '%s' leaves the "
                          "description's folder ('..')", name, file);
    p += n;
    while (*p == '/')
      p++;
  }
  return 0;
}

/* The URL of disk file (as the description writes it) next to url. */
static char *
disk_url (const char *url, const char *name, const char *file)
{
  char *r, *ds = NULL;
  const char *rest;

  if (file[0] == '[') {
    /* "[datastore] dir/x.vmdk" */
    const char *e = strchr (file, ']');
    if (!e || e == file + 1) {
      ferry_error (FERRY_E_INPUT, "%s: disk path '%s': expected \"[datastore] "
                   "path\"", name, file);
      return NULL;
    }
    ds = strndup (file + 1, (size_t) (e - file - 1));
    rest = e + 1;
    while (*rest == ' ')
      rest++;
  }
  else if (strncmp (file, "/vmfs/volumes/", 14) == 0) {
    /* The same datastore path as ESXi shows it locally. */
    const char *d = file + 14, *e = strchr (d, '/');
    if (!e || e == d) {
      ferry_error (FERRY_E_INPUT, "%s: disk path '%s': expected "
                   "/vmfs/volumes/DATASTORE/PATH", name, file);
      return NULL;
    }
    ds = strndup (d, (size_t) (e - d));
    rest = e + 1;
  }
  else if (file[0] == '/') {
    ferry_error (FERRY_E_INPUT, "%s: disk path '%s' is an absolute path on "
                 "the source host; it cannot be fetched over HTTP", name,
                 file);
    return NULL;
  }
  else if (strstr (file, "://")) {
    /* The description must not send the source options (credentials,
     * cookie) to another server. */
    ferry_error (FERRY_E_INPUT, "%s: disk '%s' is a URL of its own; disks "
                 "are fetched only next to the description", name, file);
    return NULL;
  }
  else
    rest = file;
  if ((file[0] == '[' || file[0] == '/') && !ds) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  if (check_no_dotdot (name, rest) < 0) {
    free (ds);
    return NULL;
  }
  r = ds ? ferry_http_datastore_url (url, ds, rest)
         : ferry_http_sibling_url (url, rest);
  free (ds);
  if (!r)
    ferry_error_prefix ("%s: disk '%s'", name, file);
  return r;
}

static int
resolve_urls (const char *url, const char *name, struct ferry_vm *vm)
{
  for (size_t i = 0; i < vm->n_disks; i++) {
    struct ferry_vm_disk *d = &vm->disks[i];
    free (d->path);
    d->path = NULL;
    if (d->kind != FERRY_DISK_DISK || !d->present || !d->file || !d->file[0])
      continue;
    if (!(d->path = disk_url (url, name, d->file)))
      return -1;
  }
  return 0;
}

/* VM.vmx -> VM.vmsd (the query of a URL kept). */
static char *
vmsd_name (const char *src)
{
  size_t n = is_url (src) ? strcspn (src, "?#") : strlen (src);
  char *r;

  if (n < 4 || strncasecmp (src + n - 4, ".vmx", 4) != 0)
    return NULL;
  if (asprintf (&r, "%.*s.vmsd%s", (int) (n - 4), src, src + n) < 0)
    return NULL;
  return r;
}

/* The .vmsd next to a .vmx.  Missing is normal (a VM that never had
 * snapshots); one that cannot be read or parsed is a warning, because the
 * disks the .vmx names are converted either way. */
int
ferry_vm_load_vmsd (const char *src, const struct ferry_source_opts *o,
                    struct ferry_vm *vm)
{
  char *p = vmsd_name (src), *disp, *text;
  size_t len = 0;
  int r = 0;

  if (!p)
    return 0;
  disp = ferry_source_display (p);
  if (!is_url (p) && access (p, F_OK) < 0 && errno == ENOENT)
    goto out;
  ferry_error_clear ();
  if (!(text = fetch (p, o, &len))) {
    /* An HTTP 404 is "no snapshots file"; anything else is worth saying. */
    if (is_url (p) && strstr (ferry_error_msg (), "404"))
      goto out;
    r = ferry_vm_warn (vm, "the snapshot list %s could not be read (%s); "
                       "snapshots are not reported", disp, ferry_error_msg ());
    goto out;
  }
  if (ferry_vmsd_parse (text, len, disp, vm) < 0)
    r = ferry_vm_warn (vm, "the snapshot list is not valid: %s; snapshots "
                       "are not reported", ferry_error_msg ());
  else if (!(vm->snapshot_file = strdup (disp)))
    r = -1;
  free (text);
 out:
  ferry_error_clear ();
  free (disp);
  free (p);
  return r < 0 ? ferry_error (FERRY_E_SYSTEM, "out of memory") : 0;
}

int
ferry_vm_load (const char *src, const struct ferry_source_opts *o,
               const char *vm_name, struct ferry_vm *out)
{
  bool url = is_url (src), xml;
  char *text = NULL, *dir = NULL, *disp = ferry_source_display (src);
  const char *p;
  size_t len = 0;
  int r = -1;

  memset (out, 0, sizeof *out);
  if (!(text = fetch (src, o, &len)))
    goto out;
  if (!url) {
    char *copy = strdup (src);
    if (!copy || !(dir = strdup (dirname (copy)))) {
      free (copy);
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto out;
    }
    free (copy);
  }
  for (p = text; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
    ;
  if (has_ext (src, ".vmx"))
    xml = false;
  else
    xml = has_ext (src, ".ovf") || *p == '<';
  if (!xml && vm_name) {
    ferry_error (FERRY_E_USAGE, "%s: --vm chooses a system of an OVF "
                 "VirtualSystemCollection; a .vmx describes one VM", disp);
    goto out;
  }
  if ((xml ? ferry_ovf_parse_select (text, len, disp, dir, vm_name, out)
           : ferry_vmx_parse (text, len, disp, dir, out)) < 0)
    goto out;
  if ((url && resolve_urls (src, disp, out) < 0)
      || (!xml && ferry_vm_load_vmsd (src, o, out) < 0)) {
    ferry_vm_free (out);
    goto out;
  }
  r = 0;
 out:
  free (text);
  free (dir);
  free (disp);
  return r;
}
