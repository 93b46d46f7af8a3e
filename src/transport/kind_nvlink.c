/* SPDX-License-Identifier: Apache-2.0 */
/* The nvlink kind: one node's GPUs, CUDA IPC handles, peer access. */
#include "transport/kind.h"

#include <cuda_runtime_api.h>
#include <stdatomic.h>
#include <stdint.h>

#include "backend/cuda_device.h"
#include "backend/mem.h"
#include "base/log.h"

#define EVP_NVLINK_MAX_DEV 64

/* Pairs (i -> j) this process has enabled, so a second open makes no call
 * that answers cudaErrorPeerAccessAlreadyEnabled (compute-sanitizer
 * reports every API error). Bit j of evp_nvlink_peer[i]. */
static _Atomic uint64_t evp_nvlink_peer[EVP_NVLINK_MAX_DEV];

/* Enables peer access between every pair of GPUs whose topology allows it.
 * A pair that cannot is logged at info (copies between them still work,
 * staged through the host by the driver). */
static int evp_tnvlink_open(int ndev)
{
    if (ndev > EVP_NVLINK_MAX_DEV)
        ndev = EVP_NVLINK_MAX_DEV;
    int prev = -1, rc = 0;
    cudaError_t e;
    if ((e = cudaGetDevice(&prev)) != cudaSuccess)
        return evp_cuda_fail("cudaGetDevice", e);
    for (int i = 0; i < ndev && rc == 0; i++) {
        for (int j = 0; j < ndev && rc == 0; j++) {
            uint64_t bit = UINT64_C(1) << j;
            /* Relaxed: a racing second open at worst makes the call twice
             * and accepts AlreadyEnabled below. */
            if (i == j || (atomic_load_explicit(&evp_nvlink_peer[i], memory_order_relaxed) & bit))
                continue;
            int can = 0;
            if ((e = cudaDeviceCanAccessPeer(&can, i, j)) != cudaSuccess) {
                rc = evp_cuda_fail("cudaDeviceCanAccessPeer", e);
                break;
            }
            if (!can) {
                evp_info("transport nvlink: GPU %d cannot access GPU %d directly (no peer access)", i, j);
                continue;
            }
            if ((e = cudaSetDevice(i)) != cudaSuccess) {
                rc = evp_cuda_fail("cudaSetDevice", e);
                break;
            }
            e = cudaDeviceEnablePeerAccess(j, 0);
            if (e == cudaErrorPeerAccessAlreadyEnabled)
                cudaGetLastError(); /* enabled by someone else: fine */
            else if (e != cudaSuccess) {
                rc = evp_cuda_fail("cudaDeviceEnablePeerAccess", e);
                break;
            }
            atomic_fetch_or_explicit(&evp_nvlink_peer[i], bit, memory_order_relaxed);
        }
    }
    if ((e = cudaSetDevice(prev)) != cudaSuccess && rc == 0)
        rc = evp_cuda_fail("cudaSetDevice (restore)", e);
    return rc;
}

static int evp_tnvlink_locate(void *addr, size_t len, int *device)
{
    struct cudaPointerAttributes attr;
    cudaError_t e = cudaPointerGetAttributes(&attr, addr);
    if (e != cudaSuccess || attr.type != cudaMemoryTypeDevice) {
        cudaGetLastError();
        evp_error("transport nvlink: %p (%zu bytes) is not device memory (allocate it with cudaMalloc or "
                  "evp_transport_mem_alloc; host memory is shared by the host kind)",
                  addr, len);
        return EVP_EINVAL;
    }
    *device = attr.device;
    return 0;
}

const struct evp_tkind evp_tkind_nvlink = {
    .name = "nvlink",
    .kind = EVP_TRANSPORT_NVLINK,
    .backend = EVP_BACKEND_CUDA,
    .caps = EVP_TRANSPORT_CAP_GPU_GPU | EVP_TRANSPORT_CAP_HOST_GPU | EVP_TRANSPORT_CAP_INTER_PROC,
    .handle = EVP_MEM_CUDA_IPC,
    .key_by_handle = 1,
    .open = evp_tnvlink_open,
    .locate = evp_tnvlink_locate,
};
