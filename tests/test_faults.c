/* SPDX-License-Identifier: Apache-2.0 */
/* Fault injection on every backend op (src/backend/fault.h), table-driven:
 * each row makes the Nth call of one op fail while driving the layer that
 * uses it — the pool (creation, growth, record, query, teardown), the
 * sub-batch layer (pool creation and growth at submit, submit's record,
 * status's and the reclaimer's query, stream create / sync / destroy,
 * teardown), the transport (submit's copies, the export made at mem_alloc,
 * import) and the backend's copies, callbacks and memory export/import
 * directly — and checks the documented result there: the error returned,
 * tasks FAILED and never COMPLETED, leases back (outstanding 0), nothing
 * enqueued or allocated by a failed call.
 *
 * Around every row the runner checks what no failure may break: the armed
 * call was reached and failed exactly once; events and streams created ==
 * destroyed (from the wrapper's own counts of the real calls); the open
 * fds are as before; and the row ends within its alarm (no hang). ASan's
 * leak checker covers the memory. Every op of EVP_FAULT_OPS must have a
 * row, so an op added to the list without a test fails here.
 *
 * `test_faults env` checks EVPOOL_FAULT=copy:2,mem_export:1 (set by CTest);
 * `test_faults env-bad` that a malformed EVPOOL_FAULT arms nothing (CTest
 * checks the message). */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <unistd.h>

#include "backend/fault.h"
#include "batch_host.h"
#include "peer.h"

#define ROW_SECONDS 30 /* a row that runs longer is a hang: SIGALRM ends the test */

struct ctx {
    const struct evp_backend *be; /* the fault wrapper of the host backend */
    evp_fault_op_t op;
    uint64_t nth;
};

/* The row's fault: call nth of op, counted from now, fails once. */
static void arm(const struct ctx *x)
{
    CHECK_RC(evp_fault_arm(x->op, x->nth, 1), 0);
}

/* ---- pool --------------------------------------------------------------- */

static evp_pool_t *pool_make(const char *size, const char *max)
{
    evp_config_t cfg = evp_test_config("EVPOOL_SIZE", size, "EVPOOL_MAX", max, "EVPOOL_ON_EXHAUST", "fail",
                                       "EVPOOL_THREAD_CACHE", "0", NULL);
    evp_pool_t *p;
    CHECK_RC(evp_pool_create(0, &cfg, &p), 0);
    return p;
}

static uint64_t pool_outstanding(evp_pool_t *p)
{
    evp_pool_stats_t st;
    evp_pool_stats(p, &st);
    return st.outstanding;
}

/* Destroys the pool; every lease back, every event destroyed once. */
static void pool_end(evp_pool_t *p, int want_rc)
{
    evp_pool_stats_t fin;
    CHECK_RC(evp_pool_destroy(p, &fin), want_rc);
    CHECK_EQ(fin.outstanding, 0);
    CHECK_EQ(fin.leases, fin.returns);
    CHECK_EQ(fin.events_destroyed, fin.events_created);
}

/* Polls a lease until its work reads complete (bounded). */
static void pool_wait_done(evp_pool_t *p, evp_lease_t l)
{
    uint64_t t0 = now_ns();
    int q;
    while ((q = evp_pool_query(p, l)) == 0)
        CHECK(now_ns() - t0 < 5000000000ull);
    CHECK_RC(q, 1);
}

/* Creation: the nth of `size` creates fails; the pool is not made and the
 * events created before it are destroyed (the ledger checks). */
static void pool_create_fails(const struct ctx *x)
{
    evp_config_t cfg = evp_test_config("EVPOOL_SIZE", "4", "EVPOOL_THREAD_CACHE", "0", NULL);
    evp_pool_t *p = NULL;
    arm(x);
    CHECK_RC(evp_pool_create(0, &cfg, &p), EVP_EBACKEND);
    CHECK(p == NULL);
}

/* Growth: the lease that would grow the pool fails; nothing is counted out;
 * the next lease grows it. */
static void pool_grow_fails(const struct ctx *x)
{
    evp_pool_t *p = pool_make("1", "3");
    evp_lease_t a, b;
    CHECK_RC(evp_pool_lease(p, &a), 0);
    arm(x);
    CHECK_RC(evp_pool_lease(p, &b), EVP_EBACKEND);
    CHECK_EQ(pool_outstanding(p), 1);
    CHECK_RC(evp_pool_lease(p, &b), 0);
    CHECK_RC(evp_pool_return(p, a), 0);
    CHECK_RC(evp_pool_return(p, b), 0);
    pool_end(p, 0);
}

/* Record: the failed lease has nothing recorded (EVP_ENODATA, never
 * complete), the others are untouched; a new record works. */
static void pool_record_fails(const struct ctx *x)
{
    evp_pool_t *p = pool_make("2", "2");
    evp_host_stream_t *s;
    CHECK_RC(evp_host_stream_create(&s), 0);
    evp_lease_t l[2];
    CHECK_RC(evp_pool_lease(p, &l[0]), 0);
    CHECK_RC(evp_pool_lease(p, &l[1]), 0);
    arm(x); /* nth 2: the second record below */
    CHECK_RC(evp_pool_record(p, l[0], s), x->nth == 1 ? EVP_EBACKEND : 0);
    CHECK_RC(evp_pool_record(p, l[1], s), x->nth == 2 ? EVP_EBACKEND : 0);
    CHECK_RC(evp_host_stream_synchronize(s), 0);
    evp_lease_t bad = l[x->nth - 1], good = l[2 - x->nth];
    CHECK_RC(evp_pool_query(p, bad), EVP_ENODATA);
    pool_wait_done(p, good);
    CHECK_RC(evp_pool_record(p, bad, s), 0);
    pool_wait_done(p, bad);
    CHECK_RC(evp_pool_return(p, l[0]), 0);
    CHECK_RC(evp_pool_return(p, l[1]), 0);
    evp_host_stream_destroy(s);
    pool_end(p, 0);
}

/* Query: the error is returned (not "complete", not "pending"); the next
 * query answers. */
static void pool_query_fails(const struct ctx *x)
{
    evp_pool_t *p = pool_make("1", "1");
    evp_host_stream_t *s;
    CHECK_RC(evp_host_stream_create(&s), 0);
    evp_lease_t l;
    CHECK_RC(evp_pool_lease(p, &l), 0);
    CHECK_RC(evp_pool_record(p, l, s), 0);
    CHECK_RC(evp_host_stream_synchronize(s), 0);
    arm(x);
    CHECK_RC(evp_pool_query(p, l), EVP_EBACKEND);
    CHECK_RC(evp_pool_query(p, l), 1);
    CHECK_RC(evp_pool_return(p, l), 0);
    evp_host_stream_destroy(s);
    pool_end(p, 0);
}

/* Teardown: a failed destroy is reported; every event is still destroyed
 * (counted, and released: the ledger and LSan). */
static void pool_destroy_fails(const struct ctx *x)
{
    evp_pool_t *p = pool_make("3", "3");
    evp_lease_t l;
    CHECK_RC(evp_pool_lease(p, &l), 0);
    CHECK_RC(evp_pool_return(p, l), 0);
    arm(x);
    pool_end(p, EVP_EBACKEND);
}

/* ---- sub-batches -------------------------------------------------------- */

/* One library, one sub-batch, one 4-byte request; `gate` holds its work
 * when set (NULL: runs at once). */
struct one {
    evp_batch_lib_t *lib;
    evp_batch_t b;
    char src[8], dst[8];
    evp_batch_req_t r;
    struct host_xfer x;
};

static void one_init(struct one *o, evp_batch_lib_t *lib, _Atomic int *gate)
{
    memset(o, 0, sizeof *o);
    o->lib = lib;
    memcpy(o->src, "abcdefg", 8);
    o->r = host_req(o->dst, o->src, 4);
    o->x.gate = gate;
    CHECK_RC(evp_batch_alloc(lib, 0, &o->b), 0);
}

static int one_submit(struct one *o, uint32_t *first)
{
    return evp_batch_submit(o->lib, o->b, &o->r, 1, host_enqueue, &o->x, first);
}

/* The status of a sub-batch whose only submits failed or whose tasks were
 * failed: FAILED now and after its work had every chance to finish. */
static void stays_failed(struct one *o)
{
    evp_batch_status_t st;
    sleep_ns(20000000);
    CHECK_EQ(wait_terminal(o->lib, o->b, 5000).status, EVP_TASK_FAILED);
    CHECK_RC(evp_batch_status(o->lib, o->b, &st), 0);
    CHECK_EQ(st.status, EVP_TASK_FAILED);
    CHECK_EQ(st.transferred_bytes, 0);
}

/* A submit that ends COMPLETED with the bytes copied. */
static void submit_completes(struct one *o)
{
    CHECK_RC(one_submit(o, NULL), 0);
    CHECK_EQ(wait_terminal(o->lib, o->b, 5000).status, EVP_TASK_COMPLETED);
    CHECK(memcmp(o->dst, o->src, 4) == 0);
}

/* A submit refused before anything was appended: the error, INITIAL, no
 * callback, no lease out; a later submit works. */
static void submit_refused_then_works(struct one *o, int want_rc)
{
    evp_batch_status_t st;
    CHECK_RC(one_submit(o, NULL), want_rc);
    CHECK_EQ(atomic_load(&o->x.calls), 0);
    CHECK_RC(evp_batch_status(o->lib, o->b, &st), 0);
    CHECK_EQ(st.status, EVP_TASK_INITIAL);
    CHECK_EQ(batch_outstanding(o->lib), 0);
    submit_completes(o);
}

/* The first submit creates the device's pool (create) and takes a stream
 * (stream_create): either failing refuses the submit, appends nothing. */
static void batch_first_submit_fails(const struct ctx *x)
{
    struct one o;
    one_init(&o, batch_host_lib("2", "2", "1"), NULL);
    arm(x);
    submit_refused_then_works(&o, EVP_EBACKEND);
    CHECK_RC(evp_batch_free(o.lib, o.b), 0);
    batch_destroy_all_back(o.lib, 0);
}

/* A submit whose lease must grow the pool: growth fails, nothing appended. */
static void batch_pool_grow_fails(const struct ctx *x)
{
    _Atomic int gate = 0;
    struct one held, o;
    evp_batch_lib_t *lib = batch_host_lib("1", "2", "2"); /* two streams: o does not queue behind held */
    one_init(&held, lib, &gate);
    one_init(&o, lib, NULL);
    CHECK_RC(one_submit(&held, NULL), 0); /* holds the one event */
    arm(x);
    CHECK_RC(one_submit(&o, NULL), EVP_EBACKEND);
    CHECK_EQ(atomic_load(&o.x.calls), 0);
    CHECK_EQ(batch_outstanding(lib), 1);
    submit_completes(&o); /* grows now */
    atomic_store(&gate, 1);
    CHECK_EQ(wait_terminal(lib, held.b, 5000).status, EVP_TASK_COMPLETED);
    CHECK_RC(evp_batch_free(lib, held.b), 0);
    CHECK_RC(evp_batch_free(lib, o.b), 0);
    wait_reclaimed(lib, 5000);
    CHECK_EQ(batch_outstanding(lib), 0);
    batch_destroy_all_back(lib, 0);
}

/* Submit's record: EVP_EBACKEND, the call's tasks FAILED (never COMPLETED
 * although the work ran), its lease back at once. */
static void batch_record_fails(const struct ctx *x)
{
    struct one o;
    uint32_t first = 99;
    one_init(&o, batch_host_lib("2", "2", "1"), NULL);
    arm(x);
    CHECK_RC(one_submit(&o, &first), EVP_EBACKEND);
    CHECK_EQ(first, 0);
    CHECK_EQ(batch_outstanding(o.lib), 0);
    batch_check_failed(o.lib, o.b, 0, 1);
    stays_failed(&o);
    CHECK_RC(evp_batch_free(o.lib, o.b), 0);
    batch_destroy_all_back(o.lib, 0);
}

/* Status's query while the work is pending: the call's tasks FAILED, and
 * they stay FAILED after the work completes. */
static void batch_status_query_fails(const struct ctx *x)
{
    _Atomic int gate = 0;
    struct one o;
    evp_batch_status_t st;
    one_init(&o, batch_host_lib("2", "2", "1"), &gate);
    CHECK_RC(one_submit(&o, NULL), 0);
    arm(x);
    CHECK_RC(evp_batch_task_status(o.lib, o.b, 0, &st), 0);
    CHECK_EQ(st.status, EVP_TASK_FAILED);
    atomic_store(&gate, 1);
    stays_failed(&o);
    batch_check_failed(o.lib, o.b, 0, 1);
    CHECK_RC(evp_batch_free(o.lib, o.b), 0);
    wait_reclaimed(o.lib, 5000);
    CHECK_EQ(batch_outstanding(o.lib), 0);
    batch_destroy_all_back(o.lib, 0);
}

/* Free with the work in flight; the reclaimer's query fails: the call is
 * settled FAILED and everything goes back without waiting for the work. */
static void batch_free_query_fails(const struct ctx *x)
{
    _Atomic int gate = 0;
    struct one o;
    one_init(&o, batch_host_lib("2", "2", "1"), &gate);
    CHECK_RC(one_submit(&o, NULL), 0);
    arm(x);
    CHECK_RC(evp_batch_free(o.lib, o.b), 0);
    wait_reclaimed(o.lib, 5000);
    CHECK_EQ(batch_outstanding(o.lib), 0);
    atomic_store(&gate, 1); /* the stream runs it before its worker stops */
    batch_destroy_all_back(o.lib, 0);
}

static void *open_gate_later(void *arg)
{
    sleep_ns(100000000);
    atomic_store((_Atomic int *)arg, 1);
    return NULL;
}

/* Teardown with a freed sub-batch still in flight synchronises its stream;
 * that fails: reported, everything still released once. */
static void batch_stream_sync_fails(const struct ctx *x)
{
    _Atomic int gate = 0;
    struct one o;
    one_init(&o, batch_host_lib("2", "2", "1"), &gate);
    CHECK_RC(one_submit(&o, NULL), 0);
    CHECK_RC(evp_batch_free(o.lib, o.b), 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, open_gate_later, &gate) == 0);
    arm(x);
    batch_destroy_all_back(o.lib, EVP_EBACKEND);
    pthread_join(t, NULL);
    CHECK(memcmp(o.dst, o.src, 4) == 0); /* the work ran before the stream went */
}

/* Teardown destroys the streams (two here) and then the pool's events;
 * either failing is reported, and everything is still released. */
static void batch_teardown_fails(const struct ctx *x)
{
    evp_batch_lib_t *lib = batch_host_lib("2", "2", "2");
    struct one o[2];
    for (int i = 0; i < 2; i++) {
        one_init(&o[i], lib, NULL);
        submit_completes(&o[i]);
        CHECK_RC(evp_batch_free(lib, o[i].b), 0);
    }
    arm(x);
    batch_destroy_all_back(lib, EVP_EBACKEND);
}

/* ---- backend: copies and callbacks -------------------------------------- */

/* Copies piece i of src to dst, one copy (or copy_batch of two halves)
 * each; the nth fails and enqueues nothing: only its piece stays zero. */
static void copies(const struct ctx *x, bool batch)
{
    enum { PIECES = 4, PIECE = 256 };
    unsigned char src[PIECES * PIECE], dst[PIECES * PIECE];
    fill_pattern(src, sizeof src, 3);
    memset(dst, 0, sizeof dst);
    void *s;
    CHECK_RC(x->be->stream_create(0, &s), 0);
    arm(x);
    for (uint64_t i = 0; i < PIECES; i++) {
        unsigned char *d = dst + i * PIECE, *sp = src + i * PIECE;
        int want = i + 1 == x->nth ? EVP_EBACKEND : 0;
        if (batch) {
            void *dv[2] = {d, d + PIECE / 2};
            const void *sv[2] = {sp, sp + PIECE / 2};
            size_t len[2] = {PIECE / 2, PIECE / 2};
            CHECK_RC(x->be->copy_batch(dv, sv, len, 2, s), want);
        } else {
            CHECK_RC(x->be->copy(d, sp, PIECE, s), want);
        }
    }
    CHECK_RC(x->be->stream_sync(s), 0);
    for (uint64_t i = 0; i < PIECES; i++) {
        const unsigned char *d = dst + i * PIECE;
        if (i + 1 == x->nth) {
            for (int k = 0; k < PIECE; k++)
                CHECK_EQ(d[k], 0);
        } else {
            CHECK(memcmp(d, src + i * PIECE, PIECE) == 0);
        }
    }
    CHECK_RC(x->be->stream_destroy(0, s), 0);
}

static void copy_fails(const struct ctx *x)
{
    copies(x, false);
}

static void copy_batch_fails(const struct ctx *x)
{
    copies(x, true);
}

static void bump(void *arg)
{
    atomic_fetch_add((_Atomic int *)arg, 1);
}

/* A failed host_fn enqueues nothing: its callback never runs. */
static void host_fn_fails(const struct ctx *x)
{
    _Atomic int ran = 0;
    void *s;
    CHECK_RC(x->be->stream_create(0, &s), 0);
    arm(x);
    CHECK_RC(x->be->host_fn(s, bump, &ran), EVP_EBACKEND);
    CHECK_RC(x->be->host_fn(s, bump, &ran), 0);
    CHECK_RC(x->be->stream_sync(s), 0);
    CHECK_EQ(atomic_load(&ran), 1);
    CHECK_RC(x->be->stream_destroy(0, s), 0);
}

/* ---- backend: memory ---------------------------------------------------- */

static evp_mem_t *mem_alloc_ok(const struct ctx *x, size_t len)
{
    evp_mem_t *m = NULL;
    CHECK_RC(x->be->mem->alloc(0, len, EVP_MEM_FD, 0, &m), 0);
    CHECK(m && m->ptr && m->len == len);
    return m;
}

/* A failed alloc leaves *out alone and allocates nothing (fds, LSan). */
static void mem_alloc_fails(const struct ctx *x)
{
    evp_mem_t *m = NULL;
    arm(x);
    CHECK_RC(x->be->mem->alloc(0, 4096, EVP_MEM_FD, 0, &m), EVP_EBACKEND);
    CHECK(m == NULL);
    m = mem_alloc_ok(x, 4096);
    CHECK_RC(x->be->mem->release(m), 0);
}

/* The host backend cannot attach (EVP_EINVAL); the injected failure comes
 * first, and the real answer after it. */
static void mem_attach_fails(const struct ctx *x)
{
    char buf[64];
    evp_mem_t *m = NULL;
    arm(x);
    CHECK_RC(x->be->mem->attach(0, buf, sizeof buf, &m), EVP_EBACKEND);
    CHECK(m == NULL);
    CHECK_RC(x->be->mem->attach(0, buf, sizeof buf, &m), EVP_EINVAL);
    CHECK(m == NULL);
}

/* A failed export hands out no fd; the next export does. */
static void mem_export_fails(const struct ctx *x)
{
    evp_mem_t *m = mem_alloc_ok(x, 4096);
    struct evp_mem_desc d;
    int fd = -2;
    arm(x);
    CHECK_RC(x->be->mem->export_(m, EVP_MEM_FD, &d, &fd), EVP_EBACKEND);
    CHECK_EQ(fd, -2);
    CHECK_RC(x->be->mem->export_(m, EVP_MEM_FD, &d, &fd), 0);
    CHECK(fd >= 0);
    CHECK_RC(x->be->mem->release(m), 0);
}

/* A failed import maps nothing; the next import sees the exporter's bytes. */
static void mem_import_fails(const struct ctx *x)
{
    evp_mem_t *m = mem_alloc_ok(x, 8192), *in = NULL;
    fill_pattern(m->ptr, m->len, 5);
    struct evp_mem_desc d;
    int fd;
    CHECK_RC(x->be->mem->export_(m, EVP_MEM_FD, &d, &fd), 0);
    arm(x);
    CHECK_RC(x->be->mem->import(0, &d, fd, 0, &in), EVP_EBACKEND);
    CHECK(in == NULL);
    CHECK_RC(x->be->mem->import(0, &d, fd, 0, &in), 0);
    CHECK_EQ(check_pattern(in->ptr, in->len, 5), in->len);
    CHECK_RC(x->be->mem->release(in), 0);
    CHECK_RC(x->be->mem->release(m), 0);
}

/* A failed release is reported and still releases: the mapping and the
 * memfd go (fds counted by the runner, the object by LSan). */
static void mem_release_fails(const struct ctx *x)
{
    evp_mem_t *m = mem_alloc_ok(x, 4096), *in;
    struct evp_mem_desc d;
    int fd;
    CHECK_RC(x->be->mem->export_(m, EVP_MEM_FD, &d, &fd), 0);
    CHECK_RC(x->be->mem->import(0, &d, fd, 0, &in), 0);
    arm(x);
    CHECK_RC(x->be->mem->release(in), x->nth == 1 ? EVP_EBACKEND : 0);
    CHECK_RC(x->be->mem->release(m), x->nth == 2 ? EVP_EBACKEND : 0);
}

/* ---- transport: the copies, exports and imports a user's calls make ---- */

/* A host transport with one segment (4096 bytes, exported) imported back
 * into this process, as test_transport.c does: submits write through the
 * import into the exporter's memory. */
struct tpair {
    evp_transport_t *t;
    void *base;            /* the exporter's memory */
    unsigned char desc[EVP_TRANSPORT_DESC_MAX];
    size_t dlen;
    int fd;                /* the export's memfd, owned by the transport */
    evp_segment_t seg;     /* the exported segment */
};

static void tpair_open(struct tpair *tp)
{
    evp_config_t c = evp_test_config("EVPOOL_SIZE", "2", "EVPOOL_MAX", "2", "EVPOOL_ON_EXHAUST", "fail",
                                     "EVPOOL_THREAD_CACHE", "0", "EVPOOL_BATCH_TASKS", "8", "EVPOOL_STREAMS",
                                     "1", NULL);
    memset(tp, 0, sizeof *tp);
    CHECK_RC(evp_transport_open(EVP_TRANSPORT_HOST, &c, &tp->t), 0);
    CHECK_RC(evp_transport_mem_alloc(tp->t, 0, 4096, &tp->base), 0);
    memset(tp->base, 0, 4096);
    CHECK_RC(evp_transport_register(tp->t, tp->base, 4096, &tp->seg), 0);
    CHECK_RC(evp_transport_export(tp->t, tp->seg, tp->desc, sizeof tp->desc, &tp->dlen, &tp->fd), 0);
}

/* Closes the transport after checking that every lease of a submit came
 * back (the failed one at once, the rest when reclaimed: waited for). */
static void tpair_close(struct tpair *tp)
{
    evp_batch_stats_t st;
    uint64_t t0 = now_ns();
    for (evp_transport_batch_stats(tp->t, &st); st.pending; evp_transport_batch_stats(tp->t, &st)) {
        CHECK(now_ns() - t0 < 5000000000ull);
        sleep_ns(200000);
    }
    CHECK_EQ(st.lease_returns, st.leases);
    CHECK_RC(evp_transport_close(tp->t), 0);
}

/* Submits one WRITE of 4 bytes at `offset` of the imported segment and
 * polls it to COMPLETED; the bytes land in the exporter's memory. */
static void tpair_write_completes(struct tpair *tp, evp_segment_t in, uint64_t offset)
{
    static const char src[4] = "wxyz";
    evp_batch_t b;
    evp_xfer_req_t r = {EVP_XFER_WRITE, (void *)src, in, offset, sizeof src};
    CHECK_RC(evp_transport_batch_alloc(tp->t, 1, &b), 0);
    CHECK_RC(evp_transport_submit(tp->t, b, &r, 1, NULL), 0);
    CHECK_EQ(wait_terminal_any(NULL, tp->t, b, 5000, 100000).status, EVP_TASK_COMPLETED);
    CHECK(memcmp((char *)tp->base + offset, src, sizeof src) == 0);
    CHECK_RC(evp_transport_batch_free(tp->t, b), 0);
}

/* Submit's copy (copy_batch) fails: EVP_EBACKEND, the call's tasks FAILED
 * (never COMPLETED: nothing was enqueued or recorded), its lease back at
 * once, the peer's memory untouched; the next submit completes. */
static void transport_submit_copy_fails(const struct ctx *x)
{
    struct tpair tp;
    tpair_open(&tp);
    evp_segment_t in;
    CHECK_RC(evp_transport_import(tp.t, tp.desc, tp.dlen, tp.fd, -1, &in), 0);
    static const char src[8] = "abcdefg";
    evp_xfer_req_t r[2] = {{EVP_XFER_WRITE, (void *)src, in, 0, 4}, {EVP_XFER_WRITE, (void *)(src + 4), in, 4, 4}};
    evp_batch_t b;
    uint32_t first = 99;
    CHECK_RC(evp_transport_batch_alloc(tp.t, 4, &b), 0);
    arm(x);
    CHECK_RC(evp_transport_submit(tp.t, b, r, 2, &first), EVP_EBACKEND);
    CHECK_EQ(first, 0);
    evp_pool_t *p;
    evp_pool_stats_t ps;
    CHECK_RC(evp_transport_pool(tp.t, 0, &p), 0);
    evp_pool_stats(p, &ps);
    CHECK_EQ(ps.outstanding, 0);
    evp_batch_status_t st;
    sleep_ns(20000000); /* had anything been enqueued, it would have run */
    for (uint32_t i = 0; i < 2; i++) {
        CHECK_RC(evp_transport_task_status(tp.t, b, i, &st), 0);
        CHECK_EQ(st.status, EVP_TASK_FAILED);
        CHECK_EQ(st.transferred_bytes, 0);
    }
    CHECK_RC(evp_transport_status(tp.t, b, &st), 0);
    CHECK_EQ(st.status, EVP_TASK_FAILED);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(((unsigned char *)tp.base)[i], 0);
    CHECK_RC(evp_transport_batch_free(tp.t, b), 0);
    tpair_write_completes(&tp, in, 8);
    tpair_close(&tp);
}

/* mem_alloc exports the new allocation at once; that export fails: the
 * allocation is released (its memfd too: the runner counts fds), *ptr is
 * untouched; the next mem_alloc, register and export work. */
static void transport_alloc_export_fails(const struct ctx *x)
{
    struct tpair tp;
    tpair_open(&tp);
    void *ptr = NULL;
    arm(x);
    CHECK_RC(evp_transport_mem_alloc(tp.t, 0, 4096, &ptr), EVP_EBACKEND);
    CHECK(ptr == NULL);
    CHECK_RC(evp_transport_mem_alloc(tp.t, 0, 4096, &ptr), 0);
    evp_segment_t s;
    unsigned char desc[EVP_TRANSPORT_DESC_MAX];
    size_t dlen;
    int fd;
    CHECK_RC(evp_transport_register(tp.t, ptr, 4096, &s), 0);
    CHECK_RC(evp_transport_export(tp.t, s, desc, sizeof desc, &dlen, &fd), 0);
    CHECK(fd >= 0);
    tpair_close(&tp);
}

/* Import fails: EVP_EBACKEND, no segment and no mapping (fds counted);
 * the same descriptor and fd import next time, and a submit through that
 * import completes. */
static void transport_import_fails(const struct ctx *x)
{
    struct tpair tp;
    tpair_open(&tp);
    evp_segment_t in = EVP_SEGMENT_NONE;
    arm(x);
    CHECK_RC(evp_transport_import(tp.t, tp.desc, tp.dlen, tp.fd, -1, &in), EVP_EBACKEND);
    CHECK(in == EVP_SEGMENT_NONE);
    CHECK_RC(evp_transport_import(tp.t, tp.desc, tp.dlen, tp.fd, -1, &in), 0);
    tpair_write_completes(&tp, in, 0);
    tpair_close(&tp);
}

/* ---- the table ---------------------------------------------------------- */

struct fault_case {
    evp_fault_op_t op;
    uint64_t nth; /* the call of op, counted from the row's arm(), that fails */
    const char *path;
    void (*run)(const struct ctx *x);
};

static const struct fault_case cases[] = {
    {EVP_FAULT_CREATE, 1, "pool create: first event", pool_create_fails},
    {EVP_FAULT_CREATE, 3, "pool create: third of four events", pool_create_fails},
    {EVP_FAULT_CREATE, 1, "pool lease: growth", pool_grow_fails},
    {EVP_FAULT_CREATE, 2, "batch submit: the device's pool created on first use", batch_first_submit_fails},
    {EVP_FAULT_CREATE, 1, "batch submit: lease grows the pool", batch_pool_grow_fails},
    {EVP_FAULT_RECORD, 1, "pool record", pool_record_fails},
    {EVP_FAULT_RECORD, 2, "pool record: the second of two", pool_record_fails},
    {EVP_FAULT_RECORD, 1, "batch submit: record", batch_record_fails},
    {EVP_FAULT_QUERY, 1, "pool query", pool_query_fails},
    {EVP_FAULT_QUERY, 1, "batch status: query while pending", batch_status_query_fails},
    {EVP_FAULT_QUERY, 1, "batch free: the reclaimer's query", batch_free_query_fails},
    {EVP_FAULT_DESTROY, 2, "pool destroy: second of three events", pool_destroy_fails},
    {EVP_FAULT_DESTROY, 1, "batch lib destroy: the pool's events", batch_teardown_fails},
    {EVP_FAULT_STREAM_CREATE, 1, "batch submit: first stream", batch_first_submit_fails},
    {EVP_FAULT_STREAM_DESTROY, 2, "batch lib destroy: second of two streams", batch_teardown_fails},
    {EVP_FAULT_STREAM_SYNC, 1, "batch lib destroy: stream of in-flight work", batch_stream_sync_fails},
    {EVP_FAULT_COPY, 1, "backend copy: first", copy_fails},
    {EVP_FAULT_COPY, 3, "backend copy: third of four", copy_fails},
    {EVP_FAULT_COPY_BATCH, 2, "backend copy_batch: second of four", copy_batch_fails},
    {EVP_FAULT_HOST_FN, 1, "backend host_fn", host_fn_fails},
    {EVP_FAULT_MEM_ALLOC, 1, "mem alloc", mem_alloc_fails},
    {EVP_FAULT_MEM_ATTACH, 1, "mem attach", mem_attach_fails},
    {EVP_FAULT_MEM_EXPORT, 1, "mem export", mem_export_fails},
    {EVP_FAULT_MEM_IMPORT, 1, "mem import", mem_import_fails},
    {EVP_FAULT_MEM_RELEASE, 1, "mem release: the import", mem_release_fails},
    {EVP_FAULT_MEM_RELEASE, 2, "mem release: the allocation", mem_release_fails},
    {EVP_FAULT_COPY_BATCH, 1, "transport submit: the copies", transport_submit_copy_fails},
    {EVP_FAULT_MEM_EXPORT, 1, "transport mem_alloc: its export", transport_alloc_export_fails},
    {EVP_FAULT_MEM_IMPORT, 1, "transport import", transport_import_fails},
};

#define NCASES (sizeof cases / sizeof cases[0])

struct ledger {
    uint64_t calls[EVP_FAULT_OP_COUNT], injected[EVP_FAULT_OP_COUNT];
};

static void ledger_take(struct ledger *l)
{
    for (int i = 0; i < EVP_FAULT_OP_COUNT; i++) {
        l->calls[i] = evp_fault_calls((evp_fault_op_t)i);
        l->injected[i] = evp_fault_injected((evp_fault_op_t)i);
    }
}

/* Real calls of op between a and b that made something (injected ones
 * never reach the backend; the host's create ops fail only on ENOMEM). */
static uint64_t made(const struct ledger *a, const struct ledger *b, evp_fault_op_t op)
{
    return (b->calls[op] - a->calls[op]) - (b->injected[op] - a->injected[op]);
}

/* Every op has a row: a new op in EVP_FAULT_OPS needs its test here. */
static void test_every_op_has_a_row(void)
{
    for (int op = 0; op < EVP_FAULT_OP_COUNT; op++) {
        size_t i = 0;
        while (i < NCASES && cases[i].op != (evp_fault_op_t)op)
            i++;
        if (i == NCASES)
            evp_test_fail(__FILE__, __LINE__, "op %s has no fault-injection row", evp_fault_op_name(op));
    }
}

static void run_case(const struct evp_backend *be, const struct fault_case *fc)
{
    fprintf(stderr, "[ RUN  ] %s:%llu  %s\n", evp_fault_op_name(fc->op), (unsigned long long)fc->nth, fc->path);
    struct ctx x = {be, fc->op, fc->nth};
    struct ledger a, b;
    int fds = count_fds();
    ledger_take(&a);
    alarm(ROW_SECONDS);
    fc->run(&x);
    alarm(0);
    evp_fault_disarm();
    ledger_take(&b);
    CHECK_EQ(b.injected[fc->op] - a.injected[fc->op], 1);
    for (int op = 0; op < EVP_FAULT_OP_COUNT; op++)
        if (op != (int)fc->op)
            CHECK_EQ(b.injected[op] - a.injected[op], 0);
    CHECK_EQ(made(&a, &b, EVP_FAULT_CREATE), b.calls[EVP_FAULT_DESTROY] - a.calls[EVP_FAULT_DESTROY]);
    CHECK_EQ(made(&a, &b, EVP_FAULT_STREAM_CREATE),
             b.calls[EVP_FAULT_STREAM_DESTROY] - a.calls[EVP_FAULT_STREAM_DESTROY]);
    CHECK_EQ(count_fds(), fds);
    fprintf(stderr, "[  OK  ]   events %llu made = destroyed, streams %llu made = destroyed\n",
             (unsigned long long)made(&a, &b, EVP_FAULT_CREATE),
             (unsigned long long)made(&a, &b, EVP_FAULT_STREAM_CREATE));
}

/* A malformed spec arms nothing and its message names every op. */
static void test_bad_spec_message(void)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    CHECK(saved >= 0 && tmp);
    CHECK(dup2(fileno(tmp), 2) == 2);
    int rc = evp_fault_parse("copy:1,bogus:2");
    CHECK(dup2(saved, 2) == 2);
    close(saved);
    CHECK_RC(rc, EVP_EINVAL);
    char msg[2048] = {0};
    rewind(tmp);
    size_t n = fread(msg, 1, sizeof msg - 1, tmp);
    fclose(tmp);
    CHECK(n > 0);
    for (int op = 0; op < EVP_FAULT_OP_COUNT; op++)
        if (!strstr(msg, evp_fault_op_name(op)))
            evp_test_fail(__FILE__, __LINE__, "message lacks op %s: %s", evp_fault_op_name(op), msg);
    /* Nothing armed: the first copy goes through. */
    const struct evp_backend *be;
    CHECK_RC(evp_backend_resolve(EVP_BACKEND_HOST, &be), 0);
    char a[4] = "abc", b[4] = {0};
    void *s;
    CHECK_RC(be->stream_create(0, &s), 0);
    CHECK_RC(be->copy(b, a, 4, s), 0);
    CHECK_RC(be->stream_sync(s), 0);
    CHECK(memcmp(a, b, 4) == 0);
    CHECK_RC(be->stream_destroy(0, s), 0);
    CHECK_EQ(evp_fault_injected(EVP_FAULT_COPY), 0);
    CHECK_RC(evp_fault_parse("copy:0"), EVP_EINVAL);
    CHECK_RC(evp_fault_arm(EVP_FAULT_OP_COUNT, 1, 1), EVP_EINVAL);
    CHECK_RC(evp_fault_arm(EVP_FAULT_COPY, 0, 1), EVP_EINVAL);
    CHECK(evp_fault_op_name(EVP_FAULT_OP_COUNT) == NULL);
}

/* EVPOOL_FAULT=copy:2,mem_export:1 (CTest): the second copy and the first
 * export fail, nothing else. */
static int test_env(void)
{
    const struct evp_backend *be;
    CHECK_RC(evp_backend_resolve(EVP_BACKEND_HOST, &be), 0);
    CHECK(strcmp(be->name, "fault") == 0);
    char a[16] = "abcdefghijklmno", b[16] = {0};
    void *s;
    CHECK_RC(be->stream_create(0, &s), 0);
    CHECK_RC(be->copy(b, a, 4, s), 0);
    CHECK_RC(be->copy(b + 4, a + 4, 4, s), EVP_EBACKEND);
    CHECK_RC(be->copy(b + 8, a + 8, 4, s), 0);
    CHECK_RC(be->stream_sync(s), 0);
    CHECK(memcmp(b, a, 4) == 0 && b[4] == 0 && memcmp(b + 8, a + 8, 4) == 0);
    CHECK_RC(be->stream_destroy(0, s), 0);
    evp_mem_t *m;
    struct evp_mem_desc d;
    int fd;
    CHECK_RC(be->mem->alloc(0, 4096, EVP_MEM_FD, 0, &m), 0);
    CHECK_RC(be->mem->export_(m, EVP_MEM_FD, &d, &fd), EVP_EBACKEND);
    CHECK_RC(be->mem->export_(m, EVP_MEM_FD, &d, &fd), 0);
    CHECK_RC(be->mem->release(m), 0);
    CHECK_EQ(evp_fault_injected(EVP_FAULT_COPY), 1);
    CHECK_EQ(evp_fault_injected(EVP_FAULT_MEM_EXPORT), 1);
    fprintf(stderr, "EVPOOL_FAULT=%s: armed as written\n", getenv("EVPOOL_FAULT"));
    return 0;
}

/* A malformed EVPOOL_FAULT (CTest checks its message): ignored, the
 * backend is not wrapped. */
static int test_env_bad(void)
{
    const struct evp_backend *be;
    CHECK_RC(evp_backend_resolve(EVP_BACKEND_HOST, &be), 0);
    CHECK(be == &evp_backend_host);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "env") == 0)
        return test_env();
    if (argc > 1 && strcmp(argv[1], "env-bad") == 0)
        return test_env_bad();
    TEST(test_every_op_has_a_row);
    evp_fault_enable();
    TEST(test_bad_spec_message);
    const struct evp_backend *be;
    CHECK_RC(evp_backend_resolve(EVP_BACKEND_HOST, &be), 0);
    CHECK(strcmp(be->name, "fault") == 0);
    for (size_t i = 0; i < NCASES; i++)
        run_case(be, &cases[i]);
    fprintf(stderr, "%zu fault rows over %d ops: all passed\n", NCASES, (int)EVP_FAULT_OP_COUNT);
    return 0;
}
