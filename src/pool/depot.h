/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — the depot: where free leases shared by all threads wait, as
 * chains (a thread cache refills or flushes one chain per claim).
 *
 * Two structures with one API, chosen per pool by EVPOOL_DEPOT:
 *   stack  the Treiber stack of chains (pool/stack.h): one CAS on one head
 *          per operation, LIFO (a refill gets the most recently returned,
 *          cache-warm chain); the default;
 *   ring   Nikolaev's SCQ of chains (pool/ring.h): fetch-and-add tickets,
 *          so contended threads do not retry, FIFO.
 * Both are lock-free, never full (every node is in at most once) and give
 * the pool what it relies on: push and pop are seq_cst operations in one
 * total order with the wait queue's (a waiter that enqueued before looking
 * finds a chain pushed before its look; a returner that pushed after it
 * sees the waiter), and pop answers empty only if no chain was in it at
 * its linearization point (the ring's proof covers its two ordinary empty
 * answers; its livelock guard rests on the SCQ paper, see ring.h).
 *
 * The dispatch is a predictable branch per chain (not per lease): a refill
 * moves up to a whole batch. */
#ifndef EVPOOL_SRC_POOL_DEPOT_H
#define EVPOOL_SRC_POOL_DEPOT_H

#include "evpool/config.h"
#include "pool/ring.h"
#include "pool/stack.h"

struct evp_depot {
    union {
        struct evp_stack stack;
        struct evp_ring ring;
    };
    evp_depot_kind_t kind; /* constant after init */
};

/* cap nodes, chains of 1..width values. 0, EVP_EINVAL, EVP_ENOMEM. */
static inline int evp_depot_init(struct evp_depot *d, evp_depot_kind_t kind, uint32_t cap, uint32_t width)
{
    d->kind = kind;
    return kind == EVP_DEPOT_RING ? evp_ring_init(&d->ring, cap, width) : evp_stack_init(&d->stack, cap, width);
}

static inline void evp_depot_fini(struct evp_depot *d)
{
    if (d->kind == EVP_DEPOT_RING)
        evp_ring_fini(&d->ring);
    else
        evp_stack_fini(&d->stack);
}

/* Pushes vals[0..n) as one chain in node's row; the caller owns node. */
static inline void evp_depot_push(struct evp_depot *d, uint32_t node, const uint64_t *vals, uint32_t n)
{
    if (d->kind == EVP_DEPOT_RING)
        evp_ring_push(&d->ring, node, vals, n);
    else
        evp_stack_push(&d->stack, node, vals, n);
}

/* Pops one chain into vals[] (room for width): its length, 0 when empty. */
static inline uint32_t evp_depot_pop(struct evp_depot *d, uint64_t *vals)
{
    return d->kind == EVP_DEPOT_RING ? evp_ring_pop(&d->ring, vals) : evp_stack_pop(&d->stack, vals);
}

/* Values in the depot: a gauge (relaxed), not synchronized with it. */
static inline int64_t evp_depot_items(struct evp_depot *d)
{
    return atomic_load_explicit(d->kind == EVP_DEPOT_RING ? &d->ring.items : &d->stack.items,
                                memory_order_relaxed);
}

/* Every chain; not thread-safe (teardown and tests). */
static inline void evp_depot_walk(struct evp_depot *d, void (*fn)(const uint64_t *vals, uint32_t n, void *arg),
                                  void *arg)
{
    if (d->kind == EVP_DEPOT_RING)
        evp_ring_walk(&d->ring, fn, arg);
    else
        evp_stack_walk(&d->stack, fn, arg);
}

#endif
