/* ferry: NBD requests with a time limit, shared by the NBD source and the
 * NBD target.
 *
 * libnbd's synchronous calls wait for the server forever; a server that
 * stops answering without closing its socket would hang the copy.  These
 * helpers send requests with libnbd's asynchronous calls and run the
 * handle until they complete, giving up when the server has been silent
 * for the time limit.  A handle that timed out has requests still in
 * flight: close it (no NBD_CMD_DISC, which would wait again).
 *
 * A handle must be used by one thread at a time.
 */
#ifndef FERRY_IMPORTER_NBD_IO_H
#define FERRY_IMPORTER_NBD_IO_H

#include <libnbd.h>
#include <stddef.h>
#include <stdint.h>

/* The time limit when the option does not say (seconds). */
#define FERRY_NBD_DEFAULT_TIMEOUT 60

/* Results besides 0 (done) and -1 (failed, libnbd's error in why). */
#define FERRY_NBD_TIMEOUT (-2)

/* Most requests in flight on one handle from one call. */
#define FERRY_NBD_MAX_INFLIGHT 16

/* Seconds as the options give them (0: the default, < 0: none) to the
 * milliseconds these functions take (0: none). */
int ferry_nbd_timeout_ms (int seconds);

/* Wait until every command in cookies[0..n) has completed, or the server
 * has sent nothing for timeout_ms (0: wait forever).  Returns 0 when all
 * succeeded; -1 when one failed: *first_bad is the lowest index that
 * failed, *err its errno and why libnbd's message (the other commands
 * were still waited for); FERRY_NBD_TIMEOUT when the server went silent
 * (*first_bad: the lowest index not completed). */
int ferry_nbd_wait (struct nbd_handle *h, const int64_t *cookies, size_t n,
                    int timeout_ms, size_t *first_bad, int *err, char *why,
                    size_t why_len);

/* Connect h to uri (nbd_aio_connect_uri) within timeout_ms (0: no limit):
 * 0, -1 (libnbd's error) or FERRY_NBD_TIMEOUT. */
int ferry_nbd_connect (struct nbd_handle *h, const char *uri, int timeout_ms);

/* Tell the server we leave (NBD_CMD_DISC) and wait at most timeout_ms for
 * the requests before it to complete and the socket to close. */
int ferry_nbd_disconnect (struct nbd_handle *h, int timeout_ms);

#endif
