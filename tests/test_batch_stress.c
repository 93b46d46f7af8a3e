/* SPDX-License-Identifier: Apache-2.0 */
/* Stress: owner threads (argv[1] x cores; CTest runs 2x and 8x) allocate
 * sub-batches, submit 1-2 calls of 1-2 tasks (host work that sometimes
 * lingers), publish them, and free them — half at once with the work in
 * flight, half after polling them to COMPLETED — while poller threads poll
 * published handles and sometimes free them too, racing the owners.
 *
 * Checked: a COMPLETED status always comes with its own work done (never a
 * status read from another sub-batch's event); a poll after the free is
 * EVP_ESTALE or a status of the sub-batch itself; exactly one free of each
 * sub-batch succeeds; at the end every sub-batch and every lease is counted
 * back (allocs == frees == reclaimed, leases == returns, pool outstanding
 * 0, streams destroyed == created). EVP_STRESS_ITERS sets the iterations
 * per owner; every run is also bounded by EVP_STRESS_SECONDS (default 20). */
#include <pthread.h>
#include <unistd.h>

#include "batch_host.h"

#define RECENT 64

struct rec {
    _Atomic evp_batch_t handle;
    _Atomic uint32_t ntasks;     /* tasks submitted (published after the submits) */
    _Atomic uint8_t done[4];     /* set by the work itself */
};

static evp_batch_lib_t *g_lib;
static struct rec *g_recs;
static _Atomic uint32_t g_recent[RECENT]; /* record id + 1 */
static _Atomic int g_stop;
static long g_iters;
static uint64_t g_deadline;
static _Atomic uint64_t g_allocs, g_frees, g_submits, g_again, g_polls, g_stale, g_completed;

struct mark {
    _Atomic uint8_t *flag;
    int linger;
};

static void mark_run(void *arg)
{
    struct mark *m = arg;
    if (m->linger)
        sleep_ns(200000);
    atomic_store_explicit(m->flag, 1, memory_order_relaxed);
    free(m);
}

/* reqs[i].local is the task's done flag; reqs[i].offset != 0: linger. */
static int mark_enqueue(void *ctx, void *stream, int device, const evp_batch_req_t *reqs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        struct mark *m = malloc(sizeof *m);
        CHECK(m);
        *m = (struct mark){reqs[i].local, reqs[i].offset != 0};
        CHECK_RC(evp_host_stream_enqueue(stream, mark_run, m), 0);
    }
    return 0;
}

static void free_counted(evp_batch_t b)
{
    int rc = evp_batch_free(g_lib, b);
    if (rc == 0)
        atomic_fetch_add(&g_frees, 1);
    else if (rc != EVP_ESTALE)
        evp_test_fail(__FILE__, __LINE__, "free: %s", evp_strerror(rc));
}

static void *owner(void *arg)
{
    uint32_t me = (uint32_t)(uintptr_t)arg;
    unsigned seed = me * 7919u + 1;
    for (long i = 0; i < g_iters && now_ns() < g_deadline; i++) {
        uint32_t id = me * (uint32_t)g_iters + (uint32_t)i;
        struct rec *r = &g_recs[id];
        evp_batch_t b;
        int rc;
        while ((rc = evp_batch_alloc(g_lib, 4, &b)) == EVP_EAGAIN)
            sleep_ns(100000);
        CHECK_RC(rc, 0);
        atomic_fetch_add(&g_allocs, 1);
        atomic_store_explicit(&r->handle, b, memory_order_release);
        uint32_t n = 0, calls = 1 + rand_r(&seed) % 2;
        for (uint32_t c = 0; c < calls; c++) {
            evp_batch_req_t q[2];
            uint32_t k = 1 + rand_r(&seed) % 2;
            for (uint32_t j = 0; j < k; j++)
                q[j] = (evp_batch_req_t){.device = (int)(me % 2), .local = (void *)&r->done[n + j],
                                         .offset = rand_r(&seed) % 5 == 0, .length = 100 + n + j};
            uint32_t first;
            rc = evp_batch_submit(g_lib, b, q, k, mark_enqueue, NULL, &first);
            if (rc == EVP_EAGAIN) { /* exhausted past the wait timeout: nothing appended */
                atomic_fetch_add(&g_again, 1);
                break;
            }
            CHECK_RC(rc, 0);
            CHECK_EQ(first, n);
            n += k;
            atomic_fetch_add(&g_submits, 1);
        }
        atomic_store_explicit(&r->ntasks, n, memory_order_release);
        atomic_store_explicit(&g_recent[rand_r(&seed) % RECENT], id + 1, memory_order_release);
        if (rand_r(&seed) % 2 && n) {
            /* Poll to the end, unless a poller frees it first (EVP_ESTALE). */
            evp_batch_status_t st = {.status = EVP_TASK_PENDING};
            uint64_t t0 = now_ns();
            while ((rc = evp_batch_status(g_lib, b, &st)) == 0 && st.status == EVP_TASK_PENDING) {
                CHECK(now_ns() - t0 < 10000000000ull);
                sleep_ns(20000);
            }
            CHECK(rc == 0 || rc == EVP_ESTALE);
            if (rc == 0) {
                CHECK_EQ(st.status, EVP_TASK_COMPLETED);
                for (uint32_t t = 0; t < n; t++)
                    CHECK(atomic_load(&r->done[t]));
            }
        }
        free_counted(b);
        if (i % 16 == 0)
            CHECK_RC(evp_batch_free(g_lib, b), EVP_ESTALE);
    }
    return NULL;
}

static void *poller(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    while (!atomic_load(&g_stop)) {
        uint32_t id1 = atomic_load_explicit(&g_recent[rand_r(&seed) % RECENT], memory_order_acquire);
        if (!id1) {
            sched_yield();
            continue;
        }
        struct rec *r = &g_recs[id1 - 1];
        evp_batch_t b = atomic_load_explicit(&r->handle, memory_order_acquire);
        uint32_t n = atomic_load_explicit(&r->ntasks, memory_order_acquire);
        evp_batch_status_t st;
        atomic_fetch_add(&g_polls, 1);
        if (n == 0 || rand_r(&seed) % 4 == 0) {
            int rc = evp_batch_status(g_lib, b, &st);
            if (rc == EVP_ESTALE) {
                atomic_fetch_add(&g_stale, 1);
                continue;
            }
            CHECK_RC(rc, 0);
            if (st.status == EVP_TASK_COMPLETED) /* every task's own work ran */
                for (uint32_t t = 0; t < n; t++)
                    CHECK(atomic_load(&r->done[t]));
        } else {
            uint32_t t = rand_r(&seed) % n;
            int rc = evp_batch_task_status(g_lib, b, t, &st);
            if (rc == EVP_ESTALE) {
                atomic_fetch_add(&g_stale, 1);
                continue;
            }
            CHECK_RC(rc, 0);
            CHECK(st.status == EVP_TASK_PENDING || st.status == EVP_TASK_COMPLETED);
            if (st.status == EVP_TASK_COMPLETED) {
                CHECK(atomic_load(&r->done[t])); /* never another sub-batch's completion */
                CHECK_EQ(st.transferred_bytes, 100 + t);
                atomic_fetch_add(&g_completed, 1);
            }
        }
        if (rand_r(&seed) % 64 == 0)
            free_counted(b); /* races the owner's free: one of them wins */
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long mult = argc > 1 ? atol(argv[1]) : 2;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int owners = (int)(mult * (cores > 0 ? cores : 2));
    int pollers = owners / 2 > 2 ? owners / 2 : 2;
    const char *it = getenv("EVP_STRESS_ITERS"), *sec = getenv("EVP_STRESS_SECONDS");
    g_iters = it ? atol(it) : 16000 / owners;
    g_deadline = now_ns() + (uint64_t)(sec ? atol(sec) : 20) * 1000000000u;
    g_recs = calloc((size_t)owners * (size_t)g_iters, sizeof *g_recs);
    CHECK(g_recs);
    evp_config_t cfg = evp_test_config("EVPOOL_SIZE", "32", "EVPOOL_MAX", "512", "EVPOOL_BATCH_SLAB", "64",
                                       "EVPOOL_BATCH_MAX", "2048", "EVPOOL_BATCH_TASKS", "4", "EVPOOL_STREAMS",
                                       "4", NULL);
    CHECK_RC(evp_batch_lib_create(&cfg, &g_lib), 0);
    fprintf(stderr, "%d owners, %d pollers, %ld iterations each\n", owners, pollers, g_iters);
    pthread_t t[owners + pollers];
    for (int i = 0; i < pollers; i++)
        CHECK(pthread_create(&t[owners + i], NULL, poller, (void *)(uintptr_t)(i + 1)) == 0);
    for (int i = 0; i < owners; i++)
        CHECK(pthread_create(&t[i], NULL, owner, (void *)(uintptr_t)i) == 0);
    for (int i = 0; i < owners; i++)
        pthread_join(t[i], NULL);
    atomic_store(&g_stop, 1);
    for (int i = 0; i < pollers; i++)
        pthread_join(t[owners + i], NULL);

    uint64_t waited = wait_reclaimed(g_lib, 30000);
    evp_batch_stats_t st;
    evp_batch_lib_stats(g_lib, &st);
    uint64_t out = 0;
    for (int d = 0; d < 2; d++) {
        evp_pool_t *p;
        evp_pool_stats_t ps;
        CHECK_RC(evp_batch_lib_pool(g_lib, d, &p), 0);
        evp_pool_stats(p, &ps);
        out += ps.outstanding;
    }
    fprintf(stderr,
            "allocs %llu frees %llu submits %llu (EAGAIN %llu) polls %llu (stale %llu, completed %llu); "
            "deferred reclaims %llu, longest free->reclaim %.2f ms, drained in %.2f ms\n",
            (unsigned long long)g_allocs, (unsigned long long)g_frees, (unsigned long long)g_submits,
            (unsigned long long)g_again, (unsigned long long)g_polls, (unsigned long long)g_stale,
            (unsigned long long)g_completed, (unsigned long long)st.deferred, st.reclaim_max_ns / 1e6,
            waited / 1e6);
    CHECK_EQ(out, 0);
    CHECK_EQ(st.allocs, g_allocs);
    CHECK_EQ(st.frees, g_frees);
    CHECK_EQ(st.frees, st.allocs); /* exactly one free per sub-batch succeeded */
    CHECK_EQ(st.reclaimed, st.frees);
    CHECK_EQ(st.submits, g_submits);
    CHECK_EQ(st.leases, g_submits);
    CHECK_EQ(st.lease_returns, st.leases);
    evp_batch_stats_t fin;
    CHECK_RC(evp_batch_lib_destroy(g_lib, &fin), 0);
    CHECK_EQ(fin.live_at_destroy, 0);
    CHECK_EQ(fin.streams_destroyed, fin.streams_created);
    free(g_recs);
    return 0;
}
