/* ferry: the key = "value" reader of .vmx files on its own.
 *
 * The .vmsd (snapshot list) next to a .vmx uses the same syntax, escaping
 * and .encoding rule; this exposes the reader so both files are read the
 * same way.  Keys are lower-cased and sorted; duplicates are refused with
 * both line numbers.
 */
#ifndef FERRY_IMPORTER_VMX_KV_H
#define FERRY_IMPORTER_VMX_KV_H

#include <stddef.h>

struct ferry_vmx_kv;

/* Parse text (len bytes, need not be NUL-terminated); name is for
 * messages.  0 and *out set, or -1 with an error naming the line. */
int ferry_vmx_kv_parse (const char *text, size_t len, const char *name,
                        struct ferry_vmx_kv **out);
size_t ferry_vmx_kv_count (const struct ferry_vmx_kv *kv);
/* Entry i (sorted by key): its lower-case key; value and line if asked. */
const char *ferry_vmx_kv_at (const struct ferry_vmx_kv *kv, size_t i,
                             const char **value, unsigned *line);
/* The value of key (lower case), or NULL. */
const char *ferry_vmx_kv_get (const struct ferry_vmx_kv *kv, const char *key,
                              unsigned *line);
void ferry_vmx_kv_free (struct ferry_vmx_kv *kv);

#endif
