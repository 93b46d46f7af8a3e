/* SPDX-License-Identifier: Apache-2.0 */
/* evb depot: the shared depot alone, without the pool around it. Three
 * depots hold EVB_DEPOT_CHAINS chain ids, each with a row of `width` values:
 *   ring          evp_ring (src/pool/ring.h, SCQ)
 *   stack         evp_stack (src/pool/stack.h, Treiber)
 *   ck_ring_mpmc  a Concurrency Kit ck_ring MPMC ring of ids, rows beside it
 * One operation = pop a chain + push it back (copying the row out and in,
 * the same for all three). Patterns: depot_same (chains of 1: a depot of
 * single events) and depot_chain (chains of 32, what a thread cache moves).
 * Threads 1, 2, 4, ... up to 2 x the online CPUs. Besides the usual
 * counters (evb_run.h): Mevents_per_s = Mops_per_s x chain length.
 *
 * A pop that finds nothing retries with backoff (counted in retries); every
 * run is bounded by the deadline ("did not finish") and ends with a check
 * that every chain is in the depot exactly once with its row intact.
 */
#include <ck_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evb_run.h"
#include "evb_suite.h"
#include "pool/ring.h"
#include "pool/stack.h"

#define EVB_DEPOT_CHAINS 1024u
#define EVB_DEPOT_CK_SIZE 2048u /* a ck_ring of n holds n - 1 */

typedef enum evb_depot_kind { EVB_DEPOT_RING, EVB_DEPOT_STACK, EVB_DEPOT_CK } evb_depot_kind;

typedef struct evb_depot_spec {
    evb_depot_kind kind;
    uint32_t width;
    char name[48];
} evb_depot_spec;

typedef struct evb_depot_ctx {
    evb_results results;      /* first: the fixture's (evb_run.h) */
    struct evp_ring ring;     /* the one of the three this run uses */
    struct evp_stack stack;
    struct ck_ring ck;
    ck_ring_buffer_t *ck_slots; /* owned */
    uint64_t *ck_rows;          /* [chains * width], owned */
    evb_depot_kind kind;
    uint32_t width;
} evb_depot_ctx;

/* Node k's chain is {k * width, ..., k * width + width - 1}: a popped chain
 * names its node, and the final check sees a torn row. */
static inline uint32_t evb_depot_pop(evb_depot_ctx *c, evb_depot_kind kind, uint64_t *vals)
{
    switch (kind) {
    case EVB_DEPOT_RING:
        return evp_ring_pop(&c->ring, vals);
    case EVB_DEPOT_STACK:
        return evp_stack_pop(&c->stack, vals);
    case EVB_DEPOT_CK: {
        void *v;
        if (!ck_ring_dequeue_mpmc(&c->ck, c->ck_slots, &v))
            return 0;
        memcpy(vals, &c->ck_rows[((uintptr_t)v - 1) * c->width], c->width * sizeof *vals);
        return c->width;
    }
    }
    return 0;
}

static inline void evb_depot_push(evb_depot_ctx *c, evb_depot_kind kind, const uint64_t *vals, uint32_t n)
{
    uint32_t node = (uint32_t)(vals[0] / c->width);
    switch (kind) {
    case EVB_DEPOT_RING:
        evp_ring_push(&c->ring, node, vals, n);
        break;
    case EVB_DEPOT_STACK:
        evp_stack_push(&c->stack, node, vals, n);
        break;
    case EVB_DEPOT_CK:
        memcpy(&c->ck_rows[(size_t)node * c->width], vals, n * sizeof *vals);
        /* Cannot be full: the ring holds every id at once. */
        ck_ring_enqueue_mpmc(&c->ck, c->ck_slots, (void *)(uintptr_t)(node + 1));
        break;
    }
}

static int evb_depot_setup(evb_run *run)
{
    const evb_depot_spec *spec = run->bench->user;
    evb_depot_ctx *c = evb_fixture_new(run, sizeof *c); /* cache-line aligned: evp_ring wants its lines */
    if (!c)
        return -1;
    c->kind = spec->kind;
    c->width = spec->width;
    int rc = 0;
    if (c->kind == EVB_DEPOT_RING) {
        rc = evp_ring_init(&c->ring, EVB_DEPOT_CHAINS, c->width);
    } else if (c->kind == EVB_DEPOT_STACK) {
        rc = evp_stack_init(&c->stack, EVB_DEPOT_CHAINS, c->width);
    } else {
        c->ck_slots = calloc(EVB_DEPOT_CK_SIZE, sizeof *c->ck_slots);
        c->ck_rows = calloc((size_t)EVB_DEPOT_CHAINS * c->width, sizeof *c->ck_rows);
        rc = c->ck_slots && c->ck_rows ? 0 : -1;
        if (rc == 0)
            ck_ring_init(&c->ck, EVB_DEPOT_CK_SIZE);
    }
    if (rc != 0) {
        snprintf(run->error, sizeof run->error, "%s: cannot create the depot", spec->name);
        c->kind = EVB_DEPOT_CK; /* teardown: free() of what exists is safe */
        return -1;
    }
    uint64_t vals[EVP_STACK_WIDTH_MAX];
    for (uint32_t k = 0; k < EVB_DEPOT_CHAINS; k++) {
        for (uint32_t i = 0; i < c->width; i++)
            vals[i] = (uint64_t)k * c->width + i;
        evb_depot_push(c, c->kind, vals, c->width);
    }
    return 0;
}

static void evb_depot_teardown(evb_run *run)
{
    evb_depot_ctx *c = run->ctx;
    if (!c)
        return;
    if (c->kind == EVB_DEPOT_RING)
        evp_ring_fini(&c->ring);
    else if (c->kind == EVB_DEPOT_STACK)
        evp_stack_fini(&c->stack);
    free(c->ck_slots);
    free(c->ck_rows);
    evb_fixture_free(run);
}

typedef struct evb_depot_seen {
    uint8_t node[EVB_DEPOT_CHAINS];
    uint32_t width, bad;
} evb_depot_seen;

static void evb_depot_count(const uint64_t *vals, uint32_t n, void *arg)
{
    evb_depot_seen *s = arg;
    uint64_t node = vals[0] / s->width;
    if (n != s->width || node >= EVB_DEPOT_CHAINS || s->node[node]++ != 0) {
        s->bad++;
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        if (vals[i] != node * s->width + i)
            s->bad++;
}

/* Single-threaded, after the run: every chain exactly once, rows whole. */
static int evb_depot_check(evb_depot_ctx *c, char *err, size_t len)
{
    evb_depot_seen s = {.width = c->width};
    if (c->kind == EVB_DEPOT_RING) {
        evp_ring_walk(&c->ring, evb_depot_count, &s);
    } else if (c->kind == EVB_DEPOT_STACK) {
        evp_stack_walk(&c->stack, evb_depot_count, &s);
    } else {
        uint64_t vals[EVP_STACK_WIDTH_MAX];
        for (uint32_t i = ck_ring_size(&c->ck); i > 0; i--) {
            evb_depot_count(vals, evb_depot_pop(c, EVB_DEPOT_CK, vals), &s);
            evb_depot_push(c, EVB_DEPOT_CK, vals, c->width);
        }
    }
    uint32_t missing = 0;
    for (uint32_t k = 0; k < EVB_DEPOT_CHAINS; k++)
        missing += s.node[k] == 0;
    if (s.bad == 0 && missing == 0)
        return 0;
    snprintf(err, len, "%u chains missing, %u duplicated or torn", missing, s.bad);
    return -1;
}

/* Thread 0, after evb_loop_finish merged and published the usual counters. */
static void evb_depot_finish(evb_state *st, evb_depot_ctx *c)
{
    const evb_results *r = &c->results;
    if (r->ops > 0 && r->elapsed_ns > 0)
        evb_counter_set(st, "Mevents_per_s", (double)r->ops * c->width / r->elapsed_ns * 1e3,
                        EVB_COUNTER_PLAIN);
    char label[64], why[128], msg[160];
    snprintf(label, sizeof label, "chains=%u width=%u", EVB_DEPOT_CHAINS, c->width);
    evb_label_set(st, label);
    if (evb_depot_check(c, why, sizeof why) != 0) {
        snprintf(msg, sizeof msg, "conservation violated: %s", why);
        evb_skip_with_error(st, msg);
    }
}

static inline void evb_depot_body(evb_state *st, evb_depot_kind kind)
{
    evb_depot_ctx *c = evb_ctx(st);
    evb_sampler smp;
    evb_sampler_init(&smp, evb_thread_index(st));
    uint64_t vals[EVP_STACK_WIDTH_MAX];
    evb_loop l;
    evb_loop_start(&l, st, &c->results, EVB_BATCH);
    while (evb_loop_next(&l)) {
        uint64_t t0 = 0;
        bool timed = evb_sampler_due(&smp);
        if (timed)
            t0 = evb_ticks_begin();
        uint32_t n;
        unsigned spins = 0;
        while ((n = evb_depot_pop(c, kind, vals)) == 0) {
            l.res->retries++;
            if (evb_loop_expired(&l))
                break;
            evb_backoff(&spins);
        }
        if (n == 0) {
            evb_loop_dnf(&l);
            continue; /* the loop walks out the run */
        }
        evb_depot_push(c, kind, vals, n);
        if (timed)
            evb_hist_record(&l.res->hist, evb_ticks_to_ns(evb_ticks_end() - t0));
        l.ops++;
    }
    if (evb_loop_finish(&l))
        evb_depot_finish(st, c);
}

/* One body per depot, the kind a constant: the switch folds away. */
static void evb_depot_ring_fn(evb_state *st)
{
    evb_depot_body(st, EVB_DEPOT_RING);
}

static void evb_depot_stack_fn(evb_state *st)
{
    evb_depot_body(st, EVB_DEPOT_STACK);
}

static void evb_depot_ck_fn(evb_state *st)
{
    evb_depot_body(st, EVB_DEPOT_CK);
}

void evb_depot_register(void)
{
    static int threads[16]; /* 1, 2, 4, ... 2 x CPUs, then 0; the shim keeps the pointer */
    unsigned nt = 0;
    int top = 2 * evb_cpu_count();
    for (int t = 1; t < top && nt < 14; t *= 2)
        threads[nt++] = t;
    threads[nt++] = top;
    threads[nt] = 0;

    static const struct {
        const char *name;
        void (*fn)(evb_state *);
        evb_depot_kind kind;
    } impls[] = {
        {"ring", evb_depot_ring_fn, EVB_DEPOT_RING},
        {"stack", evb_depot_stack_fn, EVB_DEPOT_STACK},
        {"ck_ring_mpmc", evb_depot_ck_fn, EVB_DEPOT_CK},
    };
    static const struct {
        const char *name;
        uint32_t width;
    } patterns[] = {{"depot_same", 1}, {"depot_chain", 32}};
    static evb_depot_spec specs[6];
    unsigned s = 0;
    for (unsigned p = 0; p < 2; p++) {
        for (unsigned i = 0; i < 3; i++, s++) {
            evb_depot_spec *spec = &specs[s];
            spec->kind = impls[i].kind;
            spec->width = patterns[p].width;
            snprintf(spec->name, sizeof spec->name, "%s/%s", patterns[p].name, impls[i].name);
            evb_bench b = {
                .name = spec->name,
                .fn = impls[i].fn,
                .threads = threads,
                .user = spec,
                .real_time = true,
                .setup = evb_depot_setup,
                .teardown = evb_depot_teardown,
            };
            evb_register(&b);
        }
    }
}
