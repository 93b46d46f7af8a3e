/* SPDX-License-Identifier: Apache-2.0 */
#include "batch/reclaim.h"

#include <limits.h>
#include <signal.h>
#include <string.h>
#include <urcu/urcu-memb.h>

#include "base/clock.h"
#include "base/futex.h"
#include "base/log.h"
#include "evpool/error.h"

/* Moved in every child of fork() (registered once, at the first start).
 * Relaxed: when it moves, the child's forking thread is its only thread. */
static _Atomic uint32_t evp_reclaim_fork_epoch;
static pthread_once_t evp_reclaim_atfork_once = PTHREAD_ONCE_INIT;

static void evp_reclaim_fork_child(void)
{
    atomic_fetch_add_explicit(&evp_reclaim_fork_epoch, 1, memory_order_relaxed);
}

static void evp_reclaim_atfork(void)
{
    if (pthread_atfork(NULL, NULL, evp_reclaim_fork_child) != 0)
        evp_error("sub-batches: pthread_atfork failed: a fork child will not know it is one");
}

bool evp_reclaim_forked(const struct evp_reclaim *r)
{
    return __builtin_expect(r->epoch != atomic_load_explicit(&evp_reclaim_fork_epoch, memory_order_relaxed), 0);
}

/* Takes every retired node, oldest first. Acquire pairs with the release
 * of the push in evp_reclaim_retire: what the retiring thread wrote before
 * retiring (the object's last state) is visible here. */
static struct evp_reclaim_node *evp_reclaim_take(struct evp_reclaim *r)
{
    struct evp_reclaim_node *n = atomic_exchange_explicit(&r->retired, NULL, memory_order_acquire);
    struct evp_reclaim_node *oldest = NULL;
    while (n) {
        struct evp_reclaim_node *next = n->next;
        n->next = oldest;
        oldest = n;
        n = next;
    }
    return oldest;
}

/* Tries each node of list; returns those still in flight, in order, and
 * counts the finished ones in *done. */
static struct evp_reclaim_node *evp_reclaim_try(struct evp_reclaim *r, struct evp_reclaim_node *list,
                                                uint32_t *done)
{
    struct evp_reclaim_node *keep = NULL, **tail = &keep;
    while (list) {
        struct evp_reclaim_node *next = list->next;
        if (!r->ops->try_finish(r->ctx, list)) {
            *tail = list;
            tail = &list->next;
        } else {
            (*done)++;
        }
        list = next;
    }
    *tail = NULL;
    return keep;
}

/* Sleeps until a retire or stop wakes us. */
static void evp_reclaim_idle(struct evp_reclaim *r)
{
    uint32_t seq = atomic_load_explicit(&r->wake, memory_order_seq_cst);
    /* Dekker with evp_reclaim_retire: we store sleeping then load retired,
     * it pushes then loads sleeping (all seq_cst), so at least one of us
     * sees the other; if it sees us, it bumps wake after our read of seq
     * and the futex wait returns at once. */
    atomic_store_explicit(&r->sleeping, 1, memory_order_seq_cst);
    if (!atomic_load_explicit(&r->retired, memory_order_seq_cst) &&
        !atomic_load_explicit(&r->stop, memory_order_seq_cst))
        evp_futex_wait(&r->wake, seq, 0);
    atomic_store_explicit(&r->sleeping, 0, memory_order_relaxed);
}

static void *evp_reclaim_main(void *arg)
{
    struct evp_reclaim *r = arg;
    struct evp_reclaim_node *inflight = NULL; /* past their grace period */
    uint64_t idle = 0; /* time napped since the last round that had work */
    for (;;) {
        /* Read stop before taking: a stop seen here comes after the last
         * retire (evp_reclaim_stop's contract), so this take is the last. */
        bool stopping = atomic_load_explicit(&r->stop, memory_order_acquire);
        struct evp_reclaim_node *fresh = evp_reclaim_take(r);
        if (fresh) {
            /* One grace period for the whole round: every reader that could
             * see one of these nodes has left its read-side section. */
            urcu_memb_synchronize_rcu();
            atomic_fetch_add_explicit(&r->rounds, 1, memory_order_relaxed);
        }
        uint32_t done = 0;
        inflight = evp_reclaim_try(r, inflight, &done);
        struct evp_reclaim_node *still = evp_reclaim_try(r, fresh, &done);
        if (still) { /* append: the oldest stay first */
            struct evp_reclaim_node **tail = &inflight;
            while (*tail)
                tail = &(*tail)->next;
            *tail = still;
        }
        /* seq_cst pairs with evp_reclaim_wait_round: a waiter that
         * counted itself before this load is woken; one that counts itself
         * after it sees this round's work (its own condition) or sleeps at
         * most 1 ms. */
        if (atomic_load_explicit(&r->waiters, memory_order_seq_cst)) {
            atomic_fetch_add_explicit(&r->progress, 1, memory_order_seq_cst);
            evp_futex_wake(&r->progress, INT_MAX);
        }
        if (stopping) {
            for (struct evp_reclaim_node *next; inflight; inflight = next) {
                next = inflight->next;
                r->ops->force_finish(r->ctx, inflight);
            }
            return NULL;
        }
        /* Pace (reclaim.h): nap a period, unless kicked; after
         * EVP_RECLAIM_LINGER_NS without work, sleep until a retire. */
        if (fresh || done || inflight)
            idle = 0;
        if (atomic_load_explicit(&r->stop, memory_order_relaxed))
            continue;
        if (idle < EVP_RECLAIM_LINGER_NS) {
            uint32_t seq = atomic_load_explicit(&r->wake, memory_order_relaxed);
            evp_futex_wait(&r->wake, seq, evp_clock_ns() + EVP_RECLAIM_PERIOD_NS);
            idle += EVP_RECLAIM_PERIOD_NS;
        } else if (!atomic_load_explicit(&r->retired, memory_order_relaxed)) {
            evp_reclaim_idle(r);
            idle = 0;
        }
    }
}

int evp_reclaim_start(struct evp_reclaim *r, const struct evp_reclaim_ops *ops, void *ctx)
{
    atomic_init(&r->retired, NULL);
    atomic_init(&r->wake, 0);
    atomic_init(&r->sleeping, 0);
    atomic_init(&r->stop, 0);
    atomic_init(&r->rounds, 0);
    atomic_init(&r->progress, 0);
    atomic_init(&r->waiters, 0);
    r->ops = ops;
    r->ctx = ctx;
    pthread_once(&evp_reclaim_atfork_once, evp_reclaim_atfork);
    r->epoch = atomic_load_explicit(&evp_reclaim_fork_epoch, memory_order_relaxed);
    /* The thread takes no signal of the application's: it is created with
     * every signal blocked and keeps that mask. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&r->thread, NULL, evp_reclaim_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) {
        evp_error("sub-batches: cannot start the reclaimer thread: pthread_create: %s", strerror(e));
        return EVP_ENOMEM;
    }
    pthread_setname_np(r->thread, "evp-reclaim");
    return 0;
}

void evp_reclaim_retire(struct evp_reclaim *r, struct evp_reclaim_node *n)
{
    struct evp_reclaim_node *head = atomic_load_explicit(&r->retired, memory_order_relaxed);
    do
        n->next = head;
    /* seq_cst: the release half pairs with evp_reclaim_take's acquire; the
     * total order half with evp_reclaim_idle (see there). */
    while (!atomic_compare_exchange_weak_explicit(&r->retired, &head, n, memory_order_seq_cst,
                                                  memory_order_relaxed));
    if (atomic_load_explicit(&r->sleeping, memory_order_seq_cst)) {
        atomic_fetch_add_explicit(&r->wake, 1, memory_order_seq_cst);
        evp_futex_wake(&r->wake, 1);
    }
}

void evp_reclaim_wait_round(struct evp_reclaim *r, uint64_t deadline_ns)
{
    atomic_fetch_add_explicit(&r->waiters, 1, memory_order_seq_cst);
    uint32_t seq = atomic_load_explicit(&r->progress, memory_order_seq_cst);
    /* Kick the reclaimer out of its nap: someone waits for a round. */
    atomic_fetch_add_explicit(&r->wake, 1, memory_order_seq_cst);
    evp_futex_wake(&r->wake, 1);
    uint64_t cap = evp_clock_ns() + 1000000u;
    evp_futex_wait(&r->progress, seq, deadline_ns < cap ? deadline_ns : cap);
    atomic_fetch_sub_explicit(&r->waiters, 1, memory_order_relaxed);
}

void evp_reclaim_stop(struct evp_reclaim *r)
{
    if (evp_reclaim_forked(r))
        return;
    /* Release pairs with the acquire load of stop in evp_reclaim_main. */
    atomic_store_explicit(&r->stop, 1, memory_order_seq_cst);
    atomic_fetch_add_explicit(&r->wake, 1, memory_order_seq_cst);
    evp_futex_wake(&r->wake, 1);
    pthread_join(r->thread, NULL);
}
