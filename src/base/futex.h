/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — futex waits and wakes on a 32-bit word, private to the process.
 *
 * syscall(SYS_futex) rather than a libc wrapper: neither call is a
 * cancellation point, so a thread cancelled while it holds evpool state
 * never stops inside one. A wait returns early for any reason (the word no
 * longer holds val, a wake, a signal, the deadline): callers always look
 * again at what they wait for. */
#ifndef EVPOOL_SRC_BASE_FUTEX_H
#define EVPOOL_SRC_BASE_FUTEX_H

#include <stdatomic.h>
#include <stdint.h>

/* Sleeps while *addr == val, until the absolute CLOCK_MONOTONIC deadline
 * (deadline_ns == 0: no deadline). */
void evp_futex_wait(_Atomic uint32_t *addr, uint32_t val, uint64_t deadline_ns);

/* Wakes up to n threads sleeping on addr. */
void evp_futex_wake(_Atomic uint32_t *addr, int n);

#endif
