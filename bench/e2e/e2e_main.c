/* SPDX-License-Identifier: Apache-2.0 */
/* evpool-e2e's main: submit latency end to end, through the transports,
 * against the designs engines use today (e2e_bench.h), and the
 * bounded-resources run (e2e_bounded.h, with --bounded).
 *
 * The peer process is forked first, before this process makes any CUDA
 * call (evb_context_collect and the backend probe make the first ones). */
#include <stdio.h>
#include <string.h>

#include "e2e/e2e_bench.h"
#include "e2e/e2e_bounded.h"
#include "evb_suite.h"
#include "shim/evb.h"

int main(int argc, char **argv)
{
    e2e_peer peer;
    char err[256];
    if (e2e_peer_spawn(&peer, err, sizeof err) != 0) {
        fprintf(stderr, "evpool-e2e: the peer process: %s\n", err);
        return 1;
    }
    int rc = 0;
    if (argc > 1 && strcmp(argv[1], "--bounded") == 0) {
        rc = e2e_bounded_main(&peer, argc, argv);
    } else if (evb_initialize(argc, argv) != 0) {
        rc = 2;
    } else {
        evb_context_collect(evb_add_context);
        e2e_register(&peer);
        evb_run_benchmarks();
        e2e_targets_close();
    }
    if (e2e_peer_finish(&peer) != 0) {
        fprintf(stderr, "evpool-e2e: the peer process did not exit cleanly\n");
        rc = rc ? rc : 1;
    }
    return rc;
}
