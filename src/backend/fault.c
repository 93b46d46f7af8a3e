/* SPDX-License-Identifier: Apache-2.0 */
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

/* "|create|destroy|...": the accepted names for messages, from the same
 * list (print from +1). */
static const char evp_fault_op_list[] =
#define EVP_FAULT_ALT(id, name) "|" name
    EVP_FAULT_OPS(EVP_FAULT_ALT)
#undef EVP_FAULT_ALT
    ;

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

static int evp_fault_copy(void *dst, const void *src, size_t len, void *stream)
{
    return evp_fault_hit(EVP_FAULT_COPY) ? EVP_EBACKEND : evp_fault_real()->copy(dst, src, len, stream);
}

static int evp_fault_copy_batch(void *const *dst, const void *const *src, const size_t *len, size_t n,
                                void *stream)
{
    return evp_fault_hit(EVP_FAULT_COPY_BATCH) ? EVP_EBACKEND
                                               : evp_fault_real()->copy_batch(dst, src, len, n, stream);
}

static int evp_fault_host_fn(void *stream, void (*fn)(void *), void *arg)
{
    return evp_fault_hit(EVP_FAULT_HOST_FN) ? EVP_EBACKEND : evp_fault_real()->host_fn(stream, fn, arg);
}

/* ---- the memory table (backend/mem.h) ----------------------------------- */

static const struct evp_backend_mem *evp_fault_mem_real(void)
{
    return evp_fault_real()->mem;
}

static int evp_fault_mem_alloc(int device, size_t len, unsigned handles, uint64_t access, evp_mem_t **out)
{
    return evp_fault_hit(EVP_FAULT_MEM_ALLOC) ? EVP_EBACKEND
                                              : evp_fault_mem_real()->alloc(device, len, handles, access, out);
}

static int evp_fault_mem_attach(int device, void *ptr, size_t len, evp_mem_t **out)
{
    return evp_fault_hit(EVP_FAULT_MEM_ATTACH) ? EVP_EBACKEND : evp_fault_mem_real()->attach(device, ptr, len, out);
}

static int evp_fault_mem_export(evp_mem_t *m, enum evp_mem_handle handle, struct evp_mem_desc *desc, int *fd)
{
    return evp_fault_hit(EVP_FAULT_MEM_EXPORT) ? EVP_EBACKEND : evp_fault_mem_real()->export_(m, handle, desc, fd);
}

static int evp_fault_mem_import(int device, const struct evp_mem_desc *desc, int fd, uint64_t access,
                                evp_mem_t **out)
{
    return evp_fault_hit(EVP_FAULT_MEM_IMPORT) ? EVP_EBACKEND
                                               : evp_fault_mem_real()->import(device, desc, fd, access, out);
}

/* Like destroy: the object is released (and m freed) either way. */
static int evp_fault_mem_release(evp_mem_t *m)
{
    int rc = evp_fault_mem_real()->release(m);
    return evp_fault_hit(EVP_FAULT_MEM_RELEASE) ? EVP_EBACKEND : rc;
}

static const struct evp_backend_mem evp_mem_fault = {
    .alloc = evp_fault_mem_alloc,
    .attach = evp_fault_mem_attach,
    .export_ = evp_fault_mem_export,
    .import = evp_fault_mem_import,
    .release = evp_fault_mem_release,
};

/* Every op is set: a layer that reaches an op through the wrapper must
 * find it as it would on the real table. */
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
    .copy = evp_fault_copy,
    .copy_batch = evp_fault_copy_batch,
    .host_fn = evp_fault_host_fn,
    .mem = &evp_mem_fault,
};

static pthread_once_t evp_fault_env_once = PTHREAD_ONCE_INIT;

static int evp_fault_parse_as(const char *what, const char *spec);

static void evp_fault_read_env(void)
{
    const char *spec = getenv("EVPOOL_FAULT");
    if (spec && *spec)
        evp_fault_parse_as("EVPOOL_FAULT", spec);
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

const char *evp_fault_op_name(evp_fault_op_t op)
{
    return (unsigned)op < EVP_FAULT_OP_COUNT ? evp_fault_names[op] : NULL;
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

/* what: how the message names the spec's origin. */
static int evp_fault_parse_as(const char *what, const char *spec)
{
    evp_fault_op_t ops[EVP_FAULT_OP_COUNT * 4];
    uint64_t nth[EVP_FAULT_OP_COUNT * 4], count[EVP_FAULT_OP_COUNT * 4];
    size_t n = 0;
    /* Parse everything first: a malformed spec arms nothing. */
    for (const char *p = spec; p && *p;) {
        size_t len = strcspn(p, ",");
        if (n == sizeof ops / sizeof ops[0] || evp_fault_item(p, len, &ops[n], &nth[n], &count[n]) != 0) {
            evp_error("%s=\"%s\" ignored; accepted: op:N[:COUNT],... (N, COUNT >= 1) with op one of %s", what,
                      spec, evp_fault_op_list + 1);
            return EVP_EINVAL;
        }
        n++;
        p += len + (p[len] == ',');
    }
    for (size_t i = 0; i < n; i++)
        evp_fault_arm(ops[i], nth[i], count[i]);
    evp_fault_enable();
    return 0;
}

int evp_fault_parse(const char *spec)
{
    return evp_fault_parse_as("fault spec", spec);
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
