/* SPDX-License-Identifier: Apache-2.0 */
/* evb patterns: the out-of-line parts (setup, slow paths, the end of a run).
 * See evb_patterns.h. */
#include "evb_patterns.h"

#include <stdlib.h>
#include <string.h>

#include "evpool/config.h"


uint32_t evb_pattern_capacity(int threads)
{
    /* queued + parked in submitters' caches + the progress thread's cache,
     * with evpool's default cache (the largest the runs use). */
    evp_config_t def;
    evp_config_init(&def);
    uint64_t cache = def.thread_cache > 16u ? def.thread_cache : 16u;
    uint64_t need = (uint64_t)threads * (EVB_SPSC_CAP + cache) + cache;
    uint32_t cap = EVB_POOL_CAPACITY;
    while (cap < need)
        cap <<= 1;
    return cap;
}

int evb_pattern_setup(evb_run *run)
{
    const evb_pattern_spec *spec = run->bench->user;
    evb_pattern_ctx *ctx = evb_fixture_new(run, sizeof *ctx);
    if (!ctx)
        return -1;
    ctx->impl = spec->impl;
    evb_impl_params params = spec->params;
    if (params.capacity != 0) /* 0: unbounded (cudaEventCreate per lease) */
        params.capacity = evb_pattern_capacity(run->threads);
    ctx->capacity = params.capacity;
    if (spec->impl->create(&params, &ctx->pool, run->error, sizeof run->error) != 0) {
        ctx->pool = NULL;
        return -1;
    }
    if (!spec->cross)
        return 0;
    size_t bytes = sizeof(evb_spsc) * (size_t)run->threads;
    ctx->queue = aligned_alloc(alignof(evb_spsc), bytes);
    if (!ctx->queue) {
        snprintf(run->error, sizeof run->error, "out of memory for %d queues", run->threads);
        return -1;
    }
    memset(ctx->queue, 0, bytes);
    atomic_init(&ctx->stop, false);
    /* The progress thread starts polling before the submitters start: a
     * real progress thread is already there when work arrives. */
    int rc = pthread_create(&ctx->progress, NULL, spec->progress, ctx);
    if (rc != 0) {
        snprintf(run->error, sizeof run->error, "pthread_create (progress): %s", strerror(rc));
        return -1;
    }
    ctx->progress_running = true;
    return 0;
}

/* Stops and joins the progress thread (idempotent). */
static void evb_pattern_stop_progress(evb_pattern_ctx *ctx)
{
    if (!ctx->progress_running)
        return;
    atomic_store_explicit(&ctx->stop, true, memory_order_release);
    pthread_join(ctx->progress, NULL);
    ctx->progress_running = false;
}

void evb_pattern_teardown(evb_run *run)
{
    evb_pattern_ctx *ctx = run->ctx;
    if (!ctx)
        return;
    /* Normally stopped by evb_pattern_finish; here when setup failed part
     * way and no benchmark thread ran. */
    evb_pattern_stop_progress(ctx);
    /* The pool goes last: after the benchmark threads have exited, so a
     * thread-exit hook (evpool's cache flush) never meets a freed pool. */
    if (ctx->pool)
        ctx->impl->destroy(ctx->pool);
    free(ctx->queue);
    evb_fixture_free(run);
}

int evb_pattern_lease_slow(evb_loop *l, const evb_impl *impl, void *pool, int rc,
                           uint64_t *item)
{
    unsigned spins = 0;
    for (;;) {
        if (rc == EVB_EMPTY) {
            l->res->retries++;
        } else if (impl->timeout_rc != 0 && rc == impl->timeout_rc) {
            /* It waited its whole timeout: count it, try again. */
            l->res->eagain++;
        } else {
            char msg[160];
            snprintf(msg, sizeof msg, "%s lease failed: %s", impl->name, impl->error_name(rc));
            evb_loop_fail(l, msg);
            return -1;
        }
        if (evb_loop_expired(l)) {
            evb_loop_dnf(l);
            return -1;
        }
        evb_backoff(&spins);
        rc = impl->lease(pool, item);
        if (rc == 0)
            return 0;
    }
}

void evb_pattern_return_failed(evb_loop *l, const evb_impl *impl, int rc)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s return failed: %s", impl->name, impl->error_name(rc));
    evb_loop_fail(l, msg);
}

int evb_pattern_push_slow(evb_loop *l, const evb_impl *impl, void *pool, evb_spsc *q,
                          uint64_t item)
{
    unsigned spins = 0;
    while (!evb_spsc_push(q, item)) {
        if (evb_loop_expired(l)) {
            /* Out of time: hand the item back here so nothing leaks. */
            int rc = impl->ret(pool, item);
            if (rc != 0)
                evb_pattern_return_failed(l, impl, rc);
            else
                evb_loop_dnf(l);
            return -1;
        }
        evb_backoff(&spins);
    }
    return 0;
}

void evb_pattern_finish(evb_state *st, evb_pattern_ctx *ctx)
{
    evb_pattern_stop_progress(ctx);
    if (ctx->queue)
        evb_counter_set(st, "progress_returns", (double)ctx->progress_returns, EVB_COUNTER_PLAIN);
    evb_counter_set(st, "capacity", (double)ctx->capacity, EVB_COUNTER_PLAIN);
    if (ctx->impl->label)
        evb_label_set(st, ctx->impl->label(ctx->pool));

    char msg[256];
    if (ctx->progress_error != 0) {
        snprintf(msg, sizeof msg, "%s return (progress thread) failed: %s (item %#llx)",
                 ctx->impl->name, ctx->impl->error_name(ctx->progress_error),
                 (unsigned long long)ctx->progress_error_item);
        evb_skip_with_error(st, msg);
        return;
    }
    char why[192];
    if (ctx->impl->check(ctx->pool, ctx->results.ops, why, sizeof why) != 0) {
        snprintf(msg, sizeof msg, "conservation violated: %s", why);
        evb_skip_with_error(st, msg);
    }
}

void evb_patterns_register(const char *label, const evb_impl *impl, const evb_impl_params *p,
                           void (*same_thread)(evb_state *), void (*cross_thread)(evb_state *),
                           void *(*progress)(void *))
{
    /* Specs and names live for the whole process: the shim keeps pointers. */
    for (int cross = 0; cross <= 1; cross++) {
        evb_pattern_spec *spec = calloc(1, sizeof *spec);
        char *name = malloc(128);
        if (!spec || !name) {
            fprintf(stderr, "evb: out of memory registering %s\n", label);
            abort();
        }
        spec->impl = impl;
        spec->params = *p;
        spec->cross = cross;
        spec->progress = progress;
        snprintf(name, 128, "%s/%s", cross ? "cross_thread" : "same_thread", label);
        evb_bench b = {
            .name = name,
            .fn = cross ? cross_thread : same_thread,
            .threads = NULL,
            .user = spec,
            .real_time = true,
            .setup = evb_pattern_setup,
            .teardown = evb_pattern_teardown,
        };
        evb_register(&b);
    }
}
