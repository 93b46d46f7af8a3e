/* SPDX-License-Identifier: Apache-2.0 */
/* _LGPL_SOURCE exposes liburcu's per-thread reader state, whose `registered`
 * flag tells whether anybody registered this thread (a small inline access,
 * as the LGPL allows). */
#define _LGPL_SOURCE
#include "batch/rcu.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "base/log.h"

static pthread_once_t evp_rcu_once = PTHREAD_ONCE_INIT;
static pthread_key_t evp_rcu_key;
static bool evp_rcu_key_ok;
static _Atomic long evp_rcu_threads;

/* Thread exit: only threads we registered reach here (the key is set only
 * for them). */
static void evp_rcu_thread_exit(void *arg)
{
    urcu_memb_unregister_thread();
    atomic_fetch_sub_explicit(&evp_rcu_threads, 1, memory_order_relaxed);
}

static void evp_rcu_setup(void)
{
    evp_rcu_key_ok = pthread_key_create(&evp_rcu_key, evp_rcu_thread_exit) == 0;
    if (!evp_rcu_key_ok)
        evp_error("pthread_key_create failed: threads registered with liburcu will not be "
                  "unregistered at exit");
}

void evp_rcu_online(void)
{
    if (URCU_TLS(urcu_memb_reader).registered)
        return;
    pthread_once(&evp_rcu_once, evp_rcu_setup);
    urcu_memb_register_thread();
    atomic_fetch_add_explicit(&evp_rcu_threads, 1, memory_order_relaxed);
    /* Any non-NULL value: it only makes the destructor run at exit. */
    if (evp_rcu_key_ok)
        pthread_setspecific(evp_rcu_key, (void *)1);
}

long evp_rcu_registered_threads(void)
{
    return atomic_load_explicit(&evp_rcu_threads, memory_order_relaxed);
}
