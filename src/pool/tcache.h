/* evpool — per-thread caches of free events, and their reclaim.
 *
 * A "home" (one per pool) owns a list of caches, one per thread that used
 * the pool. A cache parks up to `cap` free events — as the ready-made lease
 * each will be handed out as — so that a lease or a return touches only the
 * calling thread's cache line (the rte_mempool lesson); a return feeds the
 * next lease of the same thread.
 *
 * Ownership: the home allocates caches and frees them all in
 * evp_tcache_home_fini. A cache belongs to one live thread at a time; when
 * the thread exits its cache is flushed through the home's flush callback
 * and left as an orphan that the next new thread adopts.
 *
 * Reclaim (steal). An exhausted leaser may take events parked in other threads'
 * caches, even of threads that have gone idle. The owner's fast path must
 * stay free of locked instructions, so the owner and a thief run an
 * asymmetric Dekker handshake:
 *
 *   owner: busy = 1; [compiler barrier]; if steal: back off to the home
 *          mutex; ...use the cache...; busy = 0 (release)
 *   thief: (holding the home mutex) steal = 1 on each victim;
 *          membarrier(PRIVATE_EXPEDITED); for each victim: if !busy, take.
 *
 * membarrier makes every running thread of the process execute a full
 * barrier, which stands in for the owner's missing StoreLoad fence: either
 * the thief sees busy == 1 (and skips that cache) or the owner sees
 * steal == 1 (and waits on the mutex). Where membarrier is not available,
 * or under ThreadSanitizer (which cannot see it), the owner uses a seq_cst
 * store and load instead: correct everywhere, one locked instruction more.
 */
#ifndef EVPOOL_SRC_POOL_TCACHE_H
#define EVPOOL_SRC_POOL_TCACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct evp_tcache {
    /* Owner in an operation. Written by the owner; read by thieves.
     * Release store on exit pairs with the thief's acquire load. */
    _Alignas(64) _Atomic uint32_t busy;
    /* A thief is at work. Written by thieves under the home mutex; read by
     * the owner on entry. Release store on clear pairs with that read. */
    _Atomic uint32_t steal;
    /* Leases parked in parked[0..n). Written by whoever is inside (owner or a
     * thief, never both: see the handshake); relaxed, read racily only as
     * a hint by thieves choosing victims. */
    _Atomic uint32_t n;
    uint32_t cap;
    /* Counters written only by the owner (plain increments through relaxed
     * atomics); read by evp_pool_stats at any time. */
    _Atomic uint64_t leases;
    _Atomic uint64_t returns;
    /* Home's list link, set before the cache is published (release) and
     * never changed; caches leave the list only in evp_tcache_home_fini. */
    struct evp_tcache *next;
    /* No live thread owns the cache (its thread exited). Under home->mu. */
    bool orphan;
    /* cap + 1 entries (a return may overfill by one before it flushes);
     * ordered by the handshake, not atomics. */
    uint64_t parked[];
};

struct evp_tcache_home {
    uint32_t idx;  /* slot in the thread-local table; unique among live homes */
    uint64_t uid;  /* never reused: tells a live home from a destroyed one */
    uint32_t cap;  /* leases parked per cache (0: caches only count) */
    /* Called with home->mu held when a cache's thread exits: must move all
     * of c's parked leases elsewhere and set c->n = 0. */
    void (*flush)(struct evp_tcache_home *home, struct evp_tcache *c);
    /* Head of the cache list. Release store on append pairs with the
     * acquire load of list walkers (stats, thieves). */
    _Atomic(struct evp_tcache *) list;
    /* Serializes thieves, owners diverted from their fast path, adoption of
     * orphans and thread-exit flushes. Never taken on the fast path. */
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
/* true: owner entry uses the membarrier handshake (no locked instruction). */
extern bool evp_tcache_asym;

/* Registers a home (idx, uid, empty list). 0, EVP_ENOMEM, or EVP_EBUSY when
 * too many homes are alive (EVP_TCACHE_HOMES_MAX). */
#define EVP_TCACHE_HOMES_MAX 1024
int evp_tcache_home_init(struct evp_tcache_home *home, uint32_t cap,
                         void (*flush)(struct evp_tcache_home *, struct evp_tcache *));
/* Stops thread-exit flushes into this home. After it returns no other
 * thread touches the home's caches through evpool; they stay readable. */
void evp_tcache_home_detach(struct evp_tcache_home *home);
/* Frees every cache of a detached home. */
void evp_tcache_home_fini(struct evp_tcache_home *home);

/* The calling thread's cache in home, attaching one (adopting an orphan or
 * allocating) on first use. NULL only on allocation failure. */
struct evp_tcache *evp_tcache_attach(struct evp_tcache_home *home);
static inline struct evp_tcache *evp_tcache_get(struct evp_tcache_home *home)
{
    struct evp_tls_tab *t = evp_tls;
    if (t && home->idx < t->n && t->e[home->idx].uid == home->uid)
        return t->e[home->idx].cache;
    return evp_tcache_attach(home);
}

/* Enters the owner's critical section on c. Returns true for the fast path
 * (leave with evp_tcache_exit(.., true)); false when a thief was at work:
 * the home mutex is then held (leave with evp_tcache_exit(.., false)). */
static inline bool evp_tcache_enter(struct evp_tcache_home *home, struct evp_tcache *c)
{
    if (evp_tcache_asym) {
        atomic_store_explicit(&c->busy, 1, memory_order_relaxed);
        /* Compiler barrier only: the thief's membarrier supplies the
         * StoreLoad ordering between busy = 1 and the load of steal. */
        atomic_signal_fence(memory_order_seq_cst);
    } else {
        /* seq_cst store/load pair with the thief's seq_cst store of steal
         * and load of busy (plain Dekker). */
        atomic_store_explicit(&c->busy, 1, memory_order_seq_cst);
    }
    /* seq_cst (a plain load on x86); acquire part pairs with the thief's
     * release store of steal = 0, publishing what it did to parked/n. */
    if (__builtin_expect(atomic_load_explicit(&c->steal, memory_order_seq_cst) == 0, 1))
        return true;
    atomic_store_explicit(&c->busy, 0, memory_order_release);
    pthread_mutex_lock(&home->mu);
    return false;
}

static inline void evp_tcache_exit(struct evp_tcache_home *home, struct evp_tcache *c, bool fast)
{
    if (fast)
        /* Release pairs with the thief's acquire load of busy: our writes
         * to parked/n are visible to a thief that then finds busy == 0. */
        atomic_store_explicit(&c->busy, 0, memory_order_release);
    else
        pthread_mutex_unlock(&home->mu);
}

/* Takes up to n leases parked in caches other than self (self may be
 * NULL). Takes the home mutex. Returns how many were written to out[]. */
uint32_t evp_tcache_steal(struct evp_tcache_home *home, struct evp_tcache *self,
                          uint64_t *out, uint32_t n);

#endif
