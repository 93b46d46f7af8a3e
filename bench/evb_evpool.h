/* SPDX-License-Identifier: Apache-2.0 */
/* evb: building and checking evpool pools for the benchmarks. */
#ifndef EVB_EVPOOL_H
#define EVB_EVPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "evpool/pool.h"

typedef struct evb_evpool_knobs {
    uint32_t size, max, thread_cache;
    uint64_t wait_timeout_us;
    const char *on_exhaust; /* "wait" or "fail" */
    const char *depot;      /* "stack", "ring", or NULL: EVPOOL_DEPOT / the default */
} evb_evpool_knobs;

/* A pool of device 0 with these knobs set explicitly and the rest from the
 * EVPOOL_* environment. 0, or an EVP_E* code with a message in err. */
int evb_evpool_create_pool(const evb_evpool_knobs *k, evp_pool_t **out, char *err, size_t len);

/* Conservation after a run: the pool counted exactly `leases` leases and as
 * many returns, nothing outstanding, no stale return. 0, or -1 and err. */
int evb_evpool_check(evp_pool_t *pool, uint64_t leases, char *err, size_t len);

/* Destroys the pool (teardown: after the run's threads are gone) and warns
 * on stderr, naming `who`, if leases were never returned or events were not
 * destroyed exactly once. */
void evb_evpool_destroy(evp_pool_t *pool, const char *who);

/* "backend=cuda size=4096 max=4096 thread_cache=16" into buf. */
const char *evb_evpool_label(evp_pool_t *pool, char *buf, size_t len);

#endif
