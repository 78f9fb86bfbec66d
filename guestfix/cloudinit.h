/* ferry: a cloud-init NoCloud seed (user-data, meta-data, network-config)
 * given on the command line, written into a Linux guest by guestfix (step
 * linux-cloudinit, /var/lib/cloud/seed/nocloud/) and, for `ferry convert
 * --cloud-init-iso`, as a "cidata" ISO 9660 volume attached to the VM.
 *
 * The files are the operator's; ferry does not parse them.  It checks
 * that they are regular, readable files of at most FERRY_CLOUDINIT_MAX
 * bytes, and warns when user-data starts with neither "#cloud-config" nor
 * "#!" (cloud-init would ignore it or treat it as another format).
 */
#ifndef FERRY_GUESTFIX_CLOUDINIT_H
#define FERRY_GUESTFIX_CLOUDINIT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"

/* Larger seeds are refused: NoCloud data is configuration, and the whole
 * of it is held in memory and inlined into the KubeVirt manifest. */
#define FERRY_CLOUDINIT_MAX (1024 * 1024)

struct ferry_cloudinit {
  /* Contents (NUL-terminated; the length counts the bytes read, a file
   * may hold NULs).  user_data is "" when only other files were given
   * (NoCloud needs the file); network_config NULL when not given;
   * meta_data NULL until given or generated (ferry_cloudinit_meta). */
  char *user_data;
  size_t user_data_len;
  char *meta_data;
  size_t meta_data_len;
  char *network_config;
  size_t network_config_len;
  bool user_data_given;
  bool meta_data_generated;
};

/* Read the files (any of them may be NULL; all NULL: ci stays empty and
 * 0 is returned).  -1 with the error set (FERRY_E_INPUT naming the file
 * and the reason) for a missing, unreadable, non-regular or too large
 * file. */
int ferry_cloudinit_load (struct ferry_cloudinit *ci, const char *user_data,
                          const char *meta_data, const char *network_config,
                          const struct ferry_log *log);
bool ferry_cloudinit_given (const struct ferry_cloudinit *ci);
/* Generate meta-data when none was given: instance-id (derived from the
 * host name and the seed, so the same seed gives the same id) and
 * local-hostname, HOSTNAME made an RFC 1123 label first ("localhost"
 * when NULL or empty).  Nothing happens when meta-data was given. */
int ferry_cloudinit_meta (struct ferry_cloudinit *ci, const char *hostname);
void ferry_cloudinit_free (struct ferry_cloudinit *ci);

/* Write the seed as an ISO 9660 volume labelled "cidata" (Rock Ridge and
 * Joliet names: user-data, meta-data, network-config) at PATH, through
 * PATH.part renamed when complete.  Meta-data must be present. */
int ferry_cloudinit_write_iso (const struct ferry_cloudinit *ci,
                               const char *path);

#endif
