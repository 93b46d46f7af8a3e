/* SPDX-License-Identifier: Apache-2.0 */
/* evb — the C face of the benchmark harness (Google Benchmark underneath).
 *
 * Benchmark bodies are C. Each one is described by an evb_bench and handed
 * to evb_register(); the C++ shim (evb_shim.cc, the only C++ in the project)
 * registers it with Google Benchmark once per thread count and runs it.
 *
 * Calls go one way: C owns main (evb_main.c) and calls the shim; the shim
 * never calls a C function by name, only the fn/setup/teardown pointers of
 * the evb_bench it was handed:
 *
 *   evb_initialize(argc, argv)   flags (EVB_MIN_TIME spelt for the library)
 *   evb_add_context(key, value)  machine facts for the JSON context
 *   evb_register(&bench) ...     every benchmark, in report order
 *   evb_run_benchmarks()         runs them, then shuts the library down
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
 *   2. fn(st) on `threads` threads at once. fn must drive the loop
 *      (evb_loop, evb_run.h) until it answers false, even after
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
    /* Thread counts, ended by 0; NULL = the default list (evb_cpu_count). */
    const int *threads;
    void *user;                    /* run->bench->user, for setup */
    bool real_time;                /* UseRealTime: for anything contended */
    int (*setup)(evb_run *run);    /* may be NULL; 0 = ok */
    void (*teardown)(evb_run *run);/* may be NULL */
} evb_bench;

/* Parses Google Benchmark's flags out of argv (benchmark::Initialize), with
 * EVB_MIN_TIME (seconds) first as --benchmark_min_time in the spelling of
 * the library built against, so that a flag on the command line still
 * wins. Returns 0, or non-zero after reporting an unrecognised argument. */
int evb_initialize(int argc, char **argv);

/* One key of the JSON "context" (benchmark::AddCustomContext). */
void evb_add_context(const char *key, const char *value);

/* Copies *b (not the strings or user data it points to, which must outlive
 * the process's benchmark run) and registers it, once per thread count.
 * Call after evb_initialize, before evb_run_benchmarks. */
void evb_register(const evb_bench *b);

/* Runs the registered benchmarks the flags select, then shuts Google
 * Benchmark down. */
void evb_run_benchmarks(void);

/* The online CPUs (at least 1). The default thread counts (threads ==
 * NULL) are 1, 2, 4, 8, 16 and 2 x this, sorted, without duplicates. */
int evb_cpu_count(void);

/* The loop underneath evb_loop (evb_run.h): Google Benchmark counts n
 * iterations per true answer. Bodies use evb_loop, not this. */
bool evb_keep_running_batch(evb_state *st, uint64_t n);

int evb_thread_index(const evb_state *st);
void *evb_ctx(const evb_state *st);          /* run->ctx */

/* Waits until every thread of the run has called evb_sync (a reusable
 * barrier). Only outside the timed loop: after the loop answered false,
 * e.g. to merge per-thread results before thread 0 publishes. */
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

#ifdef __cplusplus
}
#endif
#endif
