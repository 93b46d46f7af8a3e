/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded resources on the host backend: argv[1] x cores threads (CTest
 * runs 8x) alloc, submit one copy and free at once (the work still in
 * flight, reclaimed lazily), for EVP_CHURN_CYCLES cycles (default 200,000;
 * bounded by EVP_CHURN_SECONDS, default 60), after a warm-up of 1/10 of
 * them. The lease of a freed sub-batch must come back soon after its work
 * (one grace period of the library's reclaimer), so the pool does not grow
 * to cover a backlog of freed sub-batches:
 *   - events and sub-batch objects within churn_check_bounds (churn.h):
 *     the backlog of freed sub-batches (EVPOOL_BATCH_BACKLOG) plus what
 *     threads hold and caches park, however many the submits;
 *   - host RSS after the run within 8 MiB of RSS after the warm-up (not in
 *     ASan/TSan builds: their quarantine holds freed memory);
 *   - every sub-batch, lease and stream counted back at destroy.
 * The same bounds as test_gpu_batch's churn on the CUDA backend. */
#include <stdio.h>
#include <unistd.h>

#include "batch_host.h"
#include "churn.h"

#define COPY_BYTES 4096 /* the task's length (transferred_bytes) */
#define THREAD_CACHE 8 /* small: the bound counts what caches park */

static evp_batch_lib_t *g_lib;
static _Atomic uint64_t g_ran;

/* The work of one submit: counts itself (a copy into a per-thread buffer
 * would race with the thread's next copy on another stream, since we free
 * with the work in flight). */
static void count_run(void *arg)
{
    atomic_fetch_add_explicit((_Atomic uint64_t *)arg, 1, memory_order_relaxed);
}

static int count_enqueue(void *ctx, void *stream, int device, const evp_batch_req_t *reqs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        CHECK_RC(evp_host_stream_enqueue(stream, count_run, &g_ran), 0);
    return 0;
}

int main(int argc, char **argv)
{
    long per_core = argc > 1 ? atol(argv[1]) : 8;
    int threads = (int)(per_core * sysconf(_SC_NPROCESSORS_ONLN));
    if (threads < 1)
        threads = 1;
    long cycles = evp_test_env_long("EVP_CHURN_CYCLES", 200000);
    long seconds = evp_test_env_long("EVP_CHURN_SECONDS", 60);
    evp_config_t cfg = evp_test_config("EVPOOL_BACKEND", "host", "EVPOOL_SIZE", "16", "EVPOOL_MAX", "65536",
                                       "EVPOOL_BATCH_SLAB", "64", "EVPOOL_BATCH_MAX", "65536",
                                       "EVPOOL_BATCH_TASKS", "4", "EVPOOL_THREAD_CACHE", "8", NULL);
    CHECK_EQ(cfg.thread_cache, THREAD_CACHE);
    CHECK_RC(evp_batch_lib_create(&cfg, &g_lib), 0);
    static char none;
    evp_batch_req_t *reqs = calloc((size_t)threads, sizeof *reqs);
    CHECK(reqs);
    for (int i = 0; i < threads; i++)
        reqs[i] = host_req(&none, &none, COPY_BYTES); /* no bytes move: count_enqueue */
    churn_run(g_lib, threads, cycles / 10, seconds, count_enqueue, NULL, reqs); /* warm-up: caches, streams, growth */
    wait_reclaimed(g_lib, 30000);
    long rss0 = evp_test_rss_kib();
    evp_pool_stats_t p0 = churn_pool_stats(g_lib);
    struct churn_result run = churn_run(g_lib, threads, cycles, seconds, count_enqueue, NULL, reqs);
    uint64_t drain_ns = wait_reclaimed(g_lib, 30000);
    long rss1 = evp_test_rss_kib();
    evp_pool_stats_t p1 = churn_pool_stats(g_lib);
    evp_batch_stats_t bs;
    evp_batch_lib_stats(g_lib, &bs);
    printf("churn: %llu cycles at %d threads in %.2f s (%.0f/s), EAGAIN %llu; drained in %.2f ms\n",
           (unsigned long long)run.cycles, threads, run.seconds, run.cycles / run.seconds,
           (unsigned long long)run.again, drain_ns / 1e6);
    printf("host RSS: %ld KiB after the warm-up, %ld KiB after the run (%+ld KiB)\n", rss0, rss1, rss1 - rss0);
    printf("submits %llu, events created %llu (after warm-up %llu), pool high-water %llu, outstanding %llu, "
           "sub-batch objects %llu\n",
           (unsigned long long)bs.submits, (unsigned long long)p1.events_created,
           (unsigned long long)p0.events_created, (unsigned long long)p1.high_water,
           (unsigned long long)p1.outstanding, (unsigned long long)bs.slab_objects);
    churn_print_reclaim(&bs);
    churn_check_bounds(&cfg, threads, &p1, &bs);
    if (EVP_TEST_SANITIZED)
        printf("RSS bound not checked: sanitizer build (quarantine; LSan checks leaks)\n");
    else
        CHECK(rss1 - rss0 < 8 * 1024);
    CHECK_EQ(atomic_load(&g_ran), bs.submits); /* every enqueued work ran before its reclaim */
    free(reqs);
    batch_destroy_all_back(g_lib, 0);
    return 0;
}
