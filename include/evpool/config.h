/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — configuration.
 *
 * Every knob is one line of EVP_KNOB_MAP below: variable name, struct field,
 * type, default, accepted values, documentation, parser and range. The list
 * generates the evp_knob_t enum, the fields of evp_config_t, the table that
 * parses, range-checks and formats every value (src/base/config.c), the
 * typed setters and what evpool-config prints. A pool's configuration is
 * resolved once, when the pool is created, with this precedence (highest
 * first):
 *
 *   1. a value the caller set explicitly (evp_config_set, evp_config_set_u64,
 *      evp_config_set_bool);
 *   2. the EVPOOL_* environment variable of the same name;
 *   3. the built-in default. Three defaults are derived and follow the knobs
 *      they depend on until set: EVPOOL_MAX is 4 x EVPOOL_SIZE,
 *      EVPOOL_THREAD_CACHE (64) is capped at EVPOOL_MAX, and EVPOOL_BATCH_MAX
 *      is 64 x EVPOOL_BATCH_SLAB.
 *
 * A malformed, out-of-range or inconsistent value is EVP_EINVAL with a
 * message that names the variable, the value and what is accepted; when
 * several values are bad, the message lists every one, separated by " | ".
 * An EVPOOL_* environment variable that is not a knob is warned about (typo
 * guard), once per process, but is not an error.
 *
 * Adding a knob: append one line to EVP_KNOB_MAP (at the end: the enum
 * values of the existing knobs stay as they are), e.g.
 *
 *   XX(SLAB_SIZE, slab_size, uint32_t, "64", "integer 1..4096",
 *      "events per slab", uint, 1, 4096)
 *
 * gives EVP_KNOB_SLAB_SIZE, the field cfg->slab_size, the variable
 * EVPOOL_SLAB_SIZE with its parser, range check, messages, typed setter and
 * evpool-config line. The columns:
 *   NAME     the variable without "EVPOOL_"; the enum is EVP_KNOB_<NAME>
 *   field    the evp_config_t field (generated, in list order)
 *   type     the field's type: uint32_t / uint64_t for `uint`, the enum
 *            type for `word`, bool for `bool`
 *   default  the value as its variable would spell it; NULL = derived from
 *            other knobs (write the rule in evp_config_derive, config.c)
 *   accepts  shown in every message. For `word` knobs it is also the word
 *            list itself, ", "-separated, in enum order (index = value)
 *   doc      one line, shown by evpool-config
 *   parser   uint (plain decimal, min..max), word (one of `accepts`) or
 *            bool (accepts "0, 1"; evp_config_set_bool takes it)
 *   min,max  the range of a `uint` knob; 0, 0 for the others
 * Then pin it in tests/test_config.c (its default in test_defaults, good and
 * bad values in `rows`: test_every_knob_has_rows fails until they exist) and
 * add its row to README.md's configuration table. A rule between knobs
 * (like EVPOOL_MAX >= EVPOOL_SIZE) goes in evp_config_validate.
 *
 * Thread safety: an evp_config_t is a plain value; functions taking one may
 * run concurrently on different configs. Reading the environment is safe as
 * long as the process does not call setenv() concurrently.
 */
#ifndef EVPOOL_CONFIG_H
#define EVPOOL_CONFIG_H

#include "evpool/api.h"

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

/* EVPOOL_MNNVL_FABRIC: what the mnnvl transport does where cuMem FABRIC
 * handles are refused (no IMEX channel): fall back to POSIX fds (one node
 * only, warned once per process), or fail the open. */
typedef enum evp_mnnvl_fabric {
    EVP_MNNVL_FABRIC_AUTO = 0,
    EVP_MNNVL_FABRIC_REQUIRE = 1,
} evp_mnnvl_fabric_t;

/* EVPOOL_DEPOT: the structure that holds free events shared by all threads
 * (chains of leases between the thread caches): the lock-free stack of
 * chains, or the SCQ ring (src/pool/ring.h). README, Design: Depot. */
typedef enum evp_depot_kind {
    EVP_DEPOT_STACK = 0,
    EVP_DEPOT_RING = 1,
} evp_depot_kind_t;

typedef enum evp_log_level {
    EVP_LOG_ERROR = 0,
    EVP_LOG_WARN = 1,
    EVP_LOG_INFO = 2,
    EVP_LOG_DEBUG = 3,
} evp_log_level_t;

/* XX(NAME, field, type, default, accepts, doc, parser, min, max): see above. */
#define EVP_KNOB_MAP(XX)                                                                     \
    XX(SIZE, size, uint32_t, "256", "integer 1..65536", "events created up front per device", \
       uint, 1, 65536)                                                                       \
    XX(MAX, max, uint32_t, NULL, "integer 1..1048576, >= EVPOOL_SIZE",                       \
       "hard cap on events per device (default 4 x EVPOOL_SIZE)", uint, 1, 1048576)          \
    XX(ON_EXHAUST, on_exhaust, evp_exhaust_t, "wait", "wait, fail",                          \
       "when no event is free: wait for one, or fail with EVP_EAGAIN", word, 0, 0)           \
    XX(WAIT_TIMEOUT_US, wait_timeout_us, uint64_t, "1000000", "integer 0..3600000000",       \
       "longest wait for a free event (microseconds)", uint, 0, 3600000000u)                 \
    XX(THREAD_CACHE, thread_cache, uint32_t, "64", "integer 0..4096, <= EVPOOL_MAX",         \
       "events a thread may park (0 = off; default capped at EVPOOL_MAX)", uint, 0, 4096)    \
    XX(DEPOT, depot, evp_depot_kind_t, "stack", "stack, ring",                              \
       "shared free list: lock-free stack of chains, or SCQ ring of chains", word, 0, 0)     \
    XX(TIMING, timing, bool, "0", "0, 1", "1 = events record timing", bool, 0, 0)            \
    XX(BACKEND, backend, evp_backend_kind_t, "auto", "auto, cuda, host",                     \
       "event backend (auto = cuda when a usable GPU is present, else host)", word, 0, 0)    \
    XX(LOG, log, evp_log_level_t, "warn", "error, warn, info, debug", "log level (stderr)",  \
       word, 0, 0)                                                                           \
    XX(BATCH_SLAB, batch_slab, uint32_t, "64", "integer 1..1048576",                         \
       "sub-batch objects created up front (evpool/batch.h)", uint, 1, 1048576)              \
    XX(BATCH_MAX, batch_max, uint32_t, NULL, "integer 1..1048576, >= EVPOOL_BATCH_SLAB",     \
       "hard cap on sub-batch objects (default 64 x EVPOOL_BATCH_SLAB)", uint, 1, 1048576)   \
    XX(BATCH_TASKS, batch_tasks, uint32_t, "64", "integer 1..65536",                         \
       "tasks one sub-batch may hold at most", uint, 1, 65536)                               \
    XX(BATCH_BACKLOG, batch_backlog, uint32_t, "1024", "integer 1..1048576",                 \
       "freed sub-batches awaiting reclaim above which evp_batch_alloc waits (wait policy)",   \
       uint, 1, 1048576)                                                                     \
    XX(STREAMS, streams, uint32_t, "4", "integer 1..256",                                    \
       "streams per device shared by sub-batches", uint, 1, 256)                            \
    XX(MNNVL_FABRIC, mnnvl_fabric, evp_mnnvl_fabric_t, "auto", "auto, require",              \
       "mnnvl without fabric handles: auto = POSIX-fd fallback (one node), require = fail", word, 0, 0)

/* The knobs, in list order: EVP_KNOB_SIZE, EVP_KNOB_MAX, ... */
typedef enum evp_knob {
#define EVP_KNOB_ENUM(NAME, ...) EVP_KNOB_##NAME,
    EVP_KNOB_MAP(EVP_KNOB_ENUM)
#undef EVP_KNOB_ENUM
    EVP_KNOB_COUNT
} evp_knob_t;

typedef enum evp_source {
    EVP_SRC_DEFAULT = 0,
    EVP_SRC_ENV = 1,
    EVP_SRC_EXPLICIT = 2,
} evp_source_t;

/* One field per knob, named and typed by EVP_KNOB_MAP (its doc says what
 * the field means): size, max, on_exhaust, wait_timeout_us, thread_cache,
 * timing, backend, log. */
typedef struct evp_config {
#define EVP_KNOB_FIELD(NAME, field, type, ...) type field;
    EVP_KNOB_MAP(EVP_KNOB_FIELD)
#undef EVP_KNOB_FIELD
    evp_source_t source[EVP_KNOB_COUNT]; /* where each value came from */
} evp_config_t;

/* Fills *cfg with the built-in defaults, every source EVP_SRC_DEFAULT.
 * cfg == NULL: does nothing. */
EVP_API void evp_config_init(evp_config_t *cfg);

/* Sets one knob explicitly from its textual value, with the same parser and
 * range check as the environment. `name` is the variable name
 * ("EVPOOL_SIZE"). The knob is then EVP_SRC_EXPLICIT: the environment no
 * longer overrides it.
 * Returns 0; EVP_EINVAL for an unknown name or a bad value, with a message
 * in err (if err != NULL, truncated to errlen); *cfg is then unchanged.
 * Cross-knob rules (EVPOOL_MAX >= EVPOOL_SIZE, EVPOOL_THREAD_CACHE <=
 * EVPOOL_MAX, EVPOOL_BATCH_MAX >= EVPOOL_BATCH_SLAB) are left to
 * evp_config_validate. */
EVP_API int evp_config_set(evp_config_t *cfg, const char *name, const char *value,
                   char *err, size_t errlen);

/* Sets one knob explicitly from a number, range-checked like its text:
 * the integer itself for a `uint` knob, the enum value (the word's index in
 * `accepts`) for a `word` knob (evp_config_set_u64(cfg, EVP_KNOB_ON_EXHAUST,
 * EVP_EXHAUST_FAIL, ...)), 0 or 1 for a `bool` knob. The knob is then
 * EVP_SRC_EXPLICIT. The message of a bad value reads like the text setter's
 * ("EVPOOL_SIZE=0: out of range; accepted: integer 1..65536").
 * Returns 0; EVP_EINVAL for a NULL cfg, a knob out of range or a value out
 * of range, with a message in err; *cfg is then unchanged. */
EVP_API int evp_config_set_u64(evp_config_t *cfg, evp_knob_t knob, uint64_t value,
                       char *err, size_t errlen);

/* Sets a `bool` knob (accepts "0, 1", e.g. EVP_KNOB_TIMING) explicitly.
 * Returns 0; EVP_EINVAL for a NULL cfg or a knob that is not a `bool` knob,
 * with a message in err; *cfg is then unchanged. */
EVP_API int evp_config_set_bool(evp_config_t *cfg, evp_knob_t knob, bool value,
                        char *err, size_t errlen);

/* Applies the EVPOOL_* environment to every knob that is not explicit, then
 * validates the whole config (evp_config_validate). Warns (log level warn)
 * about EVPOOL_* variables that are not knobs: the first call that finds
 * one does, later calls in the process do not (not once per pool).
 * Returns 0 or EVP_EINVAL with a message in err naming every bad variable
 * (" | " between them; validation runs only when each value parsed);
 * *cfg is then unchanged. */
EVP_API int evp_config_load_env(evp_config_t *cfg, char *err, size_t errlen);

/* Checks ranges and consistency (max >= size, ...).
 * Returns 0 or EVP_EINVAL with a message in err naming every violation
 * (" | " between them). */
EVP_API int evp_config_validate(const evp_config_t *cfg, char *err, size_t errlen);

/* Table access, for tools: the variable name ("EVPOOL_SIZE"), a one-line
 * doc, the accepted values as text, and the current value of a knob in
 * cfg formatted as its variable would spell it. NULL / EVP_EINVAL for a
 * knob out of range. evp_config_format returns 0, or EVP_EINVAL for a knob
 * out of range or a buffer too small (the text is then truncated). */
EVP_API const char *evp_config_knob_name(evp_knob_t knob);
EVP_API const char *evp_config_knob_doc(evp_knob_t knob);
EVP_API const char *evp_config_knob_accepts(evp_knob_t knob);
EVP_API int evp_config_format(const evp_config_t *cfg, evp_knob_t knob, char *buf, size_t len);
/* "default", "environment", "explicit"; NULL for a source out of range. */
EVP_API const char *evp_config_source_name(evp_source_t src);

#ifdef __cplusplus
}
#endif
#endif
