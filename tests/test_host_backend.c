/* SPDX-License-Identifier: Apache-2.0 */
/* Host backend ops beyond events: copies and callbacks in stream order,
 * fd passing, and memory export/import between two processes (the test
 * binary re-run as its peer, tests/peer.h) with the fd moved by SCM_RIGHTS
 * and by pidfd_getfd (skipped where not permitted), patterns checked byte
 * for byte both ways, and every fd counted in and out. */
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/fdpass.h"
#include "harness.h"
#include "peer.h"

static const struct evp_backend *be = &evp_backend_host;

/* Callbacks note their id and whether the copies before them had landed. */
static int g_order[8];
static _Atomic int g_n;
static unsigned char g_a[4096], g_b[4096], g_c[4096];

static void note_b_landed(void *arg)
{
    CHECK(check_pattern(g_b, sizeof g_b, 1) == sizeof g_b);
    g_order[atomic_fetch_add(&g_n, 1)] = (int)(intptr_t)arg;
}

static void note_c_landed(void *arg)
{
    CHECK(check_pattern(g_c, sizeof g_c, 1) == sizeof g_c);
    g_order[atomic_fetch_add(&g_n, 1)] = (int)(intptr_t)arg;
}

static void test_copies_in_order(void)
{
    void *s;
    CHECK_RC(be->stream_create(0, &s), 0);
    fill_pattern(g_a, sizeof g_a, 1);
    memset(g_b, 0, sizeof g_b);
    memset(g_c, 0, sizeof g_c);
    CHECK_RC(be->copy(g_b, g_a, sizeof g_a, s), 0);
    CHECK_RC(be->host_fn(s, note_b_landed, (void *)1), 0);
    /* A batch in four pieces, b -> c, then a callback behind it. */
    void *dst[4];
    const void *src[4];
    size_t len[4];
    for (int i = 0; i < 4; i++) {
        dst[i] = g_c + i * 1024;
        src[i] = g_b + i * 1024;
        len[i] = 1024;
    }
    CHECK_RC(be->copy_batch(dst, src, len, 4, s), 0);
    CHECK_RC(be->host_fn(s, note_c_landed, (void *)2), 0);
    CHECK_RC(be->copy(g_b, NULL, 0, s), 0); /* zero bytes: nothing */
    CHECK_RC(be->stream_sync(s), 0);
    CHECK_EQ(atomic_load(&g_n), 2);
    CHECK_EQ(g_order[0], 1);
    CHECK_EQ(g_order[1], 2);
    CHECK_RC(be->stream_destroy(0, s), 0);
}

static void nop(void *arg)
{
}

static void test_copy_bad_args(void)
{
    void *s;
    CHECK_RC(be->stream_create(0, &s), 0);
    CHECK_RC(be->copy(g_b, g_a, 16, NULL), EVP_EINVAL); /* the host backend has no default stream */
    CHECK_RC(be->copy(NULL, g_a, 16, s), EVP_EINVAL);
    CHECK_RC(be->copy(g_b, NULL, 16, s), EVP_EINVAL);
    CHECK_RC(be->copy(g_a + 8, g_a, 16, s), EVP_EINVAL); /* overlap */
    CHECK_RC(be->copy(g_a, g_a + 8, 16, s), EVP_EINVAL);
    CHECK_RC(be->copy((void *)(UINTPTR_MAX - 4), g_a, 16, s), EVP_EINVAL); /* wraps */
    void *dst[2] = {g_b, NULL};
    const void *src[2] = {g_a, g_a};
    size_t len[2] = {16, 16};
    CHECK_RC(be->copy_batch(dst, src, len, 2, s), EVP_EINVAL); /* none enqueued */
    CHECK_RC(be->copy_batch(NULL, NULL, NULL, 0, s), 0);
    CHECK_RC(be->copy_batch(NULL, src, len, 1, s), EVP_EINVAL);
    CHECK_RC(be->host_fn(s, NULL, NULL), EVP_EINVAL);
    CHECK_RC(be->host_fn(NULL, nop, NULL), EVP_EINVAL);
    CHECK_RC(be->stream_sync(s), 0);
    CHECK_RC(be->stream_destroy(0, s), 0);
}

static void test_fdpass_in_process(void)
{
    int before = count_fds();
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    int pipefd[2];
    CHECK(pipe(pipefd) == 0);
    char msg[300], got[300];
    fill_pattern(msg, sizeof msg, 7);
    CHECK_RC(evp_fd_send(sv[0], msg, sizeof msg, pipefd[1]), 0);
    int fd = -2;
    CHECK_RC(evp_fd_recv(sv[1], got, sizeof got, &fd), 0);
    CHECK(memcmp(msg, got, sizeof msg) == 0);
    CHECK(fd >= 0 && fd != pipefd[1]);
    CHECK(write(fd, "x", 1) == 1); /* the same pipe */
    char c = 0;
    CHECK(read(pipefd[0], &c, 1) == 1 && c == 'x');
    close(fd);
    CHECK_RC(evp_fd_send(sv[0], msg, 8, -1), 0); /* data only */
    CHECK_RC(evp_fd_recv(sv[1], got, 8, &fd), 0);
    CHECK_EQ(fd, -1);
    CHECK_RC(evp_fd_send(-1, msg, 8, -1), EVP_EINVAL);
    CHECK_RC(evp_fd_send(sv[0], msg, 0, -1), EVP_EINVAL);
    CHECK_RC(evp_fd_recv(sv[1], got, 8, NULL), EVP_EINVAL);
    CHECK_RC(evp_fd_send(sv[0], msg, 4, pipefd[0]), 0); /* short: the peer closes after 4 of 8 */
    close(sv[0]);
    CHECK_RC(evp_fd_recv(sv[1], got, 8, &fd), EVP_EINVAL);
    CHECK_EQ(fd, -1); /* the fd that came with the short message was closed */
    CHECK_RC(evp_fd_recv(sv[1], got, 8, &fd), EVP_ENODATA);
    /* pidfd_getfd on ourselves: permitted or EVP_EPERM, never anything else. */
    int rc = evp_fd_from_pid(getpid(), pipefd[0], &fd);
    CHECK(rc == 0 || rc == EVP_EPERM);
    if (rc == 0)
        close(fd);
    fprintf(stderr, "  pidfd_getfd on self: %s\n", rc == 0 ? "permitted" : "EVP_EPERM");
    CHECK_RC(evp_fd_from_pid(getpid(), 100000, &fd), rc == 0 ? EVP_EINVAL : EVP_EPERM);
    CHECK_RC(evp_fd_from_pid(0, 0, &fd), EVP_EINVAL);
    close(sv[1]);
    close(pipefd[0]);
    close(pipefd[1]);
    CHECK_EQ(count_fds(), before);
}

static void test_mem_bad_args(void)
{
    const struct evp_backend_mem *mem = be->mem;
    evp_mem_t *m = NULL, *imp = NULL;
    CHECK_RC(mem->alloc(0, 0, EVP_MEM_FD, 0, &m), EVP_EINVAL);
    CHECK_RC(mem->alloc(-1, 64, EVP_MEM_FD, 0, &m), EVP_EINVAL);
    CHECK_RC(mem->alloc(EVP_HOST_DEVICES, 64, EVP_MEM_FD, 0, &m), EVP_EINVAL);
    CHECK_RC(mem->alloc(0, 64, EVP_MEM_FABRIC, 0, &m), EVP_EINVAL);
    CHECK_RC(mem->alloc(0, 64, EVP_MEM_CUDA_IPC, 0, &m), EVP_EINVAL);
    CHECK_RC(mem->attach(0, g_a, sizeof g_a, &m), EVP_EINVAL);
    CHECK_RC(mem->alloc(0, 5000, EVP_MEM_FD, 0, &m), 0);
    CHECK(m->ptr != NULL && m->len == 5000);
    struct evp_mem_desc d;
    int fd = -1;
    CHECK_RC(mem->export_(m, EVP_MEM_FABRIC, &d, &fd), EVP_EINVAL);
    CHECK_RC(mem->export_(m, EVP_MEM_FD, &d, NULL), EVP_EINVAL);
    CHECK_RC(mem->export_(m, EVP_MEM_FD, &d, &fd), 0);
    CHECK(fd >= 0);
    CHECK_EQ(d.size, 5000);
    CHECK_EQ(d.len, 5000);
    /* An import in-process works too (a second mapping of the same pages). */
    CHECK_RC(mem->import(0, &d, fd, 0, &imp), 0);
    memset(m->ptr, 0xa5, 5000);
    CHECK(((unsigned char *)imp->ptr)[4999] == 0xa5);
    int fd2 = -1;
    CHECK_RC(mem->export_(imp, EVP_MEM_FD, &d, &fd2), EVP_EINVAL); /* an import does not re-export */
    CHECK_RC(mem->release(imp), 0);
    struct evp_mem_desc bad = d;
    bad.magic ^= 1;
    CHECK_RC(mem->import(0, &bad, fd, 0, &imp), EVP_EINVAL);
    bad = d;
    bad.version++;
    CHECK_RC(mem->import(0, &bad, fd, 0, &imp), EVP_EINVAL);
    bad = d;
    bad.handle = EVP_MEM_FABRIC;
    CHECK_RC(mem->import(0, &bad, fd, 0, &imp), EVP_EINVAL);
    bad = d;
    bad.offset = 4000;
    bad.len = 1001; /* past size */
    CHECK_RC(mem->import(0, &bad, fd, 0, &imp), EVP_EINVAL);
    bad = d;
    bad.size = bad.len = 1 << 20; /* more than the file holds: would be SIGBUS */
    CHECK_RC(mem->import(0, &bad, fd, 0, &imp), EVP_EINVAL);
    CHECK_RC(mem->import(0, &d, -1, 0, &imp), EVP_EINVAL);
    CHECK_RC(mem->import(0, NULL, fd, 0, &imp), EVP_EINVAL);
    /* The memfd is sealed: nobody holding the fd can shrink it under us. */
    CHECK(ftruncate(fd, 100) != 0);
    CHECK_RC(mem->release(m), 0);
    CHECK_RC(mem->release(NULL), 0);
}

static struct peer g_peer;

static void test_mem_two_processes(void)
{
    const struct evp_backend_mem *mem = be->mem;
    /* Sizes: one byte, not a page multiple, several pages. */
    static const size_t sizes[] = {1, 4097, 3 << 20};
    uint64_t seed = 100;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        evp_mem_t *m;
        CHECK_RC(mem->alloc(1, sizes[i], EVP_MEM_FD, 0, &m), 0);
        CHECK_RC(peer_roundtrip(&g_peer, m, EVP_MEM_FD, PEER_VIA_SCM, 2, seed += 2, NULL), 0);
        int rc = peer_roundtrip(&g_peer, m, EVP_MEM_FD, PEER_VIA_PIDFD, 3, seed += 2, NULL);
        CHECK(rc == 0 || rc == EVP_EPERM);
        if (i == 0)
            fprintf(stderr, "  pidfd_getfd from the peer: %s\n",
                    rc == 0 ? "permitted, checked" : "EVP_EPERM, variant skipped");
        CHECK_RC(mem->release(m), 0);
    }
}

/* Many export/import cycles leave no fd open on either side. */
static void test_mem_fd_accounting(void)
{
    const struct evp_backend_mem *mem = be->mem;
    int before = count_fds(), peer_first = -1, peer_last = -1;
    for (int i = 0; i < 200; i++) {
        evp_mem_t *m;
        CHECK_RC(mem->alloc(0, 8192, EVP_MEM_FD, 0, &m), 0);
        enum peer_via via = i % 2 ? PEER_VIA_PIDFD : PEER_VIA_SCM;
        int rc = peer_roundtrip(&g_peer, m, EVP_MEM_FD, via, 0, 1000 + 2 * i, &peer_last);
        CHECK(rc == 0 || (rc == EVP_EPERM && via == PEER_VIA_PIDFD));
        if (peer_first < 0)
            peer_first = peer_last;
        CHECK_RC(mem->release(m), 0);
    }
    fprintf(stderr, "  fds: here %d -> %d, peer %d -> %d\n", before, count_fds(), peer_first, peer_last);
    CHECK_EQ(count_fds(), before);
    CHECK_EQ(peer_last, peer_first);
}

int main(int argc, char **argv)
{
    int rc = peer_main(argc, argv);
    if (rc >= 0)
        return rc;
    peer_spawn(&g_peer, be);
    TEST(test_copies_in_order);
    TEST(test_copy_bad_args);
    TEST(test_fdpass_in_process);
    TEST(test_mem_bad_args);
    TEST(test_mem_two_processes);
    TEST(test_mem_fd_accounting);
    peer_finish(&g_peer);
    return 0;
}
