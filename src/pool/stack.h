/* evpool — the depot: a bounded lock-free LIFO of 32-bit slot ids.
 *
 * A Treiber stack over an index array: head is {tag:32, top:32} in one
 * 64-bit word; next[id] links the ids below. Capacity is fixed at init and
 * every id in [0, cap) is in the stack at most once (the pool guarantees it:
 * a slot id is pushed only by the thread that owns it), so a push can never
 * find the stack full.
 *
 * Why a stack and not a ring: in a bounded MPMC ring (Vyukov, ck_ring) a
 * producer that is preempted between claiming a cell and publishing it hides
 * that cell — and, for in-order consumers, every cell behind it — until it
 * runs again. Consumers then see a false "empty" (a pool with
 * EVPOOL_ON_EXHAUST=fail would report exhaustion while events are free), and
 * with more threads than cores they wait whole time slices (ANCHORS.md:
 * ck_ring_mpmc did not finish in 20 s at 32 threads on 16 cores).
 *
 * Progress: lock-free. Every operation is one CAS on head; a thread
 * preempted anywhere leaves head consistent, and the others' CAS succeed.
 * pop never reports empty unless the stack was empty at its linearization
 * point. LIFO order also keeps the most recently used events in use.
 *
 * ABA: the tag is bumped by every successful CAS (push and pop), so a pop
 * whose view of head is stale always fails its CAS. The tag wraps after 2^32
 * operations; a pop would have to stall across exactly that many.
 *
 * Bulk: push links a caller-owned chain with one CAS; pop takes up to n ids
 * with one CAS after walking n links. That is how thread caches refill and
 * flush many slots with one claim. */
#ifndef EVPOOL_SRC_POOL_STACK_H
#define EVPOOL_SRC_POOL_STACK_H

#include <stdatomic.h>
#include <stdint.h>

/* Links and top are stored as id + 1, so that 0 means "none" and the link
 * array can come zeroed from calloc: a pool of a million slots touches only
 * the pages of the slots it uses. */
struct evp_stack {
    _Alignas(64) _Atomic uint64_t head; /* {tag:32 | top+1:32}; 0 in the low half: empty */
    _Alignas(64) _Atomic uint32_t *next; /* next[id]: (id below) + 1, or 0. Owned (freed) by the stack. */
    uint32_t cap;
};

/* Returns 0 or EVP_ENOMEM (cap ids, all absent). */
int evp_stack_init(struct evp_stack *s, uint32_t cap);
void evp_stack_fini(struct evp_stack *s);

/* Pushes ids[0..n) (owned by the caller, each < cap, none in the stack);
 * ids[0] ends on top. n == 0 is a no-op. */
void evp_stack_push(struct evp_stack *s, const uint32_t *ids, uint32_t n);

/* Pops up to n ids into ids[] (top first). Returns how many (0: empty). */
uint32_t evp_stack_pop(struct evp_stack *s, uint32_t *ids, uint32_t n);

/* Walks the stack top to bottom, calling fn(id, arg). Not thread-safe:
 * only for teardown and tests, when no other thread uses the stack. */
void evp_stack_walk(struct evp_stack *s, void (*fn)(uint32_t id, void *arg), void *arg);

#endif
