/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — host "streams" for the host backend.
 *
 * A host stream is a worker thread that runs enqueued callbacks in FIFO
 * order, the CPU stand-in for a CUDA stream: an event recorded on it
 * completes when every callback enqueued before the record has run. This
 * lets everything above the pool run and be tested without a GPU.
 *
 * Thread safety: enqueue and synchronize may be called from any thread.
 * evp_host_stream_destroy must not race with other calls on the stream.
 */
#ifndef EVPOOL_HOST_H
#define EVPOOL_HOST_H

#include "evpool/api.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct evp_host_stream evp_host_stream_t;

/* Devices the host backend pretends to have (ids 0..EVP_HOST_DEVICES-1). */
#define EVP_HOST_DEVICES 8

/* Returns 0 and *out; EVP_ENOMEM; EVP_EBACKEND (thread creation failed). */
EVP_API int evp_host_stream_create(evp_host_stream_t **out);

/* Queues fn(arg) to run on the stream's worker. Returns 0; EVP_EINVAL (NULL
 * stream or fn); EVP_ENOMEM. */
EVP_API int evp_host_stream_enqueue(evp_host_stream_t *s, void (*fn)(void *), void *arg);

/* Waits until everything enqueued so far has run. Returns 0; EVP_EINVAL. */
EVP_API int evp_host_stream_synchronize(evp_host_stream_t *s);

/* Runs what is queued, stops the worker and frees the stream. The caller
 * must not use events recorded on it afterwards. NULL is a no-op. */
EVP_API void evp_host_stream_destroy(evp_host_stream_t *s);

#ifdef __cplusplus
}
#endif
#endif
