/* CUDA backend: cudaEvent_t through the runtime API. The runtime is linked
 * statically (CUDA::cudart_static) and loads the driver itself, so without a
 * driver every call fails cleanly and we report EVP_ENODEV. */
#include <cuda_runtime_api.h>
#include <stdio.h>

#include "evpool/error.h"
#include "backend/backend.h"
#include "base/log.h"

static int evp_cuda_fail(const char *what, cudaError_t e)
{
    evp_error("%s failed: %s (%s)", what, cudaGetErrorName(e), cudaGetErrorString(e));
    return EVP_EBACKEND;
}

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

/* Makes `device` current, remembering the caller's device in *prev. */
static int evp_cuda_enter(int device, int *prev)
{
    cudaError_t e = cudaGetDevice(prev);
    if (e != cudaSuccess)
        return evp_cuda_fail("cudaGetDevice", e);
    if (*prev != device && (e = cudaSetDevice(device)) != cudaSuccess)
        return evp_cuda_fail("cudaSetDevice", e);
    return 0;
}

/* Restores the caller's device; rc is the result so far. */
static int evp_cuda_leave(int device, int prev, int rc)
{
    if (prev != device) {
        cudaError_t e = cudaSetDevice(prev);
        if (e != cudaSuccess && rc == 0)
            return evp_cuda_fail("cudaSetDevice (restore)", e);
    }
    return rc;
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
};
