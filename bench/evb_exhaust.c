/* SPDX-License-Identifier: Apache-2.0 */
/* evb exhaustion: more threads than events. EVPOOL_SIZE = EVPOOL_MAX = 1..4
 * with 16 threads under EVPOOL_ON_EXHAUST=wait: every thread leases, holds
 * the event for EVB_EXHAUST_HOLD_NS (standing in for enqueueing a copy and
 * recording), returns it, and goes again. Two cache settings:
 * exhaust/evpool_tc0_sizeN (no thread cache: every return goes to the
 * shared depot) and exhaust/evpool_tcN_sizeN (the cache as large as the
 * pool allows, EVPOOL_THREAD_CACHE <= EVPOOL_MAX: waiters must reclaim
 * events parked in other threads' caches).
 *
 * Every lease is timed here (not sampled): the waits are microseconds to
 * milliseconds, so the ~20 ns of the timer does not matter, and the point is
 * the exact longest wait. Published besides the usual counters (ops = pairs
 * that got an event; p50_ns.. = wait in evp_pool_lease):
 *   timeout_ns      the pool's wait timeout
 *   max_wait_ratio  max_ns / timeout_ns: below 1, nobody starved past it
 *   eagain          leases answered EVP_EAGAIN (waited the whole timeout)
 *   exhaust_waits, exhaust_wait_ns, steals, high_water: the pool's stats
 *   waited          leases that took over EVB_EXHAUST_WAITED_NS (they left
 *                   the fast path and slept or retried), and of those:
 *   wait_p50_ns, wait_p99_ns, wait_max_ns   the wait distribution
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evb_evpool.h"
#include "evb_run.h"
#include "evb_suite.h"

#define EVB_EXHAUST_THREADS 16
#define EVB_EXHAUST_HOLD_NS 1000u
#define EVB_EXHAUST_TIMEOUT_US 1000000u /* EVPOOL_WAIT_TIMEOUT_US's default */
#define EVB_EXHAUST_BATCH 16
#define EVB_EXHAUST_WAITED_NS 2000u /* above any lease that did not wait */

typedef struct evb_exhaust_spec {
    uint32_t size, thread_cache;
    const char *depot; /* EVPOOL_DEPOT */
    char name[48];
} evb_exhaust_spec;

typedef struct evb_exhaust_ctx {
    evb_results results; /* first: the fixture (evb_run.h) */
    evp_pool_t *pool;
    evb_hist waited[EVB_EXHAUST_THREADS]; /* per thread: leases that waited */
} evb_exhaust_ctx;

static int evb_exhaust_setup(evb_run *run)
{
    const evb_exhaust_spec *spec = run->bench->user;
    uint32_t size = spec->size;
    evb_exhaust_ctx *ctx = evb_fixture_new(run, sizeof *ctx);
    if (!ctx)
        return -1;
    evb_evpool_knobs k = {
        .size = size,
        .max = size, /* no growth: the pool really is exhausted */
        .thread_cache = spec->thread_cache,
        .wait_timeout_us = EVB_EXHAUST_TIMEOUT_US,
        .on_exhaust = "wait",
        .depot = spec->depot,
    };
    return evb_evpool_create_pool(&k, &ctx->pool, run->error, sizeof run->error) != 0 ? -1 : 0;
}

static void evb_exhaust_teardown(evb_run *run)
{
    evb_exhaust_ctx *ctx = run->ctx;
    if (ctx && ctx->pool)
        evb_evpool_destroy(ctx->pool, "exhaust");
    evb_fixture_free(run);
}

/* Busy for about ns: a hold that stays on the CPU, like a submit does. */
static void evb_exhaust_hold(uint64_t ns)
{
    uint64_t t0 = evb_ticks_begin();
    while (evb_ticks_to_ns(evb_ticks_begin() - t0) < ns) {
    }
}

static void evb_exhaust_finish(evb_state *st, evb_exhaust_ctx *ctx)
{
    evb_results *r = &ctx->results;
    evp_pool_stats_t s;
    evp_pool_stats(ctx->pool, &s);
    double timeout_ns = EVB_EXHAUST_TIMEOUT_US * 1e3;
    evb_counter_set(st, "timeout_ns", timeout_ns, EVB_COUNTER_PLAIN);
    evb_counter_set(st, "max_wait_ratio", (double)r->merged.max_ns / timeout_ns, EVB_COUNTER_PLAIN);
    evb_counter_set(st, "eagain", (double)r->eagain, EVB_COUNTER_PLAIN);
    evb_counter_set(st, "exhaust_waits", (double)s.exhaust_waits, EVB_COUNTER_PLAIN);
    evb_counter_set(st, "exhaust_wait_ns", (double)s.exhaust_wait_ns, EVB_COUNTER_PLAIN);
    evb_counter_set(st, "steals", (double)s.steals, EVB_COUNTER_PLAIN);
    evb_counter_set(st, "high_water", (double)s.high_water, EVB_COUNTER_PLAIN);
    evb_hist waited;
    evb_hist_reset(&waited);
    for (int i = 0; i < EVB_EXHAUST_THREADS; i++)
        evb_hist_merge(&waited, &ctx->waited[i]);
    evb_counter_set(st, "waited", (double)waited.count, EVB_COUNTER_PLAIN);
    evb_counter_set(st, "wait_p50_ns", evb_hist_quantile(&waited, 0.50), EVB_COUNTER_PLAIN);
    evb_counter_set(st, "wait_p99_ns", evb_hist_quantile(&waited, 0.99), EVB_COUNTER_PLAIN);
    evb_counter_set(st, "wait_max_ns", (double)waited.max_ns, EVB_COUNTER_PLAIN);
    char label[128];
    evb_label_set(st, evb_evpool_label(ctx->pool, label, sizeof label));

    char why[192], msg[256];
    if (evb_evpool_check(ctx->pool, r->ops, why, sizeof why) != 0) {
        snprintf(msg, sizeof msg, "conservation violated: %s", why);
        evb_skip_with_error(st, msg);
    } else if (s.exhaust_fails != r->eagain) {
        snprintf(msg, sizeof msg, "pool counted %llu EVP_EAGAIN, the threads saw %llu",
                 (unsigned long long)s.exhaust_fails, (unsigned long long)r->eagain);
        evb_skip_with_error(st, msg);
    }
}

static void evb_exhaust_body(evb_state *st)
{
    evb_exhaust_ctx *ctx = evb_ctx(st);
    evb_loop l;
    evb_loop_start(&l, st, &ctx->results, EVB_EXHAUST_BATCH);
    while (evb_loop_next(&l)) {
        evp_lease_t lease;
        uint64_t t0 = evb_ticks_begin();
        int rc = evp_pool_lease(ctx->pool, &lease);
        uint64_t took = evb_ticks_to_ns(evb_ticks_end() - t0);
        evb_hist_record(&l.res->hist, took);
        if (took > EVB_EXHAUST_WAITED_NS)
            evb_hist_record(&ctx->waited[evb_thread_index(st)], took);
        if (rc == EVP_EAGAIN) {
            l.res->eagain++;
            continue;
        }
        if (rc == 0) {
            evb_exhaust_hold(EVB_EXHAUST_HOLD_NS);
            rc = evp_pool_return(ctx->pool, lease);
        }
        if (rc != 0) {
            char msg[128];
            snprintf(msg, sizeof msg, "evpool: %s", evp_strerror(rc));
            evb_loop_fail(&l, msg);
            continue;
        }
        l.ops++;
    }
    if (evb_loop_finish(&l))
        evb_exhaust_finish(st, ctx);
}

void evb_exhaust_register(void)
{
    static const int threads[] = {EVB_EXHAUST_THREADS, 0};
    static evb_exhaust_spec specs[16]; /* the shim keeps pointers: static */
    for (unsigned i = 0; i < 16; i++) {
        evb_exhaust_spec *spec = &specs[i];
        bool ring = i >= 8; /* the same runs on the SCQ ring depot */
        spec->size = 1u + (i % 8u) / 2u;
        spec->thread_cache = (i % 2u) ? spec->size : 0u;
        spec->depot = ring ? "ring" : "stack";
        snprintf(spec->name, sizeof spec->name, "exhaust/evpool%s_tc%u_size%u", ring ? "_ring" : "",
                 spec->thread_cache, spec->size);
        evb_bench b = {
            .name = spec->name,
            .fn = evb_exhaust_body,
            .threads = threads,
            .user = spec,
            .real_time = true,
            .setup = evb_exhaust_setup,
            .teardown = evb_exhaust_teardown,
        };
        evb_register(&b);
    }
}
