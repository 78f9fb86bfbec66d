/* ferry guestfix: pure text edits on guest configuration files.  No
 * libguestfs here, so tests/unit/test_guestfix_text.c checks them
 * directly. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guestfix/internal.h"

/* A growing string; allocation failures abort (gf_strdup's policy). */
struct sbuf {
  char *p;
  size_t len, cap;
};

static void
sb_add (struct sbuf *b, const char *s, size_t n)
{
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc (b->p, cap);
    if (!p)
      abort ();
    b->p = p;
    b->cap = cap;
  }
  memcpy (b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void
sb_str (struct sbuf *b, const char *s)
{
  sb_add (b, s, strlen (s));
}

static char *
sb_finish (struct sbuf *b)
{
  if (!b->p)
    return gf_strdup ("");
  return b->p;
}

static bool
is_word (unsigned char ch)
{
  return isalnum (ch) || ch == '_';
}

/* Length of an sdX/hdX device name at P ("/dev/sda12"), 0 if none. */
static size_t
match_device (const char *text, const char *p)
{
  static const char dev[] = "/dev/";
  const char *q;
  size_t letters = 0;

  if (strncmp (p, dev, sizeof dev - 1) != 0)
    return 0;
  /* Not part of a longer path or word: "/mnt/dev/sda", "x/dev/sda". */
  if (p > text) {
    unsigned char prev = (unsigned char) p[-1];
    if (is_word (prev) || prev == '/' || prev == '.' || prev == '-')
      return 0;
  }
  q = p + sizeof dev - 1;
  if (!((q[0] == 's' || q[0] == 'h') && q[1] == 'd'))
    return 0;
  q += 2;
  while (*q >= 'a' && *q <= 'z' && letters < 3) {
    q++;
    letters++;
  }
  /* hd has one letter (hda..hdt); sd up to three (sdaaa). */
  if (letters == 0 || (p[5] == 'h' && letters != 1))
    return 0;
  while (*q >= '0' && *q <= '9')
    q++;
  if (is_word ((unsigned char) *q))
    return 0;
  return (size_t) (q - p);
}

char *
gf_rename_devices (const char *text, size_t *n, char **desc)
{
  struct sbuf out = { 0 }, d = { 0 };
  const char *p = text, *run = text;

  *n = 0;
  while (*p) {
    size_t len = p[0] == '/' ? match_device (text, p) : 0;
    if (!len) {
      p++;
      continue;
    }
    char old[64], new[64];
    if (len >= sizeof old) {
      p += len;
      continue;
    }
    memcpy (old, p, len);
    old[len] = 0;
    snprintf (new, sizeof new, "/dev/vd%s", old + 7);
    sb_add (&out, run, (size_t) (p - run));
    sb_str (&out, new);
    p += len;
    run = p;
    (*n)++;

    char pair[140];
    snprintf (pair, sizeof pair, "%s -> %s", old, new);
    /* List each distinct rename once. */
    bool seen = false;
    if (d.p) {
      const char *s = d.p;
      size_t pl = strlen (pair);
      while ((s = strstr (s, pair)) != NULL) {
        if ((s == d.p || s[-1] == ' ') && (s[pl] == ',' || s[pl] == 0)) {
          seen = true;
          break;
        }
        s += pl;
      }
    }
    if (!seen) {
      if (d.len)
        sb_str (&d, ", ");
      sb_str (&d, pair);
    }
  }
  sb_str (&out, run);
  if (desc)
    *desc = sb_finish (&d);
  else
    free (d.p);
  return sb_finish (&out);
}

char *
gf_drop_lines (const char *text, const char *key, size_t *n)
{
  struct sbuf out = { 0 };
  const char *p = text;
  size_t klen = strlen (key);

  *n = 0;
  while (*p) {
    const char *eol = strchr (p, '\n');
    size_t len = eol ? (size_t) (eol - p) + 1 : strlen (p);
    const char *s = p;
    while (s < p + len && (*s == ' ' || *s == '\t'))
      s++;
    if ((size_t) (p + len - s) >= klen && strncmp (s, key, klen) == 0)
      (*n)++;
    else
      sb_add (&out, p, len);
    p += len;
  }
  return sb_finish (&out);
}

char *
gf_ensure_line (const char *text, const char *line, bool *added)
{
  struct sbuf out = { 0 };
  const char *p = text;
  size_t llen = strlen (line);

  while (*p) {
    const char *eol = strchr (p, '\n');
    size_t len = eol ? (size_t) (eol - p) : strlen (p);
    const char *s = p, *e = p + len;
    while (s < e && isspace ((unsigned char) *s))
      s++;
    while (e > s && isspace ((unsigned char) e[-1]))
      e--;
    if ((size_t) (e - s) == llen && memcmp (s, line, llen) == 0) {
      *added = false;
      return gf_strdup (text);
    }
    p += len + (eol ? 1 : 0);
  }
  *added = true;
  sb_str (&out, text);
  if (out.len && out.p[out.len - 1] != '\n')
    sb_str (&out, "\n");
  sb_str (&out, line);
  sb_str (&out, "\n");
  return sb_finish (&out);
}

char *
gf_config_value (const char *text, const char *key)
{
  const char *p = text;
  size_t klen = strlen (key);
  char *val = NULL;

  while (*p) {
    const char *eol = strchr (p, '\n');
    size_t len = eol ? (size_t) (eol - p) : strlen (p);
    const char *s = p, *e = p + len;
    while (s < e && (*s == ' ' || *s == '\t'))
      s++;
    if (strncmp (s, "export ", 7) == 0)
      s += 7;
    if ((size_t) (e - s) > klen && strncmp (s, key, klen) == 0
        && s[klen] == '=') {
      s += klen + 1;
      while (e > s && isspace ((unsigned char) e[-1]))
        e--;
      if (e - s >= 2 && (*s == '"' || *s == '\'') && e[-1] == *s) {
        s++;
        e--;
      }
      free (val); /* the last assignment wins, as in the shell */
      val = strndup (s, (size_t) (e - s));
      if (!val)
        abort ();
    }
    p += len + (eol ? 1 : 0);
  }
  return val;
}
