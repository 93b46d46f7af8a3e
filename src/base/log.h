/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — internal logging to stderr, prefixed "evpool: <level>: ".
 *
 * The level is process-wide: it starts from EVPOOL_LOG (read on first use,
 * default warn) and each pool created applies its resolved `log` knob. Safe
 * from any thread; each message is written with a single write(2). */
#ifndef EVPOOL_SRC_BASE_LOG_H
#define EVPOOL_SRC_BASE_LOG_H

#include <stdbool.h>

#include "evpool/config.h"

void evp_log_set_level(evp_log_level_t level);
bool evp_log_enabled(evp_log_level_t level);
void evp_log(evp_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define evp_error(...) evp_log(EVP_LOG_ERROR, __VA_ARGS__)
#define evp_warn(...) evp_log(EVP_LOG_WARN, __VA_ARGS__)
#define evp_info(...) evp_log(EVP_LOG_INFO, __VA_ARGS__)
#define evp_debug(...) evp_log(EVP_LOG_DEBUG, __VA_ARGS__)

#endif
