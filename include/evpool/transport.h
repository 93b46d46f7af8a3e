/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — transports: move bytes between this process's buffers and a
 * peer process's registered segments, with sub-batches that lease events.
 *
 * The calls map one to one onto what engines already run (Mooncake TENT's
 * Transport; NIXL/UCX backends): open = install, close = uninstall,
 * register/unregister = addMemoryBuffer/removeMemoryBuffer (the buffer is
 * widened to its allocation's base; the export handle is published as the
 * bytes of evp_transport_export, which an engine stores in its metadata
 * service), import = opening a peer's segment, batch_alloc = allocate
 * sub-batch with a maximum size, submit = append-only submitTransferTasks
 * (EVP_ENOSPC past the maximum), task_status = non-blocking getTransferStatus,
 * batch_free = freeSubBatch (also while work is in flight).
 *
 * Kinds (one internal ops table each; a later kind is one more table):
 *   EVP_TRANSPORT_HOST    memcpy on host worker streams, host-backend events;
 *                         segments are memfd memory (evp_transport_mem_alloc)
 *                         shared with the peer by its fd (SCM_RIGHTS).
 *   EVP_TRANSPORT_NVLINK  one node's GPUs: CUDA IPC handles (opened once per
 *                         allocation base and cached), peer access between
 *                         the GPUs enabled at open, cudaMemcpyBatchAsync where
 *                         available, else cudaMemcpyAsync per request.
 *   EVP_TRANSPORT_MNNVL   multi-node NVLink: cuMem VMM segments exported as
 *                         FABRIC handles; where fabric is refused (no IMEX
 *                         channel) POSIX fds instead, one node only, passed
 *                         by SCM_RIGHTS (EVPOOL_MNNVL_FABRIC; README "MNNVL").
 *
 * Devices. A sub-batch's stream, and the pool its events are leased from,
 * belong to ONE device, chosen at its first submit from the first request:
 * the device of the registered local buffer that holds `local` (looked up
 * in the registration table, no pointer query), else, for local memory that
 * is not registered, the device the segment was imported on. Both the
 * stream and the event come from that device, so an event is never recorded
 * on another device's stream; requests whose buffers live elsewhere run as
 * peer copies on that stream.
 *
 * Lifetimes. Memory behind a segment must stay mapped while work on it is in
 * flight: unimport / unregister / mem_free of a segment with work in flight
 * is the caller's error (as in every engine); close waits for in-flight work
 * before it releases anything.
 *
 * Threads. Every function except close may be called from any thread at any
 * time; submits to ONE sub-batch must come one at a time (EVP_EBUSY). The
 * segment tables take a reader lock on submit.
 *
 * Descriptors (evp_transport_export) are at most EVP_TRANSPORT_DESC_MAX
 * bytes: magic, version, kind, length and a checksum around the segment and
 * its memory handle; import checks all of them (EVP_EINVAL with a logged
 * message for a truncated, corrupted, foreign or future-version one). Peers
 * run the same evpool version on one node. */
#ifndef EVPOOL_TRANSPORT_H
#define EVPOOL_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "evpool/api.h"
#include "evpool/batch.h"
#include "evpool/config.h"
#include "evpool/error.h"
#include "evpool/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct evp_transport evp_transport_t;

/* A registered (local) or imported (peer's) segment; 0 is never one. */
typedef uint64_t evp_segment_t;
#define EVP_SEGMENT_NONE ((evp_segment_t)0)

typedef enum evp_transport_kind {
    EVP_TRANSPORT_HOST = 1,
    EVP_TRANSPORT_NVLINK = 2,
    EVP_TRANSPORT_MNNVL = 3,
} evp_transport_kind_t;

/* Capability flags (evp_transport_caps): which local <-> peer memory pairs a
 * transport moves, TENT-style. */
#define EVP_TRANSPORT_CAP_HOST_HOST (1u << 0) /* local host <-> peer host */
#define EVP_TRANSPORT_CAP_HOST_GPU (1u << 1)  /* local host <-> peer GPU */
#define EVP_TRANSPORT_CAP_GPU_HOST (1u << 2)  /* local GPU <-> peer host */
#define EVP_TRANSPORT_CAP_GPU_GPU (1u << 3)   /* local GPU <-> peer GPU */
#define EVP_TRANSPORT_CAP_INTER_PROC (1u << 4) /* peers in other processes */
#define EVP_TRANSPORT_CAP_INTER_NODE (1u << 5) /* peers on other nodes (mnnvl) */

/* Longest descriptor evp_transport_export writes. */
#define EVP_TRANSPORT_DESC_MAX 256

typedef enum evp_xfer_op {
    EVP_XFER_READ = 0,  /* segment[offset, +length) -> local */
    EVP_XFER_WRITE = 1, /* local -> segment[offset, +length) */
} evp_xfer_op_t;

typedef struct evp_xfer_req {
    evp_xfer_op_t op;
    void *local;           /* local address (host or device) */
    evp_segment_t segment; /* an imported (or registered) segment */
    uint64_t offset;       /* in the segment */
    uint64_t length;       /* bytes; offset + length <= the segment's length */
} evp_xfer_req_t;

/* Opens (installs) a transport of `kind`. cfg as for evp_batch_lib_create
 * (NULL: defaults + environment); its EVPOOL_BACKEND is overridden by the
 * kind (host -> host backend, nvlink -> cuda). nvlink enables peer access
 * between every pair of the node's GPUs that allows it.
 * mnnvl checks at open that this node can export FABRIC handles, else POSIX
 * fds (EVPOOL_MNNVL_FABRIC=auto: warned once per process; caps then lack
 * EVP_TRANSPORT_CAP_INTER_NODE), and refuses to open where neither works.
 * Returns 0 and *out; EVP_EINVAL (unknown kind, bad config); EVP_EPERM
 * (mnnvl: fabric refused and EVPOOL_MNNVL_FABRIC=require);
 * EVP_ENODEV (nvlink, mnnvl without a usable GPU or driver); EVP_EBACKEND; EVP_ENOMEM. */
EVP_API int evp_transport_open(evp_transport_kind_t kind, const evp_config_t *cfg, evp_transport_t **out);

/* Uninstalls: frees every sub-batch (waiting for work in flight), closes
 * every imported handle, unregisters every segment, frees the memory of
 * evp_transport_mem_alloc. Idempotent: a second call does nothing and
 * returns 0; afterwards every other call answers EVP_ESTALE. The object
 * itself stays until evp_transport_close. Returns 0 or the first backend
 * error (everything is still released). Must not race with other calls. */
EVP_API int evp_transport_uninstall(evp_transport_t *t);

/* evp_transport_uninstall, then frees t. NULL is a no-op. */
EVP_API int evp_transport_close(evp_transport_t *t);

EVP_API evp_transport_kind_t evp_transport_kind(const evp_transport_t *t);
EVP_API const char *evp_transport_name(const evp_transport_t *t); /* "host", "nvlink" */
/* EVP_TRANSPORT_CAP_* bits. */
EVP_API unsigned evp_transport_caps(const evp_transport_t *t);
/* Devices the transport spreads over (CUDA devices; EVP_HOST_DEVICES). */
EVP_API int evp_transport_device_count(const evp_transport_t *t);

/* Allocates len bytes a peer can import: host kind, memfd memory of host
 * "device" `device`; nvlink, cudaMalloc on GPU `device`. Freed by
 * evp_transport_mem_free or at uninstall. Returns 0 and *ptr; EVP_EINVAL;
 * EVP_ENOMEM; EVP_EBACKEND; EVP_ESTALE (uninstalled). */
EVP_API int evp_transport_mem_alloc(evp_transport_t *t, int device, size_t len, void **ptr);
/* Returns 0; EVP_EINVAL (not from mem_alloc); EVP_EBUSY (a segment is still
 * registered inside it); EVP_ESTALE. */
EVP_API int evp_transport_mem_free(evp_transport_t *t, void *ptr);

/* Registers [addr, addr+len) as a local segment (addMemoryBuffer): host
 * kind, inside memory of evp_transport_mem_alloc; nvlink, inside one device
 * allocation (cudaMalloc; the device is found here, once). The export
 * handle covers the whole allocation (widened to its base). Returns 0 and
 * *seg; EVP_EINVAL (len 0, memory that cannot be exported, a range that
 * overruns its allocation; logged); EVP_ENOMEM; EVP_EBACKEND; EVP_ESTALE. */
EVP_API int evp_transport_register(evp_transport_t *t, void *addr, size_t len, evp_segment_t *seg);
/* Returns 0; EVP_EINVAL (not a registered segment of t); EVP_ESTALE. */
EVP_API int evp_transport_unregister(evp_transport_t *t, evp_segment_t seg);

/* Writes the descriptor of a registered segment into buf (cap bytes;
 * EVP_TRANSPORT_DESC_MAX always suffices), its length into *len, and the
 * fd that must travel with it into *fd (host kind: the memfd, owned by the
 * transport, valid while the segment is registered: send it, do not close
 * it; nvlink: -1). Returns 0; EVP_EINVAL (not a registered segment, cap
 * too small, NULL); EVP_EBACKEND; EVP_ESTALE. */
EVP_API int evp_transport_export(evp_transport_t *t, evp_segment_t seg, void *buf, size_t cap, size_t *len, int *fd);

/* Imports a peer's descriptor (len bytes as received; fd the descriptor's
 * fd for the host kind, borrowed: the caller closes it; -1 for nvlink).
 * `device`: where to map it (nvlink: the GPU whose context opens the IPC
 * handle; -1 = the exporter's device ordinal if this node has it, else 0).
 * The allocation behind it is mapped once per transport and shared by every
 * segment imported from it. Returns 0 and *seg; EVP_EINVAL (a descriptor that
 * does not check out: truncated, corrupted, foreign, another version, of
 * another kind, missing fd; logged); EVP_EPERM (mnnvl: a FABRIC descriptor
 * where this node has no fabric, logged with the reason); EVP_ENOMEM;
 * EVP_EBACKEND; EVP_ESTALE. */
EVP_API int evp_transport_import(evp_transport_t *t, const void *desc, size_t len, int fd, int device,
                                 evp_segment_t *seg);
/* Forgets an imported segment; the mapping is closed with its last segment.
 * Returns 0; EVP_EINVAL (not an imported segment of t); EVP_ESTALE. */
EVP_API int evp_transport_unimport(evp_transport_t *t, evp_segment_t seg);

/* Length of a segment and, for a local or host-mapped one, its address
 * (device address for nvlink imports). Returns 0; EVP_EINVAL. */
EVP_API int evp_transport_segment(evp_transport_t *t, evp_segment_t seg, void **addr, uint64_t *len, int *device);

/* Sends / receives a descriptor and its fd (if fd >= 0) over a connected
 * Unix socket (SCM_RIGHTS). recv: *len bytes into buf (cap >= the sent
 * length, EVP_TRANSPORT_DESC_MAX suffices), *fd the received fd or -1
 * (owned by the caller). Returns 0; EVP_EINVAL; EVP_ENODATA (peer closed);
 * EVP_EBACKEND. */
EVP_API int evp_transport_desc_send(int sock, const void *desc, size_t len, int fd);
EVP_API int evp_transport_desc_recv(int sock, void *buf, size_t cap, size_t *len, int *fd);

/* A sub-batch for up to max_requests requests (0: EVPOOL_BATCH_TASKS); see
 * evp_batch_alloc. */
EVP_API int evp_transport_batch_alloc(evp_transport_t *t, uint32_t max_requests, evp_batch_t *out);

/* Appends reqs[0..n) to sub-batch b as tasks *first.. (first may be NULL).
 * Every request is checked before anything is enqueued: op, local != NULL,
 * a segment of this transport, offset + length within it (no overflow).
 * Returns 0; EVP_EINVAL (a malformed or out-of-bounds request: logged with
 * its index, nothing enqueued, no lease taken); EVP_ENOSPC (more requests
 * than the sub-batch has room for: nothing enqueued); and evp_batch_submit's
 * other codes (EVP_ESTALE, EVP_EBUSY, EVP_EAGAIN, EVP_EBACKEND: see there). */
EVP_API int evp_transport_submit(evp_transport_t *t, evp_batch_t b, const evp_xfer_req_t *reqs, uint32_t n,
                                 uint32_t *first);

/* Non-blocking status of one task / the whole sub-batch (evp_batch_*). */
EVP_API int evp_transport_task_status(evp_transport_t *t, evp_batch_t b, uint32_t task, evp_batch_status_t *out);
EVP_API int evp_transport_status(evp_transport_t *t, evp_batch_t b, evp_batch_status_t *out);

/* Frees a sub-batch, also while its work is in flight (never blocks). */
EVP_API int evp_transport_batch_free(evp_transport_t *t, evp_batch_t b);

/* The event pool of `device` and the sub-batch counters, for stats. */
EVP_API int evp_transport_pool(evp_transport_t *t, int device, evp_pool_t **out);
EVP_API void evp_transport_batch_stats(evp_transport_t *t, evp_batch_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
