/* ferry: qcow2 as a source.
 *
 * Reads the images ferry writes (qcow2 v3 without backing files,
 * snapshots or encryption), so a converted or synced disk can be
 * checksummed and verified by the same code that checks the source.
 */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "converters/format.h"
#include "converters/qcow2.h"

static int
q_probe (const uint8_t *buf, size_t len)
{
  return len >= 4 && memcmp (buf, "QFI\xfb", 4) == 0 ? 100 : 0;
}

static int
q_open (struct ferry_disk *d, const struct ferry_open_opts *o)
{
  struct qcow2 *q;

  (void) o;
  if (!(q = qcow2_open_source (d->transport)))
    return -1;
  d->priv = q;
  d->size = qcow2_size (q);
  d->subformat = "v3";
  return 0;
}

static int
q_read (struct ferry_disk *d, void *buf, size_t count, uint64_t offset)
{
  if (offset > d->size || count > d->size - offset)
    return ferry_error (FERRY_E_INPUT, "%s: read past the end of the disk",
                        d->transport->name);
  return qcow2_pread (d->priv, buf, count, offset);
}

static int
q_extents (struct ferry_disk *d, uint64_t offset, uint64_t length,
           struct ferry_extent_list *out)
{
  return qcow2_map (d->priv, offset, length, out);
}

static void
q_close (struct ferry_disk *d)
{
  qcow2_free (d->priv);
  ferry_transport_close (d->transport);
  d->transport = NULL;
  d->priv = NULL;
}

const struct ferry_format_ops ferry_format_qcow2 = {
  .name = "qcow2",
  .probe = q_probe,
  .open = q_open,
  .read = q_read,
  .extents = q_extents,
  .close = q_close,
};
