/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — the process-wide registry: one pool per device, created lazily.
 *
 * The table of pool pointers is sized once (the backend's device count) and
 * published with a release store; a lookup is two acquire loads and no
 * lock. Creation and shutdown take evp_registry_mu. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "evpool/device.h"
#include "backend/backend.h"
#include "base/log.h"

struct evp_registry {
    int count;
    _Atomic(evp_pool_t *) pools[]; /* count entries; NULL until first use */
};

static pthread_mutex_t evp_registry_mu = PTHREAD_MUTEX_INITIALIZER;
/* Release store (under the mutex) pairs with the acquire load in
 * evp_device_pool: a reader that sees the table sees it initialized. */
static _Atomic(struct evp_registry *) evp_registry;
static pthread_once_t evp_registry_once = PTHREAD_ONCE_INIT;

/* fork(): the child starts with an empty registry (the parent's pools are
 * unusable there: see pool.h; their memory is left alone) and a fresh
 * mutex, which another thread of the parent may have held. */
static void evp_registry_fork_child(void)
{
    pthread_mutex_init(&evp_registry_mu, NULL);
    atomic_store_explicit(&evp_registry, NULL, memory_order_relaxed);
}

static void evp_registry_setup(void)
{
    if (pthread_atfork(NULL, NULL, evp_registry_fork_child) != 0)
        evp_warn("pthread_atfork failed: a child of fork() must not use evp_device_pool");
}

/* Backend device count under the environment's EVPOOL_BACKEND. */
static int evp_registry_count(void)
{
    char err[512];
    evp_config_t cfg;
    evp_config_init(&cfg);
    if (evp_config_load_env(&cfg, err, sizeof err) != 0) {
        evp_error("invalid configuration: %s", err);
        return EVP_EINVAL;
    }
    const struct evp_backend *be;
    int rc = evp_backend_resolve(cfg.backend, &be);
    return rc ? rc : be->device_count(NULL, 0);
}

int evp_device_count(void)
{
    pthread_once(&evp_registry_once, evp_registry_setup);
    struct evp_registry *r = atomic_load_explicit(&evp_registry, memory_order_acquire);
    return r ? r->count : evp_registry_count();
}

int evp_device_pool(int device, evp_pool_t **out)
{
    if (!out)
        return EVP_EINVAL;
    pthread_once(&evp_registry_once, evp_registry_setup);
    struct evp_registry *r = atomic_load_explicit(&evp_registry, memory_order_acquire);
    if (r && device >= 0 && device < r->count) {
        /* Acquire pairs with the release store below: the pool is fully
         * built before its pointer is visible. */
        evp_pool_t *p = atomic_load_explicit(&r->pools[device], memory_order_acquire);
        if (p) {
            *out = p;
            return 0;
        }
    }
    int rc = 0, cancel;
    /* Pool creation logs (write(2): a cancellation point) and calls the
     * backend under the mutex: a cancellation there would leave it locked
     * for good. Deferred until the mutex is released. */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    pthread_mutex_lock(&evp_registry_mu);
    r = atomic_load_explicit(&evp_registry, memory_order_relaxed);
    if (!r) {
        int count = evp_registry_count();
        if (count < 0) {
            rc = count;
            goto out;
        }
        r = calloc(1, sizeof *r + (size_t)count * sizeof r->pools[0]);
        if (!r) {
            rc = EVP_ENOMEM;
            goto out;
        }
        r->count = count;
        atomic_store_explicit(&evp_registry, r, memory_order_release);
    }
    if (device < 0 || device >= r->count) {
        evp_error("device %d out of range: %d device(s)", device, r->count);
        rc = EVP_ENODEV;
        goto out;
    }
    evp_pool_t *p = atomic_load_explicit(&r->pools[device], memory_order_relaxed);
    if (!p) {
        rc = evp_pool_create(device, NULL, &p);
        if (rc)
            goto out;
        atomic_store_explicit(&r->pools[device], p, memory_order_release);
    }
    *out = p;
out:
    pthread_mutex_unlock(&evp_registry_mu);
    pthread_setcancelstate(cancel, NULL);
    return rc;
}

int evp_device_shutdown(uint64_t *leaked)
{
    int rc = 0, cancel;
    uint64_t lost = 0;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel); /* as in evp_device_pool */
    pthread_mutex_lock(&evp_registry_mu);
    struct evp_registry *r = atomic_load_explicit(&evp_registry, memory_order_relaxed);
    atomic_store_explicit(&evp_registry, NULL, memory_order_release);
    for (int i = 0; r && i < r->count; i++) {
        evp_pool_t *p = atomic_load_explicit(&r->pools[i], memory_order_relaxed);
        if (!p)
            continue;
        evp_pool_stats_t st;
        int e = evp_pool_destroy(p, &st);
        if (e && !rc)
            rc = e;
        lost += st.outstanding;
    }
    free(r);
    pthread_mutex_unlock(&evp_registry_mu);
    pthread_setcancelstate(cancel, NULL);
    if (leaked)
        *leaked = lost;
    return rc;
}
