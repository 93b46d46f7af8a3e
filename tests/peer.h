/* SPDX-License-Identifier: Apache-2.0 */
/* A peer process for the memory export/import tests.
 *
 * The test binary runs itself as the peer: peer_spawn fork+execs
 * /proc/self/exe with "--peer <backend> <socket fd>" *before the parent
 * touches CUDA* (a forked child must never inherit a CUDA context), and
 * main() hands such a run to peer_main. The peer serves requests over a
 * SOCK_SEQPACKET socket: import the memory a descriptor names (the fd
 * arriving by SCM_RIGHTS or pulled with pidfd_getfd), check the exporter's
 * pattern byte for byte, write its own pattern back, release everything,
 * and reply with the result and its count of open fds. Reads and writes go
 * through the backend's copy op, so one peer serves the host and the CUDA
 * backend. */
#ifndef EVPOOL_TESTS_PEER_H
#define EVPOOL_TESTS_PEER_H

#include <stdint.h>
#include <sys/types.h>

#include "backend/backend.h"

enum peer_via {
    PEER_VIA_NONE,  /* the handle needs no fd (CUDA IPC, FABRIC) */
    PEER_VIA_SCM,   /* SCM_RIGHTS with the request */
    PEER_VIA_PIDFD, /* the peer pulls the fd with pidfd_getfd */
};

struct peer {
    pid_t pid;
    int sock;
    const struct evp_backend *be;
};

/* If argv asks for the peer role, runs it and returns its exit status;
 * otherwise returns -1 (the caller goes on as the test). */
int peer_main(int argc, char **argv);

/* Starts the peer for backend `be` ("host" or "cuda"). Fails the test on
 * error. Also lets the peer pidfd_getfd from us (PR_SET_PTRACER) where
 * Yama would refuse a child that. */
void peer_spawn(struct peer *p, const struct evp_backend *be);

/* Exports m as `handle`, fills it with a pattern, has the peer import it on
 * `device` and check it and write its own pattern, then checks that here.
 * Returns 0; or the peer's error (EVP_EPERM: the fd could not be pulled
 * or FABRIC import is not permitted — the caller decides whether that is
 * a skip). Fails the test on any mismatch. *peer_fds: the peer's open fds
 * after the request (may be NULL). */
int peer_roundtrip(struct peer *p, evp_mem_t *m, enum evp_mem_handle handle, enum peer_via via, int device,
                   uint64_t seed, int *peer_fds);

/* Asks the peer to exit and checks that it exited 0. */
void peer_finish(struct peer *p);

/* Fills / checks len bytes with the pattern of seed. check_pattern returns
 * the index of the first wrong byte, or len. */
void fill_pattern(void *buf, size_t len, uint64_t seed);
size_t check_pattern(const void *buf, size_t len, uint64_t seed);

/* Open descriptors of this process (entries of /proc/self/fd). */
int count_fds(void);

#endif
