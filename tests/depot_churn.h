/* SPDX-License-Identifier: Apache-2.0 */
/* The depots' conservation churn, written once against src/pool/depot.h
 * for test_stack and test_ring: threads pop chains, claim every value they
 * got (a value popped while another thread holds it is a duplicate: the
 * test fails), give them up and push them back regrouped, so chains change
 * shape as they travel (a chain's node is its first value). At the end
 * every value must be in the depot exactly once. */
#ifndef EVPOOL_TESTS_DEPOT_CHURN_H
#define EVPOOL_TESTS_DEPOT_CHURN_H

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pool/depot.h"

/* One round by thread `me` (> 0): pops 1-3 chains, claims and releases
 * their values in owner[] (0 = free), pushes them back as chains of 1 to
 * width values. */
static inline void depot_churn_round(struct evp_depot *d, _Atomic int *owner, int me, unsigned *seed,
                                     uint32_t width)
{
    uint64_t held[3 * EVP_STACK_WIDTH_MAX], chain[EVP_STACK_WIDTH_MAX];
    uint32_t k = 0, pops = 1 + (uint32_t)(rand_r(seed) % 3);
    for (uint32_t i = 0; i < pops; i++)
        k += evp_depot_pop(d, &held[k]);
    for (uint32_t i = 0; i < k; i++) {
        int expect = 0;
        if (!atomic_compare_exchange_strong(&owner[held[i]], &expect, me))
            evp_test_fail(__FILE__, __LINE__, "value %llu popped by %d while owned by %d",
                          (unsigned long long)held[i], me, expect);
    }
    for (uint32_t i = 0; i < k; i++) {
        int expect = me;
        CHECK(atomic_compare_exchange_strong(&owner[held[i]], &expect, 0));
    }
    for (uint32_t at = 0; at < k;) {
        uint32_t n = 1 + (uint32_t)(rand_r(seed) % width);
        if (n > k - at)
            n = k - at;
        memcpy(chain, &held[at], n * sizeof chain[0]);
        evp_depot_push(d, (uint32_t)chain[0], chain, n);
        at += n;
    }
}

static inline void depot_count_vals(const uint64_t *vals, uint32_t n, void *arg)
{
    for (uint32_t i = 0; i < n; i++)
        ((int *)arg)[vals[i]]++;
}

/* Values 0..nvals-1 are each in the depot exactly once, and items agrees.
 * No other thread may use the depot. */
static inline void depot_check_each_once(struct evp_depot *d, uint32_t nvals)
{
    int *seen = calloc(nvals, sizeof *seen);
    CHECK(seen);
    evp_depot_walk(d, depot_count_vals, seen);
    for (uint32_t i = 0; i < nvals; i++)
        CHECK_EQ(seen[i], 1);
    CHECK_EQ(evp_depot_items(d), (int64_t)nvals);
    free(seen);
}

#endif
