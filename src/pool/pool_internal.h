/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — the pool's layout, shared by pool.c and device.c. */
#ifndef EVPOOL_SRC_POOL_POOL_INTERNAL_H
#define EVPOOL_SRC_POOL_POOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "evpool/pool.h"
#include "backend/backend.h"
#include "pool/depot.h"
#include "pool/tcache.h"
#include "pool/waitq.h"

#define EVP_LEASE_SLOT_BITS 24
#define EVP_LEASE_GEN_MASK ((UINT64_C(1) << 40) - 1)
/* Leases moved between a thread cache and the depot per claim (one depot
 * chain): half a cache, so a cache that just refilled can also absorb
 * returns; at most the depot's chain width. */
#define EVP_BATCH_MAX EVP_STACK_WIDTH_MAX

/* Slot word bit 0: the slot's current lease is in a caller's hands. */
#define EVP_SLOT_LEASED UINT64_C(1)

/* One event and its generation. A cache line each: slots leased by
 * different threads never share a line. */
struct evp_slot {
    /* {generation:40 | leased:1}: the generation of the lease that holds
     * (or will next hold) the slot, and whether a caller holds it now. 0
     * until the slot's event exists (0 is never a valid lease word). Only a
     * leased word validates a lease, so a free slot refuses every value,
     * including its own next lease forged in advance. Set to leased by
     * evp_pool_hand_out (the one thread that took the free lease out of a
     * container); moved on to the next generation, free, only by the
     * return CAS, which is what makes a second return of one lease fail. */
    _Alignas(64) _Atomic uint64_t word;
    /* Generation whose holder last recorded the event successfully: query
     * answers EVP_ENODATA unless rec == the lease's generation. Release
     * store in record pairs with the acquire load in query. */
    _Atomic uint64_t rec;
    /* Written once, before the slot is first published (depot push or the
     * release store of `created`); read-only until evp_pool_destroy, which
     * destroys it. */
    evp_event_t ev;
};

struct evp_pool {
    /* Read-only after creation. */
    const struct evp_backend *be;
    int device;
    uint32_t max, batch;
    uint64_t seed;           /* per-pool random generation base (getrandom) */
    uint32_t epoch;          /* evp_fork_epoch at creation: another one means a forked child */
    evp_config_t cfg;
    struct evp_slot *slots;  /* max entries (aligned into slots_mem) */
    void *slots_mem;         /* owned: freed by evp_pool_destroy */

    /* Free events not parked in caches, as chains of ready-made leases
     * (node = slot of the chain's first lease). */
    struct evp_depot depot;
    /* Leasers asleep until a return hands them an event (FIFO). */
    struct evp_waitq wq;
    struct evp_tcache_home home;   /* per-thread caches */

    /* Slots [0, created) own an event. Written under grow_mu; release store
     * pairs with the acquire load in evp_pool_grow's unlocked check, the
     * exhaustion verdict and destroy/stats. */
    _Alignas(64) _Atomic uint32_t created;
    pthread_mutex_t grow_mu; /* held only while creating one event; never waited for (trylock) */
    /* Most events out of the depot at once (leased or parked in caches):
     * created - depot.items, sampled on depot claims, never on the cache
     * fast path. */
    _Alignas(64) _Atomic uint64_t high_water;
    /* Slow-path counters (relaxed RMWs). */
    _Atomic uint64_t stale, exhaust_waits, exhaust_wait_ns, exhaust_fails, destroyed, steals;
    _Atomic uint32_t waiting; /* leasers inside evp_pool_wait now (stats) */
    /* Returns made without a thread cache (its allocation failed). Release
     * RMW before the event becomes visible; read by the verdict. */
    _Atomic uint64_t uncached_returns;
};

#endif
