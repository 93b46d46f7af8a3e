/* SPDX-License-Identifier: Apache-2.0 */
#include "batch/slab.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "evpool/error.h"
#include "base/log.h"

struct evp_slab_chunk {
    /* Free-stack links: index + 1 of the next free object, 0 = end. Written
     * by the pusher before its CAS; read (racily, then validated by the
     * tagged CAS) by poppers. */
    _Atomic uint32_t next[EVP_SLAB_CHUNK];
    _Alignas(64) unsigned char mem[];
};

/* A thread's cache, for one slab at a time (uid 0: none). */
struct evp_slab_tls {
    uint64_t uid;
    uint32_t n;
    uint32_t idx[EVP_SLAB_CACHE];
};
static __thread struct evp_slab_tls evp_slab_tc;

/* Live slabs, so that an exiting thread can flush its cache into a slab
 * that still exists (and only then). */
static pthread_mutex_t evp_slabs_mu = PTHREAD_MUTEX_INITIALIZER;
static struct evp_slab *evp_slabs;
static uint64_t evp_slabs_uid;
static pthread_once_t evp_slab_once = PTHREAD_ONCE_INIT;
static pthread_key_t evp_slab_key;

static struct evp_slab_chunk *evp_slab_chunk(struct evp_slab *s, uint32_t idx)
{
    /* Acquire pairs with the release store of the chunk in evp_slab_grow. */
    return atomic_load_explicit(&s->chunks[idx / EVP_SLAB_CHUNK], memory_order_acquire);
}

static _Atomic uint32_t *evp_slab_link(struct evp_slab *s, uint32_t idx)
{
    return &evp_slab_chunk(s, idx)->next[idx % EVP_SLAB_CHUNK];
}

/* Pushes the run first -> ... -> last (already linked among themselves). */
static void evp_slab_push_run(struct evp_slab *s, uint32_t first, uint32_t last)
{
    uint64_t old = atomic_load_explicit(&s->head, memory_order_relaxed), next;
    do {
        atomic_store_explicit(evp_slab_link(s, last), (uint32_t)old, memory_order_relaxed);
        next = (((old >> 32) + 1) << 32) | (first + 1);
        /* Release publishes the links just written; acquire keeps the
         * chain of earlier pushes visible to whoever acquires us. */
    } while (!atomic_compare_exchange_weak_explicit(&s->head, &old, next, memory_order_acq_rel,
                                                    memory_order_relaxed));
}

/* Pops up to k indices with one CAS. */
static uint32_t evp_slab_pop(struct evp_slab *s, uint32_t *out, uint32_t k)
{
    /* Acquire pairs with the pushes' CAS: the links below the top are seen. */
    uint64_t old = atomic_load_explicit(&s->head, memory_order_acquire);
    for (;;) {
        uint32_t cur = (uint32_t)old, n = 0;
        if (!cur)
            return 0;
        /* The links may change under us if the run is popped meanwhile;
         * then the tag has moved and the CAS fails. */
        while (n < k && cur) {
            out[n++] = cur - 1;
            cur = atomic_load_explicit(evp_slab_link(s, cur - 1), memory_order_relaxed);
        }
        uint64_t next = (((old >> 32) + 1) << 32) | cur;
        if (atomic_compare_exchange_weak_explicit(&s->head, &old, next, memory_order_acq_rel,
                                                  memory_order_acquire))
            return n;
    }
}

/* Creates the next chunk; its first object goes to *keep (if keep != NULL),
 * the rest to the stack. EVP_EAGAIN at max. Under grow_mu. */
static int evp_slab_grow_locked(struct evp_slab *s, uint32_t *keep)
{
    uint32_t c = atomic_load_explicit(&s->created, memory_order_relaxed);
    if (c >= s->max)
        return EVP_EAGAIN;
    uint32_t n = s->max - c < EVP_SLAB_CHUNK ? s->max - c : EVP_SLAB_CHUNK;
    size_t bytes = sizeof(struct evp_slab_chunk) + (size_t)EVP_SLAB_CHUNK * s->obj_size;
    struct evp_slab_chunk *ch = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!ch)
        return EVP_ENOMEM;
    memset(ch, 0, bytes);
    for (uint32_t i = 0; i < n; i++) {
        s->ctor(ch->mem + (size_t)i * s->obj_size, c + i, s->arg);
        atomic_init(&ch->next[i], i + 1 < n ? c + i + 2 : 0);
    }
    /* Release: the chunk's contents before its pointer and the count. */
    atomic_store_explicit(&s->chunks[c / EVP_SLAB_CHUNK], ch, memory_order_release);
    atomic_store_explicit(&s->created, c + n, memory_order_release);
    uint32_t first = c;
    if (keep)
        *keep = first++;
    if (first < c + n)
        evp_slab_push_run(s, first, c + n - 1);
    evp_debug("slab: %u objects of %zu bytes", c + n, s->obj_size);
    return 0;
}

static int evp_slab_grow(struct evp_slab *s, uint32_t *keep)
{
    pthread_mutex_lock(&s->grow_mu);
    /* Threads that found the stack empty together queue here: those after
     * the first take from the chunk it pushed (or from puts meanwhile)
     * instead of each growing another chunk. */
    int rc = keep && evp_slab_pop(s, keep, 1) ? 0 : evp_slab_grow_locked(s, keep);
    pthread_mutex_unlock(&s->grow_mu);
    return rc;
}

/* Moves the thread's cache back to the stack of the slab it belongs to, if
 * that slab is still alive. Under evp_slabs_mu, so the slab cannot be
 * finished meanwhile. */
static void evp_slab_tls_flush(struct evp_slab_tls *tc)
{
    pthread_mutex_lock(&evp_slabs_mu);
    struct evp_slab *s = evp_slabs;
    while (s && s->uid != tc->uid)
        s = s->live;
    for (uint32_t i = 0; s && i < tc->n; i++)
        evp_slab_put(s, tc->idx[i]);
    pthread_mutex_unlock(&evp_slabs_mu);
    tc->n = 0;
    tc->uid = 0;
}

static void evp_slab_thread_exit(void *arg)
{
    evp_slab_tls_flush(arg);
}

static void evp_slab_setup(void)
{
    if (pthread_key_create(&evp_slab_key, evp_slab_thread_exit) != 0)
        evp_error("pthread_key_create failed: slab caches will not be flushed at thread exit");
}

int evp_slab_init(struct evp_slab *s, size_t obj_size, uint32_t initial, uint32_t max,
                  void (*ctor)(void *obj, uint32_t idx, void *arg), void *arg)
{
    if (obj_size == 0 || obj_size % 64 || max == 0 || max > EVP_SLAB_MAX_OBJECTS)
        return EVP_EINVAL;
    pthread_once(&evp_slab_once, evp_slab_setup);
    memset(s, 0, sizeof *s);
    s->obj_size = obj_size;
    s->max = max;
    s->ctor = ctor;
    s->arg = arg;
    s->chunks = calloc((max + EVP_SLAB_CHUNK - 1) / EVP_SLAB_CHUNK, sizeof *s->chunks);
    if (!s->chunks)
        return EVP_ENOMEM;
    pthread_mutex_init(&s->grow_mu, NULL);
    int rc = 0;
    while (rc == 0 && atomic_load_explicit(&s->created, memory_order_relaxed) < (initial < max ? initial : max))
        rc = evp_slab_grow(s, NULL);
    if (rc) {
        evp_slab_fini(s);
        return rc;
    }
    pthread_mutex_lock(&evp_slabs_mu);
    s->uid = ++evp_slabs_uid;
    s->live = evp_slabs;
    evp_slabs = s;
    pthread_mutex_unlock(&evp_slabs_mu);
    return 0;
}

void evp_slab_fini(struct evp_slab *s)
{
    /* Out of the registry first: no thread-exit flush can reach us after. */
    pthread_mutex_lock(&evp_slabs_mu);
    for (struct evp_slab **p = &evp_slabs; *p; p = &(*p)->live)
        if (*p == s) {
            *p = s->live;
            break;
        }
    pthread_mutex_unlock(&evp_slabs_mu);
    uint32_t created = atomic_load_explicit(&s->created, memory_order_acquire);
    for (uint32_t c = 0; c < created; c += EVP_SLAB_CHUNK)
        free(atomic_load_explicit(&s->chunks[c / EVP_SLAB_CHUNK], memory_order_relaxed));
    free(s->chunks);
    s->chunks = NULL;
    pthread_mutex_destroy(&s->grow_mu);
}

int evp_slab_get(struct evp_slab *s, uint32_t *idx)
{
    struct evp_slab_tls *tc = &evp_slab_tc;
    if (tc->uid == s->uid && tc->n) {
        *idx = tc->idx[--tc->n];
        return 0;
    }
    if (tc->uid != s->uid) {
        if (tc->uid)
            evp_slab_tls_flush(tc); /* this thread moved to another slab */
        else
            pthread_setspecific(evp_slab_key, tc); /* first use: flush at exit */
        tc->uid = s->uid;
    }
    uint32_t got[EVP_SLAB_CACHE];
    uint32_t k = evp_slab_pop(s, got, EVP_SLAB_CACHE);
    if (!k) {
        int rc = evp_slab_grow(s, idx);
        /* Someone may have pushed, or grown, while we waited for the mutex. */
        if (rc == EVP_EAGAIN && (k = evp_slab_pop(s, got, EVP_SLAB_CACHE)) == 0)
            return rc;
        if (!k)
            return rc;
    }
    *idx = got[0];
    memcpy(tc->idx, &got[1], (k - 1) * sizeof got[0]);
    tc->n = k - 1;
    return 0;
}

void evp_slab_put(struct evp_slab *s, uint32_t idx)
{
    evp_slab_push_run(s, idx, idx);
}

void *evp_slab_at(struct evp_slab *s, uint32_t idx)
{
    if (idx >= atomic_load_explicit(&s->created, memory_order_acquire))
        return NULL;
    return evp_slab_chunk(s, idx)->mem + (size_t)(idx % EVP_SLAB_CHUNK) * s->obj_size;
}

uint32_t evp_slab_created(struct evp_slab *s)
{
    return atomic_load_explicit(&s->created, memory_order_acquire);
}
