/* SPDX-License-Identifier: Apache-2.0 */
/* Sub-batches on the CUDA backend, with real device copies: the enqueue
 * callback issues cudaMemcpyAsync D2D on the sub-batch's stream.
 *   1. lifecycle: submit, poll to COMPLETED, the bytes arrived;
 *   2. lazy free: free while the stream is held by a host function; the
 *      lease comes back only after the work, with nobody calling evpool
 *      (prints the delay);
 *   3. churn: EVP_GPU_CYCLES (default 1,000,000) alloc/submit/free cycles
 *      at EVP_GPU_THREADS (16), bounded by EVP_GPU_SECONDS (100): the CUDA
 *      events ever created equal the pool's high-water mark (not the number
 *      of submits) and stay within churn_check_bounds (churn.h: the backlog
 *      of freed sub-batches, not the run's length), and host RSS is flat.
 *      Prints RSS before/after, events created, high-water and the
 *      free->reclaim delays.
 * Exits 77 (skipped) without a usable GPU. */
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "churn.h"
#include "cuda_ok.h"
#include "harness.h"

#define COPY_BYTES 4096

static evp_batch_lib_t *g_lib;
static _Atomic int g_gate;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* reqs[i]: local = device destination, target = device source. */
static int d2d_enqueue(void *ctx, void *stream, int device, const evp_batch_req_t *reqs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        cudaError_t e = cudaMemcpyAsync(reqs[i].local, (const void *)(uintptr_t)reqs[i].target, reqs[i].length,
                                        cudaMemcpyDeviceToDevice, (cudaStream_t)stream);
        if (e != cudaSuccess)
            return EVP_EBACKEND;
    }
    return 0;
}

static void CUDART_CB hold_stream(void *arg)
{
    while (!atomic_load(&g_gate))
        sleep_us(100);
}

/* Copies, and first holds the stream until g_gate opens. */
static int held_enqueue(void *ctx, void *stream, int device, const evp_batch_req_t *reqs, uint32_t n)
{
    if (cudaLaunchHostFunc((cudaStream_t)stream, hold_stream, NULL) != cudaSuccess)
        return EVP_EBACKEND;
    return d2d_enqueue(ctx, stream, device, reqs, n);
}

static void test_lifecycle(char *src, char *dst)
{
    char host[COPY_BYTES], back[COPY_BYTES];
    for (int i = 0; i < COPY_BYTES; i++)
        host[i] = (char)(i * 7 + 3);
    CUDA_OK(cudaMemcpy(src, host, COPY_BYTES, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemset(dst, 0, COPY_BYTES));
    /* Both may still run when they return (pageable H2D: "the DMA to final
     * destination may not have completed"; cudaMemset: asynchronous to the
     * host); the batch's streams are non-blocking. */
    CUDA_OK(cudaDeviceSynchronize());
    evp_batch_req_t r[2] = {{.device = 0, .local = dst, .target = (uintptr_t)src, .length = COPY_BYTES / 2},
                            {.device = 0, .local = dst + COPY_BYTES / 2, .target = (uintptr_t)(src + COPY_BYTES / 2),
                             .length = COPY_BYTES / 2}};
    evp_batch_t b;
    evp_batch_status_t st;
    CHECK_RC(evp_batch_alloc(g_lib, 0, &b), 0);
    CHECK_RC(evp_batch_submit(g_lib, b, &r[0], 1, d2d_enqueue, NULL, NULL), 0);
    CHECK_RC(evp_batch_submit(g_lib, b, &r[1], 1, d2d_enqueue, NULL, NULL), 0);
    uint64_t t0 = now_ns();
    while (evp_batch_status(g_lib, b, &st) == 0 && st.status == EVP_TASK_PENDING)
        CHECK(now_ns() - t0 < 5000000000ull);
    CHECK_EQ(st.status, EVP_TASK_COMPLETED);
    CHECK_EQ(st.transferred_bytes, COPY_BYTES);
    CUDA_OK(cudaMemcpy(back, dst, COPY_BYTES, cudaMemcpyDeviceToHost));
    CHECK(memcmp(host, back, COPY_BYTES) == 0);
    CHECK_RC(evp_batch_free(g_lib, b), 0);
    CHECK_RC(evp_batch_free(g_lib, b), EVP_ESTALE);
}

static void test_lazy_free(char *src, char *dst)
{
    evp_batch_req_t r = {.device = 0, .local = dst, .target = (uintptr_t)src, .length = COPY_BYTES};
    evp_batch_t b;
    atomic_store(&g_gate, 0);
    /* The lifecycle test's sub-batches were freed lazily: wait until their
     * leases are back, or they would be counted as this one's. */
    for (uint64_t t = now_ns(); churn_pool_stats(g_lib).outstanding != 0;) {
        CHECK(now_ns() - t < 5000000000ull);
        sleep_us(1000);
    }
    uint64_t before = churn_pool_stats(g_lib).outstanding;
    CHECK_RC(evp_batch_alloc(g_lib, 0, &b), 0);
    CHECK_RC(evp_batch_submit(g_lib, b, &r, 1, held_enqueue, NULL, NULL), 0);
    uint64_t t0 = now_ns();
    CHECK_RC(evp_batch_free(g_lib, b), 0);
    uint64_t free_ns = now_ns() - t0;
    sleep_us(100000);
    CHECK_EQ(churn_pool_stats(g_lib).outstanding, before + 1); /* the work is still held: so is the lease */
    atomic_store(&g_gate, 1);
    uint64_t t1 = now_ns();
    while (churn_pool_stats(g_lib).outstanding != before) {
        CHECK(now_ns() - t1 < 5000000000ull);
        sleep_us(50);
    }
    printf("lazy free: evp_batch_free took %.1f us; lease back %.2f ms after the stream was released\n",
           free_ns / 1e3, (now_ns() - t1) / 1e6);
}

int main(void)
{
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        fprintf(stderr, "no usable GPU: skipped\n");
        return EVP_TEST_SKIP;
    }
    int threads = (int)evp_test_env_long("EVP_GPU_THREADS", 16);
    /* Under compute-sanitizer (tools/gpu-suite.sh memcheck) every CUDA call
     * is ~100x slower: a short churn there, the full one in the plain run. */
    bool sanitized = getenv("EVP_TEST_UNDER_SANITIZER") != NULL;
    long cycles = evp_test_env_long("EVP_GPU_CYCLES", sanitized ? 20000 : 1000000);
    long seconds = evp_test_env_long("EVP_GPU_SECONDS", sanitized ? 60 : 100);
    evp_config_t cfg = evp_test_config("EVPOOL_BACKEND", "cuda", "EVPOOL_SIZE", "16", "EVPOOL_MAX", "65536",
                                       "EVPOOL_BATCH_SLAB", "64", "EVPOOL_BATCH_MAX", "65536",
                                       "EVPOOL_BATCH_TASKS", "4", NULL);
    CHECK_RC(evp_batch_lib_create(&cfg, &g_lib), 0);
    char *bufs;
    CUDA_OK(cudaSetDevice(0));
    CUDA_OK(cudaMalloc((void **)&bufs, (size_t)(threads + 1) * 2 * COPY_BYTES));
    test_lifecycle(bufs, bufs + COPY_BYTES);
    test_lazy_free(bufs, bufs + COPY_BYTES);

    /* reqs[i]: thread i's own 2 x COPY_BYTES, after the first (lifecycle). */
    evp_batch_req_t *reqs = calloc((size_t)threads, sizeof *reqs);
    CHECK(reqs);
    for (int i = 0; i < threads; i++) {
        char *buf = bufs + (size_t)(i + 1) * 2 * COPY_BYTES;
        reqs[i] = (evp_batch_req_t){.device = 0, .local = buf, .target = (uintptr_t)(buf + COPY_BYTES),
                                    .length = COPY_BYTES};
    }
    churn_run(g_lib, threads, cycles / 50, seconds, d2d_enqueue, NULL, reqs); /* warm-up: caches, streams, growth */
    long rss0 = evp_test_rss_kib();
    evp_pool_stats_t p0 = churn_pool_stats(g_lib);
    struct churn_result run = churn_run(g_lib, threads, cycles, seconds, d2d_enqueue, NULL, reqs);
    printf("churn: %llu submit/free cycles at %d threads in %.1f s (%.0f cycles/s), EAGAIN %llu\n",
           (unsigned long long)run.cycles, threads, run.seconds, run.cycles / run.seconds,
           (unsigned long long)run.again);
    free(reqs);
    evp_batch_stats_t bs;
    uint64_t t0 = now_ns();
    do {
        evp_batch_lib_stats(g_lib, &bs);
        CHECK(now_ns() - t0 < 30000000000ull);
        sleep_us(1000);
    } while (bs.pending);
    long rss1 = evp_test_rss_kib();
    evp_pool_stats_t p1 = churn_pool_stats(g_lib);
    printf("host RSS: %ld KiB before, %ld KiB after (%+ld KiB)\n", rss0, rss1, rss1 - rss0);
    printf("submits %llu, CUDA events created %llu (after warm-up %llu), pool high-water %llu, outstanding %llu\n",
           (unsigned long long)bs.submits, (unsigned long long)p1.events_created,
           (unsigned long long)p0.events_created, (unsigned long long)p1.high_water,
           (unsigned long long)p1.outstanding);
    churn_print_reclaim(&bs);
    churn_check_bounds(&cfg, threads, &p1, &bs);
    CHECK(rss1 - rss0 < 32 * 1024); /* flat: no per-submit host memory */
    CUDA_OK(cudaFree(bufs));
    evp_batch_stats_t fin;
    CHECK_RC(evp_batch_lib_destroy(g_lib, &fin), 0);
    CHECK_EQ(fin.lease_returns, fin.leases);
    CHECK_EQ(fin.reclaimed, fin.allocs);
    CHECK_EQ(fin.streams_destroyed, fin.streams_created);
    printf("streams created %llu, destroyed %llu; sub-batch objects %llu\n",
           (unsigned long long)fin.streams_created, (unsigned long long)fin.streams_destroyed,
           (unsigned long long)fin.slab_objects);
    return 0;
}
