/* SPDX-License-Identifier: Apache-2.0 */
/* e2e peer: the other process of the end-to-end benchmark, the owner of the
 * segments every submit writes into.
 *
 * main forks it first thing, BEFORE this process makes any CUDA call (a
 * forked child must never inherit a CUDA context; the child makes its own).
 * It then serves requests over a SOCK_SEQPACKET socketpair: "a segment of
 * `bytes` on `device` for transport `kind`": it opens that transport (once
 * per kind), allocates the memory with evp_transport_mem_alloc, registers
 * and exports it, and sends the descriptor and its fd back with
 * evp_transport_desc_send, exactly as an engine's peer publishes a buffer.
 * The segments live until the parent says quit or closes the socket (the
 * parent died): the child then closes its transports (which frees them)
 * and _exits. */
#ifndef EVB_E2E_PEER_H
#define EVB_E2E_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "evpool/transport.h"

typedef struct e2e_peer {
    pid_t pid;  /* the child; reaped by e2e_peer_finish */
    int sock;   /* our end; owned, closed by e2e_peer_finish */
} e2e_peer;

/* Forks the peer. In the child this never returns. 0, or -1 with err. */
int e2e_peer_spawn(e2e_peer *p, char *err, size_t len);

/* Asks the peer for a segment; desc (EVP_TRANSPORT_DESC_MAX bytes) and
 * *desc_len receive its descriptor, *fd its fd or -1 (ours: close it after
 * the import). 0, or an EVP_E* code with the peer's reason in err. */
int e2e_peer_segment(e2e_peer *p, evp_transport_kind_t kind, int device, uint64_t bytes, unsigned char *desc,
                     size_t *desc_len, int *fd, char *err, size_t len);

/* Tells the peer to quit and reaps it. 0 if it exited 0. */
int e2e_peer_finish(e2e_peer *p);

#endif
