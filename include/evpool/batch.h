/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — sub-batches: groups of transfer tasks that lease events.
 *
 * A sub-batch holds up to `capacity` tasks. Each evp_batch_submit appends
 * tasks (a task's id is its index, stable across later submits), leases
 * ONE event for the call from the pool of the sub-batch's device, lets the
 * transport enqueue the work on the sub-batch's stream (a callback), and
 * records the event after it. Status polls that event; free gives
 * everything back — lazily, after an RCU grace period and after the work is
 * done, without blocking the caller.
 *
 * Statuses are Mooncake TENT's, in its order, so an engine maps its tasks
 * one to one: INITIAL, PENDING, INVALID, CANCELED, COMPLETED, TIMEOUT,
 * FAILED, with transferred_bytes (a COMPLETED task's length, else 0).
 * Terminal states (all but INITIAL and PENDING) are sticky.
 *
 * Failures are never reported as success:
 *   - no event can be leased (exhaustion, EVPOOL_ON_EXHAUST): the call
 *     returns the pool's error (EVP_EAGAIN) and appends nothing;
 *   - the stream cannot be created: its error, nothing appended;
 *   - the enqueue callback fails: the call's tasks are appended FAILED, the
 *     lease goes back at once, the callback's error is returned;
 *   - the record fails: the same (FAILED, lease back, EVP_EBACKEND); a task
 *     never polls COMPLETED from an event that was never recorded;
 *   - a query of the event fails: the call's tasks become FAILED.
 *
 * Handles. evp_batch_t is {slot: 24 bits, generation: 40 bits}; 0 is never
 * a handle. A freed handle answers EVP_ESTALE everywhere (a second free
 * included); a handle never issued answers EVP_EINVAL. A poller racing a
 * free gets either the status from before the free or EVP_ESTALE, never a
 * status read from an event some other sub-batch leased since: leases go
 * back to the pool only after every poller that could see them has left
 * (RCU grace period).
 *
 * Threads. Every function except evp_batch_lib_destroy may be called from
 * any thread at any time; threads are registered with liburcu (urcu-memb,
 * no signals) lazily and unregistered when they exit. Submits to ONE
 * sub-batch must come one at a time (a concurrent second one answers
 * EVP_EBUSY); status and free may race with anything. evp_batch_lib_destroy
 * must not race with other calls on the same library.
 */
#ifndef EVPOOL_BATCH_H
#define EVPOOL_BATCH_H

#include <stdint.h>

#include "evpool/api.h"
#include "evpool/config.h"
#include "evpool/error.h"
#include "evpool/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct evp_batch_lib evp_batch_lib_t;
typedef uint64_t evp_batch_t;

#define EVP_BATCH_NONE ((evp_batch_t)0)

typedef enum evp_task_status {
    EVP_TASK_INITIAL = 0, /* sub-batch status only: nothing submitted yet */
    EVP_TASK_PENDING,
    EVP_TASK_INVALID,
    EVP_TASK_CANCELED,
    EVP_TASK_COMPLETED,
    EVP_TASK_TIMEOUT,
    EVP_TASK_FAILED,
} evp_task_status_t;

typedef struct evp_batch_status {
    evp_task_status_t status;
    uint64_t transferred_bytes; /* sum over COMPLETED tasks of their length */
} evp_batch_status_t;

/* One transfer request, as a transport describes it. evpool reads only
 * `device` (the first submit's first request picks the sub-batch's device,
 * hence its stream and its events) and `length`; the rest is passed to the
 * enqueue callback untouched. */
typedef struct evp_batch_req {
    int device;        /* device whose stream runs the work */
    uint32_t opcode;   /* transport's (e.g. READ / WRITE) */
    void *local;       /* transport's: local address */
    uint64_t target;   /* transport's: peer segment */
    uint64_t offset;   /* transport's: offset in the segment */
    uint64_t length;   /* bytes; what a COMPLETED task reports as transferred */
} evp_batch_req_t;

/* Enqueues reqs[0..n) on `stream` (cudaStream_t on the CUDA backend,
 * evp_host_stream_t * on the host backend) of `device`. Returns 0, or a
 * negative EVP_E* code (any other non-zero value counts as EVP_EBACKEND).
 * It must not wait for other sub-batches to be freed. */
typedef int (*evp_batch_enqueue_fn)(void *ctx, void *stream, int device, const evp_batch_req_t *reqs,
                                    uint32_t n);

typedef struct evp_batch_stats {
    uint64_t allocs;           /* successful evp_batch_alloc */
    uint64_t frees;            /* successful evp_batch_free */
    uint64_t stale_frees;      /* frees refused with EVP_ESTALE (double free) */
    uint64_t reclaimed;        /* freed sub-batches whose leases, stream and slot went back */
    uint64_t live;             /* allocs - frees */
    uint64_t pending;          /* freed, not yet reclaimed */
    uint64_t deferred;         /* reclaims that found work still in flight and waited */
    uint64_t reclaim_max_ns;   /* longest free -> reclaim, deferred ones included */
    uint64_t deferred_total_ns;/* total free -> reclaim time of the deferred ones */
    uint64_t submits;          /* evp_batch_submit calls that appended tasks */
    uint64_t submit_errors;    /* calls that returned an error (tasks FAILED or none) */
    uint64_t leases;           /* leases taken by submits */
    uint64_t lease_returns;    /* leases given back (failures at once, the rest on reclaim) */
    uint64_t tasks;            /* tasks appended */
    uint64_t throttled;        /* allocs that first waited for the reclaimer (backlog) */
    uint64_t reclaim_rounds;   /* grace periods the reclaimer waited (one per round) */
    uint64_t slab_objects;     /* sub-batch objects created (<= EVPOOL_BATCH_MAX) */
    uint64_t streams_created;
    uint64_t streams_destroyed;
    uint64_t live_at_destroy;  /* evp_batch_lib_destroy only: sub-batches never freed */
} evp_batch_stats_t;

/* Creates a sub-batch library: the slab, and per device (created on first
 * use) an event pool and a stream pool, all owned by it. cfg == NULL means
 * evp_config_init + evp_config_load_env; a non-NULL cfg is used as given.
 * Knobs: EVPOOL_BATCH_SLAB, EVPOOL_BATCH_MAX, EVPOOL_BATCH_TASKS,
 * EVPOOL_BATCH_BACKLOG, EVPOOL_STREAMS, and the pool's own.
 * Starts the library's reclaimer thread ("evp-reclaim", every signal
 * blocked), which hands freed sub-batches back; destroy joins it. The
 * library is not usable in a child of fork(): there every call on it
 * answers EVP_ENODEV at once, and evp_batch_lib_destroy returns 0 without
 * releasing anything (the parent's threads, streams and CUDA context are
 * not the child's; the memory goes when the child exits). A child may
 * create and use a library of its own.
 * Returns 0 and *out; EVP_EINVAL (bad config), EVP_ENODEV (backend cuda
 * without a GPU), EVP_ENOMEM (also: the thread could not be started). */
EVP_API int evp_batch_lib_create(const evp_config_t *cfg, evp_batch_lib_t **out);

/* Tears the library down: sub-batches never freed are reported (warning,
 * final->live_at_destroy) and freed; work still in flight is waited for
 * (stream synchronize); every lease goes back, every stream and pool is
 * destroyed exactly once, all memory is freed. Handles of this library are
 * invalid afterwards. Blocks until in-flight work ends. If final != NULL it
 * receives the last counters. Returns 0; EVP_EINVAL (NULL); EVP_EBACKEND if
 * a backend call failed (everything is still released). */
EVP_API int evp_batch_lib_destroy(evp_batch_lib_t *lib, evp_batch_stats_t *final);

/* The library's event pool of `device` (created on first use), for stats.
 * Returns 0; EVP_EINVAL; EVP_ENODEV; the pool's creation errors. */
EVP_API int evp_batch_lib_pool(evp_batch_lib_t *lib, int device, evp_pool_t **out);

/* Counters (each exact, not one atomic snapshot). Thread-safe. */
EVP_API void evp_batch_lib_stats(evp_batch_lib_t *lib, evp_batch_stats_t *out);

/* Allocates an empty sub-batch for up to `capacity` tasks (0 means
 * EVPOOL_BATCH_TASKS). Takes no event and no stream yet.
 * Backpressure: under EVPOOL_ON_EXHAUST=wait, while more than
 * EVPOOL_BATCH_BACKLOG freed sub-batches await the reclaimer, it first
 * waits for the reclaimer (at most EVPOOL_WAIT_TIMEOUT_US, then goes on),
 * so threads that free faster than the reclaimer runs do not make the pool
 * and the slab grow; under fail it never waits.
 * Returns 0 and *out; EVP_EINVAL (capacity > EVPOOL_BATCH_TASKS, NULL);
 * EVP_EAGAIN (EVPOOL_BATCH_MAX sub-batches exist: live or awaiting
 * reclaim); EVP_ENOMEM. */
EVP_API int evp_batch_alloc(evp_batch_lib_t *lib, uint32_t capacity, evp_batch_t *out);

/* Appends reqs[0..n) as tasks first..first+n-1 (*first, may be NULL), with
 * one event leased for the call: on the first submit the sub-batch takes a
 * stream of device reqs[0].device; then enqueue(ctx, stream, device, reqs,
 * n); then the event is recorded on the stream.
 * Returns 0; EVP_EINVAL (NULL, n == 0, device out of range, a handle never
 * issued: nothing enqueued, message logged); EVP_ENOSPC (more tasks than
 * the room left: nothing enqueued, message logged); EVP_ESTALE (freed); EVP_EBUSY (another submit to this sub-batch
 * is running); EVP_EAGAIN / EVP_EBACKEND / EVP_ENOMEM (no event or stream:
 * nothing appended); the callback's error or EVP_EBACKEND (record failed):
 * tasks appended FAILED. Thread-safe as described above. */
EVP_API int evp_batch_submit(evp_batch_lib_t *lib, evp_batch_t b, const evp_batch_req_t *reqs, uint32_t n,
                     evp_batch_enqueue_fn enqueue, void *ctx, uint32_t *first);

/* Status of one task (polls its event if it is still PENDING).
 * Returns 0 and *out; EVP_EINVAL (task id not submitted, NULL, handle never
 * issued); EVP_ESTALE (freed). Never blocks. Thread-safe. */
EVP_API int evp_batch_task_status(evp_batch_lib_t *lib, evp_batch_t b, uint32_t task, evp_batch_status_t *out);

/* Status of the whole sub-batch: INITIAL with no task; PENDING while any
 * task is; COMPLETED when every task is; otherwise the worst failure
 * (FAILED > TIMEOUT > CANCELED > INVALID). transferred_bytes sums the
 * COMPLETED tasks. Returns 0; EVP_EINVAL; EVP_ESTALE. Thread-safe. */
EVP_API int evp_batch_status(evp_batch_lib_t *lib, evp_batch_t b, evp_batch_status_t *out);

/* Frees a sub-batch, from any thread, while others may still poll it.
 * Never blocks: its leases, stream and slot go back after an RCU grace
 * period and, if its work is still in flight, once that work is done (the
 * library's reclaimer thread waits one grace period for all the
 * sub-batches freed since its last round, then polls those still in
 * flight, a round about every millisecond; no later call into evpool is
 * needed). One CAS while frees keep coming; a futex wake when the
 * reclaimer had been idle for 10 ms. Returns 0; EVP_ESTALE (already
 * freed); EVP_EINVAL (never issued, NULL). */
EVP_API int evp_batch_free(evp_batch_lib_t *lib, evp_batch_t b);

#ifdef __cplusplus
}
#endif
#endif
