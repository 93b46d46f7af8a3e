/* SPDX-License-Identifier: Apache-2.0 */
/* Host streams run callbacks in FIFO order; synchronize waits for all of
 * them; destroy drains what is queued. */
#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"

static int g_order[64];
static _Atomic int g_n;

static void note(void *arg)
{
    g_order[atomic_fetch_add(&g_n, 1)] = (int)(intptr_t)arg;
}

static void test_fifo_and_sync(void)
{
    evp_host_stream_t *s;
    CHECK_RC(evp_host_stream_create(&s), 0);
    for (int i = 0; i < 64; i++)
        CHECK_RC(evp_host_stream_enqueue(s, note, (void *)(intptr_t)i), 0);
    CHECK_RC(evp_host_stream_synchronize(s), 0);
    CHECK_EQ(atomic_load(&g_n), 64);
    for (int i = 0; i < 64; i++)
        CHECK_EQ(g_order[i], i);
    evp_host_stream_destroy(s);
}

static void test_destroy_drains(void)
{
    evp_host_stream_t *s;
    atomic_store(&g_n, 0);
    CHECK_RC(evp_host_stream_create(&s), 0);
    for (int i = 0; i < 10; i++)
        CHECK_RC(evp_host_stream_enqueue(s, note, (void *)(intptr_t)i), 0);
    evp_host_stream_destroy(s);
    CHECK_EQ(atomic_load(&g_n), 10);
}

static void test_bad_args(void)
{
    CHECK_RC(evp_host_stream_create(NULL), EVP_EINVAL);
    CHECK_RC(evp_host_stream_enqueue(NULL, note, NULL), EVP_EINVAL);
    CHECK_RC(evp_host_stream_synchronize(NULL), EVP_EINVAL);
    evp_host_stream_t *s;
    CHECK_RC(evp_host_stream_create(&s), 0);
    CHECK_RC(evp_host_stream_enqueue(s, NULL, NULL), EVP_EINVAL);
    evp_host_stream_destroy(s);
    evp_host_stream_destroy(NULL);
}

int main(void)
{
    TEST(test_fifo_and_sync);
    TEST(test_destroy_drains);
    TEST(test_bad_args);
    return 0;
}
