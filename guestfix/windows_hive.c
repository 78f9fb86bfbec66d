/* ferry guestfix, Windows: registry edits through libguestfs' hivex API
 * (the hive files are edited inside the appliance, in the overlay). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "guestfix/windows_internal.h"

int
gf_hive_open (struct gf_ctx *c, const char *path, bool write)
{
  if (guestfs_hivex_open (c->g, path, GUESTFS_HIVEX_OPEN_WRITE, write ? 1 : 0,
                          -1) < 0) {
    char what[600];
    snprintf (what, sizeof what, "opening the registry hive %s", path);
    return gf_gerror (c, FERRY_E_INPUT, what);
  }
  return 0;
}

int
gf_hive_commit (struct gf_ctx *c)
{
  if (guestfs_hivex_commit (c->g, NULL) < 0) {
    gf_gerror (c, FERRY_E_OUTPUT, "writing the registry hive");
    gf_hive_close (c);
    return -1;
  }
  gf_hive_close (c);
  return 0;
}

void
gf_hive_close (struct gf_ctx *c)
{
  /* Closing a hive that is not open only sets an error we ignore. */
  guestfs_push_error_handler (c->g, NULL, NULL);
  guestfs_hivex_close (c->g);
  guestfs_pop_error_handler (c->g);
}

int64_t
gf_hive_node (struct gf_ctx *c, const char *path, bool create)
{
  int64_t node = guestfs_hivex_root (c->g);
  if (node <= 0) {
    gf_gerror (c, FERRY_E_INPUT, "reading the registry hive's root key");
    return -1;
  }
  char *copy = gf_strdup (path), *save = NULL;
  for (char *name = strtok_r (copy, "\\", &save); name;
       name = strtok_r (NULL, "\\", &save)) {
    int64_t child = guestfs_hivex_node_get_child (c->g, node, name);
    if (child < 0) {
      gf_gerror (c, FERRY_E_INPUT, path);
      node = -1;
      break;
    }
    if (child == 0) {
      if (!create) {
        node = 0;
        break;
      }
      child = guestfs_hivex_node_add_child (c->g, node, name);
      if (child <= 0) {
        char what[600];
        snprintf (what, sizeof what, "adding the registry key %s", path);
        gf_gerror (c, FERRY_E_OUTPUT, what);
        node = -1;
        break;
      }
    }
    node = child;
  }
  free (copy);
  return node;
}

char *
gf_hive_get_string (struct gf_ctx *c, int64_t node, const char *name)
{
  int64_t v = guestfs_hivex_node_get_value (c->g, node, name);
  if (v <= 0)
    return NULL;
  int64_t t = guestfs_hivex_value_type (c->g, v);
  if (t != GF_REG_SZ && t != GF_REG_EXPAND_SZ)
    return NULL;
  return guestfs_hivex_value_string (c->g, v);
}

int
gf_hive_get_dword (struct gf_ctx *c, int64_t node, const char *name,
                   uint32_t *out)
{
  int64_t v = guestfs_hivex_node_get_value (c->g, node, name);
  if (v <= 0 || guestfs_hivex_value_type (c->g, v) != GF_REG_DWORD)
    return 0;
  size_t n = 0;
  char *data = guestfs_hivex_value_value (c->g, v, &n);
  int found = data && n == 4;
  if (found) {
    const unsigned char *b = (const unsigned char *) data;
    *out = (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16
           | (uint32_t) b[3] << 24;
  }
  free (data);
  return found;
}

char **
gf_hive_children (struct gf_ctx *c, int64_t node)
{
  struct guestfs_hivex_node_list *l = guestfs_hivex_node_children (c->g,
                                                                   node);
  if (!l) {
    gf_gerror (c, FERRY_E_INPUT, "listing registry keys");
    return NULL;
  }
  char **v = calloc (l->len + 1, sizeof *v);
  if (!v)
    abort ();
  size_t n = 0;
  for (size_t i = 0; i < l->len; i++) {
    char *name = guestfs_hivex_node_name (c->g, l->val[i].hivex_node_h);
    if (name)
      v[n++] = name;
  }
  guestfs_free_hivex_node_list (l);
  return v;
}

char *
gf_utf16le (const char *s, size_t *len)
{
  size_t n = strlen (s);
  /* At most two UTF-16 units per input byte, plus the terminator. */
  unsigned char *out = malloc (4 * n + 2);
  if (!out)
    abort ();
  size_t o = 0;
  const unsigned char *p = (const unsigned char *) s;
  while (*p) {
    unsigned long cp;
    int more;
    if (*p < 0x80)
      cp = *p, more = 0;
    else if ((*p & 0xe0) == 0xc0)
      cp = *p & 0x1f, more = 1;
    else if ((*p & 0xf0) == 0xe0)
      cp = *p & 0x0f, more = 2;
    else if ((*p & 0xf8) == 0xf0)
      cp = *p & 0x07, more = 3;
    else
      cp = 0xfffd, more = 0;
    p++;
    for (; more > 0 && (*p & 0xc0) == 0x80; more--, p++)
      cp = (cp << 6) | (*p & 0x3f);
    if (more > 0)
      cp = 0xfffd;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      unsigned hi = 0xd800 | (unsigned) (cp >> 10);
      unsigned lo = 0xdc00 | (unsigned) (cp & 0x3ff);
      out[o++] = hi & 0xff, out[o++] = hi >> 8;
      out[o++] = lo & 0xff, out[o++] = lo >> 8;
    } else {
      out[o++] = cp & 0xff, out[o++] = (cp >> 8) & 0xff;
    }
  }
  out[o++] = 0, out[o++] = 0;
  *len = o;
  return (char *) out;
}

int
gf_regkey_open (struct gf_ctx *c, struct gf_regkey *k, const char *hive,
                const char *path)
{
  k->node = gf_hive_node (c, path, true);
  if (k->node < 0)
    return -1;
  k->path = gf_asprintf ("%s\\%s", hive, path);
  k->desc = NULL;
  return 0;
}

static int
set_value (struct gf_ctx *c, struct gf_regkey *k, const char *name, int type,
           const void *data, size_t len, const char *shown)
{
  if (guestfs_hivex_node_set_value (c->g, k->node, name, type, data, len)
      < 0) {
    char what[800];
    snprintf (what, sizeof what, "setting %s\\%s", k->path,
              *name ? name : "(default)");
    return gf_gerror (c, FERRY_E_OUTPUT, what);
  }
  char *d = gf_asprintf ("%s%s%s=%s", k->desc ? k->desc : "",
                         k->desc ? ", " : "", *name ? name : "(default)",
                         shown);
  free (k->desc);
  k->desc = d;
  return 0;
}

int
gf_regkey_dword (struct gf_ctx *c, struct gf_regkey *k, const char *name,
                 uint32_t v)
{
  unsigned char le[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff,
                          v >> 24 };
  char shown[32];
  snprintf (shown, sizeof shown, "dword:%u", (unsigned) v);
  return set_value (c, k, name, GF_REG_DWORD, le, sizeof le, shown);
}

int
gf_regkey_string (struct gf_ctx *c, struct gf_regkey *k, const char *name,
                  int type, const char *v)
{
  size_t len;
  char *u = gf_utf16le (v, &len);
  char *shown = gf_asprintf ("%s\"%s\"", type == GF_REG_EXPAND_SZ
                             ? "expand:" : "", v);
  int rc = set_value (c, k, name, type, u, len, shown);
  free (shown);
  free (u);
  return rc;
}

int
gf_regkey_multi (struct gf_ctx *c, struct gf_regkey *k, const char *name,
                 const char *const *v)
{
  size_t total = 0, cap = 2;
  for (size_t i = 0; v[i]; i++)
    cap += 4 * strlen (v[i]) + 2;
  char *buf = malloc (cap), *shown = gf_strdup ("multi:[");
  if (!buf)
    abort ();
  for (size_t i = 0; v[i]; i++) {
    size_t len;
    char *u = gf_utf16le (v[i], &len);
    memcpy (buf + total, u, len);
    total += len;
    free (u);
    char *s = gf_asprintf ("%s%s\"%s\"", shown, i ? "," : "", v[i]);
    free (shown);
    shown = s;
  }
  /* The list ends with an empty string. */
  buf[total++] = 0;
  buf[total++] = 0;
  char *s = gf_asprintf ("%s]", shown);
  int rc = set_value (c, k, name, GF_REG_MULTI_SZ, buf, total, s);
  free (s);
  free (shown);
  free (buf);
  return rc;
}

int
gf_regkey_binary (struct gf_ctx *c, struct gf_regkey *k, const char *name,
                  const void *data, size_t len)
{
  char *shown = malloc (4 + 3 * len + 1);
  if (!shown)
    abort ();
  size_t o = (size_t) sprintf (shown, "hex:");
  for (size_t i = 0; i < len; i++)
    o += (size_t) sprintf (shown + o, "%s%02x", i ? "," : "",
                           ((const unsigned char *) data)[i]);
  int rc = set_value (c, k, name, GF_REG_BINARY, data, len, shown);
  free (shown);
  return rc;
}

void
gf_regkey_done (struct gf_ctx *c, struct gf_regkey *k)
{
  gf_change (c, k->path, "registry: %s", k->desc ? k->desc : "key added");
  free (k->path);
  free (k->desc);
  k->path = k->desc = NULL;
}
