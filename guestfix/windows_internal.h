/* ferry guestfix, Windows: pieces shared by guestfix/windows_*.c. */
#ifndef FERRY_GUESTFIX_WINDOWS_INTERNAL_H
#define FERRY_GUESTFIX_WINDOWS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guestfix/internal.h"

/* Registry value types (winnt.h numbering, as hivex uses them). */
enum {
  GF_REG_SZ = 1, GF_REG_EXPAND_SZ = 2, GF_REG_BINARY = 3, GF_REG_DWORD = 4,
  GF_REG_MULTI_SZ = 7,
};

/* What the Windows steps know about the guest, and what one step leaves
 * for the next. */
struct gf_windows {
  char *systemroot;     /* "/Windows", as cased on the disk */
  char *system_hive;    /* guest paths of the hives */
  char *software_hive;
  char *ccs;            /* current control set: "ControlSet001" */
  char *variant;        /* "Server", "Client" or NULL */
  char *arch;           /* "x86_64", "i386", "aarch64" */
  int build;            /* CurrentBuildNumber, 0 when unknown */
  const char *os_tag;   /* virtio-win directory name: "2k22", "w11", ... */
  const char *arch_tag; /* "amd64", "x86", "ARM64" */
  char *os_desc;        /* "Windows Server 2022 Standard (10.0 Server
                           build 20348, x86_64)" for messages */

  /* Filled by windows-virtio. */
  char *driver_dir;     /* guest path of %SystemRoot%\Drivers\VirtIO */
  bool viostor, vioscsi;/* boot drivers copied to system32\drivers */
  char **infs;          /* .inf names copied (NULL-terminated) */
  size_t n_infs;
  char *qemu_ga;        /* guest path of the qemu-ga MSI, or NULL */
  char *source;         /* the virtio-win path used */
};

/* ---- windows_hive.c: the registry through libguestfs' hivex API ---- */
/* Open a hive (guest path), for writing when WRITE; only one is open at a
 * time. */
int gf_hive_open (struct gf_ctx *c, const char *path, bool write);
/* Write the changes back into the hive file and close it. */
int gf_hive_commit (struct gf_ctx *c);
void gf_hive_close (struct gf_ctx *c);
/* The node at PATH ("A\\B\\C", from the root); created (with its parents)
 * when CREATE.  Returns the node, 0 when absent and !CREATE, -1 on error
 * (set). */
int64_t gf_hive_node (struct gf_ctx *c, const char *path, bool create);
/* A value of NODE as UTF-8 (REG_SZ, REG_EXPAND_SZ); NULL when absent or
 * not a string. */
char *gf_hive_get_string (struct gf_ctx *c, int64_t node, const char *name);
/* A REG_DWORD value of NODE into *OUT: 1 when found, 0 when absent or of
 * another type. */
int gf_hive_get_dword (struct gf_ctx *c, int64_t node, const char *name,
                       uint32_t *out);
/* Child key names of NODE; NULL-terminated (free with gf_free_strings),
 * NULL on error (set). */
char **gf_hive_children (struct gf_ctx *c, int64_t node);

/* One key being written: its values are described for the report. */
struct gf_regkey {
  int64_t node;
  char *path;     /* "HKLM\\SYSTEM\\ControlSet001\\Services\\viostor" */
  char *desc;     /* "Type=dword:1, Start=dword:0, ..." */
};
/* Open (creating it) the key at PATH in the open hive; HIVE names the
 * hive in the report ("HKLM\\SYSTEM"). */
int gf_regkey_open (struct gf_ctx *c, struct gf_regkey *k, const char *hive,
                    const char *path);
int gf_regkey_dword (struct gf_ctx *c, struct gf_regkey *k, const char *name,
                     uint32_t v);
/* TYPE: GF_REG_SZ or GF_REG_EXPAND_SZ. */
int gf_regkey_string (struct gf_ctx *c, struct gf_regkey *k, const char *name,
                      int type, const char *v);
/* A REG_MULTI_SZ of the NULL-terminated list V. */
int gf_regkey_multi (struct gf_ctx *c, struct gf_regkey *k, const char *name,
                     const char *const *v);
int gf_regkey_binary (struct gf_ctx *c, struct gf_regkey *k, const char *name,
                      const void *data, size_t len);
/* Record the key and its values as one change; frees K's strings. */
void gf_regkey_done (struct gf_ctx *c, struct gf_regkey *k);

/* UTF-8 to UTF-16LE with a terminating NUL (two zero bytes); the length
 * in bytes, terminator included, in *len. */
char *gf_utf16le (const char *s, size_t *len);

#endif
