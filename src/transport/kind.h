/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — transport kinds: what differs between host, nvlink and
 * mnnvl is one ops table each; transport.c does the rest (segment tables,
 * descriptors, sub-batches, the copy callback) the same way for all. */
#ifndef EVPOOL_SRC_TRANSPORT_KIND_H
#define EVPOOL_SRC_TRANSPORT_KIND_H

#include <stddef.h>
#include <stdint.h>

#include "evpool/config.h"
#include "evpool/transport.h"

/* What a transport of a kind exports, imports and can do (kind.select). */
struct evp_tkind_sel {
    unsigned handle;       /* enum evp_mem_handle its segments export as */
    unsigned imports;      /* handle types import accepts */
    unsigned caps;         /* EVP_TRANSPORT_CAP_* */
    uint64_t access;       /* devices granted access to every allocation and mapping */
    const char *no_import; /* why a handle outside `imports` is refused (logged), or NULL */
};

struct evp_tkind {
    const char *name;
    evp_transport_kind_t kind;
    evp_backend_kind_t backend; /* the backend it runs on */
    unsigned caps;              /* EVP_TRANSPORT_CAP_* */
    unsigned handle;            /* enum evp_mem_handle its segments export as */
    /* Imports of one allocation are shared: keyed by the handle bytes
     * (nvlink: a CUDA IPC handle names its allocation on the node) or by
     * the exporter's {nonce, base id} (host: an fd number names nothing). */
    int key_by_handle;
    /* At open, ndev devices: nvlink enables peer access. NULL: nothing. */
    int (*open)(int ndev);
    /* The device of [addr, addr+len) that was not allocated through the
     * transport, found once at register time; EVP_EINVAL (logged) for
     * memory this kind cannot export. */
    int (*locate)(void *addr, size_t len, int *device);
    /* After open: what this transport's segments export as, what import
     * accepts and what it can do, for kinds that decide it per node
     * (mnnvl: FABRIC, or POSIX fd where fabric is refused). sel arrives
     * filled from the fields above. An error refuses the open (logged with
     * the reason). NULL: the fields above. */
    int (*select)(int ndev, const evp_config_t *cfg, struct evp_tkind_sel *sel);
};

extern const struct evp_tkind evp_tkind_host;
extern const struct evp_tkind evp_tkind_nvlink;
extern const struct evp_tkind evp_tkind_mnnvl;

#endif
