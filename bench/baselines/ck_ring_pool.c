/* SPDX-License-Identifier: Apache-2.0 */
/* Baseline: a Concurrency Kit ck_ring MPMC ring as the free list, the
 * lock-free pool most people would write first. Items are slot ids
 * 1..capacity; the same capacity as evpool's pool in the pattern runs.
 *
 * ck_ring_enqueue_mpmc reserves a slot with a CAS on p_head, fills it, then
 * spins until p_tail reaches its slot before publishing: a producer
 * preempted between the two stalls every later producer for its time
 * slice. That is why this baseline may not finish when threads outnumber
 * cores, and why every run is bounded by the deadline (evb_run.h). */
#include <ck_ring.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../evb_patterns.h"
#include "../evb_suite.h"

typedef struct evb_ck_pool {
    struct ck_ring ring;     /* first: aligned_alloc gives it its cache line */
    ck_ring_buffer_t *slots; /* [ring size], owned */
    uint32_t capacity;
} evb_ck_pool;

static int evb_ck_create(const evb_impl_params *p, void **out, char *err, size_t len)
{
    /* A ck_ring of size n holds n - 1 entries: the next power of two above
     * the capacity holds all of it. */
    unsigned size = 2;
    while (size - 1u < p->capacity)
        size <<= 1;
    evb_ck_pool *pool = aligned_alloc(64, sizeof *pool);
    ck_ring_buffer_t *slots = aligned_alloc(64, sizeof *slots * size);
    if (!pool || !slots) {
        free(pool);
        free(slots);
        snprintf(err, len, "out of memory for a ck_ring of %u", size);
        return -1;
    }
    memset(pool, 0, sizeof *pool);
    memset(slots, 0, sizeof *slots * size);
    ck_ring_init(&pool->ring, size);
    pool->slots = slots;
    pool->capacity = p->capacity;
    for (uintptr_t id = 1; id <= p->capacity; id++)
        ck_ring_enqueue_mpmc(&pool->ring, slots, (void *)id);
    *out = pool;
    return 0;
}

static inline int evb_ck_lease(void *p, uint64_t *item)
{
    evb_ck_pool *pool = p;
    void *v;
    if (!ck_ring_dequeue_mpmc(&pool->ring, pool->slots, &v))
        return EVB_EMPTY;
    *item = (uintptr_t)v;
    return 0;
}

static inline int evb_ck_ret(void *p, uint64_t item)
{
    evb_ck_pool *pool = p;
    /* Cannot be full: the ring holds every id at once. */
    return ck_ring_enqueue_mpmc(&pool->ring, pool->slots, (void *)(uintptr_t)item) ? 0 : -ENOSPC;
}

static const char *evb_ck_error_name(int rc)
{
    return rc == -ENOSPC ? "ring full (an id was returned twice)" : strerror(-rc);
}

/* Single-threaded, after the run: every id 1..capacity exactly once. */
static int evb_ck_check(void *p, uint64_t leases, char *err, size_t len)
{
    evb_ck_pool *pool = p;
    unsigned n = ck_ring_size(&pool->ring);
    if (n != pool->capacity) {
        snprintf(err, len, "ck_ring holds %u ids, capacity %u", n, pool->capacity);
        return -1;
    }
    unsigned char *seen = calloc(pool->capacity + 1u, 1);
    if (!seen) {
        snprintf(err, len, "out of memory for the check");
        return -1;
    }
    int rc = 0;
    for (unsigned i = 0; i < n; i++) {
        void *v = NULL;
        if (!ck_ring_dequeue_mpmc(&pool->ring, pool->slots, &v)) {
            snprintf(err, len, "ck_ring emptied early at %u of %u", i, n);
            rc = -1;
            break;
        }
        uintptr_t id = (uintptr_t)v;
        if (id == 0 || id > pool->capacity || seen[id]++) {
            snprintf(err, len, "ck_ring holds id %lu twice or out of range", (unsigned long)id);
            rc = -1;
        }
        ck_ring_enqueue_mpmc(&pool->ring, pool->slots, v);
    }
    free(seen);
    return rc;
}

static const char *evb_ck_label(void *p)
{
    (void)p;
    return "ck_ring_mpmc free list";
}

static void evb_ck_destroy(void *p)
{
    evb_ck_pool *pool = p;
    free(pool->slots);
    free(pool);
}

static const evb_impl evb_ck_impl = {
    .name = "ck_ring_mpmc",
    .create = evb_ck_create,
    .lease = evb_ck_lease,
    .ret = evb_ck_ret,
    .error_name = evb_ck_error_name,
    .check = evb_ck_check,
    .label = evb_ck_label,
    .destroy = evb_ck_destroy,
};

EVB_DEFINE_PATTERNS(ck_ring, &evb_ck_impl)

void evb_ck_ring_register(void)
{
    evb_impl_params p = {.capacity = EVB_POOL_CAPACITY};
    evb_ck_ring_register_patterns("ck_ring_mpmc", &p);
}
