/* ferry: the VMware .vmx reader.
 *
 * A .vmx file is a list of lines "key = "value"".  Keys are case
 * insensitive; values are quoted, and VMware escapes bytes inside them as
 * '|' and two hex digits (|22 is '"', |7C is '|', |0A a newline).  A
 * ".encoding" line names the character set of the values (UTF-8 unless it
 * says otherwise).  Blank lines and lines starting with '#' are ignored.
 * VMware refuses a file that sets a key twice, and so does ferry: the
 * error names both lines.
 *
 * The parser works in two passes: first every line becomes an entry (key
 * lower-cased, value unescaped and converted to UTF-8), sorted by key so
 * duplicates are adjacent and lookups are a binary search; then the VM
 * model is filled from the entries.  Devices are found by their key shape
 * (scsi0:1.fileName, ethernet2.present, ...).
 */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "importer/vm.h"
#include "importer/vmx_kv.h"

/* Limits that keep numbers meaningful (and arithmetic on them safe). */
#define VMX_MAX_MEMORY_MIB (UINT64_C (16) * 1024 * 1024) /* 16 TiB */
#define VMX_MAX_VCPUS 4096

struct ent {
  char *key;       /* lower case */
  char *kname;     /* as written, for messages */
  char *value;     /* unescaped, UTF-8, NUL-terminated */
  unsigned line;
};

struct ctl {
  enum ferry_bus bus;
  unsigned idx;
  const struct ent *present, *virtualdev, *sharedbus;
};

struct dev {
  enum ferry_bus bus;
  unsigned ctrl, unit;
  const struct ent *filename, *present, *devicetype, *mode, *sharing;
};

struct nic {
  unsigned idx;
  const struct ent *present, *virtualdev, *addresstype, *address,
    *generatedaddress, *networkname, *startconnected;
};

struct ser {
  unsigned idx;
  const struct ent *present, *filetype, *filename;
};

struct vmx {
  const char *name;
  const char *dir;
  struct ferry_vm *vm;
  struct ent *e;
  size_t n, cap;
  struct ctl *ctls;
  size_t n_ctls;
  struct dev *devs;
  size_t n_devs, cap_devs;
  struct nic *nics;
  size_t n_nics, cap_nics;
  struct ser *sers;
  size_t n_sers, cap_sers;
};

static const struct {
  const char *prefix;
  enum ferry_bus bus;
  const char *label;
  unsigned max_ctrl, max_unit;
} buses[] = {
  { "scsi", FERRY_BUS_SCSI, "SCSI", 3, 63 },
  { "sata", FERRY_BUS_SATA, "SATA", 3, 29 },
  { "ide", FERRY_BUS_IDE, "IDE", 1, 1 },
  { "nvme", FERRY_BUS_NVME, "NVMe", 3, 63 },
};
#define N_BUSES (sizeof buses / sizeof buses[0])

static const char *
bus_prefix (enum ferry_bus b)
{
  for (size_t i = 0; i < N_BUSES; i++)
    if (buses[i].bus == b)
      return buses[i].prefix;
  return "?";
}

static int
oom (void)
{
  return ferry_error (FERRY_E_SYSTEM, "out of memory");
}

static int
grow (void **p, size_t *cap, size_t need, size_t size)
{
  void *np;
  size_t nc;

  if (need <= *cap)
    return 0;
  nc = *cap ? *cap * 2 : 16;
  while (nc < need)
    nc *= 2;
  np = realloc (*p, nc * size);
  if (!np)
    return oom ();
  *p = np;
  *cap = nc;
  return 0;
}

static void
vmx_free (struct vmx *v)
{
  for (size_t i = 0; i < v->n; i++) {
    free (v->e[i].key);
    free (v->e[i].kname);
    free (v->e[i].value);
  }
  free (v->e);
  free (v->ctls);
  free (v->devs);
  free (v->nics);
  free (v->sers);
}

/* ---- pass 1: lines to entries ----------------------------------------- */

static int
hexval (unsigned char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Unescape raw[0..n) into a new string. */
static int
unescape (const struct vmx *v, unsigned line, const char *kname,
          const char *raw, size_t n, char **out)
{
  char *s = malloc (n + 1), *p = s;

  if (!s)
    return oom ();
  for (size_t i = 0; i < n; i++) {
    if (raw[i] != '|') {
      *p++ = raw[i];
      continue;
    }
    int hi = i + 1 < n ? hexval ((unsigned char) raw[i + 1]) : -1;
    int lo = i + 2 < n ? hexval ((unsigned char) raw[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      free (s);
      return ferry_error (FERRY_E_INPUT,
                          "%s: line %u: key %s: bad escape at column %zu: "
                          "'|' must be followed by two hex digits "
                          "(|22 for '\"', |7C for '|')",
                          v->name, line, kname, i + 1);
    }
    if (hi == 0 && lo == 0) {
      free (s);
      return ferry_error (FERRY_E_INPUT,
                          "%s: line %u: key %s: escaped NUL byte (|00) "
                          "in value", v->name, line, kname);
    }
    *p++ = (char) (hi * 16 + lo);
    i += 2;
  }
  *p = 0;
  *out = s;
  return 0;
}

static bool
key_char_ok (unsigned char c)
{
  return c > ' ' && c < 0x7f && c != '"' && c != '=' && c != '#';
}

static int
parse_line (struct vmx *v, const char *s, size_t n, unsigned line)
{
  size_t i = 0, ks, ke, vs, ve;
  const char *q;
  struct ent e = { .line = line };

  while (i < n && (s[i] == ' ' || s[i] == '\t'))
    i++;
  if (i == n || s[i] == '#')
    return 0;
  if (memchr (s, 0, n))
    return ferry_error (FERRY_E_INPUT, "%s: line %u: NUL byte in the line",
                        v->name, line);
  q = memchr (s + i, '=', n - i);
  if (!q)
    return ferry_error (FERRY_E_INPUT,
                        "%s: line %u: expected 'key = \"value\"', found no '='",
                        v->name, line);
  ks = i;
  ke = (size_t) (q - s);
  while (ke > ks && (s[ke - 1] == ' ' || s[ke - 1] == '\t'))
    ke--;
  if (ke == ks)
    return ferry_error (FERRY_E_INPUT, "%s: line %u: empty key before '='",
                        v->name, line);
  for (size_t k = ks; k < ke; k++)
    if (!key_char_ok ((unsigned char) s[k]))
      return ferry_error (FERRY_E_INPUT,
                          "%s: line %u: bad character in key '%.*s' "
                          "(keys are printable ASCII without spaces or quotes)",
                          v->name, line, (int) (ke - ks > 64 ? 64 : ke - ks),
                          s + ks);

  e.kname = strndup (s + ks, ke - ks);
  if (!e.kname)
    return oom ();
  i = (size_t) (q - s) + 1;
  while (i < n && (s[i] == ' ' || s[i] == '\t'))
    i++;
  if (i < n && s[i] == '"') {
    vs = i + 1;
    q = memchr (s + vs, '"', n - vs);
    if (!q) {
      ferry_error (FERRY_E_INPUT,
                   "%s: line %u: key %s: unterminated quoted value "
                   "(no closing '\"' on the line)", v->name, line, e.kname);
      goto err;
    }
    ve = (size_t) (q - s);
    i = ve + 1;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
      i++;
    if (i < n && s[i] != '#') {
      ferry_error (FERRY_E_INPUT,
                   "%s: line %u: key %s: unexpected text after the closing "
                   "quote", v->name, line, e.kname);
      goto err;
    }
  }
  else {
    /* Unquoted (hand-edited files): up to a comment, trimmed. */
    vs = i;
    q = memchr (s + vs, '#', n - vs);
    ve = q ? (size_t) (q - s) : n;
    while (ve > vs && (s[ve - 1] == ' ' || s[ve - 1] == '\t'))
      ve--;
    if (memchr (s + vs, '"', ve - vs)) {
      ferry_error (FERRY_E_INPUT,
                   "%s: line %u: key %s: stray '\"' in an unquoted value",
                   v->name, line, e.kname);
      goto err;
    }
  }
  if (unescape (v, line, e.kname, s + vs, ve - vs, &e.value) < 0)
    goto err;
  e.key = strdup (e.kname);
  if (!e.key) {
    oom ();
    goto err;
  }
  for (char *p = e.key; *p; p++)
    *p = (char) tolower ((unsigned char) *p);
  if (grow ((void **) &v->e, &v->cap, v->n + 1, sizeof *v->e) < 0)
    goto err;
  v->e[v->n++] = e;
  return 0;

 err:
  free (e.kname);
  free (e.key);
  free (e.value);
  return -1;
}

static int
ent_cmp (const void *a, const void *b)
{
  const struct ent *x = a, *y = b;
  int c = strcmp (x->key, y->key);
  if (c)
    return c;
  return (x->line > y->line) - (x->line < y->line);
}

static bool
utf8_valid (const char *s)
{
  const unsigned char *p = (const unsigned char *) s;

  while (*p) {
    unsigned c = *p, n;
    uint32_t cp;
    if (c < 0x80) {
      p++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; }
    else return false;
    for (unsigned k = 1; k <= n; k++) {
      if ((p[k] & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (p[k] & 0x3f);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
      return false;
    p += n + 1;
  }
  return true;
}

static bool
is_utf8_name (const char *enc)
{
  return strcasecmp (enc, "UTF-8") == 0 || strcasecmp (enc, "UTF8") == 0;
}

/* Convert every value from the .encoding character set to UTF-8. */
static int
convert_encoding (struct vmx *v, const struct ent *enc)
{
  iconv_t cd = iconv_open ("UTF-8", enc->value);

  if (cd == (iconv_t) -1)
    return ferry_error (FERRY_E_INPUT,
                        "%s: line %u: .encoding \"%s\" is not a character "
                        "set this system knows", v->name, enc->line,
                        enc->value);
  for (size_t i = 0; i < v->n; i++) {
    struct ent *e = &v->e[i];
    size_t inlen = strlen (e->value), outcap = inlen * 4 + 1, outleft;
    char *in = e->value, *out, *op;
    if (!inlen)
      continue;
    out = malloc (outcap);
    if (!out) {
      iconv_close (cd);
      return oom ();
    }
    op = out;
    outleft = outcap - 1;
    iconv (cd, NULL, NULL, NULL, NULL);
    if (iconv (cd, &in, &inlen, &op, &outleft) == (size_t) -1) {
      free (out);
      iconv_close (cd);
      return ferry_error (FERRY_E_INPUT,
                          "%s: line %u: key %s: value is not valid %s "
                          "(the .encoding line)", v->name, e->line, e->kname,
                          enc->value);
    }
    *op = 0;
    if (strlen (out) != (size_t) (op - out)) {
      free (out);
      iconv_close (cd);
      return ferry_error (FERRY_E_INPUT,
                          "%s: line %u: key %s: value decodes to a NUL "
                          "character", v->name, e->line, e->kname);
    }
    free (e->value);
    e->value = out;
  }
  iconv_close (cd);
  return 0;
}

static int
tokenize (struct vmx *v, const char *text, size_t len)
{
  size_t pos = 0;
  unsigned line = 1;

  if (len >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0)
    pos = 3; /* UTF-8 byte order mark */
  while (pos < len) {
    const char *nl = memchr (text + pos, '\n', len - pos);
    size_t end = nl ? (size_t) (nl - text) : len, n = end - pos;
    if (n && text[pos + n - 1] == '\r')
      n--;
    if (parse_line (v, text + pos, n, line) < 0)
      return -1;
    pos = end + 1;
    if (line == UINT32_MAX)
      return ferry_error (FERRY_E_INPUT, "%s: too many lines", v->name);
    line++;
  }

  if (v->n)
    qsort (v->e, v->n, sizeof *v->e, ent_cmp);
  for (size_t i = 1; i < v->n; i++)
    if (strcmp (v->e[i - 1].key, v->e[i].key) == 0)
      return ferry_error (FERRY_E_INPUT,
                          "%s: line %u: duplicate key %s (already set on "
                          "line %u); VMware refuses such a file, remove one",
                          v->name, v->e[i].line, v->e[i].kname,
                          v->e[i - 1].line);
  return 0;
}

/* ---- lookups and typed values ----------------------------------------- */

static const struct ent *
get (const struct vmx *v, const char *key)
{
  struct ent k = { .key = (char *) key };
  size_t lo = 0, hi = v->n;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp (k.key, v->e[mid].key);
    if (c == 0)
      return &v->e[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

static int
ent_bool (const struct vmx *v, const struct ent *e, bool def, bool *out)
{
  static const char *const t[] = { "true", "yes", "on", "1" };
  static const char *const f[] = { "false", "no", "off", "0" };

  *out = def;
  if (!e)
    return 0;
  for (size_t i = 0; i < 4; i++) {
    if (strcasecmp (e->value, t[i]) == 0) {
      *out = true;
      return 0;
    }
    if (strcasecmp (e->value, f[i]) == 0) {
      *out = false;
      return 0;
    }
  }
  return ferry_error (FERRY_E_INPUT,
                      "%s: line %u: key %s: expected TRUE or FALSE, not "
                      "\"%.64s\"", v->name, e->line, e->kname, e->value);
}

static int
get_bool (const struct vmx *v, const char *key, bool def, bool *out)
{
  return ent_bool (v, get (v, key), def, out);
}

/* A decimal number in 0..max (what = unit for the message). */
static int
ent_uint (const struct vmx *v, const struct ent *e, uint64_t max,
          const char *what, uint64_t *out)
{
  const char *p = e->value;
  uint64_t x = 0;
  bool big = false;

  while (*p == ' ')
    p++;
  if (!isdigit ((unsigned char) *p))
    goto bad;
  for (; isdigit ((unsigned char) *p); p++) {
    if (x > (UINT64_MAX - 9) / 10)
      big = true;
    else
      x = x * 10 + (uint64_t) (*p - '0');
  }
  while (*p == ' ')
    p++;
  if (*p)
    goto bad;
  if (big || x > max)
    return ferry_error (FERRY_E_INPUT,
                        "%s: line %u: key %s: %.32s%s is too large "
                        "(maximum %" PRIu64 "%s)", v->name, e->line, e->kname,
                        e->value, strlen (e->value) > 32 ? "..." : "", max,
                        what);
  *out = x;
  return 0;
 bad:
  return ferry_error (FERRY_E_INPUT,
                      "%s: line %u: key %s: expected a decimal number, not "
                      "\"%.64s\"", v->name, e->line, e->kname, e->value);
}

/* Copy a string value (NULL if the key is absent). */
static int
ent_str (const struct vmx *v, const struct ent *e, char **out)
{
  *out = NULL;
  if (!e)
    return 0;
  if (!utf8_valid (e->value))
    return ferry_error (FERRY_E_INPUT,
                        "%s: line %u: key %s: value is not valid UTF-8 "
                        "(is the .encoding line missing?)",
                        v->name, e->line, e->kname);
  *out = strdup (e->value);
  return *out ? 0 : oom ();
}

static int
get_str (const struct vmx *v, const char *key, char **out)
{
  return ent_str (v, get (v, key), out);
}

/* ---- device keys ------------------------------------------------------- */

/* Parse 1-3 decimal digits without a leading zero at *pp. */
static bool
small_num (const char **pp, unsigned *out)
{
  const char *p = *pp;
  unsigned x = 0, n = 0;

  if (!isdigit ((unsigned char) *p))
    return false;
  if (*p == '0' && isdigit ((unsigned char) p[1]))
    return false;
  while (isdigit ((unsigned char) *p)) {
    if (++n > 3)
      return false;
    x = x * 10 + (unsigned) (*p++ - '0');
  }
  *pp = p;
  *out = x;
  return true;
}

static struct ctl *
find_ctl (struct vmx *v, enum ferry_bus bus, unsigned idx)
{
  for (size_t i = 0; i < v->n_ctls; i++)
    if (v->ctls[i].bus == bus && v->ctls[i].idx == idx)
      return &v->ctls[i];
  /* At most 4+4+2+4 controllers exist (the index limits), so the array
   * has a fixed size, allocated once. */
  v->ctls[v->n_ctls] = (struct ctl) { .bus = bus, .idx = idx };
  return &v->ctls[v->n_ctls++];
}

static struct dev *
find_dev (struct vmx *v, enum ferry_bus bus, unsigned ctrl, unsigned unit)
{
  /* Keys are sorted, so a device's keys are adjacent: look last first. */
  for (size_t i = v->n_devs; i-- > 0;)
    if (v->devs[i].bus == bus && v->devs[i].ctrl == ctrl
        && v->devs[i].unit == unit)
      return &v->devs[i];
  if (grow ((void **) &v->devs, &v->cap_devs, v->n_devs + 1,
            sizeof *v->devs) < 0)
    return NULL;
  v->devs[v->n_devs] = (struct dev) { .bus = bus, .ctrl = ctrl, .unit = unit };
  return &v->devs[v->n_devs++];
}

static struct nic *
find_nic (struct vmx *v, unsigned idx)
{
  for (size_t i = v->n_nics; i-- > 0;)
    if (v->nics[i].idx == idx)
      return &v->nics[i];
  if (grow ((void **) &v->nics, &v->cap_nics, v->n_nics + 1,
            sizeof *v->nics) < 0)
    return NULL;
  v->nics[v->n_nics] = (struct nic) { .idx = idx };
  return &v->nics[v->n_nics++];
}

static struct ser *
find_ser (struct vmx *v, unsigned idx)
{
  for (size_t i = v->n_sers; i-- > 0;)
    if (v->sers[i].idx == idx)
      return &v->sers[i];
  if (grow ((void **) &v->sers, &v->cap_sers, v->n_sers + 1,
            sizeof *v->sers) < 0)
    return NULL;
  v->sers[v->n_sers] = (struct ser) { .idx = idx };
  return &v->sers[v->n_sers++];
}

/* The keys of each device kind that the model uses, and where they go. */
struct field {
  const char *name;
  size_t off;
};

static const struct field dev_fields[] = {
  { "filename", offsetof (struct dev, filename) },
  { "present", offsetof (struct dev, present) },
  { "devicetype", offsetof (struct dev, devicetype) },
  { "mode", offsetof (struct dev, mode) },
  { "sharing", offsetof (struct dev, sharing) },
  { NULL, 0 },
};

static const struct field nic_fields[] = {
  { "present", offsetof (struct nic, present) },
  { "virtualdev", offsetof (struct nic, virtualdev) },
  { "addresstype", offsetof (struct nic, addresstype) },
  { "address", offsetof (struct nic, address) },
  { "generatedaddress", offsetof (struct nic, generatedaddress) },
  { "networkname", offsetof (struct nic, networkname) },
  { "startconnected", offsetof (struct nic, startconnected) },
  { NULL, 0 },
};

static const struct field ser_fields[] = {
  { "present", offsetof (struct ser, present) },
  { "filetype", offsetof (struct ser, filetype) },
  { "filename", offsetof (struct ser, filename) },
  { NULL, 0 },
};

static const struct field *
field_find (const struct field *f, const char *name)
{
  for (; f->name; f++)
    if (strcmp (f->name, name) == 0)
      return f;
  return NULL;
}

static void
field_set (void *obj, const struct field *f, const struct ent *e)
{
  const struct ent **slot = (const struct ent **) ((char *) obj + f->off);
  *slot = e;
}

static int
range_error (const struct vmx *v, const struct ent *e, const char *what,
             unsigned idx, unsigned max)
{
  return ferry_error (FERRY_E_INPUT,
                      "%s: line %u: key %s: %s %u is out of range (0-%u)",
                      v->name, e->line, e->kname, what, idx, max);
}

/* Sort every device-looking key into its controller, disk, NIC or serial
 * port. */
static int
collect_devices (struct vmx *v)
{
  v->ctls = calloc (16, sizeof *v->ctls);
  if (!v->ctls)
    return oom ();

  for (size_t i = 0; i < v->n; i++) {
    const struct ent *e = &v->e[i];
    const char *k = e->key, *p;
    unsigned a, b;

    for (size_t bi = 0; bi < N_BUSES; bi++) {
      size_t pl = strlen (buses[bi].prefix);
      if (strncmp (k, buses[bi].prefix, pl) != 0)
        continue;
      p = k + pl;
      if (!small_num (&p, &a))
        break;
      if (*p == '.') {
        p++;
        if (strcmp (p, "present") && strcmp (p, "virtualdev")
            && strcmp (p, "sharedbus"))
          break;
        if (a > buses[bi].max_ctrl) {
          char what[32];
          snprintf (what, sizeof what, "%s controller", buses[bi].label);
          return range_error (v, e, what, a, buses[bi].max_ctrl);
        }
        struct ctl *c = find_ctl (v, buses[bi].bus, a);
        if (!strcmp (p, "present")) c->present = e;
        else if (!strcmp (p, "virtualdev")) c->virtualdev = e;
        else c->sharedbus = e;
        break;
      }
      if (*p != ':')
        break;
      p++;
      if (!small_num (&p, &b) || *p != '.')
        break;
      p++;
      const struct field *f = field_find (dev_fields, p);
      if (!f)
        break;
      if (a > buses[bi].max_ctrl || b > buses[bi].max_unit) {
        char what[32];
        if (a > buses[bi].max_ctrl) {
          snprintf (what, sizeof what, "%s controller", buses[bi].label);
          return range_error (v, e, what, a, buses[bi].max_ctrl);
        }
        snprintf (what, sizeof what, "%s unit", buses[bi].label);
        return range_error (v, e, what, b, buses[bi].max_unit);
      }
      struct dev *d = find_dev (v, buses[bi].bus, a, b);
      if (!d)
        return -1;
      field_set (d, f, e);
      break;
    }

    if (strncmp (k, "ethernet", 8) == 0) {
      p = k + 8;
      if (!small_num (&p, &a) || *p != '.')
        continue;
      p++;
      const struct field *f = field_find (nic_fields, p);
      if (!f)
        continue;
      if (a > 9)
        return range_error (v, e, "network adapter", a, 9);
      struct nic *n = find_nic (v, a);
      if (!n)
        return -1;
      field_set (n, f, e);
    }
    else if (strncmp (k, "serial", 6) == 0) {
      p = k + 6;
      if (!small_num (&p, &a) || *p != '.')
        continue;
      p++;
      const struct field *f = field_find (ser_fields, p);
      if (!f)
        continue;
      if (a > 31)
        return range_error (v, e, "serial port", a, 31);
      struct ser *s = find_ser (v, a);
      if (!s)
        return -1;
      field_set (s, f, e);
    }
  }
  return 0;
}

/* ---- the model ---------------------------------------------------------- */

static int
normalise_uuid (const struct vmx *v, const struct ent *e, char **out)
{
  char hex[33];
  size_t n = 0;

  *out = NULL;
  if (!e)
    return 0;
  for (const char *p = e->value; *p; p++) {
    if (*p == ' ' || *p == '-')
      continue;
    if (hexval ((unsigned char) *p) < 0 || n == 32)
      return ferry_error (FERRY_E_INPUT,
                          "%s: line %u: key %s: \"%.64s\" is not a UUID "
                          "(16 hex bytes)", v->name, e->line, e->kname,
                          e->value);
    hex[n++] = (char) tolower ((unsigned char) *p);
  }
  if (n != 32)
    return ferry_error (FERRY_E_INPUT,
                        "%s: line %u: key %s: \"%.64s\" is not a UUID "
                        "(16 hex bytes)", v->name, e->line, e->kname,
                        e->value);
  hex[32] = 0;
  if (asprintf (out, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
                hex + 16, hex + 20) < 0) {
    *out = NULL;
    return oom ();
  }
  return 0;
}

/* "00:50:56:AB:cd:01" -> lower case; anything else is an error. */
static int
normalise_mac (const struct vmx *v, const struct ent *e, char **out)
{
  const char *s = e->value;
  char m[18];

  if (strlen (s) != 17)
    goto bad;
  for (int i = 0; i < 17; i++) {
    if (i % 3 == 2) {
      if (s[i] != ':' && s[i] != '-')
        goto bad;
      m[i] = ':';
    }
    else {
      if (hexval ((unsigned char) s[i]) < 0)
        goto bad;
      m[i] = (char) tolower ((unsigned char) s[i]);
    }
  }
  m[17] = 0;
  *out = strdup (m);
  return *out ? 0 : oom ();
 bad:
  return ferry_error (FERRY_E_INPUT,
                      "%s: line %u: key %s: \"%.64s\" is not a MAC address "
                      "(xx:xx:xx:xx:xx:xx)", v->name, e->line, e->kname, s);
}

static char *
resolve (const char *dir, const char *file)
{
  char *p;
  size_t dl;

  if (file[0] == '/')
    return strdup (file);
  if (!dir)
    return NULL;
  dl = strlen (dir);
  if (asprintf (&p, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/",
                file) < 0)
    return NULL;
  return p;
}

/* NAME-000001.vmdk: a snapshot delta's file name. */
static bool
looks_like_delta (const char *file)
{
  size_t n = strlen (file);

  if (n < 13 || strcasecmp (file + n - 5, ".vmdk") != 0)
    return false;
  const char *p = file + n - 12;
  if (p[0] != '-')
    return false;
  for (int i = 1; i <= 6; i++)
    if (!isdigit ((unsigned char) p[i]))
      return false;
  return true;
}

static int
warn (struct ferry_vm *vm, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

static int
warn (struct ferry_vm *vm, const char *fmt, ...)
{
  va_list ap;
  char *msg;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (r < 0)
    return oom ();
  r = ferry_vm_warn (vm, "%s", msg);
  free (msg);
  return r < 0 ? oom () : 0;
}

static int
dev_cmp (const void *a, const void *b)
{
  const struct dev *x = a, *y = b;
  if (x->bus != y->bus)
    return (x->bus > y->bus) - (x->bus < y->bus);
  if (x->ctrl != y->ctrl)
    return (x->ctrl > y->ctrl) - (x->ctrl < y->ctrl);
  return (x->unit > y->unit) - (x->unit < y->unit);
}

static int
ctl_cmp (const void *a, const void *b)
{
  const struct ctl *x = a, *y = b;
  if (x->bus != y->bus)
    return (x->bus > y->bus) - (x->bus < y->bus);
  return (x->idx > y->idx) - (x->idx < y->idx);
}

static int
nic_cmp (const void *a, const void *b)
{
  const struct nic *x = a, *y = b;
  return (x->idx > y->idx) - (x->idx < y->idx);
}

static int
ser_cmp (const void *a, const void *b)
{
  const struct ser *x = a, *y = b;
  return (x->idx > y->idx) - (x->idx < y->idx);
}

static int
fill_controllers (struct vmx *v)
{
  struct ferry_vm *vm = v->vm;

  /* Every controller a device sits on exists in the model, even with no
   * keys of its own (IDE controllers usually have none). */
  for (size_t i = 0; i < v->n_devs; i++)
    (void) find_ctl (v, v->devs[i].bus, v->devs[i].ctrl);
  if (v->n_ctls)
    qsort (v->ctls, v->n_ctls, sizeof *v->ctls, ctl_cmp);
  vm->controllers = calloc (v->n_ctls ? v->n_ctls : 1,
                            sizeof *vm->controllers);
  if (!vm->controllers)
    return oom ();
  for (size_t i = 0; i < v->n_ctls; i++) {
    const struct ctl *c = &v->ctls[i];
    struct ferry_vm_controller *mc = &vm->controllers[vm->n_controllers++];
    const char *model = NULL;

    mc->bus = c->bus;
    mc->index = c->idx;
    if (ent_bool (v, c->present, c->bus == FERRY_BUS_IDE, &mc->present) < 0)
      return -1;
    switch (c->bus) {
    case FERRY_BUS_SATA: model = "ahci"; break;
    case FERRY_BUS_IDE: model = "piix4"; break;
    case FERRY_BUS_NVME: model = "nvme"; break;
    default: break;
    }
    if (c->virtualdev) {
      if (ent_str (v, c->virtualdev, &mc->model) < 0)
        return -1;
      for (char *p = mc->model; *p; p++)
        *p = (char) tolower ((unsigned char) *p);
    }
    else if (model && !(mc->model = strdup (model)))
      return oom ();
    if (c->bus == FERRY_BUS_SCSI && mc->present && !c->virtualdev
        && warn (vm, "scsi%u has no virtualDev; VMware picks the adapter "
                 "by guest OS (BusLogic or LSI Logic)", c->idx) < 0)
      return -1;
    if (c->sharedbus && strcasecmp (c->sharedbus->value, "none") != 0
        && c->sharedbus->value[0]) {
      mc->shared_bus = true;
      if (warn (vm, "%s%u: bus sharing \"%s\" (a cluster disk shared with "
                "other VMs) cannot be migrated as is",
                bus_prefix (c->bus), c->idx, c->sharedbus->value) < 0)
        return -1;
    }
  }
  return 0;
}

static bool
ctl_present (const struct ferry_vm *vm, enum ferry_bus bus, unsigned idx)
{
  for (size_t i = 0; i < vm->n_controllers; i++)
    if (vm->controllers[i].bus == bus && vm->controllers[i].index == idx)
      return vm->controllers[i].present;
  return false;
}

static int
fill_disks (struct vmx *v)
{
  struct ferry_vm *vm = v->vm;
  bool delta_warned = false;

  if (v->n_devs)
    qsort (v->devs, v->n_devs, sizeof *v->devs, dev_cmp);
  vm->disks = calloc (v->n_devs ? v->n_devs : 1, sizeof *vm->disks);
  if (!vm->disks)
    return oom ();
  for (size_t i = 0; i < v->n_devs; i++) {
    const struct dev *d = &v->devs[i];
    const char *bp = bus_prefix (d->bus);
    bool present;

    if (ent_bool (v, d->present, false, &present) < 0)
      return -1;
    if (!present && !d->filename)
      continue; /* only stray keys (deviceType, present = FALSE): nothing */

    struct ferry_vm_disk *md = &vm->disks[vm->n_disks++];
    md->bus = d->bus;
    md->controller = d->ctrl;
    md->unit = d->unit;
    md->present = present;
    if (ent_str (v, d->devicetype, &md->device_type) < 0
        || ent_str (v, d->mode, &md->mode) < 0
        || ent_str (v, d->filename, &md->file) < 0)
      return -1;

    const char *dt = md->device_type ? md->device_type : "";
    bool host_dev = false;
    if (strcasecmp (dt, "cdrom-image") == 0)
      md->kind = FERRY_DISK_CDROM;
    else if (strcasecmp (dt, "atapi-cdrom") == 0
             || strcasecmp (dt, "cdrom-raw") == 0) {
      md->kind = FERRY_DISK_CDROM;
      host_dev = true;
    }
    else {
      md->kind = FERRY_DISK_DISK;
      if (strcasecmp (dt, "rawDisk") == 0
          || strcasecmp (dt, "scsi-passthru") == 0)
        md->rdm = true;
    }

    if (md->kind == FERRY_DISK_DISK && present
        && (!md->file || !md->file[0])) {
      const struct ent *at = d->filename ? d->filename : d->present;
      return ferry_error (FERRY_E_INPUT,
                          "%s: line %u: disk %s%u:%u is present but has no "
                          "fileName", v->name, at->line, bp, d->ctrl,
                          d->unit);
    }
    if (md->file && md->file[0] && !host_dev) {
      md->path = resolve (v->dir, md->file);
      if (!md->path && v->dir)
        return oom ();
    }
    if (md->mode && strncasecmp (md->mode, "independent", 11) == 0)
      md->independent = true;
    if (d->sharing && strcasecmp (d->sharing->value, "multi-writer") == 0)
      md->shared = true;

    if (!present || md->kind != FERRY_DISK_DISK)
      continue;
    if (!ctl_present (vm, d->bus, d->ctrl)
        && warn (vm, "disk %s%u:%u (%s) is on controller %s%u, which is not "
                 "present", bp, d->ctrl, d->unit, md->file, bp, d->ctrl) < 0)
      return -1;
    if (md->independent
        && warn (vm, "disk %s%u:%u (%s) is %s: independent disks are not "
                 "part of snapshots, so a warm migration cannot track them",
                 bp, d->ctrl, d->unit, md->file, md->mode) < 0)
      return -1;
    if (md->rdm
        && warn (vm, "disk %s%u:%u (%s) is a raw device mapping (%s): the "
                 "LUN must be presented to the KVM host or copied",
                 bp, d->ctrl, d->unit, md->file, md->device_type) < 0)
      return -1;
    if (md->shared
        && warn (vm, "disk %s%u:%u (%s) is shared (multi-writer) with other "
                 "VMs", bp, d->ctrl, d->unit, md->file) < 0)
      return -1;
    if (looks_like_delta (md->file)) {
      vm->has_snapshots = true;
      if (!delta_warned
          && warn (vm, "disk %s%u:%u (%s) is a snapshot delta: the VM has "
                   "snapshots; they are flattened into one disk", bp,
                   d->ctrl, d->unit, md->file) < 0)
        return -1;
      delta_warned = true;
    }
  }
  return 0;
}

static int
fill_nics (struct vmx *v)
{
  struct ferry_vm *vm = v->vm;

  if (v->n_nics)
    qsort (v->nics, v->n_nics, sizeof *v->nics, nic_cmp);
  vm->nics = calloc (v->n_nics ? v->n_nics : 1, sizeof *vm->nics);
  if (!vm->nics)
    return oom ();
  for (size_t i = 0; i < v->n_nics; i++) {
    const struct nic *n = &v->nics[i];
    const struct ent *mac_ent;
    bool present;

    if (!n->present)
      continue; /* VMware's default: not present */
    if (ent_bool (v, n->present, false, &present) < 0)
      return -1;
    struct ferry_vm_nic *mn = &vm->nics[vm->n_nics++];
    mn->present = present;
    if (ent_bool (v, n->startconnected, true, &mn->start_connected) < 0
        || ent_str (v, n->virtualdev, &mn->model) < 0
        || ent_str (v, n->networkname, &mn->network) < 0)
      return -1;
    if (mn->model)
      for (char *p = mn->model; *p; p++)
        *p = (char) tolower ((unsigned char) *p);

    if (n->addresstype) {
      const char *t = n->addresstype->value;
      if (strcasecmp (t, "static") == 0)
        mn->mac_static = true;
      else if (strcasecmp (t, "generated") && strcasecmp (t, "vpx"))
        return ferry_error (FERRY_E_INPUT,
                            "%s: line %u: key %s: expected static, generated "
                            "or vpx, not \"%.64s\"", v->name,
                            n->addresstype->line, n->addresstype->kname, t);
    }
    else
      mn->mac_static = n->address != NULL;
    mac_ent = mn->mac_static ? n->address : n->generatedaddress;
    if (mac_ent && normalise_mac (v, mac_ent, &mn->mac) < 0)
      return -1;
    if (present && !mn->mac
        && warn (vm, "ethernet%u has no %s; the target gets a new MAC "
                 "address", n->idx,
                 mn->mac_static ? "address" : "generatedAddress (never "
                 "powered on?)") < 0)
      return -1;
  }
  return 0;
}

static int
fill_serials (struct vmx *v)
{
  struct ferry_vm *vm = v->vm;

  if (v->n_sers)
    qsort (v->sers, v->n_sers, sizeof *v->sers, ser_cmp);
  vm->serials = calloc (v->n_sers ? v->n_sers : 1, sizeof *vm->serials);
  if (!vm->serials)
    return oom ();
  for (size_t i = 0; i < v->n_sers; i++) {
    const struct ser *s = &v->sers[i];
    bool present;

    if (ent_bool (v, s->present, false, &present) < 0)
      return -1;
    if (!present)
      continue;
    struct ferry_vm_serial *ms = &vm->serials[vm->n_serials++];
    if (ent_str (v, s->filetype, &ms->type) < 0
        || ent_str (v, s->filename, &ms->target) < 0)
      return -1;
    if (warn (vm, "serial%u (%s%s%s) is not migrated; the target gets a "
              "serial console instead", s->idx,
              ms->type ? ms->type : "unknown type", ms->target ? " " : "",
              ms->target ? ms->target : "") < 0)
      return -1;
  }
  return 0;
}

static int
fill_vm (struct vmx *v)
{
  struct ferry_vm *vm = v->vm;
  const struct ent *e;
  uint64_t x;
  bool b;

  if (get_str (v, "displayname", &vm->name) < 0
      || get_str (v, "guestos", &vm->guest_os) < 0
      || get_str (v, "annotation", &vm->annotation) < 0
      || normalise_uuid (v, get (v, "uuid.bios"), &vm->uuid) < 0)
    return -1;

  if ((e = get (v, "memsize"))) {
    if (ent_uint (v, e, VMX_MAX_MEMORY_MIB, " MiB = 16 TiB", &x) < 0)
      return -1;
    if (x == 0)
      return ferry_error (FERRY_E_INPUT, "%s: line %u: key %s: must not be "
                          "0", v->name, e->line, e->kname);
    vm->memory_mib = x;
  }
  else if (warn (vm, "memsize is not set; memory size unknown") < 0)
    return -1;

  vm->vcpus = 1;
  if ((e = get (v, "numvcpus"))) {
    if (ent_uint (v, e, VMX_MAX_VCPUS, " vCPUs", &x) < 0)
      return -1;
    if (x == 0)
      return ferry_error (FERRY_E_INPUT, "%s: line %u: key %s: must not be "
                          "0", v->name, e->line, e->kname);
    vm->vcpus = (unsigned) x;
  }
  if ((e = get (v, "cpuid.corespersocket"))) {
    if (ent_uint (v, e, VMX_MAX_VCPUS, " cores", &x) < 0)
      return -1;
    if (x == 0 || vm->vcpus % x)
      return ferry_error (FERRY_E_INPUT,
                          "%s: line %u: key %s: %" PRIu64 " cores per socket "
                          "do not divide numvcpus %u", v->name, e->line,
                          e->kname, x, vm->vcpus);
    vm->cores_per_socket = (unsigned) x;
  }

  if ((e = get (v, "firmware"))) {
    if (strcasecmp (e->value, "efi") == 0)
      vm->firmware = FERRY_FW_EFI;
    else if (strcasecmp (e->value, "bios") == 0)
      vm->firmware = FERRY_FW_BIOS;
    else
      return ferry_error (FERRY_E_INPUT, "%s: line %u: key %s: expected "
                          "bios or efi, not \"%.64s\"", v->name, e->line,
                          e->kname, e->value);
  }
  if (get_bool (v, "uefi.secureboot.enabled", false, &vm->secure_boot) < 0
      || get_bool (v, "vhv.enable", false, &vm->nested_hv) < 0
      || get_bool (v, "vtpm.present", false, &vm->vtpm) < 0)
    return -1;
  if (vm->secure_boot && vm->firmware != FERRY_FW_EFI
      && warn (vm, "uefi.secureBoot.enabled is set but the firmware is "
               "BIOS; secure boot does not apply") < 0)
    return -1;
  if (vm->vtpm
      && warn (vm, "the VM has a virtual TPM: its contents (keys sealed by "
               "BitLocker, LUKS, ...) are not migrated") < 0)
    return -1;

  static const char *const usb_keys[] = { "usb.present", "ehci.present",
                                          "usb_xhci.present" };
  for (size_t i = 0; i < 3; i++) {
    if (get_bool (v, usb_keys[i], false, &b) < 0)
      return -1;
    vm->usb_devices += b;
  }
  if (vm->usb_devices
      && warn (vm, "%u USB controller%s (and any USB devices) will not be "
               "migrated", vm->usb_devices,
               vm->usb_devices == 1 ? "" : "s") < 0)
    return -1;

  for (unsigned i = 0; i < 2; i++) {
    char key[24];
    snprintf (key, sizeof key, "floppy%u.present", i);
    if (get_bool (v, key, false, &b) < 0)
      return -1;
    if (b && warn (vm, "floppy%u is not migrated", i) < 0)
      return -1;
  }

  if (fill_controllers (v) < 0 || fill_disks (v) < 0 || fill_nics (v) < 0
      || fill_serials (v) < 0)
    return -1;

  if (!vm->name) {
    /* No displayName: the file name without .vmx. */
    const char *base = strrchr (v->name, '/');
    base = base ? base + 1 : v->name;
    size_t n = strlen (base);
    if (n > 4 && strcasecmp (base + n - 4, ".vmx") == 0)
      n -= 4;
    if (!(vm->name = strndup (base, n)))
      return oom ();
    if (warn (vm, "displayName is not set; using \"%s\"", vm->name) < 0)
      return -1;
  }
  return 0;
}

int
ferry_vmx_parse (const char *text, size_t len, const char *name,
                 const char *dir, struct ferry_vm *out)
{
  struct vmx v = { .name = name, .dir = dir, .vm = out };
  const struct ent *enc;

  memset (out, 0, sizeof *out);
  if (tokenize (&v, text, len) < 0)
    goto err;
  if (v.n == 0) {
    ferry_error (FERRY_E_INPUT, "%s: no 'key = \"value\"' lines: not a .vmx "
                 "file", name);
    goto err;
  }
  enc = get (&v, ".encoding");
  if (enc && !is_utf8_name (enc->value) && convert_encoding (&v, enc) < 0)
    goto err;
  if (!(out->source = strdup (name)) || !(out->source_format = strdup ("vmx"))) {
    oom ();
    goto err;
  }
  if (collect_devices (&v) < 0 || fill_vm (&v) < 0)
    goto err;
  vmx_free (&v);
  return 0;

 err:
  vmx_free (&v);
  ferry_vm_free (out);
  return -1;
}

/* ---- the key/value reader on its own (importer/vmx_kv.h) -------------- */

struct ferry_vmx_kv {
  struct vmx v;
};

int
ferry_vmx_kv_parse (const char *text, size_t len, const char *name,
                    struct ferry_vmx_kv **out)
{
  struct ferry_vmx_kv *kv = calloc (1, sizeof *kv);
  const struct ent *enc;

  *out = NULL;
  if (!kv)
    return oom ();
  kv->v.name = name;
  if (tokenize (&kv->v, text, len) < 0)
    goto err;
  enc = get (&kv->v, ".encoding");
  if (enc && !is_utf8_name (enc->value) && convert_encoding (&kv->v, enc) < 0)
    goto err;
  *out = kv;
  return 0;

 err:
  ferry_vmx_kv_free (kv);
  return -1;
}

size_t
ferry_vmx_kv_count (const struct ferry_vmx_kv *kv)
{
  return kv->v.n;
}

const char *
ferry_vmx_kv_at (const struct ferry_vmx_kv *kv, size_t i, const char **value,
                 unsigned *line)
{
  const struct ent *e = &kv->v.e[i];

  if (value)
    *value = e->value;
  if (line)
    *line = e->line;
  return e->key;
}

const char *
ferry_vmx_kv_get (const struct ferry_vmx_kv *kv, const char *key,
                  unsigned *line)
{
  const struct ent *e = get (&kv->v, key);

  if (e && line)
    *line = e->line;
  return e ? e->value : NULL;
}

void
ferry_vmx_kv_free (struct ferry_vmx_kv *kv)
{
  if (!kv)
    return;
  vmx_free (&kv->v);
  free (kv);
}
