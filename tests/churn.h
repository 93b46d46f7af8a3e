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

#endif
