/* SPDX-License-Identifier: Apache-2.0 */
/* evb implementations: one ops table per way of handing out events, so the
 * same benchmark bodies (evb_patterns.h) measure evpool and every baseline.
 *
 * An item is whatever the implementation hands out, widened to 64 bits: an
 * evpool lease, a slot id of a baseline free list, a cudaEvent_t.
 *
 * Each implementation defines its table `static const` in its own file and
 * instantiates the bodies there (EVB_DEFINE_PATTERNS), so the compiler sees
 * the constant table and calls lease/ret directly (inlined where it can):
 * no implementation pays an indirect call that another does not.
 */
#ifndef EVB_IMPL_H
#define EVB_IMPL_H

#include <stddef.h>
#include <stdint.h>

/* lease() answers: 0 = *item leased; EVB_EMPTY = nothing free right now
 * (the body retries, with backoff and the run's deadline); a negative code
 * = failure (reported by error_name). */
#define EVB_EMPTY 1

typedef struct evb_impl_params {
    uint32_t capacity;      /* events the pool holds (bounded implementations) */
    uint32_t thread_cache;  /* evpool: EVPOOL_THREAD_CACHE */
    const char *on_exhaust; /* evpool: "wait" or "fail" */
    uint64_t wait_timeout_us;
    const char *depot;      /* evpool: EVPOOL_DEPOT ("stack", "ring"; NULL: default) */
} evb_impl_params;

typedef struct evb_impl {
    const char *name;
    /* Builds a pool for one run (main thread, before the run's threads).
     * 0 or non-zero with a message in err. */
    int (*create)(const evb_impl_params *p, void **pool, char *err, size_t len);
    int (*lease)(void *pool, uint64_t *item);
    int (*ret)(void *pool, uint64_t item); /* 0 or a negative code */
    /* Optional: returns items[0..n) at once (the progress thread then
     * returns each drained queue in bulk). 0, or a negative code if any
     * was refused. NULL: one ret per item. */
    int (*ret_many)(void *pool, uint32_t n, const uint64_t *items);
    const char *(*error_name)(int rc);
    /* The lease code meaning "waited the whole wait timeout, nothing came
     * back" (evpool's EVP_EAGAIN): counted and retried, not a failure.
     * 0 when the implementation has none. */
    int timeout_rc;
    /* After the run: every item back, and exactly `leases` leased and
     * returned? 0, or non-zero with what is wrong in err. */
    int (*check)(void *pool, uint64_t leases, char *err, size_t len);
    /* A label for the run's JSON entry ("backend=cuda"); may be NULL. */
    const char *(*label)(void *pool);
    void (*destroy)(void *pool);
} evb_impl;

#endif
