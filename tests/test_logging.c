/* SPDX-License-Identifier: Apache-2.0 */
/* What the library tells its user: EVPOOL_BACKEND=auto without a GPU falls
 * back to the host backend and says so once (info); EVPOOL_BACKEND=cuda
 * without a GPU is EVP_ENODEV with the reason; teardown names the slots of
 * leases never returned at debug level. Skipped (77) where a GPU is usable:
 * the GPU tests cover that machine. */
#include <cuda_runtime_api.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* The scenarios below, run through evp_test_capture_stderr. */
static void run(void *fn)
{
    ((void (*)(void))fn)();
}

static void capture(void (*fn)(void), char *buf, size_t len)
{
    evp_test_capture_stderr(run, (void *)fn, buf, len);
}

static void two_auto_pools(void)
{
    evp_pool_t *a, *b;
    setenv("EVPOOL_BACKEND", "auto", 1);
    CHECK_RC(evp_pool_create(0, NULL, &a), 0);
    CHECK_RC(evp_pool_create(1, NULL, &b), 0);
    CHECK(strcmp(evp_pool_backend(a), "host") == 0);
    CHECK_RC(evp_pool_destroy(a, NULL), 0);
    CHECK_RC(evp_pool_destroy(b, NULL), 0);
}

static void cuda_without_gpu(void)
{
    evp_pool_t *p = NULL;
    setenv("EVPOOL_BACKEND", "cuda", 1);
    CHECK_RC(evp_pool_create(0, NULL, &p), EVP_ENODEV);
    CHECK(p == NULL);
    CHECK_EQ(evp_device_count(), EVP_ENODEV);
}

static void leak_two(void)
{
    evp_pool_t *p;
    setenv("EVPOOL_BACKEND", "host", 1);
    CHECK_RC(evp_pool_create(0, NULL, &p), 0);
    evp_lease_t a, b, c;
    CHECK_RC(evp_pool_lease(p, &a), 0);
    CHECK_RC(evp_pool_lease(p, &b), 0);
    CHECK_RC(evp_pool_lease(p, &c), 0);
    CHECK_RC(evp_pool_return(p, b), 0);
    evp_pool_stats_t st;
    CHECK_RC(evp_pool_destroy(p, &st), 0);
    CHECK_EQ(st.outstanding, 2);
}

int main(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) == cudaSuccess && n > 0) {
        fprintf(stderr, "a GPU is usable here: skipped (test_gpu_pool covers it)\n");
        return EVP_TEST_SKIP;
    }
    cudaGetLastError();
    char out[8192];

    setenv("EVPOOL_LOG", "info", 1);
    capture(two_auto_pools, out, sizeof out);
    fputs(out, stderr);
    CHECK_EQ(evp_test_count(out, "no usable GPU"), 1); /* logged once, not per pool */
    CHECK(strstr(out, "host backend") != NULL);

    setenv("EVPOOL_LOG", "error", 1);
    capture(cuda_without_gpu, out, sizeof out);
    fputs(out, stderr);
    CHECK(strstr(out, "EVPOOL_BACKEND=cuda but no usable GPU: cudaGetDeviceCount") != NULL);

    setenv("EVPOOL_LOG", "debug", 1);
    capture(leak_two, out, sizeof out);
    fputs(out, stderr);
    CHECK(strstr(out, "2 lease(s) never returned") != NULL);
    CHECK_EQ(evp_test_count(out, "still leased at teardown"), 2);
    fprintf(stderr, "logging: ok\n");
    return 0;
}
