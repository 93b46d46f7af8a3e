/* Configuration: every knob with good and bad values, from the environment
 * and set explicitly; precedence; derived defaults; cross-knob checks; the
 * unknown-variable warning. */
#include <string.h>
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
};

static evp_knob_t knob_of(const char *var)
{
    for (int k = 0; k < EVP_KNOB_COUNT; k++)
        if (strcmp(evp_config_knob_name((evp_knob_t)k), var) == 0)
            return (evp_knob_t)k;
    evp_test_fail(__FILE__, __LINE__, "no knob named %s", var);
}

/* Read straight from the struct, not through evp_config_format. */
static unsigned long long field_of(const evp_config_t *cfg, evp_knob_t knob)
{
    switch (knob) {
    case EVP_KNOB_SIZE: return cfg->size;
    case EVP_KNOB_MAX: return cfg->max;
    case EVP_KNOB_ON_EXHAUST: return cfg->on_exhaust;
    case EVP_KNOB_WAIT_TIMEOUT_US: return cfg->wait_timeout_us;
    case EVP_KNOB_THREAD_CACHE: return cfg->thread_cache;
    case EVP_KNOB_TIMING: return cfg->timing;
    case EVP_KNOB_BACKEND: return cfg->backend;
    case EVP_KNOB_LOG: return cfg->log;
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

/* A config in which any single in-range value is valid on its own: SIZE 1
 * and MAX 1048576, each set explicitly unless it is the knob under test. */
static void permissive_base(evp_config_t *cfg, const char *var)
{
    char err[256];
    evp_config_init(cfg);
    if (strcmp(var, "EVPOOL_SIZE") != 0)
        CHECK_RC(evp_config_set(cfg, "EVPOOL_SIZE", "1", err, sizeof err), 0);
    if (strcmp(var, "EVPOOL_MAX") != 0)
        CHECK_RC(evp_config_set(cfg, "EVPOOL_MAX", "1048576", err, sizeof err), 0);
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
    static const char *const want[EVP_KNOB_COUNT] = {"256", "1024", "wait", "1000000",
                                                     "64",  "0",    "auto", "warn"};
    evp_config_t cfg;
    char text[32], err[256];
    unset_all();
    evp_config_init(&cfg);
    CHECK_RC(evp_config_load_env(&cfg, err, sizeof err), 0);
    for (int k = 0; k < EVP_KNOB_COUNT; k++) {
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
    unsetenv("EVPOOL_FOO");
    unsetenv("EVPOOL_SIZ");
    unset_all();
}

static void test_set_unknown_name(void)
{
    evp_config_t cfg, before;
    char err[256];
    evp_config_init(&cfg);
    before = cfg;
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_SIZ", "16", err, sizeof err), EVP_EINVAL);
    CHECK_STR(err, "unknown variable EVPOOL_SIZ");
    CHECK_STR(err, "known: EVPOOL_SIZE, EVPOOL_MAX, EVPOOL_ON_EXHAUST, EVPOOL_WAIT_TIMEOUT_US, "
                   "EVPOOL_THREAD_CACHE, EVPOOL_TIMING, EVPOOL_BACKEND, EVPOOL_LOG");
    CHECK_RC(evp_config_set(&cfg, "size", "16", err, sizeof err), EVP_EINVAL);
    CHECK_RC(evp_config_set(&cfg, "EVPOOL_SIZE", NULL, err, sizeof err), EVP_EINVAL);
    CHECK_STR(err, "accepted: integer 1..65536");
    check_same(&cfg, &before);
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
    TEST(test_defaults);
    TEST(test_rows_explicit);
    TEST(test_rows_env);
    TEST(test_precedence);
    TEST(test_max_derived);
    TEST(test_max_less_than_size);
    TEST(test_thread_cache_vs_max);
    TEST(test_validate_direct_fields);
    TEST(test_unknown_variable_warned);
    TEST(test_set_unknown_name);
    TEST(test_err_buffer);
    TEST(test_accessors);
    return 0;
}
