/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — the reclaimer: one thread per sub-batch library that hands freed
 * objects back once no RCU reader can see them and their work is done.
 *
 * Why not liburcu's call_rcu: its worker sleeps 10 ms after every round
 * (urcu-call-rcu-impl.h), is shared with whatever else in the process uses
 * call_rcu, and runs callbacks one by one; a callback whose work is still
 * in flight can only re-queue itself for another grace period. Under
 * 250k frees/s on 16 threads that held each lease for 100-150 ms, and the
 * pool grew to tens of thousands of events to cover them. Here a round is:
 * take every retired node at once, one synchronize_rcu for all of them,
 * then finish those whose work is done; those still in flight have had
 * their grace period and are only polled again, never queued for another.
 *
 * Pace: a round, then a nap of EVP_RECLAIM_PERIOD_NS (a futex wait with a
 * deadline), so grace periods come at most about once a period however
 * fast frees come: each synchronize_rcu is a membarrier that interrupts
 * every CPU running the process's threads, and a round per free (every
 * ~20 us) cost a 4 KiB round trip in evpool-e2e 1.5x on the 2-core VM. A
 * thread that waits for a round (evp_reclaim_wait_round: alloc over its
 * backlog) kicks the reclaimer out of its nap, so a burst of frees gets
 * rounds as fast as it needs them. After EVP_RECLAIM_LINGER_NS without
 * work the reclaimer sleeps until a retire wakes it. So a free made while
 * frees keep coming is one CAS (a futex wake on every free had cost
 * 1.8-9 us in evpool-e2e, against 0.3 us with call_rcu), a lease comes
 * back about a period after its work ends, and an idle library's thread
 * does not wake at all.
 *
 * Threads. evp_reclaim_retire may be called by any thread (lock-free: one
 * CAS push, and a futex wake only when the reclaimer is asleep). The reclaimer
 * thread runs with every signal blocked and holds no RCU read lock; it
 * calls the owner's callbacks, which must not block on the retiring
 * threads. evp_reclaim_stop (one thread, once, after the last retire)
 * finishes everything and joins the thread.
 *
 * fork: the thread does not exist in a child. evp_reclaim_forked tells a
 * child (an epoch moved by a pthread_atfork child handler: one relaxed
 * load), so that the owner refuses its calls there instead of retiring
 * into a list nobody takes, and evp_reclaim_stop does not join a thread
 * that is not there (pthread_join would wait forever). */
#ifndef EVPOOL_SRC_BATCH_RECLAIM_H
#define EVPOOL_SRC_BATCH_RECLAIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* See Pace above. */
#define EVP_RECLAIM_PERIOD_NS 1000000u
#define EVP_RECLAIM_LINGER_NS 10000000u

/* Embedded in the retired object; owned by the reclaimer from retire on. */
struct evp_reclaim_node {
    struct evp_reclaim_node *next;
};

struct evp_reclaim_ops {
    /* After the node's grace period: finish it and answer true, or answer
     * false if its work is still in flight (asked again later). */
    bool (*try_finish)(void *ctx, struct evp_reclaim_node *n);
    /* At stop, for a node still in flight: wait for its work, finish it. */
    void (*force_finish)(void *ctx, struct evp_reclaim_node *n);
};

struct evp_reclaim {
    /* Retired nodes, newest first (Treiber stack: many pushers, and one
     * taker that swaps the whole list out, so there is no ABA). */
    _Atomic(struct evp_reclaim_node *) retired;
    _Atomic uint32_t wake;     /* futex word: bumped by every wake-up */
    _Atomic uint32_t sleeping; /* the reclaimer is (about to be) asleep */
    _Atomic uint32_t stop;
    _Atomic uint64_t rounds;   /* grace periods waited (statistics) */
    _Atomic uint32_t progress; /* futex word: bumped after a round if someone waits */
    _Atomic uint32_t waiters;  /* threads in evp_reclaim_wait_round */
    const struct evp_reclaim_ops *ops;
    void *ctx;
    pthread_t thread;
    uint32_t epoch; /* the fork epoch at start */
};

/* Starts the reclaimer thread. 0, or EVP_ENOMEM: the thread could not be
 * created (logged with pthread_create's reason). */
int evp_reclaim_start(struct evp_reclaim *r, const struct evp_reclaim_ops *ops, void *ctx);

/* True in a child of fork() (the process that started r forked since). */
bool evp_reclaim_forked(const struct evp_reclaim *r);

/* Hands n to the reclaimer. The caller has made the object unreachable for
 * new readers (RCU: readers already inside may still see it). */
void evp_reclaim_retire(struct evp_reclaim *r, struct evp_reclaim_node *n);

/* Sleeps until the reclaimer ends a round (it finished what it could), or
 * 1 ms, or the absolute CLOCK_MONOTONIC deadline_ns: callers loop on their
 * own condition. Any thread but the reclaimer; not a cancellation point. */
void evp_reclaim_wait_round(struct evp_reclaim *r, uint64_t deadline_ns);

/* Finishes every retired node (force_finish for those in flight) and joins
 * the thread. No retire may come after or during it. In a forked child it
 * does nothing (the thread and its nodes are the parent's). */
void evp_reclaim_stop(struct evp_reclaim *r);

#endif
