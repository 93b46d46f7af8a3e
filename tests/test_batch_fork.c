/* SPDX-License-Identifier: Apache-2.0 */
/* fork() while threads submit, poll and free sub-batches (host backend):
 * the child never hangs. In the child every call on the parent's library
 * answers EVP_ENODEV at once (no lock, no RCU registration, no reclaimer:
 * they are the parent's), evp_batch_lib_destroy returns 0 at once, and the
 * child exits; each child has a wide deadline (a hang is killed and fails
 * the test). The parent's library then tears down with everything counted
 * back. A child creating a library of its own is not tested: liburcu's
 * registry lock may be frozen held by the fork (the application brackets
 * fork with urcu_memb_before_fork / after_fork_*, README: fork). */
#include <pthread.h>
#include <unistd.h>

#include "batch_host.h"

static evp_batch_lib_t *g_lib;
static _Atomic int g_stop;
static _Atomic evp_batch_t g_last; /* a handle a child tries to use */

/* Copies may still run after their thread ends (freed in flight): the
 * buffers outlive the threads. */
static char g_src[64], g_dst[4][64];
static struct host_xfer g_xfer;

static void *hammer(void *arg)
{
    evp_batch_req_t r = host_req(arg, g_src, sizeof g_src);
    while (!atomic_load(&g_stop)) {
        evp_batch_t b;
        if (evp_batch_alloc(g_lib, 1, &b) != 0)
            continue;
        atomic_store(&g_last, b);
        CHECK_RC(evp_batch_submit(g_lib, b, &r, 1, host_enqueue, &g_xfer, NULL), 0);
        evp_batch_status_t st;
        CHECK_RC(evp_batch_status(g_lib, b, &st), 0);
        CHECK_RC(evp_batch_free(g_lib, b), 0); /* often with the copy in flight */
    }
    return NULL;
}

static int child(void)
{
    evp_batch_t b = atomic_load(&g_last);
    evp_batch_status_t st;
    evp_pool_t *p;
    char buf[8];
    evp_batch_req_t r = host_req(buf, buf, sizeof buf);
    struct host_xfer x = {0};
    if (evp_batch_alloc(g_lib, 1, &b) != EVP_ENODEV)
        return 10;
    if (evp_batch_status(g_lib, b, &st) != EVP_ENODEV || evp_batch_task_status(g_lib, b, 0, &st) != EVP_ENODEV)
        return 11;
    if (evp_batch_submit(g_lib, b, &r, 1, host_enqueue, &x, NULL) != EVP_ENODEV)
        return 12;
    if (evp_batch_free(g_lib, b) != EVP_ENODEV)
        return 13;
    if (evp_batch_lib_pool(g_lib, 0, &p) != EVP_ENODEV)
        return 14;
    evp_batch_stats_t fin;
    if (evp_batch_lib_destroy(g_lib, &fin) != 0) /* forgets the parent's library */
        return 15;
    return 0;
}

int main(void)
{
#if EVP_TEST_SANITIZED
    /* The sanitizers' allocators are not fork-safe (test_fork.c). */
    fprintf(stderr, "test_batch_fork: skipped under a sanitizer\n");
    return EVP_TEST_SKIP;
#endif
    evp_config_t cfg = evp_test_config("EVPOOL_SIZE", "16", "EVPOOL_MAX", "4096", "EVPOOL_BATCH_TASKS", "1",
                                       NULL);
    CHECK_RC(evp_batch_lib_create(&cfg, &g_lib), 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, hammer, g_dst[i]) == 0);
    sleep_ns(50000000); /* the threads, the stream workers and the reclaimer are busy */
    int forks = evp_test_fork_children(child, 40, 2000000);
    atomic_store(&g_stop, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    batch_destroy_all_back(g_lib, 0);
    fprintf(stderr, "test_batch_fork: %d children, ok\n", forks);
    return 0;
}
