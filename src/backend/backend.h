/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — backends: an ops table the layers above drive.
 *
 * A backend creates, destroys, records and queries opaque event handles,
 * runs streams, and enqueues copies and host callbacks on them; its memory
 * export/import ops are a sibling table (backend/mem.h) reached as `mem`.
 * `cuda` wraps cudaEvent_t and cudaStream_t; `host` uses completion
 * counters advanced by host worker streams (evpool/host.h), so the whole
 * library runs without a GPU. Nothing above the pool knows which one is in
 * use. */
#ifndef EVPOOL_SRC_BACKEND_BACKEND_H
#define EVPOOL_SRC_BACKEND_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "evpool/config.h"
#include "backend/mem.h"

typedef void *evp_event_t;

struct evp_backend {
    const char *name;
    /* Number of devices (> 0) or a negative EVP_E* code (EVP_ENODEV). The
     * reason for ENODEV is written to why (may be NULL). */
    int (*device_count)(char *why, size_t len);
    /* Creates one event owned by `device`; the caller's current device is
     * restored. 0, EVP_EBACKEND, EVP_ENOMEM, EVP_ENODEV. */
    int (*create)(int device, bool timing, evp_event_t *ev);
    /* Destroys an event created by create (exactly once). 0 or EVP_EBACKEND. */
    int (*destroy)(int device, evp_event_t ev);
    /* Records ev on stream (backend-specific handle; NULL = default stream).
     * 0 or EVP_EBACKEND. */
    int (*record)(evp_event_t ev, void *stream);
    /* 1 complete, 0 pending, EVP_EBACKEND. */
    int (*query)(evp_event_t ev);

    /* Streams (the batch layer pools them per device). */
    /* Creates a stream owned by `device` (CUDA: non-blocking, created with
     * the device current; the caller's device is restored). 0, EVP_EBACKEND,
     * EVP_ENOMEM. */
    int (*stream_create)(int device, void **stream);
    /* Destroys a stream made by stream_create. Work already queued still
     * runs (CUDA releases the stream when it is done; the host stream runs
     * its queue before its worker stops). 0 or EVP_EBACKEND. */
    int (*stream_destroy)(int device, void *stream);
    /* Waits until everything queued on the stream has run. 0, EVP_EBACKEND. */
    int (*stream_sync)(void *stream);

    /* Copies and callbacks, in stream order. A host stream needs a stream
     * (NULL is EVP_EINVAL); CUDA's NULL is the legacy default stream. */
    /* Enqueues a copy of len bytes dst <- src (any of device, peer device,
     * host; CUDA: cudaMemcpyAsync with cudaMemcpyDefault, enqueued with the
     * stream's device current, the caller's restored (cuda_backend.c: VMM
     * access is judged per device); host: memcpy on the stream's worker).
     * len 0 enqueues nothing. The ranges must not overlap. 0; EVP_EINVAL
     * (NULL pointer with len > 0, overlap, host: no stream); EVP_ENOMEM;
     * EVP_EBACKEND (the CUDA error is logged). */
    int (*copy)(void *dst, const void *src, size_t len, void *stream);
    /* Enqueues n independent copies dst[i] <- src[i] of len[i] bytes: all
     * of them or (on an argument error) none. Their order among themselves
     * is unspecified, so they must not depend on each other (CUDA:
     * cudaMemcpyBatchAsync where runtime and driver have it, else one
     * cudaMemcpyAsync each — decided once per process). Returns as copy;
     * n == 0 is 0. */
    int (*copy_batch)(void *const *dst, const void *const *src, const size_t *len, size_t n, void *stream);
    /* Enqueues fn(arg) on the host, after the work queued before it and
     * before the work queued after it (CUDA: cudaLaunchHostFunc; fn must
     * not call CUDA). 0; EVP_EINVAL (NULL fn; host: NULL stream);
     * EVP_ENOMEM; EVP_EBACKEND. */
    int (*host_fn)(void *stream, void (*fn)(void *), void *arg);

    /* Memory export/import between processes (backend/mem.h). */
    const struct evp_backend_mem *mem;
};

extern const struct evp_backend evp_backend_cuda;
extern const struct evp_backend evp_backend_host;

/* Resolves EVP_BACKEND_AUTO/CUDA/HOST to a backend table. AUTO picks cuda
 * when a usable GPU is present, else host (logged once at info, with the
 * reason). CUDA without a usable GPU is EVP_ENODEV (logged). Thread-safe;
 * the GPU probe runs once per process. */
int evp_backend_resolve(evp_backend_kind_t kind, const struct evp_backend **out);

/* Checks a batch of copy arguments for both backends: n copies, each with
 * non-NULL pointers where len > 0 and non-overlapping ranges. 0 or
 * EVP_EINVAL (logged, naming the copy). */
int evp_backend_copy_check(void *const *dst, const void *const *src, const size_t *len, size_t n);

#endif
