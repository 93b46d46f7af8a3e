/* SPDX-License-Identifier: Apache-2.0 */
#include "backend/cuda_device.h"

#include "evpool/error.h"
#include "base/log.h"

int evp_cuda_fail(const char *what, cudaError_t e)
{
    evp_error("%s failed: %s (%s)", what, cudaGetErrorName(e), cudaGetErrorString(e));
    return EVP_EBACKEND;
}

int evp_cuda_enter(int device, int *prev)
{
    cudaError_t e = cudaGetDevice(prev);
    if (e != cudaSuccess)
        return evp_cuda_fail("cudaGetDevice", e);
    if (*prev != device && (e = cudaSetDevice(device)) != cudaSuccess)
        return evp_cuda_fail("cudaSetDevice", e);
    return 0;
}

int evp_cuda_leave(int device, int prev, int rc)
{
    if (prev != device) {
        cudaError_t e = cudaSetDevice(prev);
        if (e != cudaSuccess && rc == 0)
            return evp_cuda_fail("cudaSetDevice (restore)", e);
    }
    return rc;
}
