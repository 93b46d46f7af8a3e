/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — error codes.
 *
 * Every evpool function that can fail returns 0 (EVP_OK) or one of the
 * negative codes below, errno-style (libuv / liburcu convention). The values
 * are the negated Linux errno numbers so that they read naturally in logs,
 * but callers must compare against the EVP_E* names, never raw numbers.
 *
 * The codes are one list, EVP_ERRNO_MAP (libuv's UV_ERRNO_MAP): it generates
 * the enum here and evp_err_name / evp_strerror in src/base/error.c. To add a
 * code, add one line XX(NAME, value, "message") below (NAME without the
 * EVP_E prefix, value the negated errno, the message as evp_strerror shows it
 * after "EVP_E<NAME>: "); nothing else changes, and test_config checks every
 * line has a name and a message.
 */
#ifndef EVPOOL_ERROR_H
#define EVPOOL_ERROR_H

#include "evpool/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* XX(name, negated errno, message) */
#define EVP_ERRNO_MAP(XX)                                                                    \
    XX(PERM, -1, "not permitted or not available here (FABRIC without an IMEX channel, pidfd_getfd refused); use the fallback") \
    XX(BACKEND, -5, "a backend call failed (CUDA, or the host backend; the log names the error)") \
    XX(AGAIN, -11, "pool exhausted: no event became free within the wait policy")           \
    XX(NOMEM, -12, "out of host memory")                                                     \
    XX(BUSY, -16, "object still in use")                                                     \
    XX(NODEV, -19, "no usable device (no GPU or driver, or device out of range)")            \
    XX(INVAL, -22, "invalid argument or configuration value")                                \
    XX(NOSPC, -28, "too many requests: the sub-batch's capacity is reached (nothing enqueued)") \
    XX(NODATA, -61, "nothing was recorded through this lease")                               \
    XX(STALE, -116, "stale lease (already returned: double return or use after return)")

enum evp_error {
    EVP_OK = 0,
#define EVP_ERROR_ENUM(name, value, msg) EVP_E##name = (value),
    EVP_ERRNO_MAP(EVP_ERROR_ENUM)
#undef EVP_ERROR_ENUM
};

/* Returns a static, human-readable description of an evpool error code,
 * led by its name ("EVP_ESTALE: stale lease (already returned ...)"). Never
 * NULL; unknown codes give "unknown evpool error". Thread-safe. */
EVP_API const char *evp_strerror(int err);

/* Returns the static name of an evpool error code ("EVP_ESTALE", "EVP_OK").
 * Never NULL; unknown codes give "EVP_UNKNOWN". Thread-safe. */
EVP_API const char *evp_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif
