/* SPDX-License-Identifier: Apache-2.0 */
/* evb run: the one fixture and the one timed loop every benchmark uses
 * (Google Benchmark's own examples are the model: a fixture, then
 * `for (auto _ : state)`), what each thread keeps, the deadline that bounds
 * a run, latency sampling, and the counters a run publishes.
 *
 * A benchmark, whole (see bench/README.md, "Adding a benchmark"):
 *
 *   typedef struct my_ctx {
 *       evb_results results;  // first: evb_fixture_new sizes it, the loop fills it
 *       ...                   // what the run needs (pool, queues, ...)
 *   } my_ctx;
 *
 *   static int my_setup(evb_run *run)      // main thread, before the threads
 *   {
 *       my_ctx *ctx = evb_fixture_new(run, sizeof *ctx);
 *       return ctx ? build_the_rest(ctx, run->error) : -1;
 *   }
 *   static void my_teardown(evb_run *run)  // main thread, after them
 *   {
 *       free_the_rest(run->ctx);           // whatever setup got to
 *       evb_fixture_free(run);
 *   }
 *   static void my_body(evb_state *st)     // every benchmark thread
 *   {
 *       my_ctx *ctx = evb_ctx(st);
 *       evb_loop l;
 *       evb_loop_start(&l, st, &ctx->results, 64);
 *       while (evb_loop_next(&l)) {
 *           if (one_operation(ctx) != 0) {
 *               evb_loop_fail(&l, "what failed");
 *               continue;
 *           }
 *           l.ops++;
 *       }
 *       if (evb_loop_finish(&l))           // thread 0: merged and published
 *           my_counters_and_checks(st, ctx);
 *   }
 *
 * Published counters (set once, by thread 0, after all threads synced):
 *   ops          operations done by all threads (pairs, leases, submits)
 *   ns_per_op    elapsed ns x threads / ops: ns per operation per thread
 *                (flat across thread counts = perfect scaling)
 *   Mops_per_s   ops / elapsed: aggregate throughput, in millions per s
 *   p50_ns p99_ns p999_ns max_ns   sampled latency of one operation
 *   samples      how many operations were timed
 *   timer_ns     what one timed interval costs empty (included in every
 *                sample: the percentiles are not corrected for it)
 *   retries      leases that found nothing free and tried again
 * elapsed runs from the first thread's start to the last thread's end, so a
 * straggler (a preempted thread on an oversubscribed machine) counts.
 */
#ifndef EVB_RUN_H
#define EVB_RUN_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evb_clock.h"
#include "evb_hist.h"
#include "shim/evb.h"

/* Operations per batch of the pattern runs: the C++ call and the deadline
 * check are paid once per batch, not once per 5 ns operation. */
#define EVB_BATCH 64

/* Latency sampling. Timing an operation costs two fenced counter reads
 * (timer_ns, ~10-25 ns), more than a 5 ns lease/return pair, so only about
 * 1 in EVB_SAMPLE_MEAN operations is timed. The gap between samples is
 * random (uniform in 1..2*EVB_SAMPLE_MEAN-1): a fixed stride would alias
 * with a cache that refills every 16 or 32 operations and always sample
 * the same phase of it. */
#define EVB_SAMPLE_MEAN 64u

typedef struct evb_sampler {
    uint64_t rng;
    uint32_t left;
} evb_sampler;

static inline uint32_t evb_sampler_gap(evb_sampler *s)
{
    /* xorshift64: cheap, and good enough to break up strides. */
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return 1u + (uint32_t)(s->rng % (2u * EVB_SAMPLE_MEAN - 1u));
}

static inline void evb_sampler_init(evb_sampler *s, int thread)
{
    s->rng = 0x9e3779b97f4a7c15ull * (uint64_t)(thread + 1);
    s->left = evb_sampler_gap(s);
}

/* True when this operation is to be timed. */
static inline bool evb_sampler_due(evb_sampler *s)
{
    if (--s->left != 0)
        return false;
    s->left = evb_sampler_gap(s);
    return true;
}

/* One per benchmark thread, each on its own cache lines. */
typedef struct evb_thread_result {
    alignas(64) evb_hist hist; /* latency samples, ns */
    uint64_t ops;
    uint64_t retries;
    uint64_t eagain;           /* EVP_EAGAIN answers */
    uint64_t begin_ticks;      /* loop start (after the start barrier) */
    uint64_t end_ticks;        /* end of the last batch (before the stop barrier) */
} evb_thread_result;

typedef struct evb_results {
    int threads;
    evb_thread_result *thread; /* [threads]; owned: evb_fixture_free */
    /* Filled on thread 0 by evb_loop_finish: the sums and the span from
     * the first thread's begin to the last one's end. */
    evb_hist merged;
    uint64_t ops, retries, eagain;
    double elapsed_ns;
} evb_results;

/* Per-thread budget of one run, from EVB_DEADLINE_S (default 10 s). A run
 * still going after it is reported "did not finish" instead of holding up
 * the suite: a ck_ring free list with more threads than cores was seen to
 * stall whole time slices per operation. */
double evb_deadline_s(void);

/* The deadline in ticks for a loop starting at `begin` ticks. */
uint64_t evb_deadline_ticks(uint64_t begin);

/* The fixture: a run's context whose first member is an evb_results for
 * run->threads. evb_fixture_new allocates `size` zeroed bytes (cache-line
 * aligned), initialises the results and stores the context in run->ctx
 * before anything else can fail, so teardown frees whatever setup built;
 * NULL with run->error set on failure. evb_fixture_free frees the results
 * and the context (NULL: nothing) and clears run->ctx; call it last. */
void *evb_fixture_new(evb_run *run, size_t size);
void evb_fixture_free(evb_run *run);

/* The timed loop of one benchmark thread: evb_loop_next answers true once
 * per operation and drives Google Benchmark's loop underneath a batch at a
 * time; the first batch stamps begin_ticks and sets the deadline, each
 * batch's end stamps end_ticks and checks the deadline ("did not finish").
 * After evb_loop_fail the rest of the run's batches are walked without
 * operations (Google Benchmark's stop barrier needs every thread). The body
 * counts its operations in `ops`. Fields other than ops are the loop's. */
typedef struct evb_loop {
    evb_state *st;
    evb_results *results;     /* the run's (the fixture's) */
    evb_thread_result *res;   /* this thread's in it */
    uint64_t ops;             /* operations done: the body counts them */
    uint64_t deadline;        /* in ticks; UINT64_MAX before the first batch */
    unsigned batch, left;     /* operations per batch; left in this one */
    bool started, failed;
} evb_loop;

static inline void evb_loop_start(evb_loop *l, evb_state *st, evb_results *r, unsigned batch)
{
    *l = (evb_loop){.st = st,
                    .results = r,
                    .res = &r->thread[evb_thread_index(st)],
                    .deadline = UINT64_MAX,
                    .batch = batch};
}

/* Out of line: ends a batch and starts the next; false when the run is over. */
bool evb_loop_next_batch(evb_loop *l);

static inline bool evb_loop_next(evb_loop *l)
{
    if (__builtin_expect(l->left != 0, 1)) {
        l->left--;
        return true;
    }
    return evb_loop_next_batch(l);
}

/* Ends this thread's operations: msg (if not NULL) is reported with
 * evb_skip_with_error; NULL when the failure was reported already. */
void evb_loop_fail(evb_loop *l, const char *msg);

/* True once the deadline has passed (for waits inside an operation). */
static inline bool evb_loop_expired(const evb_loop *l)
{
    return evb_ticks_begin() > l->deadline;
}

/* Reports "did not finish within N s" with the operations done, and fails. */
void evb_loop_dnf(evb_loop *l);

/* After the loop answered false: stores the ops, waits for every thread
 * (evb_sync), and on thread 0 merges the results and publishes the
 * counters above. True on thread 0, which then adds its own counters and
 * checks (the other threads have finished their part). */
bool evb_loop_finish(evb_loop *l);

/* Backoff for a thread waiting on another (an empty free list, a full
 * queue): spin a little, then yield the CPU so that on an oversubscribed
 * machine the thread being waited for gets to run. */
void evb_backoff(unsigned *spins);

#endif
