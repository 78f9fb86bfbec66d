/* ferry: the .vmsd reader (the snapshot list next to a .vmx).
 *
 * A .vmsd uses the .vmx syntax.  Each snapshot is a group of keys
 * snapshotN.* (uid, parent, displayName, description, filename, numDisks,
 * diskM.fileName), and snapshot.current names the uid of the snapshot the
 * VM runs on top of.  VMware leaves an empty .vmsd behind when the last
 * snapshot is deleted, so no keys at all means no snapshots.
 *
 * ferry reports the snapshots; it does not convert them.  The disks the
 * .vmx names are the running state (the current snapshot's delta chain),
 * and that is what is copied, flattened.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "importer/vm.h"
#include "importer/vmx_kv.h"

/* VMware allows 496 snapshots in a chain; an index far beyond that is
 * not a real .vmsd, and bounding it keeps allocation bounded. */
#define VMSD_MAX_SNAPSHOTS 1024

struct snap {
  bool seen;
  const char *uid, *parent, *name, *description, *file, *numdisks;
  unsigned uid_line, parent_line, numdisks_line;
};

static int
oom (void)
{
  return ferry_error (FERRY_E_SYSTEM, "out of memory");
}

/* A decimal uid/count: digits only, at most max. */
static int
parse_uint (const char *name, unsigned line, const char *key, const char *s,
            unsigned max, unsigned *out)
{
  uint64_t v = 0;

  if (!*s)
    goto bad;
  for (const char *p = s; *p; p++) {
    if (!isdigit ((unsigned char) *p))
      goto bad;
    v = v * 10 + (uint64_t) (*p - '0');
    if (v > max)
      return ferry_error (FERRY_E_INPUT, "%s: line %u: key %s: %.32s is "
                          "larger than %u", name, line, key, s, max);
  }
  *out = (unsigned) v;
  return 0;
 bad:
  return ferry_error (FERRY_E_INPUT, "%s: line %u: key %s: expected a "
                      "number, not \"%.64s\"", name, line, key, s);
}

/* "snapshot12.displayname" -> 12 and "displayname"; false otherwise. */
static bool
split_key (const char *key, unsigned *idx, const char **field)
{
  const char *p = key + 8;
  unsigned v = 0;

  if (strncmp (key, "snapshot", 8) != 0 || !isdigit ((unsigned char) *p))
    return false;
  for (; isdigit ((unsigned char) *p); p++) {
    v = v * 10 + (unsigned) (*p - '0');
    if (v >= VMSD_MAX_SNAPSHOTS)
      return false;
  }
  if (*p != '.' || p[1] == 0)
    return false;
  *idx = v;
  *field = p + 1;
  return true;
}

static char *
dup_or_null (const char *s)
{
  return s && *s ? strdup (s) : NULL;
}

static int
fill (const struct ferry_vmx_kv *kv, const char *name, struct snap *sn,
      unsigned n_idx, struct ferry_vm_snapshot **outv, size_t *outn)
{
  struct ferry_vm_snapshot *v;
  size_t n = 0;
  unsigned cur = 0, line = 0, num = 0;
  const char *s;

  if ((s = ferry_vmx_kv_get (kv, "snapshot.current", &line))
      && parse_uint (name, line, "snapshot.current", s, UINT32_MAX - 1,
                     &cur) < 0)
    return -1;
  if ((s = ferry_vmx_kv_get (kv, "snapshot.numsnapshots", &line))
      && parse_uint (name, line, "snapshot.numSnapshots", s,
                     VMSD_MAX_SNAPSHOTS, &num) < 0)
    return -1;
  if (!(v = calloc (n_idx ? n_idx : 1, sizeof *v)))
    return oom ();
  *outv = v;
  *outn = 0;
  for (unsigned i = 0; i < n_idx; i++) {
    struct snap *p = &sn[i];
    struct ferry_vm_snapshot *o;
    char key[48];

    if (!p->seen)
      continue;
    if (!p->uid)
      return ferry_error (FERRY_E_INPUT, "%s: snapshot%u has no uid", name,
                          i);
    o = &v[n++];
    *outn = n;
    snprintf (key, sizeof key, "snapshot%u.uid", i);
    if (parse_uint (name, p->uid_line, key, p->uid, UINT32_MAX - 1, &o->uid)
        < 0)
      return -1;
    if (o->uid == 0)
      return ferry_error (FERRY_E_INPUT, "%s: line %u: key %s: a snapshot "
                          "uid is not 0", name, p->uid_line, key);
    snprintf (key, sizeof key, "snapshot%u.parent", i);
    if (p->parent && parse_uint (name, p->parent_line, key, p->parent,
                                 UINT32_MAX - 1, &o->parent) < 0)
      return -1;
    snprintf (key, sizeof key, "snapshot%u.numDisks", i);
    if (p->numdisks && parse_uint (name, p->numdisks_line, key, p->numdisks,
                                   1024, &o->n_disks) < 0)
      return -1;
    if (!(o->name = strdup (p->name ? p->name : "")))
      return oom ();
    if ((p->description && *p->description
         && !(o->description = strdup (p->description)))
        || (p->file && *p->file && !(o->file = dup_or_null (p->file))))
      return oom ();
    for (size_t k = 0; k + 1 < n; k++)
      if (v[k].uid == o->uid)
        return ferry_error (FERRY_E_INPUT, "%s: line %u: two snapshots "
                            "have uid %u", name, p->uid_line, o->uid);
  }
  /* Parents and the current snapshot must be snapshots of this list. */
  for (size_t i = 0; i < n; i++) {
    bool found = v[i].parent == 0;
    for (size_t k = 0; k < n && !found; k++)
      found = v[k].uid == v[i].parent;
    if (!found)
      return ferry_error (FERRY_E_INPUT, "%s: snapshot uid %u names parent "
                          "uid %u, which is not in the file", name, v[i].uid,
                          v[i].parent);
    if (v[i].uid == v[i].parent)
      return ferry_error (FERRY_E_INPUT, "%s: snapshot uid %u is its own "
                          "parent", name, v[i].uid);
  }
  if (cur && n) {
    bool found = false;
    for (size_t i = 0; i < n; i++)
      if (v[i].uid == cur)
        found = v[i].current = true;
    if (!found)
      return ferry_error (FERRY_E_INPUT, "%s: snapshot.current = %u names no "
                          "snapshot of the file", name, cur);
  }
  if (num != n && (num || n))
    return ferry_error (FERRY_E_INPUT, "%s: snapshot.numSnapshots is %u but "
                        "the file lists %zu snapshot%s", name, num, n,
                        n == 1 ? "" : "s");
  return 0;
}

static void
free_snaps (struct ferry_vm_snapshot *v, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free (v[i].name);
    free (v[i].description);
    free (v[i].file);
  }
  free (v);
}

int
ferry_vmsd_parse (const char *text, size_t len, const char *name,
                  struct ferry_vm *vm)
{
  struct ferry_vmx_kv *kv = NULL;
  struct snap *sn = NULL;
  struct ferry_vm_snapshot *v = NULL;
  size_t n = 0;
  unsigned n_idx = 0;
  int r = -1;

  if (ferry_vmx_kv_parse (text, len, name, &kv) < 0)
    return -1;
  /* The highest index first, so one allocation holds every group. */
  for (size_t i = 0; i < ferry_vmx_kv_count (kv); i++) {
    unsigned idx;
    const char *field;
    if (split_key (ferry_vmx_kv_at (kv, i, NULL, NULL), &idx, &field)
        && idx + 1 > n_idx)
      n_idx = idx + 1;
  }
  if (n_idx && !(sn = calloc (n_idx, sizeof *sn))) {
    oom ();
    goto out;
  }
  for (size_t i = 0; i < ferry_vmx_kv_count (kv); i++) {
    const char *val, *field, *key;
    unsigned idx, line;
    key = ferry_vmx_kv_at (kv, i, &val, &line);
    if (!split_key (key, &idx, &field))
      continue;
    struct snap *p = &sn[idx];
    p->seen = true;
    if (strcmp (field, "uid") == 0) {
      p->uid = val;
      p->uid_line = line;
    }
    else if (strcmp (field, "parent") == 0) {
      p->parent = val;
      p->parent_line = line;
    }
    else if (strcmp (field, "displayname") == 0)
      p->name = val;
    else if (strcmp (field, "description") == 0)
      p->description = val;
    else if (strcmp (field, "filename") == 0)
      p->file = val;
    else if (strcmp (field, "numdisks") == 0) {
      p->numdisks = val;
      p->numdisks_line = line;
    }
  }
  if (fill (kv, name, sn, n_idx, &v, &n) < 0)
    goto out;

  if (n) {
    const struct ferry_vm_snapshot *cur = NULL;
    for (size_t i = 0; i < n; i++)
      if (v[i].current)
        cur = &v[i];
    if (ferry_vm_warn (vm, "the VM has %zu snapshot%s (%s%s%s); the disks "
                       "are converted as the .vmx names them: the running "
                       "state on top of the current snapshot, its delta "
                       "chain flattened; the snapshots are not kept", n,
                       n == 1 ? "" : "s", cur ? "current: \"" : "",
                       cur ? cur->name : "no current snapshot",
                       cur ? "\"" : "") < 0) {
      oom ();
      goto out;
    }
    vm->has_snapshots = true;
  }
  free_snaps (vm->snapshots, vm->n_snapshots);
  vm->snapshots = v;
  vm->n_snapshots = n;
  v = NULL;
  n = 0;
  r = 0;
 out:
  free_snaps (v, n);
  free (sn);
  ferry_vmx_kv_free (kv);
  return r;
}
