/* SPDX-License-Identifier: Apache-2.0 */
/* fork() while other threads hammer a pool: the child never hangs. In the
 * child the parent's pool answers EVP_ENODEV at once (documented in
 * pool.h), and the child can create and use pools of its own, directly and
 * through the registry. Each child must exit within a wide bound
 * (waitpid with a deadline; a hang is killed and fails the test). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static evp_pool_t *g_pool;
static _Atomic int g_stop;

static void *hammer(void *arg)
{
    while (!atomic_load(&g_stop)) {
        evp_lease_t l[3];
        int k = 0;
        for (; k < 3; k++)
            if (evp_pool_lease(g_pool, &l[k]) != 0)
                break;
        for (int i = 0; i < k; i++)
            CHECK_RC(evp_pool_return(g_pool, l[i]), 0);
        evp_pool_thread_flush(g_pool);
    }
    return NULL;
}

static int child(void)
{
    evp_lease_t l;
    if (evp_pool_lease(g_pool, &l) != EVP_ENODEV)
        return 10;
    if (evp_pool_return(g_pool, 12345) != EVP_ENODEV)
        return 11;
    evp_config_t cfg = evp_test_config("EVPOOL_SIZE", "4", "EVPOOL_WAIT_TIMEOUT_US", "1000", NULL);
    evp_pool_t *mine;
    if (evp_pool_create(0, &cfg, &mine) != 0)
        return 12;
    for (int i = 0; i < 100; i++) {
        if (evp_pool_lease(mine, &l) != 0 || evp_pool_return(mine, l) != 0)
            return 13;
    }
    if (evp_pool_destroy(mine, NULL) != 0)
        return 14;
    evp_pool_t *reg;
    if (evp_device_pool(0, &reg) != 0 || evp_pool_lease(reg, &l) != 0 || evp_pool_return(reg, l) != 0)
        return 15;
    if (evp_device_shutdown(NULL) != 0)
        return 16;
    if (evp_pool_destroy(g_pool, NULL) != 0) /* frees the child's copy only */
        return 17;
    return 0;
}

int main(void)
{
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    /* gcc 12's ThreadSanitizer runtime does not lock its own allocator
     * around fork(): a child of a multithreaded process can hang in its
     * first malloc (seen here: __tsan::user_alloc_internal ->
     * SizeClassAllocator64::GetFromAllocator -> Mutex::Lock, from
     * evp_tls_reserve's realloc). Under ASan one child of 40 hung once in
     * CI (2 cores), suspected to be the same class (the child allocates
     * first thing); not yet proven with a backtrace. The plain build runs
     * this test (CI, and the GPU machines' 16 and 32 cores). */
    fprintf(stderr, "test_fork: skipped under a sanitizer (its allocator is not fork-safe)\n");
    return EVP_TEST_SKIP;
#endif
    setenv("EVPOOL_BACKEND", "host", 1);
    evp_config_t cfg = evp_test_config("EVPOOL_SIZE", "8", "EVPOOL_MAX", "8", "EVPOOL_THREAD_CACHE", "2",
                                       "EVPOOL_WAIT_TIMEOUT_US", "1000", NULL);
    CHECK_RC(evp_pool_create(0, &cfg, &g_pool), 0);
    evp_pool_t *reg;
    CHECK_RC(evp_device_pool(0, &reg), 0); /* the registry is in use too */
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, hammer, NULL) == 0);
    int forks = evp_test_fork_children(child, 40, 0);
    atomic_store(&g_stop, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    evp_pool_stats_t st;
    CHECK_RC(evp_pool_destroy(g_pool, &st), 0);
    CHECK_EQ(st.outstanding, 0);
    CHECK_RC(evp_device_shutdown(NULL), 0);
    fprintf(stderr, "test_fork: %d children, ok\n", forks);
    return 0;
}
