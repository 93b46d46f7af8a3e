/* SPDX-License-Identifier: Apache-2.0 */
/* Baseline: a mutex around a LIFO vector of free events, what PyTorch's
 * CUDACachingAllocator EventPool does (std::mutex + std::vector, pop_back
 * on lease, push_back on return). Items are slot ids 1..capacity, filled up
 * front to the same capacity as evpool's pool. PyTorch creates a new event
 * when the vector is empty; here that never happens in the pattern runs
 * (the capacity is not reached), and an empty vector is retried. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../evb_patterns.h"
#include "../evb_suite.h"

typedef struct evb_mv_pool {
    pthread_mutex_t lock; /* guards top and ids */
    uint32_t top;         /* ids[0..top) are free */
    uint32_t capacity;
    uint32_t *ids;        /* [capacity], owned */
} evb_mv_pool;

static int evb_mv_create(const evb_impl_params *p, void **out, char *err, size_t len)
{
    evb_mv_pool *pool = aligned_alloc(64, (sizeof *pool + 63u) & ~(size_t)63u);
    uint32_t *ids = malloc(sizeof *ids * p->capacity);
    if (!pool || !ids) {
        free(pool);
        free(ids);
        snprintf(err, len, "out of memory for %u ids", p->capacity);
        return -1;
    }
    /* The default (non-adaptive) mutex, as std::mutex is on glibc. */
    pthread_mutex_init(&pool->lock, NULL);
    pool->capacity = p->capacity;
    pool->ids = ids;
    for (uint32_t i = 0; i < p->capacity; i++)
        ids[i] = i + 1u;
    pool->top = p->capacity;
    *out = pool;
    return 0;
}

static inline int evb_mv_lease(void *p, uint64_t *item)
{
    evb_mv_pool *pool = p;
    pthread_mutex_lock(&pool->lock);
    if (pool->top == 0) {
        pthread_mutex_unlock(&pool->lock);
        return EVB_EMPTY;
    }
    *item = pool->ids[--pool->top];
    pthread_mutex_unlock(&pool->lock);
    return 0;
}

static inline int evb_mv_ret(void *p, uint64_t item)
{
    evb_mv_pool *pool = p;
    int rc = 0;
    pthread_mutex_lock(&pool->lock);
    if (pool->top < pool->capacity)
        pool->ids[pool->top++] = (uint32_t)item;
    else
        rc = -ENOSPC;
    pthread_mutex_unlock(&pool->lock);
    return rc;
}

static const char *evb_mv_error_name(int rc)
{
    return rc == -ENOSPC ? "vector full (an id was returned twice)" : strerror(-rc);
}

static int evb_mv_check(void *p, uint64_t leases, char *err, size_t len)
{
    evb_mv_pool *pool = p;
    if (pool->top != pool->capacity) {
        snprintf(err, len, "vector holds %u ids, capacity %u", pool->top, pool->capacity);
        return -1;
    }
    unsigned char *seen = calloc(pool->capacity + 1u, 1);
    if (!seen) {
        snprintf(err, len, "out of memory for the check");
        return -1;
    }
    int rc = 0;
    for (uint32_t i = 0; i < pool->top; i++) {
        uint32_t id = pool->ids[i];
        if (id == 0 || id > pool->capacity || seen[id]++) {
            snprintf(err, len, "vector holds id %u twice or out of range", id);
            rc = -1;
        }
    }
    free(seen);
    return rc;
}

static const char *evb_mv_label(void *p)
{
    (void)p;
    return "pthread mutex + LIFO vector";
}

static void evb_mv_destroy(void *p)
{
    evb_mv_pool *pool = p;
    pthread_mutex_destroy(&pool->lock);
    free(pool->ids);
    free(pool);
}

static const evb_impl evb_mv_impl = {
    .name = "mutex_vector",
    .create = evb_mv_create,
    .lease = evb_mv_lease,
    .ret = evb_mv_ret,
    .error_name = evb_mv_error_name,
    .check = evb_mv_check,
    .label = evb_mv_label,
    .destroy = evb_mv_destroy,
};

EVB_DEFINE_PATTERNS(mutex_vector, &evb_mv_impl)

void evb_mutex_vector_register(void)
{
    evb_impl_params p = {.capacity = EVB_POOL_CAPACITY};
    evb_mutex_vector_register_patterns("mutex_vector", &p);
}
