/* SPDX-License-Identifier: Apache-2.0 */
#include "backend/host_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "evpool/error.h"

/* One queued item: fn(arg), or (fn == NULL) a copy dst <- src of len bytes. */
struct evp_host_work {
    void (*fn)(void *);
    void *arg;
    void *dst;
    const void *src;
    size_t len;
    struct evp_host_work *next;
};

struct evp_host_stream {
    pthread_mutex_t mu;       /* guards the queue, stop */
    pthread_cond_t more;      /* worker waits for work */
    pthread_cond_t idle;      /* synchronize waits for done */
    struct evp_host_work *head, *tail; /* owned by the stream; the worker frees each item */
    /* enqueued: written under mu; atomic so events can read it unlocked.
     * done: release store by the worker after fn ran pairs with the
     * acquire load in evp_host_stream_done (query sees fn's effects). */
    _Atomic uint64_t enqueued, done;
    bool stop;
    pthread_t worker;
};

static void *evp_host_stream_main(void *arg)
{
    struct evp_host_stream *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stop)
            pthread_cond_wait(&s->more, &s->mu);
        struct evp_host_work *w = s->head;
        if (!w)
            break; /* stop, and the queue is drained */
        s->head = w->next;
        if (!s->head)
            s->tail = NULL;
        pthread_mutex_unlock(&s->mu);
        if (w->fn)
            w->fn(w->arg);
        else
            memcpy(w->dst, w->src, w->len);
        free(w);
        pthread_mutex_lock(&s->mu);
        atomic_store_explicit(&s->done, atomic_load_explicit(&s->done, memory_order_relaxed) + 1,
                              memory_order_release);
        pthread_cond_broadcast(&s->idle);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int evp_host_stream_create(evp_host_stream_t **out)
{
    if (!out)
        return EVP_EINVAL;
    struct evp_host_stream *s = calloc(1, sizeof *s);
    if (!s)
        return EVP_ENOMEM;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->more, NULL);
    pthread_cond_init(&s->idle, NULL);
    if (pthread_create(&s->worker, NULL, evp_host_stream_main, s) != 0) {
        pthread_cond_destroy(&s->idle);
        pthread_cond_destroy(&s->more);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return EVP_EBACKEND;
    }
    *out = s;
    return 0;
}

/* Appends the chain first..last (n items, linked) in one step, so a batch
 * is queued whole or not at all. */
static void evp_host_stream_append(struct evp_host_stream *s, struct evp_host_work *first,
                                   struct evp_host_work *last, uint64_t n)
{
    pthread_mutex_lock(&s->mu);
    if (s->tail)
        s->tail->next = first;
    else
        s->head = first;
    s->tail = last;
    atomic_store_explicit(&s->enqueued, atomic_load_explicit(&s->enqueued, memory_order_relaxed) + n,
                          memory_order_relaxed);
    pthread_cond_signal(&s->more);
    pthread_mutex_unlock(&s->mu);
}

int evp_host_stream_enqueue(evp_host_stream_t *s, void (*fn)(void *), void *arg)
{
    if (!s || !fn)
        return EVP_EINVAL;
    struct evp_host_work *w = malloc(sizeof *w);
    if (!w)
        return EVP_ENOMEM;
    *w = (struct evp_host_work){.fn = fn, .arg = arg};
    evp_host_stream_append(s, w, w, 1);
    return 0;
}

int evp_host_stream_enqueue_copies(evp_host_stream_t *s, void *const *dst, const void *const *src,
                                   const size_t *len, size_t n)
{
    if (!s)
        return EVP_EINVAL;
    struct evp_host_work *first = NULL, *last = NULL;
    uint64_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (len[i] == 0)
            continue;
        struct evp_host_work *w = malloc(sizeof *w);
        if (!w) {
            while (first) {
                struct evp_host_work *next = first->next;
                free(first);
                first = next;
            }
            return EVP_ENOMEM;
        }
        *w = (struct evp_host_work){.dst = dst[i], .src = src[i], .len = len[i]};
        if (last)
            last->next = w;
        else
            first = w;
        last = w;
        count++;
    }
    if (first)
        evp_host_stream_append(s, first, last, count);
    return 0;
}

int evp_host_stream_synchronize(evp_host_stream_t *s)
{
    if (!s)
        return EVP_EINVAL;
    pthread_mutex_lock(&s->mu);
    uint64_t target = atomic_load_explicit(&s->enqueued, memory_order_relaxed);
    while (atomic_load_explicit(&s->done, memory_order_relaxed) < target)
        pthread_cond_wait(&s->idle, &s->mu);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void evp_host_stream_destroy(evp_host_stream_t *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->more);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->worker, NULL);
    pthread_cond_destroy(&s->idle);
    pthread_cond_destroy(&s->more);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

uint64_t evp_host_stream_enqueued(evp_host_stream_t *s)
{
    /* Called by the recording thread, ordered after its own enqueues. */
    return atomic_load_explicit(&s->enqueued, memory_order_relaxed);
}

uint64_t evp_host_stream_done(evp_host_stream_t *s)
{
    return atomic_load_explicit(&s->done, memory_order_acquire);
}
