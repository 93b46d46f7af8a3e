/* SPDX-License-Identifier: Apache-2.0 */
/* Sub-batch churn shared by test_batch_churn (host backend) and
 * test_gpu_batch (CUDA): `threads` threads each run alloc, one submit of
 * reqs[thread] through `fn`, free at once (the work still in flight,
 * reclaimed lazily), `cycles / threads` times or until `seconds` pass. An
 * alloc answering EVP_EAGAIN (EVPOOL_BATCH_MAX reached) is retried after
 * 50 us; a submit answering EVP_EAGAIN (pool exhausted) is counted. */
#ifndef EVPOOL_TESTS_CHURN_H
#define EVPOOL_TESTS_CHURN_H

#include <stdint.h>

#include "evpool/evpool.h"

struct churn_result {
    uint64_t cycles;   /* alloc/submit/free cycles done */
    uint64_t again;    /* submits that answered EVP_EAGAIN */
    double seconds;    /* wall time of the run */
};

struct churn_result churn_run(evp_batch_lib_t *lib, int threads, long cycles, long seconds,
                              evp_batch_enqueue_fn fn, void *ctx, const evp_batch_req_t *reqs);

/* Stats of the library's pool of device 0. */
evp_pool_stats_t churn_pool_stats(evp_batch_lib_t *lib);

/* Prints the reclaimer's rounds and the free -> reclaim delays. */
void churn_print_reclaim(const evp_batch_stats_t *bs);

/* The bounds of a churn run of `threads` threads on a library made from
 * cfg, p and bs read once every freed sub-batch was reclaimed:
 *   - nothing outstanding; events created == the pool's high-water mark
 *     (up to one depot chain that a racing thread may push while the pool
 *     samples it as it grows);
 *   - events created <= EVPOOL_BATCH_BACKLOG (alloc waits above it) + 2
 *     per thread (live, and freed past the backlog check) + what thread
 *     caches park (the reclaimer returns leases too) + two depot chains;
 *   - sub-batch objects <= the same backlog + 2 per thread + the slab's
 *     per-thread caches + two chunks.
 * The bounds do not depend on the run's length: a pool that grew with the
 * backlog of freed sub-batches (one event per submit of a grace period)
 * fails them however short the run. Submits per event are printed, not
 * checked: in a run of 100x the bound or more, "fewer than submits / 100"
 * follows from the bound, and in a shorter one (compute-sanitizer's) it
 * says nothing about the library. */
void churn_check_bounds(const evp_config_t *cfg, int threads, const evp_pool_stats_t *p,
                        const evp_batch_stats_t *bs);

#endif
