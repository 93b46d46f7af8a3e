/* SPDX-License-Identifier: Apache-2.0 */
/* evpool — the mnnvl kind's choice of handle, apart from the GPU probe that
 * feeds it, so that the choice (knob, fallback, its one warning) is tested
 * on machines without a GPU. */
#ifndef EVPOOL_SRC_TRANSPORT_MNNVL_H
#define EVPOOL_SRC_TRANSPORT_MNNVL_H

#include <stdint.h>

#include "evpool/config.h"
#include "transport/kind.h"

/* What the node allows: 0 or the EVP_E* code of the first failure of each
 * handle type on any device, with the reason (NUL-terminated). */
struct evp_mnnvl_probe {
    int fabric;
    char fabric_why[256];
    int fd;
    char fd_why[256];
    uint64_t access; /* devices every mapping grants access to (all pairs peer-capable), else 0 */
};

/* Fills sel from a probe and EVPOOL_MNNVL_FABRIC:
 *   fabric ok                  FABRIC exported, FABRIC and FD imported, caps
 *                              with EVP_TRANSPORT_CAP_INTER_NODE.
 *   fabric refused, auto, fd   FD exported and imported, no INTER_NODE; a FABRIC
 *                              descriptor is refused at import with the reason.
 *                              One warning per process (the first such call).
 *   fabric refused, require    EVP_EPERM.
 *   neither                    the fd path's code (EVP_EBACKEND if it had none).
 * Every refusal is logged at error level with both reasons. */
int evp_mnnvl_decide(const struct evp_mnnvl_probe *p, evp_mnnvl_fabric_t knob, struct evp_tkind_sel *sel);

#endif
