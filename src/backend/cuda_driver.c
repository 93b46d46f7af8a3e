/* SPDX-License-Identifier: Apache-2.0 */
#include "backend/cuda_driver.h"

#include <cuda_runtime_api.h>
#include <pthread.h>

#include "evpool/error.h"
#include "base/log.h"

/* Written once inside pthread_once (evp_cu_load), read-only afterwards:
 * pthread_once orders the writes before every caller's reads. */
static pthread_once_t evp_cu_once = PTHREAD_ONCE_INIT;
static struct evp_cu evp_cu_table;
static int evp_cu_rc;

static int evp_cu_resolve(const char *symbol, void **fn)
{
    enum cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
    *fn = NULL;
#if CUDART_VERSION >= 12050
    cudaError_t e = cudaGetDriverEntryPointByVersion(symbol, fn, EVP_CU_ABI_VERSION, cudaEnableDefault, &q);
#else
    /* Before 12.5 the runtime resolves at its own version, which for the
     * symbols above is the same ABI as EVP_CU_ABI_VERSION. */
    cudaError_t e = cudaGetDriverEntryPoint(symbol, fn, cudaEnableDefault, &q);
#endif
    if (e != cudaSuccess) {
        evp_error("CUDA driver API unavailable: cudaGetDriverEntryPointByVersion(%s): %s (%s)", symbol,
                  cudaGetErrorName(e), cudaGetErrorString(e));
        cudaGetLastError(); /* not the application's error: clear it */
        return EVP_ENODEV;
    }
    if (q != cudaDriverEntryPointSuccess || !*fn) {
        evp_error("CUDA driver has no %s at ABI version %d (%s)", symbol, EVP_CU_ABI_VERSION,
                  q == cudaDriverEntryPointVersionNotSufficent ? "driver too old" : "symbol not found");
        return EVP_EBACKEND;
    }
    return 0;
}

static void evp_cu_resolve_all(void)
{
#define EVP_CU_RESOLVE(name, ver)                                                                  \
    if (evp_cu_rc == 0)                                                                            \
        evp_cu_rc = evp_cu_resolve(#name, (void **)&evp_cu_table.name);
    EVP_CU_SYMBOLS(EVP_CU_RESOLVE)
#undef EVP_CU_RESOLVE
}

int evp_cu_load(const struct evp_cu **out)
{
    pthread_once(&evp_cu_once, evp_cu_resolve_all);
    if (evp_cu_rc == 0)
        *out = &evp_cu_table;
    return evp_cu_rc;
}

int evp_cu_fail(const char *what, CUresult r)
{
    const char *name = NULL, *text = NULL;
    if (evp_cu_rc == 0) {
        evp_cu_table.cuGetErrorName(r, &name);
        evp_cu_table.cuGetErrorString(r, &text);
    }
    evp_error("%s failed: %s (%s)", what, name ? name : "CUDA_ERROR_?", text ? text : "unknown CUresult");
    return EVP_EBACKEND;
}
