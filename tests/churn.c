/* SPDX-License-Identifier: Apache-2.0 */
#include "churn.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "batch/slab.h"
#include "harness.h"

struct churn {
    evp_batch_lib_t *lib;
    evp_batch_enqueue_fn fn;
    void *ctx;
    long per_thread;
    uint64_t deadline;
    _Atomic uint64_t cycles, again;
};

struct churn_arg {
    struct churn *c;
    const evp_batch_req_t *req;
};

static void *churn_thread(void *arg)
{
    struct churn_arg *a = arg;
    struct churn *c = a->c;
    for (long i = 0; i < c->per_thread; i++) {
        if ((i & 255) == 0 && evp_test_now_ns() > c->deadline)
            break;
        evp_batch_t b;
        int rc;
        while ((rc = evp_batch_alloc(c->lib, 1, &b)) == EVP_EAGAIN) {
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
        CHECK_RC(rc, 0);
        rc = evp_batch_submit(c->lib, b, a->req, 1, c->fn, c->ctx, NULL);
        if (rc == EVP_EAGAIN)
            atomic_fetch_add_explicit(&c->again, 1, memory_order_relaxed);
        else
            CHECK_RC(rc, 0);
        CHECK_RC(evp_batch_free(c->lib, b), 0); /* in flight: reclaimed lazily */
        atomic_fetch_add_explicit(&c->cycles, 1, memory_order_relaxed);
    }
    return NULL;
}

struct churn_result churn_run(evp_batch_lib_t *lib, int threads, long cycles, long seconds,
                              evp_batch_enqueue_fn fn, void *ctx, const evp_batch_req_t *reqs)
{
    struct churn c = {.lib = lib, .fn = fn, .ctx = ctx, .per_thread = cycles / threads};
    c.deadline = evp_test_now_ns() + (uint64_t)seconds * 1000000000u;
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    struct churn_arg *args = calloc((size_t)threads, sizeof *args);
    CHECK(t && args);
    uint64_t t0 = evp_test_now_ns();
    for (int i = 0; i < threads; i++) {
        args[i] = (struct churn_arg){&c, &reqs[i]};
        CHECK(pthread_create(&t[i], NULL, churn_thread, &args[i]) == 0);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    struct churn_result r = {atomic_load(&c.cycles), atomic_load(&c.again), (evp_test_now_ns() - t0) / 1e9};
    free(args);
    free(t);
    return r;
}

evp_pool_stats_t churn_pool_stats(evp_batch_lib_t *lib)
{
    evp_pool_t *p;
    evp_pool_stats_t st;
    CHECK_RC(evp_batch_lib_pool(lib, 0, &p), 0);
    evp_pool_stats(p, &st);
    return st;
}

void churn_print_reclaim(const evp_batch_stats_t *bs)
{
    printf("reclaimer: %llu rounds (%.1f sub-batches each); %llu allocs waited for it\n",
           (unsigned long long)bs->reclaim_rounds,
           bs->reclaimed / (double)(bs->reclaim_rounds ? bs->reclaim_rounds : 1), (unsigned long long)bs->throttled);
    printf("free->reclaim: longest %.2f ms; %llu of %llu reclaims found work in flight, %.2f ms each on "
           "average\n",
           bs->reclaim_max_ns / 1e6, (unsigned long long)bs->deferred, (unsigned long long)bs->reclaimed,
           bs->deferred ? bs->deferred_total_ns / 1e6 / (double)bs->deferred : 0.0);
}

void churn_check_bounds(const evp_config_t *cfg, int threads, const evp_pool_stats_t *p,
                        const evp_batch_stats_t *bs)
{
    CHECK_EQ(p->outstanding, 0);
    CHECK(p->high_water <= p->events_created && p->events_created - p->high_water <= 32);
    uint64_t users = (uint64_t)threads + 1; /* the reclaimer returns leases too */
    uint64_t event_bound = cfg->batch_backlog + 2u * threads + users * cfg->thread_cache + 64;
    uint64_t object_bound = cfg->batch_backlog + 2u * threads + users * EVP_SLAB_CACHE + 2 * EVP_SLAB_CHUNK;
    printf("bounds: events %llu <= %llu, sub-batch objects %llu <= %llu\n",
           (unsigned long long)p->events_created, (unsigned long long)event_bound,
           (unsigned long long)bs->slab_objects, (unsigned long long)object_bound);
    CHECK(p->events_created <= event_bound);
    CHECK(bs->slab_objects <= object_bound);
    printf("submits per event %.0f, per sub-batch object %.0f\n",
           bs->submits / (double)(p->events_created ? p->events_created : 1),
           bs->submits / (double)(bs->slab_objects ? bs->slab_objects : 1));
}
