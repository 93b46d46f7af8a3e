/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — helpers every CUDA-backend file shares: the failure report and
 * making a device current for a call (the caller's device is restored). */
#ifndef EVPOOL_SRC_BACKEND_CUDA_DEVICE_H
#define EVPOOL_SRC_BACKEND_CUDA_DEVICE_H

#include <cuda_runtime_api.h>

/* Logs "<what> failed: <name> (<text>)" and returns EVP_EBACKEND. */
int evp_cuda_fail(const char *what, cudaError_t e);

/* Makes `device` current, remembering the caller's device in *prev.
 * 0 or EVP_EBACKEND. */
int evp_cuda_enter(int device, int *prev);

/* Restores the caller's device; rc is the result so far (returned unless it
 * is 0 and the restore fails: then EVP_EBACKEND). */
int evp_cuda_leave(int device, int prev, int rc);

#endif
