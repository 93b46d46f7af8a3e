/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — the depot as a ring: Nikolaev's SCQ (DISC 2019) holding chain ids.
 *
 * What: a bounded lock-free FIFO of node ids with the stack's API
 * (evp_stack_*): a push stores up to `width` values in the row of a node the
 * caller owns and enqueues the node id; a pop dequeues an id and copies its
 * row out. A thread cache refills or flushes a whole chain per operation.
 *
 * Why a ring: the Treiber stack (stack.h) funnels every operation through
 * one CAS on one line. On a 32-vCPU host a stand-alone SCQ prototype moved
 * 32-id chains at 408-429 M events/s with 16-32 threads where that stack
 * collapsed to 30 M (and ck_ring_mpmc to 30-48 M, not finishing at 32
 * threads); uncontended an SCQ operation costs about 1.5x a CAS. SCQ claims
 * positions with fetch-and-add, so contended threads do not retry, and
 * unlike Vyukov-style rings (ck_ring) a producer stopped after claiming a
 * position hides nothing: consumers invalidate that position and go on.
 *
 * Layout: n = 2^order >= cap (order >= 6), 2n entries of 64 bits
 *   {cycle:62-order | safe:1 | index:order+1}, index 2n-1 = "none" (BOT).
 * Position p (a 64-bit ticket from head or tail) lives in entry
 * remap(p mod 2n) and has cycle p / 2n; remap spreads consecutive positions
 * over different cache lines. head, tail and threshold each have a line.
 * len[node] and rows[node * width ...] hold a chain; they are plain memory,
 * written by the owner before the enqueue and read by the popper after the
 * dequeue, ordered by the entry's release/acquire (ring.c).
 *
 * Never full: every node is in the ring at most once (its owner pushes it),
 * so at most cap <= n ids sit in 2n entries and a push always finds an entry
 * (SCQ's enqueue needs no "full" answer). Pushing a node twice is a bug of
 * the caller; it is not detected.
 *
 * Progress: lock-free. No thread ever waits for a value another thread has
 * to write: a push is fetch-and-add on tail plus a CAS on one entry, retried
 * with a new ticket when a pop already invalidated its entry; a pop is
 * fetch-and-add on head plus an RMW on one entry. A CAS fails only because
 * another thread changed the entry, i.e. made progress. A thread preempted
 * anywhere, including between taking a ticket and writing its entry, costs
 * the others one skipped entry. Not wait-free: one push can be starved by
 * pops that keep invalidating its tickets (something else completes each
 * time); the threshold bounds how long pops keep going around without a
 * push completing (after 3n-1 failed tickets they answer empty).
 *
 * What "empty" (pop returns 0) means. The atomics on head, tail, the
 * threshold and a push's entry CAS are seq_cst, so there is one total order
 * S of them. A chain is *claimed* once head has passed its ticket: the pop
 * holding that ticket will return it (only that pop can consume it; later
 * cycles can only mark it unsafe). pop answers 0 in four places:
 *   (1) tail <= head (loads, no RMW): at the tail load every chain whose
 *       push entered S before it is claimed by a pop in progress or done.
 *   (2) after a ticket h that held nothing, tail <= h + 1: same statement
 *       at the tail load: tickets below tail are all <= h, h held nothing,
 *       the others belong to other pops.
 *   (3) threshold < 0 and (4) threshold used up: SCQ's livelock guard. Every
 *       completed push sets it to 3n-1; every ticket a pop wasted (nothing
 *       in its entry) takes 1. Empty here rests on the paper's argument that
 *       a chain in the ring is found within 3n-1 wasted tickets; it is not
 *       re-proved here. (1) runs first and catches the ordinary empty ring,
 *       (4) only fires when tickets are wasted faster than pushes complete.
 * So with (1)-(2) proven: linearize pops that hold claims before the empty
 * answer, and the ring was empty at that point. In particular a push
 * stalled between its ticket and its write never makes a pop answer 0 for
 * chains pushed before or after it (tests/test_ring.c checks exactly this).
 *
 * Cheap empty: an exhausted pool polls pop. The first pop on an empty ring
 * takes a ticket (writes head, one entry, tail, threshold); every later one
 * sees threshold < 3n-1 (a ticket was wasted since the last push) and does
 * check (1): two loads of lines nobody writes while the ring stays empty.
 *
 * Wrap: head and tail are 64-bit tickets, entries keep 62-order bits of the
 * cycle: entries wrap after 2^63 tickets (tail counts every push attempt),
 * 292 years at 10^9 tickets/s. The cycle tags are what make entries
 * ABA-safe: a stale CAS carries an older cycle and fails.
 *
 * Memory: evp_ring_init allocates entries, rows and len; evp_ring_fini
 * frees them. The struct itself is the caller's (embedded, 64-aligned).
 */
#ifndef EVPOOL_SRC_POOL_RING_H
#define EVPOOL_SRC_POOL_RING_H

#include <stdatomic.h>
#include <stdint.h>

#include "pool/stack.h" /* EVP_STACK_WIDTH_MAX: one limit for both depots */

struct evp_ring {
    /* Read-only after init. */
    _Atomic uint64_t *entries; /* [2n], 64-aligned; owned */
    uint64_t *rows;            /* [cap * width], 64-aligned inside rows_mem */
    uint8_t *len;              /* [cap] chain lengths; owned */
    void *rows_mem;            /* owned: freed by evp_ring_fini */
    int64_t thr_max;           /* 3n - 1 */
    uint32_t cap, width, order;
    /* Next ticket of a pop. FAA seq_cst (total order S, see above). */
    _Alignas(64) _Atomic uint64_t head;
    /* Next ticket of a push. FAA/CAS seq_cst (S). */
    _Alignas(64) _Atomic uint64_t tail;
    /* SCQ's threshold: 3n-1 after a push, < 0 = used up (pops answer 0
     * at once). Read by every pop; written after a wasted ticket and by the
     * first push after one. */
    _Alignas(64) _Atomic int64_t threshold;
    /* Values in the ring, updated (relaxed) after each operation: a gauge,
     * not synchronized with the ring. Its own line: pushes and pops both
     * write it. */
    _Alignas(64) _Atomic int64_t items;
};

/* cap nodes (1 <= cap < 2^24), chains of 1..width values (width <=
 * EVP_STACK_WIDTH_MAX). 0, EVP_EINVAL, EVP_ENOMEM. */
int evp_ring_init(struct evp_ring *r, uint32_t cap, uint32_t width);
void evp_ring_fini(struct evp_ring *r);

/* Enqueues vals[0..n) (1 <= n <= width) as one chain in node's row. The
 * caller owns node (< cap, not in the ring). Always succeeds. */
void evp_ring_push(struct evp_ring *r, uint32_t node, const uint64_t *vals, uint32_t n);

/* Dequeues the oldest chain into vals[] (room for width). Returns its
 * length, 0 when the ring is empty (see "empty" above). The node is the
 * caller's again. */
uint32_t evp_ring_pop(struct evp_ring *r, uint64_t *vals);

/* Calls fn for every chain, oldest first. Not thread-safe: for teardown and
 * tests, when no other thread uses the ring. */
void evp_ring_walk(struct evp_ring *r, void (*fn)(const uint64_t *vals, uint32_t n, void *arg), void *arg);

#ifdef EVP_RING_TEST_HOOK
/* Test builds only (tests/CMakeLists.txt compiles a copy of ring.c with
 * this defined): ring.c calls the test's hook at these points, so a test
 * can yield or stall a thread inside an operation. */
enum evp_ring_at {
    EVP_RING_AT_PUSH_TICKET, /* push: ticket taken, entry not yet written */
    EVP_RING_AT_PUSH_DONE,   /* push: entry written, threshold not yet reset */
    EVP_RING_AT_POP_TICKET,  /* pop: ticket taken, entry not yet read */
    EVP_RING_AT_POP_MISSED,  /* pop: ticket held nothing, tail not yet read */
    EVP_RING_AT_POP_TAKEN,   /* pop: entry consumed, row not yet copied */
};
void evp_ring_test_hook(struct evp_ring *r, enum evp_ring_at at);
#endif

#endif
