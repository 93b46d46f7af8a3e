/* SPDX-License-Identifier: Apache-2.0 */
/* evb submit: what a submit costs on the CUDA backend, end to end. Each
 * benchmark thread has its own stream and its own 4 KiB source and
 * destination in device memory, and per submit enqueues one D2D
 * cudaMemcpyAsync and marks it with an event:
 *
 *   submit/pooled             evp_pool_lease + copy + evp_pool_record;
 *                             retired later: evp_pool_query until done,
 *                             evp_pool_return
 *   submit/create_per_submit  cudaEventCreateWithFlags(DisableTiming) +
 *                             copy + cudaEventRecord; retired later:
 *                             cudaEventQuery until done, cudaEventDestroy
 *                             (Mooncake TENT destroys with the sub-batch)
 *   submit/bare_copy          the copy alone (the floor); retired by
 *                             cudaStreamSynchronize
 *
 * A thread keeps up to EVB_SUBMIT_WINDOW submits in flight and retires the
 * oldest before the next submit, as a transfer engine's progress loop would.
 * Every submit's enqueue path (what the caller of submit waits for) is
 * timed: p50_ns.. are that. ns_per_op / Mops_per_s include retiring, and
 * retire_ns is the mean retire cost per submit. Without a usable GPU every
 * variant reports "no GPU".
 */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "evb_evpool.h"
#include "evb_run.h"
#include "evb_suite.h"

#define EVB_SUBMIT_BYTES 4096u
#define EVB_SUBMIT_WINDOW 16u
#define EVB_SUBMIT_BATCH 16
#define EVB_SUBMIT_POOL 4096u

typedef enum evb_submit_kind {
    EVB_SUBMIT_POOLED = 0,
    EVB_SUBMIT_CREATE = 1,
    EVB_SUBMIT_BARE = 2,
} evb_submit_kind;

typedef struct evb_submit_ctx {
    evb_results results;       /* first: the fixture (evb_run.h) */
    evb_submit_kind kind;
    evp_pool_t *pool;          /* pooled only; owned */
    cudaStream_t *stream;      /* [threads]; owned */
    char *buffers;             /* device, 2 x EVB_SUBMIT_BYTES per thread; owned */
    uint64_t *retire_ticks;    /* [threads]: time spent retiring */
    int threads;
    uint64_t *thread_destroyed;  /* [threads] */
} evb_submit_ctx;

static void evb_submit_teardown(evb_run *run)
{
    evb_submit_ctx *ctx = run->ctx;
    if (!ctx)
        return;
    for (int i = 0; ctx->stream && i < ctx->threads; i++)
        if (ctx->stream[i])
            cudaStreamDestroy(ctx->stream[i]);
    if (ctx->buffers)
        cudaFree(ctx->buffers);
    if (ctx->pool)
        evb_evpool_destroy(ctx->pool, "submit");
    free(ctx->stream);
    free(ctx->retire_ticks);
    free(ctx->thread_destroyed);
    evb_fixture_free(run);
}

static int evb_submit_cuda_failed(evb_run *run, const char *what, cudaError_t e)
{
    snprintf(run->error, sizeof run->error, "%s: %s", what, cudaGetErrorString(e));
    return -1;
}

static int evb_submit_setup(evb_run *run)
{
    int ndev = 0;
    cudaError_t e = cudaGetDeviceCount(&ndev);
    if (e != cudaSuccess || ndev == 0) {
        snprintf(run->error, sizeof run->error, "no GPU: cudaGetDeviceCount: %s",
                 e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        cudaGetLastError();
        return -1;
    }
    evb_submit_ctx *ctx = evb_fixture_new(run, sizeof *ctx);
    if (!ctx)
        return -1;
    ctx->kind = (evb_submit_kind)(uintptr_t)run->bench->user;
    ctx->threads = run->threads;
    ctx->stream = calloc((size_t)run->threads, sizeof *ctx->stream);
    ctx->retire_ticks = calloc((size_t)run->threads, sizeof *ctx->retire_ticks);
    ctx->thread_destroyed = calloc((size_t)run->threads, sizeof *ctx->thread_destroyed);
    if (!ctx->stream || !ctx->retire_ticks || !ctx->thread_destroyed) {
        snprintf(run->error, sizeof run->error, "out of memory");
        return -1;
    }
    if ((e = cudaSetDevice(0)) != cudaSuccess)
        return evb_submit_cuda_failed(run, "cudaSetDevice(0)", e);
    for (int i = 0; i < run->threads; i++)
        if ((e = cudaStreamCreateWithFlags(&ctx->stream[i], cudaStreamNonBlocking)) != cudaSuccess)
            return evb_submit_cuda_failed(run, "cudaStreamCreateWithFlags", e);
    size_t bytes = 2u * EVB_SUBMIT_BYTES * (size_t)run->threads;
    if ((e = cudaMalloc((void **)&ctx->buffers, bytes)) != cudaSuccess)
        return evb_submit_cuda_failed(run, "cudaMalloc", e);
    if ((e = cudaMemset(ctx->buffers, 1, bytes)) != cudaSuccess ||
        (e = cudaDeviceSynchronize()) != cudaSuccess)
        return evb_submit_cuda_failed(run, "cudaMemset", e);
    if (ctx->kind == EVB_SUBMIT_POOLED) {
        evp_config_t def;
        evp_config_init(&def); /* the default thread cache, as users get it */
        evb_evpool_knobs k = {
            .size = EVB_SUBMIT_POOL,
            .max = EVB_SUBMIT_POOL,
            .thread_cache = def.thread_cache,
            .wait_timeout_us = 1000000,
            .on_exhaust = "wait",
        };
        if (evb_evpool_create_pool(&k, &ctx->pool, run->error, sizeof run->error) != 0)
            return -1;
        if (strcmp(evp_pool_backend(ctx->pool), "cuda") != 0) {
            snprintf(run->error, sizeof run->error,
                     "evpool runs on the %s backend (EVPOOL_BACKEND?): submit needs cuda",
                     evp_pool_backend(ctx->pool));
            return -1;
        }
    }
    return 0;
}

/* One thread's submits in flight, oldest first. */
typedef struct evb_window {
    uint64_t item[EVB_SUBMIT_WINDOW];
    unsigned head, count;
} evb_window;

static inline void evb_cpu_relax(void)
{
#if defined(__x86_64__)
    _mm_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#endif
}

/* Retires the oldest submit. 0, or writes msg and returns -1. */
static int evb_submit_retire_one(evb_submit_ctx *ctx, cudaStream_t s, evb_window *w,
                                 uint64_t *destroyed, char *msg, size_t len)
{
    uint64_t item = w->item[w->head];
    w->head = (w->head + 1u) % EVB_SUBMIT_WINDOW;
    w->count--;
    switch (ctx->kind) {
    case EVB_SUBMIT_POOLED: {
        int rc;
        while ((rc = evp_pool_query(ctx->pool, item)) == 0)
            evb_cpu_relax();
        if (rc == 1)
            rc = evp_pool_return(ctx->pool, item);
        if (rc != 0) {
            snprintf(msg, len, "evpool query/return: %s", evp_strerror(rc));
            return -1;
        }
        return 0;
    }
    case EVB_SUBMIT_CREATE: {
        cudaEvent_t ev = (cudaEvent_t)(uintptr_t)item;
        cudaError_t e;
        while ((e = cudaEventQuery(ev)) == cudaErrorNotReady)
            evb_cpu_relax();
        if (e == cudaSuccess)
            e = cudaEventDestroy(ev);
        if (e != cudaSuccess) {
            snprintf(msg, len, "cudaEventQuery/Destroy: %s", cudaGetErrorString(e));
            return -1;
        }
        (*destroyed)++;
        return 0;
    }
    case EVB_SUBMIT_BARE:
    default: {
        /* No event to poll: the stream's order retires everything at once. */
        cudaError_t e = cudaStreamSynchronize(s);
        w->count = 0;
        if (e != cudaSuccess) {
            snprintf(msg, len, "cudaStreamSynchronize: %s", cudaGetErrorString(e));
            return -1;
        }
        return 0;
    }
    }
}

/* The enqueue path of one submit. 0 and *item, or msg and -1. */
static inline int evb_submit_enqueue(evb_submit_ctx *ctx, cudaStream_t s, char *dst,
                                     const char *src, uint64_t *item, char *msg, size_t len)
{
    cudaError_t e;
    switch (ctx->kind) {
    case EVB_SUBMIT_POOLED: {
        evp_lease_t lease;
        int rc = evp_pool_lease(ctx->pool, &lease);
        if (rc != 0) {
            snprintf(msg, len, "evp_pool_lease: %s", evp_strerror(rc));
            return -1;
        }
        if ((e = cudaMemcpyAsync(dst, src, EVB_SUBMIT_BYTES, cudaMemcpyDeviceToDevice, s)) !=
            cudaSuccess) {
            evp_pool_return(ctx->pool, lease);
            snprintf(msg, len, "cudaMemcpyAsync: %s", cudaGetErrorString(e));
            return -1;
        }
        rc = evp_pool_record(ctx->pool, lease, s);
        if (rc != 0) {
            evp_pool_return(ctx->pool, lease);
            snprintf(msg, len, "evp_pool_record: %s", evp_strerror(rc));
            return -1;
        }
        *item = lease;
        return 0;
    }
    case EVB_SUBMIT_CREATE: {
        cudaEvent_t ev;
        if ((e = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming)) != cudaSuccess) {
            snprintf(msg, len, "cudaEventCreateWithFlags: %s", cudaGetErrorString(e));
            return -1;
        }
        if ((e = cudaMemcpyAsync(dst, src, EVB_SUBMIT_BYTES, cudaMemcpyDeviceToDevice, s)) !=
                cudaSuccess ||
            (e = cudaEventRecord(ev, s)) != cudaSuccess) {
            cudaEventDestroy(ev);
            snprintf(msg, len, "cudaMemcpyAsync/cudaEventRecord: %s", cudaGetErrorString(e));
            return -1;
        }
        *item = (uint64_t)(uintptr_t)ev;
        return 0;
    }
    case EVB_SUBMIT_BARE:
    default:
        if ((e = cudaMemcpyAsync(dst, src, EVB_SUBMIT_BYTES, cudaMemcpyDeviceToDevice, s)) !=
            cudaSuccess) {
            snprintf(msg, len, "cudaMemcpyAsync: %s", cudaGetErrorString(e));
            return -1;
        }
        *item = 0;
        return 0;
    }
}

static void evb_submit_finish(evb_state *st, evb_submit_ctx *ctx)
{
    evb_results *r = &ctx->results;
    uint64_t retire = 0, destroyed = 0;
    for (int i = 0; i < ctx->threads; i++) {
        retire += ctx->retire_ticks[i];
        destroyed += ctx->thread_destroyed[i];
    }
    if (r->ops > 0)
        evb_counter_set(st, "retire_ns", (double)evb_ticks_to_ns(retire) / (double)r->ops,
                        EVB_COUNTER_PLAIN);
    char why[192], msg[256];
    if (ctx->kind == EVB_SUBMIT_POOLED) {
        char label[128];
        evb_label_set(st, evb_evpool_label(ctx->pool, label, sizeof label));
        if (evb_evpool_check(ctx->pool, r->ops, why, sizeof why) != 0) {
            snprintf(msg, sizeof msg, "conservation violated: %s", why);
            evb_skip_with_error(st, msg);
        }
    } else if (ctx->kind == EVB_SUBMIT_CREATE && destroyed != r->ops) {
        snprintf(msg, sizeof msg, "conservation violated: %llu submits, %llu events destroyed",
                 (unsigned long long)r->ops, (unsigned long long)destroyed);
        evb_skip_with_error(st, msg);
    }
}

static void evb_submit_body(evb_state *st)
{
    evb_submit_ctx *ctx = evb_ctx(st);
    int ti = evb_thread_index(st);
    cudaStream_t s = ctx->stream[ti];
    char *src = ctx->buffers + 2u * EVB_SUBMIT_BYTES * (size_t)ti;
    char *dst = src + EVB_SUBMIT_BYTES;
    evb_window w = {.head = 0, .count = 0};
    uint64_t retire_ticks = 0, destroyed = 0;
    char msg[192];

    cudaSetDevice(0); /* this thread's current device: the pool's and the stream's */
    evb_loop l;
    evb_loop_start(&l, st, &ctx->results, EVB_SUBMIT_BATCH);
    while (evb_loop_next(&l)) {
        if (w.count == EVB_SUBMIT_WINDOW) {
            uint64_t r0 = evb_ticks_begin();
            if (evb_submit_retire_one(ctx, s, &w, &destroyed, msg, sizeof msg) != 0) {
                evb_loop_fail(&l, msg);
                continue;
            }
            retire_ticks += evb_ticks_end() - r0;
        }
        uint64_t item, t0 = evb_ticks_begin();
        int rc = evb_submit_enqueue(ctx, s, dst, src, &item, msg, sizeof msg);
        evb_hist_record(&l.res->hist, evb_ticks_to_ns(evb_ticks_end() - t0));
        if (rc != 0) {
            evb_loop_fail(&l, msg);
            continue;
        }
        w.item[(w.head + w.count) % EVB_SUBMIT_WINDOW] = item;
        w.count++;
        l.ops++;
    }
    /* Retire what is still in flight (untimed), so nothing leaks. */
    while (w.count > 0) {
        uint64_t r0 = evb_ticks_begin();
        if (evb_submit_retire_one(ctx, s, &w, &destroyed, msg, sizeof msg) != 0) {
            evb_skip_with_error(st, msg);
            break;
        }
        retire_ticks += evb_ticks_end() - r0;
    }
    ctx->retire_ticks[ti] = retire_ticks;
    ctx->thread_destroyed[ti] = ctx->kind == EVB_SUBMIT_CREATE ? destroyed : 0;
    if (evb_loop_finish(&l))
        evb_submit_finish(st, ctx);
}

void evb_submit_register(void)
{
    static const struct {
        const char *name;
        evb_submit_kind kind;
    } variants[] = {
        {"submit/pooled", EVB_SUBMIT_POOLED},
        {"submit/create_per_submit", EVB_SUBMIT_CREATE},
        {"submit/bare_copy", EVB_SUBMIT_BARE},
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        evb_bench b = {
            .name = variants[i].name,
            .fn = evb_submit_body,
            .threads = NULL,
            .user = (void *)(uintptr_t)variants[i].kind,
            .real_time = true,
            .setup = evb_submit_setup,
            .teardown = evb_submit_teardown,
        };
        evb_register(&b);
    }
}
