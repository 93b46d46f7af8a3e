/* SPDX-License-Identifier: Apache-2.0 */
/* evb clock: a cheap tick counter for timing single operations.
 *
 * clock_gettime(CLOCK_MONOTONIC) costs 15-25 ns through the vDSO and far more
 * where the clocksource falls back to a system call, which is several times
 * the 5 ns operation being timed. On x86-64 with an invariant TSC (CPUID
 * 0x80000007 EDX bit 8) the ticks are rdtsc, fenced so the timed operation
 * cannot drift out of the interval; on aarch64 the virtual counter; anywhere
 * else, or without an invariant TSC, CLOCK_MONOTONIC itself. Ticks convert to
 * ns with a factor calibrated against CLOCK_MONOTONIC once per process.
 */
#ifndef EVB_CLOCK_H
#define EVB_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

/* CLOCK_MONOTONIC in ns: for deadlines and elapsed times of whole runs. */
static inline uint64_t evb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Set by evb_clock_init: true when ticks are the CPU counter. */
extern bool evb_clock_use_counter;

/* Start of a timed interval: the fence keeps earlier work out of it. */
static inline uint64_t evb_ticks_begin(void)
{
#if defined(__x86_64__)
    if (evb_clock_use_counter) {
        _mm_lfence();
        uint64_t t = __rdtsc();
        _mm_lfence();
        return t;
    }
#elif defined(__aarch64__)
    if (evb_clock_use_counter) {
        uint64_t t;
        __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(t)::"memory");
        return t;
    }
#endif
    return evb_now_ns();
}

/* End of a timed interval: rdtscp waits for the timed work to finish; the
 * fence keeps later work out. */
static inline uint64_t evb_ticks_end(void)
{
#if defined(__x86_64__)
    if (evb_clock_use_counter) {
        unsigned aux;
        uint64_t t = __rdtscp(&aux);
        _mm_lfence();
        return t;
    }
#elif defined(__aarch64__)
    if (evb_clock_use_counter) {
        uint64_t t;
        __asm__ volatile("isb; mrs %0, cntvct_el0; isb" : "=r"(t)::"memory");
        return t;
    }
#endif
    return evb_now_ns();
}

/* ns per tick in 32.32 fixed point (set by evb_clock_init). */
extern uint64_t evb_clock_ns_per_tick_q32;

static inline uint64_t evb_ticks_to_ns(uint64_t ticks)
{
    /* 128-bit product: a 2^32 scale on ticks of seconds would overflow. */
    return (uint64_t)(((unsigned __int128)ticks * evb_clock_ns_per_tick_q32) >> 32);
}

/* Calibrates once (about 20 ms on first call); thread-safe. */
void evb_clock_init(void);

/* The median cost, in ns, of an empty begin/end pair: what every sampled
 * latency includes on top of the operation. Measured by evb_clock_init. */
double evb_clock_overhead_ns(void);

/* "rdtsc", "cntvct" or "clock_gettime". */
const char *evb_clock_source(void);

#endif
