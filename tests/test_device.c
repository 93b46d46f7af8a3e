/* SPDX-License-Identifier: Apache-2.0 */
/* The process-wide registry on the host backend: lazy creation from the
 * environment, one pool per device, concurrent first use, lock-free lookup,
 * range checks, shutdown. */
#include <pthread.h>
#include <stdlib.h>

#include "harness.h"

#define RACERS 16
static pthread_barrier_t g_start;
static evp_pool_t *g_seen[RACERS];

static void *first_use(void *arg)
{
    intptr_t i = (intptr_t)arg;
    pthread_barrier_wait(&g_start);
    CHECK_RC(evp_device_pool(3, &g_seen[i]), 0);
    return NULL;
}

int main(void)
{
    setenv("EVPOOL_BACKEND", "host", 1);
    setenv("EVPOOL_SIZE", "8", 1);

    /* A bad environment fails creation and the next call tries again. */
    setenv("EVPOOL_MAX", "4", 1); /* < SIZE */
    evp_pool_t *p = NULL, *q = NULL;
    CHECK_RC(evp_device_pool(0, &p), EVP_EINVAL);
    unsetenv("EVPOOL_MAX");

    CHECK_EQ(evp_device_count(), EVP_HOST_DEVICES);
    CHECK_RC(evp_device_pool(0, &p), 0);
    CHECK_RC(evp_device_pool(0, &q), 0);
    CHECK(p == q); /* one pool per device */
    CHECK_RC(evp_device_pool(1, &q), 0);
    CHECK(p != q);
    CHECK_EQ(evp_pool_device(q), 1);
    evp_config_t cfg;
    evp_pool_config(p, &cfg);
    CHECK_EQ(cfg.size, 8);
    CHECK_EQ(cfg.max, 32);
    CHECK_RC(evp_device_pool(EVP_HOST_DEVICES, &q), EVP_ENODEV);
    CHECK_RC(evp_device_pool(-1, &q), EVP_ENODEV);
    CHECK_RC(evp_device_pool(0, NULL), EVP_EINVAL);

    /* Many threads racing on the first use of a device get one pool. */
    pthread_barrier_init(&g_start, NULL, RACERS);
    pthread_t t[RACERS];
    for (intptr_t i = 0; i < RACERS; i++)
        CHECK(pthread_create(&t[i], NULL, first_use, (void *)i) == 0);
    for (int i = 0; i < RACERS; i++)
        pthread_join(t[i], NULL);
    for (int i = 1; i < RACERS; i++)
        CHECK(g_seen[i] == g_seen[0]);
    pthread_barrier_destroy(&g_start);

    /* Shutdown reports what was never returned, then starts afresh. */
    evp_lease_t l;
    CHECK_RC(evp_pool_lease(p, &l), 0);
    uint64_t leaked = 99;
    CHECK_RC(evp_device_shutdown(&leaked), 0);
    CHECK_EQ(leaked, 1);
    CHECK_RC(evp_device_pool(0, &q), 0);
    CHECK_RC(evp_pool_lease(q, &l), 0);
    CHECK_RC(evp_pool_return(q, l), 0);
    CHECK_RC(evp_device_shutdown(&leaked), 0);
    CHECK_EQ(leaked, 0);
    fprintf(stderr, "registry: ok\n");
    return 0;
}
