/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the host-backend sub-batch tests: an enqueue callback
 * that copies on the host stream (optionally held by a gate, optionally
 * failing), and waits on the library's counters. */
#ifndef EVPOOL_TESTS_BATCH_HOST_H
#define EVPOOL_TESTS_BATCH_HOST_H

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "harness.h"

struct host_xfer {
    _Atomic int *gate;       /* NULL or: work waits until *gate != 0 */
    int fail;                /* the callback returns this instead of enqueuing */
    _Atomic uint64_t calls;  /* callback invocations */
};

struct host_copy {
    void *dst;
    const void *src;
    uint64_t len;
    _Atomic int *gate;
};

static inline void sleep_ns(long ns)
{
    struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
    nanosleep(&ts, NULL);
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void host_copy_run(void *arg)
{
    struct host_copy *c = arg;
    while (c->gate && !atomic_load(c->gate))
        sleep_ns(100000);
    memcpy(c->dst, c->src, c->len);
    free(c);
}

/* reqs[i]: local = destination, target = (uintptr_t) source, length. */
static inline int host_enqueue(void *ctx, void *stream, int device, const evp_batch_req_t *reqs, uint32_t n)
{
    struct host_xfer *x = ctx;
    atomic_fetch_add(&x->calls, 1);
    if (x->fail)
        return x->fail;
    for (uint32_t i = 0; i < n; i++) {
        struct host_copy *c = malloc(sizeof *c);
        CHECK(c);
        *c = (struct host_copy){reqs[i].local, (const void *)(uintptr_t)reqs[i].target, reqs[i].length, x->gate};
        CHECK_RC(evp_host_stream_enqueue(stream, host_copy_run, c), 0);
    }
    return 0;
}

static inline evp_batch_req_t host_req(void *dst, const void *src, uint64_t len)
{
    return (evp_batch_req_t){.device = 0, .local = dst, .target = (uint64_t)(uintptr_t)src, .length = len};
}

/* Polls until every freed sub-batch is reclaimed; fails after timeout_ms.
 * Returns the time waited. */
static inline uint64_t wait_reclaimed(evp_batch_lib_t *lib, long timeout_ms)
{
    uint64_t t0 = now_ns();
    evp_batch_stats_t st;
    for (;;) {
        evp_batch_lib_stats(lib, &st);
        if (st.pending == 0)
            return now_ns() - t0;
        if (now_ns() - t0 > (uint64_t)timeout_ms * 1000000u)
            evp_test_fail(__FILE__, __LINE__, "%llu sub-batch(es) not reclaimed after %ld ms",
                          (unsigned long long)st.pending, timeout_ms);
        sleep_ns(200000);
    }
}

/* Polls one sub-batch through lib (or, lib NULL, through transport t)
 * every pause_ns until its status is terminal; fails after timeout_ms. */
static inline evp_batch_status_t wait_terminal_any(evp_batch_lib_t *lib, evp_transport_t *t, evp_batch_t b,
                                                   long timeout_ms, long pause_ns)
{
    uint64_t t0 = now_ns();
    evp_batch_status_t st;
    for (;;) {
        CHECK_RC(lib ? evp_batch_status(lib, b, &st) : evp_transport_status(t, b, &st), 0);
        if (st.status != EVP_TASK_PENDING)
            return st;
        if (now_ns() - t0 > (uint64_t)timeout_ms * 1000000u)
            evp_test_fail(__FILE__, __LINE__, "sub-batch still PENDING after %ld ms", timeout_ms);
        sleep_ns(pause_ns);
    }
}

static inline evp_batch_status_t wait_terminal(evp_batch_lib_t *lib, evp_batch_t b, long timeout_ms)
{
    return wait_terminal_any(lib, NULL, b, timeout_ms, 100000);
}

/* A library on the host backend for the failure tests: `size` events up
 * front, at most `max`, fail on exhaustion, no thread cache, sub-batches of
 * 8 tasks, `streams` streams. */
static inline evp_batch_lib_t *batch_host_lib(const char *size, const char *max, const char *streams)
{
    evp_config_t cfg = evp_test_config("EVPOOL_SIZE", size, "EVPOOL_MAX", max, "EVPOOL_ON_EXHAUST", "fail",
                                       "EVPOOL_THREAD_CACHE", "0", "EVPOOL_BATCH_SLAB", "4",
                                       "EVPOOL_BATCH_MAX", "256", "EVPOOL_BATCH_TASKS", "8",
                                       "EVPOOL_STREAMS", streams, NULL);
    evp_batch_lib_t *lib;
    CHECK_RC(evp_batch_lib_create(&cfg, &lib), 0);
    return lib;
}

/* Leases out of the library's pool of device 0 (created if need be). */
static inline uint64_t batch_outstanding(evp_batch_lib_t *lib)
{
    evp_pool_t *p;
    evp_pool_stats_t st;
    CHECK_RC(evp_batch_lib_pool(lib, 0, &p), 0);
    evp_pool_stats(p, &st);
    return st.outstanding;
}

/* Destroys the library and checks that everything came back. */
static inline evp_batch_stats_t batch_destroy_all_back(evp_batch_lib_t *lib, int want_rc)
{
    evp_batch_stats_t st;
    CHECK_RC(evp_batch_lib_destroy(lib, &st), want_rc);
    CHECK_EQ(st.pending, 0);
    CHECK_EQ(st.reclaimed, st.frees);
    CHECK_EQ(st.frees, st.allocs);
    CHECK_EQ(st.lease_returns, st.leases);
    CHECK_EQ(st.streams_destroyed, st.streams_created);
    return st;
}

/* Tasks first..first+n-1 of b: FAILED, 0 bytes transferred. */
static inline void batch_check_failed(evp_batch_lib_t *lib, evp_batch_t b, uint32_t first, uint32_t n)
{
    evp_batch_status_t st;
    for (uint32_t i = first; i < first + n; i++) {
        CHECK_RC(evp_batch_task_status(lib, b, i, &st), 0);
        CHECK_EQ(st.status, EVP_TASK_FAILED);
        CHECK_EQ(st.transferred_bytes, 0);
    }
}

#endif
