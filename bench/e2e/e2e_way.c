/* SPDX-License-Identifier: Apache-2.0 */
/* e2e ways: see e2e_way.h. */
#include "e2e/e2e_way.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const e2e_way_names[] = {
    [E2E_EVPOOL] = "evpool",
    [E2E_FLOOR] = "floor",
    [E2E_CREATE_DESTROY] = "create_destroy",
    [E2E_CREATE_LEAK] = "create_leak",
    [E2E_MUTEX_VECTOR] = "mutex_vector",
    [E2E_BARE_COPY] = "bare_copy",
};

const char *e2e_way_name(e2e_way_kind k)
{
    return k <= E2E_BARE_COPY ? e2e_way_names[k] : "?";
}

int e2e_way_parse(const char *name)
{
    for (int k = 0; k <= E2E_BARE_COPY; k++)
        if (strcmp(name, e2e_way_names[k]) == 0)
            return k;
    return -1;
}

static inline void e2e_count(_Atomic uint64_t *c)
{
    /* Written by its thread alone: a load and a store, no RMW needed. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

/* ---- the mutex + vector pool -------------------------------------------- */

static int e2e_mv_lease(e2e_way *w, evp_event_t *ev)
{
    e2e_mvpool *mv = &w->mv;
    pthread_mutex_lock(&mv->lock);
    if (mv->n > 0) {
        *ev = mv->ev[--mv->n];
        pthread_mutex_unlock(&mv->lock);
        return 0;
    }
    pthread_mutex_unlock(&mv->lock);
    /* Empty: create one outside the lock, as PyTorch does. */
    int rc = w->tg->be->create(w->tg->device, false, ev);
    if (rc == 0) {
        pthread_mutex_lock(&mv->lock);
        mv->created++;
        pthread_mutex_unlock(&mv->lock);
    }
    return rc;
}

static int e2e_mv_return(e2e_mvpool *mv, evp_event_t ev)
{
    int rc = 0;
    pthread_mutex_lock(&mv->lock);
    if (mv->n == mv->cap) {
        uint32_t cap = mv->cap ? mv->cap * 2 : 256;
        evp_event_t *p = realloc(mv->ev, cap * sizeof *p);
        if (p) {
            mv->ev = p;
            mv->cap = cap;
        } else {
            rc = EVP_ENOMEM;
        }
    }
    if (rc == 0)
        mv->ev[mv->n++] = ev;
    pthread_mutex_unlock(&mv->lock);
    return rc;
}

/* ---- init / fini --------------------------------------------------------- */

int e2e_way_init(e2e_way *w, e2e_way_kind kind, e2e_target *tg, int threads, uint32_t window, char *err,
                 size_t len)
{
    *w = (e2e_way){.kind = kind, .tg = tg, .threads = threads, .window = window};
    pthread_mutex_init(&w->mv.lock, NULL);
    w->th = aligned_alloc(64, ((size_t)threads * sizeof *w->th + 63u) & ~(size_t)63u);
    if (!w->th) {
        snprintf(err, len, "out of memory for %d threads", threads);
        return EVP_ENOMEM;
    }
    memset(w->th, 0, (size_t)threads * sizeof *w->th);
    if (kind == E2E_EVPOOL)
        evp_transport_batch_stats(tg->t, &w->batch0);
    /* The vector starts as full as the run will need (evpool's pool is
     * created up front too): the run measures handing events out, not a
     * cold start. */
    for (uint32_t i = 0; kind == E2E_MUTEX_VECTOR && i < (uint32_t)threads * window; i++) {
        evp_event_t ev;
        int rc = tg->be->create(tg->device, false, &ev);
        if (rc == 0 && (rc = e2e_mv_return(&w->mv, ev)) != 0)
            tg->be->destroy(tg->device, ev);
        if (rc) {
            snprintf(err, len, "filling the mutex vector: %s", evp_strerror(rc));
            return rc;
        }
        w->mv.created++; /* before the run's threads exist: no lock needed */
    }
    for (int i = 0; kind == E2E_FLOOR && i < threads; i++) {
        e2e_way_thread *t = &w->th[i];
        if (!(t->ring = calloc(window, sizeof *t->ring))) {
            snprintf(err, len, "out of memory for the floor's events");
            return EVP_ENOMEM;
        }
        for (uint32_t k = 0; k < window; k++) {
            int rc = tg->be->create(tg->device, false, &t->ring[k]);
            if (rc) {
                snprintf(err, len, "creating the floor's events: %s", evp_strerror(rc));
                return rc;
            }
        }
    }
    return 0;
}

void e2e_way_fini(e2e_way *w)
{
    for (int i = 0; w->th && i < w->threads; i++) {
        for (uint32_t k = 0; w->th[i].ring && k < w->window; k++)
            if (w->th[i].ring[k])
                w->tg->be->destroy(w->tg->device, w->th[i].ring[k]);
        free(w->th[i].ring);
    }
    free(w->th);
    w->th = NULL;
    for (uint32_t i = 0; i < w->mv.n; i++)
        w->tg->be->destroy(w->tg->device, w->mv.ev[i]);
    free(w->mv.ev);
    w->mv.ev = NULL;
    pthread_mutex_destroy(&w->mv.lock);
}

/* ---- one submit ---------------------------------------------------------- */

int e2e_way_prepare(e2e_way *w, int thread, e2e_item *it)
{
    (void)thread;
    *it = (e2e_item){0};
    return w->kind == E2E_EVPOOL ? evp_transport_batch_alloc(w->tg->t, 1, &it->batch) : 0;
}

/* The copy every way makes, with the transport's own op (copy_batch, one
 * request: what evp_transport_enqueue calls). */
static inline int e2e_copy(e2e_target *tg, uint64_t bytes, void *stream)
{
    void *dst = tg->remote;
    const void *src = tg->local;
    size_t n = (size_t)bytes;
    return tg->be->copy_batch(&dst, &src, &n, 1, stream);
}

/* Copy, then record ev: the baselines' submit once they hold an event. */
static inline int e2e_copy_record(e2e_target *tg, uint64_t bytes, e2e_item *it)
{
    it->stream = e2e_target_stream(tg);
    int rc = e2e_copy(tg, bytes, it->stream);
    return rc ? rc : tg->be->record(it->ev, it->stream);
}

int e2e_way_submit(e2e_way *w, int thread, uint64_t bytes, e2e_item *it)
{
    e2e_target *tg = w->tg;
    e2e_way_thread *t = &w->th[thread];
    int rc;
    switch (w->kind) {
    case E2E_EVPOOL: {
        evp_xfer_req_t rq = {
            .op = EVP_XFER_WRITE, .local = tg->local, .segment = tg->seg, .offset = 0, .length = bytes};
        return evp_transport_submit(tg->t, it->batch, &rq, 1, NULL);
    }
    case E2E_FLOOR:
        it->ev = t->ring[t->ring_next++ % w->window];
        return e2e_copy_record(tg, bytes, it);
    case E2E_CREATE_DESTROY:
    case E2E_CREATE_LEAK:
        if ((rc = tg->be->create(tg->device, false, &it->ev)) != 0)
            return rc;
        e2e_count(&t->created);
        if ((rc = e2e_copy_record(tg, bytes, it)) != 0) {
            tg->be->destroy(tg->device, it->ev);
            e2e_count(&t->destroyed);
            it->ev = NULL;
        }
        return rc;
    case E2E_MUTEX_VECTOR:
        if ((rc = e2e_mv_lease(w, &it->ev)) != 0)
            return rc;
        if ((rc = e2e_copy_record(tg, bytes, it)) != 0) {
            e2e_mv_return(&w->mv, it->ev);
            it->ev = NULL;
        }
        return rc;
    case E2E_BARE_COPY:
    default:
        it->stream = e2e_target_stream(tg);
        return e2e_copy(tg, bytes, it->stream);
    }
}

int e2e_way_poll(e2e_way *w, e2e_item *it)
{
    if (w->kind == E2E_EVPOOL) {
        evp_batch_status_t st;
        int rc = evp_transport_status(w->tg->t, it->batch, &st);
        if (rc)
            return rc;
        return st.status == EVP_TASK_PENDING ? 0 : st.status == EVP_TASK_COMPLETED ? 1 : EVP_EBACKEND;
    }
    if (w->kind == E2E_BARE_COPY) {
        int rc = w->tg->be->stream_sync(it->stream);
        return rc ? rc : 1;
    }
    return w->tg->be->query(it->ev);
}

int e2e_way_release(e2e_way *w, int thread, e2e_item *it)
{
    e2e_way_thread *t = &w->th[thread];
    int rc = 0;
    switch (w->kind) {
    case E2E_EVPOOL:
        rc = it->batch ? evp_transport_batch_free(w->tg->t, it->batch) : 0;
        break;
    case E2E_CREATE_DESTROY:
        if (it->ev) {
            rc = w->tg->be->destroy(w->tg->device, it->ev);
            e2e_count(&t->destroyed);
        }
        break;
    case E2E_MUTEX_VECTOR:
        rc = it->ev ? e2e_mv_return(&w->mv, it->ev) : 0;
        break;
    default: /* floor: the ring's; create_leak: never destroyed; bare: none */
        break;
    }
    e2e_count(&t->cycles);
    *it = (e2e_item){0};
    return rc;
}

/* ---- accounting ---------------------------------------------------------- */

uint64_t e2e_way_live_events(e2e_way *w)
{
    if (w->kind == E2E_EVPOOL) {
        evp_pool_t *pool = NULL;
        evp_pool_stats_t ps = {0};
        if (evp_transport_pool(w->tg->t, w->tg->device, &pool) == 0)
            evp_pool_stats(pool, &ps);
        return ps.events_created - ps.events_destroyed;
    }
    uint64_t live = w->kind == E2E_FLOOR ? (uint64_t)w->threads * w->window : 0;
    for (int i = 0; i < w->threads; i++)
        live += atomic_load_explicit(&w->th[i].created, memory_order_relaxed) -
                atomic_load_explicit(&w->th[i].destroyed, memory_order_relaxed);
    pthread_mutex_lock(&w->mv.lock);
    live += w->mv.created;
    pthread_mutex_unlock(&w->mv.lock);
    return live;
}

int e2e_way_check(e2e_way *w, uint64_t ops, char *err, size_t len)
{
    if (w->kind == E2E_EVPOOL) {
        evp_batch_stats_t s;
        evp_transport_batch_stats(w->tg->t, &s);
        uint64_t submits = s.submits - w->batch0.submits, errors = s.submit_errors - w->batch0.submit_errors;
        uint64_t allocs = s.allocs - w->batch0.allocs, frees = s.frees - w->batch0.frees;
        if (submits != ops || errors != 0 || allocs != frees) {
            snprintf(err, len, "sub-batches: %llu submits for %llu ops, %llu errors, %llu allocs, %llu frees",
                     (unsigned long long)submits, (unsigned long long)ops, (unsigned long long)errors,
                     (unsigned long long)allocs, (unsigned long long)frees);
            return -1;
        }
        return 0;
    }
    uint64_t created = 0, destroyed = 0;
    for (int i = 0; i < w->threads; i++) {
        created += atomic_load_explicit(&w->th[i].created, memory_order_relaxed);
        destroyed += atomic_load_explicit(&w->th[i].destroyed, memory_order_relaxed);
    }
    if (w->kind == E2E_CREATE_DESTROY && (created != ops || destroyed != ops)) {
        snprintf(err, len, "%llu events created and %llu destroyed for %llu submits", (unsigned long long)created,
                 (unsigned long long)destroyed, (unsigned long long)ops);
        return -1;
    }
    if (w->kind == E2E_MUTEX_VECTOR && w->mv.n != w->mv.created) {
        snprintf(err, len, "the vector holds %u of the %llu events it created", w->mv.n,
                 (unsigned long long)w->mv.created);
        return -1;
    }
    return 0;
}
