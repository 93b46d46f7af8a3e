/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — the CUDA driver API, reached only through the runtime's entry-point
 * lookup (cudaGetDriverEntryPointByVersion).
 *
 * libevpool.a links CUDA::cudart_static and nothing else of CUDA: no
 * reference to libcuda.so or to a cu* symbol, so a program that links it
 * still starts where no NVIDIA driver is installed (the runtime opens the
 * driver itself, and fails cleanly). Every driver call (cuMem*, cuGetError*,
 * cuMemGetAddressRange, ...) goes through the table below, resolved once per
 * process at the ABI version this code was written against
 * (EVP_CU_ABI_VERSION): the function-pointer types are the matching
 * versioned PFN typedefs of <cudaTypedefs.h>, so a newer driver cannot hand
 * us a symbol whose signature changed. <cuda.h> is included for types and
 * enums only; the build checks that no cu* symbol is referenced
 * (tests/check_no_libcuda.cmake). */
#ifndef EVPOOL_SRC_BACKEND_CUDA_DRIVER_H
#define EVPOOL_SRC_BACKEND_CUDA_DRIVER_H

#include <cuda.h>
#include <cudaTypedefs.h>

/* The CUDA version whose driver ABI the typedefs below name (12.0). */
#define EVP_CU_ABI_VERSION 12000

/* X(symbol, PFN version suffix): every driver function evpool calls. */
#define EVP_CU_SYMBOLS(X)                                                                          \
    X(cuGetErrorName, 6000)                                                                        \
    X(cuGetErrorString, 6000)                                                                      \
    X(cuDeviceGet, 2000)                                                                           \
    X(cuDeviceGetAttribute, 2000)                                                                  \
    X(cuMemGetAddressRange, 3020)                                                                  \
    X(cuMemGetAllocationGranularity, 10020)                                                        \
    X(cuMemCreate, 10020)                                                                          \
    X(cuMemRelease, 10020)                                                                         \
    X(cuMemAddressReserve, 10020)                                                                  \
    X(cuMemAddressFree, 10020)                                                                     \
    X(cuMemMap, 10020)                                                                             \
    X(cuMemUnmap, 10020)                                                                           \
    X(cuMemSetAccess, 10020)                                                                       \
    X(cuMemExportToShareableHandle, 10020)                                                         \
    X(cuMemImportFromShareableHandle, 10020)

/* One member per symbol, named like the function (cu->cuMemCreate(...)). */
struct evp_cu {
#define EVP_CU_MEMBER(name, ver) PFN_##name##_v##ver name;
    EVP_CU_SYMBOLS(EVP_CU_MEMBER)
#undef EVP_CU_MEMBER
};

/* Resolves the table once per process (thread-safe; later calls return the
 * first answer) and sets *out. Returns 0; EVP_ENODEV when the runtime has
 * no usable driver (no driver installed, too old, no device); EVP_EBACKEND
 * when the driver lacks a symbol at EVP_CU_ABI_VERSION. The reason is
 * logged once, at error level, naming the symbol. */
int evp_cu_load(const struct evp_cu **out);

/* Logs "<what> failed: CUDA_ERROR_<name> (<text>)" (names through the
 * table) and returns EVP_EBACKEND. Only after evp_cu_load succeeded. */
int evp_cu_fail(const char *what, CUresult r);

#endif
