/* SPDX-License-Identifier: Apache-2.0 */
/* evb: evpool itself, as an evb_impl, for the same_thread and cross_thread
 * patterns. The pool runs on the backend EVPOOL_BACKEND picks (auto: CUDA
 * where a GPU is usable, else host): lease and return never touch the
 * backend, so the numbers hold either way; the run's label names it. */
#include <stdio.h>
#include <stdlib.h>

#include "evb_evpool.h"
#include "evb_patterns.h"
#include "evb_suite.h"
#include "evpool/pool.h"

int evb_evpool_create_pool(const evb_evpool_knobs *k, evp_pool_t **out, char *err, size_t len)
{
    evp_config_t cfg;
    evp_config_init(&cfg);
    char value[32], why[256];
    const struct {
        const char *name;
        uint64_t v;
        const char *text;
    } knobs[] = {
        {"EVPOOL_SIZE", k->size, NULL},
        {"EVPOOL_MAX", k->max, NULL},
        {"EVPOOL_THREAD_CACHE", k->thread_cache, NULL},
        {"EVPOOL_WAIT_TIMEOUT_US", k->wait_timeout_us, NULL},
        {"EVPOOL_ON_EXHAUST", 0, k->on_exhaust},
    };
    /* Explicit values win over the environment; the environment still
     * supplies the rest (EVPOOL_BACKEND, EVPOOL_LOG). */
    for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
        const char *v = knobs[i].text;
        if (!v) {
            snprintf(value, sizeof value, "%llu", (unsigned long long)knobs[i].v);
            v = value;
        }
        int rc = evp_config_set(&cfg, knobs[i].name, v, why, sizeof why);
        if (rc != 0) {
            snprintf(err, len, "evp_config_set %s=%s: %s", knobs[i].name, v, why);
            return rc;
        }
    }
    int rc = k->depot ? evp_config_set(&cfg, "EVPOOL_DEPOT", k->depot, why, sizeof why) : 0;
    if (rc != 0) {
        snprintf(err, len, "evp_config_set EVPOOL_DEPOT=%s: %s", k->depot, why);
        return rc;
    }
    rc = evp_config_load_env(&cfg, why, sizeof why);
    if (rc != 0) {
        snprintf(err, len, "evp_config_load_env: %s", why);
        return rc;
    }
    rc = evp_pool_create(0, &cfg, out);
    if (rc != 0)
        snprintf(err, len, "evp_pool_create(device 0): %s", evp_strerror(rc));
    return rc;
}

int evb_evpool_check(evp_pool_t *pool, uint64_t leases, char *err, size_t len)
{
    evp_pool_stats_t s;
    evp_pool_stats(pool, &s);
    if (s.leases != leases || s.returns != leases || s.outstanding != 0 || s.stale_returns != 0) {
        snprintf(err, len,
                 "evpool stats: leases %llu, returns %llu, outstanding %llu, stale %llu; "
                 "the benchmark leased and returned %llu",
                 (unsigned long long)s.leases, (unsigned long long)s.returns,
                 (unsigned long long)s.outstanding, (unsigned long long)s.stale_returns,
                 (unsigned long long)leases);
        return -1;
    }
    return 0;
}

void evb_evpool_destroy(evp_pool_t *pool, const char *who)
{
    evp_pool_stats_t fin;
    int rc = evp_pool_destroy(pool, &fin);
    if (rc != 0 || fin.outstanding != 0 || fin.events_created != fin.events_destroyed)
        fprintf(stderr,
                "evb: %s: evp_pool_destroy: %s; %llu leases never returned, "
                "%llu events created, %llu destroyed\n",
                who, evp_strerror(rc), (unsigned long long)fin.outstanding,
                (unsigned long long)fin.events_created, (unsigned long long)fin.events_destroyed);
}

const char *evb_evpool_label(evp_pool_t *pool, char *buf, size_t len)
{
    evp_config_t cfg;
    evp_pool_config(pool, &cfg);
    snprintf(buf, len, "backend=%s size=%u max=%u thread_cache=%u depot=%s", evp_pool_backend(pool),
             cfg.size, cfg.max, cfg.thread_cache, cfg.depot == EVP_DEPOT_RING ? "ring" : "stack");
    return buf;
}

static int evb_evpool_impl_create(const evb_impl_params *p, void **pool, char *err, size_t len)
{
    evb_evpool_knobs k = {
        .size = p->capacity,
        .max = p->capacity, /* no growth: the same bound as the baselines */
        .thread_cache = p->thread_cache,
        .wait_timeout_us = p->wait_timeout_us,
        .on_exhaust = p->on_exhaust,
        .depot = p->depot,
    };
    return evb_evpool_create_pool(&k, (evp_pool_t **)pool, err, len);
}

static int evb_evpool_impl_lease(void *pool, uint64_t *item)
{
    return evp_pool_lease(pool, item);
}

static int evb_evpool_impl_ret(void *pool, uint64_t item)
{
    return evp_pool_return(pool, item);
}

static int evb_evpool_impl_ret_many(void *pool, uint32_t n, const uint64_t *items)
{
    int refused = evp_pool_return_many(pool, n, items, NULL);
    return refused > 0 ? EVP_ESTALE : refused;
}

static int evb_evpool_impl_check(void *pool, uint64_t leases, char *err, size_t len)
{
    return evb_evpool_check(pool, leases, err, len);
}

static const char *evb_evpool_impl_label(void *pool)
{
    /* Called by thread 0 only, between runs. */
    static char buf[128];
    return evb_evpool_label(pool, buf, sizeof buf);
}

static void evb_evpool_impl_destroy(void *pool)
{
    evb_evpool_destroy(pool, "patterns");
}

/* One table per variant; they differ in name and in ret_many only. */
#define EVB_EVPOOL_IMPL(var, impl_name, bulk)                                                     \
    static const evb_impl var = {                                                                 \
        .name = impl_name,                                                                        \
        .create = evb_evpool_impl_create,                                                         \
        .lease = evb_evpool_impl_lease,                                                           \
        .ret = evb_evpool_impl_ret,                                                               \
        .ret_many = bulk,                                                                         \
        .error_name = evp_strerror,                                                               \
        .timeout_rc = EVP_EAGAIN,                                                                 \
        .check = evb_evpool_impl_check,                                                           \
        .label = evb_evpool_impl_label,                                                           \
        .destroy = evb_evpool_impl_destroy,                                                       \
    }

EVB_EVPOOL_IMPL(evb_evpool_impl, "evpool", NULL);
EVB_DEFINE_PATTERNS(evpool, &evb_evpool_impl)

/* The same pool, with the progress thread returning each drained queue
 * through evp_pool_return_many. */
EVB_EVPOOL_IMPL(evb_evpool_bulk_impl, "evpool_bulk", evb_evpool_impl_ret_many);

EVB_DEFINE_PATTERNS(evpool_bulk, &evb_evpool_bulk_impl)

void evb_evpool_register(void)
{
    /* Thread cache at evpool's default and off (0): what the cache buys.
     * The default is read, not copied, so the runs follow it (the names say
     * which size ran: evpool_tc64). Each on both depots, in the same run:
     * evpool_* is the stack, evpool_ring_* the SCQ ring (EVPOOL_DEPOT). */
    evp_config_t def;
    evp_config_init(&def);
    const uint32_t caches[] = {def.thread_cache, 0};
    static const char *const depots[][2] = {{"stack", ""}, {"ring", "_ring"}};
    for (size_t d = 0; d < 2; d++)
        for (size_t i = 0; i < sizeof caches / sizeof caches[0]; i++) {
            evb_impl_params p = {
                .capacity = EVB_POOL_CAPACITY,
                .thread_cache = caches[i],
                .on_exhaust = "wait",
                .wait_timeout_us = 1000000,
                .depot = depots[d][0],
            };
            char label[32];
            snprintf(label, sizeof label, "evpool%s_tc%u", depots[d][1], caches[i]);
            evb_evpool_register_patterns(label, &p);
            if (i == 0) {
                snprintf(label, sizeof label, "evpool%s_bulk_tc%u", depots[d][1], caches[i]);
                evb_evpool_bulk_register_patterns(label, &p);
            }
        }
}
