/* SPDX-License-Identifier: Apache-2.0 */
/* The mnnvl transport.
 *
 *   test_mnnvl        (unit, CI) the FABRIC / POSIX-fd choice for every probe
 *       outcome and EVPOOL_MNNVL_FABRIC value, its fallback warning exactly
 *       once per process (stderr captured); open without a GPU fails with
 *       the reason; 10,000 register/export/import/close cycles of the
 *       segment path mnnvl shares (host kind: memfd fds by SCM_RIGHTS)
 *       leave no fd and no mapping behind.
 *   test_mnnvl --gpu  (gpu) two opens per process warn once (0 times where
 *       fabric works), in this process and in a peer; a FABRIC descriptor
 *       where fabric is refused is EVP_EPERM with the reason; a descriptor
 *       without its fd, or with a foreign fd, is an error; pidfd_getfd of the
 *       peer's fd (0 or EVP_EPERM) and of a closed fd (EVP_EINVAL or
 *       EVP_EPERM); EVP_MNNVL_CYCLES (10,000; 200 under compute-sanitizer)
 *       cycles: the peer allocates, registers and exports a segment, this
 *       process imports it (every 1000th: WRITE and READ back 4 KiB),
 *       unimports, the peer unregisters and frees; fds, /proc/self/maps
 *       lines and free device memory are counted before and after, on both
 *       sides. Bounded to 150 s: it stops early and says so, with the
 *       per-cycle cost. */
#include <cuda_runtime_api.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/fdpass.h"
#include "base/log.h"
#include "batch_host.h"
#include "cuda_ok.h"
#include "harness.h"
#include "transport/desc.h"
#include "transport/mnnvl.h"

#define FALLBACK_MARK "falling back to POSIX file-descriptor handles"

static int count_in(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Open descriptors (those below 4096: every test fd is). */
static int count_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        n += fcntl(fd, F_GETFD) != -1;
    return n;
}

static int count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f);
    int n = 0;
    for (int c; (c = fgetc(f)) != EOF;)
        n += c == '\n';
    fclose(f);
    return n;
}

/* stderr into a temporary file between capture_begin and capture_end. */
static FILE *g_cap;
static int g_saved = -1;

static void capture_begin(void)
{
    g_cap = tmpfile();
    CHECK(g_cap);
    fflush(stderr);
    g_saved = dup(STDERR_FILENO);
    CHECK(dup2(fileno(g_cap), STDERR_FILENO) >= 0);
}

static void capture_end(char *buf, size_t len)
{
    fflush(stderr);
    dup2(g_saved, STDERR_FILENO);
    close(g_saved);
    rewind(g_cap);
    size_t n = fread(buf, 1, len - 1, g_cap);
    buf[n] = '\0';
    fclose(g_cap);
}

/* ---- unit: the choice ----------------------------------------------------- */

static struct evp_mnnvl_probe probe(int fabric, int fd)
{
    struct evp_mnnvl_probe p = {.fabric = fabric, .fd = fd, .access = 3};
    snprintf(p.fabric_why, sizeof p.fabric_why, "no IMEX channel (test)");
    snprintf(p.fd_why, sizeof p.fd_why, "fd export failed (test)");
    return p;
}

static void test_decide(void)
{
    static char out[8192];
    struct evp_tkind_sel sel;
    struct evp_mnnvl_probe ok = probe(0, 0), nofab = probe(EVP_EPERM, 0), none = probe(EVP_EPERM, EVP_EBACKEND);
    evp_log_set_level(EVP_LOG_WARN);
    capture_begin();
    CHECK_RC(evp_mnnvl_decide(&ok, EVP_MNNVL_FABRIC_AUTO, &sel), 0);
    CHECK_EQ(sel.handle, EVP_MEM_FABRIC);
    CHECK_EQ(sel.imports, EVP_MEM_FABRIC | EVP_MEM_FD);
    CHECK(sel.caps & EVP_TRANSPORT_CAP_INTER_NODE);
    CHECK(sel.no_import == NULL);
    CHECK_EQ(sel.access, 3);
    CHECK_RC(evp_mnnvl_decide(&ok, EVP_MNNVL_FABRIC_REQUIRE, &sel), 0);
    CHECK_EQ(sel.handle, EVP_MEM_FABRIC);
    for (int i = 0; i < 3; i++) {
        CHECK_RC(evp_mnnvl_decide(&nofab, EVP_MNNVL_FABRIC_AUTO, &sel), 0);
        CHECK_EQ(sel.handle, EVP_MEM_FD);
        CHECK_EQ(sel.imports, EVP_MEM_FD);
        CHECK(!(sel.caps & EVP_TRANSPORT_CAP_INTER_NODE));
        CHECK(sel.caps & EVP_TRANSPORT_CAP_INTER_PROC);
        CHECK(sel.no_import && strstr(sel.no_import, "no IMEX channel (test)"));
    }
    CHECK_RC(evp_mnnvl_decide(&nofab, EVP_MNNVL_FABRIC_REQUIRE, &sel), EVP_EPERM);
    CHECK_RC(evp_mnnvl_decide(&none, EVP_MNNVL_FABRIC_AUTO, &sel), EVP_EBACKEND);
    struct evp_mnnvl_probe nodev = probe(EVP_EPERM, EVP_ENODEV);
    CHECK_RC(evp_mnnvl_decide(&nodev, EVP_MNNVL_FABRIC_AUTO, &sel), EVP_ENODEV);
    capture_end(out, sizeof out);
    fputs(out, stderr);
    CHECK_EQ(count_in(out, FALLBACK_MARK), 1); /* three fallbacks, one warning */
    CHECK_EQ(count_in(out, "no IMEX channel (test)"), 4);
    CHECK_EQ(count_in(out, "EVPOOL_MNNVL_FABRIC=require, and this node refuses FABRIC handles"), 1);
    CHECK_EQ(count_in(out, "the POSIX-fd fallback failed too (fd export failed (test))"), 2);
}

/* Without a GPU (CI) open fails, naming why; with one, --gpu covers it. */
static void test_open_without_gpu(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) == cudaSuccess && n > 0) {
        fprintf(stderr, "  a GPU is usable here: skipped (test_mnnvl --gpu covers open)\n");
        return;
    }
    cudaGetLastError();
    static char out[4096];
    evp_transport_t *t = NULL;
    capture_begin();
    int rc = evp_transport_open(EVP_TRANSPORT_MNNVL, NULL, &t);
    capture_end(out, sizeof out);
    fputs(out, stderr);
    CHECK_RC(rc, EVP_ENODEV);
    CHECK(t == NULL);
    CHECK(strstr(out, "cudaGetDeviceCount") || strstr(out, "driver"));
}

/* The segment path mnnvl's fallback shares (fd export, SCM_RIGHTS, import,
 * release), 10,000 times, on the host kind. */
static void test_host_cycles(void)
{
    evp_transport_t *t;
    evp_config_t cfg = evp_test_config(NULL);
    CHECK_RC(evp_transport_open(EVP_TRANSPORT_HOST, &cfg, &t), 0);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    int fds0 = 0, maps0 = 0;
    const int cycles = getenv("EVP_TEST_UNDER_SANITIZER") ? 1000 : 10000;
    uint64_t t0 = now_ns();
    for (int i = 0; i <= cycles; i++) {
        if (i == 1) { /* after a warm-up cycle */
            fds0 = count_fds();
            maps0 = count_maps();
        }
        char *mem;
        evp_segment_t seg, imp;
        CHECK_RC(evp_transport_mem_alloc(t, 0, 8192, (void **)&mem), 0);
        CHECK_RC(evp_transport_register(t, mem + 3, 4096, &seg), 0);
        mem[3] = (char)i;
        unsigned char desc[EVP_TRANSPORT_DESC_MAX];
        size_t len;
        int fd, rfd;
        CHECK_RC(evp_transport_export(t, seg, desc, sizeof desc, &len, &fd), 0);
        CHECK_RC(evp_transport_desc_send(sv[0], desc, len, fd), 0);
        CHECK_RC(evp_transport_desc_recv(sv[1], desc, sizeof desc, &len, &rfd), 0);
        CHECK_RC(evp_transport_import(t, desc, len, rfd, 0, &imp), 0);
        close(rfd);
        void *addr;
        CHECK_RC(evp_transport_segment(t, imp, &addr, NULL, NULL), 0);
        CHECK(addr != mem + 3 && *(char *)addr == (char)i); /* its own mapping of the same memory */
        CHECK_RC(evp_transport_unimport(t, imp), 0);
        CHECK_RC(evp_transport_unregister(t, seg), 0);
        CHECK_RC(evp_transport_mem_free(t, mem), 0);
    }
    int fds1 = count_fds(), maps1 = count_maps();
    fprintf(stderr, "  %d cycles in %.2f s: fds %d -> %d, /proc/self/maps lines %d -> %d\n", cycles,
            (double)(now_ns() - t0) / 1e9, fds0, fds1, maps0, maps1);
    CHECK_EQ(fds1, fds0);
    CHECK_EQ(maps1, maps0);
    close(sv[0]);
    close(sv[1]);
    CHECK_RC(evp_transport_close(t), 0);
}

/* ---- gpu ------------------------------------------------------------------ */

enum { OP_WARN = 1, OP_CYCLE, OP_QUIT };

struct msg {
    int32_t op;
    int32_t rc;    /* replies */
    int32_t count; /* OP_WARN reply: fallback warnings seen */
    int32_t fd;    /* OP_CYCLE reply: the exported fd's number in the peer */
    int32_t pid;
};

static void xsend(int sock, const struct msg *m)
{
    CHECK(send(sock, m, sizeof *m, MSG_NOSIGNAL) == (ssize_t)sizeof *m);
}

static void xrecv(int sock, struct msg *m)
{
    CHECK(recv(sock, m, sizeof *m, 0) == (ssize_t)sizeof *m);
}

/* Opens two mnnvl transports with stderr captured; returns the fallback
 * warnings seen, and in *fallback whether the transports fell back. The
 * second stays open in *keep (NULL: closed). */
static int open_twice(evp_transport_t **keep, int *fallback)
{
    static char out[8192];
    evp_transport_t *a = NULL, *b = NULL;
    capture_begin();
    int ra = evp_transport_open(EVP_TRANSPORT_MNNVL, NULL, &a);
    int rb = evp_transport_open(EVP_TRANSPORT_MNNVL, NULL, &b);
    capture_end(out, sizeof out);
    fputs(out, stderr);
    CHECK_RC(ra, 0);
    CHECK_RC(rb, 0);
    *fallback = !(evp_transport_caps(a) & EVP_TRANSPORT_CAP_INTER_NODE);
    CHECK_EQ(*fallback, !(evp_transport_caps(b) & EVP_TRANSPORT_CAP_INTER_NODE));
    CHECK_RC(evp_transport_close(a), 0);
    if (keep)
        *keep = b;
    else
        CHECK_RC(evp_transport_close(b), 0);
    return count_in(out, FALLBACK_MARK);
}

static int peer_main(int sock)
{
    int fallback = 0;
    evp_transport_t *t = NULL;
    struct msg m, r;
    xrecv(sock, &m);
    if (m.op != OP_WARN)
        return 0;
    r = (struct msg){.op = OP_WARN, .count = open_twice(&t, &fallback), .pid = (int32_t)getpid()};
    xsend(sock, &r);
    int fds0 = -1, curfd = -1;
    char *mem = NULL;
    evp_segment_t seg = 0;
    for (;;) {
        xrecv(sock, &m);
        if (fds0 < 0 && mem) /* after a warm-up cycle */
            fds0 = count_fds() - (curfd >= 0); /* less the warm-up segment's exported fd, closed below */
        if (mem) { /* the importer is done with the previous one */
            CHECK_RC(evp_transport_unregister(t, seg), 0);
            CHECK_RC(evp_transport_mem_free(t, mem), 0);
            mem = NULL;
        }
        if (m.op != OP_CYCLE)
            break;
        CHECK_RC(evp_transport_mem_alloc(t, 0, 8192, (void **)&mem), 0);
        CHECK_RC(evp_transport_register(t, mem + 4096 + 5, 4096 - 5, &seg), 0);
        unsigned char desc[EVP_TRANSPORT_DESC_MAX];
        size_t len;
        int fd;
        CHECK_RC(evp_transport_export(t, seg, desc, sizeof desc, &len, &fd), 0);
        curfd = fd;
        r = (struct msg){.op = OP_CYCLE, .fd = fd, .pid = (int32_t)getpid()};
        xsend(sock, &r);
        CHECK_RC(evp_transport_desc_send(sock, desc, len, fd), 0);
    }
    int fds1 = count_fds();
    CHECK_RC(evp_transport_close(t), 0);
    fprintf(stderr, "  peer: fds %d -> %d over the cycles\n", fds0, fds1);
    CHECK_EQ(fds1, fds0);
    return 0;
}

static void test_bad_descriptors(evp_transport_t *t, int fallback)
{
    const int under = getenv("EVP_TEST_UNDER_SANITIZER") != NULL;
    int fds0 = count_fds();
    char *mem;
    evp_segment_t seg, imp;
    CHECK_RC(evp_transport_mem_alloc(t, 0, 4096, (void **)&mem), 0);
    CHECK_RC(evp_transport_register(t, mem, 4096, &seg), 0);
    unsigned char desc[EVP_TRANSPORT_DESC_MAX];
    size_t len;
    int fd;
    CHECK_RC(evp_transport_export(t, seg, desc, sizeof desc, &len, &fd), 0);
    struct evp_tdesc d;
    char err[256];
    CHECK_RC(evp_tdesc_decode(desc, len, &d, err, sizeof err), 0);
    /* cudaMalloc memory cannot be exported: refused at register. */
    void *plain = NULL;
    CUDA_OK(cudaMalloc(&plain, 4096));
    CHECK_RC(evp_transport_register(t, plain, 4096, &imp), EVP_EINVAL);
    CUDA_OK(cudaFree(plain));
    /* A FABRIC descriptor (forged from ours: fresh bytes). */
    struct evp_tdesc f = d;
    f.mem.handle = EVP_MEM_FABRIC;
    for (int i = 0; i < EVP_MEM_HANDLE_BYTES; i++)
        f.mem.bytes[i] = (uint8_t)(0xa5 ^ i);
    f.base_id += 1000000; /* not the import of ours */
    unsigned char fab[EVP_TRANSPORT_DESC_MAX];
    size_t flen = evp_tdesc_encode(&f, fab, sizeof fab);
    if (fallback) {
        int rc = evp_transport_import(t, fab, flen, -1, 0, &imp);
        fprintf(stderr, "  FABRIC descriptor on a node without fabric: %s\n", evp_strerror(rc));
        CHECK_RC(rc, EVP_EPERM);
    } else if (!under) {
        int rc = evp_transport_import(t, fab, flen, -1, 0, &imp);
        fprintf(stderr, "  forged FABRIC handle on a fabric node: %s\n", evp_strerror(rc));
        CHECK(rc == EVP_EBACKEND || rc == EVP_EPERM || rc == EVP_EINVAL);
    }
    if (fallback) /* the fd never came */
        CHECK_RC(evp_transport_import(t, desc, len, -1, 0, &imp), EVP_EINVAL);
    CHECK_RC(evp_transport_unregister(t, seg), 0);
    CHECK_RC(evp_transport_mem_free(t, mem), 0);
    CHECK_EQ(count_fds(), fds0);
    /* An fd that is not a cuMem export: the driver refuses it (last: what
     * the driver may open for itself there is not ours to count). */
    if (fallback && !under) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        CHECK(null >= 0);
        int rc = evp_transport_import(t, desc, len, null, 0, &imp);
        fprintf(stderr, "  descriptor with /dev/null as its fd: %s\n", evp_strerror(rc));
        CHECK(rc != 0);
        close(null);
    }
}

/* WRITE 4 KiB - 5 into the peer's segment and READ it back. */
static void touch(evp_transport_t *t, evp_segment_t imp, unsigned char *a, unsigned char *b, int i)
{
    unsigned char host[4091];
    for (size_t k = 0; k < sizeof host; k++)
        host[k] = (unsigned char)(k * 31 + (size_t)i);
    CUDA_OK(cudaMemcpy(a, host, sizeof host, cudaMemcpyDefault));
    /* A pageable H2D cudaMemcpy may return before its DMA lands; the
     * transport's streams are non-blocking. */
    CUDA_OK(cudaDeviceSynchronize());
    evp_xfer_req_t r[2] = {{EVP_XFER_WRITE, a, imp, 0, sizeof host}, {EVP_XFER_READ, b, imp, 0, sizeof host}};
    for (int k = 0; k < 2; k++) {
        evp_batch_t bt;
        CHECK_RC(evp_transport_batch_alloc(t, 1, &bt), 0);
        CHECK_RC(evp_transport_submit(t, bt, &r[k], 1, NULL), 0);
        evp_batch_status_t st;
        uint64_t t0 = now_ns();
        do {
            CHECK_RC(evp_transport_status(t, bt, &st), 0);
            CHECK(now_ns() - t0 < 60ull * 1000000000u);
        } while (st.status == EVP_TASK_PENDING);
        CHECK_EQ(st.status, EVP_TASK_COMPLETED);
        CHECK_RC(evp_transport_batch_free(t, bt), 0);
    }
    unsigned char back[4091];
    CUDA_OK(cudaMemcpy(back, b, sizeof back, cudaMemcpyDefault));
    CHECK(memcmp(back, host, sizeof host) == 0);
}

static void test_cycles(evp_transport_t *t, int sock, pid_t peer)
{
    const char *env = getenv("EVP_MNNVL_CYCLES");
    long cycles = env && *env ? atol(env) : getenv("EVP_TEST_UNDER_SANITIZER") ? 200 : 10000;
    const uint64_t budget = 150ull * 1000000000u;
    unsigned char *a, *b;
    evp_segment_t ra, rb;
    CHECK_RC(evp_transport_mem_alloc(t, 0, 4096, (void **)&a), 0);
    CHECK_RC(evp_transport_mem_alloc(t, 0, 4096, (void **)&b), 0);
    CHECK_RC(evp_transport_register(t, a, 4096, &ra), 0);
    CHECK_RC(evp_transport_register(t, b, 4096, &rb), 0);
    int fds0 = 0, maps0 = 0;
    size_t free0 = 0, free1 = 0, total = 0;
    uint64_t t0 = 0;
    long done = 0;
    for (long i = 0; i <= cycles; i++) {
        if (i == 1) { /* after a warm-up cycle */
            fds0 = count_fds();
            maps0 = count_maps();
            CUDA_OK(cudaMemGetInfo(&free0, &total));
            t0 = now_ns();
        }
        if (i >= 1 && now_ns() - t0 > budget)
            break;
        struct msg m = {.op = OP_CYCLE}, r;
        xsend(sock, &m);
        xrecv(sock, &r);
        unsigned char desc[EVP_TRANSPORT_DESC_MAX];
        size_t len;
        int fd;
        CHECK_RC(evp_transport_desc_recv(sock, desc, sizeof desc, &len, &fd), 0);
        int fallback = fd >= 0;
        if (i == 0 && fallback) { /* pidfd_getfd: the other way to the fd */
            int pfd = -1, rc = evp_fd_from_pid(peer, r.fd, &pfd);
            fprintf(stderr, "  pidfd_getfd of the peer's fd %d: %s\n", r.fd, rc == 0 ? "permitted" : evp_strerror(rc));
            CHECK(rc == 0 || rc == EVP_EPERM);
            if (rc == 0) {
                evp_segment_t s2;
                CHECK_RC(evp_transport_import(t, desc, len, pfd, 0, &s2), 0);
                close(pfd);
                touch(t, s2, a, b, -1);
                CHECK_RC(evp_transport_unimport(t, s2), 0);
            }
            rc = evp_fd_from_pid(peer, 4000, &pfd); /* no such fd there */
            fprintf(stderr, "  pidfd_getfd of a closed fd: %s\n", evp_strerror(rc));
            CHECK(rc == EVP_EINVAL || rc == EVP_EPERM);
        }
        evp_segment_t imp;
        CHECK_RC(evp_transport_import(t, desc, len, fd, 0, &imp), 0);
        if (fd >= 0)
            close(fd);
        if (i % 1000 == 0)
            touch(t, imp, a, b, (int)i);
        CHECK_RC(evp_transport_unimport(t, imp), 0);
        done = i;
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    int fds1 = count_fds(), maps1 = count_maps();
    fprintf(stderr,
            "  %ld of %ld cycles in %.2f s (%.1f us per cycle: peer cuMemCreate+map+export, import+map+unmap here, "
            "unmap+release there)%s\n",
            done, cycles, secs, done ? secs * 1e6 / (double)done : 0.0,
            done < cycles ? "; stopped at the 150 s bound" : "");
    fprintf(stderr, "  fds %d -> %d, /proc/self/maps lines %d -> %d\n", fds0, fds1, maps0, maps1);
    CHECK_EQ(fds1, fds0);
    CHECK(maps1 <= maps0 + 16); /* a leak per cycle would show thousands */
    /* As at free0: the peer holds one segment. A handle kept on either side
     * would keep its granule: 10,000 of them would be ~20 GiB. */
    CUDA_OK(cudaMemGetInfo(&free1, &total));
    fprintf(stderr, "  device 0 free memory: %zu MiB -> %zu MiB\n", free0 >> 20, free1 >> 20);
    CHECK(free1 + (64u << 20) >= free0);
    CHECK_RC(evp_transport_unregister(t, ra), 0);
    CHECK_RC(evp_transport_unregister(t, rb), 0);
    CHECK_RC(evp_transport_mem_free(t, a), 0);
    CHECK_RC(evp_transport_mem_free(t, b), 0);
    struct msg m = {.op = OP_QUIT};
    xsend(sock, &m); /* the peer frees its last segment and exits */
    int status = 0;
    CHECK(waitpid(peer, &status, 0) == peer);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int gpu_main(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    fflush(NULL);
    pid_t pid = fork(); /* before this process touches CUDA */
    CHECK(pid >= 0);
    if (pid == 0) {
        char arg[16];
        snprintf(arg, sizeof arg, "%d", dup(sv[1]));
        execl("/proc/self/exe", "peer", "--mnnvl-peer", arg, (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    int sock = sv[0], n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) {
        fprintf(stderr, "skipped: no usable GPU\n");
        struct msg q = {.op = OP_QUIT};
        xsend(sock, &q);
        waitpid(pid, NULL, 0);
        return EVP_TEST_SKIP;
    }
    fprintf(stderr, "[ RUN  ] warning once per process\n");
    int fallback = 0;
    evp_transport_t *t = NULL;
    int mine = open_twice(&t, &fallback);
    struct msg m = {.op = OP_WARN}, r;
    xsend(sock, &m);
    xrecv(sock, &r);
    fprintf(stderr, "  %s; fallback warnings: %d here, %d in the peer\n",
            fallback ? "FABRIC refused: POSIX-fd fallback" : "FABRIC handles", mine, r.count);
    CHECK_EQ(mine, fallback ? 1 : 0);
    CHECK_EQ(r.count, fallback ? 1 : 0);
    fprintf(stderr, "[  OK  ]\n[ RUN  ] bad descriptors\n");
    test_bad_descriptors(t, fallback);
    fprintf(stderr, "[  OK  ]\n[ RUN  ] register/import/close cycles\n");
    test_cycles(t, sock, pid);
    fprintf(stderr, "[  OK  ]\n");
    CHECK_RC(evp_transport_close(t), 0);
    close(sock);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--mnnvl-peer") == 0)
        return peer_main(atoi(argv[2]));
    if (argc > 1 && strcmp(argv[1], "--gpu") == 0)
        return gpu_main();
    TEST(test_decide);
    TEST(test_open_without_gpu);
    TEST(test_host_cycles);
    return 0;
}
