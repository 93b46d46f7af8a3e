/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "evpool/error.h"
#include "backend/backend.h"
#include "backend/fault.h"
#include "base/log.h"

/* The GPU probe runs once per process: cudaGetDeviceCount initializes the
 * driver, which is slow and whose answer does not change. */
static pthread_once_t evp_probe_once = PTHREAD_ONCE_INIT;
static int evp_probe_count;
static char evp_probe_why[256];

static void evp_backend_probe(void)
{
    evp_probe_count = evp_backend_cuda.device_count(evp_probe_why, sizeof evp_probe_why);
    if (evp_probe_count < 0)
        evp_info("no usable GPU (%s): EVPOOL_BACKEND=auto uses the host backend", evp_probe_why);
}

static int evp_backend_pick(evp_backend_kind_t kind, const struct evp_backend **out)
{
    switch (kind) {
    case EVP_BACKEND_HOST:
        *out = &evp_backend_host;
        return 0;
    case EVP_BACKEND_CUDA:
    case EVP_BACKEND_AUTO:
        pthread_once(&evp_probe_once, evp_backend_probe);
        if (evp_probe_count > 0) {
            *out = &evp_backend_cuda;
            return 0;
        }
        if (kind == EVP_BACKEND_AUTO) {
            *out = &evp_backend_host;
            return 0;
        }
        evp_error("EVPOOL_BACKEND=cuda but no usable GPU: %s", evp_probe_why);
        return EVP_ENODEV;
    }
    return EVP_EINVAL;
}

int evp_backend_copy_check(void *const *dst, const void *const *src, const size_t *len, size_t n)
{
    if (n > 0 && (!dst || !src || !len)) {
        evp_error("copy: NULL array for %zu copies", n);
        return EVP_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (len[i] == 0)
            continue;
        uintptr_t d = (uintptr_t)dst[i], s = (uintptr_t)src[i];
        const char *bad = NULL;
        if (!d || !s)
            bad = "NULL pointer";
        else if (d + len[i] < d || s + len[i] < s)
            bad = "range wraps around the address space";
        else if (d < s + len[i] && s < d + len[i])
            bad = "source and destination overlap";
        if (bad) {
            evp_error("copy %zu of %zu (%zu bytes): %s", i, n, len[i], bad);
            return EVP_EINVAL;
        }
    }
    return 0;
}

/* Tests (and EVPOOL_FAULT) may wrap the table to inject failures. */
int evp_backend_resolve(evp_backend_kind_t kind, const struct evp_backend **out)
{
    int rc = evp_backend_pick(kind, out);
    if (rc == 0)
        *out = evp_fault_wrap(*out);
    return rc;
}
