#include "backend/fault.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "evpool/error.h"
#include "base/log.h"

static const char *const evp_fault_names[EVP_FAULT_OP_COUNT] = {
#define EVP_FAULT_NAME(id, name) [EVP_FAULT_##id] = name,
    EVP_FAULT_OPS(EVP_FAULT_NAME)
#undef EVP_FAULT_NAME
};

/* Per op: calls so far and the window [from, to) of call numbers that fail.
 * Relaxed everywhere: these are counters and a test's own switches; the
 * test orders arming against its calls by program order. */
struct evp_fault_slot {
    _Atomic uint64_t calls, injected, from, to;
};
static struct evp_fault_slot evp_faults[EVP_FAULT_OP_COUNT];
static _Atomic int evp_fault_on;
/* The wrapped backend: set once by the first evp_fault_wrap while enabled. */
static _Atomic(const struct evp_backend *) evp_fault_inner;

/* Counts a call of op; true when it must fail. */
static int evp_fault_hit(evp_fault_op_t op)
{
    struct evp_fault_slot *f = &evp_faults[op];
    uint64_t k = atomic_fetch_add_explicit(&f->calls, 1, memory_order_relaxed) + 1;
    if (k < atomic_load_explicit(&f->from, memory_order_relaxed) ||
        k >= atomic_load_explicit(&f->to, memory_order_relaxed))
        return 0;
    atomic_fetch_add_explicit(&f->injected, 1, memory_order_relaxed);
    evp_debug("fault injection: %s call %llu fails", evp_fault_names[op], (unsigned long long)k);
    return 1;
}

static const struct evp_backend *evp_fault_real(void)
{
    return atomic_load_explicit(&evp_fault_inner, memory_order_acquire);
}

static int evp_fault_device_count(char *why, size_t len)
{
    return evp_fault_real()->device_count(why, len);
}

static int evp_fault_create(int device, bool timing, evp_event_t *ev)
{
    return evp_fault_hit(EVP_FAULT_CREATE) ? EVP_EBACKEND : evp_fault_real()->create(device, timing, ev);
}

/* An injected destroy still destroys: the failure is reported, the object
 * does not leak (the caller must not destroy it twice). */
static int evp_fault_destroy(int device, evp_event_t ev)
{
    int rc = evp_fault_real()->destroy(device, ev);
    return evp_fault_hit(EVP_FAULT_DESTROY) ? EVP_EBACKEND : rc;
}

static int evp_fault_record(evp_event_t ev, void *stream)
{
    return evp_fault_hit(EVP_FAULT_RECORD) ? EVP_EBACKEND : evp_fault_real()->record(ev, stream);
}

static int evp_fault_query(evp_event_t ev)
{
    return evp_fault_hit(EVP_FAULT_QUERY) ? EVP_EBACKEND : evp_fault_real()->query(ev);
}

static int evp_fault_stream_create(int device, void **stream)
{
    return evp_fault_hit(EVP_FAULT_STREAM_CREATE) ? EVP_EBACKEND
                                                  : evp_fault_real()->stream_create(device, stream);
}

static int evp_fault_stream_destroy(int device, void *stream)
{
    int rc = evp_fault_real()->stream_destroy(device, stream);
    return evp_fault_hit(EVP_FAULT_STREAM_DESTROY) ? EVP_EBACKEND : rc;
}

static int evp_fault_stream_sync(void *stream)
{
    return evp_fault_hit(EVP_FAULT_STREAM_SYNC) ? EVP_EBACKEND : evp_fault_real()->stream_sync(stream);
}

static const struct evp_backend evp_backend_fault = {
    .name = "fault",
    .device_count = evp_fault_device_count,
    .create = evp_fault_create,
    .destroy = evp_fault_destroy,
    .record = evp_fault_record,
    .query = evp_fault_query,
    .stream_create = evp_fault_stream_create,
    .stream_destroy = evp_fault_stream_destroy,
    .stream_sync = evp_fault_stream_sync,
};

static pthread_once_t evp_fault_env_once = PTHREAD_ONCE_INIT;

static void evp_fault_read_env(void)
{
    const char *spec = getenv("EVPOOL_FAULT");
    if (spec && *spec && evp_fault_parse(spec) != 0)
        evp_error("EVPOOL_FAULT=\"%s\" ignored; accepted: op:N[:COUNT],... with op one of "
                  "create, destroy, record, query, stream_create, stream_destroy, stream_sync",
                  spec);
}

void evp_fault_enable(void)
{
    atomic_store_explicit(&evp_fault_on, 1, memory_order_release);
}

int evp_fault_arm(evp_fault_op_t op, uint64_t nth, uint64_t count)
{
    if ((unsigned)op >= EVP_FAULT_OP_COUNT || nth == 0)
        return EVP_EINVAL;
    struct evp_fault_slot *f = &evp_faults[op];
    uint64_t base = atomic_load_explicit(&f->calls, memory_order_relaxed);
    /* Close the window first so that a racing call never sees a half-set one. */
    atomic_store_explicit(&f->to, 0, memory_order_relaxed);
    atomic_store_explicit(&f->from, base + nth, memory_order_relaxed);
    atomic_store_explicit(&f->to, base + nth + count, memory_order_relaxed);
    evp_fault_enable();
    return 0;
}

void evp_fault_disarm(void)
{
    for (int i = 0; i < EVP_FAULT_OP_COUNT; i++)
        atomic_store_explicit(&evp_faults[i].to, 0, memory_order_relaxed);
}

uint64_t evp_fault_calls(evp_fault_op_t op)
{
    return (unsigned)op < EVP_FAULT_OP_COUNT ? atomic_load_explicit(&evp_faults[op].calls, memory_order_relaxed) : 0;
}

uint64_t evp_fault_injected(evp_fault_op_t op)
{
    return (unsigned)op < EVP_FAULT_OP_COUNT ? atomic_load_explicit(&evp_faults[op].injected, memory_order_relaxed)
                                             : 0;
}

/* One "op:N[:COUNT]" item of text[0..len). */
static int evp_fault_item(const char *text, size_t len, evp_fault_op_t *op, uint64_t *nth, uint64_t *count)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return EVP_EINVAL;
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *colon = strchr(buf, ':');
    if (!colon)
        return EVP_EINVAL;
    *colon = '\0';
    int k = 0;
    while (k < EVP_FAULT_OP_COUNT && strcmp(buf, evp_fault_names[k]) != 0)
        k++;
    if (k == EVP_FAULT_OP_COUNT)
        return EVP_EINVAL;
    char *end;
    *nth = strtoull(colon + 1, &end, 10);
    *count = 1;
    if (*end == ':')
        *count = strtoull(end + 1, &end, 10);
    if (*end != '\0' || *nth == 0 || *count == 0)
        return EVP_EINVAL;
    *op = (evp_fault_op_t)k;
    return 0;
}

int evp_fault_parse(const char *spec)
{
    evp_fault_op_t ops[EVP_FAULT_OP_COUNT * 4];
    uint64_t nth[EVP_FAULT_OP_COUNT * 4], count[EVP_FAULT_OP_COUNT * 4];
    size_t n = 0;
    /* Parse everything first: a malformed spec arms nothing. */
    for (const char *p = spec; p && *p;) {
        size_t len = strcspn(p, ",");
        if (n == sizeof ops / sizeof ops[0] || evp_fault_item(p, len, &ops[n], &nth[n], &count[n]) != 0)
            return EVP_EINVAL;
        n++;
        p += len + (p[len] == ',');
    }
    for (size_t i = 0; i < n; i++)
        evp_fault_arm(ops[i], nth[i], count[i]);
    evp_fault_enable();
    return 0;
}

const struct evp_backend *evp_fault_wrap(const struct evp_backend *be)
{
    pthread_once(&evp_fault_env_once, evp_fault_read_env);
    if (!atomic_load_explicit(&evp_fault_on, memory_order_acquire) || be == &evp_backend_fault)
        return be;
    const struct evp_backend *expect = NULL;
    /* acq_rel: publishes `be` to the wrapper's acquire loads. */
    if (atomic_compare_exchange_strong_explicit(&evp_fault_inner, &expect, be, memory_order_acq_rel,
                                                memory_order_acquire) ||
        expect == be)
        return &evp_backend_fault;
    evp_warn("fault injection wraps the %s backend only; %s is used unwrapped", expect->name, be->name);
    return be;
}
