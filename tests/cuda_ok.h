/* SPDX-License-Identifier: Apache-2.0 */
/* CUDA_OK(call): a CUDA runtime call in a gpu test that must succeed;
 * fails the test with the call and the CUDA error. */
#ifndef EVPOOL_TESTS_CUDA_OK_H
#define EVPOOL_TESTS_CUDA_OK_H

#include <cuda_runtime_api.h>

#include "harness.h"

#define CUDA_OK(call)                                                                            \
    do {                                                                                         \
        cudaError_t _e = (call);                                                                 \
        if (_e != cudaSuccess)                                                                   \
            evp_test_fail(__FILE__, __LINE__, "%s: %s", #call, cudaGetErrorString(_e));          \
    } while (0)

#endif
