/* SPDX-License-Identifier: Apache-2.0 */
/* evpool example: lease events from the device-0 pool, record them on a
 * stream after some work, poll them until done, return them, print the stats.
 *
 *   build/default/examples/evpool-basic [iterations] [depth]
 *
 * iterations: events leased in all (default 10000); depth: how many are in
 * flight at once (default 8). The EVPOOL_* environment configures the pool
 * (EVPOOL_BACKEND=host runs without a GPU; the default, auto, picks the CUDA
 * backend when a GPU is usable). Exits non-zero on any error or leak.
 *
 * Copy from here: the pattern is lease -> record after the work -> query
 * until 1 -> return. A lease is only a number; the pool detects a lease used
 * after it was returned (EVP_ESTALE) instead of touching another's event.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "evpool/evpool.h"

#define DIE(what, rc)                                                          \
    do {                                                                       \
        fprintf(stderr, "evpool-basic: %s: %s\n", (what), evp_strerror(rc));   \
        exit(1);                                                               \
    } while (0)

/* A stream of the pool's backend: a cudaStream_t with a small device buffer
 * to work on, or an evp_host_stream_t. Owned by main, freed by
 * stream_destroy. */
typedef struct stream {
    bool cuda;
    void *handle;   /* cudaStream_t or evp_host_stream_t * */
    void *dev_buf;  /* cuda only: the buffer the "work" clears */
} stream_t;

enum { WORK_BYTES = 64 * 1024 };

static void host_work(void *arg)
{
    /* Stands in for a copy: touches a buffer on the stream's worker. */
    memset(arg, 0xab, WORK_BYTES);
}

static void stream_create(stream_t *s, const char *backend)
{
    memset(s, 0, sizeof *s);
    s->cuda = strcmp(backend, "cuda") == 0;
    if (s->cuda) {
        cudaStream_t cs;
        if (cudaStreamCreateWithFlags(&cs, cudaStreamNonBlocking) != cudaSuccess ||
            cudaMalloc(&s->dev_buf, WORK_BYTES) != cudaSuccess)
            DIE("cuda stream/buffer", EVP_EBACKEND);
        s->handle = cs;
    } else {
        int rc = evp_host_stream_create((evp_host_stream_t **)&s->handle);
        if (rc != 0)
            DIE("evp_host_stream_create", rc);
        if ((s->dev_buf = malloc(WORK_BYTES)) == NULL)
            DIE("malloc", EVP_ENOMEM);
    }
}

/* Enqueues the work that the next recorded event will wait for. */
static void stream_work(stream_t *s)
{
    int rc = 0;
    if (s->cuda) {
        if (cudaMemsetAsync(s->dev_buf, 0, WORK_BYTES, (cudaStream_t)s->handle) != cudaSuccess)
            rc = EVP_EBACKEND;
    } else {
        rc = evp_host_stream_enqueue(s->handle, host_work, s->dev_buf);
    }
    if (rc != 0)
        DIE("enqueue work", rc);
}

static void stream_destroy(stream_t *s)
{
    if (s->cuda) {
        cudaStreamSynchronize((cudaStream_t)s->handle);
        cudaStreamDestroy((cudaStream_t)s->handle);
        cudaFree(s->dev_buf);
    } else {
        evp_host_stream_destroy(s->handle); /* runs what is queued first */
        free(s->dev_buf);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Polls a lease until its work is done, then returns it. The busy poll is
 * for the example; a transport polls from its progress loop. */
static uint64_t wait_and_return(evp_pool_t *pool, evp_lease_t lease)
{
    uint64_t polls = 0;
    int rc;
    while ((rc = evp_pool_query(pool, lease)) == 0)
        polls++;
    if (rc != 1)
        DIE("evp_pool_query", rc);
    if ((rc = evp_pool_return(pool, lease)) != 0)
        DIE("evp_pool_return", rc);
    return polls + 1;
}

static void print_config(evp_pool_t *pool)
{
    evp_config_t cfg;
    char value[64];
    evp_pool_config(pool, &cfg);
    printf("configuration:\n");
    for (int k = 0; k < EVP_KNOB_COUNT; k++) {
        if (evp_config_format(&cfg, (evp_knob_t)k, value, sizeof value) != 0)
            snprintf(value, sizeof value, "?");
        printf("  %-24s %-10s (%s)\n", evp_config_knob_name((evp_knob_t)k), value,
               evp_config_source_name(cfg.source[k]));
    }
}

static void print_stats(evp_pool_t *pool)
{
    evp_pool_stats_t st;
    evp_pool_stats(pool, &st);
    printf("pool stats:\n"
           "  leases             %" PRIu64 "\n"
           "  returns            %" PRIu64 "\n"
           "  outstanding        %" PRIu64 "\n"
           "  high water         %" PRIu64 "\n"
           "  exhaustion waits   %" PRIu64 " (%.3f ms in all)\n"
           "  exhaustion fails   %" PRIu64 "\n"
           "  events created     %" PRIu64 "\n"
           "  events destroyed   %" PRIu64 "\n"
           "  stale returns      %" PRIu64 "\n"
           "  steals             %" PRIu64 "\n",
           st.leases, st.returns, st.outstanding, st.high_water, st.exhaust_waits,
           (double)st.exhaust_wait_ns * 1e-6, st.exhaust_fails, st.events_created,
           st.events_destroyed, st.stale_returns, st.steals);
}

int main(int argc, char **argv)
{
    long iterations = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
    long depth = argc > 2 ? strtol(argv[2], NULL, 10) : 8;
    if (iterations < 1 || depth < 1 || depth > 1024) {
        fprintf(stderr, "usage: %s [iterations >= 1] [depth 1..1024]\n", argv[0]);
        return 2;
    }

    evp_pool_t *pool;
    int rc = evp_device_pool(0, &pool);
    if (rc != 0)
        DIE("evp_device_pool(0)", rc);
    const char *backend = evp_pool_backend(pool);
    printf("evpool-basic: device %d, backend %s, %ld leases, %ld in flight\n",
           evp_pool_device(pool), backend, iterations, depth);
    print_config(pool);

    stream_t stream;
    stream_create(&stream, backend);

    /* A window of in-flight leases, oldest first: lease, work, record; once
     * the window is full, wait for the oldest and return it. */
    evp_lease_t *window = calloc((size_t)depth, sizeof *window);
    if (window == NULL)
        DIE("calloc", EVP_ENOMEM);
    uint64_t polls = 0;
    long head = 0, inflight = 0;
    double t0 = now_s();
    for (long i = 0; i < iterations; i++) {
        if (inflight == depth) {
            polls += wait_and_return(pool, window[head]);
            head = (head + 1) % depth;
            inflight--;
        }
        evp_lease_t lease;
        if ((rc = evp_pool_lease(pool, &lease)) != 0)
            DIE("evp_pool_lease", rc);
        stream_work(&stream);
        if ((rc = evp_pool_record(pool, lease, stream.handle)) != 0)
            DIE("evp_pool_record", rc);
        window[(head + inflight) % depth] = lease;
        inflight++;
    }
    while (inflight > 0) {
        polls += wait_and_return(pool, window[head]);
        head = (head + 1) % depth;
        inflight--;
    }
    double secs = now_s() - t0;
    free(window);

    /* A returned lease is stale: the pool says so and changes nothing. */
    evp_lease_t lease;
    if ((rc = evp_pool_lease(pool, &lease)) != 0 || (rc = evp_pool_return(pool, lease)) != 0)
        DIE("lease/return", rc);
    if ((rc = evp_pool_return(pool, lease)) != EVP_ESTALE)
        DIE("double return not detected", rc);

    printf("ran %ld lease/work/record/query/return cycles in %.3f s: %.2f us per cycle, "
           "%.1f polls per lease\n",
           iterations, secs, secs * 1e6 / (double)iterations,
           (double)polls / (double)iterations);
    print_stats(pool);
    stream_destroy(&stream);

    uint64_t leaked = 0;
    if ((rc = evp_device_shutdown(&leaked)) != 0)
        DIE("evp_device_shutdown", rc);
    printf("shutdown: %" PRIu64 " leases never returned\n", leaked);
    return leaked == 0 ? 0 : 1;
}
