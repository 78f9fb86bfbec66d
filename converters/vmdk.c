/* ferry: the VMDK format reader.
 *
 * A VMDK disk is a chain of layers (the base disk and its snapshots).  Each
 * layer is a descriptor (a text file, or one embedded in a sparse file)
 * listing extents that tile the layer's address space.  Reading a range
 * walks the top layer's extents; whatever a layer has not allocated comes
 * from its parent, and below the base it reads as zeros.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "converters/vmdk.h"
#include "importer/decompress.h"

#define MAX_CHAIN 255

struct layer {
  char *create_type;
  char *name; /* as opened, for messages */
  char *key;  /* identity of the file, for loop detection */
  uint32_t cid, parent_cid;
  bool has_cid;
  uint64_t size;
  struct vmdk_extent *ext;
  size_t n_ext;
  struct ferry_transport *desc_t; /* descriptor file when separate */
  struct layer *parent;
  struct layer *child; /* the layer that named this one as its parent */
};

struct vmdk {
  struct layer *top;
  /* Sequential mode: streamOptimized read by its markers. */
  bool stream;
};

static int
vmdk_probe (const uint8_t *buf, size_t len)
{
  static const char sig[] = "# Disk DescriptorFile";

  if (len >= 4 && (vmdk_le32 (buf) == VMDK4_MAGIC
                   || vmdk_le32 (buf) == VMDK_COWD_MAGIC))
    return 100;
  if (len >= 8 && vmdk_le64 (buf) == VMDK_SESPARSE_MAGIC)
    return 100;
  if (len >= sizeof sig - 1 && strncasecmp ((const char *) buf, sig,
                                            sizeof sig - 1) == 0)
    return 100;
  /* Descriptors written by hand or by other tools may lack the comment:
   * plain text that sets createType is a descriptor. */
  if (len > 0 && memchr (buf, '\0', len) == NULL) {
    for (size_t i = 0; i + 10 <= len; i++)
      if (strncasecmp ((const char *) buf + i, "createType", 10) == 0)
        return 80;
  }
  return 0;
}

/* Extent and parent names must stay in the descriptor's directory: a
 * descriptor is outside data, and "../../etc/shadow" as an extent would
 * copy a host file into a guest disk. */
static int
check_path (const char *desc_name, const char *what, const char *rel,
            const struct ferry_open_opts *o)
{
  const char *p = rel;

  if (o->allow_absolute_extents)
    return 0;
  if (rel[0] == '/')
    return ferry_error (FERRY_E_INPUT, "%s: %s '%s' is an absolute path "
                        "(allow it with --allow-absolute-extents)", desc_name,
                        what, rel);
  while (*p) {
    size_t n = strcspn (p, "/");
    if (n == 2 && p[0] == '.' && p[1] == '.')
      return ferry_error (FERRY_E_INPUT, "%s: %s '%s' is outside the "
                          "descriptor's directory (allow it with "
                          "--allow-absolute-extents)", desc_name, what, rel);
    p += n;
    while (*p == '/')
      p++;
  }
  return 0;
}

static struct ferry_transport *
open_sibling (struct ferry_transport *t, const char *what, const char *rel)
{
  struct ferry_transport *s;

  if (!t->ops->open_sibling) {
    ferry_error (FERRY_E_INPUT, "%s: cannot open the %s '%s': this source "
                 "cannot reach files next to it", t->name, what, rel);
    return NULL;
  }
  s = t->ops->open_sibling (t, rel);
  if (!s)
    ferry_error_prefix ("%s: %s '%s'", t->name, what, rel);
  return s;
}

static char *
file_key (const char *name)
{
  char *r = realpath (name, NULL);

  return r ? r : strdup (name);
}

static void layer_free (struct layer *l);

static const struct vmdk_extent_ops *
ops_for (enum vmdk_extent_kind k)
{
  switch (k) {
  case VMDK_EXT_FLAT: return &vmdk_flat_ops;
  case VMDK_EXT_ZERO: return &vmdk_zero_ops;
  case VMDK_EXT_SPARSE: return &vmdk_sparse_ops;
  case VMDK_EXT_VMFSSPARSE: return &vmdk_cowd_ops;
  case VMDK_EXT_SESPARSE: return &vmdk_sesparse_ops;
  }
  return NULL;
}

/* Open extent i of l from descriptor line ed; t is its transport (owned). */
static int
open_extent (struct layer *l, size_t i, const struct vmdk_extent_desc *ed,
             struct ferry_transport *t, uint64_t start,
             const struct ferry_open_opts *o)
{
  struct vmdk_extent *e = &l->ext[i];

  e->ops = ops_for (ed->kind);
  e->t = t;
  e->name = t ? t->name : "ZERO extent";
  e->start = start;
  e->length = ed->sectors * VMDK_SECTOR;
  e->file_offset = ed->kind == VMDK_EXT_FLAT ? ed->offset * VMDK_SECTOR : 0;
  e->access = ed->access;
  e->log = o->log;
  l->n_ext = i + 1;
  return e->ops->open (e, o);
}

static int
layer_open (struct ferry_transport *t, const struct ferry_open_opts *o,
            unsigned depth, struct layer *child, struct layer **out);

/* Chain errors name the file the user gave. */
static const char *
top_name (struct layer *l)
{
  while (l->child)
    l = l->child;
  return l->name ? l->name : "?";
}

/* Parent by parentFileNameHint, with its CID checked. */
static int
open_parent (struct layer *l, struct ferry_transport *t,
             const struct vmdk_descriptor *d, const struct ferry_open_opts *o,
             unsigned depth)
{
  struct ferry_transport *pt;

  if (!d->parent_hint)
    return 0;
  if (depth + 1 >= MAX_CHAIN)
    return ferry_error (FERRY_E_INPUT, "%s: the snapshot chain is deeper than "
                        "%d links (at %s)", top_name (l), MAX_CHAIN, t->name);
  if (check_path (t->name, "parent", d->parent_hint, o) < 0
      || !(pt = open_sibling (t, "parent", d->parent_hint)))
    return -1;
  if (layer_open (pt, o, depth + 1, l, &l->parent) < 0)
    return -1;
  if (d->has_parent_cid && l->parent->has_cid && !o->ignore_cid
      && d->parent_cid != l->parent->cid)
    return ferry_error (FERRY_E_INPUT, "%s: parentCID %08" PRIx32 " does not "
                        "match the CID %08" PRIx32 " of the parent %s (the "
                        "parent changed after this snapshot was taken; "
                        "--ignore-cid reads it anyway)", t->name,
                        d->parent_cid, l->parent->cid, pt->name);
  return 0;
}

/* A sparse/COWD/SESparse file given without a descriptor of its own. */
static int
single_extent (struct layer *l, struct ferry_transport *t,
               enum vmdk_extent_kind kind, const char *type,
               const struct ferry_open_opts *o)
{
  struct vmdk_extent_desc ed = { .access = VMDK_RW, .kind = kind };

  if (!(l->create_type = strdup (type))
      || !(l->ext = calloc (1, sizeof *l->ext))) {
    ferry_transport_close (t);
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  }
  if (open_extent (l, 0, &ed, t, 0, o) < 0)
    return -1;
  l->size = l->ext[0].length;
  return 0;
}

static int
layer_open (struct ferry_transport *t, const struct ferry_open_opts *o,
            unsigned depth, struct layer *child, struct layer **out)
{
  struct layer *l;
  struct vmdk_descriptor d = { 0 };
  uint8_t head[512] = { 0 };
  int64_t size = ferry_transport_size (t);
  char *text = NULL;
  bool embedded = false;
  uint64_t start = 0;
  int r = -1;

  if (!(l = calloc (1, sizeof *l))) {
    ferry_transport_close (t);
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  }
  *out = l;
  l->key = file_key (t->name);
  l->name = strdup (t->name);
  l->child = child;
  /* A loop: this file is already a link above us in the chain. */
  for (struct layer *c = child; c; c = c->child)
    if (l->key && c->key && strcmp (l->key, c->key) == 0) {
      ferry_error (FERRY_E_INPUT, "%s: the snapshot chain loops: %s names "
                   "%s as its parent, which is already in the chain",
                   top_name (child), child->name, t->name);
      goto close_t;
    }

  if (size >= 0 && size < 512) {
    if (size > 0 && ferry_transport_pread (t, head, (size_t) size, 0) < 0)
      goto close_t;
  }
  else if (ferry_transport_pread (t, head, sizeof head, 0) < 0)
    goto close_t;

  if (vmdk_le32 (head) == VMDK_COWD_MAGIC) {
    r = single_extent (l, t, VMDK_EXT_VMFSSPARSE, "vmfsSparse", o);
    return r;
  }
  if (vmdk_le64 (head) == VMDK_SESPARSE_MAGIC) {
    r = single_extent (l, t, VMDK_EXT_SESPARSE, "seSparse", o);
    return r;
  }
  if (vmdk_le32 (head) == VMDK4_MAGIC) {
    if (vmdk_sparse_embedded_descriptor (t, &text) < 0)
      goto close_t;
    if (!text)
      return single_extent (l, t, VMDK_EXT_SPARSE, "monolithicSparse", o);
    embedded = true;
    if (vmdk_descriptor_parse (text, strlen (text), t->name, &d) < 0)
      goto close_t;
    if (d.n_extents != 1 || d.extents[0].kind != VMDK_EXT_SPARSE) {
      ferry_error (FERRY_E_INPUT, "%s: the embedded descriptor lists %zu "
                   "extents (the first of type %s); a sparse file with an "
                   "embedded descriptor holds exactly one SPARSE extent",
                   t->name, d.n_extents, d.extents[0].type_name);
      goto close_t;
    }
  }
  else {
    if (size < 0) {
      ferry_error (FERRY_E_INPUT, "%s: a VMDK descriptor names other files "
                   "and cannot be read from a stream", t->name);
      goto close_t;
    }
    if (size > 1024 * 1024) {
      ferry_error (FERRY_E_INPUT, "%s: not a VMDK: no sparse header magic, and "
                   "at %" PRId64 " bytes too large to be a descriptor",
                   t->name, size);
      goto close_t;
    }
    if (!(text = malloc ((size_t) size + 1))) {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto close_t;
    }
    if (size > 0 && ferry_transport_pread (t, text, (size_t) size, 0) < 0)
      goto close_t;
    text[size] = '\0';
    if (vmdk_descriptor_parse (text, (size_t) size, t->name, &d) < 0)
      goto close_t;
  }
  free (text);
  text = NULL;

  if (!vmdk_create_type_known (d.create_type)) {
    ferry_error (FERRY_E_INPUT, "%s: unknown createType \"%s\"", t->name,
                 d.create_type);
    goto close_t;
  }
  if (!(l->create_type = strdup (d.create_type))
      || !(l->ext = calloc (d.n_extents, sizeof *l->ext))) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto close_t;
  }
  l->cid = d.cid;
  l->has_cid = d.has_cid;
  l->parent_cid = d.parent_cid;

  if (embedded) {
    /* The file is its own extent, whatever name the descriptor gives (the
     * file may have been renamed since). */
    if (open_extent (l, 0, &d.extents[0], t, 0, o) < 0)
      goto out;
    l->size = l->ext[0].length;
  }
  else {
    l->desc_t = t;
    for (size_t i = 0; i < d.n_extents; i++) {
      const struct vmdk_extent_desc *ed = &d.extents[i];
      struct ferry_transport *et = NULL;

      if (ed->kind != VMDK_EXT_ZERO
          && (check_path (t->name, "extent file", ed->filename, o) < 0
              || !(et = open_sibling (t, "extent file", ed->filename))))
        goto out;
      if (open_extent (l, i, ed, et, start, o) < 0) {
        ferry_error_prefix ("%s: extent %zu", t->name, i + 1);
        goto out;
      }
      if (l->ext[i].length > VMDK_MAX_CAPACITY - start) {
        ferry_error (FERRY_E_INPUT, "%s: extent %zu: the extents add up to "
                     "more than %" PRIu64 " bytes, an absurd disk size",
                     t->name, i + 1, (uint64_t) VMDK_MAX_CAPACITY);
        goto out;
      }
      if (ed->access == VMDK_NOACCESS)
        ferry_warn (o->log, "%s: extent %zu (%s) is NOACCESS; its %" PRIu64
                    " bytes read as zeros", t->name, i + 1,
                    et ? et->name : "ZERO", l->ext[i].length);
      start += l->ext[i].length;
    }
    l->size = start;
  }
  if (l->size > VMDK_MAX_CAPACITY) {
    ferry_error (FERRY_E_INPUT, "%s: the extents add up to %" PRIu64 " bytes, "
                 "an absurd disk size", t->name, l->size);
    goto out;
  }

  r = open_parent (l, l->desc_t ? l->desc_t : l->ext[0].t, &d, o, depth);
  goto out;

close_t:
  /* The transport was not handed to an extent or kept as the descriptor. */
  ferry_transport_close (t);
out:
  free (text);
  vmdk_descriptor_free (&d);
  return r;
}

static void
layer_free (struct layer *l)
{
  while (l) {
    struct layer *p = l->parent;
    for (size_t i = 0; i < l->n_ext; i++) {
      l->ext[i].ops->close (&l->ext[i]);
      if (l->ext[i].t && l->ext[i].t != l->desc_t)
        ferry_transport_close (l->ext[i].t);
    }
    if (l->desc_t)
      ferry_transport_close (l->desc_t);
    free (l->ext);
    free (l->create_type);
    free (l->key);
    free (l->name);
    free (l);
    l = p;
  }
}

/* Find the extent holding offset (offset < l->size). */
static struct vmdk_extent *
find_extent (struct layer *l, uint64_t offset)
{
  size_t lo = 0, hi = l->n_ext;

  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (l->ext[mid].start <= offset)
      lo = mid;
    else
      hi = mid;
  }
  return &l->ext[lo];
}

static int
layer_read (struct layer *l, uint8_t *buf, size_t count, uint64_t offset)
{
  struct ferry_extent_list m = { 0 };
  int r = -1;

  while (count > 0) {
    struct vmdk_extent *e;
    uint64_t in;
    size_t n;

    if (!l || offset >= l->size) {
      memset (buf, 0, count);
      break;
    }
    e = find_extent (l, offset);
    in = offset - e->start;
    n = e->length - in < count ? (size_t) (e->length - in) : count;

    if (e->access == VMDK_NOACCESS)
      memset (buf, 0, n);
    else if (!l->parent) {
      /* Unallocated grains read as zeros from the extents themselves. */
      if (e->ops->read (e, buf, n, in) < 0)
        goto out;
    }
    else {
      ferry_extent_list_reset (&m);
      if (e->ops->map (e, in, n, &m) < 0)
        goto out;
      for (size_t i = 0; i < m.n; i++) {
        struct ferry_extent *x = &m.v[i];
        uint8_t *p = buf + (x->offset - in);
        if (x->type == FERRY_EXTENT_DATA) {
          if (e->ops->read (e, p, x->length, x->offset) < 0)
            goto out;
        }
        else if (x->type == FERRY_EXTENT_ZERO)
          memset (p, 0, x->length);
        else if (layer_read (l->parent, p, x->length, e->start + x->offset) < 0)
          goto out;
      }
    }
    buf += n;
    offset += n;
    count -= n;
  }
  r = 0;
out:
  ferry_extent_list_free (&m);
  return r;
}

static int
layer_extents (struct layer *l, uint64_t offset, uint64_t length,
               struct ferry_extent_list *out)
{
  struct ferry_extent_list m = { 0 };
  int r = -1;

  while (length > 0) {
    struct vmdk_extent *e;
    uint64_t in, n;

    if (!l || offset >= l->size) {
      /* Beyond a (smaller) parent: nothing stored, reads as zeros. */
      if (ferry_extent_list_add (out, offset, length,
                                 l ? FERRY_EXTENT_ZERO : FERRY_EXTENT_HOLE) < 0)
        goto out;
      break;
    }
    e = find_extent (l, offset);
    in = offset - e->start;
    n = e->length - in < length ? e->length - in : length;
    if (e->access == VMDK_NOACCESS) {
      if (ferry_extent_list_add (out, offset, n, FERRY_EXTENT_ZERO) < 0)
        goto out;
    }
    else {
      ferry_extent_list_reset (&m);
      if (e->ops->map (e, in, n, &m) < 0)
        goto out;
      for (size_t i = 0; i < m.n; i++) {
        struct ferry_extent *x = &m.v[i];
        if (x->type == FERRY_EXTENT_HOLE && l->parent) {
          if (layer_extents (l->parent, e->start + x->offset, x->length, out) < 0)
            goto out;
        }
        else if (ferry_extent_list_add (out, e->start + x->offset, x->length,
                                        x->type) < 0)
          goto out;
      }
    }
    offset += n;
    length -= n;
  }
  r = 0;
out:
  ferry_extent_list_free (&m);
  return r;
}

/* Sequential mode: only the header and embedded descriptor are read at
 * open (they sit in the re-readable head of the stream). */
static int
open_stream (struct ferry_disk *d, struct vmdk *v)
{
  struct ferry_transport *t = d->transport;
  uint8_t h[512];
  uint64_t cap;
  uint32_t flags;
  const char *z;

  if (ferry_transport_pread (t, h, sizeof h, 0) < 0)
    return -1;
  /* A compressed file is a stream too, but the fix differs: say it. */
  z = ferry_transport_compression (t);
  if (vmdk_le32 (h) != VMDK4_MAGIC)
    return ferry_error (FERRY_E_INPUT, "%s: only a streamOptimized VMDK can be "
                        "read as a stream (this is a %s)%s%s%s", t->name,
                        vmdk_le32 (h) == VMDK_COWD_MAGIC ? "COWD file"
                                                         : "VMDK descriptor or "
                                                           "other VMDK file",
                        z ? "; it is " : "", z ? z : "",
                        z ? "-compressed: decompress it first and convert "
                            "the result" : "");
  flags = vmdk_le32 (h + 8);
  cap = vmdk_le64 (h + 12);
  if (!(flags & (1u << 16)) || !(flags & (1u << 17)))
    return ferry_error (FERRY_E_INPUT, "%s: only a streamOptimized VMDK can be "
                        "read as a stream (header flags 0x%08" PRIx32 " at "
                        "offset 8 say it is not compressed with markers)%s%s%s",
                        t->name, flags, z ? "; the file is " : "", z ? z : "",
                        z ? "-compressed: decompress it first and convert "
                            "the result" : "");
  if (cap == 0 || cap > VMDK_MAX_CAPACITY / VMDK_SECTOR)
    return ferry_error (FERRY_E_INPUT, "%s: header: capacity %" PRIu64
                        " sectors at offset 12 is %s", t->name, cap,
                        cap ? "absurdly large" : "zero");
  {
    uint64_t g = vmdk_le64 (h + 20);
    if (!g || (g & (g - 1)) || g > 16384)
      return ferry_error (FERRY_E_INPUT, "%s: header: grain size %" PRIu64
                          " sectors at offset 20 is not a power of two "
                          "between 1 and 16384", t->name, g);
  }
  d->size = cap * VMDK_SECTOR;
  d->subformat = "streamOptimized";
  v->stream = true;
  return 0;
}

static int
vmdk_open (struct ferry_disk *d, const struct ferry_open_opts *o)
{
  struct vmdk *v = calloc (1, sizeof *v);
  struct ferry_open_opts opts = *o;

  if (!v)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  if (!opts.log)
    opts.log = d->log;
  d->priv = v;
  if (o->sequential) {
    if (open_stream (d, v) < 0) {
      free (v);
      d->priv = NULL;
      return -1;
    }
    return 0;
  }

  /* From here the layers own the transport, failure or not. */
  struct ferry_transport *t = d->transport;
  d->transport = NULL;
  if (layer_open (t, &opts, 0, NULL, &v->top) < 0) {
    layer_free (v->top);
    free (v);
    d->priv = NULL;
    return -1;
  }
  /* The copy engine names the source by d->transport in messages. */
  d->transport = v->top->desc_t ? v->top->desc_t : v->top->ext[0].t;
  d->size = v->top->size;
  d->subformat = v->top->create_type;
  return 0;
}

static int
vmdk_read (struct ferry_disk *d, void *buf, size_t count, uint64_t offset)
{
  struct vmdk *v = d->priv;

  if (v->stream)
    return ferry_error (FERRY_E_INPUT, "%s: a stream can only be read front "
                        "to back", d->transport->name);
  if (offset > d->size || count > d->size - offset)
    return ferry_error (FERRY_E_INPUT, "%s: read at %" PRIu64 " past the end "
                        "of the disk", d->transport->name, offset);
  return layer_read (v->top, buf, count, offset);
}

static int
vmdk_extents (struct ferry_disk *d, uint64_t offset, uint64_t length,
              struct ferry_extent_list *out)
{
  struct vmdk *v = d->priv;

  if (v->stream)
    return ferry_error (FERRY_E_INPUT, "%s: a stream can only be read front "
                        "to back", d->transport->name);
  if (offset > d->size || length > d->size - offset)
    length = offset > d->size ? 0 : d->size - offset;
  return layer_extents (v->top, offset, length, out);
}

static int
vmdk_stream (struct ferry_disk *d, ferry_stream_cb cb, void *opaque)
{
  struct vmdk *v = d->priv;

  if (!v->stream)
    return ferry_error (FERRY_E_USAGE, "%s: internal: stream() on a random "
                        "access VMDK", d->transport->name);
  return vmdk_stream_sequential (d->transport, d->size, cb, opaque);
}

static void
vmdk_close (struct ferry_disk *d)
{
  struct vmdk *v = d->priv;

  if (v) {
    if (v->stream)
      ferry_transport_close (d->transport);
    else
      layer_free (v->top);
    free (v);
  }
  d->priv = NULL;
  d->transport = NULL;
}

const struct ferry_format_ops ferry_format_vmdk = {
  .name = "vmdk",
  .probe = vmdk_probe,
  .open = vmdk_open,
  .read = vmdk_read,
  .extents = vmdk_extents,
  .stream = vmdk_stream,
  .close = vmdk_close,
};
