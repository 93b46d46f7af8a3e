/* SPDX-License-Identifier: Apache-2.0 */
/* evb patterns: the two ways a transfer engine uses an event pool, written
 * once and instantiated per implementation (evb_impl.h).
 *
 * same_thread   every benchmark thread leases and returns at once: one
 *               operation = one lease+return pair. Sampled latency: the
 *               pair.
 * cross_thread  the transfer-engine pattern. Every benchmark thread is a
 *               submitter: it leases and hands the item to a progress
 *               thread through its own single-producer/single-consumer
 *               queue (the submitted work the progress thread will poll);
 *               one progress thread (not a benchmark thread: started by
 *               setup, stopped after the run) drains every queue and
 *               returns each item. Per-thread caches cannot pair a lease
 *               with a return here: leases drain the submitters' caches,
 *               returns fill the progress thread's. One operation = one
 *               lease (throughput counts leases/s of all submitters).
 *               Sampled latency: the lease call. A full queue makes the
 *               submitter wait for the progress thread (backpressure), and
 *               that wait is in the throughput.
 *
 * Both run under real time, bounded by the run deadline (evb_run.h), and
 * end with a conservation check: every item back, exactly `ops` leased.
 */
#ifndef EVB_PATTERNS_H
#define EVB_PATTERNS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "evb_impl.h"
#include "evb_run.h"

/* Events every pool holds in the pattern benchmarks: the same capacity for
 * evpool and the bounded baselines. Large enough that no pattern exhausts
 * it (in flight: at most threads x EVB_SPSC_CAP queued, plus what evpool's
 * thread caches park), so these runs measure handing out, not waiting:
 * at least 4096, the next power of two above that bound where more is
 * needed (evb_pattern_capacity; the capacity counter says what ran). */
#define EVB_POOL_CAPACITY 4096u

/* Items one submitter may have queued for the progress thread. */
#define EVB_SPSC_CAP 64u

/* One submitter's queue to the progress thread. */
typedef struct evb_spsc {
    /* Written by the submitter only: release pairs with the progress
     * thread's acquire load in evb_spsc_drain (the item is visible first). */
    alignas(64) _Atomic uint64_t tail;
    /* Written by the progress thread only: release pairs with the
     * submitter's acquire load in evb_spsc_push (the slot was read before
     * it is reused). */
    alignas(64) _Atomic uint64_t head;
    alignas(64) uint64_t item[EVB_SPSC_CAP];
    /* Submitter-private: its last view of head, so a push reads the shared
     * head line only when the queue looks full. */
    alignas(64) uint64_t head_seen;
} evb_spsc;

static inline bool evb_spsc_push(evb_spsc *q, uint64_t item)
{
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed); /* own */
    if (t - q->head_seen == EVB_SPSC_CAP) {
        q->head_seen = atomic_load_explicit(&q->head, memory_order_acquire);
        if (t - q->head_seen == EVB_SPSC_CAP)
            return false;
    }
    q->item[t & (EVB_SPSC_CAP - 1u)] = item;
    atomic_store_explicit(&q->tail, t + 1, memory_order_release);
    return true;
}

/* What a pattern run keeps: created by evb_pattern_setup (main thread). */
typedef struct evb_pattern_ctx {
    evb_results results;         /* first: the fixture (evb_run.h) */
    const evb_impl *impl;
    void *pool;
    uint32_t capacity;           /* events the pool holds (0 = unbounded) */
    /* cross_thread only */
    evb_spsc *queue;             /* [threads], one per submitter */
    pthread_t progress;
    bool progress_running;
    /* Set by thread 0 once every submitter has stopped pushing (after
     * evb_sync): release pairs with the progress thread's acquire load, so
     * its final sweep sees every push. */
    _Atomic bool stop;
    uint64_t progress_returns;   /* written by the progress thread, read after join */
    int progress_error;          /* first failed return, read after join */
    uint64_t progress_error_item;
} evb_pattern_ctx;

/* What the shim's user pointer holds for a pattern benchmark. */
typedef struct evb_pattern_spec {
    const evb_impl *impl;
    evb_impl_params params;
    bool cross;                   /* cross_thread: start a progress thread */
    void *(*progress)(void *ctx); /* the impl's instantiated progress loop */
} evb_pattern_spec;

/* EVB_POOL_CAPACITY, or more for so many threads that it could run out. */
uint32_t evb_pattern_capacity(int threads);

int evb_pattern_setup(evb_run *run);
void evb_pattern_teardown(evb_run *run);

/* Out of line, off the fast path: a lease that found nothing free or
 * failed. Returns 0 with *item leased, or -1 after reporting an error or
 * the deadline (the loop has then failed). */
int evb_pattern_lease_slow(evb_loop *l, const evb_impl *impl, void *pool, int rc,
                           uint64_t *item);
/* Out of line: a failed return (reports it, fails the loop). */
void evb_pattern_return_failed(evb_loop *l, const evb_impl *impl, int rc);
/* Out of line: waits for room in a full queue, then pushes. Returns 0, or -1
 * after reporting the deadline (the item is then returned here, not lost). */
int evb_pattern_push_slow(evb_loop *l, const evb_impl *impl, void *pool, evb_spsc *q,
                          uint64_t item);
/* Thread 0, after evb_loop_finish: stops the progress thread (cross),
 * publishes the pattern's counters, checks conservation. */
void evb_pattern_finish(evb_state *st, evb_pattern_ctx *ctx);

static inline int evb_pattern_lease(evb_loop *l, const evb_impl *impl, void *pool,
                                    uint64_t *item)
{
    int rc = impl->lease(pool, item);
    if (__builtin_expect(rc != 0, 0))
        return evb_pattern_lease_slow(l, impl, pool, rc, item);
    return 0;
}

typedef enum evb_pattern_kind {
    EVB_PATTERN_SAME_THREAD,  /* lease + return here; sampled: the pair */
    EVB_PATTERN_CROSS_THREAD, /* lease, queue to the progress thread; sampled: the lease */
} evb_pattern_kind;

/* One body for both patterns; `kind` is a constant in each instantiation
 * (EVB_DEFINE_PATTERNS), so each compiles to its own loop. */
static inline void evb_pattern_body(evb_state *st, const evb_impl *impl, evb_pattern_kind kind)
{
    evb_pattern_ctx *ctx = evb_ctx(st);
    void *pool = ctx->pool;
    evb_spsc *q = ctx->queue ? &ctx->queue[evb_thread_index(st)] : NULL;
    evb_sampler smp;
    evb_sampler_init(&smp, evb_thread_index(st));
    evb_loop l;
    evb_loop_start(&l, st, &ctx->results, EVB_BATCH);
    while (evb_loop_next(&l)) {
        uint64_t item, t0 = 0;
        bool timed = evb_sampler_due(&smp);
        if (timed)
            t0 = evb_ticks_begin();
        if (evb_pattern_lease(&l, impl, pool, &item) != 0)
            continue; /* failed: the loop walks out the run */
        if (kind == EVB_PATTERN_CROSS_THREAD) {
            if (timed)
                evb_hist_record(&l.res->hist, evb_ticks_to_ns(evb_ticks_end() - t0));
            l.ops++; /* leased: counted even if the push below runs out of time */
            if (__builtin_expect(!evb_spsc_push(q, item), 0))
                evb_pattern_push_slow(&l, impl, pool, q, item);
            continue;
        }
        int rc = impl->ret(pool, item);
        if (timed)
            evb_hist_record(&l.res->hist, evb_ticks_to_ns(evb_ticks_end() - t0));
        if (__builtin_expect(rc != 0, 0)) {
            evb_pattern_return_failed(&l, impl, rc);
            continue;
        }
        l.ops++;
    }
    if (evb_loop_finish(&l))
        evb_pattern_finish(st, ctx);
}

/* Drains one queue, returning every item. Progress thread only. */
static inline uint64_t evb_spsc_drain(evb_pattern_ctx *ctx, const evb_impl *impl, evb_spsc *q)
{
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
    uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed); /* own */
    if (h == t)
        return 0;
    for (uint64_t i = h; impl->ret_many && i != t;) {
        /* Bulk: the queue's contiguous runs (two when it wraps). */
        uint64_t at = i & (EVB_SPSC_CAP - 1u), k = t - i;
        if (k > EVB_SPSC_CAP - at)
            k = EVB_SPSC_CAP - at;
        int rc = impl->ret_many(ctx->pool, (uint32_t)k, &q->item[at]);
        if (__builtin_expect(rc != 0, 0) && ctx->progress_error == 0) {
            ctx->progress_error = rc;
            ctx->progress_error_item = q->item[at];
        }
        i += k;
    }
    for (uint64_t i = h; !impl->ret_many && i != t; i++) {
        uint64_t item = q->item[i & (EVB_SPSC_CAP - 1u)];
        int rc = impl->ret(ctx->pool, item);
        if (__builtin_expect(rc != 0, 0) && ctx->progress_error == 0) {
            ctx->progress_error = rc;
            ctx->progress_error_item = item;
        }
    }
    atomic_store_explicit(&q->head, t, memory_order_release);
    return t - h;
}

static inline void *evb_progress_body(void *arg, const evb_impl *impl)
{
    evb_pattern_ctx *ctx = arg;
    int n = ctx->results.threads;
    uint64_t returned = 0;
    unsigned idle = 0;
    for (;;) {
        /* stop is read before the sweep: a sweep that started after stop
         * was seen and found nothing means every queue is empty for good. */
        bool stop = atomic_load_explicit(&ctx->stop, memory_order_acquire);
        uint64_t got = 0;
        for (int i = 0; i < n; i++)
            got += evb_spsc_drain(ctx, impl, &ctx->queue[i]);
        returned += got;
        if (got == 0) {
            if (stop)
                break;
            evb_backoff(&idle);
        } else {
            idle = 0;
        }
    }
    ctx->progress_returns = returned;
    return NULL;
}

/* Instantiates the bodies for one implementation table (a static const in
 * the including file) and a registration function:
 *   void evb_<prefix>_register_patterns(const char *label, const evb_impl_params *p);
 * registering "same_thread/<label>" and "cross_thread/<label>". */
#define EVB_DEFINE_PATTERNS(prefix, impl_ptr)                                      \
    static void evb_##prefix##_same_thread(evb_state *st)                          \
    {                                                                              \
        evb_pattern_body(st, impl_ptr, EVB_PATTERN_SAME_THREAD);                   \
    }                                                                              \
    static void evb_##prefix##_cross_thread(evb_state *st)                         \
    {                                                                              \
        evb_pattern_body(st, impl_ptr, EVB_PATTERN_CROSS_THREAD);                  \
    }                                                                              \
    static void *evb_##prefix##_progress(void *ctx)                                \
    {                                                                              \
        return evb_progress_body(ctx, impl_ptr);                                   \
    }                                                                              \
    static void evb_##prefix##_register_patterns(const char *label,                \
                                                 const evb_impl_params *p)         \
    {                                                                              \
        evb_patterns_register(label, impl_ptr, p, evb_##prefix##_same_thread,      \
                              evb_##prefix##_cross_thread, evb_##prefix##_progress); \
    }

/* Registers both patterns for one implementation (copies label and params). */
void evb_patterns_register(const char *label, const evb_impl *impl, const evb_impl_params *p,
                           void (*same_thread)(evb_state *), void (*cross_thread)(evb_state *),
                           void *(*progress)(void *));

#endif
