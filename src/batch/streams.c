/* SPDX-License-Identifier: Apache-2.0 */
#include "batch/streams.h"

#include <stdlib.h>

#include "evpool/error.h"
#include "base/log.h"

int evp_streams_init(struct evp_streams *st, const struct evp_backend *be, int device, uint32_t n)
{
    st->be = be;
    st->device = device;
    st->n = n;
    st->stream = calloc(n, sizeof *st->stream);
    st->refs = calloc(n, sizeof *st->refs);
    atomic_init(&st->next, 0);
    atomic_init(&st->created, 0);
    atomic_init(&st->destroyed, 0);
    if (!st->stream || !st->refs) {
        free(st->stream);
        free(st->refs);
        return EVP_ENOMEM;
    }
    pthread_mutex_init(&st->mu, NULL);
    return 0;
}

int evp_streams_fini(struct evp_streams *st, uint64_t *held)
{
    int rc = 0;
    uint64_t out = 0;
    for (uint32_t i = 0; i < st->n; i++) {
        out += atomic_load_explicit(&st->refs[i], memory_order_relaxed);
        void *s = atomic_load_explicit(&st->stream[i], memory_order_acquire);
        if (!s)
            continue;
        int r = st->be->stream_destroy(st->device, s);
        if (r && !rc)
            rc = r;
        atomic_fetch_add_explicit(&st->destroyed, 1, memory_order_relaxed);
    }
    if (held)
        *held = out;
    pthread_mutex_destroy(&st->mu);
    free(st->stream);
    free(st->refs);
    return rc;
}

int evp_streams_take(struct evp_streams *st, uint32_t *slot, void **stream)
{
    uint32_t i = atomic_fetch_add_explicit(&st->next, 1, memory_order_relaxed) % st->n;
    /* Acquire pairs with the release store below: the stream is made. */
    void *s = atomic_load_explicit(&st->stream[i], memory_order_acquire);
    if (!s) {
        pthread_mutex_lock(&st->mu);
        s = atomic_load_explicit(&st->stream[i], memory_order_relaxed);
        int rc = s ? 0 : st->be->stream_create(st->device, &s);
        if (rc == 0 && !atomic_load_explicit(&st->stream[i], memory_order_relaxed)) {
            atomic_store_explicit(&st->stream[i], s, memory_order_release);
            atomic_fetch_add_explicit(&st->created, 1, memory_order_relaxed);
            evp_debug("device %d: stream %u of %u created", st->device, i + 1, st->n);
        }
        pthread_mutex_unlock(&st->mu);
        if (rc)
            return rc;
    }
    atomic_fetch_add_explicit(&st->refs[i], 1, memory_order_relaxed);
    *slot = i;
    *stream = s;
    return 0;
}

void evp_streams_give(struct evp_streams *st, uint32_t slot)
{
    atomic_fetch_sub_explicit(&st->refs[slot], 1, memory_order_relaxed);
}

void *evp_streams_get(struct evp_streams *st, uint32_t slot)
{
    return atomic_load_explicit(&st->stream[slot], memory_order_acquire);
}
