/* SPDX-License-Identifier: Apache-2.0 */
/* CUDA backend memory: CUDA IPC handles of cudaMalloc allocations, and cuMem
 * VMM allocations exported as a POSIX fd or a FABRIC handle. Driver calls go
 * through the entry-point table (cuda_driver.h) only. */
#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evpool/error.h"
#include "backend/cuda_device.h"
#include "backend/cuda_driver.h"
#include "backend/mem.h"
#include "base/log.h"

_Static_assert(sizeof(cudaIpcMemHandle_t) == EVP_MEM_HANDLE_BYTES, "a CUDA IPC handle fills the descriptor");
_Static_assert(sizeof(CUmemFabricHandle) == EVP_MEM_HANDLE_BYTES, "a FABRIC handle fills the descriptor");

enum evp_cuda_mem_kind {
    EVP_CUDA_MALLOC,     /* cudaMalloc by alloc: cudaFree at release */
    EVP_CUDA_ATTACHED,   /* the caller's allocation: nothing to free */
    EVP_CUDA_IPC_OPENED, /* cudaIpcOpenMemHandle: cudaIpcCloseMemHandle at release */
    EVP_CUDA_VMM,        /* cuMemCreate + map (alloc or import): unmap, free the range, release */
};

struct evp_cuda_mem {
    evp_mem_t pub;
    enum evp_cuda_mem_kind kind;
    unsigned handles; /* what export may give (0 for imports) */
    /* MALLOC, ATTACHED, IPC_OPENED: the allocation that holds pub.ptr. */
    char *base;
    size_t base_size;
    /* VMM: the physical allocation (owned: cuMemRelease), the reserved and
     * mapped range, and the exported fd (owned: closed at release; -1
     * until the first FD export). */
    CUmemGenericAllocationHandle handle;
    bool has_handle, reserved, mapped;
    CUdeviceptr va;
    size_t size;
    int fd;
};

/* Makes `device` current for driver calls. evp_cuda_enter skips
 * cudaSetDevice when the runtime already reports `device`, which on a
 * thread that never made a runtime call leaves no context current for the
 * driver; cudaSetDevice (CUDA >= 12) makes the primary context current. A
 * device out of range is EVP_EINVAL. */
static int evp_cuda_mem_enter(int device, int *prev)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError();
        evp_error("CUDA memory: no usable device: %s", cudaGetErrorName(e));
        return EVP_ENODEV;
    }
    if (device < 0 || device >= n) {
        evp_error("CUDA memory: device %d out of range (%d devices)", device, n);
        return EVP_EINVAL;
    }
    int rc = evp_cuda_enter(device, prev);
    if (rc == 0 && *prev == device && (e = cudaSetDevice(device)) != cudaSuccess)
        rc = evp_cuda_fail("cudaSetDevice", e);
    return rc;
}

static struct evp_cuda_mem *evp_cuda_mem_new(int device, enum evp_cuda_mem_kind kind)
{
    struct evp_cuda_mem *m = calloc(1, sizeof *m);
    if (m) {
        m->pub.device = device;
        m->kind = kind;
        m->fd = -1;
    }
    return m;
}

/* Undoes whatever part of a VMM mapping exists (alloc/import failure paths
 * and release). Must run with the device current. 0 or EVP_EBACKEND (the
 * first failure; the rest is still undone). */
static int evp_cuda_vmm_undo(const struct evp_cu *cu, struct evp_cuda_mem *m)
{
    int rc = 0;
    CUresult r;
    if (m->mapped && (r = cu->cuMemUnmap(m->va, m->size)) != CUDA_SUCCESS && rc == 0)
        rc = evp_cu_fail("cuMemUnmap", r);
    if (m->reserved && (r = cu->cuMemAddressFree(m->va, m->size)) != CUDA_SUCCESS && rc == 0)
        rc = evp_cu_fail("cuMemAddressFree", r);
    if (m->has_handle && (r = cu->cuMemRelease(m->handle)) != CUDA_SUCCESS && rc == 0)
        rc = evp_cu_fail("cuMemRelease", r);
    if (m->fd >= 0)
        close(m->fd);
    m->mapped = m->reserved = m->has_handle = false;
    m->fd = -1;
    return rc;
}

static CUmemAllocationProp evp_cuda_vmm_prop(int device, CUmemAllocationHandleType types)
{
    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof prop);
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = device;
    prop.requestedHandleTypes = types;
    return prop;
}

/* Reserves m->size bytes, maps m->handle there and gives `device` and the
 * devices in `access` read/write access. */
static int evp_cuda_vmm_map(const struct evp_cu *cu, struct evp_cuda_mem *m, size_t align, uint64_t access)
{
    CUresult r = cu->cuMemAddressReserve(&m->va, m->size, align, 0, 0);
    if (r != CUDA_SUCCESS)
        return r == CUDA_ERROR_OUT_OF_MEMORY ? EVP_ENOMEM : evp_cu_fail("cuMemAddressReserve", r);
    m->reserved = true;
    if ((r = cu->cuMemMap(m->va, m->size, 0, m->handle, 0)) != CUDA_SUCCESS)
        return evp_cu_fail("cuMemMap", r);
    m->mapped = true;
    CUmemAccessDesc desc[64];
    size_t n = 0;
    access |= 1ull << m->pub.device;
    for (int d = 0; d < 64; d++) {
        if (!(access >> d & 1))
            continue;
        memset(&desc[n], 0, sizeof desc[n]);
        desc[n].location.type = CU_MEM_LOCATION_TYPE_DEVICE;
        desc[n].location.id = d;
        desc[n].flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
        n++;
    }
    if ((r = cu->cuMemSetAccess(m->va, m->size, desc, n)) != CUDA_SUCCESS)
        return evp_cu_fail("cuMemSetAccess", r);
    m->pub.ptr = (void *)(uintptr_t)m->va;
    return 0;
}

/* FABRIC is refused in two ways on machines without a usable fabric: the
 * device does not support it, or cuMemCreate / import answers
 * CUDA_ERROR_NOT_PERMITTED (no IMEX channel granted to this user). Both
 * are EVP_EPERM, logged at info: the caller decides what it is (the mnnvl
 * transport probes with it and warns once per process when it falls back
 * to EVP_MEM_FD; a refusal it cannot fall back from it logs as an error). */
static int evp_cuda_fabric_refused(const char *what, int device, const char *why)
{
    evp_info("%s with a FABRIC handle on device %d: %s; use EVP_MEM_FD (POSIX fd) instead", what, device, why);
    return EVP_EPERM;
}

static int evp_cuda_vmm_alloc(const struct evp_cu *cu, struct evp_cuda_mem *m, size_t len, unsigned handles,
                              uint64_t access)
{
    int device = m->pub.device;
    CUresult r;
    if (handles & EVP_MEM_FABRIC) {
        CUdevice dev;
        int fabric = 0;
        if ((r = cu->cuDeviceGet(&dev, device)) != CUDA_SUCCESS)
            return evp_cu_fail("cuDeviceGet", r);
        if ((r = cu->cuDeviceGetAttribute(&fabric, CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED, dev)) !=
            CUDA_SUCCESS)
            return evp_cu_fail("cuDeviceGetAttribute(HANDLE_TYPE_FABRIC_SUPPORTED)", r);
        if (!fabric)
            return evp_cuda_fabric_refused("cuMemCreate", device, "the device does not support fabric handles");
    }
    CUmemAllocationHandleType types = 0;
    if (handles & EVP_MEM_FD)
        types |= CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
    if (handles & EVP_MEM_FABRIC)
        types |= CU_MEM_HANDLE_TYPE_FABRIC;
    CUmemAllocationProp prop = evp_cuda_vmm_prop(device, types);
    size_t gran = 0;
    if ((r = cu->cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM)) != CUDA_SUCCESS)
        return evp_cu_fail("cuMemGetAllocationGranularity", r);
    if (len > SIZE_MAX - gran)
        return EVP_EINVAL;
    m->size = (len + gran - 1) / gran * gran;
    r = cu->cuMemCreate(&m->handle, m->size, &prop, 0);
    if (r == CUDA_ERROR_NOT_PERMITTED && (handles & EVP_MEM_FABRIC))
        return evp_cuda_fabric_refused("cuMemCreate", device,
                                       "CUDA_ERROR_NOT_PERMITTED (no IMEX channel: /dev/nvidia-caps-imex-channels)");
    if (r == CUDA_ERROR_OUT_OF_MEMORY)
        return EVP_ENOMEM;
    if (r != CUDA_SUCCESS)
        return evp_cu_fail("cuMemCreate", r);
    m->has_handle = true;
    int rc = evp_cuda_vmm_map(cu, m, gran, access);
    m->pub.len = len;
    return rc;
}

static int evp_cuda_mem_alloc(int device, size_t len, unsigned handles, uint64_t access, evp_mem_t **out)
{
    const unsigned vmm = EVP_MEM_FD | EVP_MEM_FABRIC;
    if (len == 0 || !out || !handles || (handles & ~(vmm | EVP_MEM_CUDA_IPC)) ||
        ((handles & EVP_MEM_CUDA_IPC) && (handles & vmm))) {
        evp_error("CUDA memory alloc: bad arguments (%zu bytes, handles 0x%x: FD and/or FABRIC, or CUDA_IPC alone)",
                  len, handles);
        return EVP_EINVAL;
    }
    const struct evp_cu *cu = NULL;
    int rc = (handles & vmm) ? evp_cu_load(&cu) : 0;
    if (rc)
        return rc;
    struct evp_cuda_mem *m = evp_cuda_mem_new(device, (handles & vmm) ? EVP_CUDA_VMM : EVP_CUDA_MALLOC);
    if (!m)
        return EVP_ENOMEM;
    m->handles = handles;
    int prev = -1;
    rc = evp_cuda_mem_enter(device, &prev);
    if (rc) {
        free(m);
        return rc;
    }
    if (m->kind == EVP_CUDA_VMM) {
        rc = evp_cuda_vmm_alloc(cu, m, len, handles, access);
        if (rc)
            evp_cuda_vmm_undo(cu, m);
    } else {
        void *p = NULL;
        cudaError_t e = cudaMalloc(&p, len);
        if (e == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            rc = EVP_ENOMEM;
        } else if (e != cudaSuccess) {
            rc = evp_cuda_fail("cudaMalloc", e);
        }
        m->pub.ptr = m->base = p;
        m->pub.len = m->base_size = len;
    }
    rc = evp_cuda_leave(device, prev, rc);
    if (rc) { /* also when only the restore of the caller's device failed */
        if (m->kind == EVP_CUDA_MALLOC && m->base)
            cudaFree(m->base);
        else if (m->kind == EVP_CUDA_VMM)
            evp_cuda_vmm_undo(cu, m);
        free(m);
        return rc;
    }
    *out = &m->pub;
    return 0;
}

static int evp_cuda_mem_attach(int device, void *ptr, size_t len, evp_mem_t **out)
{
    if (!ptr || len == 0 || !out)
        return EVP_EINVAL;
    const struct evp_cu *cu;
    int rc = evp_cu_load(&cu);
    if (rc)
        return rc;
    int prev = -1;
    if ((rc = evp_cuda_mem_enter(device, &prev)) != 0)
        return rc;
    struct cudaPointerAttributes attr;
    cudaError_t e = cudaPointerGetAttributes(&attr, ptr);
    CUdeviceptr base = 0;
    size_t size = 0;
    if (e != cudaSuccess || attr.type != cudaMemoryTypeDevice || attr.device != device) {
        cudaGetLastError();
        evp_error("CUDA memory attach: %p is not device memory of device %d", ptr, device);
        rc = EVP_EINVAL;
    } else {
        /* cudaIpcGetMemHandle names a whole allocation, and the importer's
         * cudaIpcOpenMemHandle returns its base: widen to the base here and
         * carry the offset in the descriptor. */
        CUresult r = cu->cuMemGetAddressRange(&base, &size, (CUdeviceptr)(uintptr_t)ptr);
        if (r != CUDA_SUCCESS) {
            rc = evp_cu_fail("cuMemGetAddressRange", r);
        } else if ((uintptr_t)ptr - base > size || len > size - ((uintptr_t)ptr - base)) {
            evp_error("CUDA memory attach: %zu bytes at %p overrun their allocation (%zu bytes)", len, ptr, size);
            rc = EVP_EINVAL;
        }
    }
    rc = evp_cuda_leave(device, prev, rc);
    if (rc)
        return rc;
    struct evp_cuda_mem *m = evp_cuda_mem_new(device, EVP_CUDA_ATTACHED);
    if (!m)
        return EVP_ENOMEM;
    m->handles = EVP_MEM_CUDA_IPC;
    m->pub.ptr = ptr;
    m->pub.len = len;
    m->base = (char *)(uintptr_t)base;
    m->base_size = size;
    *out = &m->pub;
    return 0;
}

static int evp_cuda_export_ipc(struct evp_cuda_mem *m, struct evp_mem_desc *desc)
{
    cudaIpcMemHandle_t h;
    cudaError_t e = cudaIpcGetMemHandle(&h, m->base);
    if (e != cudaSuccess)
        return evp_cuda_fail("cudaIpcGetMemHandle", e);
    evp_mem_desc_init(desc, EVP_MEM_CUDA_IPC, m->base_size, (uint64_t)((char *)m->pub.ptr - m->base), m->pub.len);
    memcpy(desc->bytes, &h, sizeof h);
    return 0;
}

static int evp_cuda_export_vmm(const struct evp_cu *cu, struct evp_cuda_mem *m, enum evp_mem_handle handle,
                               struct evp_mem_desc *desc, int *fd)
{
    CUresult r;
    evp_mem_desc_init(desc, handle, m->size, 0, m->pub.len);
    if (handle == EVP_MEM_FABRIC) {
        CUmemFabricHandle fh;
        if ((r = cu->cuMemExportToShareableHandle(&fh, m->handle, CU_MEM_HANDLE_TYPE_FABRIC, 0)) != CUDA_SUCCESS)
            return evp_cu_fail("cuMemExportToShareableHandle(FABRIC)", r);
        memcpy(desc->bytes, &fh, sizeof fh);
        return 0;
    }
    if (m->fd < 0) { /* one fd per allocation, owned by m: exports share it */
        int f = -1;
        r = cu->cuMemExportToShareableHandle(&f, m->handle, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0);
        if (r != CUDA_SUCCESS)
            return evp_cu_fail("cuMemExportToShareableHandle(POSIX_FILE_DESCRIPTOR)", r);
        m->fd = f;
    }
    *fd = m->fd;
    return 0;
}

static int evp_cuda_mem_export(evp_mem_t *pub, enum evp_mem_handle handle, struct evp_mem_desc *desc, int *fd)
{
    struct evp_cuda_mem *m = (struct evp_cuda_mem *)pub;
    if (!m || !desc || (handle == EVP_MEM_FD && !fd) || !(m->handles & handle) || (handle & (handle - 1u))) {
        evp_error("CUDA memory export: handle 0x%x not among those the memory was made for (0x%x)", (unsigned)handle,
                  m ? m->handles : 0u);
        return EVP_EINVAL;
    }
    if (fd)
        *fd = -1;
    const struct evp_cu *cu = NULL;
    int rc = handle == EVP_MEM_CUDA_IPC ? 0 : evp_cu_load(&cu);
    if (rc)
        return rc;
    int prev = -1;
    if ((rc = evp_cuda_mem_enter(m->pub.device, &prev)) != 0)
        return rc;
    if (handle == EVP_MEM_CUDA_IPC)
        rc = evp_cuda_export_ipc(m, desc);
    else
        rc = evp_cuda_export_vmm(cu, m, handle, desc, fd);
    return evp_cuda_leave(m->pub.device, prev, rc);
}

static int evp_cuda_import_ipc(struct evp_cuda_mem *m, const struct evp_mem_desc *desc)
{
    cudaIpcMemHandle_t h;
    memcpy(&h, desc->bytes, sizeof h);
    void *base = NULL;
    cudaError_t e = cudaIpcOpenMemHandle(&base, h, cudaIpcMemLazyEnablePeerAccess);
    if (e != cudaSuccess)
        return evp_cuda_fail("cudaIpcOpenMemHandle", e);
    m->kind = EVP_CUDA_IPC_OPENED;
    m->base = base;
    m->base_size = (size_t)desc->size;
    m->pub.ptr = m->base + desc->offset;
    m->pub.len = (size_t)desc->len;
    return 0;
}

static int evp_cuda_import_vmm(const struct evp_cu *cu, struct evp_cuda_mem *m, const struct evp_mem_desc *desc,
                               int fd, uint64_t access)
{
    CUmemFabricHandle fh;
    void *os_handle = (void *)(uintptr_t)fd; /* the fd itself, by value, for POSIX_FILE_DESCRIPTOR */
    CUmemAllocationHandleType type = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
    if (desc->handle == EVP_MEM_FABRIC) {
        memcpy(&fh, desc->bytes, sizeof fh);
        os_handle = &fh;
        type = CU_MEM_HANDLE_TYPE_FABRIC;
    }
    CUresult r = cu->cuMemImportFromShareableHandle(&m->handle, os_handle, type);
    if (r == CUDA_ERROR_NOT_PERMITTED && type == CU_MEM_HANDLE_TYPE_FABRIC)
        return evp_cuda_fabric_refused("cuMemImportFromShareableHandle", m->pub.device,
                                       "CUDA_ERROR_NOT_PERMITTED (no IMEX channel shared with the exporter)");
    if (r != CUDA_SUCCESS)
        return evp_cu_fail("cuMemImportFromShareableHandle", r);
    m->has_handle = true;
    m->size = (size_t)desc->size;
    /* The exporter rounded size to its granularity; align the range to
     * this device's, the same for devices of one kind. */
    CUmemAllocationProp prop = evp_cuda_vmm_prop(m->pub.device, type);
    size_t gran = 0;
    if ((r = cu->cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM)) != CUDA_SUCCESS)
        return evp_cu_fail("cuMemGetAllocationGranularity", r);
    int rc = evp_cuda_vmm_map(cu, m, gran, access);
    if (rc == 0) {
        m->pub.ptr = (char *)m->pub.ptr + desc->offset;
        m->pub.len = (size_t)desc->len;
    }
    return rc;
}

static int evp_cuda_mem_import(int device, const struct evp_mem_desc *desc, int fd, uint64_t access,
                               evp_mem_t **out)
{
    if (!out)
        return EVP_EINVAL;
    int rc = evp_mem_desc_check(desc, EVP_MEM_FD | EVP_MEM_FABRIC | EVP_MEM_CUDA_IPC);
    if (rc)
        return rc;
    if (desc->handle == EVP_MEM_FD && fd < 0) {
        evp_error("CUDA memory import: an EVP_MEM_FD descriptor needs its fd");
        return EVP_EINVAL;
    }
    const struct evp_cu *cu = NULL;
    if (desc->handle != EVP_MEM_CUDA_IPC && (rc = evp_cu_load(&cu)) != 0)
        return rc;
    struct evp_cuda_mem *m = evp_cuda_mem_new(device, EVP_CUDA_VMM);
    if (!m)
        return EVP_ENOMEM;
    int prev = -1;
    if ((rc = evp_cuda_mem_enter(device, &prev)) != 0) {
        free(m);
        return rc;
    }
    if (desc->handle == EVP_MEM_CUDA_IPC) {
        rc = evp_cuda_import_ipc(m, desc);
    } else {
        rc = evp_cuda_import_vmm(cu, m, desc, fd, access);
        if (rc)
            evp_cuda_vmm_undo(cu, m);
    }
    rc = evp_cuda_leave(device, prev, rc);
    if (rc) { /* also when only the restore of the caller's device failed */
        if (m->kind == EVP_CUDA_IPC_OPENED)
            cudaIpcCloseMemHandle(m->base);
        else if (cu)
            evp_cuda_vmm_undo(cu, m);
        free(m);
        return rc;
    }
    *out = &m->pub;
    return 0;
}

static int evp_cuda_mem_release(evp_mem_t *pub)
{
    struct evp_cuda_mem *m = (struct evp_cuda_mem *)pub;
    if (!m)
        return 0;
    int prev = -1, rc = 0;
    if (m->kind != EVP_CUDA_ATTACHED && (rc = evp_cuda_mem_enter(m->pub.device, &prev)) == 0) {
        cudaError_t e = cudaSuccess;
        const struct evp_cu *cu;
        switch (m->kind) {
        case EVP_CUDA_MALLOC:
            if ((e = cudaFree(m->base)) != cudaSuccess)
                rc = evp_cuda_fail("cudaFree", e);
            break;
        case EVP_CUDA_IPC_OPENED:
            if ((e = cudaIpcCloseMemHandle(m->base)) != cudaSuccess)
                rc = evp_cuda_fail("cudaIpcCloseMemHandle", e);
            break;
        case EVP_CUDA_VMM:
            /* Loaded when m was made. */
            rc = evp_cu_load(&cu);
            if (rc == 0)
                rc = evp_cuda_vmm_undo(cu, m);
            break;
        case EVP_CUDA_ATTACHED:
            break;
        }
        rc = evp_cuda_leave(m->pub.device, prev, rc);
    }
    if (m->fd >= 0) /* still open only if the device could not be entered */
        close(m->fd);
    free(m);
    return rc;
}

const struct evp_backend_mem evp_mem_cuda = {
    .alloc = evp_cuda_mem_alloc,
    .attach = evp_cuda_mem_attach,
    .export_ = evp_cuda_mem_export,
    .import = evp_cuda_mem_import,
    .release = evp_cuda_mem_release,
};
