/* SPDX-License-Identifier: Apache-2.0 */
/* Stress: many threads (2x and 8x the cores; EVP_STRESS_THREADS picks one
 * count instead, EVP_STRESS_ITERS the iterations per thread at 2x, a
 * quarter of them at 8x) lease and return, in several patterns. Every
 * leased slot is stamped with its owner and checked on return: two owners
 * of one event fail the test. At the end every object is counted:
 * leases == returns == what the threads counted, outstanding == 0, and
 * events destroyed == created.
 *
 * Patterns:
 *   same-thread   each thread leases 1..4 events and returns them;
 *   cross-thread  submitters lease, one returner thread returns everything;
 *   scarce        fewer events than threads (wait policy): waits, reclaim;
 *   stale         as same-thread, plus a second return of each lease every
 *                 so often, which must answer EVP_ESTALE and change nothing;
 *   bulk          evp_pool_lease_many / evp_pool_return_many, with a lease
 *                 repeated in the same return call every so often (refused,
 *                 counted);
 *   cross-bulk    cross-thread, the returner returning in bulk.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static int g_threads;
static long g_iters;

static evp_pool_t *g_pool;
static _Atomic uint32_t *g_owner; /* per slot: 0 free, else thread + 1 */
static _Atomic uint64_t g_leased, g_returned, g_stale_seen, g_again;

static void stamp(evp_lease_t l, uint32_t me)
{
    uint32_t expect = 0;
    if (!atomic_compare_exchange_strong(&g_owner[evp_lease_slot(l)], &expect, me))
        evp_test_fail(__FILE__, __LINE__, "slot %u leased by thread %u while owned by thread %u",
                      evp_lease_slot(l), me - 1, expect - 1);
}

static void unstamp(evp_lease_t l, uint32_t me)
{
    uint32_t expect = me;
    if (!atomic_compare_exchange_strong(&g_owner[evp_lease_slot(l)], &expect, 0))
        evp_test_fail(__FILE__, __LINE__, "slot %u returned by thread %u but owned by %u",
                      evp_lease_slot(l), me - 1, expect - 1);
}

static int lease_counted(evp_lease_t *l)
{
    int rc = evp_pool_lease(g_pool, l);
    if (rc == 0)
        atomic_fetch_add_explicit(&g_leased, 1, memory_order_relaxed);
    else if (rc == EVP_EAGAIN)
        atomic_fetch_add_explicit(&g_again, 1, memory_order_relaxed);
    else
        evp_test_fail(__FILE__, __LINE__, "lease: %s", evp_strerror(rc));
    return rc;
}

static void return_counted(evp_lease_t l)
{
    CHECK_RC(evp_pool_return(g_pool, l), 0);
    atomic_fetch_add_explicit(&g_returned, 1, memory_order_relaxed);
}

/* Every thread of a pattern starts at once (else, on few cores, the first
 * ones finish before the last ones start and nothing overlaps). */
static pthread_barrier_t g_start;

struct worker {
    uint32_t me;
    int stale_every; /* 0: never return twice */
    int hold;        /* leases held at once: 1..hold */
};

static void *same_thread(void *arg)
{
    struct worker *w = arg;
    pthread_barrier_wait(&g_start);
    unsigned seed = w->me;
    evp_lease_t l[4];
    for (long i = 0; i < g_iters; i++) {
        int k = 1 + rand_r(&seed) % w->hold, got = 0;
        for (int j = 0; j < k; j++) {
            if (lease_counted(&l[got]) == 0)
                stamp(l[got++], w->me);
        }
        for (int j = 0; j < got; j++) {
            unstamp(l[j], w->me);
            return_counted(l[j]);
            if (w->stale_every && i % w->stale_every == 0) {
                CHECK_RC(evp_pool_return(g_pool, l[j]), EVP_ESTALE);
                atomic_fetch_add_explicit(&g_stale_seen, 1, memory_order_relaxed);
            }
        }
    }
    return NULL;
}

static void *bulk_thread(void *arg)
{
    struct worker *w = arg;
    pthread_barrier_wait(&g_start);
    unsigned seed = w->me;
    evp_lease_t l[5];
    int res[5];
    for (long i = 0; i < g_iters; i++) {
        uint32_t k = 1 + (uint32_t)(rand_r(&seed) % (unsigned)w->hold);
        int rc = evp_pool_lease_many(g_pool, k, l);
        if (rc == EVP_EAGAIN) {
            atomic_fetch_add_explicit(&g_again, 1, memory_order_relaxed);
            continue;
        }
        CHECK_RC(rc, 0);
        atomic_fetch_add_explicit(&g_leased, k, memory_order_relaxed);
        for (uint32_t j = 0; j < k; j++)
            stamp(l[j], w->me);
        for (uint32_t j = 0; j < k; j++)
            unstamp(l[j], w->me);
        uint32_t n = k;
        if (w->stale_every && i % w->stale_every == 0)
            l[n++] = l[0]; /* the same lease twice in one call */
        int refused = evp_pool_return_many(g_pool, n, l, res);
        CHECK_EQ(refused, (int)(n - k));
        for (uint32_t j = 0; j < n; j++)
            CHECK_EQ(res[j], j < k ? 0 : EVP_ESTALE);
        atomic_fetch_add_explicit(&g_returned, k, memory_order_relaxed);
        atomic_fetch_add_explicit(&g_stale_seen, n - k, memory_order_relaxed);
    }
    return NULL;
}

/* Cross-thread: a bounded MPSC hand-off queue (mutex: it is the test's
 * plumbing, not the thing under test). */
#define XQ 1024
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    evp_lease_t q[XQ];
    uint32_t owner[XQ];
    int head, n, producers_left;
    bool bulk; /* the returner returns what it drained with one call */
} g_x = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *submitter(void *arg)
{
    struct worker *w = arg;
    pthread_barrier_wait(&g_start);
    for (long i = 0; i < g_iters; i++) {
        evp_lease_t l;
        if (lease_counted(&l) != 0)
            continue;
        stamp(l, w->me);
        pthread_mutex_lock(&g_x.mu);
        while (g_x.n == XQ)
            pthread_cond_wait(&g_x.cv, &g_x.mu);
        int at = (g_x.head + g_x.n++) % XQ;
        g_x.q[at] = l;
        g_x.owner[at] = w->me;
        pthread_cond_broadcast(&g_x.cv);
        pthread_mutex_unlock(&g_x.mu);
    }
    pthread_mutex_lock(&g_x.mu);
    g_x.producers_left--;
    pthread_cond_broadcast(&g_x.cv);
    pthread_mutex_unlock(&g_x.mu);
    return NULL;
}

static void *returner(void *arg)
{
    enum { TAKE = 64 };
    evp_lease_t l[TAKE];
    uint32_t owner[TAKE];
    for (;;) {
        pthread_mutex_lock(&g_x.mu);
        while (g_x.n == 0 && g_x.producers_left > 0)
            pthread_cond_wait(&g_x.cv, &g_x.mu);
        if (g_x.n == 0) {
            pthread_mutex_unlock(&g_x.mu);
            return NULL;
        }
        int k = 0;
        for (; k < (g_x.bulk ? TAKE : 1) && g_x.n > 0; k++) {
            l[k] = g_x.q[g_x.head];
            owner[k] = g_x.owner[g_x.head];
            g_x.head = (g_x.head + 1) % XQ;
            g_x.n--;
        }
        pthread_cond_broadcast(&g_x.cv);
        pthread_mutex_unlock(&g_x.mu);
        for (int i = 0; i < k; i++)
            unstamp(l[i], owner[i]);
        if (!g_x.bulk) {
            return_counted(l[0]);
            continue;
        }
        CHECK_EQ(evp_pool_return_many(g_pool, (uint32_t)k, l, NULL), 0);
        atomic_fetch_add_explicit(&g_returned, (uint64_t)k, memory_order_relaxed);
    }
}

static void run_pattern(const char *name, evp_config_t cfg, void *(*fn)(void *), int stale_every, int hold,
                        bool cross, bool bulk)
{
    evp_pool_stats_t st;
    CHECK_RC(evp_pool_create(0, &cfg, &g_pool), 0);
    g_owner = calloc(cfg.max, sizeof *g_owner);
    CHECK(g_owner != NULL);
    atomic_store(&g_leased, 0);
    atomic_store(&g_returned, 0);
    atomic_store(&g_stale_seen, 0);
    atomic_store(&g_again, 0);
    int n = g_threads;
    pthread_t *t = calloc((size_t)n + 1, sizeof *t);
    struct worker *w = calloc((size_t)n, sizeof *w);
    g_x.head = g_x.n = 0;
    g_x.producers_left = n;
    g_x.bulk = bulk;
    CHECK(pthread_barrier_init(&g_start, NULL, (unsigned)n) == 0);
    for (int i = 0; i < n; i++) {
        w[i] = (struct worker){.me = (uint32_t)i + 1, .stale_every = stale_every, .hold = hold};
        CHECK(pthread_create(&t[i], NULL, fn, &w[i]) == 0);
    }
    if (cross)
        CHECK(pthread_create(&t[n], NULL, returner, NULL) == 0);
    for (int i = 0; i < n + (cross ? 1 : 0); i++)
        pthread_join(t[i], NULL);

    pthread_barrier_destroy(&g_start);
    evp_pool_stats(g_pool, &st);
    fprintf(stderr,
            "  %-12s threads %d: leases %llu returns %llu stale %llu eagain %llu waits %llu steals %llu "
            "created %llu high-water %llu\n",
            name, n, (unsigned long long)st.leases, (unsigned long long)st.returns,
            (unsigned long long)st.stale_returns, (unsigned long long)atomic_load(&g_again),
            (unsigned long long)st.exhaust_waits, (unsigned long long)st.steals,
            (unsigned long long)st.events_created, (unsigned long long)st.high_water);
    CHECK_EQ(st.leases, atomic_load(&g_leased));
    CHECK_EQ(st.returns, atomic_load(&g_returned));
    CHECK_EQ(st.leases, st.returns);
    CHECK_EQ(st.outstanding, 0);
    CHECK_EQ(st.stale_returns, atomic_load(&g_stale_seen));
    CHECK_EQ(st.exhaust_fails, atomic_load(&g_again));
    CHECK(st.events_created <= cfg.max);
    CHECK(st.high_water <= cfg.max);
    for (uint32_t i = 0; i < cfg.max; i++)
        CHECK_EQ(atomic_load(&g_owner[i]), 0);
    CHECK_RC(evp_pool_destroy(g_pool, &st), 0);
    CHECK_EQ(st.outstanding, 0); /* every slot found free at teardown */
    CHECK_EQ(st.events_destroyed, st.events_created);
    free(t);
    free(w);
    free((void *)g_owner);
}

static void run_all(int threads, long iters)
{
    g_threads = threads;
    g_iters = iters;
    fprintf(stderr, "stress: %d threads, %ld iterations each\n", g_threads, g_iters);
    char scarce[16];
    snprintf(scarce, sizeof scarce, "%d", g_threads / 2 > 2 ? g_threads / 2 : 2);
    /* Patterns where a thread holds up to 3 leases while it waits for a
     * 4th (wait policy) need max >= 3 x threads + 1, or every event can end
     * up held by waiters: a real deadlock that only the wait timeout (1 s)
     * breaks, and under FIFO hand-off it re-forms at once (each freed event
     * goes to the oldest waiter, itself a holder). At 8x the cores of a
     * 16-core host (128 threads) the old fixed 256 / 128 crawled there. */
    char hold4_max[16], stale_max[16];
    snprintf(hold4_max, sizeof hold4_max, "%d", 3 * g_threads + 1 > 256 ? 3 * g_threads + 1 : 256);
    snprintf(stale_max, sizeof stale_max, "%d", 3 * g_threads + 1 > 128 ? 3 * g_threads + 1 : 128);

    run_pattern("same-thread", evp_test_config("EVPOOL_SIZE", "64", "EVPOOL_MAX", hold4_max, NULL), same_thread,
                0, 4, false, false);
    run_pattern("no-cache",
                evp_test_config("EVPOOL_SIZE", "64", "EVPOOL_MAX", hold4_max, "EVPOOL_THREAD_CACHE", "0", NULL),
                same_thread, 0, 4, false, false);
    run_pattern("cross-thread", evp_test_config("EVPOOL_SIZE", "64", "EVPOOL_MAX", "4096", NULL), submitter, 0, 1,
                true, false);
    run_pattern("cross-bulk", evp_test_config("EVPOOL_SIZE", "64", "EVPOOL_MAX", "4096", NULL), submitter, 0, 1,
                true, true);
    /* Fewer events than threads, one held at a time (holding several while
     * waiting for more could deadlock until the timeout): waits and
     * reclaim. A long timeout keeps EAGAIN rare; any are counted. */
    run_pattern("scarce",
                evp_test_config("EVPOOL_SIZE", "1", "EVPOOL_MAX", scarce, "EVPOOL_THREAD_CACHE", "2",
                                "EVPOOL_WAIT_TIMEOUT_US", "30000000", NULL),
                same_thread, 0, 1, false, false);
    run_pattern("scarce-fail",
                evp_test_config("EVPOOL_SIZE", scarce, "EVPOOL_MAX", scarce, "EVPOOL_THREAD_CACHE", "2",
                                "EVPOOL_ON_EXHAUST", "fail", NULL),
                same_thread, 0, 1, false, false);
    run_pattern("stale", evp_test_config("EVPOOL_SIZE", "32", "EVPOOL_MAX", stale_max, NULL), same_thread, 7, 4,
                false, false);
    /* Bulk leases of up to 4 with enough events for every thread's 4. */
    char bulk_max[16];
    snprintf(bulk_max, sizeof bulk_max, "%d", 4 * g_threads + 64);
    run_pattern("bulk", evp_test_config("EVPOOL_SIZE", "32", "EVPOOL_MAX", bulk_max, NULL), bulk_thread, 5, 4,
                false, false);
}

int main(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    long iters = evp_test_env_long("EVP_STRESS_ITERS", 50000);
    long fixed = evp_test_env_long("EVP_STRESS_THREADS", 0);
    if (fixed) {
        run_all(fixed < 2 ? 2 : (int)fixed, iters);
    } else {
        run_all((int)(2 * cores), iters);     /* 2x the cores */
        run_all((int)(8 * cores), iters / 4); /* 8x: preempted mid-operation all the time */
    }
    fprintf(stderr, "stress: ok\n");
    return 0;
}
