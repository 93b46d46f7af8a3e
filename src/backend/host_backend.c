/* SPDX-License-Identifier: Apache-2.0 */
/* Host backend: an event is a target count on a host stream; it is complete
 * once the stream has run that many items (callbacks and copies). Copies
 * are memcpy run by the stream's worker in order (memory export/import:
 * host_mem.c). No GPU involved. */
#include <stdatomic.h>
#include <stdlib.h>

#include "evpool/host.h"
#include "evpool/error.h"
#include "backend/backend.h"
#include "backend/host_internal.h"

/* Where an event was last recorded: complete once `stream` has run
 * `target` items (NULL stream: the default stream, complete). */
struct evp_host_mark {
    _Atomic(evp_host_stream_t *) stream;
    _Atomic uint64_t target;
};

/* {stream, target} must be read as one unit: a query that paired one
 * record's target with the next record's stream (holder re-recording on
 * another stream) could answer complete for pending work. The event is a
 * latch (Linux's seqcount_latch): two slots and a count of records; record
 * k writes slot k & 1 and then publishes seq = k, so the slot a reader
 * picks is never the one being written by the next record, only by the one
 * after it, which the reader detects by seq having moved. Record (one
 * writer at a time: the holder) is wait-free; a query retries only when
 * records completed meanwhile, and never waits for a preempted recorder. */
struct evp_host_event {
    _Atomic uint64_t seq;            /* records published; the latest is in slot[seq & 1] */
    struct evp_host_mark slot[2];
};

static int evp_host_device_count(char *why, size_t len)
{
    return EVP_HOST_DEVICES;
}

static int evp_host_create(int device, bool timing, evp_event_t *ev)
{
    struct evp_host_event *e = calloc(1, sizeof *e);
    if (!e)
        return EVP_ENOMEM;
    *ev = e;
    return 0;
}

static int evp_host_destroy(int device, evp_event_t ev)
{
    free(ev);
    return 0;
}

static int evp_host_record(evp_event_t ev, void *stream)
{
    struct evp_host_event *e = ev;
    evp_host_stream_t *s = stream;
    /* Relaxed: only the holder records, and a holder handed the event by
     * the pool is ordered after the previous one by the pool. */
    uint64_t k = atomic_load_explicit(&e->seq, memory_order_relaxed) + 1;
    struct evp_host_mark *m = &e->slot[k & 1];
    /* Release fence: orders the publication of seq = k - 1 (and k - 2's)
     * before the slot stores below. A reader whose slot loads see one of
     * them (it read slot (k-2)&1 = k&1 after loading seq = k - 2) has its
     * acquire fence in evp_host_query synchronise with this fence, so its
     * re-load of seq sees at least k - 1 and it retries. */
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&m->stream, s, memory_order_relaxed);
    atomic_store_explicit(&m->target, s ? evp_host_stream_enqueued(s) : 0, memory_order_relaxed);
    /* Release: pairs with the acquire load of seq in evp_host_query; a
     * reader that sees k sees slot k & 1 complete. */
    atomic_store_explicit(&e->seq, k, memory_order_release);
    return 0;
}

static int evp_host_query(evp_event_t ev)
{
    struct evp_host_event *e = ev;
    for (;;) {
        uint64_t k = atomic_load_explicit(&e->seq, memory_order_acquire); /* pairs with record's release store */
        const struct evp_host_mark *m = &e->slot[k & 1];
        evp_host_stream_t *s = atomic_load_explicit(&m->stream, memory_order_relaxed);
        uint64_t target = atomic_load_explicit(&m->target, memory_order_relaxed);
        /* Acquire fence: pairs with the release fence in evp_host_record
         * (see there); seq unchanged means no later record wrote this slot
         * while we read it. */
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&e->seq, memory_order_relaxed) == k)
            return !s || evp_host_stream_done(s) >= target;
    }
}

static int evp_host_copy_batch(void *const *dst, const void *const *src, const size_t *len, size_t n,
                               void *stream)
{
    int rc = evp_backend_copy_check(dst, src, len, n);
    return rc ? rc : evp_host_stream_enqueue_copies(stream, dst, src, len, n);
}

static int evp_host_copy(void *dst, const void *src, size_t len, void *stream)
{
    return evp_host_copy_batch(&dst, &src, &len, 1, stream);
}

static int evp_host_fn(void *stream, void (*fn)(void *), void *arg)
{
    return evp_host_stream_enqueue(stream, fn, arg);
}

static int evp_host_stream_new(int device, void **stream)
{
    return evp_host_stream_create((evp_host_stream_t **)stream);
}

static int evp_host_stream_free(int device, void *stream)
{
    evp_host_stream_destroy(stream);
    return 0;
}

static int evp_host_stream_wait(void *stream)
{
    return evp_host_stream_synchronize(stream);
}

const struct evp_backend evp_backend_host = {
    .name = "host",
    .device_count = evp_host_device_count,
    .create = evp_host_create,
    .destroy = evp_host_destroy,
    .record = evp_host_record,
    .query = evp_host_query,
    .stream_create = evp_host_stream_new,
    .stream_destroy = evp_host_stream_free,
    .stream_sync = evp_host_stream_wait,
    .copy = evp_host_copy,
    .copy_batch = evp_host_copy_batch,
    .host_fn = evp_host_fn,
    .mem = &evp_mem_host,
};
