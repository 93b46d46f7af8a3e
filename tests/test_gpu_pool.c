/* SPDX-License-Identifier: Apache-2.0 */
/* The pool on the CUDA backend, on every visible GPU: events are created
 * with the owning device current and the caller's device restored; record,
 * query and cudaStreamWaitEvent work through leases; a query from a thread
 * that never touched CUDA works; growth stops at max; timing follows
 * EVPOOL_TIMING; teardown destroys exactly what was created; the registry
 * picks the CUDA backend under EVPOOL_BACKEND=auto.
 * Exits 77 (skipped) without a usable GPU. */
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "cuda_ok.h"
#include "harness.h"

/* evp_test_gate_hold runs on a CUDA-owned thread and holds the stream
 * until the gate opens. */
static evp_test_gate_t g_gate;

struct fresh_query {
    evp_pool_t *p;
    evp_lease_t l;
    int rc;
};

static void *query_from_fresh_thread(void *arg)
{
    struct fresh_query *q = arg;
    q->rc = evp_pool_query(q->p, q->l); /* this thread never set a device */
    return NULL;
}

static evp_config_t gpu_config(const char *timing)
{
    return evp_test_config("EVPOOL_BACKEND", "cuda", "EVPOOL_SIZE", "8", "EVPOOL_MAX", "16", "EVPOOL_ON_EXHAUST",
                           "fail", "EVPOOL_TIMING", timing, NULL);
}

static void test_device(int dev, int ndev)
{
    fprintf(stderr, "  device %d\n", dev);
    int other = (dev + 1) % ndev;
    CUDA_OK(cudaSetDevice(other));
    evp_config_t cfg = gpu_config("0");
    evp_pool_t *p;
    CHECK_RC(evp_pool_create(dev, &cfg, &p), 0);
    CHECK(strcmp(evp_pool_backend(p), "cuda") == 0);
    int cur = -1;
    CUDA_OK(cudaGetDevice(&cur));
    CHECK_EQ(cur, other); /* caller's device restored */

    CUDA_OK(cudaSetDevice(dev));
    cudaStream_t s, s2;
    CUDA_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    CUDA_OK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));

    evp_lease_t l;
    CHECK_RC(evp_pool_lease(p, &l), 0);
    CHECK_RC(evp_pool_query(p, l), EVP_ENODATA); /* never recorded */
    evp_test_gate_set(&g_gate, 0);
    CUDA_OK(cudaLaunchHostFunc(s, evp_test_gate_hold, &g_gate));
    /* Recording succeeds only if the event belongs to this device. */
    CHECK_RC(evp_pool_record(p, l, s), 0);
    CHECK_RC(evp_pool_query(p, l), 0); /* pending behind the held stream */
    void *ev = NULL;
    CHECK_RC(evp_pool_event(p, l, &ev), 0);
    CUDA_OK(cudaStreamWaitEvent(s2, (cudaEvent_t)ev, 0));
    CHECK(cudaStreamQuery(s2) == cudaErrorNotReady || cudaStreamQuery(s2) == cudaSuccess);
    evp_test_gate_set(&g_gate, 1);
    CUDA_OK(cudaStreamSynchronize(s));
    CUDA_OK(cudaStreamSynchronize(s2));
    CHECK_RC(evp_pool_query(p, l), 1);

    struct fresh_query fq = {.p = p, .l = l, .rc = -1000};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, query_from_fresh_thread, &fq) == 0);
    pthread_join(t, NULL);
    CHECK_RC(fq.rc, 1);

    CHECK_RC(evp_pool_return(p, l), 0);
    CHECK_RC(evp_pool_return(p, l), EVP_ESTALE);
    CHECK_RC(evp_pool_query(p, l), EVP_ESTALE);
    CHECK_RC(evp_pool_record(p, l, s), EVP_ESTALE);

    /* Growth to max (16) and no further; each event records on s. */
    evp_lease_t all[17];
    for (int i = 0; i < 16; i++) {
        CHECK_RC(evp_pool_lease(p, &all[i]), 0);
        CHECK_RC(evp_pool_record(p, all[i], s), 0);
    }
    CHECK_RC(evp_pool_lease(p, &all[16]), EVP_EAGAIN);
    CUDA_OK(cudaStreamSynchronize(s));
    for (int i = 0; i < 16; i++) {
        CHECK_RC(evp_pool_query(p, all[i]), 1);
        CHECK_RC(evp_pool_return(p, all[i]), 0);
    }
    evp_pool_stats_t st;
    CUDA_OK(cudaSetDevice(other));
    CHECK_RC(evp_pool_destroy(p, &st), 0);
    CHECK_EQ(st.events_created, 16);
    CHECK_EQ(st.events_destroyed, 16);
    CHECK_EQ(st.outstanding, 0);

    /* Timing: only with EVPOOL_TIMING=1 can two events be timed. */
    for (int timing = 0; timing <= 1; timing++) {
        cfg = gpu_config(timing ? "1" : "0");
        CHECK_RC(evp_pool_create(dev, &cfg, &p), 0);
        evp_lease_t a, b;
        void *ea, *eb;
        CHECK_RC(evp_pool_lease(p, &a), 0);
        CHECK_RC(evp_pool_lease(p, &b), 0);
        CHECK_RC(evp_pool_record(p, a, s), 0);
        CHECK_RC(evp_pool_record(p, b, s), 0);
        CUDA_OK(cudaStreamSynchronize(s));
        CHECK_RC(evp_pool_event(p, a, &ea), 0);
        CHECK_RC(evp_pool_event(p, b, &eb), 0);
        float ms = -1;
        if (timing) {
            CUDA_OK(cudaEventElapsedTime(&ms, (cudaEvent_t)ea, (cudaEvent_t)eb));
            CHECK(ms >= 0);
        } else if (!getenv("EVP_TEST_UNDER_SANITIZER")) {
            /* cudaEventDisableTiming: timing must fail. Skipped under
             * compute-sanitizer, which reports the failing call. */
            CHECK(cudaEventElapsedTime(&ms, (cudaEvent_t)ea, (cudaEvent_t)eb) != cudaSuccess);
            cudaGetLastError();
        }
        CHECK_RC(evp_pool_return(p, a), 0);
        CHECK_RC(evp_pool_return(p, b), 0);
        CHECK_RC(evp_pool_destroy(p, &st), 0);
        CHECK_EQ(st.events_destroyed, st.events_created);
    }
    CUDA_OK(cudaStreamDestroy(s));
    CUDA_OK(cudaStreamDestroy(s2));
}

/* Several threads, each its own stream, lease/record/query/return. */
#define WORKERS 8
static evp_pool_t *g_pool;

static void *worker(void *arg)
{
    cudaStream_t s;
    CUDA_OK(cudaSetDevice(0));
    CUDA_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    for (int i = 0; i < 2000; i++) {
        evp_lease_t l;
        CHECK_RC(evp_pool_lease(g_pool, &l), 0);
        CHECK_RC(evp_pool_record(g_pool, l, s), 0);
        int rc;
        while ((rc = evp_pool_query(g_pool, l)) == 0)
            ;
        CHECK_RC(rc, 1);
        CHECK_RC(evp_pool_return(g_pool, l), 0);
    }
    CUDA_OK(cudaStreamDestroy(s));
    return NULL;
}

static void test_threads_and_registry(int ndev)
{
    unsetenv("EVPOOL_BACKEND"); /* auto: must find the GPU */
    setenv("EVPOOL_SIZE", "16", 1);
    CHECK_EQ(evp_device_count(), ndev);
    CHECK_RC(evp_device_pool(0, &g_pool), 0);
    CHECK(strcmp(evp_pool_backend(g_pool), "cuda") == 0);
    pthread_t t[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        CHECK(pthread_create(&t[i], NULL, worker, NULL) == 0);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
    evp_pool_stats_t st;
    evp_pool_stats(g_pool, &st);
    CHECK_EQ(st.leases, WORKERS * 2000);
    CHECK_EQ(st.returns, WORKERS * 2000);
    CHECK(st.events_created <= 64);
    fprintf(stderr, "  threads: leases %llu, events created %llu, high-water %llu\n",
            (unsigned long long)st.leases, (unsigned long long)st.events_created,
            (unsigned long long)st.high_water);
    uint64_t leaked = 1;
    CHECK_RC(evp_device_shutdown(&leaked), 0);
    CHECK_EQ(leaked, 0);
}

int main(void)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        fprintf(stderr, "no usable GPU (%s): skipped\n", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return EVP_TEST_SKIP;
    }
    fprintf(stderr, "gpu: %d device(s)\n", n);
    for (int d = 0; d < n; d++)
        test_device(d, n);
    test_threads_and_registry(n);
    fprintf(stderr, "gpu: ok\n");
    return 0;
}
