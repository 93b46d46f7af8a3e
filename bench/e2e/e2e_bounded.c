/* SPDX-License-Identifier: Apache-2.0 */
/* e2e bounded: see e2e_bounded.h. */
#include "e2e/e2e_bounded.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2e/e2e_way.h"
#include "evb_clock.h"
#include "evb_run.h"
#include "evb_suite.h"

typedef struct e2e_bopts {
    int way;
    uint64_t cycles, bytes;
    int threads, samples;
    const char *out, *commit;
} e2e_bopts;

typedef struct e2e_bsample {
    uint64_t cycles, live, rss;
    double t_s;
} e2e_bsample;

typedef struct e2e_bworker {
    pthread_t tid;
    e2e_way *w;
    int index;
    uint64_t cycles; /* this thread's share */
    uint64_t bytes;
    /* 0, or the first failure: written by the worker, read by the sampler
     * to see it stop; relaxed (the join orders msg). */
    _Atomic int rc;
    char msg[192];
} e2e_bworker;

static int e2e_bad(const char *msg, const char *arg)
{
    fprintf(stderr, "evpool-e2e --bounded: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    fprintf(stderr, "usage: evpool-e2e --bounded --way=evpool|create_destroy|create_leak [--cycles=N] "
                    "[--threads=T] [--samples=K] [--bytes=B] [--commit=TEXT] --out=FILE\n");
    return 2;
}

/* A positive decimal integer, all of s, at most max. */
static int e2e_uint(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || *end || errno || v == 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

static int e2e_bparse(int argc, char **argv, e2e_bopts *o)
{
    *o = (e2e_bopts){.way = -1, .cycles = 10000000, .bytes = 4096, .threads = 16, .samples = 100};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = strchr(a, '=');
        uint64_t n = 0;
        if (!v)
            return e2e_bad("expected --name=value", a);
        v++;
        if (strncmp(a, "--way=", 6) == 0) {
            o->way = e2e_way_parse(v);
            if (o->way != E2E_EVPOOL && o->way != E2E_CREATE_DESTROY && o->way != E2E_CREATE_LEAK)
                return e2e_bad("--way must be evpool, create_destroy or create_leak", a);
        } else if (strncmp(a, "--cycles=", 9) == 0) {
            if (e2e_uint(v, UINT64_C(1) << 40, &o->cycles))
                return e2e_bad("--cycles: a positive integer", a);
        } else if (strncmp(a, "--threads=", 10) == 0) {
            if (e2e_uint(v, 4096, &n))
                return e2e_bad("--threads: an integer 1..4096", a);
            o->threads = (int)n;
        } else if (strncmp(a, "--samples=", 10) == 0) {
            if (e2e_uint(v, 100000, &n) || n < 2)
                return e2e_bad("--samples: an integer 2..100000", a);
            o->samples = (int)n;
        } else if (strncmp(a, "--bytes=", 8) == 0) {
            if (e2e_uint(v, 64u << 20, &o->bytes))
                return e2e_bad("--bytes: an integer 1..67108864", a);
        } else if (strncmp(a, "--out=", 6) == 0) {
            o->out = v;
        } else if (strncmp(a, "--commit=", 9) == 0) {
            o->commit = v;
        } else {
            return e2e_bad("unknown argument", a);
        }
    }
    if (o->way < 0)
        return e2e_bad("--way is required", NULL);
    if (!o->out || !*o->out)
        return e2e_bad("--out is required", NULL);
    if (o->cycles < (uint64_t)o->threads)
        return e2e_bad("--cycles must be at least --threads", NULL);
    return 0;
}

static uint64_t e2e_rss_bytes(void)
{
    unsigned long long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void *e2e_bworker_run(void *arg)
{
    e2e_bworker *b = arg;
    for (uint64_t c = 0; c < b->cycles; c++) {
        e2e_item it;
        int rc = e2e_way_prepare(b->w, b->index, &it);
        if (rc == 0)
            rc = e2e_way_submit(b->w, b->index, b->bytes, &it);
        unsigned spins = 0;
        int done = 0;
        while (rc == 0 && (done = e2e_way_poll(b->w, &it)) == 0)
            evb_backoff(&spins);
        if (rc == 0 && done < 0)
            rc = done;
        int rr = e2e_way_release(b->w, b->index, &it);
        if (rc || rr) {
            rc = rc ? rc : rr;
            snprintf(b->msg, sizeof b->msg, "thread %d, cycle %llu: %s", b->index, (unsigned long long)c,
                     evp_strerror(rc));
            atomic_store_explicit(&b->rc, rc, memory_order_relaxed);
            break;
        }
    }
    return NULL;
}

static uint64_t e2e_bcycles(const e2e_way *w)
{
    uint64_t n = 0;
    for (int i = 0; i < w->threads; i++)
        n += atomic_load_explicit(&w->th[i].cycles, memory_order_relaxed);
    return n;
}

/* ---- JSON ---------------------------------------------------------------- */

static FILE *e2e_json; /* the context's destination (main thread only) */
static int e2e_json_keys;

static void e2e_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void e2e_json_context(const char *key, const char *value)
{
    fprintf(e2e_json, "%s\n    ", e2e_json_keys++ ? "," : "");
    e2e_json_string(e2e_json, key);
    fputs(": ", e2e_json);
    e2e_json_string(e2e_json, value);
}

static int e2e_bwrite(const e2e_bopts *o, const e2e_target *tg, const e2e_bsample *s, int n, double secs,
                      const e2e_way *w)
{
    FILE *f = fopen(o->out, "w");
    if (!f) {
        fprintf(stderr, "evpool-e2e --bounded: %s: %s\n", o->out, strerror(errno));
        return 1;
    }
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    fputs("{\n  \"context\": {", f);
    e2e_json = f;
    e2e_json_keys = 0;
    e2e_json_context("host_name", host);
    e2e_json_context("git_commit", o->commit ? o->commit : "unknown");
    evb_context_collect(e2e_json_context);
    fputs("\n  },\n", f);
    fprintf(f, "  \"way\": \"%s\",\n  \"transport\": \"%s\",\n  \"backend\": \"%s\",\n", e2e_way_name(w->kind),
            evp_transport_name(tg->t), tg->be->name);
    fprintf(f, "  \"threads\": %d,\n  \"cycles\": %llu,\n  \"bytes\": %llu,\n  \"seconds\": %.3f,\n", o->threads,
            (unsigned long long)o->cycles, (unsigned long long)o->bytes, secs);
    if (w->kind == E2E_EVPOOL) {
        evp_pool_t *pool = NULL;
        evp_pool_stats_t ps = {0};
        if (evp_transport_pool(tg->t, tg->device, &pool) == 0)
            evp_pool_stats(pool, &ps);
        fprintf(f, "  \"pool\": {\"size\": %u, \"max\": %u, \"created\": %llu, \"high_water\": %llu},\n",
                tg->cfg.size, tg->cfg.max, (unsigned long long)ps.events_created,
                (unsigned long long)ps.high_water);
    }
    fputs("  \"samples\": [\n", f);
    for (int i = 0; i < n; i++)
        fprintf(f, "    {\"cycles\": %llu, \"live_events\": %llu, \"rss_bytes\": %llu, \"t_s\": %.3f}%s\n",
                (unsigned long long)s[i].cycles, (unsigned long long)s[i].live, (unsigned long long)s[i].rss,
                s[i].t_s, i + 1 < n ? "," : "");
    fputs("  ]\n}\n", f);
    return fclose(f) == 0 ? 0 : 1;
}

/* ---- the run ------------------------------------------------------------- */

static double e2e_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Starts the workers and samples until they are done. */
static int e2e_brun(const e2e_bopts *o, e2e_way *w, e2e_bsample *s, int *ns, double *secs)
{
    e2e_bworker *b = calloc((size_t)o->threads, sizeof *b);
    if (!b)
        return 1;
    double t0 = e2e_now_s();
    int started = 0, n = 0;
    s[n++] = (e2e_bsample){0, e2e_way_live_events(w), e2e_rss_bytes(), 0};
    for (; started < o->threads; started++) {
        e2e_bworker *x = &b[started];
        x->w = w;
        x->index = started;
        x->bytes = o->bytes;
        x->cycles = o->cycles / (uint64_t)o->threads + ((uint64_t)started < o->cycles % (uint64_t)o->threads);
        if (pthread_create(&b[started].tid, NULL, e2e_bworker_run, &b[started]) != 0)
            break;
    }
    uint64_t step = o->cycles / (uint64_t)(o->samples - 1), next = step;
    while (started == o->threads && n < o->samples - 1) {
        uint64_t c = e2e_bcycles(w);
        if (c >= next) {
            s[n++] = (e2e_bsample){c, e2e_way_live_events(w), e2e_rss_bytes(), e2e_now_s() - t0};
            next += step;
            continue;
        }
        bool failed = false;
        for (int i = 0; i < started; i++)
            failed |= atomic_load_explicit(&b[i].rc, memory_order_relaxed) != 0;
        if (failed)
            break;
        usleep(2000);
    }
    int rc = started == o->threads ? 0 : 1;
    for (int i = 0; i < started; i++) {
        pthread_join(b[i].tid, NULL);
        if (atomic_load_explicit(&b[i].rc, memory_order_relaxed)) {
            fprintf(stderr, "evpool-e2e --bounded: %s\n", b[i].msg);
            rc = 1;
        }
    }
    *secs = e2e_now_s() - t0;
    s[n++] = (e2e_bsample){e2e_bcycles(w), e2e_way_live_events(w), e2e_rss_bytes(), *secs};
    *ns = n;
    free(b);
    return rc;
}

int e2e_bounded_main(e2e_peer *peer, int argc, char **argv)
{
    e2e_bopts o;
    int rc = e2e_bparse(argc, argv, &o);
    if (rc)
        return rc;
    evp_config_t cfg;
    char err[256];
    const struct evp_backend *be = NULL;
    if (e2e_config(&cfg, err, sizeof err) != 0 || evp_backend_resolve(cfg.backend, &be) != 0) {
        fprintf(stderr, "evpool-e2e --bounded: %s\n", be ? err : "no backend (EVPOOL_BACKEND?)");
        return 1;
    }
    evp_transport_kind_t kind = strcmp(be->name, "cuda") == 0 ? EVP_TRANSPORT_NVLINK : EVP_TRANSPORT_HOST;
    e2e_target tg;
    e2e_way w = {0};
    e2e_bsample *s = calloc((size_t)o.samples + 1u, sizeof *s);
    int n = 0;
    double secs = 0;
    rc = s ? e2e_target_open(&tg, peer, kind, 0, 0, o.bytes, err, sizeof err) : EVP_ENOMEM;
    if (rc == 0)
        rc = e2e_way_init(&w, (e2e_way_kind)o.way, &tg, o.threads, 1, err, sizeof err);
    if (rc) {
        fprintf(stderr, "evpool-e2e --bounded: %s\n", err);
        rc = 1;
    } else {
        fprintf(stderr, "evpool-e2e --bounded: %s over %s, %llu cycles at %d threads...\n", e2e_way_name(w.kind),
                evp_transport_name(tg.t), (unsigned long long)o.cycles, o.threads);
        rc = e2e_brun(&o, &w, s, &n, &secs);
        if (e2e_bwrite(&o, &tg, s, n, secs, &w) != 0)
            rc = 1;
    }
    if (w.th)
        e2e_way_fini(&w);
    if (s)
        e2e_target_close(&tg);
    free(s);
    return rc;
}
