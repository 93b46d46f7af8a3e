/* SPDX-License-Identifier: Apache-2.0 */
#include "pool/waitq.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/futex.h"
#include "evpool/error.h"

#define EVP_CELL_WAIT 0u
#define EVP_CELL_FILLED 1u
#define EVP_CELL_CANCELLED 2u
#define EVP_CELL_PAYLOAD_MASK ((UINT32_C(1) << 24) - 1)
#define EVP_WAITQ_LOG2 10 /* log2(EVP_WAITQ_CELLS) */

_Static_assert((1u << EVP_WAITQ_LOG2) == EVP_WAITQ_CELLS, "EVP_WAITQ_LOG2");

static inline uint32_t evp_lap(uint64_t t)
{
    return (uint32_t)(t >> EVP_WAITQ_LOG2);
}

static inline uint64_t evp_cell_word(uint32_t lap, uint32_t state, uint32_t payload)
{
    return ((uint64_t)lap << 32) | ((uint64_t)state << 24) | payload;
}

static inline uint32_t evp_cell_state(uint64_t w)
{
    return (uint32_t)(w >> 24) & 0xffu;
}

static inline struct evp_waitq_cell *evp_cell(struct evp_waitq *q, uint64_t t)
{
    return &q->cells[t & (EVP_WAITQ_CELLS - 1)];
}

int evp_waitq_init(struct evp_waitq *q)
{
    /* calloc: every cell is lap 0, WAIT, ready for tickets 0..CELLS-1. */
    q->cells = aligned_alloc(64, EVP_WAITQ_CELLS * sizeof *q->cells);
    if (!q->cells)
        return EVP_ENOMEM;
    for (uint32_t i = 0; i < EVP_WAITQ_CELLS; i++) {
        atomic_init(&q->cells[i].word, 0);
        atomic_init(&q->cells[i].fut, 0);
        atomic_init(&q->cells[i].sleeping, 0);
    }
    atomic_init(&q->tail, 0);
    atomic_init(&q->head, 0);
    return 0;
}

void evp_waitq_fini(struct evp_waitq *q)
{
    free(q->cells);
    q->cells = NULL;
}

uint64_t evp_waitq_enter(struct evp_waitq *q)
{
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    for (;;) {
        /* Acquire pairs with the release store that freed the cell for
         * this lap (evp_waitq_done): the previous ticket of the cell is
         * finished with it. */
        uint64_t w = atomic_load_explicit(&evp_cell(q, t)->word, memory_order_acquire);
        if (w != evp_cell_word(evp_lap(t), EVP_CELL_WAIT, 0)) {
            uint64_t now = atomic_load_explicit(&q->tail, memory_order_relaxed);
            if (now == t)
                return EVP_WAITQ_NONE; /* full: the cell's previous ticket is not passed yet */
            t = now;
            continue;
        }
        /* seq_cst: see evp_waitq.tail. */
        if (atomic_compare_exchange_weak_explicit(&q->tail, &t, t + 1, memory_order_seq_cst,
                                                  memory_order_relaxed))
            return t;
    }
}

/* The waiter of ticket t is finished with its cell: free it for the next lap
 * (ticket t + CELLS). Release pairs with evp_waitq_enter's acquire load. */
static void evp_waitq_done(struct evp_waitq *q, uint64_t t)
{
    /* Published by the release store of word below. */
    atomic_store_explicit(&evp_cell(q, t)->sleeping, 0, memory_order_relaxed);
    atomic_store_explicit(&evp_cell(q, t)->word, evp_cell_word(evp_lap(t) + 1, EVP_CELL_WAIT, 0),
                          memory_order_release);
}

int evp_waitq_cancel(struct evp_waitq *q, uint64_t t, uint32_t *payload)
{
    struct evp_waitq_cell *c = evp_cell(q, t);
    uint64_t w = evp_cell_word(evp_lap(t), EVP_CELL_WAIT, 0);
    /* Acquire on failure: the fill's release, so the payload's slot is
     * visible. The cell can only be WAIT or FILLED for our lap here. */
    if (atomic_compare_exchange_strong_explicit(&c->word, &w,
                                                evp_cell_word(evp_lap(t), EVP_CELL_CANCELLED, 0),
                                                memory_order_acq_rel, memory_order_acquire)) {
        evp_waitq_done(q, t);
        return 0;
    }
    *payload = (uint32_t)w & EVP_CELL_PAYLOAD_MASK;
    evp_waitq_done(q, t);
    return 1;
}

void evp_waitq_pause_until(uint64_t deadline_ns)
{
    _Atomic uint32_t never = 0;
    while (evp_clock_ns() < deadline_ns)
        evp_futex_wait(&never, 0, deadline_ns);
}

int evp_waitq_sleep(struct evp_waitq *q, uint64_t t, uint64_t wake_ns, uint64_t deadline_ns, uint32_t *payload)
{
    struct evp_waitq_cell *c = evp_cell(q, t);
    uint64_t spin_until = evp_clock_ns() + EVP_WAITQ_SPIN_NS;
    bool asleep = false;
    for (;;) {
        uint32_t f = 0;
        if (asleep) {
            /* Say we sleep before the last look (seq_cst pairs with the
             * filler's fetch_add of fut and load of sleeping), and read
             * fut before word, so that a fill after our look has changed
             * fut and the futex does not sleep. */
            atomic_store_explicit(&c->sleeping, 1, memory_order_seq_cst);
            f = atomic_load_explicit(&c->fut, memory_order_seq_cst);
        }
        /* seq_cst (acquire part) pairs with the fill's release: the
         * payload's slot is visible. */
        uint64_t w = atomic_load_explicit(&c->word, memory_order_seq_cst);
        if (evp_cell_state(w) == EVP_CELL_FILLED) {
            *payload = (uint32_t)w & EVP_CELL_PAYLOAD_MASK;
            evp_waitq_done(q, t);
            return 1;
        }
        uint64_t now = evp_clock_ns();
        if (now >= deadline_ns)
            return evp_waitq_cancel(q, t, payload);
        if (wake_ns && now >= wake_ns)
            return 2;
        if (!asleep) {
            asleep = now >= spin_until;
            continue;
        }
        evp_futex_wait(&c->fut, f, wake_ns && wake_ns < deadline_ns ? wake_ns : deadline_ns);
    }
}

bool evp_waitq_give(struct evp_waitq *q, uint32_t payload)
{
    for (;;) {
        uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
        if (h == atomic_load_explicit(&q->tail, memory_order_seq_cst))
            return false;
        struct evp_waitq_cell *c = evp_cell(q, h);
        uint64_t w = atomic_load_explicit(&c->word, memory_order_acquire);
        uint32_t lap = (uint32_t)(w >> 32), want = evp_lap(h);
        if (lap == want && evp_cell_state(w) == EVP_CELL_WAIT) {
            /* Release pairs with the waiter's acquire load of word (sleep,
             * cancel): it sees the slot as we left it. */
            if (!atomic_compare_exchange_strong_explicit(&c->word, &w,
                                                         evp_cell_word(want, EVP_CELL_FILLED, payload),
                                                         memory_order_acq_rel, memory_order_relaxed))
                continue; /* cancelled or served meanwhile: look again */
            uint64_t hh = h;
            atomic_compare_exchange_strong_explicit(&q->head, &hh, h + 1, memory_order_acq_rel,
                                                    memory_order_relaxed);
            /* seq_cst: see the waiter's store of sleeping. The fut bump
             * makes a futex_wait that read fut before the fill return. */
            atomic_fetch_add_explicit(&c->fut, 1, memory_order_seq_cst);
            if (atomic_load_explicit(&c->sleeping, memory_order_seq_cst))
                evp_futex_wake(&c->fut, 1);
            return true;
        }
        if ((int32_t)(lap - want) >= 0) {
            /* Ticket h is served, cancelled, or done and its cell already
             * free for a later lap: pass it (helping whoever filled or
             * cancelled it and was preempted before moving head). */
            uint64_t hh = h;
            atomic_compare_exchange_strong_explicit(&q->head, &hh, h + 1, memory_order_acq_rel,
                                                    memory_order_relaxed);
        }
        /* else our view of head is older than the cell: look again. */
    }
}
