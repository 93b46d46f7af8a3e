/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — the per-device event pool: lease, return, record, query.
 *
 * A free event lives, at any moment, in exactly one of:
 *   - a thread cache (struct evp_tcache, owned by one thread),
 *   - the depot (lock-free stack of chains shared by all threads),
 *   - nowhere yet (slot >= created: no event; the pool may grow into it);
 * and it lives there as the very lease it will be handed out as: the return
 * that freed it already advanced the slot's generation. A leased slot is in
 * none of them; its holder owns it until the return CAS on the slot's
 * generation succeeds, which is the single point deciding who may put it
 * back. Every slot therefore enters the free set once per lease, which is
 * what keeps the count of events bounded by `max`. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/clock.h"
#include "base/log.h"
#include "pool/pool_internal.h"

static inline uint64_t evp_gen_next(uint64_t gen)
{
    gen = (gen + 1) & EVP_LEASE_GEN_MASK;
    return gen ? gen : 1; /* 0 is never a lease generation */
}

static inline evp_lease_t evp_lease_pack(uint32_t slot, uint64_t gen)
{
    return (gen << EVP_LEASE_SLOT_BITS) | slot;
}

/* The slot a lease names, or NULL when the lease cannot be of this pool
 * (slot out of range). A slot whose event is not created yet has word 0,
 * which validates no lease. */
static inline struct evp_slot *evp_pool_slot(evp_pool_t *p, evp_lease_t lease)
{
    if (!p || lease == EVP_LEASE_NONE)
        return NULL;
    uint32_t slot = evp_lease_slot(lease);
    return slot < p->max ? &p->slots[slot] : NULL;
}

/* The slot word of a lease in the hands of a caller. */
static inline uint64_t evp_word_leased(evp_lease_t lease)
{
    return (evp_lease_gen(lease) << 1) | EVP_SLOT_LEASED;
}

/* A free lease (out of a cache, the depot or a hand-off) goes to a caller:
 * from now on exactly this value validates. Relaxed: the container that
 * handed the lease over ordered us after the return that freed it, and the
 * caller orders any later use of the lease on another thread; a forged
 * return racing with this store fails its CAS either way (it sees a free
 * word, or this exact lease). */
static inline void evp_pool_hand_out(evp_pool_t *p, evp_lease_t lease)
{
    atomic_store_explicit(&p->slots[evp_lease_slot(lease)].word, evp_word_leased(lease), memory_order_relaxed);
}

/* A per-slot random first generation: leases of another pool (or of this
 * pool in an earlier life) match only by a 2^-40 accident. splitmix64. */
static uint64_t evp_pool_gen_base(uint64_t seed, uint32_t slot)
{
    uint64_t z = seed + (uint64_t)(slot + 1) * UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    z = (z ^ (z >> 31)) & EVP_LEASE_GEN_MASK;
    return z ? z : 1;
}

static uint64_t evp_pool_seed(evp_pool_t *p)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = evp_clock_ns() ^ (uint64_t)(uintptr_t)p; /* early boot: weaker, still per pool */
    return seed;
}

/* The parent's pools are unusable in a child of fork(): see pool.h. */
static inline bool evp_pool_forked(const evp_pool_t *p)
{
    return __builtin_expect(p->epoch != atomic_load_explicit(&evp_fork_epoch, memory_order_relaxed), 0);
}

/* Events out of the depot now (approximate while others run: items is
 * updated next to, not with, the head CAS). Folded into high_water. */
static void evp_pool_sample_held(evp_pool_t *p)
{
    int64_t items = evp_depot_items(&p->depot);
    int64_t created = (int64_t)atomic_load_explicit(&p->created, memory_order_relaxed);
    /* items may lag a concurrent push/pop by one chain, or even read
     * negative for a moment: clamp to what can be true. */
    uint64_t now = items <= 0 ? (uint64_t)created : created > items ? (uint64_t)(created - items) : 0;
    uint64_t hw = atomic_load_explicit(&p->high_water, memory_order_relaxed);
    while (now > hw && !atomic_compare_exchange_weak_explicit(&p->high_water, &hw, now,
                                                              memory_order_relaxed, memory_order_relaxed))
        ;
}

/* The free lease parked as slot `slot` (a hand-off carries the slot only).
 * Relaxed: the hand-off's release/acquire ordered us after the return that
 * freed it. */
static inline evp_lease_t evp_pool_slot_lease(evp_pool_t *p, uint32_t slot)
{
    return evp_lease_pack(slot, atomic_load_explicit(&p->slots[slot].word, memory_order_relaxed) >> 1);
}

/* The free lease slot `id` starts as (its word was set by slot_init). */
static evp_lease_t evp_pool_first_lease(evp_pool_t *p, uint32_t id)
{
    return evp_lease_pack(id, evp_pool_gen_base(p->seed, id));
}

/* Creates the event of slot `id`. Caller owns the slot (grow_mu or create). */
static int evp_pool_slot_init(evp_pool_t *p, uint32_t id)
{
    struct evp_slot *s = &p->slots[id];
    int rc = p->be->create(p->device, p->cfg.timing, &s->ev);
    if (rc)
        return rc;
    /* Free, at its random first generation. Relaxed: the slot reaches other
     * threads only through the depot push or the release store of
     * `created`, which order this. */
    atomic_store_explicit(&s->word, evp_pool_gen_base(p->seed, id) << 1, memory_order_relaxed);
    return 0;
}

/* Grows the pool by one event, handed to the caller as its first lease.
 * EVP_EAGAIN at max; EVP_EBUSY while another thread grows it (we do not
 * wait for it: the caller looks elsewhere and comes back). */
static int evp_pool_grow(evp_pool_t *p, uint64_t *lease)
{
    if (atomic_load_explicit(&p->created, memory_order_acquire) >= p->max)
        return EVP_EAGAIN;
    if (pthread_mutex_trylock(&p->grow_mu) != 0)
        return EVP_EBUSY;
    uint32_t n = atomic_load_explicit(&p->created, memory_order_relaxed);
    int rc = n >= p->max ? EVP_EAGAIN : evp_pool_slot_init(p, n);
    if (rc == 0) {
        /* Release pairs with the acquire loads of created (destroy, stats,
         * the exhaustion verdict). */
        atomic_store_explicit(&p->created, n + 1, memory_order_release);
        *lease = evp_pool_first_lease(p, n);
    }
    pthread_mutex_unlock(&p->grow_mu);
    if (rc == 0) {
        evp_pool_sample_held(p);
        evp_debug("pool device %d grew to %u events", p->device, n + 1); /* no mutex held */
    }
    return rc;
}

/* One free lease from somewhere other than the caller's cache: a depot
 * chain (the rest parked in c), a new event, or other threads' caches (one
 * kept, the rest parked). 0; EVP_EAGAIN (none found); EVP_EBUSY (another
 * thread is growing the pool); EVP_EBACKEND / EVP_ENOMEM (growth failed). */
static int evp_pool_find(evp_pool_t *p, struct evp_tcache *c, uint64_t *lease)
{
    if (evp_tcache_refill(&p->home, c, lease)) {
        evp_pool_sample_held(p);
        return 0;
    }
    int rc = evp_pool_grow(p, lease);
    if (rc != EVP_EAGAIN)
        return rc;
    uint64_t got[EVP_BATCH_MAX];
    uint32_t k = evp_tcache_steal(&p->home, c, got, p->batch);
    if (!k)
        return EVP_EAGAIN;
    atomic_fetch_add_explicit(&p->steals, k, memory_order_relaxed);
    *lease = got[0];
    uint32_t i = 1;
    while (i < k && evp_tcache_put(c, got[i]))
        i++;
    if (i < k)
        evp_tcache_release(&p->home, &got[i], k - i);
    return 0;
}

/* Waiters are queued and a return of ours may have parked what they need:
 * hand our cache's entries to the oldest waiters. */
static void evp_pool_serve(evp_pool_t *p, struct evp_tcache *c)
{
    uint64_t l;
    while (evp_waitq_waiting(&p->wq) && evp_tcache_take(c, &l)) {
        if (!evp_waitq_give(&p->wq, evp_lease_slot(l))) {
            if (!evp_tcache_put(c, l)) /* room: we just took it, unless cap is 0 */
                evp_tcache_release(&p->home, &l, 1);
            break;
        }
    }
}

/* A waiter's first sleep before it pays for the remote fence. */
#define EVP_POOL_FENCE_AFTER_NS 1000000u

/* Sleeps about ns without a cancellation point (queue full: we poll). */
static void evp_pool_pause(uint64_t ns)
{
    evp_waitq_pause_until(evp_clock_ns() + ns);
}

/* EVPOOL_ON_EXHAUST=wait and nothing found: take a ticket, look once more
 * (a returner that parked an event before our ticket was visible did not
 * see us), then sleep until a returner hands us an event or the deadline
 * passes. 0 with *lease, or EVP_EAGAIN (or a growth error). */
static int evp_pool_wait(evp_pool_t *p, struct evp_tcache *c, uint64_t *lease)
{
    uint64_t t0 = evp_clock_ns(), deadline = t0 + p->cfg.wait_timeout_us * 1000u;
    atomic_fetch_add_explicit(&p->exhaust_waits, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->waiting, 1, memory_order_relaxed);
    int rc;
    for (;;) {
        uint64_t ticket = evp_waitq_enter(&p->wq);
        if (ticket == EVP_WAITQ_NONE) {
            /* More than EVP_WAITQ_CELLS tickets pending: poll. */
            rc = evp_pool_find(p, c, lease);
            if (rc != EVP_EAGAIN && rc != EVP_EBUSY)
                break;
            uint64_t now = evp_clock_ns();
            if (now >= deadline) {
                rc = EVP_EAGAIN;
                break;
            }
            evp_pool_pause(deadline - now < 1000000u ? deadline - now : 1000000u);
            continue;
        }
        /* Look once more now that our ticket is visible (a return into
         * the depot after this point sees it; one before, we find). */
        uint32_t slot;
        rc = evp_pool_find(p, c, lease);
        if (rc == EVP_EAGAIN) {
            /* A returner that parked in its own cache just before our
             * ticket became visible to it may have missed us: the remote
             * fence settles that (after it, every owner sees the ticket,
             * and we see every put before it). It costs a membarrier
             * (microseconds), so it runs only after a first sleep of up to
             * EVP_POOL_FENCE_AFTER_NS: a hand-off usually comes first. */
            int got = evp_waitq_sleep(&p->wq, ticket, evp_clock_ns() + EVP_POOL_FENCE_AFTER_NS, deadline, &slot);
            if (got == 2) {
                evp_tcache_remote_fence();
                rc = evp_pool_find(p, c, lease);
                if (rc == EVP_EAGAIN)
                    got = evp_waitq_sleep(&p->wq, ticket, 0, deadline, &slot);
            }
            if (got == 1) {
                *lease = evp_pool_slot_lease(p, slot);
                rc = 0;
                break;
            }
            if (got == 0) {
                /* Timed out and cancelled: one last look, then give up. */
                rc = evp_pool_find(p, c, lease);
                if (rc == EVP_EBUSY)
                    rc = EVP_EAGAIN;
                break;
            }
        }
        if (rc == EVP_EBUSY) {
            /* Growth in progress: not exhausted. Leave the queue and look
             * again shortly. */
            if (evp_waitq_cancel(&p->wq, ticket, &slot)) {
                *lease = evp_pool_slot_lease(p, slot);
                rc = 0;
                break;
            }
            evp_pool_pause(1000);
            continue;
        }
        /* Found one (or growth failed): the ticket is not needed. If a
         * returner served it meanwhile, that event is ours too. */
        if (evp_waitq_cancel(&p->wq, ticket, &slot)) {
            uint64_t extra = evp_pool_slot_lease(p, slot);
            if (rc != 0) {
                *lease = extra;
                rc = 0;
            } else if (!evp_tcache_put(c, extra)) {
                evp_tcache_release(&p->home, &extra, 1);
            }
        }
        break;
    }
    atomic_fetch_sub_explicit(&p->waiting, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->exhaust_wait_ns, evp_clock_ns() - t0, memory_order_relaxed);
    return rc;
}

/* EVPOOL_ON_EXHAUST=fail: EVP_EAGAIN only if, at one instant during the
 * call, every event existed and was held by a caller: leases minus returns,
 * from a validated double collect of the per-thread counters, equals max.
 * (A return is counted before its event becomes visible anywhere; a lease
 * after its event left every container: an event between containers counts
 * as free, never as held.) */
static bool evp_pool_all_held(evp_pool_t *p)
{
    if (atomic_load_explicit(&p->created, memory_order_acquire) < p->max)
        return false;
    return evp_tcache_outstanding(&p->home, &p->uncached_returns) >= p->max;
}

/* The caller's cache was empty. */
static int evp_pool_lease_slow(evp_pool_t *p, struct evp_tcache *c, evp_lease_t *out)
{
    uint64_t l;
    for (;;) {
        int rc = evp_pool_find(p, c, &l);
        if (rc == 0)
            break;
        if (rc != EVP_EAGAIN && rc != EVP_EBUSY)
            return rc;
        if (rc == EVP_EAGAIN && p->cfg.on_exhaust == EVP_EXHAUST_WAIT) {
            rc = evp_pool_wait(p, c, &l);
            if (rc == 0)
                break;
            if (rc == EVP_EAGAIN)
                atomic_fetch_add_explicit(&p->exhaust_fails, 1, memory_order_relaxed);
            return rc;
        }
        if (rc == EVP_EAGAIN && evp_pool_all_held(p)) {
            atomic_fetch_add_explicit(&p->exhaust_fails, 1, memory_order_relaxed);
            return EVP_EAGAIN;
        }
        /* Not every event is held: some are between two containers in
         * another thread's hands (or the pool is growing). Let it land. */
        sched_yield();
    }
    evp_tcache_count_leases(c, 1);
    evp_pool_hand_out(p, l);
    *out = l;
    if (__builtin_expect(evp_waitq_waiting(&p->wq), 0))
        evp_pool_serve(p, c); /* what we found may be more than we need */
    return 0;
}

int evp_pool_lease(evp_pool_t *p, evp_lease_t *out)
{
    if (!p || !out)
        return EVP_EINVAL;
    if (evp_pool_forked(p))
        return EVP_ENODEV;
    struct evp_tcache *c = evp_tcache_get(&p->home);
    if (!c)
        return EVP_ENOMEM;
    uint64_t l;
    if (__builtin_expect(evp_tcache_take(c, &l), 1)) {
        /* A parked lease is ready-made: its generation was advanced by the
         * return that parked it. */
        evp_tcache_count_leases(c, 1);
        evp_pool_hand_out(p, l);
        *out = l;
        return 0;
    }
    return evp_pool_lease_slow(p, c, out);
}

/* The return CAS (see evp_pool_return). 0 with *next (the lease's next
 * generation, free), EVP_EINVAL or EVP_ESTALE. */
static inline int evp_pool_release_slot(evp_pool_t *p, evp_lease_t lease, evp_lease_t *next)
{
    struct evp_slot *s = evp_pool_slot(p, lease);
    if (!s)
        return EVP_EINVAL;
    uint64_t gen = evp_lease_gen(lease);
    /* The one atomic decision of a return: only the holder of the current
     * generation, while it is leased, moves it on (to the next generation,
     * free). A double, stale or forged return fails here and touches
     * nothing else: a free slot's word has the leased bit clear, so even
     * its next lease, forged, does not match. Relaxed is enough for that;
     * the slot's data (the event's state) is handed to the next leaser by
     * the cache, the depot or the hand-off's release/acquire. */
    uint64_t expect = evp_word_leased(lease);
    if (__builtin_expect(!atomic_compare_exchange_strong_explicit(&s->word, &expect, evp_gen_next(gen) << 1,
                                                                  memory_order_relaxed, memory_order_relaxed),
                         0)) {
        atomic_fetch_add_explicit(&p->stale, 1, memory_order_relaxed);
        evp_debug("stale return: slot %u generation %llu (slot word %llx)", evp_lease_slot(lease),
                  (unsigned long long)gen, (unsigned long long)expect);
        return EVP_ESTALE;
    }
    *next = evp_lease_pack(evp_lease_slot(lease), evp_gen_next(gen));
    return 0;
}

/* Parks a freed lease (already counted as returned) in the owner's cache,
 * or past it when it is full. */
static inline void evp_pool_park(evp_pool_t *p, struct evp_tcache *c, evp_lease_t next)
{
    if (__builtin_expect(evp_tcache_put(c, next), 1))
        return;
    if (c->cap) {
        /* Over full: the oldest chain goes on (to waiters, else the depot);
         * the newest stay for the next leases. */
        evp_tcache_flush(&p->home, c, c->cap > p->batch ? c->cap - p->batch : 0);
        if (evp_tcache_put(c, next))
            return;
    }
    evp_tcache_release(&p->home, &next, 1);
}

/* After parking: the parked leases are visible before we look for waiters
 * (see evp_pool_wait), and waiters get them. */
static inline void evp_pool_after_park(evp_pool_t *p, struct evp_tcache *c)
{
    evp_tcache_owner_fence();
    if (__builtin_expect(evp_waitq_waiting(&p->wq), 0))
        evp_pool_serve(p, c);
}

/* A return without a cache (its allocation failed): the event must not be
 * lost. Counted (release) before it becomes visible. */
static void evp_pool_return_uncached(evp_pool_t *p, evp_lease_t next)
{
    atomic_fetch_add_explicit(&p->uncached_returns, 1, memory_order_release);
    evp_tcache_release(&p->home, &next, 1);
}

int evp_pool_return(evp_pool_t *p, evp_lease_t lease)
{
    if (!p)
        return EVP_EINVAL;
    if (evp_pool_forked(p))
        return EVP_ENODEV;
    evp_lease_t next;
    int rc = evp_pool_release_slot(p, lease, &next);
    if (rc)
        return rc;
    struct evp_tcache *c = evp_tcache_get(&p->home);
    if (__builtin_expect(!c, 0)) {
        evp_pool_return_uncached(p, next);
        return 0;
    }
    evp_tcache_count_returns(c, 1);
    evp_pool_park(p, c, next);
    evp_pool_after_park(p, c);
    return 0;
}

int evp_pool_lease_many(evp_pool_t *p, uint32_t n, evp_lease_t leases[])
{
    if (!p || (n && !leases))
        return EVP_EINVAL;
    if (evp_pool_forked(p))
        return EVP_ENODEV;
    if (n > p->max)
        return EVP_EINVAL;
    for (uint32_t i = 0; i < n; i++) {
        int rc = evp_pool_lease(p, &leases[i]);
        if (rc) {
            /* All or nothing: what we got goes back. */
            evp_pool_return_many(p, i, leases, NULL);
            for (uint32_t j = 0; j < n; j++)
                leases[j] = EVP_LEASE_NONE;
            return rc;
        }
    }
    return 0;
}

int evp_pool_return_many(evp_pool_t *p, uint32_t n, const evp_lease_t leases[], int results[])
{
    if (!p || (n && !leases))
        return EVP_EINVAL;
    if (evp_pool_forked(p))
        return EVP_ENODEV;
    struct evp_tcache *c = evp_tcache_get(&p->home);
    int refused = 0;
    for (uint32_t i = 0; i < n; i++) {
        evp_lease_t next;
        int rc = evp_pool_release_slot(p, leases[i], &next);
        if (results)
            results[i] = rc;
        if (rc) {
            refused++;
            continue;
        }
        if (!c) {
            evp_pool_return_uncached(p, next);
            continue;
        }
        evp_tcache_count_returns(c, 1);
        evp_pool_park(p, c, next);
    }
    if (c)
        evp_pool_after_park(p, c); /* once for the whole batch */
    return refused;
}

int evp_pool_thread_flush(evp_pool_t *p)
{
    if (!p)
        return EVP_EINVAL;
    if (evp_pool_forked(p))
        return EVP_ENODEV;
    struct evp_tcache *c = evp_tcache_get(&p->home);
    if (c)
        evp_tcache_flush(&p->home, c, 0);
    return 0;
}

/* The slot of a lease that is current (leased, this generation), or NULL
 * with *rc set. Acquire keeps our reads of the slot from moving above the
 * check. */
static struct evp_slot *evp_pool_current(evp_pool_t *p, evp_lease_t lease, int *rc)
{
    struct evp_slot *s = evp_pool_slot(p, lease);
    if (!s) {
        *rc = EVP_EINVAL;
        return NULL;
    }
    if (atomic_load_explicit(&s->word, memory_order_acquire) != evp_word_leased(lease)) {
        *rc = EVP_ESTALE;
        return NULL;
    }
    return s;
}

int evp_pool_record(evp_pool_t *p, evp_lease_t lease, void *stream)
{
    int rc;
    struct evp_slot *s = evp_pool_current(p, lease, &rc);
    if (!s)
        return rc;
    rc = p->be->record(s->ev, stream);
    /* Release pairs with the acquire load of rec in evp_pool_query. A
     * failed record leaves the lease with nothing recorded, so no poller
     * can mistake the untouched event for completed work. */
    atomic_store_explicit(&s->rec, rc == 0 ? evp_lease_gen(lease) : 0, memory_order_release);
    return rc;
}

int evp_pool_query(evp_pool_t *p, evp_lease_t lease)
{
    int rc;
    struct evp_slot *s = evp_pool_current(p, lease, &rc);
    if (!s)
        return rc;
    uint64_t gen = evp_lease_gen(lease);
    /* Acquire pairs with the release store of rec in evp_pool_record. */
    if (atomic_load_explicit(&s->rec, memory_order_acquire) != gen)
        rc = EVP_ENODATA;
    else
        rc = p->be->query(s->ev);
    /* Re-validate after reading rec and querying, on every answer: if the
     * lease was returned meanwhile, rec may already be its next holder's
     * (ENODATA would be a lie: this lease did record) and the event may
     * carry the next holder's recording. Either answer must then be
     * EVP_ESTALE. An RMW (adding 0) rather than a load because it cannot be
     * reordered before the query's reads, without a standalone fence (which
     * ThreadSanitizer does not model). */
    if (atomic_fetch_add_explicit(&s->word, 0, memory_order_acq_rel) != evp_word_leased(lease))
        return EVP_ESTALE;
    return rc;
}

int evp_pool_event(evp_pool_t *p, evp_lease_t lease, void **event)
{
    int rc;
    if (!event)
        return EVP_EINVAL;
    struct evp_slot *s = evp_pool_current(p, lease, &rc);
    if (!s)
        return rc;
    *event = s->ev;
    return 0;
}

void evp_pool_stats(evp_pool_t *p, evp_pool_stats_t *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!p)
        return;
    /* Acquire pairs with the release append in evp_tcache_attach. */
    for (struct evp_tcache *c = atomic_load_explicit(&p->home.list, memory_order_acquire); c; c = c->next) {
        out->leases += atomic_load_explicit(&c->leases, memory_order_relaxed);
        out->returns += atomic_load_explicit(&c->returns, memory_order_relaxed);
    }
    out->returns += atomic_load_explicit(&p->uncached_returns, memory_order_relaxed);
    out->waiting = atomic_load_explicit(&p->waiting, memory_order_relaxed);
    out->outstanding = out->leases >= out->returns ? out->leases - out->returns : 0;
    out->high_water = atomic_load_explicit(&p->high_water, memory_order_relaxed);
    out->exhaust_waits = atomic_load_explicit(&p->exhaust_waits, memory_order_relaxed);
    out->exhaust_wait_ns = atomic_load_explicit(&p->exhaust_wait_ns, memory_order_relaxed);
    out->exhaust_fails = atomic_load_explicit(&p->exhaust_fails, memory_order_relaxed);
    out->events_created = atomic_load_explicit(&p->created, memory_order_acquire);
    out->events_destroyed = atomic_load_explicit(&p->destroyed, memory_order_relaxed);
    out->stale_returns = atomic_load_explicit(&p->stale, memory_order_relaxed);
    out->steals = atomic_load_explicit(&p->steals, memory_order_relaxed);
}

void evp_pool_config(const evp_pool_t *p, evp_config_t *out)
{
    if (!out)
        return;
    if (p)
        *out = p->cfg;
    else
        memset(out, 0, sizeof *out);
}

int evp_pool_device(const evp_pool_t *p)
{
    return p ? p->device : EVP_EINVAL;
}

const char *evp_pool_backend(const evp_pool_t *p)
{
    return p ? p->be->name : "none";
}

/* Frees what evp_pool_create allocated; events must be gone already. */
static void evp_pool_free(evp_pool_t *p)
{
    evp_waitq_fini(&p->wq);
    evp_depot_fini(&p->depot);
    pthread_mutex_destroy(&p->grow_mu);
    free(p->slots_mem);
    free(p);
}

static int evp_pool_destroy_events(evp_pool_t *p, uint32_t n)
{
    int rc = 0;
    for (uint32_t i = 0; i < n; i++) {
        int r = p->be->destroy(p->device, p->slots[i].ev);
        if (r && !rc)
            rc = r;
        atomic_fetch_add_explicit(&p->destroyed, 1, memory_order_relaxed);
    }
    return rc;
}

int evp_pool_create(int device, const evp_config_t *cfg, evp_pool_t **out)
{
    char err[512];
    evp_config_t c;
    if (!out)
        return EVP_EINVAL;
    if (cfg) {
        c = *cfg;
        if (evp_config_validate(&c, err, sizeof err) != 0) {
            evp_error("invalid configuration: %s", err);
            return EVP_EINVAL;
        }
    } else {
        evp_config_init(&c);
        if (evp_config_load_env(&c, err, sizeof err) != 0) {
            evp_error("invalid configuration: %s", err);
            return EVP_EINVAL;
        }
    }
    evp_log_set_level(c.log);
    const struct evp_backend *be;
    int rc = evp_backend_resolve(c.backend, &be);
    if (rc)
        return rc;
    int count = be->device_count(err, sizeof err);
    if (count < 0)
        return count;
    if (device < 0 || device >= count) {
        evp_error("device %d out of range: the %s backend has %d device(s)", device, be->name, count);
        return EVP_ENODEV;
    }

    evp_pool_t *p = aligned_alloc(64, (sizeof *p + 63) & ~(size_t)63);
    if (!p)
        return EVP_ENOMEM;
    memset(p, 0, sizeof *p);
    p->be = be;
    p->device = device;
    p->cfg = c;
    p->max = c.max;
    p->seed = evp_pool_seed(p);
    p->epoch = atomic_load_explicit(&evp_fork_epoch, memory_order_relaxed);
    p->batch = c.thread_cache / 2 ? c.thread_cache / 2 : 1;
    /* One depot chain; rows cost max x batch x 8 bytes of (lazily touched)
     * memory, so larger caches still move at most this many per claim. */
    if (p->batch > EVP_BATCH_MAX)
        p->batch = EVP_BATCH_MAX;
    /* calloc: slots of events not yet created stay untouched zero pages
     * (a zero word is not leased: it matches no lease). Aligned by hand to a cache line. */
    p->slots_mem = calloc((size_t)p->max + 1, sizeof(struct evp_slot));
    if (!p->slots_mem || evp_depot_init(&p->depot, c.depot, p->max, p->batch) != 0) {
        free(p->slots_mem);
        free(p);
        return EVP_ENOMEM;
    }
    if (evp_waitq_init(&p->wq) != 0) {
        evp_depot_fini(&p->depot);
        free(p->slots_mem);
        free(p);
        return EVP_ENOMEM;
    }
    p->slots = (struct evp_slot *)(((uintptr_t)p->slots_mem + 63) & ~(uintptr_t)63);
    pthread_mutex_init(&p->grow_mu, NULL);

    uint32_t i = 0;
    for (; i < c.size; i++)
        if ((rc = evp_pool_slot_init(p, i)) != 0)
            break;
    if (rc == 0)
        rc = evp_tcache_home_init(&p->home, c.thread_cache, p->batch, &p->depot, &p->wq);
    if (rc) {
        evp_error("pool for device %d not created: %s", device, evp_strerror(rc));
        evp_pool_destroy_events(p, i);
        evp_pool_free(p);
        return rc;
    }
    atomic_store_explicit(&p->created, c.size, memory_order_relaxed);
    /* All `size` events go to the depot, as their first leases. */
    uint64_t chain[EVP_BATCH_MAX];
    for (uint32_t at = 0; at < c.size; at += p->batch) {
        uint32_t k = c.size - at < p->batch ? c.size - at : p->batch;
        for (uint32_t j = 0; j < k; j++)
            chain[j] = evp_pool_first_lease(p, at + j);
        evp_depot_push(&p->depot, at, chain, k);
    }
    evp_info("pool for device %d: backend %s, %u events (max %u), thread cache %u, on exhaustion %s",
             device, be->name, c.size, c.max, c.thread_cache,
             c.on_exhaust == EVP_EXHAUST_WAIT ? "wait" : "fail");
    *out = p;
    return 0;
}

static void evp_pool_mark_chain(const uint64_t *leases, uint32_t n, void *arg)
{
    for (uint32_t i = 0; i < n; i++)
        ((uint8_t *)arg)[evp_lease_slot(leases[i])] = 1;
}

static void evp_pool_mark_one(uint64_t lease, void *arg)
{
    evp_pool_mark_chain(&lease, 1, arg);
}

int evp_pool_destroy(evp_pool_t *p, evp_pool_stats_t *final)
{
    if (!p)
        return EVP_EINVAL;
    /* First stop thread-exit flushes into this pool; then nothing moves. */
    evp_tcache_home_detach(&p->home);
    uint32_t created = atomic_load_explicit(&p->created, memory_order_acquire);
    evp_pool_stats_t st;
    evp_pool_stats(p, &st);
    if (evp_pool_forked(p)) {
        /* A child of fork() freeing its copy of a parent's pool: the events
         * belong to the parent (on CUDA, to its context): free the memory
         * only. */
        if (final)
            *final = st;
        evp_tcache_home_fini(&p->home);
        evp_pool_free(p);
        return 0;
    }

    /* A leased slot is in neither the depot nor a cache. */
    uint8_t *is_free = calloc(created ? created : 1, 1);
    if (is_free) {
        evp_depot_walk(&p->depot, evp_pool_mark_chain, is_free);
        evp_tcache_walk(&p->home, evp_pool_mark_one, is_free);
        st.outstanding = 0;
        for (uint32_t j = 0; j < created; j++) {
            if (is_free[j])
                continue;
            st.outstanding++;
            evp_debug("pool device %d: slot %u still leased at teardown (generation %llu)", p->device, j,
                      (unsigned long long)(atomic_load_explicit(&p->slots[j].word, memory_order_relaxed) >> 1));
        }
        free(is_free);
    }
    if (st.outstanding)
        evp_warn("pool device %d destroyed with %llu lease(s) never returned (EVPOOL_LOG=debug lists the slots)",
                 p->device, (unsigned long long)st.outstanding);

    int rc = evp_pool_destroy_events(p, created);
    st.events_destroyed = atomic_load_explicit(&p->destroyed, memory_order_relaxed);
    if (final)
        *final = st;
    evp_tcache_home_fini(&p->home);
    evp_pool_free(p);
    return rc;
}
