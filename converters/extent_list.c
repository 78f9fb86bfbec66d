#include <stdlib.h>

#include "common/error.h"
#include "converters/format.h"

int
ferry_extent_list_add (struct ferry_extent_list *l, uint64_t offset,
                       uint64_t length, enum ferry_extent_type type)
{
  if (length == 0)
    return 0;
  if (l->n > 0) {
    struct ferry_extent *last = &l->v[l->n - 1];
    if (last->type == type && last->offset + last->length == offset) {
      last->length += length;
      return 0;
    }
  }
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    struct ferry_extent *v = realloc (l->v, cap * sizeof *v);
    if (!v)
      return ferry_error (FERRY_E_SYSTEM, "out of memory");
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = (struct ferry_extent){ offset, length, type };
  return 0;
}

void
ferry_extent_list_reset (struct ferry_extent_list *l)
{
  l->n = 0;
}

void
ferry_extent_list_free (struct ferry_extent_list *l)
{
  free (l->v);
  l->v = NULL;
  l->n = l->cap = 0;
}
