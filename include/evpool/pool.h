/* evpool — the event pool.
 *
 * A pool owns a bounded set of backend events (cudaEvent_t on the CUDA
 * backend) for one device. Callers lease an event, record it on a stream,
 * query it, and return it. The pool never holds more than `max` events and
 * creates `size` of them up front.
 *
 * Leases. A lease is a 64-bit value {slot: 24 bits, generation: 40 bits}.
 * Returning a lease advances the slot's generation, so a lease that was
 * already returned (double return, use after return) no longer matches and
 * every call taking it answers EVP_ESTALE and changes nothing. Lease value 0
 * (EVP_LEASE_NONE) is never handed out.
 *
 * Thread safety. All functions except evp_pool_destroy may be called from any
 * number of threads at once. One lease must not be used by two threads at
 * once while one of them returns it: the pool detects use *after* return,
 * not use racing with return. A caller that polls on one thread and returns
 * on another must order the two (an RCU grace period before the return, as
 * the planned sub-batch layer does).
 * evp_pool_destroy must not race with any other call on the same pool.
 *
 * Per-thread caches. Each thread parks up to EVPOOL_THREAD_CACHE free events
 * in a private cache, so most lease/return pairs touch no shared cache line.
 * Parked events are never lost: a thread that finds the shared depot empty
 * and the pool at `max` reclaims events parked in other threads' caches
 * (including threads that have gone idle) before it reports exhaustion, and
 * a thread's cache is flushed to the depot when the thread exits.
 *
 * Progress. Lease and return are lock-free: the shared depot is a Treiber
 * stack (of chains of free events) with a tagged head, so a thread preempted
 * in the middle of a depot operation never blocks the others (their CAS
 * simply succeeds instead). Rare paths take a mutex: growing the pool
 * (creating an event, ~1 us), reclaiming from other threads' caches when the
 * pool is exhausted, and a thread's first use of a pool and its exit. Under
 * EVPOOL_ON_EXHAUST=wait an exhausted lease waits, by design, at most the
 * wait timeout.
 */
#ifndef EVPOOL_POOL_H
#define EVPOOL_POOL_H

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

/* Creates a pool for `device` (a CUDA ordinal, or any id >= 0 on the host
 * backend). cfg == NULL means evp_config_init + evp_config_load_env; a
 * non-NULL cfg is used as given (call evp_config_load_env on it first if the
 * environment should apply). `size` events are created up front with the
 * device current; the caller's current device is restored.
 * Returns 0 and *out; EVP_EINVAL (bad config or arguments, message logged),
 * EVP_ENODEV (backend cuda requested and no usable GPU, or device out of
 * range), EVP_EBACKEND (event creation failed), EVP_ENOMEM. */
int evp_pool_create(int device, const evp_config_t *cfg, evp_pool_t **out);

/* Destroys every event the pool created, exactly once, and frees the pool.
 * Leases never returned are reported in a warning (their slots at debug log
 * level). If final != NULL it receives the pool's last counters, with
 * events_destroyed counting the destroys just made and outstanding the
 * leases never returned. Events still recording on a stream are destroyed
 * too (CUDA defers the release until the work is done). Returns 0;
 * EVP_EINVAL (NULL pool); EVP_EBACKEND if a backend destroy failed (every
 * event is still attempted and the pool is still freed). */
int evp_pool_destroy(evp_pool_t *pool, evp_pool_stats_t *final);

/* Leases one event. Under EVPOOL_ON_EXHAUST=wait it waits (bounded backoff)
 * up to the wait timeout for an event to come back; under fail it does not
 * wait. Returns 0 and *out; EVP_EAGAIN (exhausted), EVP_EBACKEND or
 * EVP_ENOMEM (growing the pool failed), EVP_EINVAL (NULL argument). */
int evp_pool_lease(evp_pool_t *pool, evp_lease_t *out);

/* Returns a lease to the pool. Returns 0; EVP_ESTALE (already returned:
 * nothing changes, the stale_returns counter counts it); EVP_EINVAL (not a
 * lease of this pool). */
int evp_pool_return(evp_pool_t *pool, evp_lease_t lease);

/* Leases n events, all or nothing: 0 with leases[0..n) filled, or an error
 * of evp_pool_lease with every event obtained given back (leases[] then
 * holds EVP_LEASE_NONE). Under EVPOOL_ON_EXHAUST=wait the events already
 * obtained are held while waiting for the rest (each wait bounded by the
 * timeout). EVP_EINVAL: NULL pool, NULL leases with n > 0, or n > max. */
int evp_pool_lease_many(evp_pool_t *pool, uint32_t n, evp_lease_t leases[]);

/* Returns n leases, each checked as evp_pool_return does (duplicates within
 * one call: the second is EVP_ESTALE). results (may be NULL) receives each
 * one's code. Returns the number refused (0..n), or EVP_EINVAL (NULL pool,
 * NULL leases with n > 0) / EVP_ENODEV (forked child) before returning any. */
int evp_pool_return_many(evp_pool_t *pool, uint32_t n, const evp_lease_t leases[], int results[]);

/* Gives every event the calling thread parked in its cache of this pool
 * back to the shared depot (or to waiters): for a thread pool parking a
 * worker. Returns 0; EVP_EINVAL (NULL pool); EVP_ENODEV (forked child). */
int evp_pool_thread_flush(evp_pool_t *pool);

/* Records the lease's event on `stream` (cudaStream_t on the CUDA backend,
 * evp_host_stream_t * on the host backend; NULL is the default stream).
 * Returns 0; EVP_ESTALE; EVP_EINVAL; EVP_EBACKEND (record failed: the lease
 * then has no recorded work and evp_pool_query answers EVP_ENODATA). */
int evp_pool_record(evp_pool_t *pool, evp_lease_t lease, void *stream);

/* Polls the work recorded through this lease. Returns 1 when it is
 * complete, 0 while it is pending; EVP_ENODATA if nothing was recorded
 * through this lease (a never-recorded event must not read as complete);
 * EVP_ESTALE if the lease was returned, even if that happens during the
 * query; EVP_EBACKEND if the backend query failed. */
int evp_pool_query(evp_pool_t *pool, evp_lease_t lease);

/* The backend event behind a lease (a cudaEvent_t on the CUDA backend), for
 * cudaStreamWaitEvent and the like. Valid until the lease is returned.
 * Returns 0; EVP_ESTALE; EVP_EINVAL. */
int evp_pool_event(evp_pool_t *pool, evp_lease_t lease, void **event);

/* A consistent-enough snapshot of the counters (each counter is exact; the
 * set is not one atomic snapshot while other threads run). Thread-safe. */
void evp_pool_stats(evp_pool_t *pool, evp_pool_stats_t *out);

/* The resolved configuration of the pool (sources included). */
void evp_pool_config(const evp_pool_t *pool, evp_config_t *out);

/* The device the pool serves and the backend it runs on ("cuda", "host"). */
int evp_pool_device(const evp_pool_t *pool);
const char *evp_pool_backend(const evp_pool_t *pool);

/* Slot and generation of a lease (for logs and tests). */
static inline uint32_t evp_lease_slot(evp_lease_t l) { return (uint32_t)(l & 0xffffffu); }
static inline uint64_t evp_lease_gen(evp_lease_t l) { return l >> 24; }

#ifdef __cplusplus
}
#endif
#endif
