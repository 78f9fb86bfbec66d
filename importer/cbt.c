/* ferry: change lists: validation, merging, subtraction. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "importer/cbt.h"

void
ferry_changes_free (struct ferry_changes *c)
{
  free (c->change_id);
  free (c->since);
  free (c->v);
  memset (c, 0, sizeof *c);
}

static int
cmp_range (const void *a, const void *b)
{
  const struct ferry_range *x = a, *y = b;

  if (x->offset != y->offset)
    return x->offset < y->offset ? -1 : 1;
  return x->length < y->length ? -1 : x->length > y->length;
}

int
ferry_changes_normalize (struct ferry_changes *c, uint64_t disk_size,
                         const char *name)
{
  size_t w = 0;

  for (size_t i = 0; i < c->n; i++) {
    const struct ferry_range *r = &c->v[i];
    if (r->offset > UINT64_MAX - r->length)
      return ferry_error (FERRY_E_INPUT, "%s: changed range %zu (start %"
                          PRIu64 ", length %" PRIu64 ") overflows", name, i,
                          r->offset, r->length);
    if (r->offset + r->length > disk_size)
      return ferry_error (FERRY_E_INPUT, "%s: changed range %zu (start %"
                          PRIu64 ", length %" PRIu64 ") ends past the end of "
                          "the disk (%" PRIu64 " bytes)", name, i, r->offset,
                          r->length, disk_size);
  }
  if (c->n > 1) /* an empty list may have no array at all */
    qsort (c->v, c->n, sizeof *c->v, cmp_range);
  for (size_t i = 0; i < c->n; i++) {
    struct ferry_range r = c->v[i];
    if (r.length == 0)
      continue;
    if (w > 0 && r.offset < c->v[w - 1].offset + c->v[w - 1].length)
      return ferry_error (FERRY_E_INPUT, "%s: changed ranges overlap (start %"
                          PRIu64 " begins inside the range at %" PRIu64 ", "
                          "length %" PRIu64 ")", name, r.offset,
                          c->v[w - 1].offset, c->v[w - 1].length);
    if (w > 0 && r.offset == c->v[w - 1].offset + c->v[w - 1].length)
      c->v[w - 1].length += r.length;
    else
      c->v[w++] = r;
  }
  c->n = w;
  return 0;
}

int
ferry_changes_everything (uint64_t disk_size, const char *change_id,
                          struct ferry_changes *out)
{
  memset (out, 0, sizeof *out);
  if (!(out->change_id = strdup (change_id ? change_id : "*"))
      || !(out->since = strdup ("*"))
      || (disk_size && !(out->v = malloc (sizeof *out->v)))) {
    ferry_changes_free (out);
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  }
  if (disk_size) {
    out->v[0] = (struct ferry_range) { 0, disk_size };
    out->n = 1;
  }
  return 0;
}

int
ferry_ranges_subtract (const struct ferry_range *a, size_t na,
                       const struct ferry_range *b, size_t nb,
                       struct ferry_range **out, size_t *nout)
{
  size_t cap = na + nb + 1, n = 0, j = 0;
  struct ferry_range *v = malloc (cap * sizeof *v);

  if (!v)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  for (size_t i = 0; i < na; i++) {
    uint64_t s = a[i].offset, e = a[i].offset + a[i].length;
    while (j < nb && b[j].offset + b[j].length <= s)
      j++;
    for (size_t k = j; k < nb && b[k].offset < e && s < e; k++) {
      if (b[k].offset > s) {
        if (n == cap) {
          void *p = realloc (v, (cap *= 2) * sizeof *v);
          if (!p) {
            free (v);
            return ferry_error (FERRY_E_SYSTEM, "out of memory");
          }
          v = p;
        }
        v[n++] = (struct ferry_range) { s, b[k].offset - s };
      }
      if (b[k].offset + b[k].length > s)
        s = b[k].offset + b[k].length;
    }
    if (s < e) {
      if (n == cap) {
        void *p = realloc (v, (cap *= 2) * sizeof *v);
        if (!p) {
          free (v);
          return ferry_error (FERRY_E_SYSTEM, "out of memory");
        }
        v = p;
      }
      v[n++] = (struct ferry_range) { s, e - s };
    }
  }
  *out = v;
  *nout = n;
  return 0;
}

int
ferry_ranges_add (struct ferry_range **v, size_t *n, size_t *cap,
                  struct ferry_range r)
{
  size_t i = 0, j;

  if (r.length == 0)
    return 0;
  /* Find the first range that ends at or after r starts. */
  while (i < *n && (*v)[i].offset + (*v)[i].length < r.offset)
    i++;
  j = i;
  /* Absorb every range that touches r. */
  while (j < *n && (*v)[j].offset <= r.offset + r.length) {
    uint64_t s = (*v)[j].offset < r.offset ? (*v)[j].offset : r.offset;
    uint64_t e1 = (*v)[j].offset + (*v)[j].length, e2 = r.offset + r.length;
    r.offset = s;
    r.length = (e1 > e2 ? e1 : e2) - s;
    j++;
  }
  if (j == i) {
    if (*n == *cap) {
      size_t nc = *cap ? *cap * 2 : 16;
      void *p = realloc (*v, nc * sizeof **v);
      if (!p)
        return ferry_error (FERRY_E_SYSTEM, "out of memory");
      *v = p;
      *cap = nc;
    }
    memmove (*v + i + 1, *v + i, (*n - i) * sizeof **v);
    (*n)++;
  }
  else {
    memmove (*v + i + 1, *v + j, (*n - j) * sizeof **v);
    *n -= j - i - 1;
  }
  (*v)[i] = r;
  return 0;
}
