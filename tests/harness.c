/* SPDX-License-Identifier: Apache-2.0 */
#include "harness.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void evp_test_capture_stderr(void (*fn)(void *), void *arg, char *buf, size_t len)
{
    FILE *tmp = tmpfile();
    CHECK(tmp != NULL);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    CHECK(saved >= 0);
    CHECK(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    fn(arg);
    fflush(stderr);
    CHECK(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    rewind(tmp);
    size_t n = fread(buf, 1, len - 1, tmp);
    buf[n] = '\0';
    fclose(tmp);
}

int evp_test_count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

void evp_test_gate_hold(void *gate)
{
    evp_test_gate_t *g = gate;
    while (!atomic_load(&g->open)) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
}

long evp_test_env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? atol(v) : dflt;
}

void evp_test_reap(int pid, uint64_t timeout_ns, const char *what)
{
    uint64_t t0 = evp_test_now_ns();
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w < 0)
            evp_test_fail(__FILE__, __LINE__, "%s: waitpid failed", what);
        if (w == pid)
            break;
        if (evp_test_now_ns() - t0 > timeout_ns) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            evp_test_fail(__FILE__, __LINE__, "%s hung (killed after %.0f s)", what, timeout_ns / 1e9);
        }
        usleep(1000);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        evp_test_fail(__FILE__, __LINE__, "%s: status %d (exit %d)", what, status,
                      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int evp_test_fork_children(int (*child)(void), int dflt, uint64_t pause_ns)
{
    int forks = (int)evp_test_env_long("EVP_TEST_FORKS", dflt);
    for (int i = 0; i < forks; i++) {
        pid_t pid = fork();
        if (pid < 0)
            evp_test_fail(__FILE__, __LINE__, "fork failed");
        if (pid == 0)
            _exit(child());
        char what[64];
        snprintf(what, sizeof what, "child %d of %d", i, forks);
        evp_test_reap(pid, 20000000000u, what);
        struct timespec ts = {(time_t)(pause_ns / 1000000000u), (long)(pause_ns % 1000000000u)};
        nanosleep(&ts, NULL);
    }
    return forks;
}

long evp_test_rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

uint64_t evp_test_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void evp_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

evp_config_t evp_test_config(const char *name, ...)
{
    evp_config_t cfg;
    char err[256];
    evp_config_init(&cfg);
    if (evp_config_set(&cfg, "EVPOOL_BACKEND", "host", err, sizeof err) != 0)
        evp_test_fail(__FILE__, __LINE__, "%s", err);
    /* EVP_TEST_DEPOT: the same test on the other depot (the *_ring tests). */
    const char *depot = getenv("EVP_TEST_DEPOT");
    if (depot && *depot && evp_config_set(&cfg, "EVPOOL_DEPOT", depot, err, sizeof err) != 0)
        evp_test_fail(__FILE__, __LINE__, "EVP_TEST_DEPOT: %s", err);
    va_list ap;
    va_start(ap, name);
    for (const char *n = name; n; n = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        if (evp_config_set(&cfg, n, v, err, sizeof err) != 0)
            evp_test_fail(__FILE__, __LINE__, "%s", err);
    }
    va_end(ap);
    if (evp_config_validate(&cfg, err, sizeof err) != 0)
        evp_test_fail(__FILE__, __LINE__, "%s", err);
    return cfg;
}
