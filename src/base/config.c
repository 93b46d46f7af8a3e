/* evpool — configuration as data: one table row per knob, every value parsed,
 * range-checked and formatted from its row. */
#include "evpool/config.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evpool/error.h"
#include "base/log.h"

typedef struct evp_knob_def evp_knob_def_t;

/* Parses `text` for knob d into *out; EVP_EINVAL with a message otherwise. */
typedef int (*evp_knob_parse_fn)(const evp_knob_def_t *d, const char *text, uint64_t *out,
                                 char *err, size_t errlen);

struct evp_knob_def {
    const char *name;         /* the environment variable */
    const char *dflt;         /* NULL: derived from other knobs (evp_config_derive) */
    const char *accepts;      /* shown in every message about this knob */
    const char *doc;
    evp_knob_parse_fn parse;
    uint64_t min, max;        /* integer knobs */
    const char *const *words; /* word knobs, NULL-terminated: a word's index is its enum value */
};

/* NULL-safe: err may be NULL or errlen 0 when the caller wants only the code. */
__attribute__((format(printf, 3, 4)))
static int evp_config_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return EVP_EINVAL;
}

static bool evp_knob_valid(evp_knob_t knob)
{
    return (unsigned)knob < EVP_KNOB_COUNT;
}

static int evp_parse_uint(const evp_knob_def_t *d, const char *text, uint64_t *out,
                          char *err, size_t errlen)
{
    /* strtoull would accept spaces, signs and "0x"; only plain digits are a number here. */
    if (text[0] == '\0' || text[strspn(text, "0123456789")] != '\0')
        return evp_config_fail(err, errlen, "%s=\"%s\": not a decimal integer; accepted: %s",
                               d->name, text, d->accepts);
    uint64_t v = 0;
    for (const char *p = text; *p && v <= d->max; p++) {
        unsigned digit = (unsigned)(*p - '0');
        /* Saturate rather than wrap: past max is out of range either way. */
        v = v > (UINT64_MAX - digit) / 10 ? UINT64_MAX : v * 10 + digit;
    }
    if (v < d->min || v > d->max)
        return evp_config_fail(err, errlen, "%s=\"%s\": out of range; accepted: %s", d->name,
                               text, d->accepts);
    *out = v;
    return 0;
}

static int evp_parse_word(const evp_knob_def_t *d, const char *text, uint64_t *out,
                          char *err, size_t errlen)
{
    for (uint64_t i = 0; d->words[i]; i++)
        if (strcmp(text, d->words[i]) == 0) {
            *out = i;
            return 0;
        }
    return evp_config_fail(err, errlen, "%s=\"%s\": not an accepted value; accepted: %s",
                           d->name, text, d->accepts);
}

static const evp_knob_def_t evp_knobs[] = {
    [EVP_KNOB_SIZE] = {"EVPOOL_SIZE", "256", "integer 1..65536",
                       "events created up front per device", evp_parse_uint, 1, 65536, NULL},
    [EVP_KNOB_MAX] = {"EVPOOL_MAX", NULL, "integer 1..1048576, >= EVPOOL_SIZE",
                      "hard cap on events per device (default 4 x EVPOOL_SIZE)",
                      evp_parse_uint, 1, 1048576, NULL},
    [EVP_KNOB_ON_EXHAUST] = {"EVPOOL_ON_EXHAUST", "wait", "wait, fail",
                             "when no event is free: wait for one, or fail with EVP_EAGAIN",
                             evp_parse_word, 0, 0, (const char *const[]){"wait", "fail", NULL}},
    [EVP_KNOB_WAIT_TIMEOUT_US] = {"EVPOOL_WAIT_TIMEOUT_US", "1000000", "integer 0..3600000000",
                                  "longest wait for a free event (microseconds)",
                                  evp_parse_uint, 0, 3600000000u, NULL},
    [EVP_KNOB_THREAD_CACHE] = {"EVPOOL_THREAD_CACHE", "64", "integer 0..4096, <= EVPOOL_MAX",
                               "events a thread may park (0 = off; default capped at EVPOOL_MAX)",
                               evp_parse_uint, 0, 4096, NULL},
    [EVP_KNOB_TIMING] = {"EVPOOL_TIMING", "0", "0, 1", "1 = events record timing",
                         evp_parse_word, 0, 0, (const char *const[]){"0", "1", NULL}},
    [EVP_KNOB_BACKEND] = {"EVPOOL_BACKEND", "auto", "auto, cuda, host",
                          "event backend (auto = cuda when a usable GPU is present, else host)",
                          evp_parse_word, 0, 0,
                          (const char *const[]){"auto", "cuda", "host", NULL}},
    [EVP_KNOB_LOG] = {"EVPOOL_LOG", "warn", "error, warn, info, debug", "log level (stderr)",
                      evp_parse_word, 0, 0,
                      (const char *const[]){"error", "warn", "info", "debug", NULL}},
};
_Static_assert(sizeof evp_knobs / sizeof evp_knobs[0] == EVP_KNOB_COUNT, "one row per knob");

/* The value of a knob as the table sees it: an integer, or a word's index. */
static uint64_t evp_config_get(const evp_config_t *cfg, evp_knob_t knob)
{
    switch (knob) {
    case EVP_KNOB_SIZE: return cfg->size;
    case EVP_KNOB_MAX: return cfg->max;
    case EVP_KNOB_ON_EXHAUST: return (uint64_t)cfg->on_exhaust;
    case EVP_KNOB_WAIT_TIMEOUT_US: return cfg->wait_timeout_us;
    case EVP_KNOB_THREAD_CACHE: return cfg->thread_cache;
    case EVP_KNOB_TIMING: return cfg->timing;
    case EVP_KNOB_BACKEND: return (uint64_t)cfg->backend;
    case EVP_KNOB_LOG: return (uint64_t)cfg->log;
    default: return 0;
    }
}

/* A knob's literal default, parsed. The text is the table's own, so parsing
 * cannot fail (test_config pins every default). */
static uint64_t evp_config_default(evp_knob_t knob)
{
    const evp_knob_def_t *d = &evp_knobs[knob];
    uint64_t v = 0;
    int rc = d->parse(d, d->dflt, &v, NULL, 0);
    assert(rc == 0);
    (void)rc;
    return v;
}

/* Derived defaults follow the knobs they depend on for as long as they are
 * not set: MAX is 4 x SIZE, and the default thread cache never exceeds MAX
 * (so EVPOOL_SIZE=2 alone is a valid configuration). */
static void evp_config_derive(evp_config_t *cfg)
{
    if (cfg->source[EVP_KNOB_MAX] == EVP_SRC_DEFAULT) {
        uint64_t max = 4 * (uint64_t)cfg->size, cap = evp_knobs[EVP_KNOB_MAX].max;
        cfg->max = (uint32_t)(max < cap ? max : cap);
    }
    if (cfg->source[EVP_KNOB_THREAD_CACHE] == EVP_SRC_DEFAULT) {
        uint64_t tc = evp_config_default(EVP_KNOB_THREAD_CACHE);
        cfg->thread_cache = (uint32_t)(tc < cfg->max ? tc : cfg->max);
    }
}

/* Stores a parsed value (already range-checked) and re-derives dependent defaults. */
static void evp_config_put(evp_config_t *cfg, evp_knob_t knob, uint64_t v, evp_source_t src)
{
    switch (knob) {
    case EVP_KNOB_SIZE: cfg->size = (uint32_t)v; break;
    case EVP_KNOB_MAX: cfg->max = (uint32_t)v; break;
    case EVP_KNOB_ON_EXHAUST: cfg->on_exhaust = (evp_exhaust_t)v; break;
    case EVP_KNOB_WAIT_TIMEOUT_US: cfg->wait_timeout_us = v; break;
    case EVP_KNOB_THREAD_CACHE: cfg->thread_cache = (uint32_t)v; break;
    case EVP_KNOB_TIMING: cfg->timing = v != 0; break;
    case EVP_KNOB_BACKEND: cfg->backend = (evp_backend_kind_t)v; break;
    case EVP_KNOB_LOG: cfg->log = (evp_log_level_t)v; break;
    default: return;
    }
    cfg->source[knob] = src;
    evp_config_derive(cfg);
}

/* The knob whose variable is name[0..len), or EVP_KNOB_COUNT. */
static evp_knob_t evp_config_find(const char *name, size_t len)
{
    for (int k = 0; k < EVP_KNOB_COUNT; k++)
        if (strlen(evp_knobs[k].name) == len && memcmp(evp_knobs[k].name, name, len) == 0)
            return (evp_knob_t)k;
    return EVP_KNOB_COUNT;
}

/* "EVPOOL_SIZE, EVPOOL_MAX, ...", for messages about unknown names. */
static const char *evp_config_known(char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 0; k < EVP_KNOB_COUNT && n < len; k++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", k ? ", " : "", evp_knobs[k].name);
    return buf;
}

void evp_config_init(evp_config_t *cfg)
{
    if (!cfg)
        return; /* documented no-op */
    memset(cfg, 0, sizeof *cfg);
    for (int k = 0; k < EVP_KNOB_COUNT; k++)
        if (evp_knobs[k].dflt)
            evp_config_put(cfg, (evp_knob_t)k, evp_config_default((evp_knob_t)k), EVP_SRC_DEFAULT);
}

int evp_config_set(evp_config_t *cfg, const char *name, const char *value, char *err,
                   size_t errlen)
{
    char known[256];
    if (!cfg || !name)
        return evp_config_fail(err, errlen, "evp_config_set: NULL config or name");
    evp_knob_t knob = evp_config_find(name, strlen(name));
    if (knob == EVP_KNOB_COUNT)
        return evp_config_fail(err, errlen, "unknown variable %s; known: %s", name,
                               evp_config_known(known, sizeof known));
    const evp_knob_def_t *d = &evp_knobs[knob];
    if (!value)
        return evp_config_fail(err, errlen, "%s: no value; accepted: %s", d->name, d->accepts);
    uint64_t v;
    int rc = d->parse(d, value, &v, err, errlen);
    if (rc == 0)
        evp_config_put(cfg, knob, v, EVP_SRC_EXPLICIT);
    return rc;
}

/* Typo guard: an EVPOOL_* variable that is no knob would otherwise be
 * silently ignored. */
static void evp_config_warn_unknown(void)
{
    char known[256];
    for (char **e = environ; e && *e; e++) {
        size_t len = strcspn(*e, "=");
        if (strncmp(*e, "EVPOOL_", 7) == 0 && evp_config_find(*e, len) == EVP_KNOB_COUNT)
            evp_warn("unknown variable %.*s ignored; known: %s", (int)len, *e,
                     evp_config_known(known, sizeof known));
    }
}

int evp_config_load_env(evp_config_t *cfg, char *err, size_t errlen)
{
    if (!cfg)
        return evp_config_fail(err, errlen, "evp_config_load_env: NULL config");
    evp_config_warn_unknown();
    /* Work on a copy so that a bad environment leaves *cfg as it was. Table
     * order applies SIZE before MAX, and evp_config_put re-derives MAX. */
    evp_config_t next = *cfg;
    for (int k = 0; k < EVP_KNOB_COUNT; k++) {
        const evp_knob_def_t *d = &evp_knobs[k];
        const char *text = getenv(d->name);
        uint64_t v;
        if (next.source[k] == EVP_SRC_EXPLICIT || !text)
            continue;
        int rc = d->parse(d, text, &v, err, errlen);
        if (rc != 0)
            return rc;
        evp_config_put(&next, (evp_knob_t)k, v, EVP_SRC_ENV);
    }
    int rc = evp_config_validate(&next, err, errlen);
    if (rc == 0)
        *cfg = next;
    return rc;
}

static bool evp_knob_in_range(const evp_knob_def_t *d, uint64_t v)
{
    if (!d->words)
        return v >= d->min && v <= d->max;
    uint64_t n = 0;
    while (d->words[n])
        n++;
    return v < n;
}

int evp_config_validate(const evp_config_t *cfg, char *err, size_t errlen)
{
    char text[32];
    if (!cfg)
        return evp_config_fail(err, errlen, "evp_config_validate: NULL config");
    /* Fields may have been written directly, bypassing the parsers. */
    for (int k = 0; k < EVP_KNOB_COUNT; k++)
        if (!evp_knob_in_range(&evp_knobs[k], evp_config_get(cfg, (evp_knob_t)k))) {
            evp_config_format(cfg, (evp_knob_t)k, text, sizeof text);
            return evp_config_fail(err, errlen, "%s=%s: out of range; accepted: %s",
                                   evp_knobs[k].name, text, evp_knobs[k].accepts);
        }
    if (cfg->max < cfg->size)
        return evp_config_fail(err, errlen,
                               "EVPOOL_MAX=%" PRIu32 " is less than EVPOOL_SIZE=%" PRIu32
                               "; accepted: EVPOOL_MAX >= EVPOOL_SIZE",
                               cfg->max, cfg->size);
    if (cfg->thread_cache > cfg->max)
        return evp_config_fail(err, errlen,
                               "EVPOOL_THREAD_CACHE=%" PRIu32 " is greater than EVPOOL_MAX=%" PRIu32
                               "; accepted: EVPOOL_THREAD_CACHE <= EVPOOL_MAX",
                               cfg->thread_cache, cfg->max);
    return 0;
}

const char *evp_config_knob_name(evp_knob_t knob)
{
    return evp_knob_valid(knob) ? evp_knobs[knob].name : NULL;
}

const char *evp_config_knob_doc(evp_knob_t knob)
{
    return evp_knob_valid(knob) ? evp_knobs[knob].doc : NULL;
}

const char *evp_config_knob_accepts(evp_knob_t knob)
{
    return evp_knob_valid(knob) ? evp_knobs[knob].accepts : NULL;
}

int evp_config_format(const evp_config_t *cfg, evp_knob_t knob, char *buf, size_t len)
{
    if (!cfg || !buf || !evp_knob_valid(knob))
        return EVP_EINVAL;
    const evp_knob_def_t *d = &evp_knobs[knob];
    uint64_t v = evp_config_get(cfg, knob);
    /* An out-of-range word value (a field written directly) prints as its number. */
    int n = d->words && evp_knob_in_range(d, v) ? snprintf(buf, len, "%s", d->words[v])
                                                : snprintf(buf, len, "%" PRIu64, v);
    return n >= 0 && (size_t)n < len ? 0 : EVP_EINVAL;
}

const char *evp_config_source_name(evp_source_t src)
{
    switch (src) {
    case EVP_SRC_DEFAULT: return "default";
    case EVP_SRC_ENV: return "environment";
    case EVP_SRC_EXPLICIT: return "explicit";
    default: return NULL;
    }
}
