/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — per-thread caches of free events, and their reclaim.
 *
 * A "home" (one per pool) owns a list of caches, one per thread that used
 * the pool. A cache parks up to `cap` free events — as the ready-made lease
 * each will be handed out as — so that a lease or a return touches only the
 * calling thread's cache line (the rte_mempool lesson); a return feeds the
 * next lease of the same thread.
 *
 * A cache is a bounded Chase-Lev work-stealing deque (Chase & Lev, SPAA
 * 2005; the C11 form of Lê et al., PPoPP 2013): the owner puts and takes at
 * the bottom with plain loads and stores, thieves take from the top with a
 * CAS. A thief never waits for the owner and the owner never waits for a
 * thief, whatever either is doing (the old design made an owner block on a
 * mutex a thief held across membarrier). The owner's one StoreLoad ordering
 * (bottom store, then top load, in take) is made asymmetric: the owner has a
 * compiler barrier only, and a thief calls membarrier(PRIVATE_EXPEDITED)
 * between its load of top and its load of bottom, which runs a full barrier
 * on every running thread of the process. Where membarrier is unavailable,
 * and under ThreadSanitizer (which cannot see it), both sides use
 * atomic_thread_fence(seq_cst) instead: correct everywhere, one fence more
 * on the owner's path.
 *
 * Ownership: the home allocates caches and frees them all in
 * evp_tcache_home_fini. A cache belongs to one live thread at a time; when
 * the thread exits its cache is flushed (to waiters, then the depot) and
 * left as an orphan that the next new thread adopts.
 *
 * Counting: each cache carries its owner's lease and return counters,
 * monotonic and written only by the owner. evp_tcache_outstanding sums them
 * with a validated double collect; the pool's "fail" verdict relies on it.
 */
#ifndef EVPOOL_SRC_POOL_TCACHE_H
#define EVPOOL_SRC_POOL_TCACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pool/depot.h"
#include "pool/waitq.h"

#if defined(__SANITIZE_THREAD__)
#define EVP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EVP_TSAN 1
#endif
#endif

/* A full (StoreLoad) fence. ThreadSanitizer does not model standalone
 * fences (gcc refuses them under -fsanitize=thread): there both sides of
 * every pairing use a seq_cst RMW on one shared word instead, which orders
 * them the same way (whichever RMW comes second reads from, and so
 * synchronizes with, the first). */
#ifdef EVP_TSAN
extern _Atomic uint64_t evp_tcache_fence_word;
static inline void evp_fence_full(void)
{
    atomic_fetch_add_explicit(&evp_tcache_fence_word, 0, memory_order_seq_cst);
}
#else
static inline void evp_fence_full(void)
{
    atomic_thread_fence(memory_order_seq_cst);
}
#endif

struct evp_tcache {
    /* Owner's end. Written by the owner only (relaxed; release in put so a
     * thief that sees the new bottom sees the entry). */
    _Alignas(64) _Atomic uint64_t bottom;
    /* Thieves' end. Advanced only by CAS (thieves, and the owner taking
     * the last entry). Same line as bottom on purpose: thieves are rare,
     * and the owner reads it on every take. */
    _Atomic uint64_t top;
    /* Owner-only counters (relaxed stores; release orders a return's count
     * before the entry it puts becomes visible). Read by stats and by
     * evp_tcache_outstanding. */
    _Atomic uint64_t leases;
    _Atomic uint64_t returns;
    uint32_t cap;  /* entries the owner keeps at most */
    uint32_t mask; /* ring size - 1 (ring size: a power of two > cap) */
    /* Home's list link, set before the cache is published (release) and
     * never changed; caches leave the list only in evp_tcache_home_fini. */
    struct evp_tcache *next;
    /* No live thread owns the cache (its thread exited). Under home->mu. */
    bool orphan;
    /* The deque's entries (leases), indexed by position & mask. Relaxed:
     * ordered by bottom's release/acquire and by top's CAS. */
    _Alignas(64) _Atomic uint64_t ring[];
};

struct evp_tcache_home {
    uint32_t idx;   /* slot in the thread-local table; unique among live homes */
    uint64_t uid;   /* never reused: tells a live home from a destroyed one */
    uint32_t cap;   /* leases parked per cache (0: caches only count) */
    uint32_t batch; /* leases per depot chain */
    /* Where flushed leases go: the oldest waiter first, else the depot.
     * Both outlive the home (same owner: the pool). */
    struct evp_depot *depot;
    struct evp_waitq *wq;
    /* Head of the cache list. Release store on append pairs with the
     * acquire load of list walkers (stats, thieves, the verdict). */
    _Atomic(struct evp_tcache *) list;
    /* Serializes adoption of orphans, attaching and thread-exit flushes.
     * Never taken by lease, return or steal. */
    pthread_mutex_t mu;
};

struct evp_tls_ent {
    uint64_t uid;
    struct evp_tcache *cache;
};
struct evp_tls_tab {
    uint32_t n;
    struct evp_tls_ent e[];
};
/* This thread's caches, indexed by home->idx. Owned by the thread; freed by
 * the thread-exit destructor. */
extern __thread struct evp_tls_tab *evp_tls;
/* true: the membarrier handshake (no fence on the owner's path). */
extern bool evp_tcache_asym;

#define EVP_TCACHE_HOMES_MAX 1024
/* Registers a home (idx, uid, empty list). 0; EVP_ENOMEM (also when no
 * pthread key is left for the thread-exit flush: logged); EVP_EBUSY when
 * too many homes are alive (EVP_TCACHE_HOMES_MAX). */
int evp_tcache_home_init(struct evp_tcache_home *home, uint32_t cap, uint32_t batch,
                         struct evp_depot *depot, struct evp_waitq *wq);
/* Stops thread-exit flushes into this home. After it returns no other
 * thread touches the home's caches through evpool; they stay readable. */
void evp_tcache_home_detach(struct evp_tcache_home *home);
/* Frees every cache of a detached home. */
void evp_tcache_home_fini(struct evp_tcache_home *home);

/* The calling thread's cache in home, attaching one (adopting an orphan or
 * allocating, under home->mu) on first use. NULL only on allocation
 * failure. */
struct evp_tcache *evp_tcache_attach(struct evp_tcache_home *home);
static inline struct evp_tcache *evp_tcache_get(struct evp_tcache_home *home)
{
    struct evp_tls_tab *t = evp_tls;
    if (t && home->idx < t->n && t->e[home->idx].uid == home->uid)
        return t->e[home->idx].cache;
    return evp_tcache_attach(home);
}

/* The owner's StoreLoad point: after a store that makes something visible
 * (bottom), before a load that decides what to do (top, waiters). */
static inline void evp_tcache_owner_fence(void)
{
    if (evp_tcache_asym)
        atomic_signal_fence(memory_order_seq_cst); /* the thief's membarrier does the rest */
    else
        evp_fence_full();
}

/* The other side of evp_tcache_owner_fence, for thieves and waiters: every
 * owner's store before its fence point is visible after this returns, and
 * every owner's load after it sees what we stored before. */
void evp_tcache_remote_fence(void);

/* Owner: puts a lease at the bottom. false when the cache is full (cap
 * entries, or cap 0). */
static inline bool evp_tcache_put(struct evp_tcache *c, uint64_t lease)
{
    uint64_t b = atomic_load_explicit(&c->bottom, memory_order_relaxed);
    /* A stale top is smaller: we may think the cache fuller than it is
     * (harmless: we flush a little early), never emptier. */
    uint64_t t = atomic_load_explicit(&c->top, memory_order_relaxed);
    if (b - t >= c->cap)
        return false;
    atomic_store_explicit(&c->ring[b & c->mask], lease, memory_order_relaxed);
    /* Release pairs with the thief's acquire load of bottom: the entry is
     * written before it can be seen. */
    atomic_store_explicit(&c->bottom, b + 1, memory_order_release);
    return true;
}

/* Owner: takes the lease at the bottom. false when empty. */
static inline bool evp_tcache_take(struct evp_tcache *c, uint64_t *lease)
{
    uint64_t b = atomic_load_explicit(&c->bottom, memory_order_relaxed);
    if (b == atomic_load_explicit(&c->top, memory_order_relaxed))
        return false; /* empty (top never passes bottom) */
    b--;
    atomic_store_explicit(&c->bottom, b, memory_order_relaxed);
    evp_tcache_owner_fence();
    uint64_t t = atomic_load_explicit(&c->top, memory_order_relaxed);
    if (t > b) { /* a thief took the last one(s) meanwhile */
        atomic_store_explicit(&c->bottom, b + 1, memory_order_relaxed);
        return false;
    }
    *lease = atomic_load_explicit(&c->ring[b & c->mask], memory_order_relaxed);
    if (t == b) {
        /* The last entry: race thieves for it on top. */
        bool won = atomic_compare_exchange_strong_explicit(&c->top, &t, t + 1, memory_order_seq_cst,
                                                           memory_order_relaxed);
        atomic_store_explicit(&c->bottom, b + 1, memory_order_relaxed);
        return won;
    }
    return true;
}

/* Owner: counts a lease / a return. A return is counted before its lease
 * becomes visible in any container (the verdict must never count a free
 * event as held); a lease after its lease left every container. */
static inline void evp_tcache_count_leases(struct evp_tcache *c, uint64_t n)
{
    atomic_store_explicit(&c->leases, atomic_load_explicit(&c->leases, memory_order_relaxed) + n,
                          memory_order_relaxed);
}
static inline void evp_tcache_count_returns(struct evp_tcache *c, uint64_t n)
{
    /* Release: ordered before the put or push that follows. */
    atomic_store_explicit(&c->returns, atomic_load_explicit(&c->returns, memory_order_relaxed) + n,
                          memory_order_release);
}

/* Owner: pops one chain from the depot into the cache (keeping the first
 * lease out in *first). Returns how many leases the chain held (0: depot
 * empty). */
uint32_t evp_tcache_refill(struct evp_tcache_home *home, struct evp_tcache *c, uint64_t *first);

/* Owner: moves all but the `keep` newest entries out, oldest first: to
 * waiters first, the rest to the depot in chains. Returns how many. */
uint32_t evp_tcache_flush(struct evp_tcache_home *home, struct evp_tcache *c, uint32_t keep);

/* Sends leases[0..n) (not in any container) to waiters, then the depot. */
void evp_tcache_release(struct evp_tcache_home *home, const uint64_t *leases, uint32_t n);

/* Takes up to n leases from caches other than self (self may be NULL):
 * at most one per cache per round, one remote fence per round. Lock-free:
 * never waits for an owner or another thief. Returns how many. */
uint32_t evp_tcache_steal(struct evp_tcache_home *home, struct evp_tcache *self, uint64_t *out, uint32_t n);

/* Leases minus returns over every cache, as of one instant: a validated
 * double collect of the monotonic counters (retried until two collects
 * agree). extra_returns (may be NULL) is a counter kept outside the caches,
 * read inside both collects. */
uint64_t evp_tcache_outstanding(struct evp_tcache_home *home, _Atomic uint64_t *extra_returns);

/* Calls fn(lease, arg) for every entry parked in every cache. Not
 * thread-safe: teardown only. */
void evp_tcache_walk(struct evp_tcache_home *home, void (*fn)(uint64_t lease, void *arg), void *arg);

/* Bumped in the child of every fork() (pthread_atfork, registered with the
 * first home): pools remember the epoch they were created in and refuse
 * every call from another one. Relaxed loads: only the child's own thread
 * exists when it changes. */
extern _Atomic uint32_t evp_fork_epoch;

#endif
