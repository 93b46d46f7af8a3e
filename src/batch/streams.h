/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — the per-device stream pool the sub-batches share.
 *
 * At most `n` streams per device, created on first need (backend
 * stream_create, with the device current) and destroyed only by
 * evp_streams_fini. A sub-batch takes one on its first submit and gives it
 * back when it is reclaimed; streams are handed out round robin, so many
 * sub-batches share one stream (work on a stream runs in order, which is
 * what a copy engine does anyway). refs counts the sub-batches holding
 * each stream, so teardown can tell a stream still held.
 *
 * Thread safety: take and give from any thread (a mutex only when a stream
 * must be created); init and fini must not race with anything. */
#ifndef EVPOOL_SRC_BATCH_STREAMS_H
#define EVPOOL_SRC_BATCH_STREAMS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "backend/backend.h"

struct evp_streams {
    const struct evp_backend *be;
    int device;
    uint32_t n;
    pthread_mutex_t mu;        /* serialises creation */
    _Atomic(void *) *stream;   /* n entries, NULL until created; owned, destroyed by fini */
    _Atomic uint32_t *refs;    /* n entries */
    _Atomic uint32_t next;     /* round robin */
    _Atomic uint64_t created, destroyed;
};

/* 0 or EVP_ENOMEM. Creates no stream. */
int evp_streams_init(struct evp_streams *st, const struct evp_backend *be, int device, uint32_t n);
/* Destroys every stream created (work queued on them still runs). Returns 0
 * or the first backend error (every stream is still attempted); *held gets
 * the references still out (should be 0). */
int evp_streams_fini(struct evp_streams *st, uint64_t *held);

/* A stream for one more holder: its slot and handle. 0, or the backend's
 * error (EVP_EBACKEND, EVP_ENOMEM) if it had to be created and could not. */
int evp_streams_take(struct evp_streams *st, uint32_t *slot, void **stream);
/* Drops the reference taken by evp_streams_take. */
void evp_streams_give(struct evp_streams *st, uint32_t slot);
/* The stream of a slot taken earlier. */
void *evp_streams_get(struct evp_streams *st, uint32_t slot);

#endif
