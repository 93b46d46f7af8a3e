/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness: the configuration parser.
 *
 * The input is lines "NAME=VALUE" (split at the first '='; a line without
 * '=' is a NAME with no value). Bytes are arbitrary: a NUL inside a line
 * cuts NAME or VALUE short, as it would for any C caller. Every pair goes
 * through the text setter (evp_config_set) and, for EVPOOL_* names, through
 * the environment (setenv + evp_config_load_env, unset afterwards). Checked
 * (the contract of include/evpool/config.h):
 *   - every call returns 0 or EVP_EINVAL;
 *   - EVP_EINVAL: the message is NUL-terminated, non-empty and names the
 *     variable; a shorter buffer gets a NUL-terminated prefix of it; the
 *     config is byte-for-byte unchanged;
 *   - 0: evp_config_validate passes exactly when the cross-knob rules hold
 *     (MAX >= SIZE, THREAD_CACHE <= MAX, BATCH_MAX >= BATCH_SLAB:
 *     evp_config_set leaves those to it),
 *     and evp_config_format of every knob parses back, through
 *     evp_config_set, to the same config;
 *   - the environment path agrees with the setter: loading the final value
 *     of each variable succeeds exactly when setting the same values
 *     explicitly and validating does, and gives the same values; knobs set
 *     explicitly are not overridden by the environment.
 * A failed check prints what differs and aborts (libFuzzer keeps the input). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evpool/evpool.h"

#define MAX_PAIRS 64

static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_config: invariant failed: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

/* The values of a config, without the sources (which legitimately differ
 * between the explicit and the environment paths): every knob, compared by
 * its formatted text, so a knob added to EVP_KNOB_MAP is compared too. */
static int same_values(const evp_config_t *a, const evp_config_t *b)
{
    for (int k = 0; k < EVP_KNOB_COUNT; k++) {
        char ta[64], tb[64];
        if (evp_config_format(a, (evp_knob_t)k, ta, sizeof ta) != 0 ||
            evp_config_format(b, (evp_knob_t)k, tb, sizeof tb) != 0 || strcmp(ta, tb) != 0)
            return 0;
    }
    return 1;
}

static void show(const char *what, const evp_config_t *c)
{
    fprintf(stderr, "  %s:", what);
    for (int k = 0; k < EVP_KNOB_COUNT; k++) {
        char buf[64];
        evp_config_format(c, (evp_knob_t)k, buf, sizeof buf);
        fprintf(stderr, " %s=%s(%s)", evp_config_knob_name((evp_knob_t)k), buf,
                evp_config_source_name(c->source[k]));
    }
    fprintf(stderr, "\n");
}

static evp_knob_t knob_of(const char *name)
{
    for (int k = 0; k < EVP_KNOB_COUNT; k++)
        if (strcmp(name, evp_config_knob_name((evp_knob_t)k)) == 0)
            return (evp_knob_t)k;
    return EVP_KNOB_COUNT;
}

/* An EVP_EINVAL message: NUL-terminated within len, non-empty, and naming
 * `name` (when name != NULL). */
static void check_message(const char *err, size_t len, const char *name, const char *call)
{
    if (!memchr(err, '\0', len))
        fail("%s: message not NUL-terminated within %zu bytes", call, len);
    if (!err[0])
        fail("%s: EVP_EINVAL with an empty message", call);
    if (name && !strstr(err, name))
        fail("%s: message \"%s\" does not name the variable \"%s\"", call, err, name);
}

/* Does the config satisfy the cross-knob rules? (Each knob's own range is
 * the parser's business; a value that got in passed it.) */
static int cross_ok(const evp_config_t *c)
{
    return c->max >= c->size && c->thread_cache <= c->max && c->batch_max >= c->batch_slab;
}

/* Every knob, formatted, sets back to the same config. */
static void check_round_trip(const evp_config_t *c)
{
    for (int k = 0; k < EVP_KNOB_COUNT; k++) {
        char buf[64], err[512];
        const char *name = evp_config_knob_name((evp_knob_t)k);
        if (evp_config_format(c, (evp_knob_t)k, buf, sizeof buf) != 0)
            fail("evp_config_format(%s) failed on a valid config", name);
        evp_config_t again = *c;
        int rc = evp_config_set(&again, name, buf, err, sizeof err);
        if (rc != 0)
            fail("%s=\"%s\" (from evp_config_format) does not set back: %d %s", name, buf, rc, err);
        if (!same_values(&again, c)) {
            show("before", c);
            show("after", &again);
            fail("%s=\"%s\" (from evp_config_format) sets a different config", name, buf);
        }
        /* A buffer one byte short of the text: EVP_EINVAL, still a C string. */
        size_t n = strlen(buf);
        char *small = malloc(n);
        if (small && n) {
            if (evp_config_format(c, (evp_knob_t)k, small, n) != EVP_EINVAL)
                fail("evp_config_format(%s) into %zu bytes did not report truncation", name, n);
            if (!memchr(small, '\0', n))
                fail("evp_config_format(%s) into %zu bytes: not NUL-terminated", name, n);
        }
        free(small);
    }
}

/* A copy of s[0..n) as a C string (so an embedded NUL ends it early). */
static char *dup_n(const uint8_t *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        abort();
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

struct pair {
    char *name, *value; /* value NULL: the line had no '=' */
};

/* One evp_config_set on cfg, checked; returns its code. */
static int checked_set(evp_config_t *cfg, const char *name, const char *value)
{
    size_t big = strlen(name) + (value ? strlen(value) : 0) + 512;
    char *err = malloc(big);
    if (!err)
        abort();
    evp_config_t before;
    memcpy(&before, cfg, sizeof before);
    int rc = evp_config_set(cfg, name, value, err, big);
    if (rc != 0 && rc != EVP_EINVAL)
        fail("evp_config_set(%s) returned %d", name, rc);
    if (rc == EVP_EINVAL) {
        check_message(err, big, name, "evp_config_set");
        if (memcmp(&before, cfg, sizeof before) != 0)
            fail("evp_config_set(%s) failed but changed the config", name);
        /* The same call into a short buffer (exactly allocated, so ASan
         * sees any overrun) and with no buffer at all. */
        size_t len = 1 + strlen(err) % 13;
        char *small = malloc(len);
        if (!small)
            abort();
        if (evp_config_set(cfg, name, value, small, len) != EVP_EINVAL)
            fail("evp_config_set(%s): a shorter message buffer changed the result", name);
        if (!memchr(small, '\0', len) || strncmp(small, err, strlen(small)) != 0)
            fail("evp_config_set(%s): the truncated message is not a prefix of the message", name);
        free(small);
        if (evp_config_set(cfg, name, value, NULL, 0) != EVP_EINVAL)
            fail("evp_config_set(%s): no message buffer changed the result", name);
        if (memcmp(&before, cfg, sizeof before) != 0)
            fail("evp_config_set(%s) failed but changed the config", name);
    } else {
        evp_knob_t k = knob_of(name);
        if (k == EVP_KNOB_COUNT)
            fail("evp_config_set accepted an unknown name \"%s\"", name);
        if (cfg->source[k] != EVP_SRC_EXPLICIT)
            fail("evp_config_set(%s): source is not explicit", name);
        int v = evp_config_validate(cfg, err, big);
        if (v != 0 && v != EVP_EINVAL)
            fail("evp_config_validate returned %d", v);
        if ((v == 0) != cross_ok(cfg)) {
            show("config", cfg);
            fail("evp_config_validate says %d, the cross-knob rules say %s", v,
                 cross_ok(cfg) ? "valid" : "invalid");
        }
        if (v)
            check_message(err, big, "EVPOOL_", "evp_config_validate");
        check_round_trip(cfg);
    }
    free(err);
    return rc;
}

/* Loads the environment onto *cfg; checks the code and, on failure, the
 * message and that *cfg is unchanged. */
static int checked_load(evp_config_t *cfg, const char *must_name)
{
    char err[4096];
    evp_config_t before;
    memcpy(&before, cfg, sizeof before);
    int rc = evp_config_load_env(cfg, err, sizeof err);
    if (rc != 0 && rc != EVP_EINVAL)
        fail("evp_config_load_env returned %d", rc);
    if (rc) {
        check_message(err, sizeof err, must_name, "evp_config_load_env");
        if (memcmp(&before, cfg, sizeof before) != 0)
            fail("evp_config_load_env failed but changed the config");
    } else {
        if (evp_config_validate(cfg, err, sizeof err) != 0)
            fail("evp_config_load_env succeeded with an invalid config: %s", err);
        check_round_trip(cfg);
    }
    return rc;
}

/* Only EVPOOL_* names go into the environment: others are not ours to set
 * (and setenv refuses empty names). */
static int env_name(const char *name)
{
    return strncmp(name, "EVPOOL_", 7) == 0;
}

/* The last pair that set each knob through the environment, or NULL. */
static void final_env(const struct pair *pairs, int n, const char *last[EVP_KNOB_COUNT])
{
    for (int k = 0; k < EVP_KNOB_COUNT; k++)
        last[k] = NULL;
    for (int i = 0; i < n; i++) {
        evp_knob_t k = knob_of(pairs[i].name);
        if (k != EVP_KNOB_COUNT && pairs[i].value)
            last[k] = pairs[i].value;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* A clean environment for the knobs, and the log level at error (the
     * unknown-variable warning would flood the output): a pool created with
     * EVPOOL_LOG=error sets the process-wide level. */
    for (int k = 0; k < EVP_KNOB_COUNT; k++)
        unsetenv(evp_config_knob_name((evp_knob_t)k));
    evp_config_t c;
    evp_config_init(&c);
    evp_config_set(&c, "EVPOOL_LOG", "error", NULL, 0);
    evp_config_set(&c, "EVPOOL_BACKEND", "host", NULL, 0);
    evp_config_set(&c, "EVPOOL_SIZE", "1", NULL, 0);
    evp_pool_t *p;
    if (evp_pool_create(0, &c, &p) != 0 || evp_pool_destroy(p, NULL) != 0)
        fail("cannot create a host pool");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pair pairs[MAX_PAIRS];
    int n = 0;
    for (size_t at = 0; at < size && n < MAX_PAIRS;) {
        const uint8_t *line = data + at, *nl = memchr(line, '\n', size - at);
        size_t len = nl ? (size_t)(nl - line) : size - at;
        const uint8_t *eq = memchr(line, '=', len);
        pairs[n].name = dup_n(line, eq ? (size_t)(eq - line) : len);
        pairs[n].value = eq ? dup_n(eq + 1, len - (size_t)(eq - line) - 1) : NULL;
        n++;
        at += len + 1;
    }

    /* 1. The text setter, pair after pair on one config. */
    evp_config_t set;
    evp_config_init(&set);
    if (evp_config_validate(&set, NULL, 0) != 0)
        fail("the defaults do not validate");
    check_round_trip(&set);
    for (int i = 0; i < n; i++)
        checked_set(&set, pairs[i].name, pairs[i].value);
    if (evp_config_set(&set, NULL, "1", NULL, 0) != EVP_EINVAL ||
        evp_config_set(NULL, "EVPOOL_SIZE", "1", NULL, 0) != EVP_EINVAL)
        fail("evp_config_set accepted a NULL argument");

    /* 2. Each pair alone through the environment, onto the defaults. */
    for (int i = 0; i < n; i++) {
        if (!env_name(pairs[i].name) || !pairs[i].value)
            continue;
        if (setenv(pairs[i].name, pairs[i].value, 1) != 0)
            continue;
        evp_config_t env, expect;
        evp_config_init(&env);
        evp_config_init(&expect);
        int known = knob_of(pairs[i].name) != EVP_KNOB_COUNT;
        int rc = checked_load(&env, known ? pairs[i].name : NULL);
        int want = known ? evp_config_set(&expect, pairs[i].name, pairs[i].value, NULL, 0) : 0;
        if (want == 0 && evp_config_validate(&expect, NULL, 0) != 0)
            want = EVP_EINVAL;
        if (rc != want)
            fail("%s=\"%s\": the environment says %d, the setter %d", pairs[i].name,
                 pairs[i].value, rc, want);
        if (rc == 0 && !same_values(&env, &expect)) {
            show("environment", &env);
            show("setter", &expect);
            fail("%s=\"%s\": the environment and the setter disagree", pairs[i].name, pairs[i].value);
        }
        if (rc == 0 && known && env.source[knob_of(pairs[i].name)] != EVP_SRC_ENV)
            fail("%s: source is not the environment", pairs[i].name);
        unsetenv(pairs[i].name);
    }

    /* 3. All pairs at once through the environment (the last value of a
     * variable wins), onto the defaults and onto the explicit config of
     * step 1, against the setter given the same final values. */
    const char *last[EVP_KNOB_COUNT];
    final_env(pairs, n, last);
    for (int i = 0; i < n; i++)
        if (env_name(pairs[i].name) && pairs[i].value)
            setenv(pairs[i].name, pairs[i].value, 1);
    for (int onto = 0; onto < 2; onto++) {
        evp_config_t env, expect;
        if (onto)
            env = set;
        else
            evp_config_init(&env);
        expect = env;
        int want = 0;
        for (int k = 0; k < EVP_KNOB_COUNT; k++)
            if (last[k] && expect.source[k] != EVP_SRC_EXPLICIT &&
                evp_config_set(&expect, evp_config_knob_name((evp_knob_t)k), last[k], NULL, 0) != 0)
                want = EVP_EINVAL;
        if (want == 0 && evp_config_validate(&expect, NULL, 0) != 0)
            want = EVP_EINVAL;
        int rc = checked_load(&env, "EVPOOL_");
        if (rc != want)
            fail("all pairs onto %s: the environment says %d, the setter %d",
                 onto ? "the explicit config" : "the defaults", rc, want);
        if (rc == 0 && !same_values(&env, &expect)) {
            show("environment", &env);
            show("setter", &expect);
            fail("all pairs onto %s: the environment and the setter disagree",
                 onto ? "the explicit config" : "the defaults");
        }
        for (int k = 0; rc == 0 && onto && k < EVP_KNOB_COUNT; k++)
            if (set.source[k] == EVP_SRC_EXPLICIT && env.source[k] != EVP_SRC_EXPLICIT)
                fail("the environment overrode the explicit %s", evp_config_knob_name((evp_knob_t)k));
    }
    for (int i = 0; i < n; i++) {
        if (env_name(pairs[i].name))
            unsetenv(pairs[i].name);
        free(pairs[i].name);
        free(pairs[i].value);
    }
    return 0;
}
