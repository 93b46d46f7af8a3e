/* SPDX-License-Identifier: Apache-2.0 */
/* e2e bench: see e2e_bench.h. */
#include "e2e/e2e_bench.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "e2e/e2e_way.h"
#include "evb_run.h"

#define E2E_MAX_BYTES (64u << 20)

/* ---- targets, opened once per {kind, devices} ---------------------------- */

typedef struct e2e_slot {
    evp_transport_kind_t kind;
    int device, peer_device;
    int rc;          /* 0 open; else why not, in err (remembered: no retry) */
    char err[256];
    e2e_target tg;
} e2e_slot;

static e2e_peer *e2e_the_peer;
static e2e_slot e2e_slots[8]; /* host, or {nvlink, mnnvl} x {same, two}: 4 used */
static int e2e_nslots;

/* Main thread only (setup): no lock. */
static e2e_target *e2e_target_get(evp_transport_kind_t kind, int device, int peer_device, char *err, size_t len)
{
    e2e_slot *s = NULL;
    for (int i = 0; i < e2e_nslots && !s; i++)
        if (e2e_slots[i].kind == kind && e2e_slots[i].device == device && e2e_slots[i].peer_device == peer_device)
            s = &e2e_slots[i];
    if (!s) {
        if (e2e_nslots == (int)(sizeof e2e_slots / sizeof e2e_slots[0])) {
            snprintf(err, len, "too many targets");
            return NULL;
        }
        s = &e2e_slots[e2e_nslots++];
        *s = (e2e_slot){.kind = kind, .device = device, .peer_device = peer_device};
        s->rc = e2e_target_open(&s->tg, e2e_the_peer, kind, device, peer_device, E2E_MAX_BYTES, s->err,
                                sizeof s->err);
    }
    if (s->rc) {
        snprintf(err, len, "%s", s->err);
        return NULL;
    }
    return &s->tg;
}

void e2e_targets_close(void)
{
    for (int i = 0; i < e2e_nslots; i++)
        e2e_target_close(&e2e_slots[i].tg);
    e2e_nslots = 0;
}

/* ---- one registered benchmark -------------------------------------------- */

typedef struct e2e_spec {
    char name[96];
    int roundtrip;              /* else submit */
    e2e_way_kind way;
    evp_transport_kind_t kind;  /* the target's */
    int device, peer_device;
    uint64_t bytes;
} e2e_spec;

/* Where one thread's time went, in ticks, summed over its operations: the
 * steps of a submit's life. The submit run times the submit call in the
 * histogram and the other steps here; the round-trip run all four. */
typedef struct e2e_steps {
    alignas(64) uint64_t prepare; /* evpool: evp_transport_batch_alloc */
    uint64_t submit;
    uint64_t wait;                /* polling until done */
    uint64_t release;             /* evpool: evp_transport_batch_free */
} e2e_steps;

typedef struct e2e_ctx {
    evb_results results; /* first: the fixture (evb_run.h) */
    const e2e_spec *spec;
    e2e_way way;
    e2e_steps *steps;    /* [threads]; owned */
    double start_s;      /* for the progress line */
} e2e_ctx;

static double e2e_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void e2e_teardown(evb_run *run)
{
    e2e_ctx *ctx = run->ctx;
    if (!ctx)
        return;
    /* Progress: Google Benchmark prints a run only at its end, and a run
     * of 64 MiB copies at 2 x the cores can take a while. */
    fprintf(stderr, "e2e: %s threads=%d: end (%.1f s)\n", run->bench->name, run->threads,
            e2e_now_s() - ctx->start_s);
    if (ctx->way.tg)
        e2e_way_fini(&ctx->way);
    free(ctx->steps);
    evb_fixture_free(run);
}

static int e2e_setup(evb_run *run)
{
    const e2e_spec *spec = run->bench->user;
    e2e_ctx *ctx = evb_fixture_new(run, sizeof *ctx);
    if (!ctx)
        return -1;
    ctx->spec = spec;
    ctx->start_s = e2e_now_s();
    fprintf(stderr, "e2e: %s threads=%d: start\n", spec->name, run->threads);
    size_t bytes = (size_t)run->threads * sizeof *ctx->steps;
    if (!(ctx->steps = aligned_alloc(64, (bytes + 63u) & ~(size_t)63u))) {
        snprintf(run->error, sizeof run->error, "out of memory");
        return -1;
    }
    memset(ctx->steps, 0, bytes);
    e2e_target *tg = e2e_target_get(spec->kind, spec->device, spec->peer_device, run->error, sizeof run->error);
    if (!tg)
        return -1;
    if (e2e_way_init(&ctx->way, spec->way, tg, run->threads, E2E_WINDOW, run->error, sizeof run->error) != 0)
        return -1;
    return 0;
}

/* What failed, for the loop's message; -1. */
static int e2e_fail(e2e_way *w, const char *step, int rc, char *msg, size_t len)
{
    snprintf(msg, len, "%s %s: %s", e2e_way_name(w->kind), step, evp_strerror(rc));
    return -1;
}

/* Polls until done (spin a little, then yield: on an oversubscribed
 * machine the copy's worker needs the CPU), then releases; both timed into
 * s. 0 or msg and -1. */
static int e2e_retire(e2e_way *w, int ti, e2e_item *it, e2e_steps *s, char *msg, size_t len)
{
    unsigned spins = 0;
    int rc;
    uint64_t t0 = evb_ticks_begin();
    while ((rc = e2e_way_poll(w, it)) == 0)
        evb_backoff(&spins);
    uint64_t t1 = evb_ticks_end();
    int rr = e2e_way_release(w, ti, it);
    s->wait += t1 - t0;
    s->release += evb_ticks_end() - t1;
    if (rc < 0)
        return e2e_fail(w, "poll", rc, msg, len);
    return rr ? e2e_fail(w, "release", rr, msg, len) : 0;
}

/* prepare + submit, each timed into s; *submit_ns the submit call. On
 * failure the item is released. 0 or msg and -1. */
static int e2e_start(e2e_way *w, int ti, uint64_t bytes, e2e_item *it, e2e_steps *s, uint64_t *submit_ns,
                     char *msg, size_t len)
{
    uint64_t t0 = evb_ticks_begin();
    int rc = e2e_way_prepare(w, ti, it);
    uint64_t t1 = evb_ticks_end();
    s->prepare += t1 - t0;
    if (rc) {
        e2e_way_release(w, ti, it);
        return e2e_fail(w, "prepare", rc, msg, len);
    }
    t1 = evb_ticks_begin();
    rc = e2e_way_submit(w, ti, bytes, it);
    uint64_t t2 = evb_ticks_end();
    s->submit += t2 - t1;
    *submit_ns = evb_ticks_to_ns(t2 - t1);
    if (rc) {
        e2e_way_release(w, ti, it);
        return e2e_fail(w, "submit", rc, msg, len);
    }
    return 0;
}

/* The submit run: the submit call alone is in the histogram. */
static void e2e_body_submit(evb_state *st, e2e_ctx *ctx, evb_loop *l, int ti)
{
    e2e_way *w = &ctx->way;
    e2e_steps *s = &ctx->steps[ti];
    e2e_item win[E2E_WINDOW];
    unsigned head = 0, count = 0;
    char msg[192];
    while (evb_loop_next(l)) {
        if (count == E2E_WINDOW) {
            int rc = e2e_retire(w, ti, &win[head], s, msg, sizeof msg);
            head = (head + 1) % E2E_WINDOW;
            count--;
            if (rc) {
                evb_loop_fail(l, msg);
                continue;
            }
        }
        uint64_t ns;
        if (e2e_start(w, ti, ctx->spec->bytes, &win[(head + count) % E2E_WINDOW], s, &ns, msg, sizeof msg)) {
            evb_loop_fail(l, msg);
            continue;
        }
        evb_hist_record(&l->res->hist, ns);
        count++;
        l->ops++;
    }
    /* What is still in flight (not in the run's time): nothing leaks. */
    e2e_steps spare = {0};
    for (; count > 0; count--, head = (head + 1) % E2E_WINDOW)
        if (e2e_retire(w, ti, &win[head], &spare, msg, sizeof msg) != 0)
            evb_skip_with_error(st, msg);
}

/* The round-trip run: prepare + submit + poll to completion + release. */
static void e2e_body_roundtrip(e2e_ctx *ctx, evb_loop *l, int ti)
{
    e2e_way *w = &ctx->way;
    e2e_steps *s = &ctx->steps[ti];
    char msg[192];
    while (evb_loop_next(l)) {
        e2e_item it;
        uint64_t ns, t0 = evb_ticks_begin();
        if (e2e_start(w, ti, ctx->spec->bytes, &it, s, &ns, msg, sizeof msg) != 0 ||
            e2e_retire(w, ti, &it, s, msg, sizeof msg) != 0) {
            evb_loop_fail(l, msg);
            continue;
        }
        evb_hist_record(&l->res->hist, evb_ticks_to_ns(evb_ticks_end() - t0));
        l->ops++;
    }
}

static void e2e_finish(evb_state *st, e2e_ctx *ctx)
{
    const e2e_spec *spec = ctx->spec;
    evb_results *r = &ctx->results;
    e2e_steps sum = {0};
    for (int i = 0; i < r->threads; i++) {
        sum.prepare += ctx->steps[i].prepare;
        sum.submit += ctx->steps[i].submit;
        sum.wait += ctx->steps[i].wait;
        sum.release += ctx->steps[i].release;
    }
    evb_counter_set(st, "bytes", (double)spec->bytes, EVB_COUNTER_PLAIN);
    if (r->ops > 0) {
        double ops = (double)r->ops;
        if (r->elapsed_ns > 0)
            evb_counter_set(st, "GB_per_s", ops * (double)spec->bytes / r->elapsed_ns, EVB_COUNTER_PLAIN);
        /* Mean time of each step per operation (the submit run's wait and
         * release: retiring the oldest of its window). */
        evb_counter_set(st, "prepare_ns", (double)evb_ticks_to_ns(sum.prepare) / ops, EVB_COUNTER_PLAIN);
        evb_counter_set(st, "submit_ns", (double)evb_ticks_to_ns(sum.submit) / ops, EVB_COUNTER_PLAIN);
        evb_counter_set(st, "wait_ns", (double)evb_ticks_to_ns(sum.wait) / ops, EVB_COUNTER_PLAIN);
        evb_counter_set(st, "release_ns", (double)evb_ticks_to_ns(sum.release) / ops, EVB_COUNTER_PLAIN);
    }
    evb_counter_set(st, "live_events", (double)e2e_way_live_events(&ctx->way), EVB_COUNTER_PLAIN);
    char label[160], why[192], msg[256];
    const e2e_target *tg = ctx->way.tg;
    snprintf(label, sizeof label, "transport=%s backend=%s device=%d peer_device=%d streams=%u size=%u max=%u",
             evp_transport_name(tg->t), tg->be->name, tg->device, tg->peer_device, tg->nstreams, tg->cfg.size,
             tg->cfg.max);
    evb_label_set(st, label);
    if (e2e_way_check(&ctx->way, r->ops, why, sizeof why) != 0) {
        snprintf(msg, sizeof msg, "conservation violated: %s", why);
        evb_skip_with_error(st, msg);
    }
}

static void e2e_body(evb_state *st)
{
    e2e_ctx *ctx = evb_ctx(st);
    int ti = evb_thread_index(st);
    /* Fewer operations per batch for the big copies: the deadline and
     * Google Benchmark's iteration count are checked per batch. */
    unsigned batch = ctx->spec->bytes >= (4u << 20) ? 1 : 16;
    evb_loop l;
    evb_loop_start(&l, st, &ctx->results, batch);
    if (ctx->spec->roundtrip)
        e2e_body_roundtrip(ctx, &l, ti);
    else
        e2e_body_submit(st, ctx, &l, ti);
    if (evb_loop_finish(&l))
        e2e_finish(st, ctx);
}

/* ---- registration -------------------------------------------------------- */

static int e2e_threads[8];

static void e2e_threads_init(void)
{
    int want[] = {1, 4, 16, 2 * evb_cpu_count()}, n = 0;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int dup = 0;
        for (int k = 0; k < n; k++)
            dup |= e2e_threads[k] == want[i];
        if (!dup)
            e2e_threads[n++] = want[i];
    }
    for (int i = 1; i < n; i++) /* sorted */
        for (int k = i; k > 0 && e2e_threads[k - 1] > e2e_threads[k]; k--) {
            int t = e2e_threads[k];
            e2e_threads[k] = e2e_threads[k - 1];
            e2e_threads[k - 1] = t;
        }
    e2e_threads[n] = 0;
}

static void e2e_add(e2e_spec *spec)
{
    evb_bench b = {
        .name = spec->name,
        .fn = e2e_body,
        .threads = e2e_threads,
        .user = spec,
        .real_time = true,
        .setup = e2e_setup,
        .teardown = e2e_teardown,
    };
    evb_register(&b);
}

void e2e_register(e2e_peer *peer)
{
    static const struct {
        const char *name;
        uint64_t bytes;
    } sizes[] = {{"4KiB", 4u << 10}, {"64KiB", 64u << 10}, {"4MiB", 4u << 20}, {"64MiB", 64u << 20}};
    static const e2e_way_kind baselines[] = {E2E_FLOOR, E2E_CREATE_DESTROY, E2E_MUTEX_VECTOR, E2E_BARE_COPY};
    e2e_the_peer = peer;
    e2e_threads_init();
    /* The backend EVPOOL_BACKEND picks (auto: CUDA where a GPU is usable). */
    evp_config_t cfg;
    char err[256];
    const struct evp_backend *be = NULL;
    if (e2e_config(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "e2e: %s\n", err);
        exit(2);
    }
    bool cuda = evp_backend_resolve(cfg.backend, &be) == 0 && strcmp(be->name, "cuda") == 0;
    struct {
        const char *name;
        int peer_device;
    } wheres[] = {{cuda ? "same_gpu" : "host", 0}, {"two_gpus", 1}};
    evp_transport_kind_t kinds[2] = {cuda ? EVP_TRANSPORT_NVLINK : EVP_TRANSPORT_HOST, EVP_TRANSPORT_MNNVL};
    int nkinds = cuda ? 2 : 1, nwheres = 1;
    const char *why = cuda ? "same_gpu, two_gpus" : "host (no usable GPU, or EVPOOL_BACKEND=host)";
    char skipped[96];
    if (cuda) {
        int ndev = be->device_count(err, sizeof err);
        if (ndev >= 2) {
            nwheres = 2;
        } else {
            snprintf(skipped, sizeof skipped, "same_gpu; two_gpus skipped: this machine has %d GPU", ndev);
            fprintf(stderr, "e2e: %s\n", skipped);
            why = skipped;
        }
    }
    evb_add_context("e2e_wheres", why); /* the JSON says what ran and why not the rest */
    for (int mode = 0; mode < 2; mode++)
        for (int wi = 0; wi < nwheres; wi++)
            for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
                for (int v = 0; v < nkinds + 4; v++) {
                    /* Registered once, alive until exit (evb_register keeps the pointer). */
                    e2e_spec *spec = calloc(1, sizeof *spec);
                    if (!spec) {
                        fprintf(stderr, "e2e: out of memory\n");
                        exit(1);
                    }
                    bool ev = v < nkinds;
                    *spec = (e2e_spec){.roundtrip = mode,
                                       .way = ev ? E2E_EVPOOL : baselines[v - nkinds],
                                       .kind = ev ? kinds[v] : kinds[0],
                                       .device = 0,
                                       .peer_device = wheres[wi].peer_device,
                                       .bytes = sizes[si].bytes};
                    char way[32];
                    if (ev)
                        snprintf(way, sizeof way, "evpool_%s",
                                 kinds[v] == EVP_TRANSPORT_HOST     ? "host"
                                 : kinds[v] == EVP_TRANSPORT_NVLINK ? "nvlink"
                                                                    : "mnnvl");
                    else
                        snprintf(way, sizeof way, "%s", e2e_way_name(spec->way));
                    snprintf(spec->name, sizeof spec->name, "e2e_%s/%s/%s/%s", mode ? "roundtrip" : "submit",
                             wheres[wi].name, way, sizes[si].name);
                    e2e_add(spec);
                }
}
