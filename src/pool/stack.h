/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — the depot: a bounded lock-free stack of chains of 64-bit values.
 *
 * A Treiber stack whose nodes are chains: a push stores up to `width`
 * values in the row of a node the caller owns and links that node on top
 * with one CAS; a pop unlinks the top node with one CAS and copies its row
 * out. The pool's nodes are slot ids and its values ready-made leases, so a
 * thread cache refills or flushes a whole batch with one claim and one
 * contiguous cache line (8 values) moving between cores, instead of one link
 * per id scattered over the link array.
 *
 * Layout: head is {tag:39 | top+1:25}; next[node] is {len-1:7 | below+1:25};
 * rows[node * width + i] holds the values. Links and top are stored + 1 so
 * that zeroed memory (calloc) means "none" and untouched pages stay
 * untouched. Nodes are < 2^24, width <= EVP_STACK_WIDTH_MAX.
 *
 * Why a stack and not a ring: in a bounded MPMC ring (Vyukov, ck_ring) a
 * producer preempted between claiming a cell and publishing it hides that
 * cell from consumers until it runs again: consumers see a false "empty" (a
 * pool with EVPOOL_ON_EXHAUST=fail would report exhaustion while events are
 * free) and, with more threads than cores, they wait whole time slices
 * (ck_ring_mpmc was seen not to finish in 20 s at 32 threads on 16
 * cores).
 *
 * Progress: lock-free. Each operation is one CAS on head; a thread preempted
 * anywhere leaves head consistent and the others' CAS succeed. pop reports
 * empty only if the stack was empty at its linearization point. A push never
 * finds the stack full: every node is in it at most once (its owner pushes
 * it), so capacity is the node count.
 *
 * ABA: every successful pop bumps the tag, so a pop whose view of head is
 * stale fails its CAS (a push needs no bump: {tag, top} can only come back
 * to a value a stalled popper read through a pop, which moved the tag).
 * The tag has 39 bits: an ABA needs one popper stalled between reading head
 * and its CAS across exactly a multiple of 2^39 = 5.5e11 pops. At 3.6e7
 * pops/s (a contended single head's ceiling, measured) that is a stall of
 * 4.2 hours; at the pool's rate of one pop per refill of a thread cache
 * (<= 1e7/s) 15 hours. Not years: a 128-bit head (cmpxchg16b) would be.
 */
#ifndef EVPOOL_SRC_POOL_STACK_H
#define EVPOOL_SRC_POOL_STACK_H

#include <stdatomic.h>
#include <stdint.h>

#define EVP_STACK_WIDTH_MAX 64

struct evp_stack {
    /* {tag:39 | top+1:25}. All changes are CAS (release on push, acquire on
     * pop): a pop synchronizes with every push before it (release
     * sequence). */
    _Alignas(64) _Atomic uint64_t head;
    /* Values in the stack. On head's cache line on purpose: it is updated
     * right after a CAS on head, while this core still owns the line. */
    _Atomic int64_t items;
    /* next[node]: written by the node's owner before the release CAS that
     * pushes it; read (relaxed) by poppers, validated by their CAS. */
    _Alignas(64) _Atomic uint32_t *next;
    /* Chain contents; plain memory, ordered by the head CAS pairs. */
    uint64_t *rows;
    void *rows_mem; /* owned: freed by evp_stack_fini (as is next) */
    uint32_t cap, width;
};

/* cap nodes, chains of 1..width values. 0, EVP_EINVAL, EVP_ENOMEM. */
int evp_stack_init(struct evp_stack *s, uint32_t cap, uint32_t width);
void evp_stack_fini(struct evp_stack *s);

/* Pushes vals[0..n) (1 <= n <= width) as one chain in node's row. The caller
 * owns node (< cap, not in the stack). */
void evp_stack_push(struct evp_stack *s, uint32_t node, const uint64_t *vals, uint32_t n);

/* Pops the top chain into vals[] (room for width). Returns its length, 0
 * when the stack is empty. The popped node is the caller's again. */
uint32_t evp_stack_pop(struct evp_stack *s, uint64_t *vals);

/* Calls fn for every chain, top to bottom. Not thread-safe: for teardown
 * and tests, when no other thread uses the stack. */
void evp_stack_walk(struct evp_stack *s, void (*fn)(const uint64_t *vals, uint32_t n, void *arg), void *arg);

#endif
