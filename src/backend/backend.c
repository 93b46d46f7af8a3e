#include <pthread.h>
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

/* Tests (and EVPOOL_FAULT) may wrap the table to inject failures. */
int evp_backend_resolve(evp_backend_kind_t kind, const struct evp_backend **out)
{
    int rc = evp_backend_pick(kind, out);
    if (rc == 0)
        *out = evp_fault_wrap(*out);
    return rc;
}
