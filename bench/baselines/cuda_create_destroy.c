/* SPDX-License-Identifier: Apache-2.0 */
/* Baseline: no pool at all, cudaEventCreateWithFlags(DisableTiming) on
 * lease and cudaEventDestroy on return, what Mooncake TENT's nvlink/mnnvl
 * transports do per submit. CUDA only: without a usable GPU the run reports
 * "no GPU" (setup fails, every thread skips with that error). Events are
 * created on each thread's current device (device 0 unless the thread set
 * another). */
#include <cuda_runtime_api.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "../evb_patterns.h"
#include "../evb_suite.h"

/* A CUDA failure travels as -(1000 + cudaError_t). */
#define EVB_CUDA_RC(e) (-(1000 + (int)(e)))

typedef struct evb_cc_pool {
    /* Conservation counts: the shared lines cost tens of ns against the
     * microseconds of a create or destroy. */
    alignas(64) _Atomic uint64_t created;
    alignas(64) _Atomic uint64_t destroyed;
    char device[300]; /* "cuda device 0: " + a 256-byte name */
} evb_cc_pool;

static int evb_cc_create(const evb_impl_params *p, void **out, char *err, size_t len)
{
    (void)p;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        snprintf(err, len, "no GPU: cudaGetDeviceCount: %s",
                 e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        cudaGetLastError(); /* clear it, so later CUDA calls do not report it */
        return -1;
    }
    struct cudaDeviceProp prop;
    e = cudaGetDeviceProperties(&prop, 0);
    if (e != cudaSuccess) {
        snprintf(err, len, "cudaGetDeviceProperties: %s", cudaGetErrorString(e));
        return -1;
    }
    evb_cc_pool *pool = aligned_alloc(64, sizeof *pool);
    if (!pool) {
        snprintf(err, len, "out of memory");
        return -1;
    }
    atomic_init(&pool->created, 0);
    atomic_init(&pool->destroyed, 0);
    snprintf(pool->device, sizeof pool->device, "cuda device 0: %s", prop.name);
    *out = pool;
    return 0;
}

static inline int evb_cc_lease(void *p, uint64_t *item)
{
    evb_cc_pool *pool = p;
    cudaEvent_t ev;
    cudaError_t e = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);
    if (e != cudaSuccess)
        return EVB_CUDA_RC(e);
    atomic_fetch_add_explicit(&pool->created, 1, memory_order_relaxed);
    *item = (uint64_t)(uintptr_t)ev;
    return 0;
}

static inline int evb_cc_ret(void *p, uint64_t item)
{
    evb_cc_pool *pool = p;
    cudaError_t e = cudaEventDestroy((cudaEvent_t)(uintptr_t)item);
    if (e != cudaSuccess)
        return EVB_CUDA_RC(e);
    atomic_fetch_add_explicit(&pool->destroyed, 1, memory_order_relaxed);
    return 0;
}

static const char *evb_cc_error_name(int rc)
{
    return rc <= -1000 ? cudaGetErrorString((cudaError_t)(-rc - 1000)) : "unknown error";
}

static int evb_cc_check(void *p, uint64_t leases, char *err, size_t len)
{
    evb_cc_pool *pool = p;
    uint64_t c = atomic_load(&pool->created), d = atomic_load(&pool->destroyed);
    if (c != leases || d != leases) {
        snprintf(err, len, "created %llu, destroyed %llu events; leased %llu",
                 (unsigned long long)c, (unsigned long long)d, (unsigned long long)leases);
        return -1;
    }
    return 0;
}

static const char *evb_cc_label(void *p)
{
    return ((evb_cc_pool *)p)->device;
}

static void evb_cc_destroy(void *p)
{
    free(p);
}

static const evb_impl evb_cc_impl = {
    .name = "cuda_create_destroy",
    .create = evb_cc_create,
    .lease = evb_cc_lease,
    .ret = evb_cc_ret,
    .error_name = evb_cc_error_name,
    .check = evb_cc_check,
    .label = evb_cc_label,
    .destroy = evb_cc_destroy,
};

EVB_DEFINE_PATTERNS(cuda_create, &evb_cc_impl)

void evb_cuda_create_register(void)
{
    evb_impl_params p = {.capacity = 0}; /* unbounded: every lease creates */
    evb_cuda_create_register_patterns("cuda_create_destroy", &p);
}
