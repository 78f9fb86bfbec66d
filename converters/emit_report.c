/* ferry: NAME.report.json, what a conversion did.
 *
 *   {
 *     "ferry_version": "0.1.0",
 *     "name": "web01",                      the VM's (libvirt) name
 *     "source": "/vms/web01/web01.vmx",
 *     "format": "vmx",                      the description's format
 *     "vm": { "uuid", "guest_os", "firmware": "bios"|"efi", "secure_boot",
 *             "memory_mib", "vcpus", "cores_per_socket", "nics": n },
 *     "disks": [ { "source_file", "source_path", "target_path",
 *                  "target_format", "virtual_size", "bytes_copied",
 *                  "checksum", "seconds" } ],          boot order
 *     "snapshots": { "file": ".vmsd read" | null, "count": n,
 *                    "converted": what the disks hold,
 *                    "list": [ { "uid", "parent", "name", "description",
 *                                "current" } ] },
 *     "guest": { ... },                     facts from guest conversion, {} until then
 *     "warnings": [ { "severity": "warning"|"critical", "code", "message" } ],
 *     "critical": true|false
 *   }
 *
 * Warnings are the parser's (code "source") followed by the pre-flight
 * findings.  Unknown values are null, never invented.
 */
#include "converters/emit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/error.h"
#include "importer/transport.h"
#include "version.h"

/* json-c's constructors fail only for lack of memory; the tree is checked
 * as it is built. */
struct jb {
  int oom;
};

static json_object *
chk (struct jb *b, json_object *o)
{
  if (!o)
    b->oom = 1;
  return o;
}

static void
put (struct jb *b, json_object *obj, const char *key, json_object *val)
{
  if (!obj || b->oom)
    {
      json_object_put (val);
      return;
    }
  if (json_object_object_add (obj, key, val) != 0)
    {
      json_object_put (val);
      b->oom = 1;
    }
}

static void
append (struct jb *b, json_object *arr, json_object *val)
{
  if (!arr || b->oom || !val)
    {
      json_object_put (val);
      if (!val)
        b->oom = 1;
      return;
    }
  if (json_object_array_add (arr, val) != 0)
    {
      json_object_put (val);
      b->oom = 1;
    }
}

/* A string, cleaned to valid UTF-8, or null. */
static json_object *
str (struct jb *b, const char *s)
{
  if (!s)
    return NULL;
  char *t = ferry_emit_clean_text (s, false);
  if (!t)
    {
      b->oom = 1;
      return NULL;
    }
  json_object *o = chk (b, json_object_new_string (t));
  free (t);
  return o;
}

static json_object *
u64 (struct jb *b, uint64_t v)
{
  return chk (b, json_object_new_uint64 (v));
}

static json_object *
finding (struct jb *b, const char *sev, const char *code, const char *msg)
{
  json_object *o = chk (b, json_object_new_object ());
  put (b, o, "severity", str (b, sev));
  put (b, o, "code", str (b, code));
  put (b, o, "message", str (b, msg));
  return o;
}

static json_object *
build (const struct ferry_vm *vm, const struct ferry_findings *findings,
       json_object *guest, struct jb *b)
{
  json_object *root = chk (b, json_object_new_object ());
  json_object *o, *arr;
  char *name = ferry_emit_libvirt_name (vm);
  size_t *order;
  size_t n;

  if (!name && ferry_error_code () == FERRY_E_SYSTEM)
    b->oom = 1;
  put (b, root, "ferry_version", str (b, FERRY_VERSION));
  put (b, root, "name", str (b, name));
  free (name);
  put (b, root, "source", str (b, vm->source));
  put (b, root, "format", str (b, vm->source_format));

  o = chk (b, json_object_new_object ());
  put (b, o, "uuid", str (b, vm->uuid));
  put (b, o, "guest_os", str (b, vm->guest_os));
  put (b, o, "firmware", str (b, vm->firmware == FERRY_FW_EFI ? "efi" : "bios"));
  put (b, o, "secure_boot", chk (b, json_object_new_boolean (vm->secure_boot)));
  put (b, o, "memory_mib", u64 (b, vm->memory_mib));
  put (b, o, "vcpus", u64 (b, vm->vcpus));
  put (b, o, "cores_per_socket", u64 (b, vm->cores_per_socket));
  put (b, o, "nics", u64 (b, vm->n_nics));
  put (b, root, "vm", o);

  arr = chk (b, json_object_new_array ());
  order = malloc ((vm->n_disks ? vm->n_disks : 1) * sizeof *order);
  if (!order)
    b->oom = 1;
  n = order ? ferry_emit_disk_order (vm, order) : 0;
  for (size_t k = 0; k < n; k++)
    {
      const struct ferry_vm_disk *d = &vm->disks[order[k]];
      bool done = d->target_path != NULL;
      o = chk (b, json_object_new_object ());
      put (b, o, "source_file", str (b, d->file));
      {
        /* A URL as it may be shown: no user info, no query secrets. */
        char *shown = d->path ? ferry_source_display (d->path) : NULL;
        put (b, o, "source_path", str (b, shown));
        free (shown);
      }
      put (b, o, "target_path", str (b, d->target_path));
      put (b, o, "target_format",
           done ? str (b, d->target_format ? d->target_format : "raw") : NULL);
      put (b, o, "virtual_size", d->capacity ? u64 (b, d->capacity) : NULL);
      put (b, o, "bytes_copied", done ? u64 (b, d->bytes_copied) : NULL);
      put (b, o, "checksum", str (b, d->checksum));
      put (b, o, "seconds",
           done ? chk (b, json_object_new_double (d->seconds)) : NULL);
      append (b, arr, o);
    }
  free (order);
  put (b, root, "disks", arr);

  /* Snapshots: what exists and which state the disks hold. */
  o = chk (b, json_object_new_object ());
  put (b, o, "file", str (b, vm->snapshot_file));
  put (b, o, "count", u64 (b, vm->n_snapshots));
  put (b, o, "converted",
       str (b, vm->n_snapshots
                 ? "the disks as the .vmx names them: the running state on "
                   "top of the current snapshot, its delta chain flattened; "
                   "the snapshots are not kept"
                 : vm->has_snapshots
                     ? "the disks as the description names them (snapshot "
                       "deltas), flattened; the snapshots are not kept"
                     : "the disks as the description names them"));
  arr = chk (b, json_object_new_array ());
  for (size_t i = 0; i < vm->n_snapshots; i++)
    {
      const struct ferry_vm_snapshot *sn = &vm->snapshots[i];
      json_object *so = chk (b, json_object_new_object ());
      put (b, so, "uid", u64 (b, sn->uid));
      put (b, so, "parent", sn->parent ? u64 (b, sn->parent) : NULL);
      put (b, so, "name", str (b, sn->name));
      put (b, so, "description", str (b, sn->description));
      put (b, so, "current", chk (b, json_object_new_boolean (sn->current)));
      append (b, arr, so);
    }
  put (b, o, "list", arr);
  put (b, root, "snapshots", o);

  put (b, root, "guest", guest);

  arr = chk (b, json_object_new_array ());
  for (size_t i = 0; i < vm->n_warnings; i++)
    append (b, arr, finding (b, "warning", "source", vm->warnings[i]));
  for (size_t i = 0; findings && i < findings->n; i++)
    append (b, arr,
            finding (b, findings->items[i].severity == FERRY_SEV_CRITICAL
                          ? "critical" : "warning",
                     findings->items[i].code, findings->items[i].message));
  put (b, root, "warnings", arr);
  put (b, root, "critical",
       chk (b, json_object_new_boolean (ferry_findings_critical (findings))));
  return root;
}

int
ferry_emit_report (const struct ferry_vm *vm,
                   const struct ferry_findings *findings,
                   const char *guest_json, FILE *out)
{
  struct jb b = { 0 };
  json_object *guest, *root;
  const char *text;
  size_t len;
  int r = -1;

  if (guest_json)
    {
      enum json_tokener_error jerr;
      guest = json_tokener_parse_verbose (guest_json, &jerr);
      if (!guest || !json_object_is_type (guest, json_type_object))
        {
          json_object_put (guest);
          return ferry_error (FERRY_E_INPUT, "guest facts: %s",
                              guest ? "not a JSON object"
                                    : json_tokener_error_desc (jerr));
        }
    }
  else if (!(guest = json_object_new_object ()))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");

  root = build (vm, findings, guest, &b);
  if (b.oom || !root)
    {
      json_object_put (root);
      return ferry_error (FERRY_E_SYSTEM, "out of memory");
    }
  text = json_object_to_json_string_length (
    root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
            | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
  if (!text)
    ferry_error (FERRY_E_SYSTEM, "out of memory");
  else if (fwrite (text, 1, len, out) != len || fputc ('\n', out) == EOF
           || fflush (out) != 0)
    ferry_error_errno (FERRY_E_OUTPUT, errno, "writing the report");
  else
    r = 0;
  json_object_put (root);
  return r;
}

struct rep_file_ctx {
  const struct ferry_vm *vm;
  const struct ferry_findings *findings;
  const char *guest_json;
};

static int
rep_file_fn (void *ctx, FILE *out)
{
  struct rep_file_ctx *c = ctx;
  return ferry_emit_report (c->vm, c->findings, c->guest_json, out);
}

int
ferry_emit_report_file (const struct ferry_vm *vm,
                        const struct ferry_findings *findings,
                        const char *guest_json, const char *path)
{
  struct rep_file_ctx c = { vm, findings, guest_json };
  if (ferry_emit_write_file (path, rep_file_fn, &c) == -1)
    return ferry_error_prefix ("%s", path);
  return 0;
}
