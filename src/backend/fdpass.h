/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — moving a file descriptor to another process.
 *
 * Two ways, for the handles that are fds (host memfd, cuMem
 * POSIX_FILE_DESCRIPTOR):
 *   - SCM_RIGHTS over a connected Unix-domain socket (evp_fd_send /
 *     evp_fd_recv): the sender decides what to give; no privilege over the
 *     peer, any kernel, works across users and inside containers.
 *   - pidfd_getfd (evp_fd_from_pid): the receiver copies fd number N out of
 *     the sender, who only has to say "pid P, fd N" by any channel (TCP,
 *     shared memory, the descriptor itself). Needs Linux >= 5.6 and
 *     PTRACE_MODE_ATTACH_REALCREDS over the sender: same user and Yama
 *     ptrace_scope 0, or the sender named the receiver with
 *     prctl(PR_SET_PTRACER), or CAP_SYS_PTRACE; container seccomp profiles
 *     often refuse it.
 * SCM_RIGHTS is the one to prefer: the peers need a Unix socket between
 * them anyway on one node, and it works wherever that does. pidfd_getfd is
 * the fallback for peers that do not share a Unix socket.
 *
 * Received descriptors are close-on-exec and owned by the caller. */
#ifndef EVPOOL_SRC_BACKEND_FDPASS_H
#define EVPOOL_SRC_BACKEND_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

/* Sends len (> 0) bytes of data with fd attached (fd < 0: data only) over
 * a connected Unix socket (stream or seqpacket; a stream socket may split
 * the data, evp_fd_recv reassembles it). fd stays open here. 0; EVP_EINVAL;
 * EVP_EBACKEND (errno logged; EPIPE when the peer is gone). */
int evp_fd_send(int sock, const void *data, size_t len, int fd);

/* Receives exactly len (> 0) bytes sent by evp_fd_send and the fd sent with
 * them (*fd = -1 if none). 0; EVP_ENODATA (the peer closed the socket
 * before sending anything); EVP_EINVAL (bad arguments, a short message, or
 * more descriptors than one — any received are closed); EVP_EBACKEND. */
int evp_fd_recv(int sock, void *data, size_t len, int *fd);

/* Duplicates descriptor `remote_fd` of process `pid` into this process
 * (pidfd_open + pidfd_getfd). 0 and *out; EVP_EPERM (refused by ptrace
 * rules or seccomp, or not available: kernel < 5.6 — logged which; use
 * SCM_RIGHTS); EVP_EINVAL (no such process, or it has no such fd);
 * EVP_EBACKEND. */
int evp_fd_from_pid(pid_t pid, int remote_fd, int *out);

#endif
