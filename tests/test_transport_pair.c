/* SPDX-License-Identifier: Apache-2.0 */
/* Two processes over a transport: the peer (this binary re-run with
 * --transport-peer, fork+exec'd before this process makes any CUDA call)
 * allocates and registers segments and exports them (descriptor + fd over
 * a Unix socket, SCM_RIGHTS); this process imports them and WRITEs and
 * READs through sub-batches.
 *
 *   test_transport_pair host               host kind (CI): one segment of
 *       64 MiB + 4 KiB; sizes 1 B .. 64 MiB at unaligned offsets.
 *   test_transport_pair nvlink             nvlink on GPU 0 (label gpu): the
 *       same with GPU buffers (local ones registered) and one pageable host
 *       buffer; then EVP_TRANSPORT_SUBMITS (default 200,000; 5,000 under
 *       compute-sanitizer) submit/free cycles at 4 threads: the events
 *       created stay at the pool's high-water, far below the submits.
 *   test_transport_pair mnnvl [--two-gpus] the same for mnnvl (cuMem VMM
 *       segments, FABRIC or the POSIX-fd fallback; local buffers from
 *       evp_transport_mem_alloc), sizes up to 256 MiB on one GPU too.
 *   test_transport_pair nvlink --two-gpus  (gpu;multigpu; exit 77 with fewer
 *       than two GPUs) the peer exports one segment on GPU 0 and one on
 *       GPU 1 (256 MiB + 4 KiB each); this process imports GPU 0's on GPU 1
 *       and GPU 1's on GPU 0 and moves 4 KiB .. 256 MiB both ways; a
 *       sub-batch whose stream is on GPU 0 also carries a copy from a GPU 1
 *       buffer; then threads on both devices submit at once (GPU 0 buffers
 *       -> GPU 1 memory, GPU 1 buffers -> GPU 0 memory): every task
 *       COMPLETED, no submit error (an event recorded on another device's
 *       stream would fail), and each device's pool leased exactly the
 *       submits whose stream is on that device.
 *
 * Every case: the WRITE lands (the peer checks every byte of the range and
 * the bytes just outside the segment), the peer writes a new pattern, the
 * READ brings it back (checked here, every byte). Everything is freed; the
 * peer exits 0 (compute-sanitizer memcheck runs both processes). */
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "batch_host.h"
#include "cuda_ok.h"
#include "harness.h"

#define MiB (1024u * 1024u)
#define GUARD 4096u    /* allocation bytes before and after the segment */
#define SEG_SKEW 4103u /* the segment starts here in its allocation: widened on export */

enum { MSG_START = 1, MSG_CHECK_FILL, MSG_QUIT };

struct msg {
    int32_t op;
    int32_t nseg;   /* START */
    int32_t dev[2]; /* START: device of each segment */
    int32_t k;      /* CHECK_FILL: which segment */
    uint64_t seglen;
    uint64_t off, len, seed_check, seed_fill;
};

struct rep {
    int32_t rc;
    char text[200];
};

static int g_nvlink; /* GPU memory: nvlink or mnnvl */
static int g_mnnvl;

/* ---- patterns: byte i of pattern `seed` (i from the range's start) ------ */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    return x ^ (x >> 32);
}

static void fill(unsigned char *p, size_t len, uint64_t seed)
{
    for (size_t w = 0; w * 8 < len; w++) {
        uint64_t x = mix((seed + 1) * 0x9e3779b97f4a7c15ull ^ w);
        for (size_t j = 0; j < 8 && w * 8 + j < len; j++)
            p[w * 8 + j] = (unsigned char)(x >> (8 * j));
    }
}

static size_t check(const unsigned char *p, size_t len, uint64_t seed)
{
    for (size_t w = 0; w * 8 < len; w++) {
        uint64_t x = mix((seed + 1) * 0x9e3779b97f4a7c15ull ^ w);
        for (size_t j = 0; j < 8 && w * 8 + j < len; j++)
            if (p[w * 8 + j] != (unsigned char)(x >> (8 * j)))
                return w * 8 + j;
    }
    return len;
}

/* Copies between host and (host kind: host; nvlink: device or host) memory,
 * and waits until the bytes have landed. cudaMemcpy alone does not: "For
 * transfers from pageable host memory to device memory, [...] The function
 * will return once the pageable buffer has been copied to the staging memory
 * for DMA transfer to device memory, but the DMA to final destination may not
 * have completed." (CUDA Runtime API, "API synchronization behavior"). Only
 * the legacy stream orders that DMA; the other process and the transport's
 * non-blocking streams do not, so the peer's fill could still be in flight
 * when its reply let this process READ (the pageable case's "wrong at byte
 * 1048576": the last staged chunk), and a WRITE could read `local` before
 * mem_copy filled it. Unverified on a GPU. */
static void mem_copy(void *dst, const void *src, size_t len)
{
    if (g_nvlink) {
        CUDA_OK(cudaMemcpy(dst, src, len, cudaMemcpyDefault));
        CUDA_OK(cudaDeviceSynchronize()); /* the current device ran it */
    } else {
        memcpy(dst, src, len);
    }
}

static void sleep_us(long us)
{
    sleep_ns(us * 1000L);
}

static void xsend(int sock, const void *p, size_t n)
{
    CHECK(send(sock, p, n, MSG_NOSIGNAL) == (ssize_t)n);
}

static void xrecv(int sock, void *p, size_t n)
{
    CHECK(recv(sock, p, n, 0) == (ssize_t)n);
}

static evp_transport_kind_t kind_of(const char *s)
{
    return strcmp(s, "nvlink") == 0  ? EVP_TRANSPORT_NVLINK
           : strcmp(s, "mnnvl") == 0 ? EVP_TRANSPORT_MNNVL
                                     : EVP_TRANSPORT_HOST;
}

/* ---- the peer: exporter ------------------------------------------------- */

static int peer_check_fill(unsigned char *seg, uint64_t seglen, const struct msg *m, struct rep *r)
{
    if (m->off > seglen || m->len > seglen - m->off) {
        snprintf(r->text, sizeof r->text, "range %llu+%llu outside", (unsigned long long)m->off,
                 (unsigned long long)m->len);
        return 1;
    }
    unsigned char *buf = malloc(m->len), edge[2];
    CHECK(buf);
    mem_copy(buf, seg + m->off, m->len);
    mem_copy(&edge[0], seg - 1, 1);
    mem_copy(&edge[1], seg + seglen, 1);
    size_t bad = check(buf, m->len, m->seed_check);
    int rc = 0;
    if (bad != m->len) {
        snprintf(r->text, sizeof r->text, "exporter: WRITE of %llu bytes at %llu wrong at byte %zu",
                 (unsigned long long)m->len, (unsigned long long)m->off, bad);
        rc = 1;
    } else if (edge[0] || edge[1]) {
        snprintf(r->text, sizeof r->text, "exporter: bytes outside the segment written (%u, %u)", edge[0], edge[1]);
        rc = 1;
    } else {
        fill(buf, m->len, m->seed_fill);
        mem_copy(seg + m->off, buf, m->len);
    }
    free(buf);
    return rc;
}

static int peer_main(char **argv)
{
    g_nvlink = strcmp(argv[2], "host") != 0;
    g_mnnvl = strcmp(argv[2], "mnnvl") == 0;
    int sock = atoi(argv[3]);
    struct msg m;
    xrecv(sock, &m, sizeof m);
    if (m.op != MSG_START)
        return 0;
    evp_transport_t *t;
    CHECK_RC(evp_transport_open(kind_of(argv[2]), NULL, &t), 0);
    void *base[2];
    evp_segment_t seg[2];
    for (int k = 0; k < m.nseg; k++) {
        size_t alloc = m.seglen + 2 * GUARD;
        CHECK_RC(evp_transport_mem_alloc(t, m.dev[k], alloc, &base[k]), 0);
        if (g_nvlink) {
            CUDA_OK(cudaSetDevice(m.dev[k]));
            CUDA_OK(cudaMemset(base[k], 0, alloc));
            /* "asynchronous with respect to the host" (cudaMemset): done
             * before the importer may WRITE into it. */
            CUDA_OK(cudaDeviceSynchronize());
        }
        else
            memset(base[k], 0, alloc);
        CHECK_RC(evp_transport_register(t, (char *)base[k] + SEG_SKEW, m.seglen, &seg[k]), 0);
        unsigned char desc[EVP_TRANSPORT_DESC_MAX];
        size_t len;
        int fd;
        CHECK_RC(evp_transport_export(t, seg[k], desc, sizeof desc, &len, &fd), 0);
        CHECK_RC(evp_transport_desc_send(sock, desc, len, fd), 0);
    }
    uint64_t seglen = m.seglen;
    int nseg = m.nseg;
    for (;;) {
        xrecv(sock, &m, sizeof m);
        if (m.op != MSG_CHECK_FILL)
            break;
        struct rep r = {0};
        r.rc = peer_check_fill((unsigned char *)base[m.k] + SEG_SKEW, seglen, &m, &r);
        xsend(sock, &r, sizeof r);
    }
    for (int k = 0; k < nseg; k++) {
        CHECK_RC(evp_transport_unregister(t, seg[k]), 0);
        CHECK_RC(evp_transport_mem_free(t, base[k]), 0);
    }
    CHECK_RC(evp_transport_close(t), 0);
    close(sock);
    return 0;
}

/* ---- this process: importer ---------------------------------------------- */

static int g_sock;
static pid_t g_pid;
static evp_transport_t *g_t;

static void spawn_peer(const char *kind)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int fd = dup(sv[1]); /* without close-on-exec */
        char fdarg[16];
        snprintf(fdarg, sizeof fdarg, "%d", fd);
        execl("/proc/self/exe", "peer", "--transport-peer", kind, fdarg, (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    g_sock = sv[0];
    g_pid = pid;
}

static void finish_peer(void)
{
    struct msg m = {.op = MSG_QUIT};
    xsend(g_sock, &m, sizeof m);
    close(g_sock);
    int status = 0;
    CHECK(waitpid(g_pid, &status, 0) == g_pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        evp_test_fail(__FILE__, __LINE__, "peer exited with status 0x%x", status);
}

static evp_batch_status_t poll_done(evp_batch_t b)
{
    return wait_terminal_any(NULL, g_t, b, 120000, 20000);
}

/* One sub-batch: n requests of op splitting [off, off+len) of seg, from
 * local; polled to COMPLETED. extra: a second submit into the same
 * sub-batch (another local buffer, maybe of another device), or NULL. */
static void transfer(evp_xfer_op_t op, unsigned char *local, evp_segment_t seg, uint64_t off, uint64_t len,
                     uint32_t pieces, const evp_xfer_req_t *extra)
{
    evp_xfer_req_t r[8];
    if (pieces > len)
        pieces = (uint32_t)len;
    uint64_t step = len / pieces;
    for (uint32_t i = 0; i < pieces; i++) {
        uint64_t o = i * step, n = i + 1 == pieces ? len - o : step;
        r[i] = (evp_xfer_req_t){op, local + o, seg, off + o, n};
    }
    evp_batch_t b;
    CHECK_RC(evp_transport_batch_alloc(g_t, 0, &b), 0);
    uint32_t first = 99;
    CHECK_RC(evp_transport_submit(g_t, b, r, pieces, &first), 0);
    CHECK_EQ(first, 0);
    if (extra)
        CHECK_RC(evp_transport_submit(g_t, b, extra, 1, &first), 0);
    evp_batch_status_t st = poll_done(b);
    CHECK_EQ(st.status, EVP_TASK_COMPLETED);
    CHECK_EQ(st.transferred_bytes, len + (extra ? extra->length : 0));
    CHECK_RC(evp_transport_task_status(g_t, b, pieces - 1, &st), 0);
    CHECK_EQ(st.status, EVP_TASK_COMPLETED);
    CHECK_RC(evp_transport_batch_free(g_t, b), 0);
}

static void peer_check_fill_rpc(int k, uint64_t seglen, uint64_t off, uint64_t len, uint64_t seed)
{
    struct msg m = {.op = MSG_CHECK_FILL, .k = k, .seglen = seglen, .off = off, .len = len,
                    .seed_check = seed, .seed_fill = seed + 1};
    xsend(g_sock, &m, sizeof m);
    struct rep r;
    xrecv(g_sock, &r, sizeof r);
    if (r.rc)
        evp_test_fail(__FILE__, __LINE__, "peer: %s", r.text);
}

/* WRITE pattern seed into seg[off, +len) from `local`, the peer checks it
 * and writes seed + 1, READ it back into `local2`, check here. */
static void roundtrip(int k, evp_segment_t seg, uint64_t seglen, unsigned char *local, unsigned char *local2,
                      unsigned char *host, uint64_t off, uint64_t len, uint64_t seed)
{
    fill(host, len, seed);
    mem_copy(local, host, len);
    transfer(EVP_XFER_WRITE, local, seg, off, len, len >= MiB ? 4 : 1, NULL);
    peer_check_fill_rpc(k, seglen, off, len, seed);
    transfer(EVP_XFER_READ, local2, seg, off, len, len >= 4 * MiB ? 3 : 1, NULL);
    memset(host, 0, len);
    mem_copy(host, local2, len);
    size_t bad = check(host, len, seed + 1);
    if (bad != len)
        evp_test_fail(__FILE__, __LINE__, "READ of %llu bytes at %llu wrong at byte %zu", (unsigned long long)len,
                      (unsigned long long)off, bad);
}

/* Local memory of `device` (nvlink: cudaMalloc, mnnvl: cuMem VMM of
 * evp_transport_mem_alloc, registered so that the stream's device comes
 * from it; host: malloc, not registered). */
struct local {
    unsigned char *p;
    evp_segment_t reg;
};

static struct local local_alloc(int device, size_t len)
{
    struct local l = {0};
    if (g_nvlink && g_mnnvl) { /* g_nvlink 0: a pageable buffer, for either kind */
        CHECK_RC(evp_transport_mem_alloc(g_t, device, len, (void **)&l.p), 0);
        CHECK_RC(evp_transport_register(g_t, l.p, len, &l.reg), 0);
    } else if (g_nvlink) {
        CUDA_OK(cudaSetDevice(device));
        CUDA_OK(cudaMalloc((void **)&l.p, len));
        CHECK_RC(evp_transport_register(g_t, l.p, len, &l.reg), 0);
    } else {
        l.p = malloc(len);
        CHECK(l.p);
    }
    return l;
}

static void local_free(struct local *l)
{
    if (g_nvlink && g_mnnvl) {
        CHECK_RC(evp_transport_unregister(g_t, l->reg), 0);
        CHECK_RC(evp_transport_mem_free(g_t, l->p), 0);
    } else if (g_nvlink) {
        CHECK_RC(evp_transport_unregister(g_t, l->reg), 0);
        CUDA_OK(cudaFree(l->p));
    } else {
        free(l->p);
    }
}

static void sizes_both_ways(int k, evp_segment_t seg, uint64_t seglen, int local_dev, const uint64_t *sizes,
                            size_t nsizes, uint64_t seed)
{
    uint64_t max = 0;
    for (size_t i = 0; i < nsizes; i++)
        max = sizes[i] > max ? sizes[i] : max;
    struct local a = local_alloc(local_dev, max), b = local_alloc(local_dev, max);
    unsigned char *host = malloc(max);
    CHECK(host);
    for (size_t i = 0; i < nsizes; i++) {
        uint64_t len = sizes[i];
        uint64_t room = seglen - len;
        uint64_t off = room ? (len * 7 + 13 + i * 4099) % (room + 1) : 0;
        if (room && off % 2 == 0)
            off += off < room ? 1 : -1; /* unaligned */
        fprintf(stderr, "    %llu bytes at offset %llu\n", (unsigned long long)len, (unsigned long long)off);
        roundtrip(k, seg, seglen, a.p, b.p, host, off, len, seed + 2 * i);
    }
    free(host);
    local_free(&a);
    local_free(&b);
}

/* ---- churn: submits >> events ------------------------------------------- */

/* A thread's sub-batches write the same 64 slots again and again, freed
 * while in flight, on whichever pooled stream they get: two of them may
 * write one slot at once (the same bytes, but a race ThreadSanitizer
 * rightly reports). Under TSan each is polled to COMPLETED before it is
 * freed, which orders them; elsewhere every 97th is. */
#if defined(__SANITIZE_THREAD__)
#define CHURN_POLL_EVERY 1
#else
#define CHURN_POLL_EVERY 97
#endif

struct churner {
    evp_segment_t seg;
    unsigned char *local; /* 4 KiB x 64 */
    uint64_t region;      /* where in the segment (64 x 4 KiB) */
    long cycles;
    _Atomic long *done;
    long submitted;
};

static void *churn(void *arg)
{
    struct churner *c = arg;
    for (long i = 0; i < c->cycles; i++) {
        evp_batch_t b;
        int arc;
        /* EVP_EAGAIN: every sub-batch object awaits reclaim (EVPOOL_BATCH_MAX). */
        while ((arc = evp_transport_batch_alloc(g_t, 4, &b)) == EVP_EAGAIN)
            sleep_us(200);
        CHECK_RC(arc, 0);
        uint64_t slot = (uint64_t)(i % 64) * 4096;
        evp_xfer_req_t r = {EVP_XFER_WRITE, c->local + slot, c->seg, c->region + slot, 4096};
        int rc = evp_transport_submit(g_t, b, &r, 1, NULL);
        if (rc == EVP_EAGAIN) { /* exhausted pool under `fail`: not here (wait) */
            CHECK_RC(evp_transport_batch_free(g_t, b), 0);
            continue;
        }
        CHECK_RC(rc, 0);
        c->submitted++;
        if (i % CHURN_POLL_EVERY == 0)
            CHECK_EQ(poll_done(b).status, EVP_TASK_COMPLETED);
        CHECK_RC(evp_transport_batch_free(g_t, b), 0); /* maybe in flight */
    }
    atomic_fetch_add(c->done, 1);
    return NULL;
}

static void wait_all_reclaimed(void)
{
    uint64_t t0 = now_ns();
    evp_batch_stats_t st;
    for (;;) {
        evp_transport_batch_stats(g_t, &st);
        if (st.pending == 0)
            return;
        if (now_ns() - t0 > 60ull * 1000000000u)
            evp_test_fail(__FILE__, __LINE__, "%llu sub-batch(es) not reclaimed after 60 s",
                          (unsigned long long)st.pending);
        sleep_us(1000);
    }
}

static void run_churn(struct churner *c, int n)
{
    pthread_t th[8];
    _Atomic long done = 0;
    for (int i = 0; i < n; i++) {
        c[i].done = &done;
        CHECK(pthread_create(&th[i], NULL, churn, &c[i]) == 0);
    }
    for (int i = 0; i < n; i++)
        CHECK(pthread_join(th[i], NULL) == 0);
    CHECK_EQ(atomic_load(&done), n);
    wait_all_reclaimed();
}

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? atol(v) : dflt;
}

/* Many submits to one segment: events created stay at the high-water. */
static void test_churn(evp_segment_t seg, int device)
{
    long total = env_long("EVP_TRANSPORT_SUBMITS",
                          getenv("EVP_TEST_UNDER_SANITIZER") ? 5000 : g_nvlink ? 200000 : 40000);
    enum { THREADS = 4 };
    struct churner c[THREADS];
    struct local l[THREADS];
    for (int i = 0; i < THREADS; i++) {
        l[i] = local_alloc(device, 64 * 4096);
        c[i] = (struct churner){.seg = seg, .local = l[i].p, .region = (uint64_t)i * 64 * 4096,
                                .cycles = total / THREADS};
    }
    evp_batch_stats_t b0, b1;
    evp_transport_batch_stats(g_t, &b0);
    uint64_t t0 = now_ns();
    run_churn(c, THREADS);
    double secs = (double)(now_ns() - t0) / 1e9;
    evp_transport_batch_stats(g_t, &b1);
    evp_pool_t *pool;
    CHECK_RC(evp_transport_pool(g_t, device, &pool), 0);
    evp_pool_stats_t ps;
    evp_pool_stats(pool, &ps);
    evp_config_t cfg;
    evp_pool_config(pool, &cfg);
    uint64_t submits = b1.submits - b0.submits;
    fprintf(stderr,
            "  churn: %llu submits at %d threads in %.2f s; device %d pool: events created %llu, high-water %llu, "
            "size %u, max %u, outstanding %llu; submit errors %llu\n",
            (unsigned long long)submits, THREADS, secs, device, (unsigned long long)ps.events_created,
            (unsigned long long)ps.high_water, cfg.size, cfg.max, (unsigned long long)ps.outstanding,
            (unsigned long long)(b1.submit_errors - b0.submit_errors));
    CHECK_EQ(b1.submit_errors - b0.submit_errors, 0);
    CHECK_EQ(ps.outstanding, 0);
    CHECK(ps.events_created <= cfg.max);
    uint64_t floor = ps.high_water > cfg.size ? ps.high_water : cfg.size;
    /* No event per submit: the pool's high-water. (events x 10 < submits
     * is not a check: the pool never passes max, so it follows from that
     * in a run of 10x max submits, and says nothing in a shorter one.) */
    CHECK(ps.events_created <= floor + 64);
    for (int i = 0; i < THREADS; i++)
        local_free(&l[i]);
}

/* ---- two GPUs ------------------------------------------------------------- */

/* seg_on[d]: the peer's segment imported on device d (its memory is on the
 * other GPU). A sub-batch whose stream is on GPU 0 (its first request is a
 * GPU 0 buffer) also carries a copy from a GPU 1 buffer. */
static void test_cross_stream(const evp_segment_t seg_on[2], uint64_t seglen)
{
    const uint64_t len = 8 * MiB + 3;
    struct local a = local_alloc(0, len), b = local_alloc(1, len);
    unsigned char *host = malloc(len);
    CHECK(host);
    fill(host, len, 900);
    mem_copy(a.p, host, len);
    fill(host, len, 902);
    mem_copy(b.p, host, len);
    /* seg_on[0] is GPU 1's memory; [0, len) from GPU 0, [len, 2 len) from GPU 1. */
    evp_xfer_req_t extra = {EVP_XFER_WRITE, b.p, seg_on[0], len, len};
    transfer(EVP_XFER_WRITE, a.p, seg_on[0], 0, len, 2, &extra);
    peer_check_fill_rpc(1, seglen, 0, len, 900);
    peer_check_fill_rpc(1, seglen, len, len, 902);
    free(host);
    local_free(&a);
    local_free(&b);
}

/* Threads on both devices at once: GPU 0 buffers -> GPU 1 memory and GPU 1
 * buffers -> GPU 0 memory. Every submit succeeds (no event crosses
 * devices), every task completes, each pool leased its own device's
 * submits exactly; the peer then checks the last pattern of each region. */
static void test_both_devices(const evp_segment_t seg_on[2], uint64_t seglen)
{
    long per = env_long("EVP_TRANSPORT_SUBMITS", getenv("EVP_TEST_UNDER_SANITIZER") ? 2000 : 40000) / 4;
    enum { PER_DEV = 2 };
    struct churner c[2 * PER_DEV];
    struct local l[2 * PER_DEV];
    evp_pool_t *pool[2];
    evp_pool_stats_t p0[2], p1[2];
    for (int d = 0; d < 2; d++) {
        CHECK_RC(evp_transport_pool(g_t, d, &pool[d]), 0);
        evp_pool_stats(pool[d], &p0[d]);
    }
    unsigned char *host = malloc(64 * 4096);
    CHECK(host);
    for (int i = 0; i < 2 * PER_DEV; i++) {
        int d = i / PER_DEV;
        l[i] = local_alloc(d, 64 * 4096);
        fill(host, 64 * 4096, 1000 + (uint64_t)i);
        mem_copy(l[i].p, host, 64 * 4096);
        /* Stream on d (the local buffer's device); memory on the other GPU. */
        c[i] = (struct churner){.seg = seg_on[d], .local = l[i].p, .region = (uint64_t)(i % PER_DEV) * 64 * 4096,
                                .cycles = per};
    }
    evp_batch_stats_t b0, b1;
    evp_transport_batch_stats(g_t, &b0);
    run_churn(c, 2 * PER_DEV);
    evp_transport_batch_stats(g_t, &b1);
    long want[2] = {0, 0};
    for (int i = 0; i < 2 * PER_DEV; i++)
        want[i / PER_DEV] += c[i].submitted;
    for (int d = 0; d < 2; d++) {
        evp_pool_stats(pool[d], &p1[d]);
        fprintf(stderr,
                "  device %d: %ld submits from GPU %d buffers to GPU %d memory; its pool: leases %llu, events "
                "created %llu, outstanding %llu\n",
                d, want[d], d, 1 - d, (unsigned long long)(p1[d].leases - p0[d].leases),
                (unsigned long long)p1[d].events_created, (unsigned long long)p1[d].outstanding);
        CHECK_EQ(p1[d].leases - p0[d].leases, want[d]);
        CHECK_EQ(p1[d].outstanding, 0);
        CHECK(p1[d].events_created * 10 < (uint64_t)want[d] || want[d] < 10000);
    }
    CHECK_EQ(b1.submit_errors - b0.submit_errors, 0);
    /* Each region holds its last writer's pattern (all 64 slots written). */
    for (int i = 0; i < 2 * PER_DEV; i++) {
        int d = i / PER_DEV;
        int peer_seg = 1 - d; /* seg_on[d] is the peer's segment of GPU 1 - d */
        peer_check_fill_rpc(peer_seg, seglen, (uint64_t)(i % PER_DEV) * 64 * 4096, 64 * 4096, 1000 + (uint64_t)i);
    }
    free(host);
    for (int i = 0; i < 2 * PER_DEV; i++)
        local_free(&l[i]);
}

/* ---- main ------------------------------------------------------------------ */

static evp_segment_t import_next(int device)
{
    unsigned char desc[EVP_TRANSPORT_DESC_MAX];
    size_t len = 0;
    int fd = -1;
    CHECK_RC(evp_transport_desc_recv(g_sock, desc, sizeof desc, &len, &fd), 0);
    /* mnnvl: an fd exactly where it fell back from FABRIC (one node only). */
    int fd_expected = g_mnnvl ? !(evp_transport_caps(g_t) & EVP_TRANSPORT_CAP_INTER_NODE) : !g_nvlink;
    CHECK((fd >= 0) == fd_expected);
    evp_segment_t s;
    CHECK_RC(evp_transport_import(g_t, desc, len, fd, device, &s), 0);
    if (fd >= 0)
        close(fd); /* import borrows it */
    return s;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--transport-peer") == 0)
        return peer_main(argv);
    const char *kind = argc > 1 ? argv[1] : "host";
    int two = argc > 2 && strcmp(argv[2], "--two-gpus") == 0;
    g_nvlink = strcmp(kind, "host") != 0;
    g_mnnvl = strcmp(kind, "mnnvl") == 0;
    spawn_peer(kind); /* before this process makes any CUDA call */
    int n = 0;
    if (g_nvlink && (cudaGetDeviceCount(&n) != cudaSuccess || n < (two ? 2 : 1))) {
        fprintf(stderr, "skipped: %d usable GPU(s), %d needed\n", n, two ? 2 : 1);
        finish_peer();
        return EVP_TEST_SKIP;
    }
    CHECK_RC(evp_transport_open(kind_of(kind), NULL, &g_t), 0);
    fprintf(stderr, "transport %s, %d device(s)%s\n", evp_transport_name(g_t), evp_transport_device_count(g_t),
            two ? ", two-GPU cases" : "");
    uint64_t seglen = (two || g_mnnvl ? 256 : 64) * (uint64_t)MiB + 4096;
    struct msg m = {.op = MSG_START, .nseg = two ? 2 : 1, .dev = {0, 1}, .seglen = seglen};
    xsend(g_sock, &m, sizeof m);
    if (!two) {
        evp_segment_t seg = import_next(-1);
        static const uint64_t sizes[] = {1,       2,           3,           4095,    4097,
                                         65537,   MiB + 17,    4 * MiB - 1, 16 * MiB + 5, 64 * MiB, 256 * MiB};
        size_t ns = sizeof sizes / sizeof sizes[0] - (g_mnnvl ? 0 : 1); /* 256 MiB: mnnvl */
        fprintf(stderr, "[ RUN  ] sizes, exporter and importer on device 0\n");
        sizes_both_ways(0, seg, seglen, 0, sizes, ns, 10);
        fprintf(stderr, "[  OK  ] sizes\n");
        if (g_nvlink) { /* a pageable host buffer as the local side (host <-> GPU) */
            fprintf(stderr, "[ RUN  ] pageable host buffer <-> peer GPU memory\n");
            g_nvlink = 0; /* local_alloc: malloc */
            struct local a = local_alloc(0, MiB + 1), b = local_alloc(0, MiB + 1);
            g_nvlink = 1;
            unsigned char *host = malloc(MiB + 1);
            CHECK(host);
            roundtrip(0, seg, seglen, a.p, b.p, host, 333, MiB + 1, 70);
            free(host);
            free(a.p);
            free(b.p);
            fprintf(stderr, "[  OK  ] pageable\n");
        }
        fprintf(stderr, "[ RUN  ] churn\n");
        test_churn(seg, 0);
        fprintf(stderr, "[  OK  ] churn\n");
        CHECK_RC(evp_transport_unimport(g_t, seg), 0);
    } else {
        /* The peer's segment k lives on GPU k; import it on the other GPU. */
        evp_segment_t seg_on[2];
        seg_on[1] = import_next(1); /* GPU 0's memory, opened on GPU 1 */
        seg_on[0] = import_next(0); /* GPU 1's memory, opened on GPU 0 */
        static const uint64_t sizes[] = {4096, 4096 * 3 + 1, 65536, MiB + 3, 16 * MiB, 64 * MiB + 1, 256 * MiB};
        size_t ns = sizeof sizes / sizeof sizes[0];
        fprintf(stderr, "[ RUN  ] exporter on GPU 0, importer on GPU 1\n");
        sizes_both_ways(0, seg_on[1], seglen, 1, sizes, ns, 100);
        fprintf(stderr, "[  OK  ]\n[ RUN  ] exporter on GPU 1, importer on GPU 0\n");
        sizes_both_ways(1, seg_on[0], seglen, 0, sizes, ns, 200);
        fprintf(stderr, "[  OK  ]\n[ RUN  ] a GPU 1 buffer on a GPU 0 stream\n");
        test_cross_stream(seg_on, seglen);
        fprintf(stderr, "[  OK  ]\n[ RUN  ] threads on both devices at once\n");
        test_both_devices(seg_on, seglen);
        fprintf(stderr, "[  OK  ]\n");
        CHECK_RC(evp_transport_unimport(g_t, seg_on[0]), 0);
        CHECK_RC(evp_transport_unimport(g_t, seg_on[1]), 0);
    }
    evp_batch_stats_t st;
    evp_transport_batch_stats(g_t, &st);
    fprintf(stderr, "sub-batches: %llu allocated, %llu submits, %llu errors, %llu leases, %llu returned\n",
            (unsigned long long)st.allocs, (unsigned long long)st.submits, (unsigned long long)st.submit_errors,
            (unsigned long long)st.leases, (unsigned long long)st.lease_returns);
    CHECK_EQ(st.leases, st.lease_returns);
    CHECK_RC(evp_transport_close(g_t), 0);
    finish_peer();
    return 0;
}
