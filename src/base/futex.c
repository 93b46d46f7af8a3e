/* SPDX-License-Identifier: Apache-2.0 */
#include "base/futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void evp_futex_wait(_Atomic uint32_t *addr, uint32_t val, uint64_t deadline_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
                          .tv_nsec = (long)(deadline_ns % 1000000000u)};
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline; NULL
     * waits without one. EAGAIN, EINTR and ETIMEDOUT all mean "look again". */
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, val,
            deadline_ns ? &ts : NULL, NULL, FUTEX_BITSET_MATCH_ANY);
}

void evp_futex_wake(_Atomic uint32_t *addr, int n)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
}
