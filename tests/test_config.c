/* SPDX-License-Identifier: Apache-2.0 */
/* Configuration: every knob with good and bad values, from the environment
 * and set explicitly (text and typed setters); precedence; derived defaults;
 * cross-knob checks; every bad value reported; the unknown-variable warning,
 * once per process. And the error codes' names and messages. */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "base/log.h"

#define CHECK_STR(s, sub)                                                      \
    do {                                                                       \
        if (!strstr((s), (sub)))                                               \
            evp_test_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"", \
                          (s), (sub));                                         \
    } while (0)

/* One value of one variable. A good row gives the struct field and the
 * formatted text; a bad row gives a substring of the message (which must
 * also name the variable, the quoted value and the accepted text). */
static const struct row {
    const char *var, *value;
    int rc;
    unsigned long long field; /* rc == 0: the struct field (enum value for words) */
    const char *expect;       /* rc == 0: evp_config_format; else in the message */
} rows[] = {
    {"EVPOOL_SIZE", "1", 0, 1, "1"},
    {"EVPOOL_SIZE", "65536", 0, 65536, "65536"},
    {"EVPOOL_SIZE", "007", 0, 7, "7"},
    {"EVPOOL_SIZE", "0", EVP_EINVAL, 0, "out of range; accepted: integer 1..65536"},
    {"EVPOOL_SIZE", "65537", EVP_EINVAL, 0, "out of range"},
    {"EVPOOL_SIZE", "12abc", EVP_EINVAL, 0,
     "EVPOOL_SIZE=\"12abc\": not a decimal integer; accepted: integer 1..65536"},
    {"EVPOOL_SIZE", "-1", EVP_EINVAL, 0, "not a decimal integer"},
    {"EVPOOL_SIZE", "+5", EVP_EINVAL, 0, "not a decimal integer"},
    {"EVPOOL_SIZE", " 5", EVP_EINVAL, 0, "not a decimal integer"},
    {"EVPOOL_SIZE", "5 ", EVP_EINVAL, 0, "not a decimal integer"},
    {"EVPOOL_SIZE", "", EVP_EINVAL, 0, "not a decimal integer"},
    {"EVPOOL_SIZE", "0x10", EVP_EINVAL, 0, "not a decimal integer"},
    {"EVPOOL_SIZE", "1e3", EVP_EINVAL, 0, "not a decimal integer"},
    {"EVPOOL_SIZE", "99999999999999999999", EVP_EINVAL, 0, "out of range"},
    {"EVPOOL_MAX", "1", 0, 1, "1"},
    {"EVPOOL_MAX", "1048576", 0, 1048576, "1048576"},
    {"EVPOOL_MAX", "0", EVP_EINVAL, 0, "out of range; accepted: integer 1..1048576"},
    {"EVPOOL_MAX", "1048577", EVP_EINVAL, 0, "out of range"},
    {"EVPOOL_MAX", "many", EVP_EINVAL, 0, "not a decimal integer"},
    {"EVPOOL_DEPOT", "stack", 0, EVP_DEPOT_STACK, "stack"},
    {"EVPOOL_DEPOT", "ring", 0, EVP_DEPOT_RING, "ring"},
    {"EVPOOL_DEPOT", "queue", EVP_EINVAL, 0, "not an accepted value; accepted: stack, ring"},
    {"EVPOOL_ON_EXHAUST", "wait", 0, EVP_EXHAUST_WAIT, "wait"},
    {"EVPOOL_ON_EXHAUST", "fail", 0, EVP_EXHAUST_FAIL, "fail"},
    {"EVPOOL_ON_EXHAUST", "WAIT", EVP_EINVAL, 0, "not an accepted value; accepted: wait, fail"},
    {"EVPOOL_ON_EXHAUST", "wait ", EVP_EINVAL, 0, "not an accepted value"},
    {"EVPOOL_ON_EXHAUST", "", EVP_EINVAL, 0, "not an accepted value"},
    {"EVPOOL_WAIT_TIMEOUT_US", "0", 0, 0, "0"},
    {"EVPOOL_WAIT_TIMEOUT_US", "3600000000", 0, 3600000000ull, "3600000000"},
    {"EVPOOL_WAIT_TIMEOUT_US", "3600000001", EVP_EINVAL, 0,
     "out of range; accepted: integer 0..3600000000"},
    {"EVPOOL_WAIT_TIMEOUT_US", "18446744073709551615", EVP_EINVAL, 0, "out of range"},
    {"EVPOOL_WAIT_TIMEOUT_US", "18446744073709551616", EVP_EINVAL, 0, "out of range"},
    {"EVPOOL_WAIT_TIMEOUT_US", "1s", EVP_EINVAL, 0, "not a decimal integer"},
    {"EVPOOL_THREAD_CACHE", "0", 0, 0, "0"},
    {"EVPOOL_THREAD_CACHE", "4096", 0, 4096, "4096"},
    {"EVPOOL_THREAD_CACHE", "4097", EVP_EINVAL, 0, "out of range; accepted: integer 0..4096"},
    {"EVPOOL_THREAD_CACHE", "-1", EVP_EINVAL, 0, "not a decimal integer"},
    {"EVPOOL_TIMING", "0", 0, 0, "0"},
    {"EVPOOL_TIMING", "1", 0, 1, "1"},
    {"EVPOOL_TIMING", "2", EVP_EINVAL, 0, "not an accepted value; accepted: 0, 1"},
    {"EVPOOL_TIMING", "01", EVP_EINVAL, 0, "not an accepted value"},
    {"EVPOOL_TIMING", "true", EVP_EINVAL, 0, "not an accepted value"},
    {"EVPOOL_BACKEND", "auto", 0, EVP_BACKEND_AUTO, "auto"},
    {"EVPOOL_BACKEND", "cuda", 0, EVP_BACKEND_CUDA, "cuda"},
    {"EVPOOL_BACKEND", "host", 0, EVP_BACKEND_HOST, "host"},
    {"EVPOOL_BACKEND", "gpu", EVP_EINVAL, 0, "not an accepted value; accepted: auto, cuda, host"},
    {"EVPOOL_LOG", "error", 0, EVP_LOG_ERROR, "error"},
    {"EVPOOL_LOG", "warn", 0, EVP_LOG_WARN, "warn"},
    {"EVPOOL_LOG", "info", 0, EVP_LOG_INFO, "info"},
    {"EVPOOL_LOG", "debug", 0, EVP_LOG_DEBUG, "debug"},
    {"EVPOOL_LOG", "verbose", EVP_EINVAL, 0,
     "not an accepted value; accepted: error, warn, info, debug"},
    {"EVPOOL_BATCH_SLAB", "1", 0, 1, "1"},
    {"EVPOOL_BATCH_SLAB", "1048576", 0, 1048576, "1048576"},
    {"EVPOOL_BATCH_SLAB", "0", EVP_EINVAL, 0, "out of range; accepted: integer 1..1048576"},
    {"EVPOOL_BATCH_SLAB", "1048577", EVP_EINVAL, 0, "out of range"},
    {"EVPOOL_BATCH_MAX", "1", 0, 1, "1"},
    {"EVPOOL_BATCH_MAX", "1048576", 0, 1048576, "1048576"},
    {"EVPOOL_BATCH_MAX", "0", EVP_EINVAL, 0, "out of range"},
    {"EVPOOL_BATCH_MAX", "lots", EVP_EINVAL, 0, "not a decimal integer"},
    {"EVPOOL_BATCH_TASKS", "1", 0, 1, "1"},
    {"EVPOOL_BATCH_TASKS", "65536", 0, 65536, "65536"},
    {"EVPOOL_BATCH_TASKS", "0", EVP_EINVAL, 0, "out of range; accepted: integer 1..65536"},
    {"EVPOOL_BATCH_TASKS", "65537", EVP_EINVAL, 0, "out of range"},
    {"EVPOOL_BATCH_BACKLOG", "1", 0, 1, "1"},
    {"EVPOOL_BATCH_BACKLOG", "1048576", 0, 1048576, "1048576"},
    {"EVPOOL_BATCH_BACKLOG", "0", EVP_EINVAL, 0, "out of range; accepted: integer 1..1048576"},
    {"EVPOOL_STREAMS", "1", 0, 1, "1"},
    {"EVPOOL_STREAMS", "256", 0, 256, "256"},
    {"EVPOOL_STREAMS", "0", EVP_EINVAL, 0, "out of range; accepted: integer 1..256"},
    {"EVPOOL_STREAMS", "257", EVP_EINVAL, 0, "out of range"},
    {"EVPOOL_MNNVL_FABRIC", "auto", 0, EVP_MNNVL_FABRIC_AUTO, "auto"},
    {"EVPOOL_MNNVL_FABRIC", "require", 0, EVP_MNNVL_FABRIC_REQUIRE, "require"},
    {"EVPOOL_MNNVL_FABRIC", "fd", EVP_EINVAL, 0, "not an accepted value; accepted: auto, require"},
    {"EVPOOL_MNNVL_FABRIC", "REQUIRE", EVP_EINVAL, 0, "not an accepted value"},
};

static evp_knob_t knob_of(const char *var)
{
    for (int k = 0; k < EVP_KNOB_COUNT; k++)
        if (strcmp(evp_config_knob_name((evp_knob_t)k), var) == 0)
            return (evp_knob_t)k;
    evp_test_fail(__FILE__, __LINE__, "no knob named %s", var);
}

/* Read straight from the struct, not through evp_config_format: the field
 * each line of EVP_KNOB_MAP names. */
static unsigned long long field_of(const evp_config_t *cfg, evp_knob_t knob)
{
    switch (knob) {
#define FIELD_OF(NAME, field, ...) \
    case EVP_KNOB_##NAME: return (unsigned long long)cfg->field;
        EVP_KNOB_MAP(FIELD_OF)
#undef FIELD_OF
    default: evp_test_fail(__FILE__, __LINE__, "bad knob %d", (int)knob);
    }
}

static void unset_all(void)
{
    for (int k = 0; k < EVP_KNOB_COUNT; k++)
        unsetenv(evp_config_knob_name((evp_knob_t)k));
}

static void check_same(const evp_config_t *a, const evp_config_t *b)
{
    for (int k = 0; k < EVP_KNOB_COUNT; k++) {
        CHECK_EQ(field_of(a, (evp_knob_t)k), field_of(b, (evp_knob_t)k));
        CHECK_EQ(a->source[k], b->source[k]);
    }
}

/* A config in which any single in-range value is valid on its own: SIZE and
 * BATCH_SLAB 1, MAX and BATCH_MAX 1048576, each set explicitly unless it is
 * the knob under test. */
static void permissive_base(evp_config_t *cfg, const char *var)
{
    char err[256];
    evp_config_init(cfg);
    if (strcmp(var, "EVPOOL_SIZE") != 0)
        CHECK_RC(evp_config_set(cfg, "EVPOOL_SIZE", "1", err, sizeof err), 0);
    if (strcmp(var, "EVPOOL_MAX") != 0)
        CHECK_RC(evp_config_set(cfg, "EVPOOL_MAX", "1048576", err, sizeof err), 0);
    if (strcmp(var, "EVPOOL_BATCH_SLAB") != 0)
        CHECK_RC(evp_config_set(cfg, "EVPOOL_BATCH_SLAB", "1", err, sizeof err), 0);
    if (strcmp(var, "EVPOOL_BATCH_MAX") != 0)
        CHECK_RC(evp_config_set(cfg, "EVPOOL_BATCH_MAX", "1048576", err, sizeof err), 0);
}

static void check_row(const struct row *r, const evp_config_t *cfg, int rc, const char *err,
                      evp_source_t want_src)
{
    evp_knob_t knob = knob_of(r->var);
    char quoted[64], accepted[128], text[32];
    if (rc != r->rc)
        evp_test_fail(__FILE__, __LINE__, "%s=\"%s\": rc %d, want %d (%s)", r->var, r->value,
                      rc, r->rc, err);
    if (rc == 0) {
        CHECK_EQ(field_of(cfg, knob), r->field);
        CHECK_EQ(cfg->source[knob], want_src);
        CHECK_RC(evp_config_format(cfg, knob, text, sizeof text), 0);
        CHECK(strcmp(text, r->expect) == 0);
        return;
    }
    snprintf(quoted, sizeof quoted, "%s=\"%s\"", r->var, r->value);
    snprintf(accepted, sizeof accepted, "accepted: %s", evp_config_knob_accepts(knob));
    CHECK_STR(err, r->expect);
    CHECK_STR(err, quoted);
    CHECK_STR(err, accepted);
}

static void test_rows_explicit(void)
{
    unset_all();
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        evp_config_t cfg, before;
        char err[256] = "";
        permissive_base(&cfg, rows[i].var);
        before = cfg;
        int rc = evp_config_set(&cfg, rows[i].var, rows[i].value, err, sizeof err);
        check_row(&rows[i], &cfg, rc, err, EVP_SRC_EXPLICIT);
        if (rc == 0)
            CHECK_RC(evp_config_validate(&cfg, err, sizeof err), 0);
        else
            check_same(&cfg, &before); /* a rejected value changes nothing */
    }
}

static void test_rows_env(void)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        evp_config_t cfg, before;
        char err[256] = "";
        unset_all();
        permissive_base(&cfg, rows[i].var);
        before = cfg;
        CHECK(setenv(rows[i].var, rows[i].value, 1) == 0);
        int rc = evp_config_load_env(&cfg, err, sizeof err);
        check_row(&rows[i], &cfg, rc, err, EVP_SRC_ENV);
        if (rc != 0)
            check_same(&cfg, &before);
    }
    unset_all();
}

static void test_defaults(void)
{
    /* Written out, not read from the list: a changed default must show here. */
    static const char *const want[EVP_KNOB_COUNT] = {
        [EVP_KNOB_SIZE] = "256",          [EVP_KNOB_MAX] = "1024",
        [EVP_KNOB_ON_EXHAUST] = "wait",   [EVP_KNOB_WAIT_TIMEOUT_US] = "1000000",
        [EVP_KNOB_THREAD_CACHE] = "64",   [EVP_KNOB_DEPOT] = "stack",
        [EVP_KNOB_TIMING] = "0",
        [EVP_KNOB_BACKEND] = "auto",      [EVP_KNOB_LOG] = "warn",
        [EVP_KNOB_BATCH_SLAB] = "64",     [EVP_KNOB_BATCH_MAX] = "4096",
        [EVP_KNOB_BATCH_TASKS] = "64",    [EVP_KNOB_BATCH_BACKLOG] = "1024",
        [EVP_KNOB_STREAMS] = "4",         [EVP_KNOB_MNNVL_FABRIC] = "auto",
    };
    evp_config_t cfg;
    char text[32], err[256];
    unset_all();
    evp_config_init(&cfg);
    evp_config_init(NULL); /* documented: does nothing */
    CHECK_RC(evp_config_load_env(&cfg, err, sizeof err), 0);
    for (int k = 0; k < EVP_KNOB_COUNT; k++) {
        if (!want[k])
            evp_test_fail(__FILE__, __LINE__, "%s has no default in test_defaults",
                          evp_config_knob_name((evp_knob_t)k));
        CHECK_RC(evp_config_format(&cfg, (evp_knob_t)k, text, sizeof text), 0);
        if (strcmp(text, want[k]) != 0)
            evp_test_fail(__FILE__, __LINE__, "%s default %s, want %s",
                          evp_config_knob_name((evp_knob_t)k), text, want[k]);
        CHECK_EQ(cfg.source[k], EVP_SRC_DEFAULT);
        CHECK(evp_config_knob_doc((evp_knob_t)k)[0] != '\0');
    }
    CHECK_RC(evp_config_validate(&cfg, err, sizeof err), 0);
}

static void test_precedence(void)
{
    evp_config_t cfg;
    char err[256];
    unset_all();
    /* env beats default */
    CHECK(setenv("EVPOOL_SIZE", "16", 1) == 0);
    evp_config_init(&cfg);
    CHECK_RC(evp_config_load_env(&cfg, err, sizeof err), 0);
    CHECK_EQ(cfg.size, 16);
    CHECK_EQ(cfg.source[EVP_KNOB_SIZE], EVP_SRC_ENV);
    CHECK_EQ(cfg.source[EVP_KNOB_ON_EXHAUST], EVP_SRC_DEFAULT);
    /* explicit beats env, and an explicit knob's variable is not even parsed */
    evp_config_init(&cfg);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_SIZE", "8", err, sizeof err), 0);
    CHECK_RC(evp_config_load_env(&cfg, err, sizeof err), 0);
    CHECK_EQ(cfg.size, 8);
    CHECK_EQ(cfg.source[EVP_KNOB_SIZE], EVP_SRC_EXPLICIT);
    CHECK(setenv("EVPOOL_SIZE", "garbage", 1) == 0);
    CHECK_RC(evp_config_load_env(&cfg, err, sizeof err), 0);
    CHECK_EQ(cfg.size, 8);
    /* an explicit value set after loading still wins */
    CHECK(setenv("EVPOOL_ON_EXHAUST", "fail", 1) == 0);
    CHECK_RC(evp_config_load_env(&cfg, err, sizeof err), 0);
    CHECK_EQ(cfg.on_exhaust, EVP_EXHAUST_FAIL);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_ON_EXHAUST", "wait", err, sizeof err), 0);
    CHECK_RC(evp_config_load_env(&cfg, err, sizeof err), 0);
    CHECK_EQ(cfg.on_exhaust, EVP_EXHAUST_WAIT);
    CHECK_EQ(cfg.source[EVP_KNOB_ON_EXHAUST], EVP_SRC_EXPLICIT);
    unset_all();
}

static void test_max_derived(void)
{
    evp_config_t cfg;
    char err[256];
    unset_all();
    evp_config_init(&cfg);
    CHECK_EQ(cfg.max, 1024);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_SIZE", "100", err, sizeof err), 0);
    CHECK_EQ(cfg.max, 400);
    CHECK_EQ(cfg.source[EVP_KNOB_MAX], EVP_SRC_DEFAULT);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_SIZE", "65536", err, sizeof err), 0);
    CHECK_EQ(cfg.max, 262144);
    /* once MAX is set it no longer follows SIZE */
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_MAX", "500", err, sizeof err), 0);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_SIZE", "10", err, sizeof err), 0);
    CHECK_EQ(cfg.max, 500);
    /* from the environment: SIZE alone derives MAX; both given, MAX stays */
    evp_config_init(&cfg);
    CHECK(setenv("EVPOOL_SIZE", "32", 1) == 0);
    CHECK_RC(evp_config_load_env(&cfg, err, sizeof err), 0);
    CHECK_EQ(cfg.max, 128);
    CHECK_EQ(cfg.source[EVP_KNOB_MAX], EVP_SRC_DEFAULT);
    evp_config_init(&cfg);
    CHECK(setenv("EVPOOL_MAX", "40", 1) == 0);
    CHECK_RC(evp_config_load_env(&cfg, err, sizeof err), 0);
    CHECK_EQ(cfg.size, 32);
    CHECK_EQ(cfg.max, 40);
    CHECK_EQ(cfg.source[EVP_KNOB_MAX], EVP_SRC_ENV);
    unset_all();
}

static void test_max_less_than_size(void)
{
    evp_config_t cfg, before;
    char err[256];
    unset_all();
    evp_config_init(&cfg);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_SIZE", "16", err, sizeof err), 0);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_MAX", "8", err, sizeof err), 0);
    CHECK_RC(evp_config_validate(&cfg, err, sizeof err), EVP_EINVAL);
    CHECK(strcmp(err, "EVPOOL_MAX=8 is less than EVPOOL_SIZE=16; "
                      "accepted: EVPOOL_MAX >= EVPOOL_SIZE") == 0);
    /* the same from the environment; the config is left as it was */
    evp_config_init(&cfg);
    before = cfg;
    CHECK(setenv("EVPOOL_SIZE", "16", 1) == 0);
    CHECK(setenv("EVPOOL_MAX", "8", 1) == 0);
    CHECK_RC(evp_config_load_env(&cfg, err, sizeof err), EVP_EINVAL);
    CHECK_STR(err, "EVPOOL_MAX=8 is less than EVPOOL_SIZE=16");
    check_same(&cfg, &before);
    unset_all();
}

/* BATCH_MAX follows BATCH_SLAB (64 x) until set, and may not be below it. */
static void test_batch_max(void)
{
    evp_config_t cfg;
    char err[256];
    unset_all();
    evp_config_init(&cfg);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_BATCH_SLAB", "100", err, sizeof err), 0);
    CHECK_EQ(cfg.batch_max, 6400);
    CHECK_EQ(cfg.source[EVP_KNOB_BATCH_MAX], EVP_SRC_DEFAULT);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_BATCH_SLAB", "1048576", err, sizeof err), 0);
    CHECK_EQ(cfg.batch_max, 1048576);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_BATCH_SLAB", "16", err, sizeof err), 0);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_BATCH_MAX", "8", err, sizeof err), 0);
    CHECK_RC(evp_config_validate(&cfg, err, sizeof err), EVP_EINVAL);
    CHECK(strcmp(err, "EVPOOL_BATCH_MAX=8 is less than EVPOOL_BATCH_SLAB=16; "
                      "accepted: EVPOOL_BATCH_MAX >= EVPOOL_BATCH_SLAB") == 0);
}

static void test_thread_cache_vs_max(void)
{
    evp_config_t cfg;
    char err[256];
    unset_all();
    evp_config_init(&cfg);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_SIZE", "4", err, sizeof err), 0);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_MAX", "8", err, sizeof err), 0);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_THREAD_CACHE", "9", err, sizeof err), 0);
    CHECK_RC(evp_config_validate(&cfg, err, sizeof err), EVP_EINVAL);
    CHECK_STR(err, "EVPOOL_THREAD_CACHE=9");
    CHECK_STR(err, "EVPOOL_MAX=8");
    CHECK_STR(err, "accepted: EVPOOL_THREAD_CACHE <= EVPOOL_MAX");
    /* the default thread cache shrinks with a small MAX and grows back */
    evp_config_init(&cfg);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_SIZE", "2", err, sizeof err), 0);
    CHECK_EQ(cfg.max, 8);
    CHECK_EQ(cfg.thread_cache, 8);
    CHECK_EQ(cfg.source[EVP_KNOB_THREAD_CACHE], EVP_SRC_DEFAULT);
    CHECK_RC(evp_config_validate(&cfg, err, sizeof err), 0);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_SIZE", "256", err, sizeof err), 0);
    CHECK_EQ(cfg.thread_cache, 64);
    CHECK(setenv("EVPOOL_THREAD_CACHE", "2000", 1) == 0);
    CHECK(setenv("EVPOOL_MAX", "1000", 1) == 0);
    CHECK_RC(evp_config_load_env(&cfg, err, sizeof err), EVP_EINVAL);
    CHECK_STR(err, "EVPOOL_THREAD_CACHE=2000 is greater than EVPOOL_MAX=1000");
    unset_all();
}

/* Fields written directly, bypassing the parsers, are still range-checked. */
static void test_validate_direct_fields(void)
{
    evp_config_t cfg;
    char err[256];
    evp_config_init(&cfg);
    cfg.size = 0;
    CHECK_RC(evp_config_validate(&cfg, err, sizeof err), EVP_EINVAL);
    CHECK_STR(err, "EVPOOL_SIZE=0: out of range; accepted: integer 1..65536");
    evp_config_init(&cfg);
    cfg.backend = (evp_backend_kind_t)7;
    CHECK_RC(evp_config_validate(&cfg, err, sizeof err), EVP_EINVAL);
    CHECK_STR(err, "EVPOOL_BACKEND=7: out of range; accepted: auto, cuda, host");
    evp_config_init(&cfg);
    cfg.wait_timeout_us = 3600000001ull;
    CHECK_RC(evp_config_validate(&cfg, err, sizeof err), EVP_EINVAL);
    CHECK_STR(err, "EVPOOL_WAIT_TIMEOUT_US=3600000001");
}

struct load_env {
    evp_config_t *cfg;
    char *err;
    size_t errlen;
    int rc;
};

static void load_env(void *arg)
{
    struct load_env *l = arg;
    l->rc = evp_config_load_env(l->cfg, l->err, l->errlen);
}

/* Runs evp_config_load_env with stderr captured into out. */
static int load_env_captured(evp_config_t *cfg, char *err, size_t errlen, char *out, size_t len)
{
    struct load_env l = {cfg, err, errlen, 0};
    evp_test_capture_stderr(load_env, &l, out, len);
    return l.rc;
}

static void test_unknown_variable_warned(void)
{
    evp_config_t cfg;
    char err[256], out[4096];
    unset_all();
    evp_log_set_level(EVP_LOG_WARN);
    CHECK(setenv("EVPOOL_FOO", "1", 1) == 0);
    CHECK(setenv("EVPOOL_SIZ", "16", 1) == 0); /* the typo this guards against */
    CHECK(setenv("EVPOOL_SIZE", "16", 1) == 0);
    evp_config_init(&cfg);
    CHECK_RC(load_env_captured(&cfg, err, sizeof err, out, sizeof out), 0);
    CHECK_EQ(cfg.size, 16);
    CHECK_EQ(evp_test_count(out, "unknown variable EVPOOL_FOO ignored"), 1);
    CHECK_EQ(evp_test_count(out, "unknown variable EVPOOL_SIZ ignored"), 1);
    CHECK_EQ(evp_test_count(out, "unknown variable"), 2); /* EVPOOL_SIZE is a knob */
    CHECK_STR(out, "known: EVPOOL_SIZE, EVPOOL_MAX, EVPOOL_ON_EXHAUST");
    /* below warn level nothing is printed */
    evp_log_set_level(EVP_LOG_ERROR);
    CHECK_RC(load_env_captured(&cfg, err, sizeof err, out, sizeof out), 0);
    CHECK_EQ(strlen(out), 0);
    /* and at warn level not again: once per process */
    evp_log_set_level(EVP_LOG_WARN);
    CHECK_RC(load_env_captured(&cfg, err, sizeof err, out, sizeof out), 0);
    CHECK_EQ(strlen(out), 0);
    evp_log_set_level(EVP_LOG_ERROR);
    unsetenv("EVPOOL_FOO");
    unsetenv("EVPOOL_SIZ");
    unset_all();
}

static void test_set_unknown_name(void)
{
    evp_config_t cfg, before;
    char err[512]; /* the message lists every knob */
    evp_config_init(&cfg);
    before = cfg;
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_SIZ", "16", err, sizeof err), EVP_EINVAL);
    CHECK_STR(err, "unknown variable EVPOOL_SIZ");
    char known[512] = "known: ";
    for (int k = 0; k < EVP_KNOB_COUNT; k++) {
        if (k)
            strcat(known, ", ");
        strcat(known, evp_config_knob_name((evp_knob_t)k));
    }
    CHECK_STR(err, "known: EVPOOL_SIZE, EVPOOL_MAX, EVPOOL_ON_EXHAUST");
    CHECK_STR(err, known);
    CHECK_RC(evp_config_set(&cfg, "size", "16", err, sizeof err), EVP_EINVAL);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_SIZE", NULL, err, sizeof err), EVP_EINVAL);
    CHECK_STR(err, "accepted: integer 1..65536");
    check_same(&cfg, &before);
}

/* Every knob of EVP_KNOB_MAP has at least one good and one bad row above:
 * a knob added to the list fails here until its values are pinned. */
static void test_every_knob_has_rows(void)
{
    for (int k = 0; k < EVP_KNOB_COUNT; k++) {
        int good = 0, bad = 0;
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
            if (knob_of(rows[i].var) == (evp_knob_t)k)
                rows[i].rc == 0 ? good++ : bad++;
        if (!good || !bad)
            evp_test_fail(__FILE__, __LINE__, "%s: %d good and %d bad rows; want both",
                          evp_config_knob_name((evp_knob_t)k), good, bad);
    }
}

/* evp_config_set_u64 takes what the text parser produces: every good row's
 * field sets the same value; past the range is rejected with the message
 * and leaves the config as it was. */
static void test_set_u64(void)
{
    char err[256], text[32];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (rows[i].rc != 0)
            continue;
        evp_config_t cfg;
        evp_knob_t knob = knob_of(rows[i].var);
        permissive_base(&cfg, rows[i].var);
        CHECK_RC(evp_config_set_u64(&cfg, knob, rows[i].field, err, sizeof err), 0);
        CHECK_EQ(field_of(&cfg, knob), rows[i].field);
        CHECK_EQ(cfg.source[knob], EVP_SRC_EXPLICIT);
        CHECK_RC(evp_config_format(&cfg, knob, text, sizeof text), 0);
        CHECK(strcmp(text, rows[i].expect) == 0);
    }
    for (int k = 0; k < EVP_KNOB_COUNT; k++) {
        evp_config_t cfg, before;
        char want[128];
        evp_config_init(&cfg);
        before = cfg;
        CHECK_RC(evp_config_set_u64(&cfg, (evp_knob_t)k, UINT64_MAX, err, sizeof err), EVP_EINVAL);
        snprintf(want, sizeof want, "%s=18446744073709551615: out of range; accepted: %s",
                 evp_config_knob_name((evp_knob_t)k), evp_config_knob_accepts((evp_knob_t)k));
        CHECK_STR(err, want);
        check_same(&cfg, &before);
    }
    evp_config_t cfg;
    evp_config_init(&cfg);
    CHECK_RC(evp_config_set_u64(&cfg, EVP_KNOB_SIZE, 0, err, sizeof err), EVP_EINVAL);
    CHECK(strcmp(err, "EVPOOL_SIZE=0: out of range; accepted: integer 1..65536") == 0);
    CHECK_RC(evp_config_set_u64(&cfg, EVP_KNOB_ON_EXHAUST, EVP_EXHAUST_FAIL, err, sizeof err), 0);
    CHECK_EQ(cfg.on_exhaust, EVP_EXHAUST_FAIL);
    CHECK_RC(evp_config_set_u64(&cfg, EVP_KNOB_BACKEND, 3, err, sizeof err), EVP_EINVAL);
    CHECK_STR(err, "EVPOOL_BACKEND=3: out of range; accepted: auto, cuda, host");
    /* a derived default follows a typed set as it follows a text one */
    CHECK_RC(evp_config_set_u64(&cfg, EVP_KNOB_SIZE, 100, err, sizeof err), 0);
    CHECK_EQ(cfg.max, 400);
    CHECK_RC(evp_config_set_u64(&cfg, EVP_KNOB_COUNT, 1, err, sizeof err), EVP_EINVAL);
    CHECK_RC(evp_config_set_u64(NULL, EVP_KNOB_SIZE, 1, NULL, 0), EVP_EINVAL);
    /* and it wins over the environment */
    unset_all();
    CHECK(setenv("EVPOOL_ON_EXHAUST", "wait", 1) == 0);
    CHECK_RC(evp_config_load_env(&cfg, err, sizeof err), 0);
    CHECK_EQ(cfg.on_exhaust, EVP_EXHAUST_FAIL);
    unset_all();
}

static void test_set_bool(void)
{
    evp_config_t cfg, before;
    char err[256];
    evp_config_init(&cfg);
    CHECK_RC(evp_config_set_bool(&cfg, EVP_KNOB_TIMING, true, err, sizeof err), 0);
    CHECK_EQ(cfg.timing, 1);
    CHECK_EQ(cfg.source[EVP_KNOB_TIMING], EVP_SRC_EXPLICIT);
    CHECK_RC(evp_config_set_bool(&cfg, EVP_KNOB_TIMING, false, err, sizeof err), 0);
    CHECK_EQ(cfg.timing, 0);
    before = cfg;
    /* only a 0/1 knob takes a bool */
    CHECK_RC(evp_config_set_bool(&cfg, EVP_KNOB_SIZE, true, err, sizeof err), EVP_EINVAL);
    CHECK(strcmp(err, "EVPOOL_SIZE is not a 0/1 knob; accepted: integer 1..65536") == 0);
    CHECK_RC(evp_config_set_bool(&cfg, EVP_KNOB_ON_EXHAUST, true, err, sizeof err), EVP_EINVAL);
    CHECK_RC(evp_config_set_bool(&cfg, EVP_KNOB_COUNT, true, err, sizeof err), EVP_EINVAL);
    CHECK_RC(evp_config_set_bool(NULL, EVP_KNOB_TIMING, true, NULL, 0), EVP_EINVAL);
    check_same(&cfg, &before);
}

/* One message names every bad variable, not only the first; the config is
 * left as it was. */
static void test_every_bad_value_reported(void)
{
    evp_config_t cfg, before;
    char err[1024];
    unset_all();
    evp_config_init(&cfg);
    before = cfg;
    CHECK(setenv("EVPOOL_SIZE", "12abc", 1) == 0);
    CHECK(setenv("EVPOOL_ON_EXHAUST", "never", 1) == 0);
    CHECK(setenv("EVPOOL_THREAD_CACHE", "4097", 1) == 0);
    CHECK(setenv("EVPOOL_LOG", "verbose", 1) == 0);
    CHECK(setenv("EVPOOL_BACKEND", "host", 1) == 0); /* a good one among them */
    CHECK_RC(evp_config_load_env(&cfg, err, sizeof err), EVP_EINVAL);
    CHECK_STR(err, "EVPOOL_SIZE=\"12abc\": not a decimal integer; accepted: integer 1..65536");
    CHECK_STR(err, "EVPOOL_ON_EXHAUST=\"never\": not an accepted value; accepted: wait, fail");
    CHECK_STR(err, "EVPOOL_THREAD_CACHE=\"4097\": out of range; accepted: integer 0..4096");
    CHECK_STR(err, "EVPOOL_LOG=\"verbose\": not an accepted value; accepted: error, warn, "
                   "info, debug");
    CHECK_EQ(evp_test_count(err, " | "), 3);
    CHECK(strstr(err, "EVPOOL_BACKEND") == NULL);
    check_same(&cfg, &before);
    /* a small buffer: truncated and terminated, the code unchanged */
    char small[40];
    CHECK_RC(evp_config_load_env(&cfg, small, sizeof small), EVP_EINVAL);
    CHECK_EQ(strlen(small), sizeof small - 1);
    CHECK_RC(evp_config_load_env(&cfg, NULL, 0), EVP_EINVAL);
    unset_all();
    /* every cross-knob violation, too */
    evp_config_init(&cfg);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_SIZE", "16", err, sizeof err), 0);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_MAX", "8", err, sizeof err), 0);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_THREAD_CACHE", "9", err, sizeof err), 0);
    cfg.on_exhaust = (evp_exhaust_t)5;
    CHECK_RC(evp_config_validate(&cfg, err, sizeof err), EVP_EINVAL);
    CHECK_STR(err, "EVPOOL_ON_EXHAUST=5: out of range; accepted: wait, fail");
    CHECK_STR(err, "EVPOOL_MAX=8 is less than EVPOOL_SIZE=16");
    CHECK_STR(err, "EVPOOL_THREAD_CACHE=9 is greater than EVPOOL_MAX=8");
    CHECK_EQ(evp_test_count(err, " | "), 2);
}

/* The typo warning is printed once per process, not once per pool: a child
 * (forked before this process printed any) creates three pools and loads
 * the environment twice more with its stderr on a pipe. */
static void test_unknown_warned_once_per_process(void)
{
    int fd[2];
    CHECK(pipe(fd) == 0);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], STDERR_FILENO);
        close(fd[0]);
        close(fd[1]);
        unset_all();
        setenv("EVPOOL_FOO", "1", 1);
        setenv("EVPOOL_BACKEND", "host", 1);
        setenv("EVPOOL_SIZE", "4", 1);
        evp_log_set_level(EVP_LOG_WARN);
        for (int i = 0; i < 3; i++) {
            evp_pool_t *p;
            if (evp_pool_create(i, NULL, &p) != 0 || evp_pool_destroy(p, NULL) != 0)
                _exit(2);
        }
        evp_config_t cfg;
        char err[256];
        for (int i = 0; i < 2; i++) {
            evp_config_init(&cfg);
            if (evp_config_load_env(&cfg, err, sizeof err) != 0)
                _exit(3);
        }
        _exit(0);
    }
    close(fd[1]);
    char out[8192];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof out - 1 && (r = read(fd[0], out + n, sizeof out - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(fd[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    fputs(out, stderr);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(evp_test_count(out, "unknown variable EVPOOL_FOO ignored"), 1);
}

/* Every code of EVP_ERRNO_MAP has its name and a message led by it; the
 * values are negative and distinct; unknown codes have a name too. */
static void test_error_names(void)
{
    static const struct {
        int code;
        const char *name;
    } codes[] = {
#define CODE(name, value, msg) {EVP_E##name, "EVP_E" #name},
        EVP_ERRNO_MAP(CODE)
#undef CODE
    };
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        char lead[64];
        CHECK(codes[i].code < 0);
        for (size_t j = 0; j < i; j++)
            CHECK(codes[i].code != codes[j].code);
        CHECK(strcmp(evp_err_name(codes[i].code), codes[i].name) == 0);
        snprintf(lead, sizeof lead, "%s: ", codes[i].name);
        const char *msg = evp_strerror(codes[i].code);
        CHECK(strncmp(msg, lead, strlen(lead)) == 0);
        CHECK(strlen(msg) > strlen(lead));
    }
    CHECK(n >= 9); /* EVP_EPERM .. EVP_ESTALE */
    CHECK(strcmp(evp_err_name(EVP_ESTALE), "EVP_ESTALE") == 0);
    CHECK_EQ(EVP_ESTALE, -116);
    CHECK_EQ(EVP_EPERM, -1);
    CHECK_STR(evp_strerror(EVP_EPERM), "IMEX");
    CHECK(strcmp(evp_err_name(EVP_OK), "EVP_OK") == 0);
    CHECK(strcmp(evp_strerror(EVP_OK), "EVP_OK: success") == 0);
    const int unknown[] = {-9999, -2, 1, 116};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECK(strcmp(evp_err_name(unknown[i]), "EVP_UNKNOWN") == 0);
        CHECK(strcmp(evp_strerror(unknown[i]), "unknown evpool error") == 0);
    }
}

static void test_err_buffer(void)
{
    evp_config_t cfg;
    char small[8];
    evp_config_init(&cfg);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_SIZE", "x", NULL, 0), EVP_EINVAL);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_SIZE", "x", small, sizeof small), EVP_EINVAL);
    CHECK(strcmp(small, "EVPOOL_") == 0); /* truncated, terminated */
    CHECK_RC(evp_config_validate(NULL, NULL, 0), EVP_EINVAL);
    CHECK_RC(evp_config_load_env(NULL, NULL, 0), EVP_EINVAL);
    CHECK_RC(evp_config_set(NULL, "EVPOOL_SIZE", "1", NULL, 0), EVP_EINVAL);
}

static void test_accessors(void)
{
    evp_config_t cfg;
    char buf[32];
    evp_config_init(&cfg);
    CHECK(strcmp(evp_config_knob_name(EVP_KNOB_WAIT_TIMEOUT_US), "EVPOOL_WAIT_TIMEOUT_US") == 0);
    CHECK(strcmp(evp_config_knob_accepts(EVP_KNOB_BACKEND), "auto, cuda, host") == 0);
    CHECK(evp_config_knob_name(EVP_KNOB_COUNT) == NULL);
    CHECK(evp_config_knob_doc(EVP_KNOB_COUNT) == NULL);
    CHECK(evp_config_knob_accepts(EVP_KNOB_COUNT) == NULL);
    CHECK_RC(evp_config_format(&cfg, EVP_KNOB_COUNT, buf, sizeof buf), EVP_EINVAL);
    CHECK_RC(evp_config_format(&cfg, EVP_KNOB_WAIT_TIMEOUT_US, buf, 4), EVP_EINVAL);
    CHECK(strcmp(evp_config_source_name(EVP_SRC_DEFAULT), "default") == 0);
    CHECK(strcmp(evp_config_source_name(EVP_SRC_ENV), "environment") == 0);
    CHECK(strcmp(evp_config_source_name(EVP_SRC_EXPLICIT), "explicit") == 0);
    CHECK(evp_config_source_name((evp_source_t)3) == NULL);
}

int main(void)
{
    /* Nothing below warns unless a test asks (CTest sets EVPOOL_LOG=error;
     * by hand too), so the child of the once-per-process test is first. */
    evp_log_set_level(EVP_LOG_ERROR);
    TEST(test_unknown_warned_once_per_process);
    TEST(test_defaults);
    TEST(test_rows_explicit);
    TEST(test_rows_env);
    TEST(test_precedence);
    TEST(test_max_derived);
    TEST(test_max_less_than_size);
    TEST(test_batch_max);
    TEST(test_thread_cache_vs_max);
    TEST(test_validate_direct_fields);
    TEST(test_unknown_variable_warned);
    TEST(test_set_unknown_name);
    TEST(test_err_buffer);
    TEST(test_accessors);
    TEST(test_every_knob_has_rows);
    TEST(test_set_u64);
    TEST(test_set_bool);
    TEST(test_every_bad_value_reported);
    TEST(test_error_names);
    return 0;
}
