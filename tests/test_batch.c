/* SPDX-License-Identifier: Apache-2.0 */
/* Sub-batches on the host backend: lifecycle, capacity, handles, and every
 * failure path (lease exhaustion, enqueue, record, query, stream creation,
 * teardown with live and in-flight sub-batches), each checked for the
 * documented statuses and for losing nothing: every lease, stream and
 * sub-batch is counted back. `test_batch env` instead checks that
 * EVPOOL_FAULT=record:1 makes the first record fail. */
#include <pthread.h>

#include "backend/fault.h"
#include "batch/rcu.h"
#include "batch_host.h"

static evp_batch_lib_t *make_lib(const char *size, const char *streams)
{
    return batch_host_lib(size, size, streams);
}

/* One library (2 events, 1 stream), one sub-batch, one 4-byte request. */
struct one {
    evp_batch_lib_t *lib;
    evp_batch_t b;
    char src[8], dst[8];
    evp_batch_req_t r;
};

static void one_init(struct one *o)
{
    o->lib = make_lib("2", "1");
    memcpy(o->src, "abcdefg", 8);
    o->r = host_req(o->dst, o->src, 4);
    CHECK_RC(evp_batch_alloc(o->lib, 0, &o->b), 0);
}

static void one_fini(struct one *o, int want_rc)
{
    CHECK_RC(evp_batch_free(o->lib, o->b), 0);
    batch_destroy_all_back(o->lib, want_rc);
}

static void test_lifecycle(void)
{
    evp_batch_lib_t *lib = make_lib("4", "2");
    struct host_xfer x = {0};
    char src[5][64], dst[5][64];
    evp_batch_req_t r[5];
    for (int i = 0; i < 5; i++) {
        memset(src[i], 'a' + i, sizeof src[i]);
        memset(dst[i], 0, sizeof dst[i]);
        r[i] = host_req(dst[i], src[i], 10 + (uint64_t)i);
    }
    evp_batch_t b;
    evp_batch_status_t st;
    uint32_t first = 99;
    CHECK_RC(evp_batch_alloc(lib, 0, &b), 0);
    CHECK(b != EVP_BATCH_NONE);
    CHECK_RC(evp_batch_status(lib, b, &st), 0);
    CHECK_EQ(st.status, EVP_TASK_INITIAL);
    CHECK_RC(evp_batch_task_status(lib, b, 0, &st), EVP_EINVAL);
    CHECK_RC(evp_batch_submit(lib, b, r, 3, host_enqueue, &x, &first), 0);
    CHECK_EQ(first, 0);
    CHECK_RC(evp_batch_submit(lib, b, r + 3, 2, host_enqueue, &x, &first), 0);
    CHECK_EQ(first, 3); /* append-only: ids are indices */
    st = wait_terminal(lib, b, 5000);
    CHECK_EQ(st.status, EVP_TASK_COMPLETED);
    CHECK_EQ(st.transferred_bytes, 10 + 11 + 12 + 13 + 14);
    for (uint32_t i = 0; i < 5; i++) {
        CHECK_RC(evp_batch_task_status(lib, b, i, &st), 0);
        CHECK_EQ(st.status, EVP_TASK_COMPLETED);
        CHECK_EQ(st.transferred_bytes, 10 + i);
        CHECK(memcmp(dst[i], src[i], 10 + i) == 0);
        CHECK_EQ(dst[i][10 + i], 0);
    }
    CHECK_RC(evp_batch_task_status(lib, b, 5, &st), EVP_EINVAL);
    CHECK_EQ(batch_outstanding(lib), 2); /* one lease per submit call */
    CHECK_RC(evp_batch_free(lib, b), 0);
    CHECK_RC(evp_batch_free(lib, b), EVP_ESTALE);
    CHECK_RC(evp_batch_status(lib, b, &st), EVP_ESTALE);
    CHECK_RC(evp_batch_submit(lib, b, r, 1, host_enqueue, &x, NULL), EVP_ESTALE);
    CHECK_RC(evp_batch_free(lib, b + ((evp_batch_t)1000 << 24)), EVP_EINVAL); /* never issued */
    CHECK_RC(evp_batch_free(lib, (evp_batch_t)1 << 24 | 1000000), EVP_EINVAL);
    CHECK_RC(evp_batch_free(lib, EVP_BATCH_NONE), EVP_EINVAL);
    wait_reclaimed(lib, 5000);
    CHECK_EQ(batch_outstanding(lib), 0);
    /* The slot comes back with a new generation: the old handle stays stale. */
    evp_batch_t b2;
    CHECK_RC(evp_batch_alloc(lib, 0, &b2), 0);
    CHECK(b2 != b);
    CHECK_RC(evp_batch_status(lib, b, &st), EVP_ESTALE);
    CHECK_RC(evp_batch_free(lib, b2), 0);
    evp_batch_stats_t fin = batch_destroy_all_back(lib, 0);
    CHECK_EQ(fin.allocs, 2);
    CHECK_EQ(fin.leases, 2);
    CHECK_EQ(fin.stale_frees, 1);
    CHECK_EQ(fin.tasks, 5);
    CHECK_EQ(fin.live_at_destroy, 0);
    CHECK_EQ(fin.streams_created, 1);
}

static void test_capacity(void)
{
    evp_batch_lib_t *lib = make_lib("4", "1");
    struct host_xfer x = {0};
    char buf[8][8];
    evp_batch_req_t r[9];
    for (int i = 0; i < 9; i++)
        r[i] = host_req(buf[i % 8], buf[(i + 1) % 8], 1);
    evp_batch_t b;
    CHECK_RC(evp_batch_alloc(lib, 9, &b), EVP_EINVAL); /* > EVPOOL_BATCH_TASKS */
    CHECK_RC(evp_batch_alloc(lib, 4, &b), 0);
    CHECK_RC(evp_batch_submit(lib, b, r, 5, host_enqueue, &x, NULL), EVP_ENOSPC);
    CHECK_EQ(atomic_load(&x.calls), 0); /* nothing enqueued */
    CHECK_EQ(batch_outstanding(lib), 0);
    CHECK_RC(evp_batch_submit(lib, b, r, 3, host_enqueue, &x, NULL), 0);
    CHECK_RC(evp_batch_submit(lib, b, r, 2, host_enqueue, &x, NULL), EVP_ENOSPC);
    CHECK_RC(evp_batch_submit(lib, b, r, 1, host_enqueue, &x, NULL), 0);
    CHECK_RC(evp_batch_submit(lib, b, r, 0, host_enqueue, &x, NULL), EVP_EINVAL);
    CHECK_EQ(atomic_load(&x.calls), 2);
    r[0].device = EVP_HOST_DEVICES;
    evp_batch_t b2;
    CHECK_RC(evp_batch_alloc(lib, 0, &b2), 0);
    CHECK_RC(evp_batch_submit(lib, b2, r, 1, host_enqueue, &x, NULL), EVP_EINVAL);
    CHECK_EQ(wait_terminal(lib, b, 5000).status, EVP_TASK_COMPLETED);
    CHECK_RC(evp_batch_free(lib, b), 0);
    CHECK_RC(evp_batch_free(lib, b2), 0);
    batch_destroy_all_back(lib, 0);
}

/* Exhaustion (fail policy): the call's error, nothing appended. */
static void test_lease_exhaustion(void)
{
    evp_batch_lib_t *lib = make_lib("1", "1");
    _Atomic int gate = 0;
    struct host_xfer held = {.gate = &gate}, x = {0};
    char a[16] = "0123456789", d[16];
    evp_batch_req_t r = host_req(d, a, 10);
    evp_batch_t b1, b2;
    evp_batch_status_t st;
    CHECK_RC(evp_batch_alloc(lib, 0, &b1), 0);
    CHECK_RC(evp_batch_alloc(lib, 0, &b2), 0);
    CHECK_RC(evp_batch_submit(lib, b1, &r, 1, host_enqueue, &held, NULL), 0);
    CHECK_RC(evp_batch_submit(lib, b2, &r, 1, host_enqueue, &x, NULL), EVP_EAGAIN);
    CHECK_EQ(atomic_load(&x.calls), 0);
    CHECK_RC(evp_batch_status(lib, b2, &st), 0);
    CHECK_EQ(st.status, EVP_TASK_INITIAL); /* no task of the call exists, none PENDING */
    CHECK_RC(evp_batch_task_status(lib, b2, 0, &st), EVP_EINVAL);
    atomic_store(&gate, 1);
    CHECK_EQ(wait_terminal(lib, b1, 5000).status, EVP_TASK_COMPLETED);
    CHECK_RC(evp_batch_free(lib, b1), 0);
    wait_reclaimed(lib, 5000);
    CHECK_RC(evp_batch_submit(lib, b2, &r, 1, host_enqueue, &x, NULL), 0);
    CHECK_EQ(wait_terminal(lib, b2, 5000).status, EVP_TASK_COMPLETED);
    CHECK_RC(evp_batch_free(lib, b2), 0);
    evp_batch_stats_t fin = batch_destroy_all_back(lib, 0);
    CHECK_EQ(fin.submit_errors, 1);
    CHECK_EQ(fin.leases, 2);
}

/* The callback fails: tasks FAILED, lease back at once, error returned. */
static void test_enqueue_failure(void)
{
    evp_batch_lib_t *lib = make_lib("2", "1");
    struct host_xfer bad = {.fail = EVP_ENOMEM}, weird = {.fail = 7}, good = {0};
    char a[8] = "abcdefg", d[8];
    evp_batch_req_t r[2] = {host_req(d, a, 4), host_req(d, a, 4)};
    evp_batch_t b;
    uint32_t first = 99;
    evp_batch_status_t st;
    CHECK_RC(evp_batch_alloc(lib, 0, &b), 0);
    CHECK_RC(evp_batch_submit(lib, b, r, 2, host_enqueue, &good, &first), 0);
    CHECK_RC(evp_batch_submit(lib, b, r, 2, host_enqueue, &bad, &first), EVP_ENOMEM);
    CHECK_EQ(first, 2);
    CHECK_RC(evp_batch_submit(lib, b, r, 1, host_enqueue, &weird, &first), EVP_EBACKEND);
    CHECK_EQ(first, 4);
    batch_check_failed(lib, b, 2, 3);
    CHECK_EQ(batch_outstanding(lib), 1); /* only the good call's lease */
    st = wait_terminal(lib, b, 5000);
    CHECK_EQ(st.status, EVP_TASK_FAILED); /* the worst, once all are terminal */
    CHECK_EQ(st.transferred_bytes, 8);
    CHECK_RC(evp_batch_free(lib, b), 0);
    batch_destroy_all_back(lib, 0);
}

/* Record fails: FAILED (never COMPLETED, even after the stream drained),
 * lease back, EVP_EBACKEND. */
static void test_record_failure(void)
{
    struct one o;
    struct host_xfer x = {0};
    uint32_t first;
    evp_batch_status_t st;
    one_init(&o);
    CHECK_RC(evp_fault_arm(EVP_FAULT_RECORD, 1, 1), 0);
    CHECK_RC(evp_batch_submit(o.lib, o.b, &o.r, 1, host_enqueue, &x, &first), EVP_EBACKEND);
    CHECK_EQ(evp_fault_injected(EVP_FAULT_RECORD), 1);
    CHECK_EQ(batch_outstanding(o.lib), 0);
    sleep_ns(20000000);
    batch_check_failed(o.lib, o.b, first, 1);
    CHECK_RC(evp_batch_status(o.lib, o.b, &st), 0);
    CHECK_EQ(st.status, EVP_TASK_FAILED);
    one_fini(&o, 0);
}

/* Query fails: that call's tasks FAILED and stay FAILED; its lease still
 * goes back on reclaim. */
static void test_query_failure(void)
{
    evp_batch_lib_t *lib = make_lib("2", "1");
    _Atomic int gate = 0;
    struct host_xfer held = {.gate = &gate}, x = {0};
    char a[8] = "abcdefg", d[8];
    evp_batch_req_t r = host_req(d, a, 4);
    evp_batch_t b;
    evp_batch_status_t st;
    CHECK_RC(evp_batch_alloc(lib, 0, &b), 0);
    CHECK_RC(evp_batch_submit(lib, b, &r, 1, host_enqueue, &held, NULL), 0);
    CHECK_RC(evp_batch_submit(lib, b, &r, 1, host_enqueue, &x, NULL), 0);
    CHECK_RC(evp_fault_arm(EVP_FAULT_QUERY, 1, 1), 0);
    CHECK_RC(evp_batch_task_status(lib, b, 0, &st), 0);
    CHECK_EQ(st.status, EVP_TASK_FAILED);
    atomic_store(&gate, 1);
    st = wait_terminal(lib, b, 5000);
    CHECK_EQ(st.status, EVP_TASK_FAILED);
    CHECK_EQ(st.transferred_bytes, 4); /* task 1 completed */
    CHECK_RC(evp_batch_task_status(lib, b, 0, &st), 0);
    CHECK_EQ(st.status, EVP_TASK_FAILED); /* sticky */
    CHECK_RC(evp_batch_task_status(lib, b, 1, &st), 0);
    CHECK_EQ(st.status, EVP_TASK_COMPLETED);
    CHECK_RC(evp_batch_free(lib, b), 0);
    wait_reclaimed(lib, 5000);
    CHECK_EQ(batch_outstanding(lib), 0);
    batch_destroy_all_back(lib, 0);
}

/* Stream creation fails: error, nothing appended, lease back; the next
 * submit creates it. */
static void test_stream_failure(void)
{
    struct one o;
    struct host_xfer x = {0};
    evp_batch_status_t st;
    one_init(&o);
    CHECK_RC(evp_fault_arm(EVP_FAULT_STREAM_CREATE, 1, 1), 0);
    CHECK_RC(evp_batch_submit(o.lib, o.b, &o.r, 1, host_enqueue, &x, NULL), EVP_EBACKEND);
    CHECK_EQ(atomic_load(&x.calls), 0);
    CHECK_EQ(batch_outstanding(o.lib), 0);
    CHECK_RC(evp_batch_status(o.lib, o.b, &st), 0);
    CHECK_EQ(st.status, EVP_TASK_INITIAL);
    CHECK_RC(evp_batch_submit(o.lib, o.b, &o.r, 1, host_enqueue, &x, NULL), 0);
    CHECK_EQ(wait_terminal(o.lib, o.b, 5000).status, EVP_TASK_COMPLETED);
    one_fini(&o, 0);
}

/* Free with work in flight: returns at once; the lease goes back once the
 * work is done, with nobody calling into evpool. */
static void test_lazy_free(void)
{
    struct one o;
    _Atomic int gate = 0;
    struct host_xfer held = {.gate = &gate};
    one_init(&o);
    evp_batch_lib_t *lib = o.lib;
    evp_batch_t b = o.b;
    CHECK_RC(evp_batch_submit(lib, b, &o.r, 1, host_enqueue, &held, NULL), 0);
    uint64_t t0 = now_ns();
    CHECK_RC(evp_batch_free(lib, b), 0);
    uint64_t free_ns = now_ns() - t0;
    sleep_ns(100000000); /* thousands of reclaimer polls: the work is still held */
    evp_batch_stats_t st;
    evp_batch_lib_stats(lib, &st);
    CHECK_EQ(st.pending, 1);
    CHECK_EQ(st.deferred, 1);
    CHECK_EQ(batch_outstanding(lib), 1);
    atomic_store(&gate, 1);
    uint64_t t1 = now_ns();
    while (batch_outstanding(lib) != 0) {
        CHECK(now_ns() - t1 < 5000000000ull);
        sleep_ns(50000);
    }
    uint64_t delay = now_ns() - t1;
    wait_reclaimed(lib, 5000);
    fprintf(stderr, "  free() took %.1f us; lease back %.2f ms after the work was released\n",
            free_ns / 1e3, delay / 1e6);
    CHECK(delay < 1000000000ull);
    batch_destroy_all_back(lib, 0);
}

static void *open_gate_later(void *arg)
{
    sleep_ns(100000000);
    atomic_store((_Atomic int *)arg, 1);
    return NULL;
}

/* Destroy with sub-batches live (never freed), freed but in flight, and
 * idle: reported, all released once, no crash. */
static void test_destroy_live(void)
{
    evp_batch_lib_t *lib = make_lib("4", "2");
    _Atomic int gate = 0;
    struct host_xfer held = {.gate = &gate};
    char a[8] = "abcdefg", d[3][8];
    evp_batch_t b[3];
    for (int i = 0; i < 3; i++) {
        evp_batch_req_t r = host_req(d[i], a, 5);
        CHECK_RC(evp_batch_alloc(lib, 0, &b[i]), 0);
        if (i < 2)
            CHECK_RC(evp_batch_submit(lib, b[i], &r, 1, host_enqueue, &held, NULL), 0);
    }
    CHECK_RC(evp_batch_free(lib, b[1]), 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, open_gate_later, &gate) == 0);
    evp_batch_stats_t fin = batch_destroy_all_back(lib, 0);
    pthread_join(t, NULL);
    CHECK_EQ(fin.live_at_destroy, 2);
    CHECK(memcmp(d[0], a, 5) == 0 && memcmp(d[1], a, 5) == 0); /* waited for the work */
}

/* A backend destroy that fails is reported; nothing leaks (ASan). */
static void test_destroy_fault(void)
{
    struct one o;
    struct host_xfer x = {0};
    one_init(&o);
    CHECK_RC(evp_batch_submit(o.lib, o.b, &o.r, 1, host_enqueue, &x, NULL), 0);
    CHECK_RC(evp_fault_arm(EVP_FAULT_DESTROY, 1, 1), 0);
    CHECK_RC(evp_fault_arm(EVP_FAULT_STREAM_DESTROY, 1, 1), 0);
    one_fini(&o, EVP_EBACKEND);
    evp_fault_disarm();
}

static void *poll_once(void *arg)
{
    evp_batch_status_t st;
    void **a = arg;
    CHECK_RC(evp_batch_status(a[0], *(evp_batch_t *)a[1], &st), 0);
    return NULL;
}

/* Threads are registered with liburcu once, lazily, and unregistered at exit. */
static void test_thread_registration(void)
{
    evp_batch_lib_t *lib = make_lib("2", "1");
    evp_batch_t b;
    CHECK_RC(evp_batch_alloc(lib, 0, &b), 0);
    long before = evp_rcu_registered_threads();
    void *arg[2] = {lib, &b};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, poll_once, arg) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(evp_rcu_registered_threads(), before);
    /* this thread: registered by the first call, and only once */
    poll_once(arg);
    long mine = evp_rcu_registered_threads();
    poll_once(arg);
    CHECK_EQ(evp_rcu_registered_threads(), mine);
    CHECK_RC(evp_batch_free(lib, b), 0);
    batch_destroy_all_back(lib, 0);
}

/* EVPOOL_FAULT=record:1 (set by CTest): the first record fails. */
static int test_env(void)
{
    struct one o;
    struct host_xfer x = {0};
    one_init(&o);
    CHECK_RC(evp_batch_submit(o.lib, o.b, &o.r, 1, host_enqueue, &x, NULL), EVP_EBACKEND);
    CHECK_RC(evp_batch_submit(o.lib, o.b, &o.r, 1, host_enqueue, &x, NULL), 0);
    one_fini(&o, 0);
    fprintf(stderr, "EVPOOL_FAULT=%s: first record failed as armed\n", getenv("EVPOOL_FAULT"));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "env") == 0)
        return test_env();
    evp_fault_enable();
    TEST(test_lifecycle);
    TEST(test_capacity);
    TEST(test_lease_exhaustion);
    TEST(test_enqueue_failure);
    TEST(test_record_failure);
    TEST(test_query_failure);
    TEST(test_stream_failure);
    TEST(test_lazy_free);
    TEST(test_destroy_live);
    TEST(test_destroy_fault);
    TEST(test_thread_registration);
    return 0;
}
