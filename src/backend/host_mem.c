/* SPDX-License-Identifier: Apache-2.0 */
/* Host backend memory: a memfd mapped MAP_SHARED, exported as its fd (+
 * size in the descriptor) and imported by mapping the received fd. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evpool/error.h"
#include "evpool/host.h"
#include "backend/mem.h"
#include "base/log.h"

struct evp_host_mem {
    evp_mem_t pub;
    void *map;    /* the whole mapping (munmap at release) */
    size_t size;  /* its length */
    int fd;       /* alloc: the memfd, owned (closed at release); import: -1 */
};

/* Logs a failed system call with errno and maps it to an evpool code. */
static int evp_host_mem_fail(const char *what, int err)
{
    evp_error("%s failed: %s", what, strerror(err));
    return err == ENOMEM ? EVP_ENOMEM : EVP_EBACKEND;
}

static int evp_host_mem_new(int device, void *map, size_t size, size_t offset, size_t len, int fd,
                            evp_mem_t **out)
{
    struct evp_host_mem *h = malloc(sizeof *h);
    if (!h)
        return EVP_ENOMEM;
    *h = (struct evp_host_mem){
        .pub = {.ptr = (char *)map + offset, .len = len, .device = device},
        .map = map,
        .size = size,
        .fd = fd,
    };
    *out = &h->pub;
    return 0;
}

static int evp_host_mem_alloc(int device, size_t len, unsigned handles, uint64_t access, evp_mem_t **out)
{
    if (device < 0 || device >= EVP_HOST_DEVICES || len == 0 || !out || (handles & ~(unsigned)EVP_MEM_FD)) {
        evp_error("host memory alloc: bad arguments (device %d, %zu bytes, handles 0x%x; only EVP_MEM_FD)", device,
                  len, handles);
        return EVP_EINVAL;
    }
    int fd = memfd_create("evpool-mem", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return evp_host_mem_fail("memfd_create", errno);
    /* Sealed at its size: a peer holding the fd cannot shrink the file
     * under our mapping (which would turn our accesses into SIGBUS). */
    void *map = MAP_FAILED;
    int rc = 0;
    if (ftruncate(fd, (off_t)len) != 0)
        rc = evp_host_mem_fail("ftruncate (memfd)", errno);
    else if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
        rc = evp_host_mem_fail("fcntl(F_ADD_SEALS) (memfd)", errno);
    else if ((map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
        rc = evp_host_mem_fail("mmap (memfd)", errno);
    if (rc == 0 && (rc = evp_host_mem_new(device, map, len, 0, len, fd, out)) == 0)
        return 0;
    if (map != MAP_FAILED)
        munmap(map, len);
    close(fd);
    return rc;
}

static int evp_host_mem_attach(int device, void *ptr, size_t len, evp_mem_t **out)
{
    evp_error("host memory attach: host memory is shareable only when allocated by the backend (alloc)");
    return EVP_EINVAL;
}

static int evp_host_mem_export(evp_mem_t *m, enum evp_mem_handle handle, struct evp_mem_desc *desc, int *fd)
{
    struct evp_host_mem *h = (struct evp_host_mem *)m;
    if (!h || !desc || !fd || handle != EVP_MEM_FD || h->fd < 0) {
        evp_error("host memory export: only EVP_MEM_FD, of an allocation made by alloc");
        return EVP_EINVAL;
    }
    evp_mem_desc_init(desc, EVP_MEM_FD, h->size, 0, h->size);
    *fd = h->fd;
    return 0;
}

static int evp_host_mem_import(int device, const struct evp_mem_desc *desc, int fd, uint64_t access,
                               evp_mem_t **out)
{
    if (device < 0 || device >= EVP_HOST_DEVICES || fd < 0 || !out) {
        evp_error("host memory import: bad arguments (device %d, fd %d)", device, fd);
        return EVP_EINVAL;
    }
    int rc = evp_mem_desc_check(desc, EVP_MEM_FD);
    if (rc)
        return rc;
    /* Never map past the end of the file: an access there is SIGBUS. */
    struct stat st;
    if (fstat(fd, &st) != 0)
        return evp_host_mem_fail("fstat (import)", errno);
    if (st.st_size < 0 || (uint64_t)st.st_size < desc->size) {
        evp_error("host memory import: the fd holds %lld bytes, the descriptor says %llu", (long long)st.st_size,
                  (unsigned long long)desc->size);
        return EVP_EINVAL;
    }
    void *map = mmap(NULL, (size_t)desc->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        return evp_host_mem_fail("mmap (import)", errno);
    /* The mapping keeps the file alive; the fd stays the caller's. */
    rc = evp_host_mem_new(device, map, (size_t)desc->size, (size_t)desc->offset, (size_t)desc->len, -1, out);
    if (rc)
        munmap(map, (size_t)desc->size);
    return rc;
}

static int evp_host_mem_release(evp_mem_t *m)
{
    struct evp_host_mem *h = (struct evp_host_mem *)m;
    if (!h)
        return 0;
    int rc = 0;
    if (munmap(h->map, h->size) != 0)
        rc = evp_host_mem_fail("munmap", errno);
    if (h->fd >= 0 && close(h->fd) != 0 && rc == 0)
        rc = evp_host_mem_fail("close (memfd)", errno);
    free(h);
    return rc;
}

const struct evp_backend_mem evp_mem_host = {
    .alloc = evp_host_mem_alloc,
    .attach = evp_host_mem_attach,
    .export_ = evp_host_mem_export,
    .import = evp_host_mem_import,
    .release = evp_host_mem_release,
};
