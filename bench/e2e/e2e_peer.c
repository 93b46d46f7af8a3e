/* SPDX-License-Identifier: Apache-2.0 */
/* e2e peer: see e2e_peer.h. */
#include "e2e/e2e_peer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/fdpass.h"

enum { E2E_PEER_SEGMENT = 1, E2E_PEER_QUIT = 2 };

typedef struct e2e_peer_req {
    int32_t op;
    int32_t kind;   /* evp_transport_kind_t */
    int32_t device; /* where the peer allocates */
    uint64_t bytes;
} e2e_peer_req;

typedef struct e2e_peer_rep {
    int32_t rc;     /* 0: the descriptor follows (evp_transport_desc_send) */
    char msg[200];
} e2e_peer_rep;

/* The child's side of one request; rep->msg says what failed. */
static int e2e_peer_serve(evp_transport_t **open, const e2e_peer_req *rq, int sock)
{
    e2e_peer_rep rep = {0};
    unsigned char desc[EVP_TRANSPORT_DESC_MAX];
    size_t dlen = 0;
    int fd = -1;
    const char *step = "kind";
    int rc = rq->kind >= EVP_TRANSPORT_HOST && rq->kind <= EVP_TRANSPORT_MNNVL ? 0 : EVP_EINVAL;
    evp_transport_t **t = rc == 0 ? &open[rq->kind] : NULL;
    if (rc == 0 && !*t) {
        step = "evp_transport_open";
        rc = evp_transport_open((evp_transport_kind_t)rq->kind, NULL, t);
    }
    void *mem = NULL;
    evp_segment_t seg = EVP_SEGMENT_NONE;
    if (rc == 0) {
        step = "evp_transport_mem_alloc";
        rc = evp_transport_mem_alloc(*t, rq->device, (size_t)rq->bytes, &mem);
    }
    if (rc == 0) {
        step = "evp_transport_register";
        rc = evp_transport_register(*t, mem, (size_t)rq->bytes, &seg);
    }
    if (rc == 0) {
        step = "evp_transport_export";
        /* fd: the transport's (host memfd, mnnvl POSIX fd), sent, not closed. */
        rc = evp_transport_export(*t, seg, desc, sizeof desc, &dlen, &fd);
    }
    rep.rc = rc;
    if (rc)
        snprintf(rep.msg, sizeof rep.msg, "peer: %s (kind %d, device %d, %llu bytes): %s", step, rq->kind,
                 rq->device, (unsigned long long)rq->bytes, evp_strerror(rc));
    if (evp_fd_send(sock, &rep, sizeof rep, -1) != 0)
        return -1;
    return rc == 0 ? evp_transport_desc_send(sock, desc, dlen, fd) : 0;
}

/* The child: serve until told to quit or the parent is gone. */
static void e2e_peer_main(int sock)
{
    evp_transport_t *open[EVP_TRANSPORT_MNNVL + 1] = {0}; /* owned: closed below */
    int status = 0;
    for (;;) {
        e2e_peer_req rq;
        int none = -1;
        int rc = evp_fd_recv(sock, &rq, sizeof rq, &none);
        if (none >= 0)
            close(none);
        if (rc == EVP_ENODATA || (rc == 0 && rq.op == E2E_PEER_QUIT))
            break;
        if (rc != 0 || rq.op != E2E_PEER_SEGMENT || e2e_peer_serve(open, &rq, sock) != 0) {
            fprintf(stderr, "e2e peer: the request channel failed: %s\n", evp_strerror(rc));
            status = 1;
            break;
        }
    }
    for (size_t i = 0; i < sizeof open / sizeof open[0]; i++)
        if (open[i] && evp_transport_close(open[i]) != 0)
            status = 1;
    close(sock);
    _exit(status); /* not exit: the parent's atexit handlers are not ours */
}

int e2e_peer_spawn(e2e_peer *p, char *err, size_t len)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, len, "socketpair: %s", strerror(errno));
        return -1;
    }
    fflush(NULL); /* nothing buffered is written twice */
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, len, "fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        e2e_peer_main(sv[1]);
    }
    close(sv[1]);
    *p = (e2e_peer){.pid = pid, .sock = sv[0]};
    return 0;
}

int e2e_peer_segment(e2e_peer *p, evp_transport_kind_t kind, int device, uint64_t bytes, unsigned char *desc,
                     size_t *desc_len, int *fd, char *err, size_t len)
{
    e2e_peer_req rq = {.op = E2E_PEER_SEGMENT, .kind = (int32_t)kind, .device = device, .bytes = bytes};
    e2e_peer_rep rep;
    int none = -1;
    *fd = -1;
    int rc = evp_fd_send(p->sock, &rq, sizeof rq, -1);
    if (rc == 0)
        rc = evp_fd_recv(p->sock, &rep, sizeof rep, &none);
    if (none >= 0)
        close(none);
    if (rc) {
        snprintf(err, len, "e2e peer channel: %s", evp_strerror(rc));
        return rc;
    }
    if (rep.rc) {
        rep.msg[sizeof rep.msg - 1] = '\0';
        snprintf(err, len, "%s", rep.msg);
        return rep.rc;
    }
    rc = evp_transport_desc_recv(p->sock, desc, EVP_TRANSPORT_DESC_MAX, desc_len, fd);
    if (rc)
        snprintf(err, len, "e2e peer: receiving the descriptor: %s", evp_strerror(rc));
    return rc;
}

int e2e_peer_finish(e2e_peer *p)
{
    if (p->sock < 0)
        return 0;
    e2e_peer_req rq = {.op = E2E_PEER_QUIT};
    (void)evp_fd_send(p->sock, &rq, sizeof rq, -1); /* gone already: EOF does the same */
    close(p->sock);
    p->sock = -1;
    int status = 0;
    if (waitpid(p->pid, &status, 0) != p->pid)
        return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}
