/* ferry: the VMDK text descriptor.
 *
 * A descriptor is a list of "key = value" lines, extent lines and comments.
 * VMware writes keys in mixed case and tools differ in quoting and spacing,
 * so keys are matched case-insensitively and values may be quoted or bare.
 * Every error names the line so a user can fix the file by hand.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "converters/vmdk.h"

/* Descriptors are a few hundred bytes; anything much larger is not one. */
#define MAX_DESCRIPTOR (1024 * 1024)
#define MAX_EXTENTS 4096

static const char *const create_types[] = {
  "monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse",
  "2GbMaxExtentSparse", "twoGbMaxExtentFlat", "2GbMaxExtentFlat",
  "streamOptimized", "vmfs", "vmfsThin", "vmfsPreallocated",
  "vmfsEagerZeroedThick", "vmfsThick", "vmfsSparse", "vmfsRaw", "vmfsRDM",
  "vmfsRawDeviceMap", "vmfsPassthroughRawDeviceMap", "seSparse", "custom",
  "fullDevice", "partitionedDevice",
};

bool
vmdk_create_type_known (const char *t)
{
  for (size_t i = 0; i < sizeof create_types / sizeof create_types[0]; i++)
    if (strcasecmp (t, create_types[i]) == 0)
      return true;
  return false;
}

static char *
trim (char *s)
{
  char *e;

  while (*s == ' ' || *s == '\t')
    s++;
  e = s + strlen (s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
    *--e = '\0';
  return s;
}

/* Strip one pair of double quotes. */
static char *
unquote (char *s)
{
  size_t n = strlen (s);

  if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
    s[n - 1] = '\0';
    return s + 1;
  }
  return s;
}

static int
parse_u32_hex (const char *s, uint32_t *out)
{
  char *end;
  unsigned long long v;

  errno = 0;
  v = strtoull (s, &end, 16);
  if (errno || end == s || *end || v > UINT32_MAX)
    return -1;
  *out = (uint32_t) v;
  return 0;
}

static int
parse_u64 (const char *s, uint64_t *out)
{
  char *end;
  unsigned long long v;

  if (!isdigit ((unsigned char) *s))
    return -1;
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno || *end)
    return -1;
  *out = v;
  return 0;
}

static int
parse_kind (const char *type, enum vmdk_extent_kind *kind)
{
  static const struct { const char *name; enum vmdk_extent_kind kind; } k[] = {
    { "FLAT", VMDK_EXT_FLAT },           { "VMFS", VMDK_EXT_FLAT },
    { "VMFSRAW", VMDK_EXT_FLAT },        { "VMFSRDM", VMDK_EXT_FLAT },
    { "ZERO", VMDK_EXT_ZERO },           { "SPARSE", VMDK_EXT_SPARSE },
    { "VMFSSPARSE", VMDK_EXT_VMFSSPARSE }, { "SESPARSE", VMDK_EXT_SESPARSE },
  };

  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
    if (strcasecmp (type, k[i].name) == 0) {
      *kind = k[i].kind;
      return 0;
    }
  return -1;
}

/* ACCESS SECTORS TYPE ["FILENAME" [OFFSET]] */
static int
parse_extent (char *line, const char *name, unsigned lineno,
              struct vmdk_extent_desc *e)
{
  char *p = line, *tok[3];
  char *fname = NULL;

  memset (e, 0, sizeof *e);
  for (int i = 0; i < 3; i++) {
    while (*p == ' ' || *p == '\t')
      p++;
    if (!*p)
      return ferry_error (FERRY_E_INPUT, "%s: line %u: extent line has too "
                          "few fields (want ACCESS SECTORS TYPE [\"FILE\" "
                          "[OFFSET]])", name, lineno);
    tok[i] = p;
    while (*p && *p != ' ' && *p != '\t')
      p++;
    if (*p)
      *p++ = '\0';
  }

  if (strcasecmp (tok[0], "RW") == 0)
    e->access = VMDK_RW;
  else if (strcasecmp (tok[0], "RDONLY") == 0)
    e->access = VMDK_RDONLY;
  else if (strcasecmp (tok[0], "NOACCESS") == 0)
    e->access = VMDK_NOACCESS;
  else
    return ferry_error (FERRY_E_INPUT, "%s: line %u: extent access '%s' is "
                        "not RW, RDONLY or NOACCESS", name, lineno, tok[0]);
  if (parse_u64 (tok[1], &e->sectors) < 0 || e->sectors == 0
      || e->sectors > (UINT64_MAX >> 10))
    return ferry_error (FERRY_E_INPUT, "%s: line %u: extent size '%s' is not "
                        "a positive number of sectors", name, lineno, tok[1]);
  if (parse_kind (tok[2], &e->kind) < 0)
    return ferry_error (FERRY_E_INPUT, "%s: line %u: unknown extent type '%s'",
                        name, lineno, tok[2]);

  while (*p == ' ' || *p == '\t')
    p++;
  if (*p == '"') {
    char *q = strchr (p + 1, '"');
    if (!q)
      return ferry_error (FERRY_E_INPUT, "%s: line %u: unterminated extent "
                          "file name", name, lineno);
    *q = '\0';
    fname = p + 1;
    p = q + 1;
  }
  else if (*p) {
    /* Some tools write the name without quotes (it then has no spaces). */
    fname = p;
    while (*p && *p != ' ' && *p != '\t')
      p++;
    if (*p)
      *p++ = '\0';
  }
  p = trim (p);
  if (*p) {
    if (e->kind != VMDK_EXT_FLAT)
      return ferry_error (FERRY_E_INPUT, "%s: line %u: unexpected '%s' after "
                          "the file name of a %s extent", name, lineno, p,
                          tok[2]);
    if (parse_u64 (p, &e->offset) < 0 || e->offset > (UINT64_MAX >> 10))
      return ferry_error (FERRY_E_INPUT, "%s: line %u: extent offset '%s' is "
                          "not a number of sectors", name, lineno, p);
  }

  if (e->kind == VMDK_EXT_ZERO) {
    if (fname && *fname)
      return ferry_error (FERRY_E_INPUT, "%s: line %u: ZERO extent with a "
                          "file name", name, lineno);
  }
  else if (!fname || !*fname)
    return ferry_error (FERRY_E_INPUT, "%s: line %u: %s extent without a "
                        "file name", name, lineno, tok[2]);

  if (!(e->type_name = strdup (tok[2])) || (fname && *fname && !(e->filename = strdup (fname)))) {
    free (e->type_name);
    e->type_name = NULL;
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  }
  return 0;
}

static int
is_extent_line (const char *s)
{
  size_t n = strcspn (s, " \t");

  return (n == 2 && strncasecmp (s, "RW", 2) == 0)
         || (n == 6 && strncasecmp (s, "RDONLY", 6) == 0)
         || (n == 8 && strncasecmp (s, "NOACCESS", 8) == 0);
}

static int
set_string (char **dst, const char *v)
{
  free (*dst);
  if (!(*dst = strdup (v)))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  return 0;
}

int
vmdk_descriptor_parse (const char *text, size_t len, const char *name,
                       struct vmdk_descriptor *d)
{
  char *buf, *line, *next;
  unsigned lineno = 0;
  size_t cap = 0;

  memset (d, 0, sizeof *d);
  d->parent_cid = 0xffffffff;

  /* Embedded descriptors are padded with NULs to a sector boundary. */
  len = strnlen (text, len);
  if (len > MAX_DESCRIPTOR)
    return ferry_error (FERRY_E_INPUT, "%s: descriptor is %zu bytes, more "
                        "than the %d a descriptor can be", name, len,
                        MAX_DESCRIPTOR);
  if (!(buf = malloc (len + 1)))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  memcpy (buf, text, len);
  buf[len] = '\0';

  for (line = buf; line; line = next) {
    char *eq, *key, *val;

    lineno++;
    next = strchr (line, '\n');
    if (next)
      *next++ = '\0';
    line = trim (line);
    if (!*line || *line == '#')
      continue;
    for (char *c = line; *c; c++)
      if ((unsigned char) *c < 0x20 && *c != '\t') {
        ferry_error (FERRY_E_INPUT, "%s: line %u: control character 0x%02x "
                     "in descriptor", name, lineno, (unsigned char) *c);
        goto err;
      }

    if (is_extent_line (line)) {
      if (d->n_extents == MAX_EXTENTS) {
        ferry_error (FERRY_E_INPUT, "%s: line %u: more than %d extents",
                     name, lineno, MAX_EXTENTS);
        goto err;
      }
      if (d->n_extents == cap) {
        size_t ncap = cap ? cap * 2 : 4;
        void *p = realloc (d->extents, ncap * sizeof *d->extents);
        if (!p) {
          ferry_error (FERRY_E_SYSTEM, "out of memory");
          goto err;
        }
        d->extents = p;
        cap = ncap;
      }
      if (parse_extent (line, name, lineno, &d->extents[d->n_extents]) < 0)
        goto err;
      d->n_extents++;
      continue;
    }

    eq = strchr (line, '=');
    if (!eq) {
      ferry_error (FERRY_E_INPUT, "%s: line %u: neither 'key = value' nor an "
                   "extent line: '%.40s'", name, lineno, line);
      goto err;
    }
    *eq = '\0';
    key = trim (line);
    val = unquote (trim (eq + 1));

    if (strcasecmp (key, "version") == 0) {
      uint64_t v;
      if (parse_u64 (val, &v) < 0 || v > UINT32_MAX) {
        ferry_error (FERRY_E_INPUT, "%s: line %u: version '%s' is not a "
                     "number", name, lineno, val);
        goto err;
      }
      d->version = (uint32_t) v;
    }
    else if (strcasecmp (key, "CID") == 0) {
      if (parse_u32_hex (val, &d->cid) < 0) {
        ferry_error (FERRY_E_INPUT, "%s: line %u: CID '%s' is not a 32-bit "
                     "hex number", name, lineno, val);
        goto err;
      }
      d->has_cid = true;
    }
    else if (strcasecmp (key, "parentCID") == 0) {
      if (parse_u32_hex (val, &d->parent_cid) < 0) {
        ferry_error (FERRY_E_INPUT, "%s: line %u: parentCID '%s' is not a "
                     "32-bit hex number", name, lineno, val);
        goto err;
      }
      d->has_parent_cid = true;
    }
    else if (strcasecmp (key, "createType") == 0) {
      if (set_string (&d->create_type, val) < 0)
        goto err;
    }
    else if (strcasecmp (key, "parentFileNameHint") == 0) {
      if (*val && set_string (&d->parent_hint, val) < 0)
        goto err;
    }
    else if (strcasecmp (key, "ddb.adapterType") == 0) {
      if (set_string (&d->adapter_type, val) < 0)
        goto err;
    }
    /* Other keys (encoding, ddb.geometry.*, uuids, ...) do not change how
     * the disk is read. */
  }

  free (buf);
  if (!d->create_type) {
    ferry_error (FERRY_E_INPUT, "%s: descriptor has no createType", name);
    vmdk_descriptor_free (d);
    return -1;
  }
  if (d->n_extents == 0) {
    ferry_error (FERRY_E_INPUT, "%s: descriptor (createType \"%s\") has no "
                 "extents", name, d->create_type);
    vmdk_descriptor_free (d);
    return -1;
  }
  return 0;

err:
  free (buf);
  vmdk_descriptor_free (d);
  return -1;
}

void
vmdk_descriptor_free (struct vmdk_descriptor *d)
{
  for (size_t i = 0; i < d->n_extents; i++) {
    free (d->extents[i].type_name);
    free (d->extents[i].filename);
  }
  free (d->extents);
  free (d->create_type);
  free (d->parent_hint);
  free (d->adapter_type);
  memset (d, 0, sizeof *d);
}
