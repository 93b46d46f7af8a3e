/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — the sub-batch lifecycle: alloc, submit, status, free, reclaim.
 *
 * Ownership. A sub-batch object (slab slot) is owned by its handle's holder
 * from alloc until the free CAS on its generation word; from then on by the
 * reclaimer (src/batch/reclaim.h: the library's reclaimer thread), which
 * returns its leases (in bulk), its stream reference and finally the slot.
 * Every field a poller may read is atomic: pollers and the reclaimer are
 * ordered by the RCU grace period, which ThreadSanitizer cannot see (liburcu
 * is not instrumented), so no plain field is ever shared between them.
 *
 * Generation word: generation << 1 | live. Alloc (owner of a free slot)
 * stores (g+1) << 1 | 1 and hands out {slot, g+1}; free CASes g << 1 | 1 to
 * g << 1. A handle with generation h on a slot at generation g: h == g and
 * live -> current; h < g, or h == g and dead -> EVP_ESTALE; h > g -> never
 * issued, EVP_EINVAL. */
#include "evpool/batch.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "base/clock.h"
#include "base/log.h"
#include "batch/rcu.h"
#include "batch/reclaim.h"
#include "batch/slab.h"
#include "batch/streams.h"

#define EVP_BATCH_SLOT_BITS 24
#define EVP_BATCH_GEN_MASK ((UINT64_C(1) << 40) - 1)

/* One submit call: its lease and what its tasks share. */
struct evp_call {
    _Atomic uint64_t lease;  /* EVP_LEASE_NONE once given back at submit (FAILED) */
    _Atomic uint64_t bytes;  /* sum of its tasks' lengths */
    _Atomic uint32_t state;  /* PENDING, then sticky COMPLETED / FAILED (CAS) */
    _Atomic uint32_t ntasks;
};

struct evp_task {
    _Atomic uint64_t length;
    _Atomic uint32_t call;
};

struct evp_sb {
    _Atomic uint64_t gen;     /* generation << 1 | live */
    _Atomic uint32_t busy;    /* a submit is running */
    _Atomic uint32_t cap;     /* tasks at most (this allocation) */
    /* Published by submit with a release store of ncalls / ntasks; read
     * with acquire by pollers and the reclaimer. */
    _Atomic uint32_t ntasks, ncalls;
    _Atomic int32_t device;   /* -1 until the first submit */
    _Atomic int32_t stream;   /* slot in the device's stream pool, -1 none */
    _Atomic uint32_t deferred;/* the reclaimer found work in flight */
    _Atomic uint64_t freed_ns;
    struct evp_reclaim_node rnode; /* the reclaimer's, from free to reclaim */
    evp_batch_lib_t *lib;     /* constant */
    uint32_t idx;             /* constant: slab index */
    struct evp_call *calls;   /* constant: lib->cap entries after the object */
    struct evp_task *tasks;   /* constant: lib->cap entries */
};

struct evp_batch_dev {
    _Atomic(evp_pool_t *) pool; /* created on first use under lib->mu; owned */
    struct evp_streams streams;
};

struct evp_batch_lib {
    evp_config_t cfg;
    const struct evp_backend *be;
    int ndev;
    uint32_t cap;                /* EVPOOL_BATCH_TASKS */
    struct evp_slab slab;
    pthread_mutex_t mu;          /* pool creation */
    struct evp_batch_dev *devs;  /* ndev entries */
    struct evp_reclaim reclaim;  /* the reclaimer thread; stopped by destroy */
    int drain_rc;                /* first stream_sync error at stop; read after the join */
    uint64_t backlog;            /* alloc waits above this many pending (evp_batch_throttle) */
    _Atomic uint64_t allocs, frees, stale_frees, reclaimed, deferred, reclaim_max_ns,
        deferred_total_ns, submits, submit_errors, leases, lease_returns, tasks, throttled;
};

/* ---- fork --------------------------------------------------------------- */

/* A child of fork() holding the parent's library: its reclaimer thread,
 * host stream workers and CUDA context are the parent's, and a lock that a
 * parent thread held at the fork (liburcu's registry, the slab registry)
 * stays held. Every call answers EVP_ENODEV before touching any of them. */
static inline bool evp_batch_forked(const evp_batch_lib_t *lib)
{
    return evp_reclaim_forked(&lib->reclaim);
}

/* ---- handles ------------------------------------------------------------ */

static inline evp_batch_t evp_batch_pack(uint32_t slot, uint64_t gen)
{
    return (gen << EVP_BATCH_SLOT_BITS) | slot;
}

/* The object a handle names and whether it is current: 0, EVP_ESTALE or
 * EVP_EINVAL. *sb is set whenever the slot exists. */
static int evp_batch_lookup(evp_batch_lib_t *lib, evp_batch_t b, struct evp_sb **sb)
{
    *sb = NULL;
    if (!lib || b == EVP_BATCH_NONE)
        return EVP_EINVAL;
    struct evp_sb *s = evp_slab_at(&lib->slab, (uint32_t)(b & ((1u << EVP_BATCH_SLOT_BITS) - 1)));
    if (!s)
        return EVP_EINVAL;
    *sb = s;
    uint64_t h = b >> EVP_BATCH_SLOT_BITS;
    /* Acquire pairs with the release store of alloc: the fields reset by
     * the reclaimer and alloc are seen (the slot's previous life is over). */
    uint64_t w = atomic_load_explicit(&s->gen, memory_order_acquire);
    uint64_t g = w >> 1;
    if (h == g && (w & 1))
        return 0;
    return h <= g ? EVP_ESTALE : EVP_EINVAL;
}

/* ---- leases ------------------------------------------------------------- */

static void evp_batch_returned(evp_batch_lib_t *lib, evp_pool_t *pool, const evp_lease_t *l, uint32_t n)
{
    /* One call for the whole batch of leases (the grace period already
     * separated them from every poller). A refusal is a bug: the sub-batch
     * owns each lease exactly once. */
    int refused = evp_pool_return_many(pool, n, l, NULL);
    if (refused)
        evp_error("sub-batch: returning %u lease(s): %d refused (%s)", n, refused,
                  refused < 0 ? evp_strerror(refused) : "stale");
    atomic_fetch_add_explicit(&lib->lease_returns, n, memory_order_relaxed);
}

static evp_pool_t *evp_batch_pool_of(evp_batch_lib_t *lib, int device)
{
    /* Acquire pairs with the release store in evp_batch_lib_pool. */
    return atomic_load_explicit(&lib->devs[device].pool, memory_order_acquire);
}

int evp_batch_lib_pool(evp_batch_lib_t *lib, int device, evp_pool_t **out)
{
    if (!lib || !out)
        return EVP_EINVAL;
    if (device < 0 || device >= lib->ndev || evp_batch_forked(lib))
        return EVP_ENODEV;
    evp_pool_t *p = evp_batch_pool_of(lib, device);
    int rc = 0;
    if (!p) {
        pthread_mutex_lock(&lib->mu);
        p = atomic_load_explicit(&lib->devs[device].pool, memory_order_relaxed);
        if (!p && (rc = evp_pool_create(device, &lib->cfg, &p)) == 0)
            atomic_store_explicit(&lib->devs[device].pool, p, memory_order_release);
        pthread_mutex_unlock(&lib->mu);
    }
    if (rc == 0)
        *out = p;
    return rc;
}

/* ---- status ------------------------------------------------------------- */

/* The state of call c, polling its event while it is PENDING. Inside a read
 * section (or as the reclaimer): the lease cannot have been returned. */
static evp_task_status_t evp_batch_call_poll(evp_pool_t *pool, struct evp_call *c)
{
    /* Acquire pairs with the CAS below of another poller (sticky state). */
    uint32_t st = atomic_load_explicit(&c->state, memory_order_acquire);
    if (st != EVP_TASK_PENDING)
        return (evp_task_status_t)st;
    int q = evp_pool_query(pool, atomic_load_explicit(&c->lease, memory_order_relaxed));
    if (q == 0)
        return EVP_TASK_PENDING;
    uint32_t next = q == 1 ? EVP_TASK_COMPLETED : EVP_TASK_FAILED;
    if (q < 0)
        evp_warn("sub-batch: event query failed (%s): tasks FAILED", evp_strerror(q));
    /* Terminal states are sticky: only PENDING moves, once. */
    if (!atomic_compare_exchange_strong_explicit(&c->state, &st, next, memory_order_acq_rel,
                                                 memory_order_acquire))
        next = st;
    return (evp_task_status_t)next;
}

static int evp_batch_severity(evp_task_status_t s)
{
    switch (s) {
    case EVP_TASK_FAILED: return 4;
    case EVP_TASK_TIMEOUT: return 3;
    case EVP_TASK_CANCELED: return 2;
    case EVP_TASK_INVALID: return 1;
    default: return 0;
    }
}

/* Both status calls: read section entered, handle checked. task < 0: all. */
static int evp_batch_status_locked(evp_batch_lib_t *lib, evp_batch_t b, int64_t task, evp_batch_status_t *out)
{
    struct evp_sb *sb;
    int rc = evp_batch_lookup(lib, b, &sb);
    if (rc)
        return rc;
    /* Acquire pairs with submit's release stores: calls and tasks below
     * the counts are fully written. */
    uint32_t ncalls = atomic_load_explicit(&sb->ncalls, memory_order_acquire);
    uint32_t ntasks = atomic_load_explicit(&sb->ntasks, memory_order_acquire);
    int32_t dev = atomic_load_explicit(&sb->device, memory_order_relaxed);
    evp_pool_t *pool = ncalls ? evp_batch_pool_of(lib, dev) : NULL;
    if (task >= 0) {
        if (task >= ntasks)
            return EVP_EINVAL;
        struct evp_task *t = &sb->tasks[task];
        out->status = evp_batch_call_poll(pool, &sb->calls[atomic_load_explicit(&t->call, memory_order_relaxed)]);
        out->transferred_bytes =
            out->status == EVP_TASK_COMPLETED ? atomic_load_explicit(&t->length, memory_order_relaxed) : 0;
        return 0;
    }
    bool pending = false, all_done = ncalls > 0;
    evp_task_status_t worst = EVP_TASK_COMPLETED;
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < ncalls; i++) {
        evp_task_status_t s = evp_batch_call_poll(pool, &sb->calls[i]);
        if (s == EVP_TASK_COMPLETED)
            bytes += atomic_load_explicit(&sb->calls[i].bytes, memory_order_relaxed);
        else
            all_done = false;
        if (s == EVP_TASK_PENDING)
            pending = true;
        else if (evp_batch_severity(s) > evp_batch_severity(worst))
            worst = s;
    }
    out->transferred_bytes = bytes;
    out->status = ncalls == 0 ? EVP_TASK_INITIAL
                  : pending   ? EVP_TASK_PENDING
                  : all_done  ? EVP_TASK_COMPLETED
                              : worst;
    return 0;
}

static int evp_batch_status_any(evp_batch_lib_t *lib, evp_batch_t b, int64_t task, evp_batch_status_t *out)
{
    if (!lib || !out)
        return EVP_EINVAL;
    if (evp_batch_forked(lib))
        return EVP_ENODEV;
    evp_rcu_online();
    urcu_memb_read_lock();
    int rc = evp_batch_status_locked(lib, b, task, out);
    urcu_memb_read_unlock();
    return rc;
}

int evp_batch_task_status(evp_batch_lib_t *lib, evp_batch_t b, uint32_t task, evp_batch_status_t *out)
{
    return evp_batch_status_any(lib, b, task, out);
}

int evp_batch_status(evp_batch_lib_t *lib, evp_batch_t b, evp_batch_status_t *out)
{
    return evp_batch_status_any(lib, b, -1, out);
}

/* ---- submit ------------------------------------------------------------- */

/* Inside the read section, with busy held: stream, enqueue, record, publish. */
static int evp_batch_submit_locked(evp_batch_lib_t *lib, struct evp_sb *sb, int dev, evp_pool_t *pool,
                                   evp_lease_t lease, const evp_batch_req_t *reqs, uint32_t n,
                                   evp_batch_enqueue_fn enqueue, void *ctx, uint32_t *first, bool *used)
{
    *used = false;
    uint32_t have = atomic_load_explicit(&sb->ntasks, memory_order_relaxed);
    uint32_t cap = atomic_load_explicit(&sb->cap, memory_order_relaxed);
    int32_t cur = atomic_load_explicit(&sb->device, memory_order_relaxed);
    if (cur >= 0 && cur != dev)
        return EVP_EBUSY; /* a racing submit set the device after our pre-check */
    if (n > cap - have) {
        evp_error("sub-batch full: %u task(s) submitted, %u of %u free; nothing enqueued", n, cap - have, cap);
        return EVP_ENOSPC;
    }
    int32_t slot = atomic_load_explicit(&sb->stream, memory_order_relaxed);
    void *stream;
    if (slot < 0) {
        uint32_t s;
        int rc = evp_streams_take(&lib->devs[dev].streams, &s, &stream);
        if (rc)
            return rc;
        atomic_store_explicit(&sb->device, dev, memory_order_relaxed);
        atomic_store_explicit(&sb->stream, (int32_t)s, memory_order_relaxed);
    } else {
        stream = evp_streams_get(&lib->devs[dev].streams, (uint32_t)slot);
    }

    *used = true; /* from here the lease is published or given back */
    int erc = enqueue(ctx, stream, dev, reqs, n);
    if (erc > 0)
        erc = EVP_EBACKEND;
    int rc = erc ? erc : evp_pool_record(pool, lease, stream);
    if (rc) {
        /* Never published and never recorded: no poller can hold it. */
        evp_batch_returned(lib, pool, &lease, 1);
        lease = EVP_LEASE_NONE;
        evp_warn("sub-batch: %s failed (%s): %u task(s) FAILED", erc ? "enqueue" : "record",
                 evp_strerror(rc), n);
    }
    uint32_t c = atomic_load_explicit(&sb->ncalls, memory_order_relaxed);
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < n; i++) {
        atomic_store_explicit(&sb->tasks[have + i].length, reqs[i].length, memory_order_relaxed);
        atomic_store_explicit(&sb->tasks[have + i].call, c, memory_order_relaxed);
        bytes += reqs[i].length;
    }
    struct evp_call *call = &sb->calls[c];
    atomic_store_explicit(&call->lease, lease, memory_order_relaxed);
    atomic_store_explicit(&call->bytes, bytes, memory_order_relaxed);
    atomic_store_explicit(&call->ntasks, n, memory_order_relaxed);
    atomic_store_explicit(&call->state, rc ? EVP_TASK_FAILED : EVP_TASK_PENDING, memory_order_relaxed);
    /* Release pairs with the pollers' and the reclaimer's acquire loads. */
    atomic_store_explicit(&sb->ncalls, c + 1, memory_order_release);
    atomic_store_explicit(&sb->ntasks, have + n, memory_order_release);
    atomic_fetch_add_explicit(&lib->tasks, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&lib->submits, 1, memory_order_relaxed);
    if (first)
        *first = have;
    return rc;
}

int evp_batch_submit(evp_batch_lib_t *lib, evp_batch_t b, const evp_batch_req_t *reqs, uint32_t n,
                     evp_batch_enqueue_fn enqueue, void *ctx, uint32_t *first)
{
    struct evp_sb *sb;
    if (!reqs || !n || !enqueue)
        return EVP_EINVAL;
    if (lib && evp_batch_forked(lib))
        return EVP_ENODEV;
    /* Pre-checks outside the read section, so that a lease is not taken
     * for a call that cannot go through; all are checked again inside. */
    int rc = evp_batch_lookup(lib, b, &sb);
    if (rc)
        return rc;
    int dev = atomic_load_explicit(&sb->device, memory_order_relaxed);
    if (dev < 0)
        dev = reqs[0].device;
    uint32_t room = atomic_load_explicit(&sb->cap, memory_order_relaxed) -
                    atomic_load_explicit(&sb->ntasks, memory_order_relaxed);
    if (n > room) {
        evp_error("sub-batch full: %u task(s) submitted, %u free; nothing enqueued", n, room);
        return EVP_ENOSPC;
    }
    evp_pool_t *pool;
    if ((rc = evp_batch_lib_pool(lib, dev, &pool)) != 0)
        return rc == EVP_ENODEV ? EVP_EINVAL : rc;
    /* The lease is taken outside the read section: under
     * EVPOOL_ON_EXHAUST=wait it may wait for leases that only a grace
     * period (which a reader would hold up) gives back. */
    evp_lease_t lease;
    if ((rc = evp_pool_lease(pool, &lease)) != 0) {
        atomic_fetch_add_explicit(&lib->submit_errors, 1, memory_order_relaxed);
        return rc;
    }
    atomic_fetch_add_explicit(&lib->leases, 1, memory_order_relaxed);

    evp_rcu_online();
    urcu_memb_read_lock();
    /* Inside the read section a free cannot finish under us: if the handle
     * is current now, the reclaimer waits for this submit to end. */
    rc = evp_batch_lookup(lib, b, &sb);
    bool owned = rc == 0 && atomic_exchange_explicit(&sb->busy, 1, memory_order_acquire) == 0;
    if (rc == 0 && !owned)
        rc = EVP_EBUSY;
    bool used = false;
    if (owned) {
        rc = evp_batch_submit_locked(lib, sb, dev, pool, lease, reqs, n, enqueue, ctx, first, &used);
        /* Release pairs with the next submitter's acquire exchange. */
        atomic_store_explicit(&sb->busy, 0, memory_order_release);
    }
    urcu_memb_read_unlock();
    /* Refused before anything was enqueued: the lease was never recorded
     * nor seen by anyone, so it goes straight back. */
    if (!used)
        evp_batch_returned(lib, pool, &lease, 1);
    if (rc)
        atomic_fetch_add_explicit(&lib->submit_errors, 1, memory_order_relaxed);
    return rc;
}

/* ---- alloc -------------------------------------------------------------- */

/* Freed sub-batches not yet reclaimed: frees - reclaimed (no counter of
 * its own: that would be one more shared RMW on every free and reclaim).
 * reclaimed is read first, and every reclaim counted follows its free's
 * count (acquire pairs with the release increment in evp_batch_finish), so
 * the difference is never negative; it may lag by the frees and reclaims
 * racing the reads. */
static uint64_t evp_batch_pending(evp_batch_lib_t *lib)
{
    uint64_t reclaimed = atomic_load_explicit(&lib->reclaimed, memory_order_acquire);
    return atomic_load_explicit(&lib->frees, memory_order_relaxed) - reclaimed;
}

/* Backpressure. Freed sub-batches hold their leases and slots until the
 * reclaimer has waited out their grace period; threads that free faster
 * than one reclaimer thread gets CPU time (16 threads on 2 cores) would
 * otherwise make the pool and the slab grow to cover the backlog. Under
 * EVPOOL_ON_EXHAUST=wait, alloc waits (at most EVPOOL_WAIT_TIMEOUT_US, then
 * goes on) while more than EVPOOL_BATCH_BACKLOG freed sub-batches await
 * the reclaimer; under fail it never waits. The default, 1024, is where
 * the wait stopped costing throughput in test_batch_churn (16 threads on
 * 2 cores: 460-530k cycles/s as with no wait, against 190k at 64 and 300k
 * at 256), while the pool stayed at ~1.4k events instead of ~38k. */
static void evp_batch_throttle(evp_batch_lib_t *lib)
{
    if (lib->cfg.on_exhaust != EVP_EXHAUST_WAIT || evp_batch_pending(lib) <= lib->backlog)
        return;
    uint64_t deadline = evp_clock_ns() + lib->cfg.wait_timeout_us * 1000u;
    atomic_fetch_add_explicit(&lib->throttled, 1, memory_order_relaxed);
    do
        evp_reclaim_wait_round(&lib->reclaim, deadline);
    while (evp_batch_pending(lib) > lib->backlog && evp_clock_ns() < deadline);
}

int evp_batch_alloc(evp_batch_lib_t *lib, uint32_t capacity, evp_batch_t *out)
{
    if (!lib || !out)
        return EVP_EINVAL;
    if (capacity == 0)
        capacity = lib->cap;
    if (evp_batch_forked(lib))
        return EVP_ENODEV;
    if (capacity > lib->cap) {
        evp_error("sub-batch capacity %u exceeds EVPOOL_BATCH_TASKS=%u", capacity, lib->cap);
        return EVP_EINVAL;
    }
    evp_batch_throttle(lib);
    uint32_t idx;
    int rc = evp_slab_get(&lib->slab, &idx);
    if (rc)
        return rc;
    /* We own the slot: the reclaimer (or the constructor) left it empty. */
    struct evp_sb *sb = evp_slab_at(&lib->slab, idx);
    atomic_store_explicit(&sb->cap, capacity, memory_order_relaxed);
    uint64_t g = ((atomic_load_explicit(&sb->gen, memory_order_relaxed) >> 1) + 1) & EVP_BATCH_GEN_MASK;
    g = g ? g : 1;
    /* Release pairs with the acquire load in evp_batch_lookup. */
    atomic_store_explicit(&sb->gen, g << 1 | 1, memory_order_release);
    atomic_fetch_add_explicit(&lib->allocs, 1, memory_order_relaxed);
    *out = evp_batch_pack(idx, g);
    return 0;
}

/* ---- free and reclaim --------------------------------------------------- */

static void evp_batch_max(_Atomic uint64_t *m, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(m, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(m, &cur, v, memory_order_relaxed, memory_order_relaxed))
        ;
}

/* Everything of a freed sub-batch goes back; its work is done (or its
 * stream synchronised). The last touch of lib is the reclaimed count. */
static void evp_batch_finish(evp_batch_lib_t *lib, struct evp_sb *sb)
{
    /* Acquire pairs with submit's release: every call is seen. */
    uint32_t ncalls = atomic_load_explicit(&sb->ncalls, memory_order_acquire);
    int32_t dev = atomic_load_explicit(&sb->device, memory_order_relaxed);
    evp_lease_t batch[64];
    uint32_t k = 0;
    for (uint32_t i = 0; i < ncalls; i++) {
        evp_lease_t l = atomic_load_explicit(&sb->calls[i].lease, memory_order_relaxed);
        if (l != EVP_LEASE_NONE)
            batch[k++] = l;
        if (k == sizeof batch / sizeof batch[0] || (i + 1 == ncalls && k)) {
            evp_batch_returned(lib, evp_batch_pool_of(lib, dev), batch, k);
            k = 0;
        }
    }
    int32_t slot = atomic_load_explicit(&sb->stream, memory_order_relaxed);
    if (slot >= 0)
        evp_streams_give(&lib->devs[dev].streams, (uint32_t)slot);
    atomic_store_explicit(&sb->ncalls, 0, memory_order_relaxed);
    atomic_store_explicit(&sb->ntasks, 0, memory_order_relaxed);
    atomic_store_explicit(&sb->device, -1, memory_order_relaxed);
    atomic_store_explicit(&sb->stream, -1, memory_order_relaxed);
    uint64_t delay = evp_clock_ns() - atomic_load_explicit(&sb->freed_ns, memory_order_relaxed);
    evp_batch_max(&lib->reclaim_max_ns, delay);
    if (atomic_exchange_explicit(&sb->deferred, 0, memory_order_relaxed))
        atomic_fetch_add_explicit(&lib->deferred_total_ns, delay, memory_order_relaxed);
    /* The slot is reusable from here: nothing of sb is touched after. */
    evp_slab_put(&lib->slab, sb->idx);
    /* Release pairs with evp_batch_pending's acquire: a thread that sees
     * this reclaim counted sees its leases and slot back. */
    atomic_fetch_add_explicit(&lib->reclaimed, 1, memory_order_release);
}

/* Work of a freed sub-batch still running? Polls (and settles) its calls. */
static bool evp_batch_in_flight(evp_batch_lib_t *lib, struct evp_sb *sb)
{
    uint32_t ncalls = atomic_load_explicit(&sb->ncalls, memory_order_acquire);
    if (!ncalls)
        return false;
    evp_pool_t *pool = evp_batch_pool_of(lib, atomic_load_explicit(&sb->device, memory_order_relaxed));
    for (uint32_t i = 0; i < ncalls; i++)
        if (evp_batch_call_poll(pool, &sb->calls[i]) == EVP_TASK_PENDING)
            return true;
    return false;
}

static struct evp_sb *evp_batch_of_node(struct evp_reclaim_node *n)
{
    return (struct evp_sb *)((char *)n - offsetof(struct evp_sb, rnode));
}

/* The reclaimer, after the sub-batch's grace period: no poller or
 * submitter can still see it. Finished unless its work is in flight; then
 * the reclaimer polls it again later, without another grace period. */
static bool evp_batch_try_reclaim(void *ctx, struct evp_reclaim_node *n)
{
    evp_batch_lib_t *lib = ctx;
    struct evp_sb *sb = evp_batch_of_node(n);
    if (!evp_batch_in_flight(lib, sb)) {
        evp_batch_finish(lib, sb);
        return true;
    }
    if (!atomic_exchange_explicit(&sb->deferred, 1, memory_order_relaxed))
        atomic_fetch_add_explicit(&lib->deferred, 1, memory_order_relaxed);
    return false;
}

/* The reclaimer at destroy, for a sub-batch whose work is still in flight:
 * waits for its stream, then finishes it. */
static void evp_batch_force_reclaim(void *ctx, struct evp_reclaim_node *n)
{
    evp_batch_lib_t *lib = ctx;
    struct evp_sb *sb = evp_batch_of_node(n);
    int32_t dev = atomic_load_explicit(&sb->device, memory_order_relaxed);
    int32_t slot = atomic_load_explicit(&sb->stream, memory_order_relaxed);
    int r = lib->be->stream_sync(evp_streams_get(&lib->devs[dev].streams, (uint32_t)slot));
    if (r && !lib->drain_rc)
        lib->drain_rc = r;
    evp_batch_finish(lib, sb);
}

static const struct evp_reclaim_ops evp_batch_reclaim_ops = {
    .try_finish = evp_batch_try_reclaim,
    .force_finish = evp_batch_force_reclaim,
};

/* Hands a sub-batch whose generation word we just killed to the reclaimer. */
static void evp_batch_retire(evp_batch_lib_t *lib, struct evp_sb *sb)
{
    atomic_store_explicit(&sb->freed_ns, evp_clock_ns(), memory_order_relaxed);
    atomic_fetch_add_explicit(&lib->frees, 1, memory_order_relaxed);
    /* The push releases what we wrote; the reclaimer's take acquires it. */
    evp_reclaim_retire(&lib->reclaim, &sb->rnode);
}

int evp_batch_free(evp_batch_lib_t *lib, evp_batch_t b)
{
    if (lib && evp_batch_forked(lib))
        return EVP_ENODEV;
    struct evp_sb *sb;
    int rc = evp_batch_lookup(lib, b, &sb);
    uint64_t live = (b >> EVP_BATCH_SLOT_BITS) << 1 | 1;
    /* The single decision of a free: only the current generation dies, once.
     * acq_rel: orders the submitter's writes we hand on and our retire. */
    if (rc == 0 && !atomic_compare_exchange_strong_explicit(&sb->gen, &live, live & ~(uint64_t)1,
                                                            memory_order_acq_rel, memory_order_relaxed))
        rc = EVP_ESTALE;
    if (rc == EVP_ESTALE)
        atomic_fetch_add_explicit(&lib->stale_frees, 1, memory_order_relaxed);
    if (rc == 0)
        evp_batch_retire(lib, sb);
    return rc;
}

/* ---- the library -------------------------------------------------------- */

static size_t evp_batch_obj_size(uint32_t cap)
{
    size_t head = (sizeof(struct evp_sb) + 63) & ~(size_t)63;
    size_t body = (size_t)cap * (sizeof(struct evp_call) + sizeof(struct evp_task));
    return (head + body + 63) & ~(size_t)63;
}

static void evp_batch_ctor(void *obj, uint32_t idx, void *arg)
{
    struct evp_sb *sb = obj;
    evp_batch_lib_t *lib = arg;
    size_t head = (sizeof(struct evp_sb) + 63) & ~(size_t)63;
    sb->lib = lib;
    sb->idx = idx;
    sb->calls = (struct evp_call *)((char *)obj + head);
    sb->tasks = (struct evp_task *)(sb->calls + lib->cap);
    atomic_init(&sb->device, -1);
    atomic_init(&sb->stream, -1);
}

void evp_batch_lib_stats(evp_batch_lib_t *lib, evp_batch_stats_t *out)
{
    memset(out, 0, sizeof *out);
#define EVP_LOAD(f) out->f = atomic_load_explicit(&lib->f, memory_order_relaxed)
    EVP_LOAD(allocs);
    EVP_LOAD(frees);
    EVP_LOAD(stale_frees);
    EVP_LOAD(reclaimed);
    EVP_LOAD(deferred);
    EVP_LOAD(reclaim_max_ns);
    EVP_LOAD(deferred_total_ns);
    EVP_LOAD(submits);
    EVP_LOAD(submit_errors);
    EVP_LOAD(leases);
    EVP_LOAD(lease_returns);
    EVP_LOAD(tasks);
    EVP_LOAD(throttled);
#undef EVP_LOAD
    out->pending = evp_batch_pending(lib);
    out->reclaim_rounds = atomic_load_explicit(&lib->reclaim.rounds, memory_order_relaxed);
    out->live = out->allocs >= out->frees ? out->allocs - out->frees : 0;
    out->slab_objects = evp_slab_created(&lib->slab);
    for (int d = 0; d < lib->ndev; d++) {
        out->streams_created += atomic_load_explicit(&lib->devs[d].streams.created, memory_order_relaxed);
        out->streams_destroyed += atomic_load_explicit(&lib->devs[d].streams.destroyed, memory_order_relaxed);
    }
}

/* Frees what create built; the first d devices' stream pools are finished
 * here (their counters stay readable until then). */
static void evp_batch_lib_free(evp_batch_lib_t *lib, int d)
{
    while (d-- > 0)
        evp_streams_fini(&lib->devs[d].streams, NULL);
    free(lib->devs);
    pthread_mutex_destroy(&lib->mu);
    free(lib);
}

int evp_batch_lib_create(const evp_config_t *cfg, evp_batch_lib_t **out)
{
    char err[512];
    if (!out)
        return EVP_EINVAL;
    evp_config_t c;
    if (cfg)
        c = *cfg;
    else
        evp_config_init(&c);
    int rc = cfg ? evp_config_validate(&c, err, sizeof err) : evp_config_load_env(&c, err, sizeof err);
    if (rc) {
        evp_error("invalid configuration: %s", err);
        return EVP_EINVAL;
    }
    evp_log_set_level(c.log);
    const struct evp_backend *be;
    if ((rc = evp_backend_resolve(c.backend, &be)) != 0)
        return rc;
    int ndev = be->device_count(err, sizeof err);
    if (ndev < 0)
        return ndev;
    evp_batch_lib_t *lib = calloc(1, sizeof *lib);
    if (!lib)
        return EVP_ENOMEM;
    lib->cfg = c;
    lib->be = be;
    lib->ndev = ndev;
    lib->cap = c.batch_tasks;
    lib->backlog = c.batch_backlog;
    pthread_mutex_init(&lib->mu, NULL);
    lib->devs = calloc((size_t)ndev, sizeof *lib->devs);
    int d = 0;
    rc = lib->devs ? 0 : EVP_ENOMEM;
    for (; rc == 0 && d < ndev; d++)
        if ((rc = evp_streams_init(&lib->devs[d].streams, be, d, c.streams)) != 0)
            break;
    bool slab = false;
    if (rc == 0)
        slab = (rc = evp_slab_init(&lib->slab, evp_batch_obj_size(lib->cap), c.batch_slab, c.batch_max,
                                   evp_batch_ctor, lib)) == 0;
    /* Last: nothing after it can fail, so a started thread is never undone here. */
    if (rc == 0)
        rc = evp_reclaim_start(&lib->reclaim, &evp_batch_reclaim_ops, lib);
    if (rc) {
        if (slab)
            evp_slab_fini(&lib->slab);
        evp_batch_lib_free(lib, d);
        return rc;
    }
    evp_info("sub-batches: backend %s, %u objects up front (max %u) of %u tasks, %u stream(s) per device",
             be->name, evp_slab_created(&lib->slab), c.batch_max, c.batch_tasks, c.streams);
    *out = lib;
    return 0;
}

/* Frees every sub-batch still live (the caller forgot them). */
static uint64_t evp_batch_free_live(evp_batch_lib_t *lib)
{
    uint64_t live = 0;
    uint32_t created = evp_slab_created(&lib->slab);
    for (uint32_t i = 0; i < created; i++) {
        struct evp_sb *sb = evp_slab_at(&lib->slab, i);
        uint64_t w = atomic_load_explicit(&sb->gen, memory_order_acquire);
        if ((w & 1) && atomic_compare_exchange_strong_explicit(&sb->gen, &w, w & ~(uint64_t)1,
                                                               memory_order_acq_rel, memory_order_relaxed)) {
            live++;
            evp_batch_retire(lib, sb);
        }
    }
    return live;
}

int evp_batch_lib_destroy(evp_batch_lib_t *lib, evp_batch_stats_t *final)
{
    if (!lib)
        return EVP_EINVAL;
    if (evp_batch_forked(lib)) {
        /* The child's copy of the parent's library: nothing of it can be
         * released here without the parent's threads or under locks the
         * fork may have frozen; the memory goes with the child. */
        if (final)
            memset(final, 0, sizeof *final);
        return 0;
    }
    evp_rcu_online();
    uint64_t live = evp_batch_free_live(lib);
    if (live)
        evp_warn("sub-batch library destroyed with %llu sub-batch(es) never freed: freed now",
                 (unsigned long long)live);
    /* Every sub-batch is retired now: the reclaimer finishes them all
     * (waiting for the streams of those in flight) and exits. */
    evp_reclaim_stop(&lib->reclaim);
    int rc = lib->drain_rc;
    uint64_t pending = evp_batch_pending(lib); /* exact: the reclaimer has exited */
    if (pending)
        evp_error("sub-batch library destroyed with %llu freed sub-batch(es) not reclaimed",
                  (unsigned long long)pending);
    for (int d = 0; d < lib->ndev; d++) {
        uint64_t held = 0;
        int r = evp_streams_fini(&lib->devs[d].streams, &held);
        if (r && !rc)
            rc = r;
        if (held)
            evp_error("device %d: %llu stream reference(s) still held at teardown", d, (unsigned long long)held);
    }
    evp_batch_stats_t st;
    evp_batch_lib_stats(lib, &st);
    st.live_at_destroy = live;
    for (int d = 0; d < lib->ndev; d++) {
        evp_pool_t *p = evp_batch_pool_of(lib, d);
        if (!p)
            continue;
        int r = evp_pool_destroy(p, NULL);
        if (r && !rc)
            rc = r;
    }
    evp_slab_fini(&lib->slab);
    if (final)
        *final = st;
    evp_batch_lib_free(lib, 0); /* the stream pools are finished already */
    return rc;
}
