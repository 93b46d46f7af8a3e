/* SPDX-License-Identifier: Apache-2.0 */
/* The mnnvl kind: multi-node NVLink. Segments are cuMem VMM allocations
 * (created at the allocation granularity, reserved, mapped, access set for
 * every GPU of the node: backend/cuda_mem.c) exported as FABRIC handles, the
 * 64-byte handle being the descriptor's payload. Where this node refuses
 * FABRIC (no IMEX channel: CUDA_ERROR_NOT_PERMITTED; or a GPU without
 * fabric support) the kind falls back to POSIX fd handles, warned once per
 * process, unless EVPOOL_MNNVL_FABRIC=require. The fd travels beside the
 * descriptor by SCM_RIGHTS (evp_transport_desc_send / _recv): peers of one
 * node share a Unix socket anyway, and SCM_RIGHTS needs no ptrace right over
 * the exporter, which pidfd_getfd does (Yama ptrace_scope >= 1 refuses it
 * between siblings, container seccomp profiles and other users always).
 * Everything else (segments, requests, sub-batches, leases, the copy
 * callback) is transport.c's, as for nvlink; open enables peer access as
 * nvlink does. */
#include "transport/mnnvl.h"

#include <cuda_runtime_api.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend/cuda_driver.h"
#include "backend/mem.h"
#include "base/log.h"

#define EVP_MNNVL_IMEX_DIR "/dev/nvidia-caps-imex-channels"

/* ---- the choice (no GPU needed) ----------------------------------------- */

/* Set by the first fallback of the process, read-only afterwards: the reason
 * an FD-only transport gives when it refuses a FABRIC descriptor. */
static pthread_mutex_t evp_mnnvl_lock = PTHREAD_MUTEX_INITIALIZER;
static bool evp_mnnvl_warned;            /* under evp_mnnvl_lock */
static char evp_mnnvl_no_fabric[512];    /* written once under the lock */

int evp_mnnvl_decide(const struct evp_mnnvl_probe *p, evp_mnnvl_fabric_t knob, struct evp_tkind_sel *sel)
{
    const unsigned gpu = EVP_TRANSPORT_CAP_GPU_GPU | EVP_TRANSPORT_CAP_HOST_GPU | EVP_TRANSPORT_CAP_INTER_PROC;
    sel->access = p->access;
    if (p->fabric == 0) {
        sel->handle = EVP_MEM_FABRIC;
        sel->imports = EVP_MEM_FABRIC | EVP_MEM_FD; /* an fd from a peer of this node still maps */
        sel->caps = gpu | EVP_TRANSPORT_CAP_INTER_NODE;
        sel->no_import = NULL;
        evp_info("transport mnnvl: FABRIC handles (multi-node NVLink)");
        return 0;
    }
    if (knob == EVP_MNNVL_FABRIC_REQUIRE) {
        evp_error("transport mnnvl: EVPOOL_MNNVL_FABRIC=require, and this node refuses FABRIC handles: %s "
                  "(see README \"MNNVL\": an IMEX channel and the nvidia-imex service)",
                  p->fabric_why);
        return EVP_EPERM;
    }
    if (p->fd != 0) {
        evp_error("transport mnnvl: cannot open: FABRIC handles are refused (%s) and the POSIX-fd fallback "
                  "failed too (%s); use the nvlink transport on this node",
                  p->fabric_why, p->fd_why);
        return p->fd < 0 ? p->fd : EVP_EBACKEND;
    }
    sel->handle = EVP_MEM_FD;
    sel->imports = EVP_MEM_FD;
    sel->caps = gpu;
    pthread_mutex_lock(&evp_mnnvl_lock);
    if (!evp_mnnvl_warned) {
        evp_mnnvl_warned = true;
        snprintf(evp_mnnvl_no_fabric, sizeof evp_mnnvl_no_fabric,
                 "the descriptor carries a FABRIC handle, and this node refuses FABRIC handles (%s): only "
                 "POSIX-fd descriptors from processes of this node can be imported here",
                 p->fabric_why);
        evp_warn("transport mnnvl: FABRIC handles are refused on this node (%s); falling back to POSIX "
                 "file-descriptor handles: segments are shared with processes of this node only, their fds "
                 "passed by SCM_RIGHTS. EVPOOL_MNNVL_FABRIC=require makes this an error. (warned once per process)",
                 p->fabric_why);
    }
    sel->no_import = evp_mnnvl_no_fabric;
    pthread_mutex_unlock(&evp_mnnvl_lock);
    return 0;
}

/* ---- the probe (once per process) --------------------------------------- */

/* Whether this process may open an IMEX channel. Without one the driver
 * answers CUDA_ERROR_NOT_PERMITTED to a FABRIC cuMemCreate; asking first
 * keeps that refused call (an API error for compute-sanitizer and for
 * every tool that traces the driver) out of every open on such a node. */
static bool evp_mnnvl_imex_channel(char *why, size_t n)
{
    DIR *d = opendir(EVP_MNNVL_IMEX_DIR);
    if (!d) {
        snprintf(why, n, "no IMEX channel: %s does not exist (CUDA_ERROR_NOT_PERMITTED would follow)",
                 EVP_MNNVL_IMEX_DIR);
        return false;
    }
    bool any = false, usable = false;
    char path[512];
    for (struct dirent *e; !usable && (e = readdir(d));) {
        if (strncmp(e->d_name, "channel", 7) != 0)
            continue;
        any = true;
        snprintf(path, sizeof path, "%s/%s", EVP_MNNVL_IMEX_DIR, e->d_name);
        usable = access(path, R_OK) == 0;
    }
    closedir(d);
    if (!usable)
        snprintf(why, n, "no IMEX channel: %s %s (CUDA_ERROR_NOT_PERMITTED would follow)", EVP_MNNVL_IMEX_DIR,
                 any ? "holds no channel this process may open" : "is empty");
    return usable;
}

/* Allocates a granule on `device` exportable as `handle`, exports it and
 * releases it: the path every segment takes. */
static int evp_mnnvl_try(int device, enum evp_mem_handle handle, char *why, size_t n)
{
    const struct evp_backend_mem *mem = &evp_mem_cuda;
    evp_mem_t *m = NULL;
    struct evp_mem_desc d;
    int fd = -1;
    int rc = mem->alloc(device, 1, handle, 0, &m);
    if (rc == 0)
        rc = mem->export_(m, handle, &d, &fd);
    int r2 = mem->release(m); /* closes the exported fd */
    rc = rc ? rc : r2;
    if (rc == EVP_EPERM && handle == EVP_MEM_FABRIC) {
        const struct evp_cu *cu;
        CUdevice dev;
        int supported = 1;
        if (evp_cu_load(&cu) == 0 && cu->cuDeviceGet(&dev, device) == CUDA_SUCCESS)
            cu->cuDeviceGetAttribute(&supported, CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED, dev);
        snprintf(why, n,
                 supported ? "cuMemCreate(CU_MEM_HANDLE_TYPE_FABRIC) on GPU %d answered CUDA_ERROR_NOT_PERMITTED: "
                             "no IMEX channel granted to this process"
                           : "GPU %d does not support FABRIC handles (CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_"
                             "SUPPORTED = 0)",
                 device);
    } else if (rc) {
        snprintf(why, n, "allocating and exporting a %s handle on GPU %d failed: %s (logged above)",
                 handle == EVP_MEM_FABRIC ? "FABRIC" : "POSIX fd", device, evp_strerror(rc));
    }
    return rc;
}

/* Devices every mapping can grant access to: all of them where every pair
 * is peer-capable (cuMemSetAccess for a device without peer access fails),
 * else none beyond the owner. */
static uint64_t evp_mnnvl_access(int ndev)
{
    if (ndev > 64)
        return 0;
    for (int i = 0; i < ndev; i++)
        for (int j = 0; j < ndev; j++) {
            int can = 0;
            if (i != j && (cudaDeviceCanAccessPeer(&can, i, j) != cudaSuccess || !can)) {
                cudaGetLastError();
                evp_info("transport mnnvl: GPU %d cannot access GPU %d: mappings grant access to their own GPU only",
                         i, j);
                return 0;
            }
        }
    return ndev == 64 ? UINT64_MAX : (UINT64_C(1) << ndev) - 1;
}

static struct evp_mnnvl_probe evp_mnnvl_found; /* under evp_mnnvl_lock once probed */
static int evp_mnnvl_probed = -1;              /* ndev probed; -1: not yet */

static void evp_mnnvl_probe_node(int ndev, struct evp_mnnvl_probe *p)
{
    memset(p, 0, sizeof *p);
    if (!evp_mnnvl_imex_channel(p->fabric_why, sizeof p->fabric_why))
        p->fabric = EVP_EPERM;
    for (int d = 0; d < ndev && p->fabric == 0; d++)
        p->fabric = evp_mnnvl_try(d, EVP_MEM_FABRIC, p->fabric_why, sizeof p->fabric_why);
    for (int d = 0; d < ndev && p->fd == 0; d++)
        p->fd = evp_mnnvl_try(d, EVP_MEM_FD, p->fd_why, sizeof p->fd_why);
    p->access = evp_mnnvl_access(ndev);
}

static int evp_mnnvl_select(int ndev, const evp_config_t *cfg, struct evp_tkind_sel *sel)
{
    const struct evp_cu *cu;
    int rc = evp_cu_load(&cu); /* the reason is logged there */
    if (rc) {
        evp_error("transport mnnvl: the CUDA driver API is not available: %s", evp_strerror(rc));
        return rc;
    }
    /* The node does not change under a running process: probe once. */
    struct evp_mnnvl_probe p;
    pthread_mutex_lock(&evp_mnnvl_lock);
    if (evp_mnnvl_probed != ndev) {
        evp_mnnvl_probe_node(ndev, &evp_mnnvl_found);
        evp_mnnvl_probed = ndev;
    }
    p = evp_mnnvl_found;
    pthread_mutex_unlock(&evp_mnnvl_lock);
    return evp_mnnvl_decide(&p, cfg->mnnvl_fabric, sel);
}

static int evp_tmnnvl_open(int ndev)
{
    return evp_tkind_nvlink.open(ndev);
}

static int evp_tmnnvl_locate(void *addr, size_t len, int *device)
{
    (void)device;
    evp_error("transport mnnvl: %p (%zu bytes) is not memory of evp_transport_mem_alloc; only the cuMem VMM "
              "allocations made there can be exported as FABRIC or POSIX-fd handles (cudaMalloc memory cannot: "
              "share it with the nvlink transport)",
              addr, len);
    return EVP_EINVAL;
}

const struct evp_tkind evp_tkind_mnnvl = {
    .name = "mnnvl",
    .kind = EVP_TRANSPORT_MNNVL,
    .backend = EVP_BACKEND_CUDA,
    .caps = EVP_TRANSPORT_CAP_GPU_GPU | EVP_TRANSPORT_CAP_HOST_GPU | EVP_TRANSPORT_CAP_INTER_PROC |
            EVP_TRANSPORT_CAP_INTER_NODE,
    .handle = EVP_MEM_FABRIC,
    .key_by_handle = 0, /* the exporter's {nonce, base id}: an fd number names nothing */
    .open = evp_tmnnvl_open,
    .locate = evp_tmnnvl_locate,
    .select = evp_mnnvl_select,
};
