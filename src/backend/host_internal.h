/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — host stream internals the host backend reads. */
#ifndef EVPOOL_SRC_BACKEND_HOST_INTERNAL_H
#define EVPOOL_SRC_BACKEND_HOST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "evpool/host.h"

/* Number of items (callbacks, copies) enqueued so far: an event recorded now completes when
 * evp_host_stream_done() reaches it. */
uint64_t evp_host_stream_enqueued(evp_host_stream_t *s);
/* Number of items that have finished running. */
uint64_t evp_host_stream_done(evp_host_stream_t *s);

/* Queues n copies dst[i] <- src[i] (len[i] bytes; zero lengths are
 * skipped), run by the worker in order, all or none. Arguments are
 * checked by the caller (evp_backend_copy_check). 0; EVP_EINVAL (NULL
 * stream); EVP_ENOMEM (nothing queued). */
int evp_host_stream_enqueue_copies(evp_host_stream_t *s, void *const *dst, const void *const *src,
                                   const size_t *len, size_t n);

#endif
