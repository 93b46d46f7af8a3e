/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal test harness: CHECK aborts the test with file:line and the
 * expression; CHECK_EQ/CHECK_RC print both sides. Exit 77 = skipped. */
#ifndef EVPOOL_TESTS_HARNESS_H
#define EVPOOL_TESTS_HARNESS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "evpool/evpool.h"

#define EVP_TEST_SKIP 77

void evp_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            evp_test_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);      \
    } while (0)

#define CHECK_EQ(a, b)                                                         \
    do {                                                                       \
        long long _a = (long long)(a), _b = (long long)(b);                    \
        if (_a != _b)                                                          \
            evp_test_fail(__FILE__, __LINE__, "%s == %s failed: %lld != %lld", \
                          #a, #b, _a, _b);                                     \
    } while (0)

/* An evpool call that must return `want` (0 or an EVP_E* code). */
#define CHECK_RC(call, want)                                                   \
    do {                                                                       \
        int _rc = (call);                                                      \
        if (_rc != (want))                                                     \
            evp_test_fail(__FILE__, __LINE__, "%s returned %d (%s), want %s", \
                          #call, _rc, evp_strerror(_rc), #want);               \
    } while (0)

#define TEST(fn)                                                               \
    do {                                                                       \
        fprintf(stderr, "[ RUN  ] %s\n", #fn);                                 \
        fn();                                                                  \
        fprintf(stderr, "[  OK  ] %s\n", #fn);                                 \
    } while (0)

/* A config for the host backend with the given knobs set explicitly
 * ("EVPOOL_SIZE", "4", ..., NULL); fails the test on a bad value.
 * EVP_TEST_DEPOT in the environment, if set, is applied first as
 * EVPOOL_DEPOT (CTest runs the pool tests once per depot). */
evp_config_t evp_test_config(const char *name, ...);

/* Runs fn(arg) with stderr captured into buf (NUL-terminated, truncated to
 * len - 1 bytes). */
void evp_test_capture_stderr(void (*fn)(void *), void *arg, char *buf, size_t len);

/* Occurrences of needle in hay (overlapping ones counted). */
int evp_test_count(const char *hay, const char *needle);

/* A gate that holds a stream: evp_test_gate_hold (a host-stream callback,
 * or a cudaLaunchHostFunc one: CUDART_CB is empty on Linux) polls until the
 * gate is opened. */
typedef struct evp_test_gate {
    _Atomic int open;
} evp_test_gate_t;
void evp_test_gate_hold(void *gate);
static inline void evp_test_gate_set(evp_test_gate_t *g, int open)
{
    atomic_store(&g->open, open);
}

/* 1 in an ASan or TSan build (gcc's __SANITIZE_*__, clang's
 * __has_feature): their allocators keep freed memory in quarantine and
 * their shadow grows with it, so RSS says nothing about evpool there (LSan
 * covers leaks). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EVP_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define EVP_TEST_SANITIZED 1
#endif
#endif
#ifndef EVP_TEST_SANITIZED
#define EVP_TEST_SANITIZED 0
#endif

/* getenv(name) as a long, or dflt when unset or empty. */
long evp_test_env_long(const char *name, long dflt);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t evp_test_now_ns(void);

/* Waits for child pid; kills it and fails the test (naming `what`) if it
 * has not exited within timeout_ns, or if it did not exit with status 0. */
void evp_test_reap(int pid, uint64_t timeout_ns, const char *what);

/* Forks EVP_TEST_FORKS (default `dflt`) children one after another; each
 * runs child() and exits with its result, and is reaped by evp_test_reap
 * with a 20 s deadline; pause_ns between children. Returns the count. */
int evp_test_fork_children(int (*child)(void), int dflt, uint64_t pause_ns);

/* The process's resident set in KiB (/proc/self/statm), 0 if unreadable. */
long evp_test_rss_kib(void);

#endif
