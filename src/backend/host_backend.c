/* Host backend: an event is a target count on a host stream; it is complete
 * once the stream has run that many callbacks. No GPU involved. */
#include <stdatomic.h>
#include <stdlib.h>

#include "evpool/host.h"
#include "evpool/error.h"
#include "backend/backend.h"
#include "backend/host_internal.h"

struct evp_host_event {
    /* Record stores stream then target (release); query loads target
     * (acquire) then stream. A record racing with a query of the same
     * event is a caller bug the pool's generation checks keep away. */
    _Atomic(evp_host_stream_t *) stream; /* NULL: recorded on the default stream (complete) */
    _Atomic uint64_t target;
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
    atomic_store_explicit(&e->stream, s, memory_order_relaxed);
    atomic_store_explicit(&e->target, s ? evp_host_stream_enqueued(s) : 0, memory_order_release);
    return 0;
}

static int evp_host_query(evp_event_t ev)
{
    struct evp_host_event *e = ev;
    uint64_t target = atomic_load_explicit(&e->target, memory_order_acquire);
    evp_host_stream_t *s = atomic_load_explicit(&e->stream, memory_order_relaxed);
    return !s || evp_host_stream_done(s) >= target;
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
};
