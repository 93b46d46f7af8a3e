/* SPDX-License-Identifier: Apache-2.0 */
/* evb clock calibration: see evb_clock.h. */
#include "evb_clock.h"

#include <pthread.h>
#include <stdlib.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

bool evb_clock_use_counter;
uint64_t evb_clock_ns_per_tick_q32 = (uint64_t)1 << 32; /* 1 ns per tick */
static double evb_clock_overhead;
static pthread_once_t evb_clock_once = PTHREAD_ONCE_INIT;

static bool evb_clock_counter_usable(void)
{
#if defined(__x86_64__)
    /* Without an invariant TSC the counter's rate changes with the core
     * frequency and the calibration would be meaningless. */
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u)
        return false;
    __get_cpuid(0x80000007u, &a, &b, &c, &d);
    return (d >> 8) & 1u;
#elif defined(__aarch64__)
    return true;
#else
    return false;
#endif
}

static int evb_clock_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void evb_clock_calibrate(void)
{
    evb_clock_use_counter = evb_clock_counter_usable();
    if (evb_clock_use_counter) {
        /* 20 ms is long enough that the two clock_gettime edges (tens of
         * ns) put the rate off by well under 0.01%. */
        uint64_t n0 = evb_now_ns(), t0 = evb_ticks_begin();
        while (evb_now_ns() - n0 < 20000000u) {
        }
        uint64_t n1 = evb_now_ns(), t1 = evb_ticks_end();
        if (t1 > t0)
            evb_clock_ns_per_tick_q32 =
                (uint64_t)((double)(n1 - n0) / (double)(t1 - t0) * 4294967296.0);
        else
            evb_clock_use_counter = false;
    }
    enum { N = 4001 };
    static uint64_t d[N];
    for (int i = 0; i < N; i++) {
        uint64_t b = evb_ticks_begin();
        uint64_t e = evb_ticks_end();
        d[i] = e - b;
    }
    qsort(d, N, sizeof d[0], evb_clock_cmp_u64);
    evb_clock_overhead = (double)evb_ticks_to_ns(d[N / 2]);
}

void evb_clock_init(void)
{
    pthread_once(&evb_clock_once, evb_clock_calibrate);
}

double evb_clock_overhead_ns(void)
{
    evb_clock_init();
    return evb_clock_overhead;
}

const char *evb_clock_source(void)
{
    evb_clock_init();
    if (!evb_clock_use_counter)
        return "clock_gettime";
#if defined(__aarch64__)
    return "cntvct";
#else
    return "rdtsc";
#endif
}
