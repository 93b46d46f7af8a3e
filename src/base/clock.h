/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — monotonic time for timeouts and wait statistics. */
#ifndef EVPOOL_SRC_BASE_CLOCK_H
#define EVPOOL_SRC_BASE_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t evp_clock_ns(void);

/* Sleeps about ns nanoseconds (nanosleep; a signal may shorten it). */
void evp_clock_sleep_ns(uint64_t ns);

#endif
