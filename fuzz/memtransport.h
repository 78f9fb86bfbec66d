/* ferry fuzzing: the input buffer as a transport (no open_sibling, so
 * files named inside the input cannot be reached). */
#ifndef FERRY_FUZZ_MEMTRANSPORT_H
#define FERRY_FUZZ_MEMTRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "importer/transport.h"

/* data must outlive the transport.  name is used in messages. */
struct ferry_transport *fuzz_mem_open (const uint8_t *data, size_t len,
                                       bool seq, const char *name);

#endif
