/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness: random programs of pool operations on the host backend,
 * checked step by step against a shadow model and the documented contract
 * of include/evpool/pool.h.
 *
 * Up to three pools (tiny: SIZE 1..4, MAX up to 8, thread cache 0..4,
 * exhaustion fail or wait with timeout 0, so that nothing ever waits) are
 * created lazily from the input and driven by one-byte opcodes (the low
 * bits pick the pool) with argument bytes; a missing byte reads as 0. Bulk
 * calls ride on two opcodes: "lease N" with the argument's high bit set is
 * one evp_pool_lease_many (all or nothing; EVP_EINVAL past MAX), "return
 * all" is one evp_pool_return_many of every outstanding lease plus a
 * duplicate (refused); a stream sync also flushes the thread's caches
 * (evp_pool_thread_flush). The model knows which leases are outstanding
 * and what was recorded through each. After every step:
 *   - a lease succeeds exactly when fewer than MAX leases are outstanding
 *     (one thread: no event can be parked out of reach) and returns a value
 *     that is non-zero and not already outstanding; its event is non-NULL
 *     and no other outstanding lease of the pool has the same one;
 *   - a value in the outstanding set returns 0 exactly once; any other value
 *     (0, ~0, small integers, another pool's or a previous pool's lease, a
 *     returned lease, a lease with its generation moved, raw input bytes)
 *     is refused by return/record/query/event with EVP_ESTALE or EVP_EINVAL
 *     and changes nothing;
 *   - query: EVP_ENODATA before any record through the lease; 1 after a
 *     record on the NULL stream, or on the host stream once it was
 *     synchronized; 0 or 1 before, and once 1 it stays 1;
 *   - stats: leases, returns, outstanding (= leases - returns), exhaust_fails
 *     and stale_returns equal the model's counts; SIZE <= events_created <=
 *     MAX and never shrinks; high_water <= events_created, >= the most leases
 *     ever outstanding, and equal to it with thread cache 0; no steals;
 *   - destroy: the final stats count the model's outstanding leases and
 *     every created event destroyed.
 * A failed check prints the step and aborts (libFuzzer keeps the input). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evpool/evpool.h"

#define NPOOLS 3
#define MAXEV 8
#define HIST 16
#define MAX_STEPS 512

enum rec_kind { REC_NONE = 0, REC_NULL, REC_STREAM };

struct out_lease {
    evp_lease_t lease;
    void *event;          /* from evp_pool_event, NULL until asked */
    enum rec_kind rec;
    uint64_t target;      /* REC_STREAM: callbacks enqueued on the stream at the record */
    bool seen_done;       /* query answered 1 since the last record */
};

struct model {
    evp_pool_t *pool;     /* NULL: not created (or destroyed) */
    uint32_t size, max, tcache;
    bool wait;            /* EVPOOL_ON_EXHAUST=wait (timeout 0) */
    struct out_lease out[MAXEV];
    uint32_t n_out, most_out;
    evp_lease_t returned[HIST]; /* recently returned leases (a ring) */
    uint32_t n_returned;
    uint64_t leases, returns, stale, fails, created;
};

static struct model pools[NPOOLS];
/* Leases of destroyed pools, for forging. */
static evp_lease_t dead[HIST];
static uint32_t n_dead;

static evp_host_stream_t *stream;
static uint64_t enqueued, synced; /* callbacks enqueued on the stream; enqueued at the last sync */

static const uint8_t *in;
static size_t in_len, in_at;
static int step;

static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_pool: step %d: invariant failed: ", step);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

static uint8_t byte(void)
{
    return in_at < in_len ? in[in_at++] : 0;
}

static void nop(void *arg)
{
    (void)arg;
}

static int find_out(const struct model *m, evp_lease_t l)
{
    for (uint32_t i = 0; i < m->n_out; i++)
        if (m->out[i].lease == l)
            return (int)i;
    return -1;
}

static void check_stats(int pi)
{
    struct model *m = &pools[pi];
    if (!m->pool)
        return;
    evp_pool_stats_t st;
    evp_pool_stats(m->pool, &st);
#define EQ(field, want)                                                                       \
    do {                                                                                      \
        if (st.field != (uint64_t)(want))                                                     \
            fail("pool %d: stats." #field " = %llu, model %llu", pi,                          \
                 (unsigned long long)st.field, (unsigned long long)(want));                   \
    } while (0)
    EQ(leases, m->leases);
    EQ(returns, m->returns);
    EQ(outstanding, m->n_out);
    EQ(outstanding, st.leases - st.returns);
    EQ(exhaust_fails, m->fails);
    EQ(stale_returns, m->stale);
    EQ(steals, 0);
    EQ(events_destroyed, 0);
    if (!m->wait)
        EQ(exhaust_waits, 0);
    if (st.events_created < m->size || st.events_created > m->max || st.events_created < m->created)
        fail("pool %d: events_created %llu (size %u, max %u, was %llu)", pi,
             (unsigned long long)st.events_created, m->size, m->max, (unsigned long long)m->created);
    m->created = st.events_created;
    if (st.events_created < m->n_out)
        fail("pool %d: %u leases outstanding on %llu events", pi, m->n_out,
             (unsigned long long)st.events_created);
    if (st.high_water > st.events_created || st.high_water < m->most_out ||
        (m->tcache == 0 && st.high_water != m->most_out))
        fail("pool %d: high_water %llu, events_created %llu, most leases out %u, thread cache %u",
             pi, (unsigned long long)st.high_water, (unsigned long long)st.events_created,
             m->most_out, m->tcache);
#undef EQ
}

static void cfg_set(evp_config_t *c, const char *name, unsigned v)
{
    char text[16];
    snprintf(text, sizeof text, "%u", v);
    if (evp_config_set(c, name, text, NULL, 0) != 0)
        fail("evp_config_set(%s, %s)", name, text);
}

static void create(int pi)
{
    struct model *m = &pools[pi];
    uint8_t a = byte(), b = byte();
    memset(m, 0, sizeof *m);
    m->size = 1 + (a & 3);
    m->max = m->size + ((a >> 2) & 7);
    if (m->max > MAXEV)
        m->max = MAXEV;
    m->tcache = (uint32_t)(b % 5) <= m->max ? (uint32_t)(b % 5) : m->max;
    m->wait = (b >> 3) & 1;
    evp_config_t c;
    evp_config_init(&c);
    cfg_set(&c, "EVPOOL_SIZE", m->size);
    cfg_set(&c, "EVPOOL_MAX", m->max);
    cfg_set(&c, "EVPOOL_THREAD_CACHE", m->tcache);
    cfg_set(&c, "EVPOOL_WAIT_TIMEOUT_US", 0);
    cfg_set(&c, "EVPOOL_TIMING", (b >> 4) & 1);
    if (evp_config_set(&c, "EVPOOL_ON_EXHAUST", m->wait ? "wait" : "fail", NULL, 0) ||
        evp_config_set(&c, "EVPOOL_BACKEND", "host", NULL, 0) ||
        evp_config_set(&c, "EVPOOL_LOG", "error", NULL, 0) ||
        evp_config_set(&c, "EVPOOL_DEPOT", (b >> 5) & 1 ? "ring" : "stack", NULL, 0))
        fail("evp_config_set");
    int device = (a >> 5) % EVP_HOST_DEVICES;
    int rc = evp_pool_create(device, &c, &m->pool);
    if (rc != 0)
        fail("pool %d: evp_pool_create: %s", pi, evp_strerror(rc));
    evp_config_t got;
    evp_pool_config(m->pool, &got);
    if (got.size != m->size || got.max != m->max || got.thread_cache != m->tcache ||
        got.depot != ((b >> 5) & 1 ? EVP_DEPOT_RING : EVP_DEPOT_STACK) ||
        evp_pool_device(m->pool) != device || strcmp(evp_pool_backend(m->pool), "host") != 0)
        fail("pool %d: the pool's configuration is not the one given", pi);
    m->created = m->size;
}

static void destroy(int pi)
{
    struct model *m = &pools[pi];
    evp_pool_stats_t before, st;
    evp_pool_stats(m->pool, &before);
    int rc = evp_pool_destroy(m->pool, &st);
    if (rc != 0)
        fail("pool %d: evp_pool_destroy: %s", pi, evp_strerror(rc));
    if (st.outstanding != m->n_out)
        fail("pool %d: destroyed with %llu outstanding, model %u", pi,
             (unsigned long long)st.outstanding, m->n_out);
    if (st.events_destroyed != before.events_created || st.events_created != before.events_created)
        fail("pool %d: destroyed %llu of %llu events", pi, (unsigned long long)st.events_destroyed,
             (unsigned long long)before.events_created);
    for (uint32_t i = 0; i < m->n_out; i++)
        dead[n_dead++ % HIST] = m->out[i].lease;
    for (uint32_t i = 0; i < m->n_returned && i < HIST; i++)
        dead[n_dead++ % HIST] = m->returned[i];
    m->pool = NULL;
}

static struct model *live(int pi)
{
    if (!pools[pi].pool)
        create(pi);
    return &pools[pi];
}

/* A lease the pool just handed out: new, distinct, its own event, nothing
 * recorded. */
static void adopt(int pi, evp_lease_t l)
{
    struct model *m = &pools[pi];
    if (l == EVP_LEASE_NONE || find_out(m, l) >= 0)
        fail("pool %d: lease returned %#llx, %s", pi, (unsigned long long)l,
             l ? "already outstanding" : "EVP_LEASE_NONE");
    void *ev = NULL;
    int rc;
    if ((rc = evp_pool_event(m->pool, l, &ev)) != 0 || !ev)
        fail("pool %d: evp_pool_event of a new lease: %s", pi, evp_strerror(rc));
    for (uint32_t i = 0; i < m->n_out; i++)
        if (m->out[i].event == ev)
            fail("pool %d: leases %#llx and %#llx share an event", pi,
                 (unsigned long long)m->out[i].lease, (unsigned long long)l);
    if (evp_pool_query(m->pool, l) != EVP_ENODATA)
        fail("pool %d: query of a new lease %#llx is not EVP_ENODATA", pi, (unsigned long long)l);
    m->out[m->n_out++] = (struct out_lease){.lease = l, .event = ev};
    if (m->n_out > m->most_out)
        m->most_out = m->n_out;
    m->leases++;
}

static void do_lease(int pi)
{
    struct model *m = live(pi);
    evp_lease_t l = EVP_LEASE_NONE;
    int rc = evp_pool_lease(m->pool, &l);
    if (m->n_out < m->max) {
        if (rc != 0)
            fail("pool %d: lease with %u of %u out: %s", pi, m->n_out, m->max, evp_strerror(rc));
        adopt(pi, l);
    } else {
        if (rc != EVP_EAGAIN)
            fail("pool %d: lease with all %u out: %d, want EVP_EAGAIN", pi, m->max, rc);
        m->fails++;
    }
}

/* evp_pool_lease_many: all k or none. Past what is free, the leases it got
 * went back (counted as leases and returns) and it answers EVP_EAGAIN. */
static void do_lease_many(int pi, uint32_t k)
{
    struct model *m = live(pi);
    evp_lease_t ls[MAXEV];
    int rc = evp_pool_lease_many(m->pool, k, ls);
    if (k > m->max) {
        if (rc != EVP_EINVAL)
            fail("pool %d: lease_many(%u) beyond max %u: %d, want EVP_EINVAL", pi, k, m->max, rc);
        return;
    }
    if (m->n_out + k <= m->max) {
        if (rc != 0)
            fail("pool %d: lease_many(%u) with %u of %u out: %s", pi, k, m->n_out, m->max, evp_strerror(rc));
        for (uint32_t i = 0; i < k; i++)
            adopt(pi, ls[i]);
        return;
    }
    if (rc != EVP_EAGAIN)
        fail("pool %d: lease_many(%u) with %u of %u out: %d, want EVP_EAGAIN", pi, k, m->n_out, m->max, rc);
    for (uint32_t i = 0; i < k; i++)
        if (ls[i] != EVP_LEASE_NONE)
            fail("pool %d: a failed lease_many left lease %u = %#llx", pi, i, (unsigned long long)ls[i]);
    uint32_t got = m->max - m->n_out;
    m->leases += got;
    m->returns += got;
    m->fails++;
    m->most_out = m->max;
}

/* A value to pass where a lease goes: one of this pool's outstanding leases
 * or a forgery, as the argument byte says. */
static evp_lease_t pick(int pi, uint8_t how)
{
    struct model *m = &pools[pi];
    struct model *o = &pools[(pi + 1 + (how >> 7)) % NPOOLS];
    uint8_t arg = byte();
    switch (how % 12) {
    case 0: case 1: case 2: case 3: /* outstanding (the common case) */
        return m->n_out ? m->out[arg % m->n_out].lease : EVP_LEASE_NONE;
    case 4: return m->n_returned ? m->returned[arg % (m->n_returned < HIST ? m->n_returned : HIST)] : 0;
    case 5: return EVP_LEASE_NONE;
    case 6: return ~(evp_lease_t)0;
    case 7: return arg; /* a small integer: slot arg, generation 0 */
    case 8: return o->n_out ? o->out[arg % o->n_out].lease : (evp_lease_t)1 << 24;
    case 9: return n_dead ? dead[arg % (n_dead < HIST ? n_dead : HIST)] : (evp_lease_t)1 << 24;
    case 10: /* an outstanding lease with its generation moved */
        if (!m->n_out)
            return (evp_lease_t)arg << 24;
        return m->out[arg % m->n_out].lease + ((evp_lease_t)(1 + (arg >> 4)) << 24);
    default: { /* raw bytes */
        evp_lease_t v = arg;
        for (int i = 1; i < 8; i++)
            v = v << 8 | byte();
        return v;
    }
    }
}

static void refused(int pi, const char *call, evp_lease_t l, int rc)
{
    if (rc != EVP_ESTALE && rc != EVP_EINVAL)
        fail("pool %d: %s of %#llx, which is no outstanding lease: %d (%s), want EVP_ESTALE or "
             "EVP_EINVAL",
             pi, call, (unsigned long long)l, rc, evp_strerror(rc));
}

static void do_return(int pi, evp_lease_t l)
{
    struct model *m = &pools[pi];
    int i = find_out(m, l), rc = evp_pool_return(m->pool, l);
    if (i < 0) {
        refused(pi, "return", l, rc);
        if (rc == EVP_ESTALE)
            m->stale++;
        return;
    }
    if (rc != 0)
        fail("pool %d: return of outstanding %#llx: %s", pi, (unsigned long long)l, evp_strerror(rc));
    m->out[i] = m->out[--m->n_out];
    m->returned[m->n_returned++ % HIST] = l;
    m->returns++;
}

static void do_record(int pi, evp_lease_t l, bool on_stream)
{
    struct model *m = &pools[pi];
    int i = find_out(m, l), rc = evp_pool_record(m->pool, l, on_stream ? (void *)stream : NULL);
    if (i < 0) {
        refused(pi, "record", l, rc);
        return;
    }
    if (rc != 0)
        fail("pool %d: record of outstanding %#llx: %s", pi, (unsigned long long)l, evp_strerror(rc));
    m->out[i].rec = on_stream ? REC_STREAM : REC_NULL;
    m->out[i].target = enqueued;
    m->out[i].seen_done = false;
}

static void do_query(int pi, evp_lease_t l)
{
    struct model *m = &pools[pi];
    int i = find_out(m, l), rc = evp_pool_query(m->pool, l);
    if (i < 0) {
        refused(pi, "query", l, rc);
        return;
    }
    struct out_lease *o = &m->out[i];
    bool must_be_done = o->rec == REC_NULL || o->seen_done || (o->rec == REC_STREAM && o->target <= synced);
    if (o->rec == REC_NONE ? rc != EVP_ENODATA : must_be_done ? rc != 1 : rc != 0 && rc != 1)
        fail("pool %d: query of %#llx (recorded %d, target %llu, synced %llu, seen done %d): %d", pi,
             (unsigned long long)l, o->rec, (unsigned long long)o->target,
             (unsigned long long)synced, o->seen_done, rc);
    if (rc == 1)
        o->seen_done = true;
}

static void do_event(int pi, evp_lease_t l)
{
    struct model *m = &pools[pi];
    void *ev = NULL;
    int i = find_out(m, l), rc = evp_pool_event(m->pool, l, &ev);
    if (i < 0) {
        refused(pi, "event", l, rc);
        return;
    }
    if (rc != 0 || ev != m->out[i].event)
        fail("pool %d: event of outstanding %#llx: %d, %p (was %p)", pi, (unsigned long long)l, rc, ev,
             m->out[i].event);
}

/* Every outstanding lease in one evp_pool_return_many call, the first one
 * twice: the duplicate is refused (EVP_ESTALE), the rest go back. */
static void do_return_all(int pi)
{
    struct model *m = &pools[pi];
    evp_lease_t ls[MAXEV + 1];
    int res[MAXEV + 1];
    uint32_t n = m->n_out;
    for (uint32_t i = 0; i < n; i++)
        ls[i] = m->out[i].lease;
    if (n)
        ls[n] = ls[0];
    uint32_t total = n ? n + 1 : 0;
    int refused = evp_pool_return_many(m->pool, total, ls, res);
    if (refused != (n ? 1 : 0))
        fail("pool %d: return_many of %u outstanding + a duplicate refused %d", pi, n, refused);
    for (uint32_t i = 0; i < n; i++)
        if (res[i] != 0)
            fail("pool %d: return_many: outstanding %#llx refused: %d", pi, (unsigned long long)ls[i], res[i]);
    if (n && res[n] != EVP_ESTALE)
        fail("pool %d: return_many: duplicate %#llx answered %d, want EVP_ESTALE", pi,
             (unsigned long long)ls[n], res[n]);
    for (uint32_t i = 0; i < n; i++)
        m->returned[m->n_returned++ % HIST] = ls[i];
    m->returns += n;
    m->stale += n ? 1 : 0;
    m->n_out = 0;
}

enum op {
    OP_LEASE, OP_LEASE_N, OP_RETURN, OP_RETURN_ALL, OP_RECORD_STREAM, OP_RECORD_NULL, OP_QUERY,
    OP_EVENT, OP_STREAM_WORK, OP_STREAM_SYNC, OP_NULL_ARGS, OP_DESTROY, OP_COUNT
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (evp_host_stream_create(&stream) != 0)
        fail("evp_host_stream_create");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in = data;
    in_len = size;
    in_at = 0;
    n_dead = 0;
    memset(pools, 0, sizeof pools);
    for (step = 0; in_at < in_len && step < MAX_STEPS; step++) {
        uint8_t b = byte();
        int pi = b % NPOOLS;
        enum op op = (enum op)((b / NPOOLS) % OP_COUNT);
        if (op != OP_DESTROY && op != OP_STREAM_WORK && op != OP_STREAM_SYNC)
            live(pi);
        switch (op) {
        case OP_LEASE: do_lease(pi); break;
        case OP_LEASE_N: {
            uint8_t x = byte(); /* the high bit: one evp_pool_lease_many call */
            if (x & 0x80) {
                do_lease_many(pi, 1 + x % MAXEV);
                break;
            }
            for (int k = 1 + x % MAXEV; k > 0; k--)
                do_lease(pi);
            break;
        }
        case OP_RETURN: do_return(pi, pick(pi, byte())); break;
        case OP_RETURN_ALL: do_return_all(pi); break;
        case OP_RECORD_STREAM: do_record(pi, pick(pi, byte()), true); break;
        case OP_RECORD_NULL: do_record(pi, pick(pi, byte()), false); break;
        case OP_QUERY: do_query(pi, pick(pi, byte())); break;
        case OP_EVENT: do_event(pi, pick(pi, byte())); break;
        case OP_STREAM_WORK:
            if (evp_host_stream_enqueue(stream, nop, NULL) != 0)
                fail("evp_host_stream_enqueue");
            enqueued++;
            break;
        case OP_STREAM_SYNC:
            if (evp_host_stream_synchronize(stream) != 0)
                fail("evp_host_stream_synchronize");
            synced = enqueued;
            /* A parked thread gives its cached events back; nothing the
             * model sees changes. */
            for (int k = 0; k < NPOOLS; k++)
                if (pools[k].pool && evp_pool_thread_flush(pools[k].pool) != 0)
                    fail("pool %d: evp_pool_thread_flush", k);
            break;
        case OP_NULL_ARGS: {
            evp_pool_t *p = pools[pi].pool;
            evp_lease_t l = pick(pi, byte()), got;
            void *ev;
            if (evp_pool_lease(p, NULL) != EVP_EINVAL || evp_pool_lease(NULL, &got) != EVP_EINVAL ||
                evp_pool_return(NULL, l) != EVP_EINVAL || evp_pool_record(NULL, l, NULL) != EVP_EINVAL ||
                evp_pool_query(NULL, l) != EVP_EINVAL || evp_pool_event(NULL, l, &ev) != EVP_EINVAL ||
                evp_pool_event(p, l, NULL) != EVP_EINVAL || evp_pool_destroy(NULL, NULL) != EVP_EINVAL)
                fail("pool %d: a NULL argument was not EVP_EINVAL", pi);
            break;
        }
        case OP_DESTROY:
            if (pools[pi].pool)
                destroy(pi);
            break;
        default: break;
        }
        for (int k = 0; k < NPOOLS; k++)
            check_stats(k);
    }
    for (int k = 0; k < NPOOLS; k++)
        if (pools[k].pool)
            destroy(k);
    return 0;
}
