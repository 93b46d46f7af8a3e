/* evpool — configuration.
 *
 * Every knob lives in one table (src/base/config.c): name, default, accepted
 * range, documentation and parser. A pool's configuration is resolved once,
 * when the pool is created, with this precedence (highest first):
 *
 *   1. a value the caller set explicitly with evp_config_set();
 *   2. the EVPOOL_* environment variable of the same name;
 *   3. the built-in default. Two defaults are derived and follow the knobs
 *      they depend on until set: EVPOOL_MAX is 4 x EVPOOL_SIZE, and
 *      EVPOOL_THREAD_CACHE (64) is capped at EVPOOL_MAX.
 *
 * A malformed, out-of-range or inconsistent value is EVP_EINVAL with a
 * message that names the variable, the value and what is accepted. An
 * EVPOOL_* environment variable that is not a knob is warned about (typo
 * guard) but is not an error.
 *
 * Thread safety: an evp_config_t is a plain value; functions taking one may
 * run concurrently on different configs. Reading the environment is safe as
 * long as the process does not call setenv() concurrently.
 */
#ifndef EVPOOL_CONFIG_H
#define EVPOOL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum evp_exhaust { EVP_EXHAUST_WAIT = 0, EVP_EXHAUST_FAIL = 1 } evp_exhaust_t;

typedef enum evp_backend_kind {
    EVP_BACKEND_AUTO = 0, /* cuda when a usable GPU is present, else host (logged once) */
    EVP_BACKEND_CUDA = 1,
    EVP_BACKEND_HOST = 2,
} evp_backend_kind_t;

typedef enum evp_log_level {
    EVP_LOG_ERROR = 0,
    EVP_LOG_WARN = 1,
    EVP_LOG_INFO = 2,
    EVP_LOG_DEBUG = 3,
} evp_log_level_t;

/* The knobs, in table order. */
typedef enum evp_knob {
    EVP_KNOB_SIZE = 0,         /* EVPOOL_SIZE */
    EVP_KNOB_MAX,              /* EVPOOL_MAX */
    EVP_KNOB_ON_EXHAUST,       /* EVPOOL_ON_EXHAUST */
    EVP_KNOB_WAIT_TIMEOUT_US,  /* EVPOOL_WAIT_TIMEOUT_US */
    EVP_KNOB_THREAD_CACHE,     /* EVPOOL_THREAD_CACHE */
    EVP_KNOB_TIMING,           /* EVPOOL_TIMING */
    EVP_KNOB_BACKEND,          /* EVPOOL_BACKEND */
    EVP_KNOB_LOG,              /* EVPOOL_LOG */
    EVP_KNOB_COUNT
} evp_knob_t;

typedef enum evp_source {
    EVP_SRC_DEFAULT = 0,
    EVP_SRC_ENV = 1,
    EVP_SRC_EXPLICIT = 2,
} evp_source_t;

typedef struct evp_config {
    uint32_t size;             /* events created up front */
    uint32_t max;              /* hard cap on events, >= size */
    evp_exhaust_t on_exhaust;
    uint64_t wait_timeout_us;  /* longest wait for a free event under EVP_EXHAUST_WAIT */
    uint32_t thread_cache;     /* events one thread may park (0 = no cache) */
    bool timing;               /* events record timing (cudaEventDisableTiming otherwise) */
    evp_backend_kind_t backend;
    evp_log_level_t log;
    evp_source_t source[EVP_KNOB_COUNT]; /* where each value came from */
} evp_config_t;

/* Fills *cfg with the built-in defaults, every source EVP_SRC_DEFAULT.
 * cfg == NULL is a no-op. */
void evp_config_init(evp_config_t *cfg);

/* Sets one knob explicitly from its textual value, with the same parser and
 * range check as the environment. `name` is the variable name
 * ("EVPOOL_SIZE"). The knob is then EVP_SRC_EXPLICIT: the environment no
 * longer overrides it.
 * Returns 0; EVP_EINVAL for an unknown name or a bad value, with a message
 * in err (if err != NULL, truncated to errlen); *cfg is then unchanged.
 * Cross-knob rules (max >= size) are left to evp_config_validate. */
int evp_config_set(evp_config_t *cfg, const char *name, const char *value,
                   char *err, size_t errlen);

/* Applies the EVPOOL_* environment to every knob that is not explicit, then
 * validates the whole config (evp_config_validate). Warns (log level warn)
 * about EVPOOL_* variables that are not knobs.
 * Returns 0 or EVP_EINVAL with the message in err; *cfg is then unchanged. */
int evp_config_load_env(evp_config_t *cfg, char *err, size_t errlen);

/* Checks ranges and consistency (max >= size, ...).
 * Returns 0 or EVP_EINVAL with the message in err. */
int evp_config_validate(const evp_config_t *cfg, char *err, size_t errlen);

/* Table access, for tools: the variable name ("EVPOOL_SIZE"), a one-line
 * doc, the accepted values as text, and the current value of a knob in
 * cfg formatted as its variable would spell it. NULL / EVP_EINVAL for a
 * knob out of range. evp_config_format returns 0, or EVP_EINVAL for a knob
 * out of range or a buffer too small (the text is then truncated). */
const char *evp_config_knob_name(evp_knob_t knob);
const char *evp_config_knob_doc(evp_knob_t knob);
const char *evp_config_knob_accepts(evp_knob_t knob);
int evp_config_format(const evp_config_t *cfg, evp_knob_t knob, char *buf, size_t len);
/* "default", "environment", "explicit"; NULL for a source out of range. */
const char *evp_config_source_name(evp_source_t src);

#ifdef __cplusplus
}
#endif
#endif
