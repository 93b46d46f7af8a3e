/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — memory a peer process can map: allocate or attach, export as an
 * opaque descriptor (+ an fd where the handle type needs one), import,
 * release. The transports above (nvlink: CUDA IPC; mnnvl: cuMem FABRIC,
 * falling back to a POSIX fd) build their segments from this.
 *
 * A sibling of the event/stream/copy table (struct evp_backend), reached as
 * evp_backend.mem: the pool never touches memory, and a transport gets both
 * from the one backend it resolved. Each backend implements every op:
 *
 *   handle            cuda (cuda_mem.c)                      host (host_mem.c)
 *   EVP_MEM_FD        cuMemCreate, POSIX_FILE_DESCRIPTOR     memfd_create + mmap(MAP_SHARED)
 *   EVP_MEM_FABRIC    cuMemCreate, FABRIC (64-byte handle)   -- (EVP_EINVAL)
 *   EVP_MEM_CUDA_IPC  cudaMalloc / attach, cudaIpcMemHandle  -- (EVP_EINVAL)
 *
 * The descriptor is plain bytes (fixed layout, no pointers) that a peer may
 * receive by any channel; the fd travels beside it (fdpass.h). Importers
 * check the descriptor (magic, version, sizes) before using it. Peers must
 * run builds of the same evpool version on one host (FABRIC: one fabric).
 *
 * Thread safety: ops on different evp_mem objects may run concurrently; one
 * object is used by one thread at a time (export, release). */
#ifndef EVPOOL_SRC_BACKEND_MEM_H
#define EVPOOL_SRC_BACKEND_MEM_H

#include <stddef.h>
#include <stdint.h>

/* Handle types: a bit set for alloc, one value for export. */
enum evp_mem_handle {
    EVP_MEM_FD = 1u << 0,       /* a file descriptor (host memfd; cuMem POSIX_FILE_DESCRIPTOR) */
    EVP_MEM_FABRIC = 1u << 1,   /* cuMem FABRIC handle: bytes only, crosses nodes of one NVLink fabric */
    EVP_MEM_CUDA_IPC = 1u << 2, /* cudaIpcMemHandle_t of a cudaMalloc allocation */
};

#define EVP_MEM_HANDLE_BYTES 64
#define EVP_MEM_DESC_MAGIC 0x65766d64u /* "evmd" */
#define EVP_MEM_DESC_VERSION 1u

/* What an exporter sends (sizeof = 96 bytes, no padding, no pointers). */
struct evp_mem_desc {
    uint32_t magic;   /* EVP_MEM_DESC_MAGIC */
    uint16_t version; /* EVP_MEM_DESC_VERSION */
    uint16_t handle;  /* one enum evp_mem_handle */
    uint64_t size;    /* bytes the importer maps (FD/FABRIC: the whole, granularity-rounded allocation) */
    uint64_t offset;  /* where the exported range starts inside what is mapped */
    uint64_t len;     /* bytes of the exported range */
    uint8_t bytes[EVP_MEM_HANDLE_BYTES]; /* the handle (FABRIC, CUDA IPC); zero for FD */
};

/* A local allocation, an attached range or an imported mapping. The
 * backend allocates a larger object that starts with this one; only
 * release frees it. */
typedef struct evp_mem {
    void *ptr;  /* first usable byte (device address for cuda, host address for host) */
    size_t len; /* usable bytes from ptr */
    int device; /* device it was allocated on or imported into */
} evp_mem_t;

struct evp_backend_mem {
    /* Allocates len bytes (> 0) on device, exportable as every handle in
     * `handles` (cuda: FD and/or FABRIC give a cuMem VMM allocation,
     * CUDA_IPC alone a cudaMalloc; host: FD). Devices whose bit is set in
     * `access` (and the owner) may read and write it. 0; EVP_EINVAL (bad
     * arguments or a handle the backend cannot export); EVP_EPERM (cuda:
     * FABRIC not permitted here, CUDA_ERROR_NOT_PERMITTED — no IMEX
     * channel — or not supported by the device: allocate with EVP_MEM_FD
     * instead); EVP_ENOMEM; EVP_ENODEV (no driver API); EVP_EBACKEND. */
    int (*alloc)(int device, size_t len, unsigned handles, uint64_t access, evp_mem_t **out);
    /* Wraps [ptr, ptr+len) that the caller allocated and keeps owning
     * (cuda: inside one cudaMalloc allocation, exportable as CUDA_IPC;
     * release forgets it, never frees it). 0; EVP_EINVAL (host: always;
     * cuda: not a device allocation of `device`, or the range overruns
     * it); EVP_ENOMEM; EVP_ENODEV; EVP_EBACKEND. */
    int (*attach)(int device, void *ptr, size_t len, evp_mem_t **out);
    /* Fills *desc for one handle type the object was made exportable as.
     * For EVP_MEM_FD, *fd is a descriptor owned by m (valid until release;
     * send it, do not close it); otherwise *fd = -1. fd may be NULL for
     * handles without one. 0; EVP_EINVAL (an import, or a handle m was
     * not made for); EVP_EBACKEND. */
    int (*export_)(evp_mem_t *m, enum evp_mem_handle handle, struct evp_mem_desc *desc, int *fd);
    /* Maps a peer's export on `device`: desc as received, fd the received
     * descriptor for EVP_MEM_FD (borrowed: the caller closes it; the
     * mapping keeps what it needs), -1 otherwise. `access` as for alloc.
     * *out's ptr/len are the exported range. 0; EVP_EINVAL (a descriptor
     * that does not check out, an fd smaller than the descriptor says);
     * EVP_EPERM (FABRIC import not permitted); EVP_ENOMEM; EVP_ENODEV;
     * EVP_EBACKEND. */
    int (*import)(int device, const struct evp_mem_desc *desc, int fd, uint64_t access, evp_mem_t **out);
    /* Unmaps / frees what alloc, attach or import made, closes the fds the
     * object owns, and frees m. NULL is a no-op. 0 or EVP_EBACKEND (the
     * object is freed regardless; the failing call is logged). */
    int (*release)(evp_mem_t *m);
};

extern const struct evp_backend_mem evp_mem_cuda;
extern const struct evp_backend_mem evp_mem_host;

/* Fills the common fields of a descriptor (magic, version, handle, sizes;
 * bytes zeroed). */
void evp_mem_desc_init(struct evp_mem_desc *d, enum evp_mem_handle handle, uint64_t size, uint64_t offset,
                       uint64_t len);

/* Checks a received descriptor: magic, version, the handle (one of
 * `allowed`), offset + len within size, len > 0. 0 or EVP_EINVAL (logged,
 * naming what is wrong). */
int evp_mem_desc_check(const struct evp_mem_desc *d, unsigned allowed);

#endif
