/* SPDX-License-Identifier: Apache-2.0 */
/* The CUDA backend's copies, host callbacks and memory export/import.
 *
 *   test_gpu_backend             one GPU: copies (H2D pageable, D2D, D2H
 *                                pinned, batches, host callback ordering);
 *                                CUDA IPC and cuMem POSIX-fd export in this
 *                                process, import in a peer process (fd by
 *                                SCM_RIGHTS and by pidfd_getfd where
 *                                permitted), patterns checked both ways;
 *                                the FABRIC attempt, reported either way.
 *   test_gpu_backend --two-gpus  exporter on GPU 0, importer on GPU 1 and
 *                                the reverse (CUDA IPC, cuMem fd); a peer
 *                                copy 0 -> 1 checked. Exit 77 with < 2 GPUs.
 *
 * The peer (tests/peer.h) is this binary, fork+exec'd before any CUDA call
 * here. Exits 77 (skipped) without a usable GPU. Everything allocated is
 * freed and every stream destroyed (compute-sanitizer leak check). */
#include <cuda_runtime_api.h>
#include <stdatomic.h>
#include <string.h>

#include "backend/backend.h"
#include "cuda_ok.h"
#include "harness.h"
#include "peer.h"

/* TEST for a call with arguments. */
#define TEST_CALL(call)                                                                          \
    do {                                                                                         \
        fprintf(stderr, "[ RUN  ] %s\n", #call);                                                 \
        call;                                                                                    \
        fprintf(stderr, "[  OK  ] %s\n", #call);                                                 \
    } while (0)

static const struct evp_backend *be = &evp_backend_cuda;
static struct peer g_peer;

static void *dev_alloc(int dev, size_t len)
{
    void *p = NULL;
    CUDA_OK(cudaSetDevice(dev));
    CUDA_OK(cudaMalloc(&p, len));
    return p;
}

struct cb_check {
    const unsigned char *buf;
    size_t len;
    uint64_t seed;
    _Atomic int ok, calls;
};

/* A host callback behind a D2H copy: the bytes must already be there. */
static void check_landed(void *arg)
{
    struct cb_check *c = arg;
    atomic_store(&c->ok, check_pattern(c->buf, c->len, c->seed) == c->len);
    atomic_fetch_add(&c->calls, 1);
}

static void check_host(const void *buf, size_t len, uint64_t seed)
{
    size_t bad = check_pattern(buf, len, seed);
    if (bad != len)
        evp_test_fail(__FILE__, __LINE__, "pattern %llu wrong at byte %zu of %zu", (unsigned long long)seed, bad, len);
}

static void test_copies(int dev)
{
    const size_t len = (1 << 20) + 3;
    void *s = NULL;
    CHECK_RC(be->stream_create(dev, &s), 0);
    unsigned char *pageable = malloc(len), *pinned = NULL;
    CHECK(pageable != NULL);
    CUDA_OK(cudaSetDevice(dev));
    CUDA_OK(cudaMallocHost((void **)&pinned, len));
    unsigned char *d1 = dev_alloc(dev, len), *d2 = dev_alloc(dev, len);

    /* H2D (pageable) -> D2D -> D2H (pinned) -> callback sees the bytes. */
    fill_pattern(pageable, len, 1);
    memset(pinned, 0, len);
    struct cb_check cb = {.buf = pinned, .len = len, .seed = 1};
    CHECK_RC(be->copy(d1, pageable, len, s), 0);
    CHECK_RC(be->copy(d2, d1, len, s), 0);
    CHECK_RC(be->copy(pinned, d2, len, s), 0);
    CHECK_RC(be->host_fn(s, check_landed, &cb), 0);
    CHECK_RC(be->stream_sync(s), 0);
    CHECK_EQ(atomic_load(&cb.calls), 1);
    CHECK_EQ(atomic_load(&cb.ok), 1);
    check_host(pinned, len, 1);

    /* Batches (cudaMemcpyBatchAsync on a non-default stream where the
     * driver has it): H2D in 4 pieces, D2D in 3, D2H in 2; each batch is
     * ordered after the one before it on the stream. */
    fill_pattern(pageable, len, 2);
    CUDA_OK(cudaMemsetAsync(d1, 0, len, (cudaStream_t)s));
    size_t q = len / 4;
    void *dst[4] = {d1, d1 + q, d1 + 2 * q, d1 + 3 * q};
    const void *src[4] = {pageable, pageable + q, pageable + 2 * q, pageable + 3 * q};
    size_t lens[4] = {q, q, q, len - 3 * q};
    CHECK_RC(be->copy_batch(dst, src, lens, 4, s), 0);
    size_t t = len / 3;
    void *dst3[3] = {d2, d2 + t, d2 + 2 * t};
    const void *src3[3] = {d1, d1 + t, d1 + 2 * t};
    size_t lens3[3] = {t, t, len - 2 * t};
    CHECK_RC(be->copy_batch(dst3, src3, lens3, 3, s), 0);
    memset(pinned, 0, len);
    void *dst2[2] = {pinned, pinned + len / 2};
    const void *src2[2] = {d2, d2 + len / 2};
    size_t lens2[2] = {len / 2, len - len / 2};
    cb = (struct cb_check){.buf = pinned, .len = len, .seed = 2};
    CHECK_RC(be->copy_batch(dst2, src2, lens2, 2, s), 0);
    CHECK_RC(be->host_fn(s, check_landed, &cb), 0);
    CHECK_RC(be->stream_sync(s), 0);
    CHECK_EQ(atomic_load(&cb.ok), 1);
    check_host(pinned, len, 2);

    /* The legacy default stream (NULL): a batch falls back to one copy each. */
    memset(pageable, 0, len);
    void *dstp[2] = {pageable, pageable + len / 2};
    CHECK_RC(be->copy_batch(dstp, (const void *const *)dst2, lens2, 2, NULL), 0);
    CUDA_OK(cudaDeviceSynchronize());
    check_host(pageable, len, 2);

    /* Bad arguments: nothing enqueued, no CUDA call made. */
    CHECK_RC(be->copy(NULL, d1, 16, s), EVP_EINVAL);
    CHECK_RC(be->copy(d1 + 8, d1, 16, s), EVP_EINVAL);
    CHECK_RC(be->copy(d1, NULL, 0, s), 0);
    CHECK_RC(be->host_fn(s, NULL, NULL), EVP_EINVAL);
    dst[1] = NULL;
    CHECK_RC(be->copy_batch(dst, src, lens, 4, s), EVP_EINVAL);

    CHECK_RC(be->stream_destroy(dev, s), 0);
    CUDA_OK(cudaFree(d1));
    CUDA_OK(cudaFree(d2));
    CUDA_OK(cudaFreeHost(pinned));
    free(pageable);
}

static void test_mem_bad_args(int dev, int ndev)
{
    const struct evp_backend_mem *mem = be->mem;
    evp_mem_t *m = NULL;
    CHECK_RC(mem->alloc(dev, 0, EVP_MEM_FD, 0, &m), EVP_EINVAL);
    CHECK_RC(mem->alloc(dev, 64, 0, 0, &m), EVP_EINVAL);
    CHECK_RC(mem->alloc(dev, 64, EVP_MEM_FD | EVP_MEM_CUDA_IPC, 0, &m), EVP_EINVAL);
    CHECK_RC(mem->alloc(ndev, 64, EVP_MEM_CUDA_IPC, 0, &m), EVP_EINVAL);
    CHECK_RC(mem->alloc(-1, 64, EVP_MEM_FD, 0, &m), EVP_EINVAL);
    static char host_bytes[64];
    CHECK_RC(mem->attach(dev, host_bytes, sizeof host_bytes, &m), EVP_EINVAL);
    CHECK_RC(mem->attach(dev, NULL, 64, &m), EVP_EINVAL);
    /* A cudaMalloc made by alloc exports as CUDA IPC only. */
    CHECK_RC(mem->alloc(dev, 4096, EVP_MEM_CUDA_IPC, 0, &m), 0);
    struct evp_mem_desc d;
    int fd = 0;
    CHECK_RC(mem->export_(m, EVP_MEM_FD, &d, &fd), EVP_EINVAL);
    CHECK_RC(mem->export_(m, EVP_MEM_CUDA_IPC, &d, &fd), 0);
    CHECK_EQ(fd, -1);
    CHECK_EQ(d.len, 4096);
    /* Range overrun on attach. */
    evp_mem_t *a = NULL;
    CHECK_RC(mem->attach(dev, (char *)m->ptr + 4000, (size_t)1 << 34, &a), EVP_EINVAL);
    CHECK_RC(mem->attach(dev, (char *)m->ptr + 4000, 96, &a), 0);
    CHECK_RC(mem->release(a), 0); /* forgets it; m still owns the memory */
    struct evp_mem_desc bad = d;
    bad.magic = 0;
    evp_mem_t *imp = NULL;
    CHECK_RC(mem->import(dev, &bad, -1, 0, &imp), EVP_EINVAL);
    bad = d;
    bad.handle = EVP_MEM_FD;
    CHECK_RC(mem->import(dev, &bad, -1, 0, &imp), EVP_EINVAL); /* FD without its fd */
    CHECK_RC(mem->release(m), 0);
    CHECK_RC(mem->release(NULL), 0);
}

/* CUDA IPC: an allocation made by alloc, and a range inside the caller's
 * cudaMalloc (attach widens it to the allocation base; the importer must
 * land on the same bytes, and the bytes around the range stay zero). */
static void test_ipc(int exp_dev, int imp_dev)
{
    fprintf(stderr, "  CUDA IPC: export on GPU %d, import on GPU %d\n", exp_dev, imp_dev);
    const struct evp_backend_mem *mem = be->mem;
    evp_mem_t *m;
    CHECK_RC(mem->alloc(exp_dev, (2 << 20) + 7, EVP_MEM_CUDA_IPC, 0, &m), 0);
    CHECK_RC(peer_roundtrip(&g_peer, m, EVP_MEM_CUDA_IPC, PEER_VIA_NONE, imp_dev, 10, NULL), 0);
    CHECK_RC(mem->release(m), 0);

    const size_t big = 4 << 20, off = (1 << 20) + 256, len = (64 << 10) + 5;
    unsigned char *base = dev_alloc(exp_dev, big);
    CUDA_OK(cudaMemset(base, 0, big));
    CUDA_OK(cudaDeviceSynchronize()); /* cudaMemset is host-asynchronous; the copies use other streams */
    CHECK_RC(mem->attach(exp_dev, base + off, len, &m), 0);
    CHECK_RC(peer_roundtrip(&g_peer, m, EVP_MEM_CUDA_IPC, PEER_VIA_NONE, imp_dev, 20, NULL), 0);
    CHECK_RC(mem->release(m), 0);
    unsigned char edge[2];
    CUDA_OK(cudaMemcpy(&edge[0], base + off - 1, 1, cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(&edge[1], base + off + len, 1, cudaMemcpyDeviceToHost));
    CHECK_EQ(edge[0], 0);
    CHECK_EQ(edge[1], 0);
    CUDA_OK(cudaFree(base));
}

/* cuMem VMM with a POSIX fd handle; the fd moves by SCM_RIGHTS, then by
 * pidfd_getfd (EVP_EPERM where ptrace rules or seccomp refuse: skipped). */
static void test_vmm_fd(int exp_dev, int imp_dev)
{
    fprintf(stderr, "  cuMem POSIX fd: export on GPU %d, import on GPU %d\n", exp_dev, imp_dev);
    const struct evp_backend_mem *mem = be->mem;
    /* Cycle 0 lets the driver open what it keeps open (device files);
     * from then on each cycle must close every fd it made. */
    int before = -1, rc = 0;
    for (int cycle = 0; cycle < 3; cycle++) {
        if (cycle == 1)
            before = count_fds();
        evp_mem_t *m;
        CHECK_RC(mem->alloc(exp_dev, (3 << 20) + 5, EVP_MEM_FD, 0, &m), 0);
        CHECK_EQ(m->len, (3 << 20) + 5);
        CHECK_RC(peer_roundtrip(&g_peer, m, EVP_MEM_FD, PEER_VIA_SCM, imp_dev, 30 + 10 * cycle, NULL), 0);
        rc = peer_roundtrip(&g_peer, m, EVP_MEM_FD, PEER_VIA_PIDFD, imp_dev, 35 + 10 * cycle, NULL);
        CHECK(rc == 0 || rc == EVP_EPERM);
        CHECK_RC(mem->release(m), 0); /* closes the exported fd */
    }
    fprintf(stderr, "    pidfd_getfd: %s\n", rc == 0 ? "permitted, checked" : "EVP_EPERM, variant skipped");
    CHECK_EQ(count_fds(), before);
}

/* FABRIC: CUDA_ERROR_NOT_PERMITTED on machines without an IMEX channel
 * (EVP_EPERM, the transport falls back to the fd); where permitted, the
 * handle goes to the peer as bytes. Either way passes; the line says which. */
static void test_fabric(int dev)
{
    if (getenv("EVP_TEST_UNDER_SANITIZER")) {
        /* The refused cuMemCreate would be reported as an API error. */
        fprintf(stderr, "  FABRIC: not attempted under compute-sanitizer\n");
        return;
    }
    evp_mem_t *m = NULL;
    int rc = be->mem->alloc(dev, 1 << 20, EVP_MEM_FABRIC, 0, &m);
    if (rc == EVP_EPERM) {
        fprintf(stderr, "  FABRIC on GPU %d: EVP_EPERM (not permitted here; EVP_MEM_FD is the fallback)\n", dev);
        return;
    }
    CHECK_RC(rc, 0);
    rc = peer_roundtrip(&g_peer, m, EVP_MEM_FABRIC, PEER_VIA_NONE, dev, 50, NULL);
    CHECK(rc == 0 || rc == EVP_EPERM);
    fprintf(stderr, "  FABRIC on GPU %d: allocated and exported; import in the peer: %s\n", dev,
            rc == 0 ? "permitted, checked" : "EVP_EPERM");
    CHECK_RC(be->mem->release(m), 0);
}

/* A peer copy GPU 0 -> GPU 1 (single and batched), checked on the host. */
static void test_peer_copy(void)
{
    const size_t len = (8 << 20) + 1;
    unsigned char *h = malloc(len), *d0 = dev_alloc(0, len), *d1 = dev_alloc(1, len);
    CHECK(h != NULL);
    void *s1 = NULL;
    CHECK_RC(be->stream_create(1, &s1), 0);
    fill_pattern(h, len, 60);
    CUDA_OK(cudaSetDevice(0));
    CUDA_OK(cudaMemcpy(d0, h, len, cudaMemcpyHostToDevice));
    /* A pageable H2D cudaMemcpy may return before its DMA lands ("API
     * synchronization behavior"); s1 is not ordered after it. */
    CUDA_OK(cudaDeviceSynchronize());
    CHECK_RC(be->copy(d1, d0, len, s1), 0); /* peer, on a stream of GPU 1 */
    memset(h, 0, len);
    CHECK_RC(be->copy(h, d1, len, s1), 0);
    CHECK_RC(be->stream_sync(s1), 0);
    check_host(h, len, 60);
    CUDA_OK(cudaSetDevice(1));
    CUDA_OK(cudaMemset(d1, 0, len));
    CUDA_OK(cudaDeviceSynchronize()); /* cudaMemset is asynchronous to the host; s1 is non-blocking */
    void *dst[2] = {d1, d1 + len / 2};
    const void *src[2] = {d0, d0 + len / 2};
    size_t lens[2] = {len / 2, len - len / 2};
    CHECK_RC(be->copy_batch(dst, src, lens, 2, s1), 0);
    memset(h, 0, len);
    CHECK_RC(be->copy(h, d1, len, s1), 0);
    CHECK_RC(be->stream_sync(s1), 0);
    check_host(h, len, 60);
    CHECK_RC(be->stream_destroy(1, s1), 0);
    CUDA_OK(cudaFree(d0));
    CUDA_OK(cudaFree(d1));
    free(h);
}

int main(int argc, char **argv)
{
    int rc = peer_main(argc, argv);
    if (rc >= 0)
        return rc;
    int two = argc > 1 && strcmp(argv[1], "--two-gpus") == 0;
    peer_spawn(&g_peer, be); /* before this process makes any CUDA call */
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n < (two ? 2 : 1)) {
        fprintf(stderr, "skipped: %d usable GPU(s), %d needed\n", n, two ? 2 : 1);
        peer_finish(&g_peer);
        return EVP_TEST_SKIP;
    }
    if (!two) {
        TEST_CALL(test_copies(0));
        TEST_CALL(test_mem_bad_args(0, n));
        TEST_CALL(test_ipc(0, 0));
        TEST_CALL(test_vmm_fd(0, 0));
        TEST_CALL(test_fabric(0));
    } else {
        TEST_CALL(test_ipc(0, 1));
        TEST_CALL(test_ipc(1, 0));
        TEST_CALL(test_vmm_fd(0, 1));
        TEST_CALL(test_vmm_fd(1, 0));
        TEST_CALL(test_peer_copy());
    }
    peer_finish(&g_peer);
    return 0;
}
