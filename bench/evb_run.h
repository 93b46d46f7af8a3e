/* evb run: what every benchmark body keeps per thread, the deadline that
 * bounds a run, latency sampling, and the counters a run publishes.
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

/* Operations per evb_keep_running_batch call: the C++ call and the deadline
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
    evb_thread_result *thread; /* [threads]; owned, evb_results_free */
    evb_hist merged;           /* filled by evb_results_merge */
    uint64_t ops, retries, eagain;
    double elapsed_ns;
} evb_results;

int evb_results_init(evb_results *r, int threads, char *err, size_t len);
void evb_results_free(evb_results *r);

/* Sums the threads' results into r (thread 0, after evb_sync). */
void evb_results_merge(evb_results *r);

/* Publishes the counters listed above from merged results (thread 0). */
void evb_results_publish(evb_state *st, const evb_results *r);

/* Per-thread budget of one run, from EVB_DEADLINE_S (default 10 s). A run
 * still going after it is reported "did not finish" instead of holding up
 * the suite: a ck_ring free list with more threads than cores was seen to
 * stall whole time slices per operation. */
double evb_deadline_s(void);

/* The deadline in ticks for a loop starting at `begin` ticks. */
uint64_t evb_deadline_ticks(uint64_t begin);

/* Reports "did not finish within N s" on this thread, with the operations
 * it had done (`ops`). */
void evb_report_dnf(evb_state *st, uint64_t ops);

/* Backoff for a thread waiting on another (an empty free list, a full
 * queue): spin a little, then yield the CPU so that on an oversubscribed
 * machine the thread being waited for gets to run. */
void evb_backoff(unsigned *spins);

#endif
