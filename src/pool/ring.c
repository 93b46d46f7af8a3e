/* SPDX-License-Identifier: Apache-2.0 */
/* The SCQ ring depot: see ring.h for the algorithm's contract. The comments
 * here name, for every atomic, what it pairs with. */
#include "pool/ring.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "evpool/error.h"

#ifdef EVP_RING_TEST_HOOK
#define EVP_RING_HOOK(r, at) evp_ring_test_hook((r), (at))
#else
#define EVP_RING_HOOK(r, at) ((void)0)
#endif

/* 2n >= 128 entries: remap has at least 16 lines to spread over, and the
 * threshold (3n-1 >= 191) leaves room for many threads' in-flight tickets. */
#define EVP_RING_ORDER_MIN 6u

static inline uint64_t evp_ring_bot(const struct evp_ring *r)
{
    return (UINT64_C(1) << (r->order + 1)) - 1;
}

static inline uint64_t evp_ring_safe(const struct evp_ring *r)
{
    return UINT64_C(1) << (r->order + 1);
}

/* The cycle of ticket t, in the entries' 62-order bits. */
static inline uint64_t evp_ring_cycle(const struct evp_ring *r, uint64_t t)
{
    return (t << 1) >> (r->order + 2);
}

static inline uint64_t evp_ring_ecycle(const struct evp_ring *r, uint64_t e)
{
    return e >> (r->order + 2);
}

static inline uint64_t evp_ring_entry(const struct evp_ring *r, uint64_t cycle, uint64_t safe, uint64_t index)
{
    return (cycle << (r->order + 2)) | safe | index;
}

/* cache_remap: consecutive tickets go to consecutive lines (8 entries a
 * line), so neighbouring operations do not fight over one line. */
static inline _Atomic uint64_t *evp_ring_slot(const struct evp_ring *r, uint64_t t)
{
    uint32_t lines_log = r->order - 2; /* 2n / 8 lines */
    uint64_t i = t & ((UINT64_C(2) << r->order) - 1);
    uint64_t lines_mask = (UINT64_C(1) << lines_log) - 1;
    return &r->entries[((i & lines_mask) << 3) | (i >> lines_log)];
}

int evp_ring_init(struct evp_ring *r, uint32_t cap, uint32_t width)
{
    if (cap == 0 || cap >= (UINT32_C(1) << 24) || width == 0 || width > EVP_STACK_WIDTH_MAX)
        return EVP_EINVAL;
    uint32_t order = EVP_RING_ORDER_MIN;
    while ((UINT32_C(1) << order) < cap)
        order++;
    size_t nent = (size_t)2 << order;
    r->entries = aligned_alloc(64, nent * sizeof *r->entries);
    r->len = calloc(cap, sizeof *r->len);
    /* Rows: calloc, aligned by hand to a line, as in stack.c. */
    r->rows_mem = calloc((size_t)cap * width + 8, sizeof(uint64_t));
    if (!r->entries || !r->len || !r->rows_mem) {
        free((void *)r->entries);
        free(r->len);
        free(r->rows_mem);
        return EVP_ENOMEM;
    }
    r->rows = (uint64_t *)(((uintptr_t)r->rows_mem + 63) & ~(uintptr_t)63);
    r->cap = cap;
    r->width = width;
    r->order = order;
    r->thr_max = 3 * ((int64_t)1 << order) - 1;
    /* Cycle 0, safe, empty; the first tickets (2n) are cycle 1. */
    for (size_t i = 0; i < nent; i++)
        atomic_init(&r->entries[i], evp_ring_entry(r, 0, evp_ring_safe(r), evp_ring_bot(r)));
    atomic_init(&r->head, nent);
    atomic_init(&r->tail, nent);
    atomic_init(&r->threshold, -1);
    atomic_init(&r->items, 0);
    return 0;
}

void evp_ring_fini(struct evp_ring *r)
{
    free((void *)r->entries);
    free(r->len);
    free(r->rows_mem);
    r->entries = NULL;
    r->len = NULL;
    r->rows_mem = r->rows = NULL;
}

/* Tries to put node at ticket t. False when the entry cannot take it: a pop
 * already passed t (cycle moved on, or the entry is unsafe and head > t), or
 * a chain of an older cycle still sits there. */
static bool evp_ring_put(struct evp_ring *r, uint64_t t, uint32_t node)
{
    _Atomic uint64_t *slot = evp_ring_slot(r, t);
    uint64_t cycle = evp_ring_cycle(r, t), bot = evp_ring_bot(r), safe = evp_ring_safe(r);
    /* Acquire pairs with the release of a pop's marking CAS in
     * evp_ring_take (directly or through the consuming OR, an RMW, which
     * continues its release sequence): seeing an entry marked unsafe, we
     * see that pop's head FAA too, so the head check below is not stale. */
    uint64_t e = atomic_load_explicit(slot, memory_order_acquire);
    for (;;) {
        if (evp_ring_ecycle(r, e) >= cycle || (e & bot) != bot)
            return false;
        /* Unsafe: a pop of a later cycle passed while an older chain sat
         * here. Usable only if the pop of ticket t has not come yet. Relaxed:
         * the acquire above made every head FAA that matters visible. */
        if (!(e & safe) && atomic_load_explicit(&r->head, memory_order_relaxed) > t)
            return false;
        /* seq_cst (release part): pairs with the acquire entry load in
         * evp_ring_take, publishing len[node] and the row. In S: the
         * "empty" statement in ring.h orders pushes by this CAS. Failure
         * acquire: as the load above. */
        if (atomic_compare_exchange_weak_explicit(slot, &e, evp_ring_entry(r, cycle, safe, node),
                                                  memory_order_seq_cst, memory_order_acquire))
            return true;
    }
}

void evp_ring_push(struct evp_ring *r, uint32_t node, const uint64_t *vals, uint32_t n)
{
    assert(node < r->cap && n >= 1 && n <= r->width);
    /* The row and len[node] are ours until the entry CAS publishes them. */
    memcpy(&r->rows[(size_t)node * r->width], vals, n * sizeof *vals);
    r->len[node] = (uint8_t)n;
    for (;;) {
        /* seq_cst: a ticket in S (the "empty" statement, and catchup's CAS
         * on tail). Never full (ring.h): this loop ends. */
        uint64_t t = atomic_fetch_add_explicit(&r->tail, 1, memory_order_seq_cst);
        EVP_RING_HOOK(r, EVP_RING_AT_PUSH_TICKET);
        if (evp_ring_put(r, t, node))
            break;
    }
    EVP_RING_HOOK(r, EVP_RING_AT_PUSH_DONE);
    /* Reset the threshold, writing its line only after a pop wasted a
     * ticket. The load is relaxed: a stale 3n-1 means a decrement we did
     * not see, which comes after our CAS in S and is covered by the paper's
     * bound. The store is seq_cst so that it is in S: a pop that starts
     * after this push returns does not read an older negative value. */
    if (atomic_load_explicit(&r->threshold, memory_order_relaxed) != r->thr_max)
        atomic_store_explicit(&r->threshold, r->thr_max, memory_order_seq_cst);
    /* A gauge (ring.h): relaxed. */
    atomic_fetch_add_explicit(&r->items, n, memory_order_relaxed);
}

/* Reads ticket h's entry. Returns the node found there (now consumed), or
 * -1 after making sure no push can still put a chain at h. */
static int64_t evp_ring_take(struct evp_ring *r, uint64_t h)
{
    _Atomic uint64_t *slot = evp_ring_slot(r, h);
    uint64_t cycle = evp_ring_cycle(r, h), bot = evp_ring_bot(r), safe = evp_ring_safe(r);
    /* Acquire pairs with the seq_cst (release) CAS in evp_ring_put that
     * wrote the node: its len and row are visible. A later pop's marking
     * CAS keeps the value's node, and as an RMW it continues that release
     * sequence. */
    uint64_t e = atomic_load_explicit(slot, memory_order_acquire);
    for (;;) {
        uint64_t ecycle = evp_ring_ecycle(r, e);
        if (ecycle == cycle) {
            /* Ours: only the pop of ticket h consumes a cycle-h chain. Sets
             * index to BOT, keeping cycle and safe (a later pop may have
             * cleared safe meanwhile). Relaxed: it publishes nothing (the
             * node is ours now, its row is read after); as an RMW it still
             * carries the release sequences evp_ring_put relies on. */
            atomic_fetch_or_explicit(slot, bot, memory_order_relaxed);
            return (int64_t)(e & bot);
        }
        if (ecycle > cycle)
            return -1; /* lapped: a later cycle owns the entry */
        /* Older cycle. Empty: move it to our cycle so that the push holding
         * ticket h (if any) fails its CAS. Holding an older chain (its pop
         * is late): clear safe, so that no push of our cycle uses the entry
         * once that chain leaves, unless head shows our ticket not taken. */
        uint64_t want = (e & bot) == bot ? evp_ring_entry(r, cycle, e & safe, bot) : e & ~safe;
        /* Release pairs with the acquire entry load/CAS failure in
         * evp_ring_put: a push that sees this mark sees our head FAA. Done
         * even when want == e (already unsafe): the release is needed, the
         * earlier mark published an older head. Failure acquire: the retry
         * may consume a node just written (as the load above). */
        if (atomic_compare_exchange_weak_explicit(slot, &e, want, memory_order_release, memory_order_acquire))
            return -1;
    }
}

/* SCQ's catchup: pops ran past tail; move tail up to head so that pushes
 * stop taking tickets pops have already passed. */
static void evp_ring_catchup(struct evp_ring *r, uint64_t t, uint64_t h)
{
    /* seq_cst: tail's modifications stay in S. A failed CAS reloads t. */
    while (!atomic_compare_exchange_weak_explicit(&r->tail, &t, h, memory_order_seq_cst, memory_order_seq_cst)) {
        h = atomic_load_explicit(&r->head, memory_order_seq_cst);
        if (t >= h)
            break;
    }
}

/* Empty check (1) of ring.h, loads only: head first, then tail. If tail <=
 * the head we read, then at the tail load head >= tail: every ticket below
 * tail is taken by a pop. seq_cst: both loads in S. */
static bool evp_ring_drained(struct evp_ring *r)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_seq_cst);
    return atomic_load_explicit(&r->tail, memory_order_seq_cst) <= h;
}

uint32_t evp_ring_pop(struct evp_ring *r, uint64_t *vals)
{
    /* seq_cst: in S with the push's reset store (pairs with it: a pop after
     * a completed push does not see an older negative value). */
    int64_t thr = atomic_load_explicit(&r->threshold, memory_order_seq_cst);
    if (thr < 0)
        return 0; /* (3) */
    /* A ticket was wasted since the last push: the ring may well be empty;
     * check with loads before writing head. */
    if (thr != r->thr_max && evp_ring_drained(r))
        return 0; /* (1) */
    for (;;) {
        /* seq_cst: a ticket in S (the "empty" statement). */
        uint64_t h = atomic_fetch_add_explicit(&r->head, 1, memory_order_seq_cst);
        EVP_RING_HOOK(r, EVP_RING_AT_POP_TICKET);
        int64_t node = evp_ring_take(r, h);
        if (node >= 0) {
            EVP_RING_HOOK(r, EVP_RING_AT_POP_TAKEN);
            /* len and row: made visible by evp_ring_take's acquire load. */
            uint32_t n = r->len[node];
            memcpy(vals, &r->rows[(size_t)node * r->width], n * sizeof *vals);
            /* A gauge (ring.h): relaxed. */
            atomic_fetch_sub_explicit(&r->items, n, memory_order_relaxed);
            return n;
        }
        EVP_RING_HOOK(r, EVP_RING_AT_POP_MISSED);
        /* seq_cst: in S after our head FAA (the "empty" statement). */
        uint64_t t = atomic_load_explicit(&r->tail, memory_order_seq_cst);
        if (t <= h + 1) {
            if (t < h + 1)
                evp_ring_catchup(r, t, h + 1);
            /* seq_cst: in S with the pushes' resets. */
            atomic_fetch_sub_explicit(&r->threshold, 1, memory_order_seq_cst);
            return 0; /* (2) */
        }
        if (atomic_fetch_sub_explicit(&r->threshold, 1, memory_order_seq_cst) <= 0)
            return 0; /* (4) */
    }
}

void evp_ring_walk(struct evp_ring *r, void (*fn)(const uint64_t *vals, uint32_t n, void *arg), void *arg)
{
    /* Quiescent: every chain in the ring has a ticket >= head, and each
     * entry holds at most one. Oldest first from head's position. */
    uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    uint64_t bot = evp_ring_bot(r), nent = UINT64_C(2) << r->order;
    for (uint64_t i = 0; i < nent; i++) {
        uint64_t e = atomic_load_explicit(evp_ring_slot(r, h + i), memory_order_acquire);
        uint64_t node = e & bot;
        if (node != bot)
            fn(&r->rows[(size_t)node * r->width], r->len[node], arg);
    }
}
