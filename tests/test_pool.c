/* SPDX-License-Identifier: Apache-2.0 */
/* The pool on the host backend: sizing, growth to max and no further, both
 * exhaustion policies, the wait timeout, stale and double returns, record
 * and query through leases, reclaim from idle threads' caches, thread-exit
 * flush, and teardown counts. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <sched.h>
#include <unistd.h>

#include "harness.h"

static evp_pool_t *make(evp_config_t cfg)
{
    evp_pool_t *p = NULL;
    CHECK_RC(evp_pool_create(0, &cfg, &p), 0);
    CHECK(p != NULL);
    return p;
}

static void destroy_clean(evp_pool_t *p)
{
    evp_pool_stats_t st;
    CHECK_RC(evp_pool_destroy(p, &st), 0);
    CHECK_EQ(st.outstanding, 0);
    CHECK_EQ(st.events_destroyed, st.events_created);
}

static void test_sizing_and_growth(void)
{
    /* Cache on and off: growth and the cap do not depend on it. */
    const char *caches[] = {"0", "4"};
    for (int ci = 0; ci < 2; ci++) {
        evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", "4", "EVPOOL_MAX", "10", "EVPOOL_ON_EXHAUST",
                                             "fail", "EVPOOL_THREAD_CACHE", caches[ci], NULL));
        evp_pool_stats_t st;
        evp_pool_stats(p, &st);
        CHECK_EQ(st.events_created, 4);
        evp_lease_t l[11];
        uint8_t seen[10] = {0};
        for (int i = 0; i < 10; i++) {
            CHECK_RC(evp_pool_lease(p, &l[i]), 0);
            CHECK(l[i] != EVP_LEASE_NONE);
            CHECK(evp_lease_slot(l[i]) < 10);
            CHECK_EQ(seen[evp_lease_slot(l[i])]++, 0); /* ten distinct events */
        }
        CHECK_RC(evp_pool_lease(p, &l[10]), EVP_EAGAIN);
        evp_pool_stats(p, &st);
        CHECK_EQ(st.events_created, 10); /* grew to max and no further */
        CHECK_EQ(st.outstanding, 10);
        CHECK_EQ(st.exhaust_fails, 1);
        for (int i = 0; i < 10; i++)
            CHECK_RC(evp_pool_return(p, l[i]), 0);
        evp_pool_stats(p, &st);
        CHECK_EQ(st.leases, 10);
        CHECK_EQ(st.returns, 10);
        CHECK_EQ(st.outstanding, 0);
        destroy_clean(p);
    }
}

static void test_wait_timeout_honoured(void)
{
    evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", "1", "EVPOOL_MAX", "1", "EVPOOL_WAIT_TIMEOUT_US",
                                         "50000", NULL));
    evp_lease_t a, b;
    CHECK_RC(evp_pool_lease(p, &a), 0);
    uint64_t t0 = evp_test_now_ns();
    CHECK_RC(evp_pool_lease(p, &b), EVP_EAGAIN);
    uint64_t waited = evp_test_now_ns() - t0;
    CHECK(waited >= 50000000u); /* waited the whole timeout... */
    CHECK(waited < 5000000000u); /* ...and returned (generous bound: shared machines) */
    evp_pool_stats_t st;
    evp_pool_stats(p, &st);
    CHECK_EQ(st.exhaust_waits, 1);
    CHECK_EQ(st.exhaust_fails, 1);
    CHECK(st.exhaust_wait_ns >= 50000000u);
    CHECK_RC(evp_pool_return(p, a), 0);
    destroy_clean(p);
    /* Timeout 0 under wait: one look, then EVP_EAGAIN. */
    p = make(evp_test_config("EVPOOL_SIZE", "1", "EVPOOL_MAX", "1", "EVPOOL_WAIT_TIMEOUT_US", "0", NULL));
    CHECK_RC(evp_pool_lease(p, &a), 0);
    CHECK_RC(evp_pool_lease(p, &b), EVP_EAGAIN);
    CHECK_RC(evp_pool_return(p, a), 0);
    destroy_clean(p);
}

struct holder {
    evp_pool_t *p;
    evp_lease_t lease;
    uint64_t delay_ns;
};

static void *return_later(void *arg)
{
    struct holder *h = arg;
    struct timespec ts = {0, (long)h->delay_ns};
    nanosleep(&ts, NULL);
    CHECK_RC(evp_pool_return(h->p, h->lease), 0);
    return NULL;
}

static void test_wait_gets_returned_event(void)
{
    evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", "1", "EVPOOL_MAX", "1", "EVPOOL_WAIT_TIMEOUT_US",
                                         "10000000", NULL));
    struct holder h = {.p = p, .delay_ns = 20000000};
    CHECK_RC(evp_pool_lease(p, &h.lease), 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, return_later, &h) == 0);
    evp_lease_t l;
    CHECK_RC(evp_pool_lease(p, &l), 0); /* waits for the other thread's return */
    CHECK_EQ(evp_lease_slot(l), evp_lease_slot(h.lease));
    CHECK(l != h.lease); /* same event, new generation */
    pthread_join(t, NULL);
    evp_pool_stats_t st;
    evp_pool_stats(p, &st);
    CHECK_EQ(st.exhaust_waits, 1);
    CHECK_EQ(st.exhaust_fails, 0);
    CHECK_RC(evp_pool_return(p, l), 0);
    destroy_clean(p);
}

static void test_stale_and_double_return(void)
{
    evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", "2", "EVPOOL_MAX", "2", "EVPOOL_ON_EXHAUST", "fail", NULL));
    evp_lease_t a, b;
    CHECK_RC(evp_pool_lease(p, &a), 0);
    CHECK_RC(evp_pool_return(p, a), 0);
    CHECK_RC(evp_pool_return(p, a), EVP_ESTALE); /* double return */
    void *ev;
    CHECK_RC(evp_pool_record(p, a, NULL), EVP_ESTALE); /* use after return */
    CHECK_RC(evp_pool_query(p, a), EVP_ESTALE);
    CHECK_RC(evp_pool_event(p, a, &ev), EVP_ESTALE);
    /* The slot comes back with a new generation; the old lease stays stale. */
    CHECK_RC(evp_pool_lease(p, &b), 0);
    CHECK_EQ(evp_lease_slot(b), evp_lease_slot(a));
    CHECK(evp_lease_gen(b) == evp_lease_gen(a) + 1);
    CHECK_RC(evp_pool_return(p, a), EVP_ESTALE); /* must not free b's event */
    CHECK_RC(evp_pool_record(p, b, NULL), 0);
    CHECK_RC(evp_pool_query(p, b), 1);
    /* Nothing was corrupted: exactly two distinct events can be leased. */
    evp_lease_t c, d;
    CHECK_RC(evp_pool_lease(p, &c), 0);
    CHECK(evp_lease_slot(c) != evp_lease_slot(b));
    CHECK_RC(evp_pool_lease(p, &d), EVP_EAGAIN);
    /* Not leases of this pool. */
    CHECK_RC(evp_pool_return(p, EVP_LEASE_NONE), EVP_EINVAL);
    CHECK_RC(evp_pool_return(p, ((evp_lease_t)1 << 24) | 2), EVP_EINVAL); /* slot 2 >= max */
    CHECK_RC(evp_pool_return(NULL, b), EVP_EINVAL);
    CHECK_RC(evp_pool_lease(p, NULL), EVP_EINVAL);
    CHECK_RC(evp_pool_event(p, b, NULL), EVP_EINVAL);
    evp_pool_stats_t st;
    evp_pool_stats(p, &st);
    CHECK_EQ(st.stale_returns, 2);
    CHECK_RC(evp_pool_return(p, b), 0);
    CHECK_RC(evp_pool_return(p, c), 0);
    destroy_clean(p);
}

static evp_test_gate_t g_gate;

static void test_record_and_query(void)
{
    evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", "2", NULL));
    evp_host_stream_t *s;
    CHECK_RC(evp_host_stream_create(&s), 0);
    evp_lease_t l;
    CHECK_RC(evp_pool_lease(p, &l), 0);
    /* Never recorded: must not read as complete. */
    CHECK_RC(evp_pool_query(p, l), EVP_ENODATA);
    evp_test_gate_set(&g_gate, 0);
    CHECK_RC(evp_host_stream_enqueue(s, evp_test_gate_hold, &g_gate), 0);
    CHECK_RC(evp_pool_record(p, l, s), 0);
    CHECK_RC(evp_pool_query(p, l), 0); /* the stream is blocked behind the gate */
    evp_test_gate_set(&g_gate, 1);
    CHECK_RC(evp_host_stream_synchronize(s), 0);
    CHECK_RC(evp_pool_query(p, l), 1);
    void *ev = NULL;
    CHECK_RC(evp_pool_event(p, l, &ev), 0);
    CHECK(ev != NULL);
    CHECK_RC(evp_pool_return(p, l), 0);
    /* The next holder of the same event starts with nothing recorded. */
    evp_lease_t m;
    CHECK_RC(evp_pool_lease(p, &m), 0);
    CHECK_EQ(evp_lease_slot(m), evp_lease_slot(l));
    CHECK_RC(evp_pool_query(p, m), EVP_ENODATA);
    CHECK_RC(evp_pool_return(p, m), 0);
    evp_host_stream_destroy(s);
    destroy_clean(p);
}

struct parker {
    evp_pool_t *p;
    int n;
    pthread_barrier_t *parked, *release;
};

/* Leases n events, returns them (parking some in its cache), then idles. */
static void *park_and_idle(void *arg)
{
    struct parker *k = arg;
    evp_lease_t l[64];
    for (int i = 0; i < k->n; i++)
        CHECK_RC(evp_pool_lease(k->p, &l[i]), 0);
    for (int i = 0; i < k->n; i++)
        CHECK_RC(evp_pool_return(k->p, l[i]), 0);
    pthread_barrier_wait(k->parked);
    pthread_barrier_wait(k->release);
    return NULL;
}

static void test_reclaim_from_idle_cache(void)
{
    /* All 16 events pass through a thread that then idles with up to 8 of
     * them parked; another thread must still get all 16 (fail policy: no
     * waiting, so only reclaim can make this pass). */
    evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", "16", "EVPOOL_MAX", "16", "EVPOOL_THREAD_CACHE", "8",
                                         "EVPOOL_ON_EXHAUST", "fail", NULL));
    pthread_barrier_t parked, release;
    pthread_barrier_init(&parked, NULL, 2);
    pthread_barrier_init(&release, NULL, 2);
    struct parker k = {.p = p, .n = 16, .parked = &parked, .release = &release};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, park_and_idle, &k) == 0);
    pthread_barrier_wait(&parked);
    evp_lease_t l[16];
    for (int i = 0; i < 16; i++)
        CHECK_RC(evp_pool_lease(p, &l[i]), 0);
    evp_pool_stats_t st;
    evp_pool_stats(p, &st);
    CHECK(st.steals >= 1);
    CHECK_EQ(st.events_created, 16);
    for (int i = 0; i < 16; i++)
        CHECK_RC(evp_pool_return(p, l[i]), 0);
    pthread_barrier_wait(&release);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&parked);
    pthread_barrier_destroy(&release);
    destroy_clean(p);
}

static void *lease_return_exit(void *arg)
{
    evp_pool_t *p = arg;
    evp_lease_t l[8];
    for (int i = 0; i < 8; i++)
        CHECK_RC(evp_pool_lease(p, &l[i]), 0);
    for (int i = 0; i < 8; i++)
        CHECK_RC(evp_pool_return(p, l[i]), 0);
    return NULL; /* the thread's cache is flushed here */
}

/* Runs fn (which leases and returns 8 events, parking them) on a thread,
 * then leases all 8 from this one: they must be in the depot (steals 0). */
static void park_then_find_in_depot(void *(*fn)(void *))
{
    evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", "8", "EVPOOL_MAX", "8", "EVPOOL_THREAD_CACHE", "8",
                                         "EVPOOL_ON_EXHAUST", "fail", NULL));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, fn, p) == 0);
    pthread_join(t, NULL);
    evp_lease_t l[8];
    CHECK_RC(evp_pool_lease_many(p, 8, l), 0);
    evp_pool_stats_t st;
    evp_pool_stats(p, &st);
    CHECK_EQ(st.steals, 0); /* found in the depot, not reclaimed */
    CHECK_EQ(evp_pool_return_many(p, 8, l, NULL), 0);
    destroy_clean(p);
}

static void test_thread_exit_flushes(void)
{
    park_then_find_in_depot(lease_return_exit);
}

static void test_teardown_reports_leaks(void)
{
    evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", "4", "EVPOOL_MAX", "6", NULL));
    evp_lease_t l[6];
    for (int i = 0; i < 6; i++)
        CHECK_RC(evp_pool_lease(p, &l[i]), 0);
    for (int i = 0; i < 3; i++)
        CHECK_RC(evp_pool_return(p, l[i]), 0);
    evp_pool_stats_t st;
    CHECK_RC(evp_pool_destroy(p, &st), 0);
    CHECK_EQ(st.outstanding, 3); /* leases never returned */
    CHECK_EQ(st.events_created, 6);
    CHECK_EQ(st.events_destroyed, 6); /* every event, leaked or not, once */
    CHECK_RC(evp_pool_destroy(NULL, NULL), EVP_EINVAL);
}

static void test_high_water(void)
{
    evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", "8", "EVPOOL_THREAD_CACHE", "0", NULL));
    evp_lease_t l[5];
    for (int i = 0; i < 5; i++)
        CHECK_RC(evp_pool_lease(p, &l[i]), 0);
    for (int i = 0; i < 5; i++)
        CHECK_RC(evp_pool_return(p, l[i]), 0);
    CHECK_RC(evp_pool_lease(p, &l[0]), 0);
    CHECK_RC(evp_pool_return(p, l[0]), 0);
    evp_pool_stats_t st;
    evp_pool_stats(p, &st);
    CHECK_EQ(st.high_water, 5);
    destroy_clean(p);
}

/* Values this pool never handed out, or no longer has out: small integers
 * (slots not created yet have no generation), ~0, a free slot's next lease
 * forged in advance. Each is refused and nothing is corrupted. */
static void test_forged_leases_refused(void)
{
    evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", "4", "EVPOOL_MAX", "8", "EVPOOL_ON_EXHAUST", "fail",
                                         "EVPOOL_THREAD_CACHE", "0", NULL));
    void *ev;
    for (evp_lease_t v = 0; v < 64; v++) {
        int rc = evp_pool_return(p, v);
        CHECK(rc == EVP_ESTALE || rc == EVP_EINVAL);
        rc = evp_pool_record(p, v, NULL);
        CHECK(rc == EVP_ESTALE || rc == EVP_EINVAL);
        rc = evp_pool_query(p, v);
        CHECK(rc == EVP_ESTALE || rc == EVP_EINVAL);
        rc = evp_pool_event(p, v, &ev);
        CHECK(rc == EVP_ESTALE || rc == EVP_EINVAL);
    }
    CHECK(evp_pool_return(p, ~(evp_lease_t)0) < 0);
    CHECK(evp_pool_return(p, ((evp_lease_t)1 << 24) | 5) < 0);
    /* A free slot's next lease, forged: the slot is free, so it is refused. */
    evp_lease_t a;
    CHECK_RC(evp_pool_lease(p, &a), 0);
    CHECK_RC(evp_pool_return(p, a), 0);
    evp_lease_t next = ((evp_lease_gen(a) + 1) << 24) | evp_lease_slot(a);
    CHECK_RC(evp_pool_return(p, next), EVP_ESTALE);
    CHECK_RC(evp_pool_return(p, a), EVP_ESTALE);
    /* Nothing was pushed twice: exactly max distinct events, then none. */
    evp_lease_t l[8], extra;
    uint8_t seen[8] = {0};
    for (int i = 0; i < 8; i++) {
        CHECK_RC(evp_pool_lease(p, &l[i]), 0);
        CHECK_EQ(seen[evp_lease_slot(l[i])]++, 0);
    }
    CHECK_RC(evp_pool_lease(p, &extra), EVP_EAGAIN);
    for (int i = 0; i < 8; i++)
        CHECK_RC(evp_pool_return(p, l[i]), 0);
    destroy_clean(p);
}

/* A lease of pool A is not a lease of pool B, before or after A is gone. */
static void test_other_pools_leases_refused(void)
{
    evp_config_t cfg = evp_test_config("EVPOOL_SIZE", "4", "EVPOOL_MAX", "4", "EVPOOL_ON_EXHAUST", "fail", NULL);
    evp_pool_t *a = make(cfg), *b = make(cfg);
    evp_lease_t la[4];
    for (int i = 0; i < 4; i++) {
        CHECK_RC(evp_pool_lease(a, &la[i]), 0);
        CHECK_RC(evp_pool_return(b, la[i]), EVP_ESTALE);
        CHECK_RC(evp_pool_record(b, la[i], NULL), EVP_ESTALE);
    }
    evp_lease_t lb[4], extra;
    uint8_t seen[4] = {0};
    for (int i = 0; i < 4; i++) {
        CHECK_RC(evp_pool_lease(b, &lb[i]), 0);
        CHECK_EQ(seen[evp_lease_slot(lb[i])]++, 0);
        CHECK_RC(evp_pool_return(a, lb[i]), EVP_ESTALE);
    }
    CHECK_RC(evp_pool_lease(b, &extra), EVP_EAGAIN);
    for (int i = 0; i < 4; i++)
        CHECK_RC(evp_pool_return(a, la[i]), 0);
    destroy_clean(a);
    /* Same through the registry across a shutdown. */
    setenv("EVPOOL_BACKEND", "host", 1);
    evp_pool_t *r1, *r2;
    CHECK_RC(evp_device_pool(0, &r1), 0);
    evp_lease_t old;
    CHECK_RC(evp_pool_lease(r1, &old), 0);
    CHECK_RC(evp_device_shutdown(NULL), 0);
    CHECK_RC(evp_device_pool(0, &r2), 0);
    CHECK_RC(evp_pool_return(r2, old), EVP_ESTALE);
    CHECK_RC(evp_device_shutdown(NULL), 0);
    unsetenv("EVPOOL_BACKEND");
    for (int i = 0; i < 4; i++)
        CHECK_RC(evp_pool_return(b, lb[i]), 0);
    destroy_clean(b);
}

/* Hostile callers: millions of forged values (random, small, ~0, free
 * slots' next leases) against a pool that other threads use with owner
 * stamps. Every forged value is refused; conservation holds. */
struct hostile {
    evp_pool_t *p;
    _Atomic uint32_t *owner;
    _Atomic int *stop;
    uint32_t me;
    long forged;
};

static void *hostile_user(void *arg)
{
    struct hostile *h = arg;
    while (!atomic_load(h->stop)) {
        evp_lease_t l;
        int rc = evp_pool_lease(h->p, &l);
        if (rc == EVP_EAGAIN)
            continue;
        CHECK_RC(rc, 0);
        uint32_t expect = 0;
        CHECK(atomic_compare_exchange_strong(&h->owner[evp_lease_slot(l)], &expect, h->me));
        CHECK_RC(evp_pool_record(h->p, l, NULL), 0);
        expect = h->me;
        CHECK(atomic_compare_exchange_strong(&h->owner[evp_lease_slot(l)], &expect, 0));
        CHECK_RC(evp_pool_return(h->p, l), 0);
    }
    return NULL;
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *hostile_forger(void *arg)
{
    struct hostile *h = arg;
    uint64_t rng = 0x9e3779b97f4a7c15u;
    void *ev;
    for (long i = 0; i < h->forged; i++) {
        evp_lease_t v;
        switch (i % 4) {
        case 0: v = xorshift(&rng); break;
        case 1: v = (evp_lease_t)(i % 4096); break;
        case 2: v = ~(evp_lease_t)0 - (evp_lease_t)(i % 64); break;
        default: v = (xorshift(&rng) & ~(evp_lease_t)0xffffff) | (i % 16); break;
        }
        int rc = evp_pool_return(h->p, v);
        CHECK(rc == EVP_ESTALE || rc == EVP_EINVAL);
        if (i % 16 == 0) {
            CHECK(evp_pool_query(h->p, v) < 0);
            CHECK(evp_pool_event(h->p, v, &ev) < 0);
        }
        if (i % 1024 == 0) { /* its own lease, returned, then its next generation forged */
            evp_lease_t l;
            if (evp_pool_lease(h->p, &l) == 0) {
                CHECK_RC(evp_pool_return(h->p, l), 0);
                CHECK_RC(evp_pool_return(h->p, l), EVP_ESTALE);
                CHECK(evp_pool_return(h->p, ((evp_lease_gen(l) + 1) << 24) | evp_lease_slot(l)) < 0);
            }
        }
    }
    return NULL;
}

static void test_hostile_forgeries(void)
{
    evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", "8", "EVPOOL_MAX", "16", "EVPOOL_ON_EXHAUST", "fail",
                                         "EVPOOL_THREAD_CACHE", "4", NULL));
    _Atomic uint32_t owner[16] = {0};
    _Atomic int stop = 0;
    long forged = evp_test_env_long("EVP_TEST_FORGED", 2000000);
    struct hostile users[2], forger = {.p = p, .owner = owner, .stop = &stop, .forged = forged};
    pthread_t tu[2], tf;
    for (int i = 0; i < 2; i++) {
        users[i] = (struct hostile){.p = p, .owner = owner, .stop = &stop, .me = (uint32_t)i + 1};
        CHECK(pthread_create(&tu[i], NULL, hostile_user, &users[i]) == 0);
    }
    CHECK(pthread_create(&tf, NULL, hostile_forger, &forger) == 0);
    pthread_join(tf, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(tu[i], NULL);
    evp_pool_stats_t st;
    evp_pool_stats(p, &st);
    CHECK_EQ(st.leases, st.returns);
    CHECK(st.events_created <= 16);
    evp_lease_t l[16], extra;
    uint8_t seen[16] = {0};
    uint32_t n = (uint32_t)st.events_created;
    for (uint32_t i = 0; i < 16; i++) {
        CHECK_RC(evp_pool_lease(p, &l[i]), 0);
        CHECK_EQ(seen[evp_lease_slot(l[i])]++, 0);
    }
    (void)n;
    CHECK_RC(evp_pool_lease(p, &extra), EVP_EAGAIN);
    for (int i = 0; i < 16; i++)
        CHECK_RC(evp_pool_return(p, l[i]), 0);
    destroy_clean(p);
}

/* A lease returned, re-leased and recorded by others while it is queried
 * answers EVP_ESTALE, never EVP_ENODATA (it did record) nor the next
 * holder's completion. The holder records every lease before publishing it,
 * so the only honest answers for a published lease are 0, 1 and ESTALE. */
struct query_race {
    evp_pool_t *p;
    _Atomic evp_lease_t current;
    _Atomic int stop;
};

static void *query_race_holder(void *arg)
{
    struct query_race *q = arg;
    while (!atomic_load(&q->stop)) {
        evp_lease_t l;
        CHECK_RC(evp_pool_lease(q->p, &l), 0);
        CHECK_RC(evp_pool_record(q->p, l, NULL), 0);
        atomic_store(&q->current, l);
        CHECK_RC(evp_pool_return(q->p, l), 0);
    }
    return NULL;
}

static void test_query_stale_during_query(void)
{
    evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", "1", "EVPOOL_MAX", "1", "EVPOOL_THREAD_CACHE", "0", NULL));
    struct query_race q = {.p = p};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, query_race_holder, &q) == 0);
    long rounds = evp_test_env_long("EVP_TEST_QUERY_ROUNDS", 2000000), stale = 0;
    for (long i = 0; i < rounds; i++) {
        evp_lease_t l = atomic_load(&q.current);
        if (l == EVP_LEASE_NONE)
            continue;
        int rc = evp_pool_query(p, l);
        if (rc == EVP_ESTALE)
            stale++;
        else if (rc != 1)
            evp_test_fail(__FILE__, __LINE__, "query of a recorded lease answered %d (%s)", rc, evp_strerror(rc));
    }
    atomic_store(&q.stop, 1);
    pthread_join(t, NULL);
    fprintf(stderr, "  %ld queries, %ld stale\n", rounds, stale);
    destroy_clean(p);
}

/* NULL arguments have documented answers, never a crash. */
static void test_null_arguments(void)
{
    evp_pool_stats_t st;
    memset(&st, 0xff, sizeof st);
    evp_pool_stats(NULL, &st);
    CHECK_EQ(st.leases, 0);
    CHECK_EQ(st.events_created, 0);
    evp_config_t cfg;
    memset(&cfg, 0xff, sizeof cfg);
    evp_pool_config(NULL, &cfg);
    CHECK_EQ(cfg.size, 0);
    CHECK_RC(evp_pool_device(NULL), EVP_EINVAL);
    CHECK(strcmp(evp_pool_backend(NULL), "none") == 0);
    evp_config_init(NULL);
    evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", "2", NULL));
    evp_pool_stats(p, NULL);
    evp_pool_config(p, NULL);
    destroy_clean(p);
}

/* A thread that uses pool #593 and then #696 of 700 live pools, then
 * exits: its thread-exit walk stays inside the pools table. */
static void *use_two_pools_and_exit(void *arg)
{
    evp_pool_t **pools = arg;
    for (int k = 0; k < 2; k++) {
        evp_lease_t l;
        CHECK_RC(evp_pool_lease(pools[k], &l), 0);
        CHECK_RC(evp_pool_return(pools[k], l), 0);
    }
    return NULL;
}

static void test_many_pools_thread_exit(void)
{
    enum { N = 700 };
    evp_pool_t **all = calloc(N, sizeof *all);
    CHECK(all != NULL);
    evp_config_t cfg = evp_test_config("EVPOOL_SIZE", "1", "EVPOOL_MAX", "1", "EVPOOL_THREAD_CACHE", "1", NULL);
    for (int i = 0; i < N; i++)
        CHECK_RC(evp_pool_create(0, &cfg, &all[i]), 0);
    evp_pool_t *two[2] = {all[593], all[696]};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, use_two_pools_and_exit, two) == 0);
    pthread_join(t, NULL);
    for (int i = 0; i < N; i++)
        destroy_clean(all[i]);
    free(all);
}

/* EVPOOL_ON_EXHAUST=fail: EVP_EAGAIN means every event is held by a
 * caller. N threads pass leases round a ring: each holds at most two (one
 * in hand, one in its neighbour's inbox), and max = 2N + 2, so two events
 * are always free (parked in a cache, in the depot, or moving between them)
 * and no lease may ever fail. */
struct ring_ctx {
    evp_pool_t *p;
    int n;
    long iters;
    _Atomic evp_lease_t *inbox;
    _Atomic uint64_t eagain;
    _Atomic int finished;
};

struct ring_member {
    struct ring_ctx *r;
    int me;
};

static void ring_drain(struct ring_ctx *r, int me)
{
    evp_lease_t x = atomic_exchange(&r->inbox[me], EVP_LEASE_NONE);
    if (x != EVP_LEASE_NONE)
        CHECK_RC(evp_pool_return(r->p, x), 0);
}

static void *ring_run(void *arg)
{
    struct ring_member *m = arg;
    struct ring_ctx *r = m->r;
    int next = (m->me + 1) % r->n;
    for (long i = 0; i < r->iters; i++) {
        evp_lease_t l;
        int rc = evp_pool_lease(r->p, &l);
        if (rc == EVP_EAGAIN) {
            atomic_fetch_add(&r->eagain, 1);
            ring_drain(r, m->me);
            continue;
        }
        CHECK_RC(rc, 0);
        evp_lease_t empty = EVP_LEASE_NONE;
        while (!atomic_compare_exchange_weak(&r->inbox[next], &empty, l)) {
            empty = EVP_LEASE_NONE;
            ring_drain(r, m->me); /* keep the ring moving while we wait */
            sched_yield();
        }
        ring_drain(r, m->me);
    }
    /* Keep draining until everyone is done: a neighbour may still push. */
    atomic_fetch_add(&r->finished, 1);
    while (atomic_load(&r->finished) < r->n) {
        ring_drain(r, m->me);
        sched_yield();
    }
    return NULL;
}

static void ring_no_false_eagain(int n, const char *cache, long iters)
{
    char max[16];
    snprintf(max, sizeof max, "%d", 2 * n + 2);
    evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", max, "EVPOOL_MAX", max, "EVPOOL_ON_EXHAUST", "fail",
                                         "EVPOOL_THREAD_CACHE", cache, NULL));
    struct ring_ctx r = {.p = p, .n = n, .iters = iters};
    r.inbox = calloc((size_t)n, sizeof *r.inbox);
    struct ring_member *m = calloc((size_t)n, sizeof *m);
    pthread_t *t = calloc((size_t)n, sizeof *t);
    CHECK(r.inbox && m && t);
    for (int i = 0; i < n; i++) {
        m[i] = (struct ring_member){.r = &r, .me = i};
        CHECK(pthread_create(&t[i], NULL, ring_run, &m[i]) == 0);
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < n; i++)
        ring_drain(&r, i);
    evp_pool_stats_t st;
    evp_pool_stats(p, &st);
    fprintf(stderr, "  ring of %d, cache %s: %ld leases each, %llu false EVP_EAGAIN, %llu steals\n", n, cache,
            iters, (unsigned long long)atomic_load(&r.eagain), (unsigned long long)st.steals);
    CHECK_EQ(atomic_load(&r.eagain), 0);
    CHECK_EQ(st.exhaust_fails, 0);
    free(r.inbox);
    free(m);
    free(t);
    destroy_clean(p);
}

static void test_fail_means_all_held(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long iters = evp_test_env_long("EVP_TEST_RING_ITERS", 20000);
    int sizes[] = {8, (int)(2 * cores), (int)(8 * cores)};
    for (int i = 0; i < 3; i++) {
        ring_no_false_eagain(sizes[i], "8", iters);
        ring_no_false_eagain(sizes[i], "0", iters / 4);
    }
}

/* Waiters sleep and every EVP_EAGAIN comes at the deadline, at any thread
 * count: one event held, 16 and 32 threads asking with a 20 ms timeout. */
struct deadline_ctx {
    evp_pool_t *p;
    uint64_t timeout_ns;
    _Atomic uint64_t worst_ns, early;
};

static void *lease_expect_timeout(void *arg)
{
    struct deadline_ctx *d = arg;
    for (int i = 0; i < 5; i++) {
        evp_lease_t l;
        uint64_t t0 = evp_test_now_ns();
        CHECK_RC(evp_pool_lease(d->p, &l), EVP_EAGAIN);
        uint64_t took = evp_test_now_ns() - t0;
        if (took < d->timeout_ns)
            atomic_fetch_add(&d->early, 1);
        uint64_t w = atomic_load(&d->worst_ns);
        while (took > w && !atomic_compare_exchange_weak(&d->worst_ns, &w, took))
            ;
    }
    return NULL;
}

static void test_wait_deadline_any_thread_count(void)
{
    int counts[] = {16, 32};
    for (int k = 0; k < 2; k++) {
        evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", "1", "EVPOOL_MAX", "1", "EVPOOL_WAIT_TIMEOUT_US",
                                             "20000", NULL));
        evp_lease_t held;
        CHECK_RC(evp_pool_lease(p, &held), 0);
        struct deadline_ctx d = {.p = p, .timeout_ns = 20000000u};
        pthread_t t[32];
        for (int i = 0; i < counts[k]; i++)
            CHECK(pthread_create(&t[i], NULL, lease_expect_timeout, &d) == 0);
        for (int i = 0; i < counts[k]; i++)
            pthread_join(t[i], NULL);
        fprintf(stderr, "  %d threads: worst EVP_EAGAIN after %.1f ms (timeout 20 ms)\n", counts[k],
                atomic_load(&d.worst_ns) / 1e6);
        CHECK_EQ(atomic_load(&d.early), 0);
        CHECK(atomic_load(&d.worst_ns) < 2000000000u); /* a hang catcher, not a timing check */
        evp_pool_stats_t st;
        evp_pool_stats(p, &st);
        CHECK_EQ(st.exhaust_fails, 5 * counts[k]);
        CHECK_EQ(st.waiting, 0);
        CHECK_RC(evp_pool_return(p, held), 0);
        destroy_clean(p);
    }
}

/* Freed events go to waiters in arrival order. */
struct fifo_ctx {
    evp_pool_t *p;
    _Atomic int served;
    int order[8];
};

struct fifo_waiter {
    struct fifo_ctx *f;
    int id;
};

static void *fifo_wait(void *arg)
{
    struct fifo_waiter *w = arg;
    evp_lease_t l;
    CHECK_RC(evp_pool_lease(w->f->p, &l), 0);
    w->f->order[atomic_fetch_add(&w->f->served, 1)] = w->id;
    CHECK_RC(evp_pool_return(w->f->p, l), 0); /* to the next waiter in line */
    return NULL;
}

static void wait_for_waiting(evp_pool_t *p, uint64_t n)
{
    uint64_t t0 = evp_test_now_ns();
    for (;;) {
        evp_pool_stats_t st;
        evp_pool_stats(p, &st);
        if (st.waiting >= n)
            return;
        CHECK(evp_test_now_ns() - t0 < 10000000000u);
        sched_yield();
    }
}

static void test_waiters_served_in_arrival_order(void)
{
    evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", "1", "EVPOOL_MAX", "1", "EVPOOL_WAIT_TIMEOUT_US",
                                         "30000000", NULL));
    evp_lease_t held;
    CHECK_RC(evp_pool_lease(p, &held), 0);
    struct fifo_ctx f = {.p = p};
    struct fifo_waiter w[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (struct fifo_waiter){.f = &f, .id = i};
        CHECK(pthread_create(&t[i], NULL, fifo_wait, &w[i]) == 0);
        wait_for_waiting(p, (uint64_t)i + 1); /* i is asleep before i + 1 arrives */
        /* and its ticket is taken: waiting counts it just before. */
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    CHECK_RC(evp_pool_return(p, held), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(f.order[i], i);
    destroy_clean(p);
}

/* A thread cancelled while it waits in evp_pool_lease leaves nothing
 * behind: the lease is not a cancellation point, so it finishes its wait
 * (here: times out), and the thread is cancelled at its next one. */
static void *lease_then_testcancel(void *arg)
{
    evp_pool_t *p = arg;
    evp_lease_t l;
    int rc = evp_pool_lease(p, &l);
    if (rc == 0)
        evp_pool_return(p, l);
    pthread_testcancel();
    return (void *)1;
}

static void test_cancel_while_waiting(void)
{
    evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", "1", "EVPOOL_MAX", "1", "EVPOOL_WAIT_TIMEOUT_US",
                                         "200000", NULL));
    evp_lease_t held;
    CHECK_RC(evp_pool_lease(p, &held), 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, lease_then_testcancel, p) == 0);
    wait_for_waiting(p, 1);
    CHECK(pthread_cancel(t) == 0);
    void *ret;
    CHECK(pthread_join(t, &ret) == 0);
    CHECK(ret == PTHREAD_CANCELED);
    evp_pool_stats_t st;
    evp_pool_stats(p, &st);
    CHECK_EQ(st.waiting, 0); /* the old code left it at 1 forever */
    /* The queue is clean: a new waiter is served by the next return. */
    struct holder h = {.p = p, .lease = held, .delay_ns = 20000000};
    pthread_t r;
    CHECK(pthread_create(&r, NULL, return_later, &h) == 0);
    evp_lease_t l;
    CHECK_RC(evp_pool_lease(p, &l), 0);
    pthread_join(r, NULL);
    CHECK_RC(evp_pool_return(p, l), 0);
    destroy_clean(p);
}

/* Bulk: all or nothing on lease; every entry checked on return (stale ones,
 * a lease twice in one call, another pool's), results optional. */
static void test_bulk(void)
{
    evp_pool_t *p = make(evp_test_config("EVPOOL_SIZE", "8", "EVPOOL_MAX", "8", "EVPOOL_ON_EXHAUST", "fail",
                                         "EVPOOL_THREAD_CACHE", "4", NULL));
    evp_lease_t l[9];
    CHECK_RC(evp_pool_lease_many(p, 0, NULL), 0);
    CHECK_RC(evp_pool_lease_many(p, 9, l), EVP_EINVAL); /* more than max */
    CHECK_RC(evp_pool_lease_many(NULL, 1, l), EVP_EINVAL);
    CHECK_RC(evp_pool_lease_many(p, 1, NULL), EVP_EINVAL);
    CHECK_RC(evp_pool_lease_many(p, 6, l), 0);
    uint8_t seen[8] = {0};
    for (int i = 0; i < 6; i++)
        CHECK_EQ(seen[evp_lease_slot(l[i])]++, 0);
    /* 3 more do not exist (2 are free): nothing is taken. */
    evp_lease_t more[3];
    CHECK_RC(evp_pool_lease_many(p, 3, more), EVP_EAGAIN);
    for (int i = 0; i < 3; i++)
        CHECK(more[i] == EVP_LEASE_NONE);
    evp_pool_stats_t st;
    evp_pool_stats(p, &st);
    CHECK_EQ(st.outstanding, 6);
    CHECK_RC(evp_pool_lease_many(p, 2, more), 0);
    /* Return: 2 good, a duplicate, a forged value, then the rest. */
    evp_lease_t back[5] = {l[0], l[1], l[0], 12345, ~(evp_lease_t)0};
    int res[5];
    CHECK_EQ(evp_pool_return_many(p, 5, back, res), 3);
    CHECK_EQ(res[0], 0);
    CHECK_EQ(res[1], 0);
    CHECK_EQ(res[2], EVP_ESTALE);
    CHECK(res[3] == EVP_ESTALE || res[3] == EVP_EINVAL);
    CHECK(res[4] == EVP_ESTALE || res[4] == EVP_EINVAL);
    CHECK_EQ(evp_pool_return_many(p, 4, &l[2], NULL), 0);
    CHECK_EQ(evp_pool_return_many(p, 4, &l[2], NULL), 4); /* all stale now */
    CHECK_EQ(evp_pool_return_many(p, 2, more, NULL), 0);
    CHECK_RC(evp_pool_return_many(NULL, 1, more, NULL), EVP_EINVAL);
    CHECK_RC(evp_pool_return_many(p, 1, NULL, NULL), EVP_EINVAL);
    CHECK_RC(evp_pool_return_many(p, 0, NULL, NULL), 0);
    evp_pool_stats(p, &st);
    CHECK_EQ(st.leases, 10); /* 6 + 2, and the 2 the failed call gave back */
    CHECK_EQ(st.returns, 10);
    CHECK_EQ(st.stale_returns, 1 + 4 + 2 - (res[3] == EVP_EINVAL) - (res[4] == EVP_EINVAL));
    /* Everything is back: all 8 again. */
    CHECK_RC(evp_pool_lease_many(p, 8, l), 0);
    CHECK_EQ(evp_pool_return_many(p, 8, l, NULL), 0);
    destroy_clean(p);
}

/* evp_pool_thread_flush: a parked worker's events go back to the depot, so
 * another thread finds them there (no reclaim needed). */
static void *lease_return_flush(void *arg)
{
    evp_pool_t *p = arg;
    evp_lease_t l[8];
    CHECK_RC(evp_pool_lease_many(p, 8, l), 0);
    CHECK_EQ(evp_pool_return_many(p, 8, l, NULL), 0);
    CHECK_RC(evp_pool_thread_flush(p), 0);
    return NULL;
}

static void test_thread_flush(void)
{
    CHECK_RC(evp_pool_thread_flush(NULL), EVP_EINVAL);
    park_then_find_in_depot(lease_return_flush);
}

static void test_create_errors(void)
{
    evp_pool_t *p = NULL;
    evp_config_t cfg = evp_test_config(NULL);
    CHECK_RC(evp_pool_create(0, &cfg, NULL), EVP_EINVAL);
    CHECK_RC(evp_pool_create(-1, &cfg, &p), EVP_ENODEV);
    CHECK_RC(evp_pool_create(EVP_HOST_DEVICES, &cfg, &p), EVP_ENODEV);
    cfg.max = cfg.size - 1; /* inconsistent struct: validated at creation */
    CHECK_RC(evp_pool_create(0, &cfg, &p), EVP_EINVAL);
    CHECK(p == NULL);
    /* From the environment: a bad value fails creation. */
    setenv("EVPOOL_BACKEND", "host", 1);
    setenv("EVPOOL_SIZE", "12abc", 1);
    CHECK_RC(evp_pool_create(0, NULL, &p), EVP_EINVAL);
    setenv("EVPOOL_SIZE", "3", 1);
    CHECK_RC(evp_pool_create(1, NULL, &p), 0);
    evp_config_t got;
    evp_pool_config(p, &got);
    CHECK_EQ(got.size, 3);
    CHECK_EQ(got.max, 12);
    CHECK_EQ(got.source[EVP_KNOB_SIZE], EVP_SRC_ENV);
    CHECK_EQ(evp_pool_device(p), 1);
    CHECK(strcmp(evp_pool_backend(p), "host") == 0);
    unsetenv("EVPOOL_SIZE");
    unsetenv("EVPOOL_BACKEND");
    destroy_clean(p);
}

int main(void)
{
    TEST(test_sizing_and_growth);
    TEST(test_wait_timeout_honoured);
    TEST(test_wait_gets_returned_event);
    TEST(test_stale_and_double_return);
    TEST(test_record_and_query);
    TEST(test_reclaim_from_idle_cache);
    TEST(test_thread_exit_flushes);
    TEST(test_teardown_reports_leaks);
    TEST(test_high_water);
    TEST(test_create_errors);
    TEST(test_forged_leases_refused);
    TEST(test_other_pools_leases_refused);
    TEST(test_hostile_forgeries);
    TEST(test_query_stale_during_query);
    TEST(test_null_arguments);
    TEST(test_many_pools_thread_exit);
    TEST(test_fail_means_all_held);
    TEST(test_wait_deadline_any_thread_count);
    TEST(test_waiters_served_in_arrival_order);
    TEST(test_cancel_while_waiting);
    TEST(test_bulk);
    TEST(test_thread_flush);
    return 0;
}
