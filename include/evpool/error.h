/* evpool — error codes.
 *
 * Every evpool function that can fail returns 0 (EVP_OK) or one of the
 * negative codes below, errno-style (libuv / liburcu convention). The values
 * are the negated Linux errno numbers so that they read naturally in logs,
 * but callers must compare against the EVP_E* names, never raw numbers.
 */
#ifndef EVPOOL_ERROR_H
#define EVPOOL_ERROR_H

#include "evpool/api.h"

#ifdef __cplusplus
extern "C" {
#endif

enum evp_error {
    EVP_OK = 0,
    EVP_EBACKEND = -5,    /* the backend (CUDA) call failed; the CUDA error is logged */
    EVP_EAGAIN = -11,     /* pool exhausted: no event free within the wait policy */
    EVP_ENOMEM = -12,     /* host memory allocation failed */
    EVP_EBUSY = -16,      /* object still in use (e.g. a host stream with work queued) */
    EVP_ENODEV = -19,     /* no usable device (no GPU, no driver, device out of range) */
    EVP_EINVAL = -22,     /* invalid argument or configuration value */
    EVP_ENODATA = -61,    /* the lease has no recorded work to query */
    EVP_ESTALE = -116,    /* the lease's generation no longer matches: double return or use after return */
};

/* Returns a static, human-readable name for an evpool error code
 * ("EVP_ESTALE: lease is stale ..."). Never NULL; unknown codes give
 * "unknown evpool error". Thread-safe. */
EVP_API const char *evp_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
