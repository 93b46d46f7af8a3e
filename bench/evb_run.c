/* SPDX-License-Identifier: Apache-2.0 */
/* evb run: see evb_run.h. */
#include "evb_run.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static int evb_results_init(evb_results *r, int threads, char *err, size_t len)
{
    memset(r, 0, sizeof *r);
    r->threads = threads;
    /* aligned_alloc: the per-thread results must not share cache lines. */
    size_t bytes = sizeof(evb_thread_result) * (size_t)threads;
    r->thread = aligned_alloc(alignof(evb_thread_result), bytes);
    if (!r->thread) {
        snprintf(err, len, "out of memory for %d thread results", threads);
        return -1;
    }
    memset(r->thread, 0, bytes);
    return 0;
}

static void evb_results_free(evb_results *r)
{
    free(r->thread);
    r->thread = NULL;
}

/* Sums the threads' results into r (thread 0, after evb_sync). */
static void evb_results_merge(evb_results *r)
{
    evb_hist_reset(&r->merged);
    r->ops = r->retries = r->eagain = 0;
    uint64_t first = UINT64_MAX, last = 0;
    for (int i = 0; i < r->threads; i++) {
        const evb_thread_result *t = &r->thread[i];
        evb_hist_merge(&r->merged, &t->hist);
        r->ops += t->ops;
        r->retries += t->retries;
        r->eagain += t->eagain;
        if (t->end_ticks == 0)
            continue; /* a thread that never ran a batch (setup failed) */
        if (t->begin_ticks < first)
            first = t->begin_ticks;
        if (t->end_ticks > last)
            last = t->end_ticks;
    }
    r->elapsed_ns = last > first ? (double)evb_ticks_to_ns(last - first) : 0;
}

/* Publishes the counters of evb_run.h from merged results (thread 0). */
static void evb_results_publish(evb_state *st, const evb_results *r)
{
    double ops = (double)r->ops;
    evb_counter_set(st, "ops", ops, EVB_COUNTER_PLAIN);
    if (r->ops > 0 && r->elapsed_ns > 0) {
        evb_counter_set(st, "ns_per_op", r->elapsed_ns * r->threads / ops, EVB_COUNTER_PLAIN);
        evb_counter_set(st, "Mops_per_s", ops / r->elapsed_ns * 1e3, EVB_COUNTER_PLAIN);
    }
    evb_counter_set(st, "p50_ns", evb_hist_quantile(&r->merged, 0.50), EVB_COUNTER_PLAIN);
    evb_counter_set(st, "p99_ns", evb_hist_quantile(&r->merged, 0.99), EVB_COUNTER_PLAIN);
    evb_counter_set(st, "p999_ns", evb_hist_quantile(&r->merged, 0.999), EVB_COUNTER_PLAIN);
    evb_counter_set(st, "max_ns", (double)r->merged.max_ns, EVB_COUNTER_PLAIN);
    evb_counter_set(st, "samples", (double)r->merged.count, EVB_COUNTER_PLAIN);
    evb_counter_set(st, "timer_ns", evb_clock_overhead_ns(), EVB_COUNTER_PLAIN);
    evb_counter_set(st, "retries", (double)r->retries, EVB_COUNTER_PLAIN);
}

double evb_deadline_s(void)
{
    /* Read each time (once per thread per run): no shared cache to race on. */
    double s = 10;
    const char *v = getenv("EVB_DEADLINE_S");
    if (v && *v) {
        char *end;
        double x = strtod(v, &end);
        if (*end == '\0' && x > 0)
            s = x;
        else
            fprintf(stderr, "evb: EVB_DEADLINE_S=%s is not a positive number; using %g\n", v, s);
    }
    return s;
}

uint64_t evb_deadline_ticks(uint64_t begin)
{
    double ns = evb_deadline_s() * 1e9;
    double ticks_per_ns = 4294967296.0 / (double)evb_clock_ns_per_tick_q32;
    return begin + (uint64_t)(ns * ticks_per_ns);
}

void *evb_fixture_new(evb_run *run, size_t size)
{
    size_t bytes = (size + 63u) & ~(size_t)63u;
    void *ctx = aligned_alloc(64, bytes);
    if (!ctx) {
        snprintf(run->error, sizeof run->error, "out of memory");
        return NULL;
    }
    memset(ctx, 0, bytes);
    run->ctx = ctx; /* teardown frees whatever got built */
    if (evb_results_init(ctx, run->threads, run->error, sizeof run->error) != 0)
        return NULL;
    return ctx;
}

void evb_fixture_free(evb_run *run)
{
    if (!run->ctx)
        return;
    evb_results_free(run->ctx);
    free(run->ctx);
    run->ctx = NULL;
}

void evb_loop_fail(evb_loop *l, const char *msg)
{
    if (msg)
        evb_skip_with_error(l->st, msg);
    l->failed = true;
    l->left = 0;
}

void evb_loop_dnf(evb_loop *l)
{
    char msg[160];
    snprintf(msg, sizeof msg,
             "did not finish within %g s (EVB_DEADLINE_S): thread %d had done %llu operations",
             evb_deadline_s(), evb_thread_index(l->st), (unsigned long long)l->ops);
    evb_loop_fail(l, msg);
}

bool evb_loop_next_batch(evb_loop *l)
{
    evb_thread_result *res = l->res;
    if (l->started) { /* a batch just ended */
        res->end_ticks = evb_ticks_begin();
        if (!l->failed && res->end_ticks > l->deadline)
            evb_loop_dnf(l);
    }
    while (evb_keep_running_batch(l->st, l->batch)) {
        if (!l->started) {
            l->started = true;
            res->begin_ticks = evb_ticks_begin();
            l->deadline = evb_deadline_ticks(res->begin_ticks);
        }
        if (!l->failed) {
            l->left = l->batch - 1; /* this call hands out the first */
            return true;
        }
        res->end_ticks = evb_ticks_begin();
    }
    return false;
}

bool evb_loop_finish(evb_loop *l)
{
    l->res->ops = l->ops;
    evb_sync(l->st);
    if (evb_thread_index(l->st) != 0)
        return false;
    evb_results_merge(l->results);
    evb_results_publish(l->st, l->results);
    return true;
}

void evb_backoff(unsigned *spins)
{
    if (++*spins < 64) {
#if defined(__x86_64__)
        _mm_pause();
#elif defined(__aarch64__)
        __asm__ volatile("yield" ::: "memory");
#endif
        return;
    }
    *spins = 0;
    sched_yield();
}
