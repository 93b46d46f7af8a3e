/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — RCU for the sub-batch layer: liburcu's memb flavour.
 *
 * Why memb: evpool lives inside someone else's process. urcu-memb takes no
 * signal (urcu-signal does), needs no quiescent-state calls from the
 * application (urcu-qsbr does), and its readers cost a compiler barrier
 * when sys_membarrier is available (it falls back to full barriers
 * otherwise). urcu-bp would register threads by itself, at the price of a
 * slower read side; memb asks that a thread be registered before its first
 * read lock, which evp_rcu_online does lazily, once per thread.
 *
 * Registration. evp_rcu_online registers the calling thread unless it is
 * registered already — by us, by the application (which may use urcu-memb
 * itself), or by liburcu (its call_rcu worker) — so rcu_register_thread
 * runs at most once per thread and always before the first read lock. A
 * thread we registered is unregistered by a pthread key destructor when it
 * exits; a thread someone else registered is left to them. */
#ifndef EVPOOL_SRC_BATCH_RCU_H
#define EVPOOL_SRC_BATCH_RCU_H

#include <urcu/urcu-memb.h>

/* Registers the calling thread with urcu-memb if nobody has. Call before
 * urcu_memb_read_lock. */
void evp_rcu_online(void);

/* Threads registered by evp_rcu_online and not yet unregistered (tests). */
long evp_rcu_registered_threads(void);

#endif
