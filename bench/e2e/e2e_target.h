/* SPDX-License-Identifier: Apache-2.0 */
/* e2e target: what every variant of the end-to-end benchmark writes into,
 * so that they all make the same copy: a transport of one kind, the peer's
 * segment imported through it, one local source buffer (allocated through
 * the transport, so the sub-batches' device is its device), and the streams
 * the baselines use.
 *
 * The baselines copy with the very op the transport copies with (the
 * backend's copy_batch, one request: cudaMemcpyAsync(cudaMemcpyDefault)
 * with the stream's device current on CUDA, memcpy on a host worker) and
 * record with the backend's record, the op evp_pool_record calls. Their
 * streams mirror the transport's stream pool: EVPOOL_STREAMS streams of the
 * submitting device, made by the same backend op, handed out round robin
 * per submit (evpool hands one out per sub-batch, and every submit here is
 * its own sub-batch). */
#ifndef EVB_E2E_TARGET_H
#define EVB_E2E_TARGET_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "e2e/e2e_peer.h"
#include "evpool/transport.h"

typedef struct e2e_target {
    evp_transport_kind_t kind;
    int device;                    /* submits, local buffer, streams, events */
    int peer_device;               /* the peer's segment */
    uint64_t bytes;                /* of the segment and the source buffer */
    evp_config_t cfg;              /* what the transport was opened with */
    evp_transport_t *t;            /* owned: close frees import and buffer with it */
    evp_segment_t seg;             /* the peer's segment, imported on `device` */
    char *remote;                  /* its address here */
    char *local;                   /* source, evp_transport_mem_alloc (freed by close) */
    const struct evp_backend *be;  /* the backend the transport copies and records with */
    void **stream;                 /* [nstreams] the baselines'; owned, destroyed by close */
    uint32_t nstreams;
    /* Round robin over stream[]: relaxed, a counter that orders nothing,
     * as evp_streams_take's. */
    _Atomic uint32_t next;
} e2e_target;

/* The benchmark's configuration: the EVPOOL_* environment, then, for each
 * knob the environment left at its default, the benchmark's value: every
 * submit is a sub-batch of one request (BATCH_TASKS=1) and leases come back
 * only after an RCU grace period, so the pool and the slab are sized for
 * the submits of that period (SIZE, MAX, BATCH_SLAB, BATCH_MAX). 0 or -1
 * with err. */
int e2e_config(evp_config_t *cfg, char *err, size_t len);

/* Opens a transport of `kind`, has the peer export a segment of `bytes` on
 * peer_device, imports it on `device`, allocates the source buffer there and
 * creates the baselines' streams. 0 (ENODEV etc. as EVP_E* codes) with err
 * saying what failed. tg is zeroed first; close it whatever the answer. */
int e2e_target_open(e2e_target *tg, e2e_peer *peer, evp_transport_kind_t kind, int device, int peer_device,
                    uint64_t bytes, char *err, size_t len);

/* Destroys the streams, closes the transport (waits for work in flight). */
void e2e_target_close(e2e_target *tg);

/* The next baseline stream, round robin. */
static inline void *e2e_target_stream(e2e_target *tg)
{
    uint32_t i = atomic_fetch_add_explicit(&tg->next, 1, memory_order_relaxed);
    return tg->stream[i % tg->nstreams];
}

#endif
