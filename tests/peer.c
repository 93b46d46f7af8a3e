/* SPDX-License-Identifier: Apache-2.0 */
#include "peer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/fdpass.h"
#include "harness.h"

enum { PEER_IMPORT = 1, PEER_QUIT = 2 };

struct peer_req {
    int32_t op;
    int32_t device;
    int32_t via;
    int32_t remote_fd; /* PEER_VIA_PIDFD: our fd number */
    uint64_t seed;     /* the exporter wrote seed, the importer writes seed + 1 */
    struct evp_mem_desc desc;
};

struct peer_rep {
    int32_t rc;
    int32_t fds;
    char msg[200];
};

void fill_pattern(void *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

size_t check_pattern(const void *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    const unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (p[i] != (unsigned char)(x >> 24))
            return i;
    }
    return len;
}

int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own fd */
}

/* Copies len bytes between host buffer and (device or host) memory through
 * the backend, on a stream of `device`, and waits. */
static int peer_copy(const struct evp_backend *be, int device, void *dst, const void *src, size_t len)
{
    void *st = NULL;
    int rc = be->stream_create(device, &st);
    if (rc)
        return rc;
    rc = be->copy(dst, src, len, st);
    int rc2 = be->stream_sync(st);
    int rc3 = be->stream_destroy(device, st);
    return rc ? rc : rc2 ? rc2 : rc3;
}

/* The peer's side of one import request; reply->msg says what failed. */
static int peer_serve(const struct evp_backend *be, const struct peer_req *rq, int fd, struct peer_rep *rep)
{
    int rc = 0;
    if (rq->via == PEER_VIA_PIDFD && (rc = evp_fd_from_pid(getppid(), rq->remote_fd, &fd)) != 0) {
        snprintf(rep->msg, sizeof rep->msg, "pidfd_getfd: %s", evp_strerror(rc));
        return rc;
    }
    evp_mem_t *m = NULL;
    rc = be->mem->import(rq->device, &rq->desc, fd, 0, &m);
    if (fd >= 0)
        close(fd); /* import borrows it */
    if (rc) {
        snprintf(rep->msg, sizeof rep->msg, "import: %s", evp_strerror(rc));
        return rc;
    }
    size_t len = m->len;
    unsigned char *buf = malloc(len);
    if (!buf || m->len != rq->desc.len) {
        snprintf(rep->msg, sizeof rep->msg, "import: %zu bytes, descriptor says %llu", m->len,
                 (unsigned long long)rq->desc.len);
        rc = EVP_EINVAL;
    } else if ((rc = peer_copy(be, rq->device, buf, m->ptr, len)) != 0) {
        snprintf(rep->msg, sizeof rep->msg, "read: %s", evp_strerror(rc));
    } else {
        size_t bad = check_pattern(buf, len, rq->seed);
        if (bad != len) {
            snprintf(rep->msg, sizeof rep->msg, "exporter's pattern wrong at byte %zu of %zu", bad, len);
            rc = EVP_EINVAL;
        } else {
            fill_pattern(buf, len, rq->seed + 1);
            if ((rc = peer_copy(be, rq->device, m->ptr, buf, len)) != 0)
                snprintf(rep->msg, sizeof rep->msg, "write: %s", evp_strerror(rc));
        }
    }
    free(buf);
    int rc2 = be->mem->release(m);
    if (rc == 0 && rc2) {
        snprintf(rep->msg, sizeof rep->msg, "release: %s", evp_strerror(rc2));
        rc = rc2;
    }
    return rc;
}

int peer_main(int argc, char **argv)
{
    if (argc != 4 || strcmp(argv[1], "--peer") != 0)
        return -1;
    const struct evp_backend *be = strcmp(argv[2], "cuda") == 0 ? &evp_backend_cuda : &evp_backend_host;
    int sock = atoi(argv[3]);
    for (;;) {
        struct peer_req rq;
        int fd = -1;
        int rc = evp_fd_recv(sock, &rq, sizeof rq, &fd);
        if (rc == EVP_ENODATA || (rc == 0 && rq.op == PEER_QUIT))
            break;
        if (rc) {
            fprintf(stderr, "[peer] receive failed: %s\n", evp_strerror(rc));
            return 1;
        }
        struct peer_rep rep = {0};
        rep.rc = peer_serve(be, &rq, fd, &rep);
        rep.fds = count_fds();
        if (evp_fd_send(sock, &rep, sizeof rep, -1) != 0)
            return 1;
    }
    close(sock);
    return 0;
}

void peer_spawn(struct peer *p, const struct evp_backend *be)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
    CHECK(fcntl(sv[0], F_SETFD, FD_CLOEXEC) == 0); /* ours; sv[1] goes to the peer */
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char fdarg[16];
        snprintf(fdarg, sizeof fdarg, "%d", sv[1]);
        execl("/proc/self/exe", "peer", "--peer", be->name, fdarg, (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    /* Yama ptrace_scope 1 lets only ancestors pidfd_getfd; name the peer.
     * (EINVAL without Yama: nothing to do.) */
    (void)prctl(PR_SET_PTRACER, (unsigned long)pid, 0, 0, 0);
    *p = (struct peer){.pid = pid, .sock = sv[0], .be = be};
}

int peer_roundtrip(struct peer *p, evp_mem_t *m, enum evp_mem_handle handle, enum peer_via via, int device,
                   uint64_t seed, int *peer_fds)
{
    const struct evp_backend *be = p->be;
    struct peer_req rq = {.op = PEER_IMPORT, .device = device, .via = via, .remote_fd = -1, .seed = seed};
    int fd = -1;
    CHECK_RC(be->mem->export_(m, handle, &rq.desc, &fd), 0);
    CHECK(handle == EVP_MEM_FD ? fd >= 0 : fd == -1);
    unsigned char *buf = malloc(m->len);
    CHECK(buf != NULL);
    fill_pattern(buf, m->len, seed);
    CHECK_RC(peer_copy(be, m->device, m->ptr, buf, m->len), 0);
    if (via == PEER_VIA_PIDFD)
        rq.remote_fd = fd;
    CHECK_RC(evp_fd_send(p->sock, &rq, sizeof rq, via == PEER_VIA_SCM ? fd : -1), 0);
    struct peer_rep rep;
    int none = -1;
    CHECK_RC(evp_fd_recv(p->sock, &rep, sizeof rep, &none), 0);
    CHECK_EQ(none, -1);
    if (peer_fds)
        *peer_fds = rep.fds;
    if (rep.rc == 0) {
        CHECK_RC(peer_copy(be, m->device, buf, m->ptr, m->len), 0);
        size_t bad = check_pattern(buf, m->len, seed + 1);
        if (bad != m->len)
            evp_test_fail(__FILE__, __LINE__, "importer's pattern wrong at byte %zu of %zu", bad, m->len);
    } else if (rep.rc != EVP_EPERM) {
        evp_test_fail(__FILE__, __LINE__, "peer: %s", rep.msg);
    } else {
        fprintf(stderr, "  peer: %s\n", rep.msg);
    }
    free(buf);
    return rep.rc;
}

void peer_finish(struct peer *p)
{
    struct peer_req rq = {.op = PEER_QUIT};
    CHECK_RC(evp_fd_send(p->sock, &rq, sizeof rq, -1), 0);
    close(p->sock);
    int status = 0;
    CHECK(waitpid(p->pid, &status, 0) == p->pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        evp_test_fail(__FILE__, __LINE__, "peer exited with status 0x%x", status);
}
