/* SPDX-License-Identifier: Apache-2.0 */
#include "backend/fdpass.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "evpool/error.h"
#include "base/log.h"

static int evp_fd_fail(const char *what, int err)
{
    evp_error("%s failed: %s", what, strerror(err));
    return EVP_EBACKEND;
}

int evp_fd_send(int sock, const void *data, size_t len, int fd)
{
    if (sock < 0 || !data || len == 0)
        return EVP_EINVAL;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        struct iovec iov = {.iov_base = (void *)p, .iov_len = left};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        if (fd >= 0 && left == len) { /* the fd rides on the first part */
            msg.msg_control = ctl.buf;
            msg.msg_controllen = sizeof ctl.buf;
            struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &fd, sizeof fd);
        }
        ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return evp_fd_fail("sendmsg (fd passing)", n < 0 ? errno : EPIPE);
        p += n;
        left -= (size_t)n;
    }
    return 0;
}

/* Takes the descriptors out of one received message: the first goes to
 * *fd (if none yet), any others are closed. Returns how many arrived. */
static int evp_fd_take(struct msghdr *msg, int *fd)
{
    int got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int f;
            memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
            if (*fd < 0)
                *fd = f;
            else
                close(f);
            got++;
        }
    }
    return got;
}

int evp_fd_recv(int sock, void *data, size_t len, int *fd)
{
    if (sock < 0 || !data || len == 0 || !fd)
        return EVP_EINVAL;
    *fd = -1;
    char *p = data;
    size_t got = 0;
    int fds = 0, rc = 0;
    while (got < len) {
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int) * 4)];
        } ctl;
        struct iovec iov = {.iov_base = p + got, .iov_len = len - got};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                             .msg_controllen = sizeof ctl.buf};
        ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = evp_fd_fail("recvmsg (fd passing)", errno);
            break;
        }
        fds += evp_fd_take(&msg, fd);
        if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
            evp_error("recvmsg (fd passing): message or descriptors truncated");
            rc = EVP_EINVAL;
            break;
        }
        if (n == 0) {
            if (got > 0)
                evp_error("recvmsg (fd passing): peer closed after %zu of %zu bytes", got, len);
            rc = got == 0 ? EVP_ENODATA : EVP_EINVAL;
            break;
        }
        got += (size_t)n;
    }
    if (rc == 0 && fds > 1) {
        evp_error("recvmsg (fd passing): %d descriptors where one was expected", fds);
        rc = EVP_EINVAL;
    }
    if (rc && *fd >= 0) {
        close(*fd);
        *fd = -1;
    }
    return rc;
}

int evp_fd_from_pid(pid_t pid, int remote_fd, int *out)
{
    if (pid <= 0 || remote_fd < 0 || !out)
        return EVP_EINVAL;
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd)
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        int err = errno;
        if (err == ENOSYS || err == EPERM) {
            evp_error("pidfd_open(%d): %s: use SCM_RIGHTS", (int)pid, strerror(err));
            return EVP_EPERM;
        }
        if (err == ESRCH) {
            evp_error("pidfd_open(%d): no such process", (int)pid);
            return EVP_EINVAL;
        }
        return evp_fd_fail("pidfd_open", err);
    }
    int fd = (int)syscall(SYS_pidfd_getfd, pidfd, remote_fd, 0);
    int err = errno;
    close(pidfd);
    if (fd >= 0) {
        *out = fd; /* pidfd_getfd sets FD_CLOEXEC */
        return 0;
    }
    switch (err) {
    case EPERM:
        evp_error("pidfd_getfd(pid %d, fd %d): not permitted (ptrace access: Yama ptrace_scope, another user, "
                  "or PR_SET_PTRACER not set by the sender): use SCM_RIGHTS",
                  (int)pid, remote_fd);
        return EVP_EPERM;
    case ENOSYS:
        evp_error("pidfd_getfd: not available (kernel < 5.6 or refused by seccomp): use SCM_RIGHTS");
        return EVP_EPERM;
    case EBADF:
    case ESRCH:
        evp_error("pidfd_getfd(pid %d, fd %d): %s", (int)pid, remote_fd, strerror(err));
        return EVP_EINVAL;
    default:
        return evp_fd_fail("pidfd_getfd", err);
    }
#else
    evp_error("pidfd_getfd: not known to this build's kernel headers: use SCM_RIGHTS");
    return EVP_EPERM;
#endif
}
