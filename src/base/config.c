/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — configuration as data: one table row per knob, generated from
 * EVP_KNOB_MAP (include/evpool/config.h) together with the accessors of the
 * struct fields; every value parsed, range-checked and formatted from its
 * row. */
#include "evpool/config.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evpool/error.h"
#include "base/log.h"

typedef enum evp_knob_kind {
    EVP_KIND_UINT, /* plain decimal in min..max */
    EVP_KIND_WORD, /* one of the words of `accepts`; its index is the enum value */
    EVP_KIND_BOOL, /* a word knob whose words are "0, 1" */
} evp_knob_kind_t;

/* EVP_KNOB_MAP's parser column, pasted onto this prefix. */
#define EVP_KNOB_KIND_uint EVP_KIND_UINT
#define EVP_KNOB_KIND_word EVP_KIND_WORD
#define EVP_KNOB_KIND_bool EVP_KIND_BOOL

typedef struct evp_knob_def {
    const char *name;    /* the environment variable */
    const char *dflt;    /* NULL: derived from other knobs (evp_config_derive) */
    const char *accepts; /* shown in every message; a word knob's words, ", "-separated */
    const char *doc;
    evp_knob_kind_t kind;
    uint64_t min, max;   /* uint knobs */
} evp_knob_def_t;

static const evp_knob_def_t evp_knobs[] = {
#define EVP_KNOB_ROW(NAME, field, type, dflt, accepts, doc, parser, min, max) \
    [EVP_KNOB_##NAME] = {"EVPOOL_" #NAME, dflt, accepts, doc, EVP_KNOB_KIND_##parser, min, max},
    EVP_KNOB_MAP(EVP_KNOB_ROW)
#undef EVP_KNOB_ROW
};
_Static_assert(sizeof evp_knobs / sizeof evp_knobs[0] == EVP_KNOB_COUNT, "one row per knob");

/* Several failures in one message, " | " between them; the text is
 * truncated, never overrun. err may be NULL (only `any` is kept). */
typedef struct evp_config_msgs {
    char *err;
    size_t errlen, used;
    bool any;
} evp_config_msgs_t;

__attribute__((format(printf, 2, 3)))
static void evp_config_add(evp_config_msgs_t *m, const char *fmt, ...)
{
    char one[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(one, sizeof one, fmt, ap);
    va_end(ap);
    if (m->err && m->errlen && m->used < m->errlen - 1) {
        int n = snprintf(m->err + m->used, m->errlen - m->used, "%s%s", m->any ? " | " : "", one);
        m->used = n < 0 ? m->used : m->used + (size_t)n;
        if (m->used > m->errlen - 1)
            m->used = m->errlen - 1;
    }
    m->any = true;
}

static bool evp_knob_valid(evp_knob_t knob)
{
    return (unsigned)knob < EVP_KNOB_COUNT;
}

/* The i-th word of a word knob (the i-th ", "-separated item of accepts):
 * *word and *len, or false past the last. */
static bool evp_knob_word(const evp_knob_def_t *d, uint64_t i, const char **word, size_t *len)
{
    const char *p = d->accepts;
    for (;; i--) {
        size_t n = strcspn(p, ",");
        if (i == 0) {
            *word = p;
            *len = n;
            return true;
        }
        if (p[n] == '\0')
            return false;
        p += n + strspn(p + n, ", ");
    }
}

static bool evp_knob_in_range(const evp_knob_def_t *d, uint64_t v)
{
    const char *w;
    size_t len;
    return d->kind == EVP_KIND_UINT ? v >= d->min && v <= d->max : evp_knob_word(d, v, &w, &len);
}

static int evp_parse_uint(const evp_knob_def_t *d, const char *text, uint64_t *out,
                          char *err, size_t errlen)
{
    /* strtoull would accept spaces, signs and "0x"; only plain digits are a number here. */
    if (text[0] == '\0' || text[strspn(text, "0123456789")] != '\0')
        return evp_invalid(err, errlen, "%s=\"%s\": not a decimal integer; accepted: %s",
                           d->name, text, d->accepts);
    uint64_t v = 0;
    for (const char *p = text; *p && v <= d->max; p++) {
        unsigned digit = (unsigned)(*p - '0');
        /* Saturate rather than wrap: past max is out of range either way. */
        v = v > (UINT64_MAX - digit) / 10 ? UINT64_MAX : v * 10 + digit;
    }
    if (v < d->min || v > d->max)
        return evp_invalid(err, errlen, "%s=\"%s\": out of range; accepted: %s", d->name,
                           text, d->accepts);
    *out = v;
    return 0;
}

static int evp_parse_word(const evp_knob_def_t *d, const char *text, uint64_t *out,
                          char *err, size_t errlen)
{
    const char *w;
    size_t len;
    for (uint64_t i = 0; evp_knob_word(d, i, &w, &len); i++)
        if (strlen(text) == len && memcmp(text, w, len) == 0) {
            *out = i;
            return 0;
        }
    return evp_invalid(err, errlen, "%s=\"%s\": not an accepted value; accepted: %s",
                       d->name, text, d->accepts);
}

/* Parses `text` for knob d into *out; EVP_EINVAL with a message otherwise. */
static int evp_knob_parse(const evp_knob_def_t *d, const char *text, uint64_t *out, char *err,
                          size_t errlen)
{
    return d->kind == EVP_KIND_UINT ? evp_parse_uint(d, text, out, err, errlen)
                                    : evp_parse_word(d, text, out, err, errlen);
}

/* The value of a knob as the table sees it: an integer, or a word's index. */
static uint64_t evp_config_get(const evp_config_t *cfg, evp_knob_t knob)
{
    switch (knob) {
#define EVP_KNOB_GET(NAME, field, ...) \
    case EVP_KNOB_##NAME: return (uint64_t)cfg->field;
        EVP_KNOB_MAP(EVP_KNOB_GET)
#undef EVP_KNOB_GET
    default: return 0;
    }
}

/* A knob's literal default, parsed. The text is the table's own, so parsing
 * cannot fail (test_config pins every default). */
static uint64_t evp_config_default(evp_knob_t knob)
{
    const evp_knob_def_t *d = &evp_knobs[knob];
    uint64_t v = 0;
    int rc = evp_knob_parse(d, d->dflt, &v, NULL, 0);
    assert(rc == 0);
    (void)rc;
    return v;
}

/* Derived defaults follow the knobs they depend on for as long as they are
 * not set: MAX is 4 x SIZE, the default thread cache never exceeds MAX
 * (so EVPOOL_SIZE=2 alone is a valid configuration), and BATCH_MAX is
 * 64 x BATCH_SLAB. */
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
    if (cfg->source[EVP_KNOB_BATCH_MAX] == EVP_SRC_DEFAULT) {
        uint64_t bmax = 64 * (uint64_t)cfg->batch_slab, cap = evp_knobs[EVP_KNOB_BATCH_MAX].max;
        cfg->batch_max = (uint32_t)(bmax < cap ? bmax : cap);
    }
}

/* Stores a parsed value (already range-checked) and re-derives dependent defaults. */
static void evp_config_put(evp_config_t *cfg, evp_knob_t knob, uint64_t v, evp_source_t src)
{
    switch (knob) {
#define EVP_KNOB_PUT(NAME, field, type, ...) \
    case EVP_KNOB_##NAME: cfg->field = (type)v; break;
        EVP_KNOB_MAP(EVP_KNOB_PUT)
#undef EVP_KNOB_PUT
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
        return;
    memset(cfg, 0, sizeof *cfg);
    for (int k = 0; k < EVP_KNOB_COUNT; k++)
        if (evp_knobs[k].dflt)
            evp_config_put(cfg, (evp_knob_t)k, evp_config_default((evp_knob_t)k), EVP_SRC_DEFAULT);
}

int evp_config_set(evp_config_t *cfg, const char *name, const char *value, char *err,
                   size_t errlen)
{
    char known[512];
    if (!cfg || !name)
        return evp_invalid(err, errlen, "evp_config_set: NULL config or name");
    evp_knob_t knob = evp_config_find(name, strlen(name));
    if (knob == EVP_KNOB_COUNT)
        return evp_invalid(err, errlen, "unknown variable %s; known: %s", name,
                           evp_config_known(known, sizeof known));
    const evp_knob_def_t *d = &evp_knobs[knob];
    if (!value)
        return evp_invalid(err, errlen, "%s: no value; accepted: %s", d->name, d->accepts);
    uint64_t v;
    int rc = evp_knob_parse(d, value, &v, err, errlen);
    if (rc == 0)
        evp_config_put(cfg, knob, v, EVP_SRC_EXPLICIT);
    return rc;
}

int evp_config_set_u64(evp_config_t *cfg, evp_knob_t knob, uint64_t value, char *err,
                       size_t errlen)
{
    if (!cfg || !evp_knob_valid(knob))
        return evp_invalid(err, errlen, "evp_config_set_u64: NULL config or knob %d out of range",
                           (int)knob);
    const evp_knob_def_t *d = &evp_knobs[knob];
    if (!evp_knob_in_range(d, value))
        return evp_invalid(err, errlen, "%s=%" PRIu64 ": out of range; accepted: %s", d->name,
                           value, d->accepts);
    evp_config_put(cfg, knob, value, EVP_SRC_EXPLICIT);
    return 0;
}

int evp_config_set_bool(evp_config_t *cfg, evp_knob_t knob, bool value, char *err, size_t errlen)
{
    if (!cfg || !evp_knob_valid(knob))
        return evp_invalid(err, errlen,
                           "evp_config_set_bool: NULL config or knob %d out of range", (int)knob);
    if (evp_knobs[knob].kind != EVP_KIND_BOOL)
        return evp_invalid(err, errlen, "%s is not a 0/1 knob; accepted: %s",
                           evp_knobs[knob].name, evp_knobs[knob].accepts);
    return evp_config_set_u64(cfg, knob, value ? 1u : 0u, err, errlen);
}

/* Set by the first evp_config_load_env that warns about unknown variables.
 * Relaxed: the flag guards nothing but itself, and the exchange lets exactly
 * one thread print even when pools are created concurrently. */
static atomic_bool evp_config_warned_unknown;

static bool evp_config_unknown(const char *entry, size_t *len)
{
    *len = strcspn(entry, "=");
    /* EVPOOL_FAULT is the tests' fault injection (src/backend/fault.h), not a knob. */
    return strncmp(entry, "EVPOOL_", 7) == 0 && evp_config_find(entry, *len) == EVP_KNOB_COUNT &&
           strncmp(entry, "EVPOOL_FAULT=", 13) != 0;
}

/* Typo guard: an EVPOOL_* variable that is no knob would otherwise be
 * silently ignored. Said once per process, not once per pool. */
static void evp_config_warn_unknown(void)
{
    char known[512];
    size_t len;
    bool any = false;
    if (atomic_load_explicit(&evp_config_warned_unknown, memory_order_relaxed) ||
        !evp_log_enabled(EVP_LOG_WARN))
        return;
    for (char **e = environ; e && *e && !any; e++)
        any = evp_config_unknown(*e, &len);
    if (!any || atomic_exchange_explicit(&evp_config_warned_unknown, true, memory_order_relaxed))
        return;
    for (char **e = environ; e && *e; e++)
        if (evp_config_unknown(*e, &len))
            evp_warn("unknown variable %.*s ignored; known: %s", (int)len, *e,
                     evp_config_known(known, sizeof known));
}

int evp_config_load_env(evp_config_t *cfg, char *err, size_t errlen)
{
    if (!cfg)
        return evp_invalid(err, errlen, "evp_config_load_env: NULL config");
    evp_config_warn_unknown();
    /* Work on a copy so that a bad environment leaves *cfg as it was. List
     * order applies SIZE before MAX, and evp_config_put re-derives MAX.
     * Every variable is parsed, so that one message names every bad one. */
    evp_config_t next = *cfg;
    evp_config_msgs_t m = {err, errlen, 0, false};
    for (int k = 0; k < EVP_KNOB_COUNT; k++) {
        const evp_knob_def_t *d = &evp_knobs[k];
        const char *text = getenv(d->name);
        char why[256];
        uint64_t v;
        if (next.source[k] == EVP_SRC_EXPLICIT || !text)
            continue;
        if (evp_knob_parse(d, text, &v, why, sizeof why) != 0)
            evp_config_add(&m, "%s", why);
        else
            evp_config_put(&next, (evp_knob_t)k, v, EVP_SRC_ENV);
    }
    if (m.any)
        return EVP_EINVAL;
    int rc = evp_config_validate(&next, err, errlen);
    if (rc == 0)
        *cfg = next;
    return rc;
}

int evp_config_validate(const evp_config_t *cfg, char *err, size_t errlen)
{
    char text[32];
    evp_config_msgs_t m = {err, errlen, 0, false};
    if (!cfg)
        return evp_invalid(err, errlen, "evp_config_validate: NULL config");
    /* Fields may have been written directly, bypassing the parsers. */
    for (int k = 0; k < EVP_KNOB_COUNT; k++)
        if (!evp_knob_in_range(&evp_knobs[k], evp_config_get(cfg, (evp_knob_t)k))) {
            evp_config_format(cfg, (evp_knob_t)k, text, sizeof text);
            evp_config_add(&m, "%s=%s: out of range; accepted: %s", evp_knobs[k].name, text,
                           evp_knobs[k].accepts);
        }
    if (cfg->max < cfg->size)
        evp_config_add(&m,
                       "EVPOOL_MAX=%" PRIu32 " is less than EVPOOL_SIZE=%" PRIu32
                       "; accepted: EVPOOL_MAX >= EVPOOL_SIZE",
                       cfg->max, cfg->size);
    if (cfg->thread_cache > cfg->max)
        evp_config_add(&m,
                       "EVPOOL_THREAD_CACHE=%" PRIu32 " is greater than EVPOOL_MAX=%" PRIu32
                       "; accepted: EVPOOL_THREAD_CACHE <= EVPOOL_MAX",
                       cfg->thread_cache, cfg->max);
    if (cfg->batch_max < cfg->batch_slab)
        evp_config_add(&m,
                       "EVPOOL_BATCH_MAX=%" PRIu32 " is less than EVPOOL_BATCH_SLAB=%" PRIu32
                       "; accepted: EVPOOL_BATCH_MAX >= EVPOOL_BATCH_SLAB",
                       cfg->batch_max, cfg->batch_slab);
    return m.any ? EVP_EINVAL : 0;
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
    const char *w;
    size_t wlen;
    /* An out-of-range word value (a field written directly) prints as its number. */
    int n = d->kind != EVP_KIND_UINT && evp_knob_word(d, v, &w, &wlen)
                ? snprintf(buf, len, "%.*s", (int)wlen, w)
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
