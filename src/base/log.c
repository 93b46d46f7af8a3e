/* SPDX-License-Identifier: Apache-2.0 */
#include "base/log.h"

#include "evpool/error.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* -1 = not yet read from EVPOOL_LOG. Relaxed: the level is a hint, any value
 * a thread sees is a valid level. */
static _Atomic int evp_log_level = -1;

static const char *const evp_log_names[] = {"error", "warn", "info", "debug"};

/* EVPOOL_LOG through the configuration's own parser (config.c), so the
 * words and the default are written once. A bad value keeps the default
 * here; config validation reports it at pool creation. */
static int evp_log_level_from_env(void)
{
    evp_config_t cfg;
    evp_config_init(&cfg);
    const char *v = getenv(evp_config_knob_name(EVP_KNOB_LOG));
    if (v)
        evp_config_set(&cfg, evp_config_knob_name(EVP_KNOB_LOG), v, NULL, 0);
    return (int)cfg.log;
}

void evp_log_set_level(evp_log_level_t level)
{
    atomic_store_explicit(&evp_log_level, (int)level, memory_order_relaxed);
}

bool evp_log_enabled(evp_log_level_t level)
{
    int cur = atomic_load_explicit(&evp_log_level, memory_order_relaxed);
    if (cur < 0) {
        cur = evp_log_level_from_env();
        atomic_store_explicit(&evp_log_level, cur, memory_order_relaxed);
    }
    return (int)level <= cur;
}

void evp_log(evp_log_level_t level, const char *fmt, ...)
{
    if (!evp_log_enabled(level))
        return;
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "evpool: %s: ", evp_log_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof buf - 2)
        len = sizeof buf - 2;
    buf[len++] = '\n';
    /* One write(2) so lines from concurrent threads do not interleave. */
    ssize_t w = write(STDERR_FILENO, buf, len);
    (void)w;
}

int evp_invalid(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return EVP_EINVAL;
}
