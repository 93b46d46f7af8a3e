/* SPDX-License-Identifier: Apache-2.0 */
/* Soak: EVP_SOAK_SECONDS (default 60) of random operations on the host
 * backend, in epochs of a few seconds. Each epoch builds a fresh world — a
 * shared pool and a sub-batch library with random sizes (pools down to one
 * event, `wait` or `fail` on exhaustion, thread caches on or off, 1..4
 * streams) — runs 2x or 8x the cores of worker threads on it (alternating),
 * then stops them, checks every count and destroys the world: pools and
 * libraries are destroyed and recreated all along.
 *
 * A worker picks at random:
 *   pool      lease 1..3 events, record some on its own host stream behind
 *             a short callback, query (ENODATA before the record, then
 *             pending or done), wait for done, return; every held slot is
 *             stamped with its holder (two holders fail the test); now and
 *             then the returned lease is used again: return, query, record
 *             and event must all answer EVP_ESTALE;
 *   owner     alloc a sub-batch into its ring of records (published to the
 *             pollers at once), submit 1..3 calls of 1..2 tasks whose work
 *             sets the record's done bits (some linger), then free it at
 *             once (work in flight), or after polling it to COMPLETED, or
 *             leave it to the pollers (freed when the record comes round);
 *   poller    poll a random record of a random worker — status or one
 *             task's — and free it now and then, racing its owner and the
 *             other pollers;
 *   private   rarely: create a private pool (1..4 events) or a private
 *             library, use it, and destroy it with a lease or a sub-batch
 *             still out (teardown must report and release them).
 *
 * Checked as it runs: a COMPLETED status (whole or per task) always comes
 * with the done bits of its own tasks (never another sub-batch's event);
 * owner-polled sub-batches end COMPLETED with every byte counted; a call
 * answers only its documented codes. At the end of each epoch: every count
 * in equals its count out (pool leases == returns == the pool's counters,
 * outstanding 0, events destroyed == created; sub-batches allocated ==
 * freed (exactly one free of each succeeded) == reclaimed, leases taken ==
 * given back, streams destroyed == created; every piece of work enqueued
 * ran and was freed). Stopping must not hang: a worker that does not join
 * within 60 s fails the test.
 *
 * RSS (/proc/self/statm) is sampled every second after a warm-up (a sixth
 * of the run, at most 5 minutes): the median of the last quarter of the
 * samples may exceed the median of the first quarter by at most
 * EVP_SOAK_RSS_MIB (default 16). Under a sanitizer the shadow memory and
 * quarantine dominate RSS, so there it is reported, not enforced (the leak
 * checker covers leaks). A summary line is printed every few seconds
 * (ops/s, RSS, what is outstanding) and a final tally at the end. */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "batch_host.h"

#define RECS 8          /* records per worker (its sub-batches in flight at most) */
#define MAX_TASKS 6     /* 3 calls x 2 tasks: bits in a record's done word */
#define JOIN_SECONDS 60 /* a worker that does not stop within this is a hang */
#define MAX_THREADS 256 /* 8x the cores, up to this */

/* One sub-batch as its owner published it. word = seq << 16 | done bits:
 * the work sets bit i only while seq is the one it was enqueued under, so
 * work of a previous sub-batch of the record never marks the next one. */
struct rec {
    _Atomic uint64_t word;
    _Atomic evp_batch_t handle;  /* NONE while the record is being reused */
    _Atomic uint32_t ntasks;     /* tasks submitted so far */
};

/* Counters of one worker (relaxed atomics: the main thread sums them). */
struct tally {
    _Atomic uint64_t ops, leases, returns, again, stale_uses, stale_returns;
    _Atomic uint64_t allocs, alloc_again, frees, free_stale, submits, submit_again, submit_stale;
    _Atomic uint64_t polls, poll_stale, completed_checked, owner_completed;
    _Atomic uint64_t private_pools, private_libs, streams_made, streams_gone;
};

struct worker {
    pthread_t tid;
    uint32_t id;
    unsigned seed;
    struct rec recs[RECS];
    uint64_t seq;
    struct tally t;
    _Atomic int done;
} __attribute__((aligned(64)));

/* The world of one epoch, read-only for the workers while they run. */
static struct {
    evp_pool_t *pool;
    evp_batch_lib_t *lib;
    _Atomic uint32_t *owner; /* per slot of pool: 0 free, else worker id + 1 */
    uint32_t max;
    struct worker *w;
    uint32_t nw;
    _Atomic int stop;
} g;

/* Work enqueued and work run (and freed): equal once the streams drained. */
static _Atomic uint64_t g_work_made, g_work_run;

static unsigned rnd(unsigned *seed, unsigned n)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 8) % n;
}

static void add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? atol(v) : dflt;
}

/* ---- the epoch's world -------------------------------------------------- */

static void knob(evp_config_t *c, evp_knob_t k, uint64_t v)
{
    char err[256];
    if (evp_config_set_u64(c, k, v, err, sizeof err) != 0)
        evp_test_fail(__FILE__, __LINE__, "%s", err);
}

/* A host config with random pool knobs: size 1..64, max up to 4x, wait or
 * fail, thread cache 0..64 (<= max), a short wait. */
static evp_config_t random_pool_config(unsigned *seed, char *desc, size_t len)
{
    static const uint32_t sizes[] = {1, 1, 2, 3, 4, 8, 16, 64};
    static const uint32_t caches[] = {0, 0, 1, 4, 64};
    evp_config_t c = evp_test_config(NULL);
    uint32_t size = sizes[rnd(seed, 8)];
    uint32_t max = size * (1u + rnd(seed, 4));
    uint32_t cache = caches[rnd(seed, 5)];
    cache = cache > max ? max : cache;
    bool wait = rnd(seed, 2);
    knob(&c, EVP_KNOB_SIZE, size);
    knob(&c, EVP_KNOB_MAX, max);
    knob(&c, EVP_KNOB_THREAD_CACHE, cache);
    knob(&c, EVP_KNOB_ON_EXHAUST, wait ? EVP_EXHAUST_WAIT : EVP_EXHAUST_FAIL);
    knob(&c, EVP_KNOB_WAIT_TIMEOUT_US, rnd(seed, 2) ? 1000 : 20000);
    /* Each pool applies its level process-wide: keep teardown reports of
     * the leases left out on purpose quiet. */
    knob(&c, EVP_KNOB_LOG, EVP_LOG_ERROR);
    snprintf(desc, len, "%u..%u %s cache %u", size, max, wait ? "wait" : "fail", cache);
    return c;
}

static evp_config_t random_lib_config(unsigned *seed, char *desc, size_t len)
{
    char pool[64];
    evp_config_t c = random_pool_config(seed, pool, sizeof pool);
    uint32_t slab = 1u << rnd(seed, 7); /* 1..64 */
    uint32_t streams = 1 + rnd(seed, 4);
    knob(&c, EVP_KNOB_BATCH_SLAB, slab);
    static const uint32_t extra[] = {16, 256, 1024}; /* small: allocs meet EVPOOL_BATCH_MAX */
    knob(&c, EVP_KNOB_BATCH_MAX, slab * (1u + rnd(seed, 16)) + extra[rnd(seed, 3)]);
    knob(&c, EVP_KNOB_BATCH_TASKS, MAX_TASKS);
    knob(&c, EVP_KNOB_STREAMS, streams);
    snprintf(desc, len, "events %s, slab %u, %u stream(s)", pool, slab, streams);
    return c;
}

/* ---- work the sub-batches enqueue --------------------------------------- */

struct mark {
    struct rec *rec;
    uint64_t seq;
    uint32_t bit;
    bool linger;
};

static void mark_run(void *arg)
{
    struct mark *m = arg;
    if (m->linger)
        sleep_ns(100000);
    uint64_t w = atomic_load(&m->rec->word);
    /* Sets the bit only under the sequence it was enqueued for. */
    while (w >> 16 == m->seq && !atomic_compare_exchange_weak(&m->rec->word, &w, w | (1u << m->bit)))
        ;
    free(m);
    add(&g_work_run, 1);
}

/* reqs[i].local is the rec, .offset its seq, .opcode the task's bit,
 * .target != 0: linger. */
static int mark_enqueue(void *ctx, void *stream, int device, const evp_batch_req_t *reqs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        struct mark *m = malloc(sizeof *m);
        CHECK(m);
        *m = (struct mark){reqs[i].local, reqs[i].offset, reqs[i].opcode, reqs[i].target != 0};
        add(&g_work_made, 1);
        CHECK_RC(evp_host_stream_enqueue(stream, mark_run, m), 0);
    }
    return 0;
}

/* ---- pool operations ---------------------------------------------------- */

static void stamp(evp_lease_t l, uint32_t me)
{
    uint32_t expect = 0;
    if (!atomic_compare_exchange_strong(&g.owner[evp_lease_slot(l)], &expect, me))
        evp_test_fail(__FILE__, __LINE__, "slot %u leased by worker %u while held by worker %u",
                      evp_lease_slot(l), me - 1, expect - 1);
}

static void unstamp(evp_lease_t l, uint32_t me)
{
    uint32_t expect = me;
    if (!atomic_compare_exchange_strong(&g.owner[evp_lease_slot(l)], &expect, 0))
        evp_test_fail(__FILE__, __LINE__, "slot %u returned by worker %u but held by %u", evp_lease_slot(l),
                      me - 1, expect - 1);
}

static void nop(void *arg)
{
    if (arg)
        sleep_ns(50000);
}

/* Polls a recorded lease until its work is done (bounded: a hang fails). */
static void lease_wait_done(evp_lease_t l)
{
    uint64_t t0 = now_ns();
    int q;
    while ((q = evp_pool_query(g.pool, l)) == 0) {
        if (now_ns() - t0 > 30000000000ull)
            evp_test_fail(__FILE__, __LINE__, "lease still pending after 30 s");
        sched_yield();
    }
    CHECK_RC(q, 1);
}

static void op_pool(struct worker *w, evp_host_stream_t *s)
{
    evp_lease_t l[3];
    uint32_t n = 1 + rnd(&w->seed, 3), k = 0;
    for (; k < n; k++) {
        int rc = evp_pool_lease(g.pool, &l[k]);
        if (rc == EVP_EAGAIN) {
            add(&w->t.again, 1);
            break;
        }
        CHECK_RC(rc, 0);
        add(&w->t.leases, 1);
        stamp(l[k], w->id + 1);
    }
    for (uint32_t i = 0; i < k; i++) {
        if (rnd(&w->seed, 2)) {
            CHECK_RC(evp_pool_query(g.pool, l[i]), EVP_ENODATA);
            continue;
        }
        CHECK_RC(evp_host_stream_enqueue(s, nop, rnd(&w->seed, 4) ? NULL : s), 0);
        CHECK_RC(evp_pool_record(g.pool, l[i], s), 0);
        int q = evp_pool_query(g.pool, l[i]);
        CHECK(q == 0 || q == 1);
        if (rnd(&w->seed, 2))
            lease_wait_done(l[i]);
    }
    for (uint32_t i = 0; i < k; i++) {
        unstamp(l[i], w->id + 1);
        CHECK_RC(evp_pool_return(g.pool, l[i]), 0);
        add(&w->t.returns, 1);
        if (rnd(&w->seed, 8) == 0) {
            void *ev;
            CHECK_RC(evp_pool_return(g.pool, l[i]), EVP_ESTALE);
            CHECK_RC(evp_pool_query(g.pool, l[i]), EVP_ESTALE);
            CHECK_RC(evp_pool_record(g.pool, l[i], s), EVP_ESTALE);
            CHECK_RC(evp_pool_event(g.pool, l[i], &ev), EVP_ESTALE);
            add(&w->t.stale_uses, 1);
            add(&w->t.stale_returns, 1);
        }
    }
}

/* ---- sub-batch operations ----------------------------------------------- */

static void free_counted(struct worker *w, evp_batch_t b)
{
    int rc = evp_batch_free(g.lib, b);
    if (rc == 0)
        add(&w->t.frees, 1);
    else if (rc == EVP_ESTALE)
        add(&w->t.free_stale, 1);
    else
        evp_test_fail(__FILE__, __LINE__, "free: %s", evp_strerror(rc));
}

/* Polls a published record once: a status from the sub-batch itself or
 * EVP_ESTALE; COMPLETED only with its own tasks' done bits. */
static void poll_rec(struct worker *w, struct rec *r, bool whole)
{
    uint64_t w1 = atomic_load(&r->word);
    evp_batch_t b = atomic_load(&r->handle);
    uint32_t n = atomic_load(&r->ntasks);
    if (b == EVP_BATCH_NONE)
        return;
    evp_batch_status_t st;
    uint32_t task = n ? rnd(&w->seed, n) : 0;
    int rc = whole || !n ? evp_batch_status(g.lib, b, &st) : evp_batch_task_status(g.lib, b, task, &st);
    add(&w->t.polls, 1);
    if (rc == EVP_ESTALE) {
        add(&w->t.poll_stale, 1);
        return;
    }
    CHECK_RC(rc, 0);
    CHECK(st.status == EVP_TASK_INITIAL || st.status == EVP_TASK_PENDING || st.status == EVP_TASK_COMPLETED);
    uint64_t w2 = atomic_load(&r->word);
    if (st.status != EVP_TASK_COMPLETED || w1 >> 16 != w2 >> 16)
        return; /* the record moved on: nothing to compare with */
    uint64_t want = whole ? (1u << n) - 1 : 1u << task;
    if ((w2 & want) != want)
        evp_test_fail(__FILE__, __LINE__, "COMPLETED (%s) but done bits 0x%llx, want 0x%llx",
                      whole ? "sub-batch" : "task", (unsigned long long)(w2 & 0xffff),
                      (unsigned long long)want);
    add(&w->t.completed_checked, 1);
}

/* Polls the owner's own sub-batch to a terminal status: COMPLETED with
 * every byte, unless a poller freed it first. */
static void owner_wait(struct worker *w, struct rec *r, evp_batch_t b, uint64_t bytes)
{
    uint64_t t0 = now_ns();
    evp_batch_status_t st;
    for (;;) {
        int rc = evp_batch_status(g.lib, b, &st);
        if (rc == EVP_ESTALE)
            return;
        CHECK_RC(rc, 0);
        if (st.status != EVP_TASK_PENDING)
            break;
        if (now_ns() - t0 > 30000000000ull)
            evp_test_fail(__FILE__, __LINE__, "sub-batch still PENDING after 30 s");
        sched_yield();
    }
    uint32_t n = atomic_load(&r->ntasks);
    CHECK_EQ(st.status, n ? EVP_TASK_COMPLETED : EVP_TASK_INITIAL); /* INITIAL: every submit was EAGAIN */
    CHECK_EQ(st.transferred_bytes, bytes);
    CHECK_EQ(atomic_load(&r->word) & ((1u << n) - 1), (1u << n) - 1);
    add(&w->t.owner_completed, 1);
}

/* Takes a record for a new sub-batch: frees the one it held (if no
 * poller did), moves its sequence on, clears its bits. */
static struct rec *rec_reuse(struct worker *w)
{
    struct rec *r = &w->recs[rnd(&w->seed, RECS)];
    evp_batch_t old = atomic_exchange(&r->handle, EVP_BATCH_NONE);
    if (old != EVP_BATCH_NONE)
        free_counted(w, old);
    atomic_store(&r->ntasks, 0);
    atomic_store(&r->word, ++w->seq << 16);
    return r;
}

static void op_owner(struct worker *w)
{
    struct rec *r = rec_reuse(w);
    evp_batch_t b;
    int rc = evp_batch_alloc(g.lib, 0, &b);
    if (rc == EVP_EAGAIN) {
        add(&w->t.alloc_again, 1);
        return;
    }
    CHECK_RC(rc, 0);
    add(&w->t.allocs, 1);
    atomic_store(&r->handle, b); /* published: pollers may poll and free it from now */
    uint32_t calls = 1 + rnd(&w->seed, 3), have = 0;
    uint64_t bytes = 0;
    for (uint32_t c = 0; c < calls; c++) {
        evp_batch_req_t req[2];
        uint32_t n = 1 + rnd(&w->seed, 2);
        for (uint32_t i = 0; i < n; i++)
            req[i] = (evp_batch_req_t){.device = 0, .opcode = have + i, .local = r, .offset = w->seq,
                                       .target = rnd(&w->seed, 4) == 0, .length = 1 + rnd(&w->seed, 4096)};
        uint32_t first;
        rc = evp_batch_submit(g.lib, b, req, n, mark_enqueue, NULL, &first);
        if (rc == EVP_EAGAIN) {
            add(&w->t.submit_again, 1);
            continue;
        }
        if (rc == EVP_ESTALE) { /* a poller freed it */
            add(&w->t.submit_stale, 1);
            return;
        }
        CHECK_RC(rc, 0);
        CHECK_EQ(first, have);
        add(&w->t.submits, 1);
        for (uint32_t i = 0; i < n; i++)
            bytes += req[i].length;
        have += n;
        atomic_store(&r->ntasks, have);
    }
    switch (rnd(&w->seed, 10)) {
    case 0: case 1: case 2: case 3: /* free at once, the work in flight */
        break;
    case 4: case 5: case 6: case 7:
        owner_wait(w, r, b, bytes);
        break;
    default: /* left to the pollers, or freed when the record comes round */
        return;
    }
    if (atomic_exchange(&r->handle, EVP_BATCH_NONE) == b)
        free_counted(w, b);
}

static void op_poll(struct worker *w)
{
    struct worker *o = &g.w[rnd(&w->seed, g.nw)];
    struct rec *r = &o->recs[rnd(&w->seed, RECS)];
    poll_rec(w, r, rnd(&w->seed, 2));
    if (rnd(&w->seed, 16) == 0) {
        evp_batch_t b = atomic_load(&r->handle);
        if (b != EVP_BATCH_NONE)
            free_counted(w, b); /* races the owner and the other pollers; one free wins */
    }
}

/* ---- private pools and libraries, destroyed with things still out ------- */

static void op_private(struct worker *w)
{
    char desc[128];
    if (rnd(&w->seed, 2)) {
        evp_config_t c = random_pool_config(&w->seed, desc, sizeof desc);
        evp_pool_t *p;
        CHECK_RC(evp_pool_create(0, &c, &p), 0);
        evp_lease_t l;
        CHECK_RC(evp_pool_lease(p, &l), 0);
        bool keep = rnd(&w->seed, 2);
        if (!keep)
            CHECK_RC(evp_pool_return(p, l), 0);
        evp_pool_stats_t fin;
        CHECK_RC(evp_pool_destroy(p, &fin), 0);
        CHECK_EQ(fin.outstanding, keep);
        CHECK_EQ(fin.events_destroyed, fin.events_created);
        add(&w->t.private_pools, 1);
        return;
    }
    evp_config_t c = random_lib_config(&w->seed, desc, sizeof desc);
    evp_batch_lib_t *lib;
    CHECK_RC(evp_batch_lib_create(&c, &lib), 0);
    struct rec r = {0};
    evp_batch_t b;
    CHECK_RC(evp_batch_alloc(lib, 0, &b), 0);
    evp_batch_req_t req = {.device = 0, .local = &r, .target = 1, .length = 8};
    CHECK_RC(evp_batch_submit(lib, b, &req, 1, mark_enqueue, NULL, NULL), 0);
    bool keep = rnd(&w->seed, 2);
    if (!keep)
        CHECK_RC(evp_batch_free(lib, b), 0);
    evp_batch_stats_t fin;
    CHECK_RC(evp_batch_lib_destroy(lib, &fin), 0); /* waits for the work: r outlives it */
    CHECK_EQ(fin.live_at_destroy, keep);
    CHECK_EQ(fin.lease_returns, fin.leases);
    CHECK_EQ(fin.streams_destroyed, fin.streams_created);
    CHECK_EQ(fin.reclaimed, fin.allocs);
    CHECK_EQ(atomic_load(&r.word), 1);
    add(&w->t.private_libs, 1);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    evp_host_stream_t *s;
    CHECK_RC(evp_host_stream_create(&s), 0);
    add(&w->t.streams_made, 1);
    while (!atomic_load_explicit(&g.stop, memory_order_relaxed)) {
        unsigned r = rnd(&w->seed, 1000);
        if (r < 350)
            op_pool(w, s);
        else if (r < 700)
            op_owner(w);
        else if (r < 998)
            op_poll(w);
        else
            op_private(w);
        add(&w->t.ops, 1);
    }
    /* Everything this worker still holds goes back. */
    for (int i = 0; i < RECS; i++) {
        evp_batch_t b = atomic_exchange(&w->recs[i].handle, EVP_BATCH_NONE);
        if (b != EVP_BATCH_NONE)
            free_counted(w, b);
    }
    CHECK_RC(evp_host_stream_synchronize(s), 0);
    evp_host_stream_destroy(s);
    add(&w->t.streams_gone, 1);
    atomic_store(&w->done, 1);
    return NULL;
}

/* ---- the run ------------------------------------------------------------ */

#define TALLY_FIELDS(X)                                                                            \
    X(ops) X(leases) X(returns) X(again) X(stale_uses) X(stale_returns) X(allocs) X(alloc_again)  \
    X(frees) X(free_stale) X(submits) X(submit_again) X(submit_stale) X(polls) X(poll_stale)       \
    X(completed_checked) X(owner_completed) X(private_pools) X(private_libs) X(streams_made)       \
    X(streams_gone)

struct sums {
#define SUM_FIELD(f) uint64_t f;
    TALLY_FIELDS(SUM_FIELD)
#undef SUM_FIELD
};

static void sum_into(struct sums *s, struct tally *t)
{
#define SUM_ADD(f) s->f += get(&t->f);
    TALLY_FIELDS(SUM_ADD)
#undef SUM_ADD
}

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    CHECK(f);
    CHECK(fscanf(f, "%lu %lu", &size, &res) == 2);
    fclose(f);
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    return v[n / 2];
}

/* Joins every worker, failing on one that does not stop in time. */
static void join_all(void)
{
    for (uint32_t i = 0; i < g.nw; i++) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += JOIN_SECONDS;
        int rc = pthread_timedjoin_np(g.w[i].tid, NULL, &dl);
        if (rc == ETIMEDOUT)
            evp_test_fail(__FILE__, __LINE__, "worker %u did not stop within %d s (hang)", i, JOIN_SECONDS);
        CHECK(rc == 0);
    }
}

/* The epoch's end: counts in == counts out, then the world is destroyed. */
static void epoch_check(struct sums *run)
{
    struct sums e = {0};
    for (uint32_t i = 0; i < g.nw; i++)
        sum_into(&e, &g.w[i].t);
    CHECK_EQ(e.leases, e.returns);
    evp_pool_stats_t ps;
    evp_pool_stats(g.pool, &ps);
    CHECK_EQ(ps.leases, e.leases);
    CHECK_EQ(ps.returns, e.returns);
    CHECK_EQ(ps.outstanding, 0);
    CHECK_EQ(ps.stale_returns, e.stale_returns);
    CHECK(ps.events_created <= g.max);
    /* Sub-batches: every one freed exactly once, then all reclaimed. */
    CHECK_EQ(e.frees, e.allocs);
    wait_reclaimed(g.lib, 60000);
    evp_batch_stats_t bs;
    evp_batch_lib_stats(g.lib, &bs);
    CHECK_EQ(bs.allocs, e.allocs);
    CHECK_EQ(bs.frees, e.frees);
    CHECK_EQ(bs.live, 0);
    CHECK_EQ(bs.reclaimed, bs.frees);
    CHECK_EQ(batch_outstanding(g.lib), 0);
    CHECK_EQ(bs.leases, bs.lease_returns);
    CHECK_EQ(e.streams_made, e.streams_gone);
    evp_pool_stats_t fin;
    CHECK_RC(evp_pool_destroy(g.pool, &fin), 0);
    CHECK_EQ(fin.outstanding, 0);
    CHECK_EQ(fin.events_destroyed, fin.events_created);
    evp_batch_stats_t bfin = batch_destroy_all_back(g.lib, 0);
    CHECK_EQ(bfin.live_at_destroy, 0);
    /* Every piece of work ran: the streams are gone, so nothing is queued. */
    CHECK_EQ(get(&g_work_run), get(&g_work_made));
#define RUN_ADD(f) run->f += e.f;
    TALLY_FIELDS(RUN_ADD)
#undef RUN_ADD
}

int main(void)
{
    long seconds = env_long("EVP_SOAK_SECONDS", 60);
    uint64_t bound = (uint64_t)env_long("EVP_SOAK_RSS_MIB", 16) << 20;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cores = cores < 1 ? 1 : cores;
    long warmup = seconds / 6 < 300 ? seconds / 6 : 300;
    long print_every = seconds / 30 < 2 ? 2 : seconds / 30 > 30 ? 30 : seconds / 30;
    unsigned seed = (unsigned)env_long("EVP_SOAK_SEED", (long)(now_ns() % 1000000007u));
    fprintf(stderr, "soak: %ld s, %ld core(s): epochs of 2x / 8x cores threads, seed %u, RSS bound %llu MiB%s\n",
            seconds, cores, seed, (unsigned long long)(bound >> 20),
            EVP_TEST_SANITIZED ? " (sanitizer: reported, not enforced)" : "");

    size_t cap = (size_t)seconds + 16, nsamples = 0;
    uint64_t *samples = calloc(cap, sizeof *samples);
    CHECK(samples);
    struct sums run = {0};
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)seconds * 1000000000u, last_ops = 0, epochs = 0;
    long next_print = print_every, last_print = 0;
    while (now_ns() < end) {
        /* A fresh world: random sizes, 2x or 8x the cores of workers. */
        char pdesc[128], ldesc[160];
        evp_config_t pc = random_pool_config(&seed, pdesc, sizeof pdesc);
        evp_config_t lc = random_lib_config(&seed, ldesc, sizeof ldesc);
        CHECK_RC(evp_pool_create(0, &pc, &g.pool), 0);
        CHECK_RC(evp_batch_lib_create(&lc, &g.lib), 0);
        g.max = pc.max;
        g.owner = calloc(g.max, sizeof *g.owner);
        g.nw = (uint32_t)(cores * (epochs % 2 ? 8 : 2));
        g.nw = g.nw > MAX_THREADS ? MAX_THREADS : g.nw;
        g.w = aligned_alloc(64, sizeof *g.w * g.nw);
        CHECK(g.owner && g.w);
        memset(g.w, 0, sizeof *g.w * g.nw);
        atomic_store(&g.stop, 0);
        for (uint32_t i = 0; i < g.nw; i++) {
            g.w[i].id = i;
            g.w[i].seed = seed + i * 7919u;
            CHECK(pthread_create(&g.w[i].tid, NULL, worker_main, &g.w[i]) == 0);
        }
        uint64_t epoch_end = now_ns() + (3 + rnd(&seed, 8)) * 1000000000ull;
        epoch_end = epoch_end < end ? epoch_end : end;
        while (now_ns() < epoch_end) {
            sleep_ns(1000000000);
            long t = (long)((now_ns() - t0) / 1000000000u);
            uint64_t rss = rss_bytes();
            if (t >= warmup && nsamples < cap)
                samples[nsamples++] = rss;
            if (t < next_print)
                continue;
            struct sums now = run;
            for (uint32_t i = 0; i < g.nw; i++)
                sum_into(&now, &g.w[i].t);
            evp_pool_stats_t ps;
            evp_batch_stats_t bs;
            evp_pool_stats(g.pool, &ps);
            evp_batch_lib_stats(g.lib, &bs);
            fprintf(stderr, "soak: t=%lds epoch %llu (%u threads) %.0f ops/s rss %.1f MiB; pool out %llu, "
                    "sub-batches live %llu pending %llu, work queued %llu\n",
                    t, (unsigned long long)epochs, g.nw, (double)(now.ops - last_ops) / (double)(t - last_print),
                    rss / 1048576.0, (unsigned long long)ps.outstanding, (unsigned long long)bs.live,
                    (unsigned long long)bs.pending, (unsigned long long)(get(&g_work_made) - get(&g_work_run)));
            last_ops = now.ops;
            last_print = t;
            next_print = t + print_every;
        }
        atomic_store(&g.stop, 1);
        join_all();
        epoch_check(&run);
        if (epochs < 4 || seconds < 600)
            fprintf(stderr, "soak: epoch %llu done: %u threads, pool %s; library %s\n",
                    (unsigned long long)epochs, g.nw, pdesc, ldesc);
        free(g.owner);
        free(g.w);
        epochs++;
    }

    fprintf(stderr,
            "soak: tally: %llu epochs, %llu ops; pool %llu leases = %llu returns (%llu EAGAIN, %llu stale uses "
            "refused); sub-batches %llu allocs = %llu frees (%llu stale frees, %llu alloc EAGAIN), %llu submits "
            "(%llu EAGAIN, %llu after a racing free), %llu polls (%llu stale), %llu COMPLETED checked against "
            "their work, %llu owner-waited COMPLETED; work %llu enqueued = %llu run; %llu private pools, "
            "%llu private libraries\n",
            (unsigned long long)epochs, (unsigned long long)run.ops, (unsigned long long)run.leases,
            (unsigned long long)run.returns, (unsigned long long)run.again, (unsigned long long)run.stale_uses,
            (unsigned long long)run.allocs, (unsigned long long)run.frees, (unsigned long long)run.free_stale,
            (unsigned long long)run.alloc_again, (unsigned long long)run.submits,
            (unsigned long long)run.submit_again, (unsigned long long)run.submit_stale,
            (unsigned long long)run.polls, (unsigned long long)run.poll_stale,
            (unsigned long long)run.completed_checked, (unsigned long long)run.owner_completed,
            (unsigned long long)get(&g_work_made), (unsigned long long)get(&g_work_run),
            (unsigned long long)run.private_pools, (unsigned long long)run.private_libs);
    CHECK(run.ops > 0 && run.allocs > 0 && run.leases > 0);
    if (nsamples < 8) {
        fprintf(stderr, "soak: RSS: %zu samples after the %ld s warm-up: too few to judge\n", nsamples, warmup);
        free(samples);
        return 0;
    }
    size_t q = nsamples / 4;
    uint64_t first = median(samples, q);
    uint64_t last = median(samples + nsamples - q, q);
    int64_t growth = (int64_t)(last - first);
    fprintf(stderr, "soak: RSS median first quarter %.1f MiB, last quarter %.1f MiB: growth %+.1f MiB (bound %llu)\n",
            first / 1048576.0, last / 1048576.0, growth / 1048576.0, (unsigned long long)(bound >> 20));
    free(samples);
    if (!EVP_TEST_SANITIZED && growth > (int64_t)bound)
        evp_test_fail(__FILE__, __LINE__, "RSS grew %.1f MiB, more than %llu MiB", growth / 1048576.0,
                      (unsigned long long)(bound >> 20));
    fprintf(stderr, "soak: PASS\n");
    return 0;
}
