/* SPDX-License-Identifier: Apache-2.0 */
/* e2e ways: the ways of submitting the same copy to the same peer segment
 * (e2e_target.h), each as prepare / submit / poll / release:
 *
 *   evpool          evp_transport_batch_alloc (prepare); evp_transport_submit
 *                   of one WRITE request (lease + copy + record); poll
 *                   evp_transport_status; release evp_transport_batch_free
 *   floor           copy + record of an event created before the run (a
 *                   ring of `window` per thread): no pool, no lease. What no
 *                   pool can beat.
 *   create_destroy  create + copy + record; poll query; release destroys
 *                   (Mooncake TENT after its leak fix)
 *   create_leak     the same, never destroyed (the original bug; bounded
 *                   run only)
 *   mutex_vector    lease from a mutex + vector of events that creates one
 *                   when empty (PyTorch's EventPool, what engines hand-roll)
 *                   + copy + record; release pushes it back
 *   bare_copy       the copy alone, no event (reference); poll = the
 *                   stream synchronised
 *
 * Copy and record are the backend's ops, the very calls the transport
 * makes (see e2e_target.h), so the ways differ only in where the event
 * comes from and how it goes back. */
#ifndef EVB_E2E_WAY_H
#define EVB_E2E_WAY_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include "e2e/e2e_target.h"

typedef enum e2e_way_kind {
    E2E_EVPOOL = 0,
    E2E_FLOOR,
    E2E_CREATE_DESTROY,
    E2E_CREATE_LEAK,
    E2E_MUTEX_VECTOR,
    E2E_BARE_COPY,
} e2e_way_kind;

/* "evpool", "floor", ...; e2e_way_parse: -1 for an unknown name. */
const char *e2e_way_name(e2e_way_kind k);
int e2e_way_parse(const char *name);

/* One submit in flight. */
typedef struct e2e_item {
    evp_batch_t batch; /* evpool: owned from prepare until release */
    evp_event_t ev;    /* baselines: the event recorded (owner: the way) */
    void *stream;      /* baselines: the stream it ran on */
} e2e_item;

/* Per thread, on its own cache lines. The counters are atomics only so that
 * the bounded run's sampler may read them while the thread runs: written by
 * their thread alone, relaxed (a figure for a report, ordering nothing). */
typedef struct e2e_way_thread {
    alignas(64) evp_event_t *ring; /* floor: `window` events; owned, destroyed by fini */
    uint32_t ring_next;
    _Atomic uint64_t created;      /* events created by this thread's submits */
    _Atomic uint64_t destroyed;
    _Atomic uint64_t cycles;       /* released submits (the bounded run's x axis) */
} e2e_way_thread;

/* A mutex + LIFO vector of events (PyTorch's EventPool): lease pops, or
 * creates an event when the vector is empty (unbounded, as there); return
 * pushes. */
typedef struct e2e_mvpool {
    pthread_mutex_t lock; /* guards n, cap, ev */
    uint32_t n, cap;
    evp_event_t *ev;      /* [cap], ev[0..n) free; owned, every event destroyed by fini */
    uint64_t created;     /* under lock */
} e2e_mvpool;

typedef struct e2e_way {
    e2e_way_kind kind;
    e2e_target *tg;      /* borrowed */
    int threads;
    uint32_t window;     /* submits one thread may have in flight */
    e2e_way_thread *th;  /* [threads]; owned */
    e2e_mvpool mv;       /* mutex_vector */
    evp_batch_stats_t batch0; /* evpool: the transport's counters before the run */
} e2e_way;

/* Builds a way over tg for `threads` threads with up to `window` submits in
 * flight each (floor: its events, created here). 0 or an EVP_E* code with
 * err. Call e2e_way_fini whatever the answer. */
int e2e_way_init(e2e_way *w, e2e_way_kind kind, e2e_target *tg, int threads, uint32_t window, char *err,
                 size_t len);
/* Destroys what the way created (every submit released first). */
void e2e_way_fini(e2e_way *w);

/* Before a submit, untimed in the submit run (evpool: the sub-batch; an
 * engine allocates one per batch of requests). 0 or an EVP_E* code. */
int e2e_way_prepare(e2e_way *w, int thread, e2e_item *it);
/* The submit: `bytes` from the source to the peer's segment. 0 or an EVP_E*
 * code (nothing is in flight then; evpool: release still frees the batch). */
int e2e_way_submit(e2e_way *w, int thread, uint64_t bytes, e2e_item *it);
/* 1 done, 0 pending, < 0 an EVP_E* code. Never blocks (bare_copy: it does,
 * it synchronises the stream). */
int e2e_way_poll(e2e_way *w, e2e_item *it);
/* Gives back what the submit took. 0 or an EVP_E* code. */
int e2e_way_release(e2e_way *w, int thread, e2e_item *it);

/* Live events this way holds right now (the pool's created - destroyed for
 * evpool; created - destroyed by the threads and the mutex vector for the
 * baselines). Any thread, while the run goes on. */
uint64_t e2e_way_live_events(e2e_way *w);

/* After the run: everything back, `ops` submits counted? 0, or -1 and err. */
int e2e_way_check(e2e_way *w, uint64_t ops, char *err, size_t len);

#endif
