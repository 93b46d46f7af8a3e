/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — the process-wide registry of per-device pools.
 *
 * evp_device_pool(N) hands out the pool of device N, created lazily on first
 * use from the EVPOOL_* environment. The lookup of an existing pool takes no
 * lock (one acquire load); only the first use of a device takes the
 * registry's mutex to create its pool.
 *
 * Thread safety: evp_device_pool and evp_device_count may be called from any
 * thread at any time. evp_device_shutdown must not race with any other evpool
 * call; after it, evp_device_pool creates fresh pools again.
 */
#ifndef EVPOOL_DEVICE_H
#define EVPOOL_DEVICE_H

#include "evpool/api.h"

#include "evpool/host.h"
#include "evpool/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The pool of `device`, created on first use from the environment.
 * Returns 0 and *out; EVP_ENODEV (no such device on the selected backend);
 * EVP_EINVAL (invalid EVPOOL_* environment: the message is logged; no pool
 * is created and the next call tries again); EVP_EBACKEND / EVP_ENOMEM from
 * pool creation; EVP_EINVAL for out == NULL. */
EVP_API int evp_device_pool(int device, evp_pool_t **out);

/* Number of devices the registry serves: the CUDA device count on the CUDA
 * backend, EVP_HOST_DEVICES on the host backend. Returns the count (> 0) or
 * a negative EVP_E* code (EVP_EINVAL for a bad EVPOOL_BACKEND, EVP_ENODEV for
 * EVPOOL_BACKEND=cuda without a usable GPU). */
EVP_API int evp_device_count(void);

/* Destroys every registry pool (see evp_pool_destroy) and returns the total
 * of leases never returned in *leaked (may be NULL). Returns 0 or the first
 * error met. */
EVP_API int evp_device_shutdown(uint64_t *leaked);

#ifdef __cplusplus
}
#endif
#endif
