/* SPDX-License-Identifier: Apache-2.0 */
/* Host backend: a query racing with the holder's re-record on another
 * stream must never answer "complete" for pending work.
 *
 * Both streams are blocked, so every recording is pending and the only
 * right answer is 0. Stream A has run 1000 callbacks (done = 1000, target
 * 1001); stream B none (done = 0, target 1). One thread re-records the
 * event alternately on B and A; another queries it. A query that pairs B's
 * target (1) with stream A (done 1000) answers complete: the bug of a
 * record that published stream and target separately (5,422 of 1.18 M
 * queries in one pool run). The record must publish them as one unit. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "backend/backend.h"
#include "harness.h"

static _Atomic int g_gate, g_stop;

static void block(void *arg)
{
    while (!atomic_load(&g_gate)) {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}

static void nop(void *arg)
{
}

struct race {
    evp_event_t ev;
    evp_host_stream_t *a, *b;
    long records, queries, complete;
};

static void *recorder(void *arg)
{
    struct race *r = arg;
    while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
        CHECK_RC(evp_backend_host.record(r->ev, r->b), 0);
        CHECK_RC(evp_backend_host.record(r->ev, r->a), 0);
        r->records += 2;
    }
    return NULL;
}

static void *querier(void *arg)
{
    struct race *r = arg;
    while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
        int q = evp_backend_host.query(r->ev);
        CHECK(q == 0 || q == 1);
        r->complete += q;
        r->queries++;
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_query_during_rerecord(void)
{
    struct race r = {0};
    CHECK_RC(evp_host_stream_create(&r.a), 0);
    CHECK_RC(evp_host_stream_create(&r.b), 0);
    for (int i = 0; i < 1000; i++)
        CHECK_RC(evp_host_stream_enqueue(r.a, nop, NULL), 0);
    CHECK_RC(evp_host_stream_synchronize(r.a), 0);
    CHECK_RC(evp_host_stream_enqueue(r.a, block, NULL), 0);
    CHECK_RC(evp_host_stream_enqueue(r.b, block, NULL), 0);
    CHECK_RC(evp_backend_host.create(0, false, &r.ev), 0);
    CHECK_RC(evp_backend_host.record(r.ev, r.a), 0);
    CHECK_RC(evp_backend_host.query(r.ev), 0);

    pthread_t tr, tq;
    CHECK(pthread_create(&tr, NULL, recorder, &r) == 0);
    CHECK(pthread_create(&tq, NULL, querier, &r) == 0);
    /* Long enough for the two threads to interleave many times even on a
     * shared 2-core machine; the old code failed within milliseconds. */
    double end = now_s() + 1.5;
    while (now_s() < end) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&g_stop, 1);
    pthread_join(tr, NULL);
    pthread_join(tq, NULL);
    fprintf(stderr, "  %ld records, %ld queries, %ld answered complete for pending work\n", r.records, r.queries,
            r.complete);
    CHECK(r.queries > 0 && r.records > 0);
    CHECK_EQ(r.complete, 0);

    atomic_store(&g_gate, 1);
    CHECK_RC(evp_host_stream_synchronize(r.a), 0);
    CHECK_RC(evp_host_stream_synchronize(r.b), 0);
    CHECK_RC(evp_backend_host.query(r.ev), 1);
    CHECK_RC(evp_backend_host.record(r.ev, NULL), 0); /* the default stream: complete */
    CHECK_RC(evp_backend_host.query(r.ev), 1);
    CHECK_RC(evp_backend_host.destroy(0, r.ev), 0);
    evp_host_stream_destroy(r.a);
    evp_host_stream_destroy(r.b);
}

int main(void)
{
    TEST(test_query_during_rerecord);
    return 0;
}
