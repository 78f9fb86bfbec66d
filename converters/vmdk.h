/* ferry: internal interface of the VMDK reader.
 *
 * vmdk.c parses the descriptor (vmdk_descriptor.c), opens one vmdk_extent per
 * extent line through the extent kinds below, follows the parent chain and
 * answers read/extents for the whole disk.  Each extent kind is one file.
 */
#ifndef FERRY_CONVERTERS_VMDK_H
#define FERRY_CONVERTERS_VMDK_H

#include <stdbool.h>
#include <stdint.h>

#include "converters/format.h"
#include "importer/transport.h"

#define VMDK_SECTOR 512

enum vmdk_access { VMDK_RW, VMDK_RDONLY, VMDK_NOACCESS };

enum vmdk_extent_kind {
  VMDK_EXT_FLAT,       /* FLAT, VMFS, VMFSRAW, VMFSRDM */
  VMDK_EXT_ZERO,       /* ZERO */
  VMDK_EXT_SPARSE,     /* SPARSE: KDMV hosted sparse or streamOptimized */
  VMDK_EXT_VMFSSPARSE, /* VMFSSPARSE: COWD */
  VMDK_EXT_SESPARSE,   /* SESPARSE */
};

/* One parsed extent line. */
struct vmdk_extent_desc {
  enum vmdk_access access;
  uint64_t sectors;       /* size in 512-byte sectors */
  enum vmdk_extent_kind kind;
  char *type_name;        /* as written, for messages */
  char *filename;         /* NULL for ZERO */
  uint64_t offset;        /* FLAT: offset in sectors into the file */
};

struct vmdk_descriptor {
  uint32_t version;
  uint32_t cid, parent_cid;   /* parent_cid 0xffffffff: no parent */
  bool has_cid, has_parent_cid;
  char *create_type;          /* as written */
  char *parent_hint;          /* parentFileNameHint, or NULL */
  struct vmdk_extent_desc *extents;
  size_t n_extents;
  char *adapter_type;         /* ddb.adapterType, or NULL */
};

/* Parse descriptor text (not NUL-terminated; len bytes).  name is used in
 * messages ("disk.vmdk: line 7: ..."). */
int vmdk_descriptor_parse (const char *text, size_t len, const char *name,
                           struct vmdk_descriptor *out);
void vmdk_descriptor_free (struct vmdk_descriptor *d);

/* createType recognised?  (case-insensitive) */
bool vmdk_create_type_known (const char *create_type);

struct vmdk_extent;

struct vmdk_extent_ops {
  const char *name;
  /* e->t, e->name, e->length, e->file_offset are set; fill e->priv.  For
   * embedded-descriptor files (a monolithic sparse with no separate
   * descriptor) e->length may be 0: take the capacity from the header. */
  int (*open) (struct vmdk_extent *e, const struct ferry_open_opts *o);
  /* Read count bytes at offset relative to the extent start.  Unallocated
   * areas read as zeros (the caller consults the parent for them). */
  int (*read) (struct vmdk_extent *e, void *buf, size_t count,
               uint64_t offset);
  /* Append the map of [offset, offset+length) relative to the extent start,
   * with types DATA, ZERO, or HOLE (= unallocated in this link). */
  int (*map) (struct vmdk_extent *e, uint64_t offset, uint64_t length,
              struct ferry_extent_list *out);
  void (*close) (struct vmdk_extent *e);
};

struct vmdk_extent {
  const struct vmdk_extent_ops *ops;
  struct ferry_transport *t; /* owned; NULL for ZERO */
  const char *name;          /* file name for messages */
  uint64_t start;            /* logical byte offset of the extent */
  uint64_t length;           /* bytes */
  uint64_t file_offset;      /* FLAT: byte offset into the file */
  enum vmdk_access access;
  const struct ferry_log *log;
  void *priv;
};

extern const struct vmdk_extent_ops vmdk_flat_ops;
extern const struct vmdk_extent_ops vmdk_zero_ops;
extern const struct vmdk_extent_ops vmdk_sparse_ops;   /* vmdk_sparse.c */
extern const struct vmdk_extent_ops vmdk_cowd_ops;     /* vmdk_cowd.c */
extern const struct vmdk_extent_ops vmdk_sesparse_ops; /* vmdk_sesparse.c */

/* vmdk_sparse.c: if a KDMV file has an embedded descriptor, return its text
 * (malloc'd, NUL-terminated) in *text, or NULL in *text if none. */
int vmdk_sparse_embedded_descriptor (struct ferry_transport *t, char **text);

/* vmdk_stream.c: read a streamOptimized file front to back by its markers,
 * delivering inflated grains.  capacity (bytes) comes from the header, which
 * vmdk.c read at open (a sequential transport lets the first 64 KiB be read
 * again).  Markers or grains outside capacity are input errors. */
int vmdk_stream_sequential (struct ferry_transport *t, uint64_t capacity,
                            ferry_stream_cb cb, void *opaque);

/* vmdk_grain.c: the grain-table walk shared by hosted sparse (KDMV), COWD
 * and SESparse extents.  Each kind loads its grain directory at open and
 * supplies decode(), which turns one raw grain-table entry into a state and
 * a file offset (checking it against the file).  Grain tables are read on
 * demand into a small LRU cache, so memory does not grow with disk size. */
enum vmdk_grain_state { VMDK_GRAIN_UNALLOC, VMDK_GRAIN_ZERO, VMDK_GRAIN_DATA };

struct vmdk_gtab;
typedef int (*vmdk_gte_decode) (struct vmdk_gtab *g, uint64_t grain,
                                uint64_t raw, enum vmdk_grain_state *st,
                                uint64_t *file_off);

struct vmdk_gtab {
  struct vmdk_extent *e;
  uint64_t capacity;     /* bytes covered by the grain tables */
  uint64_t grain_bytes;  /* power of two */
  uint32_t gt_entries;   /* entries per grain table */
  unsigned entry_size;   /* 4 or 8 bytes per entry */
  uint64_t n_gd;         /* grain directory entries */
  uint64_t *gt_offset;   /* byte offset of each grain table; 0: none */
  uint64_t file_size;
  bool compressed;       /* streamOptimized: grains are marker + deflate */
  vmdk_gte_decode decode;
  void *cache;           /* vmdk_grain.c */
};

int vmdk_gtab_init (struct vmdk_gtab *g);
void vmdk_gtab_free (struct vmdk_gtab *g);
int vmdk_gtab_lookup (struct vmdk_gtab *g, uint64_t grain,
                      enum vmdk_grain_state *st, uint64_t *file_off);
int vmdk_gtab_read (struct vmdk_gtab *g, void *buf, size_t count,
                    uint64_t offset);
int vmdk_gtab_map (struct vmdk_gtab *g, uint64_t offset, uint64_t length,
                   struct ferry_extent_list *out);
/* Walk every entry once: entries past the end of the file, grains inside
 * the first meta_bytes of the file, and (for uncompressed grains aligned to
 * the grain size) two entries sharing file space are errors. */
int vmdk_gtab_check (struct vmdk_gtab *g, uint64_t meta_bytes);
/* Inflate one streamOptimized grain (its marker is at file offset off) into
 * out, a grain of out_len bytes.  The data must inflate to the whole grain,
 * or, for the last grain of a disk whose size is not a grain multiple, to
 * at least tail_len bytes (the rest is zeroed). */
int vmdk_inflate_grain (const char *name, uint64_t off, uint64_t lba_sectors,
                        const uint8_t *data, size_t data_len, void *out,
                        size_t out_len, size_t tail_len);

static inline uint32_t
vmdk_le32 (const uint8_t *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
         | (uint32_t) p[3] << 24;
}

static inline uint64_t
vmdk_le64 (const uint8_t *p)
{
  return (uint64_t) vmdk_le32 (p) | (uint64_t) vmdk_le32 (p + 4) << 32;
}

/* Largest virtual size accepted: far above what VMware allows (62 TB), far
 * below what would overflow sector arithmetic. */
#define VMDK_MAX_CAPACITY (UINT64_C (1) << 48)

/* Magic numbers, little-endian on disk. */
#define VMDK4_MAGIC 0x564d444bu     /* "KDMV" */
#define VMDK_COWD_MAGIC 0x44574f43u /* "COWD" */
#define VMDK_SESPARSE_MAGIC 0x00000000cafebabeull

#endif
