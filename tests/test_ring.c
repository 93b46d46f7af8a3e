/* SPDX-License-Identifier: Apache-2.0 */
/* The SCQ ring depot: FIFO order, chains kept whole, empty without shared
 * writes, full capacity, wrap-around against a model, and conservation
 * under churn at 2x and 8x the online CPUs (every value owned by at most
 * one thread at a time, all present exactly once at the end).
 *
 * Built twice (tests/CMakeLists.txt): test_ring links the library's
 * ring.c; test_ring_hooked compiles its own copy with EVP_RING_TEST_HOOK so
 * that the tests below can yield or stall a thread inside an operation:
 * churn with yields, and a push stalled between its ticket and its write
 * while other threads look for chains. What the stall tests assert is the
 * "empty" statement of ring.h: a pop answers 0 only when every chain pushed
 * before is popped or claimed by a pop in progress. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "depot_churn.h"
#include "pool/ring.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void test_fifo_and_chains(void)
{
    struct evp_ring r;
    CHECK_RC(evp_ring_init(&r, 16, 4), 0);
    uint64_t out[4];
    CHECK_EQ(evp_ring_pop(&r, out), 0); /* empty */
    uint64_t a[] = {300, 301, 302};
    evp_ring_push(&r, 3, a, 3);
    uint64_t b[] = {900};
    evp_ring_push(&r, 9, b, 1);
    CHECK_EQ(atomic_load(&r.items), 4);
    CHECK_EQ(evp_ring_pop(&r, out), 3); /* oldest first */
    CHECK_EQ(out[0], 300);
    CHECK_EQ(out[2], 302);
    CHECK_EQ(evp_ring_pop(&r, out), 1);
    CHECK_EQ(out[0], 900);
    CHECK_EQ(evp_ring_pop(&r, out), 0);
    CHECK_EQ(atomic_load(&r.items), 0);
    /* Node 0 and the last node are ordinary; a full-width chain. */
    uint64_t c[] = {1, 2, 3, 4};
    evp_ring_push(&r, 0, c, 4);
    evp_ring_push(&r, 15, b, 1);
    CHECK_EQ(evp_ring_pop(&r, out), 4);
    CHECK_EQ(out[3], 4);
    CHECK_EQ(evp_ring_pop(&r, out), 1);
    CHECK_EQ(out[0], 900);
    evp_ring_fini(&r);
    CHECK_RC(evp_ring_init(&r, 0, 4), EVP_EINVAL);
    CHECK_RC(evp_ring_init(&r, UINT32_C(1) << 24, 4), EVP_EINVAL);
    CHECK_RC(evp_ring_init(&r, 4, 0), EVP_EINVAL);
    CHECK_RC(evp_ring_init(&r, 4, EVP_STACK_WIDTH_MAX + 1), EVP_EINVAL);
}

/* Once a pop has found the ring empty, polling it writes nothing shared:
 * head, tail and threshold stay as they are (an exhausted pool spins here). */
static void test_empty_poll_writes_nothing(void)
{
    struct evp_ring r;
    CHECK_RC(evp_ring_init(&r, 8, 1), 0);
    uint64_t v = 7, out;
    for (int round = 0; round < 2; round++) {
        evp_ring_push(&r, 5, &v, 1);
        CHECK_EQ(evp_ring_pop(&r, &out), 1);
        CHECK_EQ(evp_ring_pop(&r, &out), 0); /* the one that may write */
        uint64_t h = atomic_load(&r.head), t = atomic_load(&r.tail);
        int64_t thr = atomic_load(&r.threshold);
        for (int i = 0; i < 1000; i++)
            CHECK_EQ(evp_ring_pop(&r, &out), 0);
        CHECK_EQ(atomic_load(&r.head), h);
        CHECK_EQ(atomic_load(&r.tail), t);
        CHECK_EQ(atomic_load(&r.threshold), thr);
    }
    evp_ring_push(&r, 5, &v, 1); /* and a push is found again at once */
    CHECK_EQ(evp_ring_pop(&r, &out), 1);
    CHECK_EQ(out, 7);
    evp_ring_fini(&r);
}

struct walk_check {
    uint32_t next;
    int bad;
};

/* Chains of node k: {k, ~k}, 1 + k % 2 long; the walk sees them in order. */
static void walk_in_order(const uint64_t *vals, uint32_t n, void *arg)
{
    struct walk_check *w = arg;
    uint32_t k = w->next++;
    if (vals[0] != k || n != 1 + k % 2 || (n == 2 && vals[1] != ~(uint64_t)k))
        w->bad++;
}

/* Every node in at once (the ring is never full), out in FIFO order; three
 * rounds, so tickets move on and entries are reused. */
static void test_full_capacity(void)
{
    static const uint32_t caps[] = {1, 64, 1000, 4099};
    for (unsigned c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        struct evp_ring r;
        uint32_t cap = caps[c];
        CHECK_RC(evp_ring_init(&r, cap, 2), 0);
        for (int round = 0; round < 3; round++) {
            for (uint32_t k = 0; k < cap; k++) {
                uint64_t v[2] = {k, ~(uint64_t)k};
                evp_ring_push(&r, k, v, 1 + k % 2);
            }
            CHECK_EQ(atomic_load(&r.items), (int64_t)cap + cap / 2);
            struct walk_check w = {0, 0};
            evp_ring_walk(&r, walk_in_order, &w);
            CHECK_EQ(w.next, cap);
            CHECK_EQ(w.bad, 0);
            for (uint32_t k = 0; k < cap; k++) {
                uint64_t out[2];
                CHECK_EQ(evp_ring_pop(&r, out), 1 + k % 2);
                CHECK_EQ(out[0], k);
            }
            uint64_t out[2];
            CHECK_EQ(evp_ring_pop(&r, out), 0);
            CHECK_EQ(atomic_load(&r.items), 0);
        }
        evp_ring_fini(&r);
    }
}

/* A few nodes through a 128-entry ring for a million random operations
 * (about 10^4 laps), each pop checked against a model FIFO, with runs to
 * empty in between: cycles, wrap of positions, empty paths. */
static void test_wrap_around(void)
{
    enum { CAP = 5, OPS = 1 << 20 };
    struct evp_ring r;
    CHECK_RC(evp_ring_init(&r, CAP, 3), 0);
    uint32_t fifo[CAP], head = 0, count = 0; /* the model */
    uint32_t free_nodes[CAP], nfree = CAP;
    for (uint32_t k = 0; k < CAP; k++)
        free_nodes[k] = k;
    unsigned seed = 12345;
    uint64_t stamp = 0;
    for (int op = 0; op < OPS; op++) {
        unsigned dice = (unsigned)rand_r(&seed) % 100;
        if (dice < 50 && nfree > 0) {
            uint32_t k = free_nodes[--nfree];
            uint64_t v[3] = {k, ++stamp, ~(uint64_t)k};
            evp_ring_push(&r, k, v, 1 + k % 3);
            fifo[(head + count++) % CAP] = k;
        } else if (dice < 97 || count == 0) {
            uint64_t out[3];
            uint32_t n = evp_ring_pop(&r, out);
            if (count == 0) {
                CHECK_EQ(n, 0);
                continue;
            }
            uint32_t k = fifo[head];
            head = (head + 1) % CAP;
            count--;
            CHECK_EQ(n, 1 + k % 3);
            CHECK_EQ(out[0], k);
            if (n == 3)
                CHECK_EQ(out[2], ~(uint64_t)k);
            free_nodes[nfree++] = k;
        } else {
            uint64_t out[3];
            while (count > 0) {
                CHECK_EQ(evp_ring_pop(&r, out), 1 + fifo[head] % 3);
                CHECK_EQ(out[0], fifo[head]);
                free_nodes[nfree++] = fifo[head];
                head = (head + 1) % CAP;
                count--;
            }
            CHECK_EQ(evp_ring_pop(&r, out), 0);
        }
    }
    CHECK_EQ(atomic_load(&r.items) > 0, count > 0);
    CHECK(atomic_load(&r.tail) > (UINT64_C(1) << 19)); /* it did lap */
    evp_ring_fini(&r);
}

/* ---- concurrent churn: conservation with owner stamps -------------------- */

/* Enough for the stalled-push churn at 2x cores on machines of up to 256
 * cores (8x is capped to fit). */
#define NVALS 520
#define WIDTH 4
#define CHURN_ROUNDS 200000
#define CHURN_NS 400000000u /* each churn run stops after 0.4 s */

static struct evp_depot g_churn; /* the churn's: the ring, through the depot API */
static _Atomic int g_owner[NVALS]; /* 0 free, else owning thread + 1 */
static _Atomic bool g_stop;

#ifdef EVP_RING_TEST_HOOK
static struct evp_ring g_ring; /* the stall tests' */

/* Per thread: yield at 1 in tl_yield hook points (0: never); stall at the
 * first hook point tl_stall_at (-1: never) until g_release. */
static _Thread_local unsigned tl_yield, tl_seed;
static _Thread_local int tl_stall_at = -1;
static _Atomic int g_stalled, g_release;

void evp_ring_test_hook(struct evp_ring *r, enum evp_ring_at at)
{
    (void)r;
    if ((int)at == tl_stall_at) {
        tl_stall_at = -1;
        atomic_store(&g_stalled, 1);
        while (!atomic_load(&g_release))
            usleep(200);
        return;
    }
    if (tl_yield != 0 && (unsigned)rand_r(&tl_seed) % tl_yield == 0)
        sched_yield();
}
#endif

struct churn_arg {
    int id;
    unsigned yield; /* hooked build: 1 in yield hook points yields */
};

static void *churn(void *p)
{
    const struct churn_arg *a = p;
    int me = a->id + 1;
#ifdef EVP_RING_TEST_HOOK
    tl_yield = a->yield;
    tl_seed = (unsigned)me * 7919u;
#endif
    unsigned seed = (unsigned)me;
    for (int round = 0; round < CHURN_ROUNDS && !atomic_load_explicit(&g_stop, memory_order_relaxed); round++)
        depot_churn_round(&g_churn, g_owner, me, &seed, WIDTH);
    return NULL;
}

/* Runs threads x churn for at most CHURN_NS, then checks that every value
 * is in the ring exactly once, and drains it to items == 0. */
static void churn_run(int threads, unsigned yield)
{
    CHECK_RC(evp_depot_init(&g_churn, EVP_DEPOT_RING, NVALS, WIDTH), 0);
    for (uint64_t i = 0; i < NVALS; i++)
        evp_depot_push(&g_churn, (uint32_t)i, &i, 1);
    atomic_store(&g_stop, false);
    pthread_t t[threads];
    struct churn_arg args[threads];
    for (int i = 0; i < threads; i++) {
        args[i] = (struct churn_arg){i, yield};
        CHECK(pthread_create(&t[i], NULL, churn, &args[i]) == 0);
    }
    uint64_t end = now_ns() + CHURN_NS;
    while (now_ns() < end)
        usleep(10000);
    atomic_store(&g_stop, true);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    depot_check_each_once(&g_churn, NVALS);
    uint64_t out[WIDTH];
    int got = 0;
    for (uint32_t n; (n = evp_depot_pop(&g_churn, out)) != 0;)
        got += (int)n;
    CHECK_EQ(got, NVALS);
    CHECK_EQ(evp_depot_items(&g_churn), 0);
    evp_depot_fini(&g_churn);
}

static void test_churn_2x_cores(void)
{
    churn_run(2 * online_cpus(), 0);
}

static void test_churn_8x_cores(void)
{
    churn_run(8 * online_cpus(), 0);
}

#ifdef EVP_RING_TEST_HOOK
static void test_churn_yield_2x_cores(void)
{
    churn_run(2 * online_cpus(), 4);
}

static void test_churn_yield_8x_cores(void)
{
    churn_run(8 * online_cpus(), 4);
}

/* ---- a thread stopped inside an operation --------------------------------- */

struct stalled {
    pthread_t thread;
    struct evp_ring *r;
    int at;       /* EVP_RING_AT_PUSH_TICKET: pushes node; POP_TICKET: pops */
    uint32_t node;
    uint64_t got; /* the popped value (pop) */
    uint32_t n;
};

static void *stalled_main(void *p)
{
    struct stalled *s = p;
    tl_stall_at = s->at;
    if (s->at == EVP_RING_AT_PUSH_TICKET) {
        uint64_t v = s->node;
        evp_ring_push(s->r, s->node, &v, 1);
    } else {
        s->n = evp_ring_pop(s->r, &s->got);
    }
    return NULL;
}

/* Starts a thread that stops at hook point `at` and returns once it has. */
static void stall_begin(struct stalled *s, struct evp_ring *r, int at, uint32_t node)
{
    *s = (struct stalled){.r = r, .at = at, .node = node};
    atomic_store(&g_stalled, 0);
    atomic_store(&g_release, 0);
    CHECK(pthread_create(&s->thread, NULL, stalled_main, s) == 0);
    while (!atomic_load(&g_stalled))
        usleep(100);
}

static void stall_end(struct stalled *s)
{
    atomic_store(&g_release, 1);
    pthread_join(s->thread, NULL);
}

/* A push holds a ticket and has not written its entry; K chains are pushed
 * after it (the ck_ring failure: chains behind a stalled producer). One
 * popper, so nothing else holds a claim: it must get all K, in order, and
 * only then see empty. The stalled push then completes on a new ticket. */
static void test_stalled_push_one_popper(void)
{
    enum { K = 32 };
    struct evp_ring r;
    CHECK_RC(evp_ring_init(&r, K + 1, 1), 0);
    struct stalled s;
    stall_begin(&s, &r, EVP_RING_AT_PUSH_TICKET, K);
    for (uint64_t k = 0; k < K; k++)
        evp_ring_push(&r, (uint32_t)k, &k, 1);
    uint64_t out;
    for (uint64_t k = 0; k < K; k++) {
        CHECK_EQ(evp_ring_pop(&r, &out), 1);
        CHECK_EQ(out, k);
    }
    CHECK_EQ(evp_ring_pop(&r, &out), 0); /* the stalled push has not completed */
    stall_end(&s);
    CHECK_EQ(evp_ring_pop(&r, &out), 1);
    CHECK_EQ(out, K);
    CHECK_EQ(evp_ring_pop(&r, &out), 0);
    CHECK_EQ(atomic_load(&r.items), 0);
    evp_ring_fini(&r);
}

/* A pop holds the ticket of the oldest chain and stops: the others do not
 * wait for it; they get the rest, and the stalled pop its chain later. */
static void test_stalled_pop(void)
{
    enum { K = 16 };
    struct evp_ring r;
    CHECK_RC(evp_ring_init(&r, K, 1), 0);
    for (uint64_t k = 0; k < K; k++)
        evp_ring_push(&r, (uint32_t)k, &k, 1);
    struct stalled s;
    stall_begin(&s, &r, EVP_RING_AT_POP_TICKET, 0);
    uint64_t out;
    for (uint64_t k = 1; k < K; k++) {
        CHECK_EQ(evp_ring_pop(&r, &out), 1);
        CHECK_EQ(out, k);
    }
    CHECK_EQ(evp_ring_pop(&r, &out), 0); /* chain 0 is claimed */
    stall_end(&s);
    CHECK_EQ(s.n, 1);
    CHECK_EQ(s.got, 0);
    evp_ring_fini(&r);
}

/* ---- many poppers behind a stalled push ---- */

enum { DRAIN_K = 64 };
static _Atomic int g_taken[DRAIN_K];
static _Atomic int g_done;       /* pops that returned a chain */
static _Atomic int g_violations; /* empty answers with unclaimed chains */
static int g_poppers;

/* Pops until empty. Each other popper holds at most one claim, so at an
 * empty answer at least DRAIN_K - (poppers - 1) pops have returned. */
static void *drain(void *p)
{
    tl_yield = 4;
    tl_seed = (unsigned)(uintptr_t)p;
    uint64_t v;
    while (evp_ring_pop(&g_ring, &v) == 1) {
        if (atomic_fetch_add(&g_taken[v], 1) != 0)
            evp_test_fail(__FILE__, __LINE__, "value %llu popped twice", (unsigned long long)v);
        atomic_fetch_add(&g_done, 1);
    }
    if (atomic_load(&g_done) + (g_poppers - 1) < DRAIN_K)
        atomic_fetch_add(&g_violations, 1);
    return NULL;
}

static void poppers_behind_stalled_push(int poppers)
{
    CHECK_RC(evp_ring_init(&g_ring, DRAIN_K + 1, 1), 0);
    struct stalled s;
    stall_begin(&s, &g_ring, EVP_RING_AT_PUSH_TICKET, DRAIN_K);
    for (uint64_t k = 0; k < DRAIN_K; k++) {
        evp_ring_push(&g_ring, (uint32_t)k, &k, 1);
        atomic_store(&g_taken[k], 0);
    }
    atomic_store(&g_done, 0);
    atomic_store(&g_violations, 0);
    g_poppers = poppers;
    pthread_t t[poppers];
    for (int i = 0; i < poppers; i++)
        CHECK(pthread_create(&t[i], NULL, drain, (void *)(uintptr_t)(i + 1)) == 0);
    for (int i = 0; i < poppers; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(atomic_load(&g_violations), 0);
    CHECK_EQ(atomic_load(&g_done), DRAIN_K);
    for (int k = 0; k < DRAIN_K; k++)
        CHECK_EQ(atomic_load(&g_taken[k]), 1);
    stall_end(&s);
    uint64_t out;
    CHECK_EQ(evp_ring_pop(&g_ring, &out), 1);
    CHECK_EQ(out, DRAIN_K);
    CHECK_EQ(atomic_load(&g_ring.items), 0);
    evp_ring_fini(&g_ring);
}

static void test_stalled_push_poppers_2x_cores(void)
{
    poppers_behind_stalled_push(2 * online_cpus());
}

static void test_stalled_push_poppers_8x_cores(void)
{
    poppers_behind_stalled_push(8 * online_cpus());
}

/* ---- churn beside a stalled push ---- */

#define STALL_ROUNDS 4000
static _Atomic int g_empties;

/* Pop one chain, push it back. K = threads + 1 chains circulate besides the
 * stalled one; each other thread holds at most one (claimed, in hand or
 * being pushed), so at least two are in the ring and unclaimed at every
 * moment: no pop may answer 0. Every thread finishing its rounds while the
 * stalled push sleeps shows that nobody waits for it. */
static void *churn_one(void *p)
{
    int me = (int)(uintptr_t)p;
    tl_yield = 4;
    tl_seed = (unsigned)me * 31u;
    for (int round = 0; round < STALL_ROUNDS; round++) {
        uint64_t v;
        if (evp_ring_pop(&g_ring, &v) == 0) {
            atomic_fetch_add(&g_empties, 1);
            continue;
        }
        int expect = 0;
        if (!atomic_compare_exchange_strong(&g_owner[v], &expect, me))
            evp_test_fail(__FILE__, __LINE__, "value %llu popped by %d while owned by %d",
                          (unsigned long long)v, me, expect);
        expect = me;
        CHECK(atomic_compare_exchange_strong(&g_owner[v], &expect, 0));
        evp_ring_push(&g_ring, (uint32_t)v, &v, 1);
    }
    return NULL;
}

static void churn_beside_stalled_push(int threads)
{
    int k = threads + 1;
    CHECK(k + 1 <= NVALS);
    CHECK_RC(evp_ring_init(&g_ring, (uint32_t)k + 1, 1), 0);
    for (uint64_t i = 0; i < (uint64_t)k; i++)
        evp_ring_push(&g_ring, (uint32_t)i, &i, 1);
    struct stalled s;
    stall_begin(&s, &g_ring, EVP_RING_AT_PUSH_TICKET, (uint32_t)k);
    atomic_store(&g_empties, 0);
    pthread_t t[threads];
    for (int i = 0; i < threads; i++)
        CHECK(pthread_create(&t[i], NULL, churn_one, (void *)(uintptr_t)(i + 1)) == 0);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(atomic_load(&g_stalled), 1);
    CHECK_EQ(atomic_load(&g_release), 0); /* all of it happened during the stall */
    CHECK_EQ(atomic_load(&g_empties), 0);
    stall_end(&s);
    int seen[NVALS] = {0};
    evp_ring_walk(&g_ring, depot_count_vals, seen);
    for (int i = 0; i <= k; i++)
        CHECK_EQ(seen[i], 1);
    CHECK_EQ(atomic_load(&g_ring.items), k + 1);
    evp_ring_fini(&g_ring);
}

static void test_churn_beside_stalled_push_2x_cores(void)
{
    churn_beside_stalled_push(2 * online_cpus());
}

static void test_churn_beside_stalled_push_8x_cores(void)
{
    int threads = 8 * online_cpus();
    churn_beside_stalled_push(threads + 2 <= NVALS ? threads : NVALS - 2);
}
#endif /* EVP_RING_TEST_HOOK */

int main(void)
{
    TEST(test_fifo_and_chains);
    TEST(test_empty_poll_writes_nothing);
    TEST(test_full_capacity);
    TEST(test_wrap_around);
    TEST(test_churn_2x_cores);
    TEST(test_churn_8x_cores);
#ifdef EVP_RING_TEST_HOOK
    TEST(test_churn_yield_2x_cores);
    TEST(test_churn_yield_8x_cores);
    TEST(test_stalled_push_one_popper);
    TEST(test_stalled_pop);
    TEST(test_stalled_push_poppers_2x_cores);
    TEST(test_stalled_push_poppers_8x_cores);
    TEST(test_churn_beside_stalled_push_2x_cores);
    TEST(test_churn_beside_stalled_push_8x_cores);
#endif
    return 0;
}
