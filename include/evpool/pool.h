/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — the event pool.
 *
 * A pool owns a bounded set of backend events (cudaEvent_t on the CUDA
 * backend) for one device. Callers lease an event, record it on a stream,
 * query it, and return it. The pool never holds more than `max` events and
 * creates `size` of them up front.
 *
 * Leases. A lease is a 64-bit value {slot: 24 bits, generation: 40 bits}.
 * Every slot starts at a random generation of its own (per pool, from
 * getrandom), and a slot remembers whether its current lease is in a
 * caller's hands. Every call taking a lease accepts exactly the leases this
 * pool handed out and that are still outstanding; any other value — a lease
 * already returned (double return, use after return), a free slot's next
 * lease guessed in advance, 0, ~0, a small integer, a random value, a lease
 * of another pool (alive or destroyed) — answers EVP_ESTALE or EVP_EINVAL
 * and changes nothing. The one exception is a value equal to a lease that is
 * outstanding (forging one means guessing 40 random bits: about 2^-40 per
 * try). Lease value 0 (EVP_LEASE_NONE) is never handed out.
 *
 * Thread safety. All functions except evp_pool_destroy may be called from any
 * number of threads at once. One lease must not be used by two threads at
 * once while one of them returns it: the pool detects use *after* return,
 * not use racing with return (query is the exception: see it). A caller
 * that polls on one thread and returns on another must order the two (an
 * RCU grace period before the return, as the sub-batch layer does).
 * evp_pool_destroy must not race with any other call on the same pool.
 *
 * Per-thread caches. Each thread parks up to EVPOOL_THREAD_CACHE free events
 * in a private cache, so most lease/return pairs touch no shared cache line.
 * Parked events are never lost: a thread that finds the shared depot empty
 * and the pool at `max` takes events parked in other threads' caches
 * (including threads that have gone idle, and threads in the middle of a
 * lease or return) before it waits or fails; a thread's cache is flushed
 * when the thread exits or calls evp_pool_thread_flush.
 *
 * Progress. evp_pool_lease, evp_pool_return and their bulk forms never wait
 * for another thread, except in these cases: a thread's first call on a
 * pool and its exit (a per-pool mutex, to attach and flush its cache); under
 * EVPOOL_ON_EXHAUST=wait, a lease that finds no free event (it sleeps: see
 * below); and under EVPOOL_ON_EXHAUST=fail, a lease that finds no free event
 * while some event is between two containers in another thread's hands (it
 * yields until that transfer lands: bounded by that thread's next time
 * slice). Otherwise every step is lock-free: a thread preempted anywhere in
 * a lease, a return or a reclaim never blocks another (the depot is a
 * lock-free stack, a cache a work-stealing deque whose thieves never wait
 * for its owner, and growth uses a try-lock). A return never waits, ever.
 *
 * Exhaustion. EVPOOL_ON_EXHAUST=fail: EVP_EAGAIN at once, and only if at
 * one instant during the call every one of the `max` events existed and was
 * held by a caller (leased and not returned). EVPOOL_ON_EXHAUST=wait: the
 * lease sleeps in the kernel (no spinning beyond ~2 us) until a return hands
 * it an event, or the wait timeout passes (EVP_EAGAIN; the call returns
 * shortly after the deadline, whatever the number of threads). Freed events
 * go to waiters in arrival order (FIFO): a waiter is served before anyone
 * who started waiting after it, so its wait is bounded by the returns
 * needed to serve the waiters ahead of it. Events parked in a cache before
 * the wait began are found by the waiter itself. Under oversubscription
 * FIFO costs one wake-up of a sleeping thread per hand-off.
 *
 * Cancellation. evp_pool_lease waits without a cancellation point (a futex
 * through syscall()), and no evpool function holds a lock or half-changed
 * state across a cancellation point (the only ones are log writes, and the
 * registry defers cancellation while it holds its mutex). A thread
 * cancelled (deferred) while it waits in evp_pool_lease finishes the lease
 * (served, or timed out: at most the wait timeout) and is cancelled at its
 * next cancellation point; if the lease succeeded, the caller's cleanup
 * handler must return it. Asynchronous cancellation is not supported.
 *
 * fork(). In a child of fork(), every pool created before the fork is
 * unusable: each call on it answers EVP_ENODEV at once, without taking a
 * lock (on the CUDA backend the child cannot use the parent's events at
 * all); evp_pool_destroy on it frees the child's copy of its memory without
 * touching the events. The child may create new pools, and evp_device_pool
 * creates fresh ones (the registry starts empty in the child).
 */
#ifndef EVPOOL_POOL_H
#define EVPOOL_POOL_H

#include "evpool/api.h"

#include <stdint.h>

#include "evpool/config.h"
#include "evpool/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct evp_pool evp_pool_t;
typedef uint64_t evp_lease_t;

#define EVP_LEASE_NONE ((evp_lease_t)0)

typedef struct evp_pool_stats {
    uint64_t leases;           /* successful leases */
    uint64_t returns;          /* successful returns */
    uint64_t outstanding;      /* leases - returns */
    uint64_t high_water;       /* most events out of the shared depot at once (leased or
                                  parked in thread caches), sampled when a thread claims
                                  from the depot: exact for one thread with thread_cache
                                  0; with threads racing it may overstate by a chain, and
                                  it never exceeds the events created */
    uint64_t exhaust_waits;    /* leases that had to wait for a free event */
    uint64_t exhaust_wait_ns;  /* total time spent in those waits */
    uint64_t exhaust_fails;    /* leases answered EVP_EAGAIN */
    uint64_t events_created;
    uint64_t events_destroyed;
    uint64_t stale_returns;    /* returns refused with EVP_ESTALE (double / stale) */
    uint64_t steals;           /* events reclaimed from other threads' caches */
    uint64_t waiting;          /* leasers waiting for an event right now */
} evp_pool_stats_t;

/* Creates a pool for `device` (a CUDA ordinal, or 0..EVP_HOST_DEVICES-1 on
 * the host backend, evpool/host.h). cfg == NULL means evp_config_init + evp_config_load_env; a
 * non-NULL cfg is used as given (call evp_config_load_env on it first if the
 * environment should apply). `size` events are created up front with the
 * device current; the caller's current device is restored.
 * Returns 0 and *out; EVP_EINVAL (bad config or arguments, message logged),
 * EVP_ENODEV (backend cuda requested and no usable GPU, or device out of
 * range), EVP_EBACKEND (event creation failed), EVP_ENOMEM. */
EVP_API int evp_pool_create(int device, const evp_config_t *cfg, evp_pool_t **out);

/* Destroys every event the pool created, exactly once, and frees the pool.
 * Leases never returned are reported in a warning (their slots at debug log
 * level). If final != NULL it receives the pool's last counters, with
 * events_destroyed counting the destroys just made and outstanding the
 * leases never returned. Events still recording on a stream are destroyed
 * too (CUDA defers the release until the work is done). Returns 0;
 * EVP_EINVAL (NULL pool); EVP_EBACKEND if a backend destroy failed (every
 * event is still attempted and the pool is still freed). */
EVP_API int evp_pool_destroy(evp_pool_t *pool, evp_pool_stats_t *final);

/* Leases one event. Under EVPOOL_ON_EXHAUST=wait it sleeps up to the wait
 * timeout for an event to come back (FIFO among waiters); under fail it
 * does not wait (see Exhaustion above). Returns 0 and *out; EVP_EAGAIN
 * (exhausted), EVP_EBACKEND or EVP_ENOMEM (growing the pool failed, or no
 * memory for the thread's cache), EVP_EINVAL (NULL argument), EVP_ENODEV
 * (a pool of the parent in a forked child). */
EVP_API int evp_pool_lease(evp_pool_t *pool, evp_lease_t *out);

/* Returns a lease to the pool. Never waits. Returns 0; EVP_ESTALE (not an
 * outstanding lease of this pool: already returned, forged, another
 * pool's; nothing changes, the stale_returns counter counts it); EVP_EINVAL
 * (NULL pool, EVP_LEASE_NONE, or a slot beyond max); EVP_ENODEV (forked
 * child). */
EVP_API int evp_pool_return(evp_pool_t *pool, evp_lease_t lease);

/* Leases n events, all or nothing: 0 with leases[0..n) filled, or an error
 * of evp_pool_lease with every event obtained given back (leases[] then
 * holds EVP_LEASE_NONE). Under EVPOOL_ON_EXHAUST=wait the events already
 * obtained are held while waiting for the rest (each wait bounded by the
 * timeout). EVP_EINVAL: NULL pool, NULL leases with n > 0, or n > max. */
EVP_API int evp_pool_lease_many(evp_pool_t *pool, uint32_t n, evp_lease_t leases[]);

/* Returns n leases, each checked as evp_pool_return does (duplicates within
 * one call: the second is EVP_ESTALE). results (may be NULL) receives each
 * one's code. Returns the number refused (0..n), or EVP_EINVAL (NULL pool,
 * NULL leases with n > 0) / EVP_ENODEV (forked child) before returning any. */
EVP_API int evp_pool_return_many(evp_pool_t *pool, uint32_t n, const evp_lease_t leases[], int results[]);

/* Gives every event the calling thread parked in its cache of this pool
 * back to the shared depot (or to waiters): for a thread pool parking a
 * worker. Returns 0; EVP_EINVAL (NULL pool); EVP_ENODEV (forked child). */
EVP_API int evp_pool_thread_flush(evp_pool_t *pool);

/* Records the lease's event on `stream` (cudaStream_t on the CUDA backend,
 * evp_host_stream_t * on the host backend; NULL is the default stream).
 * Returns 0; EVP_ESTALE; EVP_EINVAL; EVP_EBACKEND (record failed: the lease
 * then has no recorded work and evp_pool_query answers EVP_ENODATA). */
EVP_API int evp_pool_record(evp_pool_t *pool, evp_lease_t lease, void *stream);

/* Polls the work recorded through this lease. Returns 1 when it is
 * complete, 0 while it is pending; EVP_ENODATA if nothing was recorded
 * through this lease (a never-recorded event must not read as complete);
 * EVP_ESTALE if the lease was returned, even if that happens during the
 * query (the lease is re-validated after every answer, so a query racing
 * with a return, a new lease and a record by others never reports their
 * state as ours); EVP_EBACKEND if the backend query failed; EVP_EINVAL. */
EVP_API int evp_pool_query(evp_pool_t *pool, evp_lease_t lease);

/* The backend event behind a lease (a cudaEvent_t on the CUDA backend), for
 * cudaStreamWaitEvent and the like. Valid until the lease is returned.
 * Returns 0; EVP_ESTALE; EVP_EINVAL. */
EVP_API int evp_pool_event(evp_pool_t *pool, evp_lease_t lease, void **event);

/* A consistent-enough snapshot of the counters (each counter is exact; the
 * set is not one atomic snapshot while other threads run). Thread-safe.
 * pool == NULL: *out is zeroed. out == NULL: no-op. */
EVP_API void evp_pool_stats(evp_pool_t *pool, evp_pool_stats_t *out);

/* The resolved configuration of the pool (sources included).
 * pool == NULL: *out is zeroed. out == NULL: no-op. */
EVP_API void evp_pool_config(const evp_pool_t *pool, evp_config_t *out);

/* The device the pool serves (EVP_EINVAL for a NULL pool) and the backend
 * it runs on ("cuda", "host"; "none" for a NULL pool). */
EVP_API int evp_pool_device(const evp_pool_t *pool);
EVP_API const char *evp_pool_backend(const evp_pool_t *pool);

/* Slot and generation of a lease (for logs and tests). */
static inline uint32_t evp_lease_slot(evp_lease_t l) { return (uint32_t)(l & 0xffffffu); }
static inline uint64_t evp_lease_gen(evp_lease_t l) { return l >> 24; }

#ifdef __cplusplus
}
#endif
#endif
