/* SPDX-License-Identifier: Apache-2.0 */
/* CUDA backend: events, streams, copies and host callbacks through the
 * runtime API (memory export/import: cuda_mem.c). The runtime is linked
 * statically (CUDA::cudart_static) and loads the driver itself, so without a
 * driver every call fails cleanly and we report EVP_ENODEV. */
#include <cuda_runtime_api.h>
#include <stdatomic.h>
#include <stdio.h>

#include "evpool/error.h"
#include "backend/backend.h"
#include "backend/cuda_device.h"
#include "base/log.h"

static int evp_cuda_device_count(char *why, size_t len)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        if (why)
            snprintf(why, len, "cudaGetDeviceCount: %s (%s)", cudaGetErrorName(e), cudaGetErrorString(e));
        cudaGetLastError(); /* not sticky: clear it so the application does not see it */
        return EVP_ENODEV;
    }
    if (n <= 0) {
        if (why)
            snprintf(why, len, "cudaGetDeviceCount: no CUDA device");
        return EVP_ENODEV;
    }
    return n;
}

/* Events belong to the context current when they are created: make the
 * owning device current (a record on another device's stream would fail
 * with "invalid resource handle"), then restore the caller's device. */
static int evp_cuda_create(int device, bool timing, evp_event_t *ev)
{
    int prev = -1, rc = evp_cuda_enter(device, &prev);
    if (rc)
        return rc;
    cudaEvent_t event = NULL;
    cudaError_t e = cudaEventCreateWithFlags(&event, timing ? cudaEventDefault : cudaEventDisableTiming);
    rc = evp_cuda_leave(device, prev, e == cudaSuccess ? 0 : evp_cuda_fail("cudaEventCreateWithFlags", e));
    if (rc == 0)
        *ev = event;
    else if (e == cudaSuccess)
        cudaEventDestroy(event);
    return rc;
}

static int evp_cuda_destroy(int device, evp_event_t ev)
{
    cudaError_t e = cudaEventDestroy((cudaEvent_t)ev);
    return e == cudaSuccess ? 0 : evp_cuda_fail("cudaEventDestroy", e);
}

static int evp_cuda_record(evp_event_t ev, void *stream)
{
    cudaError_t e = cudaEventRecord((cudaEvent_t)ev, (cudaStream_t)stream);
    return e == cudaSuccess ? 0 : evp_cuda_fail("cudaEventRecord", e);
}

static int evp_cuda_query(evp_event_t ev)
{
    cudaError_t e = cudaEventQuery((cudaEvent_t)ev);
    if (e == cudaSuccess)
        return 1;
    if (e == cudaErrorNotReady)
        return 0;
    return evp_cuda_fail("cudaEventQuery", e);
}

/* Streams are non-blocking: they never synchronise with the legacy default
 * stream of someone else's code in the process. */
static int evp_cuda_stream_create(int device, void **stream)
{
    int prev = -1, rc = evp_cuda_enter(device, &prev);
    if (rc)
        return rc;
    cudaStream_t st = NULL;
    cudaError_t e = cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking);
    rc = evp_cuda_leave(device, prev, e == cudaSuccess ? 0 : evp_cuda_fail("cudaStreamCreateWithFlags", e));
    if (rc == 0)
        *stream = st;
    else if (e == cudaSuccess)
        cudaStreamDestroy(st);
    return rc;
}

static int evp_cuda_stream_destroy(int device, void *stream)
{
    cudaError_t e = cudaStreamDestroy((cudaStream_t)stream);
    return e == cudaSuccess ? 0 : evp_cuda_fail("cudaStreamDestroy", e);
}

static int evp_cuda_stream_sync(void *stream)
{
    cudaError_t e = cudaStreamSynchronize((cudaStream_t)stream);
    return e == cudaSuccess ? 0 : evp_cuda_fail("cudaStreamSynchronize", e);
}

/* Copies are enqueued with the stream's device current, whatever device the
 * calling thread has current.
 *
 * Why: a cuMem VMM range (cuda_mem.c) belongs to no context and is usable
 * only by the devices cuMemSetAccess named: cuda.h documents
 * CU_POINTER_ATTRIBUTE_ACCESS_FLAGS as "the access flags the device
 * associated with the current context has on the corresponding memory", i.e.
 * access to such a range is judged per device, against the current context.
 * A cudaMalloc pointer instead carries its context (CU_POINTER_ATTRIBUTE_
 * CONTEXT: "the CUcontext in which ptr was allocated"). That is our reading
 * of the failure where a pageable H2D cudaMemcpyAsync on a device-0 stream
 * into device 0's cudaMalloc memory worked with device 1 current (test_ipc)
 * while the same copy into device 0's VMM memory, access granted to device 0
 * only, failed with cudaErrorInvalidValue (test_gpu_backend --two-gpus,
 * test_vmm_fd(0, 1): test_ipc(1, 0) leaves device 1 current). With the
 * stream's device current the copy is judged against the device whose
 * stream runs it, the one every caller grants access to (the transport's
 * stream is the registered local buffer's device, else the segment's; the
 * CUDA Programming Guide allows a memcpy on a stream of a device other than
 * the current one, so this changes no documented behaviour). UNVERIFIED ON
 * A GPU: diagnosed from the documentation and the failure report only.
 *
 * Cost: cudaStreamGetDevice and cudaGetDevice (host-side lookups, no
 * pointer query) once per copy / copy_batch call, i.e. once per submit and
 * not per request; two cudaSetDevice only where the caller's device differs.
 * Not measured. The special handles (NULL, cudaStreamLegacy,
 * cudaStreamPerThread) name the current device's stream: nothing to do.
 * Before CUDA 12.8 (no cudaStreamGetDevice) the caller's device is kept. */
static int evp_cuda_stream_enter(cudaStream_t stream, int *dev, int *prev)
{
    *dev = *prev = -1;
#if CUDART_VERSION >= 12080
    if (!stream || stream == cudaStreamLegacy || stream == cudaStreamPerThread)
        return 0;
    cudaError_t e = cudaStreamGetDevice(stream, dev);
    if (e != cudaSuccess) {
        *dev = -1;
        return evp_cuda_fail("cudaStreamGetDevice", e);
    }
    int rc = evp_cuda_enter(*dev, prev);
    if (rc)
        *dev = -1;
    return rc;
#else
    (void)stream;
    return 0;
#endif
}

static int evp_cuda_stream_leave(int dev, int prev, int rc)
{
    return dev < 0 ? rc : evp_cuda_leave(dev, prev, rc);
}

static int evp_cuda_copy(void *dst, const void *src, size_t len, void *stream)
{
    int rc = evp_backend_copy_check(&dst, &src, &len, 1);
    if (rc || len == 0)
        return rc;
    int dev, prev;
    if ((rc = evp_cuda_stream_enter((cudaStream_t)stream, &dev, &prev)) != 0)
        return rc;
    cudaError_t e = cudaMemcpyAsync(dst, src, len, cudaMemcpyDefault, (cudaStream_t)stream);
    rc = e == cudaSuccess ? 0 : evp_cuda_fail("cudaMemcpyAsync", e);
    return evp_cuda_stream_leave(dev, prev, rc);
}

static int evp_cuda_copy_each(void *const *dst, const void *const *src, const size_t *len, size_t n,
                              cudaStream_t stream)
{
    for (size_t i = 0; i < n; i++) {
        if (len[i] == 0)
            continue;
        cudaError_t e = cudaMemcpyAsync(dst[i], src[i], len[i], cudaMemcpyDefault, stream);
        if (e != cudaSuccess)
            return evp_cuda_fail("cudaMemcpyAsync (batch)", e);
    }
    return 0;
}

#if CUDART_VERSION >= 12080
/* Whether cudaMemcpyBatchAsync works here: 0 not tried yet, 1 yes, -1 no (a
 * runtime newer than the driver answers cudaErrorCallRequiresNewerDriver).
 * Decided by the first batch; relaxed: a racing first call just tries too,
 * and the answer is the same for every caller. */
static _Atomic int evp_cuda_batch_state;

/* 1 enqueued as one batch; 0 not here (use one cudaMemcpyAsync each);
 * EVP_EBACKEND. */
static int evp_cuda_copy_batched(void *const *dst, const void *const *src, const size_t *len, size_t n,
                                 cudaStream_t stream)
{
    /* The legacy default stream is refused by cudaMemcpyBatchAsync; zero
     * sizes are not promised to be accepted. */
    if (atomic_load_explicit(&evp_cuda_batch_state, memory_order_relaxed) < 0 || n < 2 || !stream ||
        stream == cudaStreamLegacy)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (len[i] == 0)
            return 0;
    /* One attribute for all copies: the sources are read in stream order,
     * like cudaMemcpyAsync. cudaMemcpyBatchAsync's documentation (CUDA 13.0
     * cuda_runtime_api.h): "If the source access order is set to
     * cudaMemcpySrcAccessOrderStream, then the source will be accessed in
     * stream order" -- for any source, pageable host memory included. Any
     * ("suited for host pointers allocated outside CUDA (ex., via malloc)
     * when it's known that no prior operations in the stream can be
     * accessing the memory") and DuringApiCall ("no prior operations in the
     * stream can be accessing the memory") promise what a caller of
     * copy_batch cannot: a submit may read a buffer an earlier copy on the
     * same stream still writes. So Stream stays, for pageable memory too.
     * The location hints "are only applicable for managed memory pointers
     * [...] or system-allocated pageable memory on devices where
     * cudaDevAttrPageableMemoryAccess is true"; they stay unset (no hint).
     * Note: a pageable READ of one request (n == 1) never comes here: it is
     * one cudaMemcpyAsync (evp_cuda_copy_each). */
    struct cudaMemcpyAttributes attr = {.srcAccessOrder = cudaMemcpySrcAccessOrderStream};
    size_t first = 0;
#if CUDART_VERSION >= 13000
    cudaError_t e = cudaMemcpyBatchAsync(dst, src, len, n, &attr, &first, 1, stream);
#else
    size_t fail_idx = 0;
    cudaError_t e = cudaMemcpyBatchAsync((void **)dst, (void **)src, (size_t *)len, n, &attr, &first, 1,
                                         &fail_idx, stream);
#endif
    if (e == cudaSuccess) {
        atomic_store_explicit(&evp_cuda_batch_state, 1, memory_order_relaxed);
        return 1;
    }
    if (e == cudaErrorCallRequiresNewerDriver || e == cudaErrorNotSupported) {
        cudaGetLastError(); /* not the application's error */
        if (atomic_exchange_explicit(&evp_cuda_batch_state, -1, memory_order_relaxed) != -1)
            evp_info("cudaMemcpyBatchAsync unavailable (%s): batches use one cudaMemcpyAsync per copy",
                     cudaGetErrorName(e));
        return 0;
    }
    return evp_cuda_fail("cudaMemcpyBatchAsync", e);
}
#endif

static int evp_cuda_copy_batch(void *const *dst, const void *const *src, const size_t *len, size_t n,
                               void *stream)
{
    int rc = evp_backend_copy_check(dst, src, len, n);
    if (rc || n == 0)
        return rc;
    int dev, prev; /* the stream's device current: see evp_cuda_stream_enter */
    if ((rc = evp_cuda_stream_enter((cudaStream_t)stream, &dev, &prev)) != 0)
        return rc;
#if CUDART_VERSION >= 12080
    rc = evp_cuda_copy_batched(dst, src, len, n, (cudaStream_t)stream);
    if (rc == 0)
        rc = evp_cuda_copy_each(dst, src, len, n, (cudaStream_t)stream);
    else if (rc > 0)
        rc = 0;
#else
    rc = evp_cuda_copy_each(dst, src, len, n, (cudaStream_t)stream);
#endif
    return evp_cuda_stream_leave(dev, prev, rc);
}

static int evp_cuda_host_fn(void *stream, void (*fn)(void *), void *arg)
{
    if (!fn)
        return EVP_EINVAL;
    cudaError_t e = cudaLaunchHostFunc((cudaStream_t)stream, fn, arg);
    return e == cudaSuccess ? 0 : evp_cuda_fail("cudaLaunchHostFunc", e);
}

const struct evp_backend evp_backend_cuda = {
    .name = "cuda",
    .device_count = evp_cuda_device_count,
    .create = evp_cuda_create,
    .destroy = evp_cuda_destroy,
    .record = evp_cuda_record,
    .query = evp_cuda_query,
    .stream_create = evp_cuda_stream_create,
    .stream_destroy = evp_cuda_stream_destroy,
    .stream_sync = evp_cuda_stream_sync,
    .copy = evp_cuda_copy,
    .copy_batch = evp_cuda_copy_batch,
    .host_fn = evp_cuda_host_fn,
    .mem = &evp_mem_cuda,
};
