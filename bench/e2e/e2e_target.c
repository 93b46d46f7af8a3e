/* SPDX-License-Identifier: Apache-2.0 */
/* e2e target: see e2e_target.h. */
#include "e2e/e2e_target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Knobs the benchmark sets where the environment did not. */
static const struct {
    evp_knob_t knob;
    uint64_t value;
} e2e_knobs[] = {
    /* Events and sub-batch objects up front, so that no timed submit
     * grows the pool or the slab. What can be out at once: 16 in flight
     * per thread (up to 2x cores = 64 threads on 32 cores: 1024), up to
     * EVPOOL_BATCH_BACKLOG (1024) freed and not yet reclaimed (alloc waits
     * above that), and the thread caches (64 per thread): under 4096 at
     * the defaults; MAX leaves room beyond. */
    {EVP_KNOB_SIZE, 4096},
    {EVP_KNOB_MAX, 16384},
    {EVP_KNOB_BATCH_TASKS, 1},
    {EVP_KNOB_BATCH_SLAB, 4096},
    {EVP_KNOB_BATCH_MAX, 65536},
};

int e2e_config(evp_config_t *cfg, char *err, size_t len)
{
    evp_config_init(cfg);
    if (evp_config_load_env(cfg, err, len) != 0)
        return -1;
    for (size_t i = 0; i < sizeof e2e_knobs / sizeof e2e_knobs[0]; i++)
        if (cfg->source[e2e_knobs[i].knob] == EVP_SRC_DEFAULT &&
            evp_config_set_u64(cfg, e2e_knobs[i].knob, e2e_knobs[i].value, err, len) != 0)
            return -1;
    return evp_config_validate(cfg, err, len) == 0 ? 0 : -1;
}

static int e2e_failed(char *err, size_t len, const char *what, int rc)
{
    snprintf(err, len, "%s: %s", what, evp_strerror(rc));
    return rc;
}

/* Imports the peer's segment of tg->bytes on tg->peer_device. */
static int e2e_target_import(e2e_target *tg, e2e_peer *peer, char *err, size_t len)
{
    unsigned char desc[EVP_TRANSPORT_DESC_MAX];
    size_t dlen = 0;
    int fd = -1;
    int rc = e2e_peer_segment(peer, tg->kind, tg->peer_device, tg->bytes, desc, &dlen, &fd, err, len);
    if (rc)
        return rc;
    rc = evp_transport_import(tg->t, desc, dlen, fd, tg->device, &tg->seg);
    if (fd >= 0)
        close(fd); /* import borrows it */
    if (rc)
        return e2e_failed(err, len, "evp_transport_import", rc);
    void *addr = NULL;
    if ((rc = evp_transport_segment(tg->t, tg->seg, &addr, NULL, NULL)) != 0)
        return e2e_failed(err, len, "evp_transport_segment", rc);
    tg->remote = addr;
    return 0;
}

/* A few round trips through the transport before any run: the pool (and
 * its SIZE events) and the stream pool are created on a transport's first
 * submit, which no run should time. */
static int e2e_target_warm(e2e_target *tg, char *err, size_t len)
{
    evp_pool_t *pool = NULL;
    int rc = evp_transport_pool(tg->t, tg->device, &pool);
    for (uint32_t i = 0; rc == 0 && i < 2 * tg->cfg.streams; i++) {
        evp_batch_t b = EVP_BATCH_NONE;
        evp_batch_status_t st = {.status = EVP_TASK_PENDING};
        evp_xfer_req_t rq = {.op = EVP_XFER_WRITE, .local = tg->local, .segment = tg->seg, .length = tg->bytes};
        rc = evp_transport_batch_alloc(tg->t, 1, &b);
        if (rc == 0)
            rc = evp_transport_submit(tg->t, b, &rq, 1, NULL);
        while (rc == 0 && st.status == EVP_TASK_PENDING)
            rc = evp_transport_status(tg->t, b, &st);
        if (rc == 0 && st.status != EVP_TASK_COMPLETED)
            rc = EVP_EBACKEND;
        if (b != EVP_BATCH_NONE)
            evp_transport_batch_free(tg->t, b);
    }
    return rc ? e2e_failed(err, len, "warming the transport up", rc) : 0;
}

int e2e_target_open(e2e_target *tg, e2e_peer *peer, evp_transport_kind_t kind, int device, int peer_device,
                    uint64_t bytes, char *err, size_t len)
{
    *tg = (e2e_target){.kind = kind, .device = device, .peer_device = peer_device, .bytes = bytes};
    if (e2e_config(&tg->cfg, err, len) != 0)
        return EVP_EINVAL;
    int rc = evp_transport_open(kind, &tg->cfg, &tg->t);
    if (rc)
        return e2e_failed(err, len, "evp_transport_open", rc);
    int ndev = evp_transport_device_count(tg->t);
    if (device >= ndev || peer_device >= ndev) {
        snprintf(err, len, "needs device %d and %d; this machine has %d", device, peer_device, ndev);
        return EVP_ENODEV;
    }
    if ((rc = e2e_target_import(tg, peer, err, len)) != 0)
        return rc;
    void *local = NULL;
    if ((rc = evp_transport_mem_alloc(tg->t, device, (size_t)bytes, &local)) != 0)
        return e2e_failed(err, len, "evp_transport_mem_alloc (source)", rc);
    tg->local = local;
    /* The backend the transport resolved for its kind (not the fault
     * wrapper: the benchmark runs without EVPOOL_FAULT). */
    evp_backend_kind_t bk = kind == EVP_TRANSPORT_HOST ? EVP_BACKEND_HOST : EVP_BACKEND_CUDA;
    if ((rc = evp_backend_resolve(bk, &tg->be)) != 0)
        return e2e_failed(err, len, "evp_backend_resolve", rc);
    /* Fill the source once: the copies then move real bytes. */
    void *st = NULL;
    if ((rc = tg->be->stream_create(device, &st)) != 0)
        return e2e_failed(err, len, "stream_create", rc);
    char *pattern = malloc((size_t)bytes);
    rc = pattern ? 0 : EVP_ENOMEM;
    if (rc == 0) {
        memset(pattern, 0x5a, (size_t)bytes);
        rc = tg->be->copy(tg->local, pattern, (size_t)bytes, st);
    }
    int rs = tg->be->stream_sync(st);
    tg->be->stream_destroy(device, st);
    free(pattern);
    if (rc || rs)
        return e2e_failed(err, len, "filling the source buffer", rc ? rc : rs);
    if ((rc = e2e_target_warm(tg, err, len)) != 0)
        return rc;
    tg->nstreams = tg->cfg.streams;
    tg->stream = calloc(tg->nstreams, sizeof *tg->stream);
    if (!tg->stream)
        return e2e_failed(err, len, "streams", EVP_ENOMEM);
    for (uint32_t i = 0; i < tg->nstreams; i++)
        if ((rc = tg->be->stream_create(device, &tg->stream[i])) != 0)
            return e2e_failed(err, len, "stream_create", rc);
    return 0;
}

void e2e_target_close(e2e_target *tg)
{
    for (uint32_t i = 0; tg->stream && i < tg->nstreams; i++)
        if (tg->stream[i]) {
            tg->be->stream_sync(tg->stream[i]);
            tg->be->stream_destroy(tg->device, tg->stream[i]);
        }
    free(tg->stream);
    tg->stream = NULL;
    if (tg->t) {
        const char *name = evp_transport_name(tg->t); /* a static string */
        if (evp_transport_close(tg->t) != 0)
            fprintf(stderr, "e2e: closing the %s transport failed\n", name);
    }
    tg->t = NULL;
}
