/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — the wait queue: FIFO hand-off of freed events to sleeping leasers.
 *
 * A lock-free ticket queue (the design of a ticket lock, with a cell per
 * ticket instead of one shared "now serving" word). A waiter takes a ticket
 * with a CAS on `tail` and sleeps on its cell (a futex on a 32-bit counter,
 * through syscall(SYS_futex): not a cancellation point). A returner that
 * sees waiters serves the oldest ticket: it deposits a slot id in that
 * ticket's cell with one CAS and wakes the waiter. A waiter that times out
 * cancels its cell with a CAS; a returner that meets a cancelled or already
 * served cell moves `head` past it (anyone may: that is the helping that
 * keeps the queue lock-free) and serves the next.
 *
 * Why not a mutex-protected list of waiters: a returner would then block
 * behind a preempted waiter that holds the mutex to unlink itself, and a
 * return must never wait for another thread. Why cells per ticket and not
 * nodes on the waiters' stacks: a returner may still be reading a node whose
 * waiter timed out and left; a cell lives as long as the queue.
 *
 * Cells: EVP_WAITQ_CELLS of them, ticket t in cell t % EVP_WAITQ_CELLS. A
 * cell's word is {lap:32 | state:8 | payload:24} where lap = t /
 * EVP_WAITQ_CELLS; the cell serves ticket t only while its lap is t's. A
 * ticket is issued (tail moved past it) only when its cell is free for its
 * lap, so a returner never finds a cell still busy with the previous lap;
 * with more than EVP_WAITQ_CELLS tickets not yet passed, evp_waitq_enter
 * answers "full" and the caller polls instead (documented fallback).
 *
 * A waiter first polls its cell for EVP_WAITQ_SPIN_NS (a return that comes
 * within microseconds then costs neither side a system call), and only then
 * sleeps in the kernel; a filler calls FUTEX_WAKE only for a waiter that
 * said it sleeps. It never yields in a loop: on a shared, oversubscribed
 * machine sched_yield() gives the CPU away for hundreds of microseconds
 * (measured), which starved returners.
 *
 * Progress: enter, give and cancel are lock-free (each retry means another
 * thread's CAS succeeded). FIFO: give serves tickets in issue order; a
 * waiter is served before any later ticket unless it cancelled first.
 */
#ifndef EVPOOL_SRC_POOL_WAITQ_H
#define EVPOOL_SRC_POOL_WAITQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define EVP_WAITQ_CELLS 1024u /* power of two */
#define EVP_WAITQ_NONE UINT64_MAX
#define EVP_WAITQ_SPIN_NS 2000u /* a waiter polls this long before it sleeps in the kernel */

struct evp_waitq_cell {
    /* {lap:32 | state:8 | payload:24}. CAS by returners (WAIT -> FILLED,
     * release: the payload's slot state is visible to the waiter) and by
     * the waiter (WAIT -> CANCELLED); store by the waiter that is done with
     * it (next lap, WAIT; release pairs with evp_waitq_enter's acquire). */
    _Atomic uint64_t word;
    /* Futex word: bumped (release) after every fill, so a waiter that read
     * it before checking `word` and then sleeps on that value cannot miss
     * the fill. Never reset: a late bump only costs one spurious wake. */
    _Atomic uint32_t fut;
    /* The waiter is (about to be) inside futex_wait: a filler must wake
     * it. seq_cst store (waiter) / load (filler) with fut and word: either
     * the filler sees the flag, or the waiter sees the fill before it
     * sleeps. Cleared when the cell is freed. */
    _Atomic uint32_t sleeping;
    uint32_t pad[12]; /* a cache line per cell: waiters sleep apart */
};

struct evp_waitq {
    /* Next ticket to issue. CAS (seq_cst) by waiters: seq_cst because a
     * returner that made an event visible and then loads tail (seq_cst)
     * must see the ticket, or the waiter must see the event. */
    _Alignas(64) _Atomic uint64_t tail;
    /* Oldest ticket not yet passed. CAS by whoever passes a cell. */
    _Atomic uint64_t head;
    struct evp_waitq_cell *cells; /* owned: EVP_WAITQ_CELLS, freed by fini */
};

int evp_waitq_init(struct evp_waitq *q);
void evp_waitq_fini(struct evp_waitq *q);

/* Someone may be waiting (a ticket not yet passed). seq_cst loads: see
 * tail's comment. Cheap: one line, written only when leasers wait. */
static inline bool evp_waitq_waiting(struct evp_waitq *q)
{
    return atomic_load_explicit(&q->head, memory_order_seq_cst) !=
           atomic_load_explicit(&q->tail, memory_order_seq_cst);
}

/* Takes a ticket. EVP_WAITQ_NONE when the queue is full (caller polls). */
uint64_t evp_waitq_enter(struct evp_waitq *q);

/* Sleeps on ticket t until it is served (returns 1, *payload set) or the
 * absolute CLOCK_MONOTONIC deadline passes (the ticket is cancelled; returns
 * 0); returns 2 at wake_ns (once; 0 = never) without cancelling, so that
 * the caller can look elsewhere and sleep again. Not a cancellation point. */
int evp_waitq_sleep(struct evp_waitq *q, uint64_t t, uint64_t wake_ns, uint64_t deadline_ns, uint32_t *payload);

/* Cancels ticket t without sleeping. 0: cancelled; 1: too late, it was
 * served: *payload is the caller's. */
int evp_waitq_cancel(struct evp_waitq *q, uint64_t t, uint32_t *payload);

/* Sleeps until the absolute CLOCK_MONOTONIC deadline (a futex nobody
 * wakes). Not a cancellation point. */
void evp_waitq_pause_until(uint64_t deadline_ns);

/* Deposits payload (< 2^24) with the oldest live ticket and wakes its
 * waiter. false when nobody waits (the payload is still the caller's). */
bool evp_waitq_give(struct evp_waitq *q, uint32_t payload);

#endif
