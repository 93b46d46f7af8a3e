/* evb — the C face of the benchmark harness (Google Benchmark underneath).
 *
 * Benchmark bodies are C. Each one is described by an evb_bench and handed
 * to evb_register(); the C++ shim (evb_shim.cc, the only C++ in the project)
 * registers it with Google Benchmark once per thread count and runs it.
 *
 * One *run* is one trial of one benchmark at one thread count (Google
 * Benchmark may run several trials while it looks for an iteration count).
 * Per run:
 *
 *   1. setup(run) on the main thread, before any benchmark thread starts
 *      (Google Benchmark's Benchmark::Setup). It may store a context in
 *      run->ctx; on failure it writes run->error and returns non-zero, and
 *      then every thread of the run reports that error (SkipWithError)
 *      instead of calling fn.
 *   2. fn(st) on `threads` threads at once. fn must drive the
 *      evb_keep_running* loop until it answers false, even after
 *      evb_skip_with_error (Google Benchmark's start/stop barriers need
 *      every thread).
 *   3. teardown(run) on the main thread after every thread has returned.
 *
 * Thread safety: every evb_* call taking an evb_state is for the calling
 * benchmark thread's own state only.
 */
#ifndef EVB_SHIM_EVB_H
#define EVB_SHIM_EVB_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct evb_state evb_state; /* one benchmark thread's view of a run */

/* What setup/teardown see: owned by the shim, valid for the whole run. */
typedef struct evb_run {
    const struct evb_bench *bench;
    int threads;       /* threads this run uses */
    void *ctx;         /* whatever setup stored; teardown frees it */
    char error[256];   /* setup's failure, reported by every thread */
} evb_run;

typedef struct evb_bench {
    const char *name;              /* "pattern/implementation" */
    void (*fn)(evb_state *st);
    /* Thread counts, ended by 0; NULL = evb_default_threads(). */
    const int *threads;
    void *user;                    /* evb_user() */
    bool real_time;                /* UseRealTime: for anything contended */
    int (*setup)(evb_run *run);    /* may be NULL; 0 = ok */
    void (*teardown)(evb_run *run);/* may be NULL */
} evb_bench;

/* Copies *b (not the strings or user data it points to, which must outlive
 * the process's benchmark run) and registers it. Call before evb_main runs
 * the benchmarks, i.e. from evb_register_all. */
void evb_register(const evb_bench *b);

/* Defined by the C side: registers every benchmark of the suite. */
void evb_register_all(void);

/* The default thread counts: 1, 2, 4, 8, 16 and 2 x the online CPUs, sorted,
 * without duplicates, ended by 0. */
const int *evb_default_threads(void);
int evb_cpu_count(void);

/* The loop. evb_keep_running_batch lets the caller run n operations per
 * call (the C++ call costs a few ns, too much around a 5 ns operation);
 * Google Benchmark counts n iterations per true answer. */
bool evb_keep_running(evb_state *st);
bool evb_keep_running_batch(evb_state *st, uint64_t n);

int evb_thread_index(const evb_state *st);
int evb_threads(const evb_state *st);
uint64_t evb_iterations(const evb_state *st); /* this thread's, so far */
void *evb_user(const evb_state *st);
void *evb_ctx(const evb_state *st);          /* run->ctx */
const char *evb_name(const evb_state *st);

/* Waits until every thread of the run has called evb_sync (a reusable
 * barrier). Only outside the timed loop: after evb_keep_running* answered
 * false, e.g. to merge per-thread results before thread 0 publishes. */
void evb_sync(evb_state *st);

enum evb_counter_flags {
    EVB_COUNTER_PLAIN = 0,
    EVB_COUNTER_RATE = 1 << 0,        /* divided by the run's seconds */
    EVB_COUNTER_AVG_THREADS = 1 << 1, /* divided by the thread count */
};
/* Counters of all threads are summed by Google Benchmark; a value computed
 * once for the run is set by one thread only (thread 0). */
void evb_counter_set(evb_state *st, const char *name, double value, int flags);

/* A free-text label for the run (the JSON's "label"): backend, sizes. */
void evb_label_set(evb_state *st, const char *label);

/* Reports the run as failed with msg. The loop answers false from then on;
 * keep calling it until it does. */
void evb_skip_with_error(evb_state *st, const char *msg);
bool evb_error_occurred(const evb_state *st);

#ifdef __cplusplus
}
#endif
#endif
