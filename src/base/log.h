/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — internal logging to stderr, prefixed "evpool: <level>: ".
 *
 * The level is process-wide: it starts from EVPOOL_LOG (read on first use,
 * default warn) and each pool created applies its resolved `log` knob. Safe
 * from any thread; each message is written with a single write(2). */
#ifndef EVPOOL_SRC_BASE_LOG_H
#define EVPOOL_SRC_BASE_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "evpool/config.h"

void evp_log_set_level(evp_log_level_t level);
bool evp_log_enabled(evp_log_level_t level);
void evp_log(evp_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes a message into a caller's buffer (err may be NULL or errlen 0 when
 * the caller wants only the code; the text is NUL-terminated and truncated
 * to errlen) and returns EVP_EINVAL: the validators' (configuration,
 * transport descriptors) one way to refuse an input. */
int evp_invalid(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define evp_error(...) evp_log(EVP_LOG_ERROR, __VA_ARGS__)
#define evp_warn(...) evp_log(EVP_LOG_WARN, __VA_ARGS__)
#define evp_info(...) evp_log(EVP_LOG_INFO, __VA_ARGS__)
#define evp_debug(...) evp_log(EVP_LOG_DEBUG, __VA_ARGS__)

#endif
