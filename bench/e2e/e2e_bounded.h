/* SPDX-License-Identifier: Apache-2.0 */
/* e2e bounded: does a way of submitting hold a bounded number of events
 * over many submit/free cycles? `threads` threads each run round trips
 * (prepare, submit a `bytes` WRITE, poll to completion, release) until
 * `cycles` are done in all; the main thread samples, `samples` times over
 * the run, the cycles done, the live events (e2e_way_live_events) and the
 * process's RSS (/proc/self/statm), and writes them as JSON:
 *
 *   evpool-e2e --bounded --way=evpool|create_destroy|create_leak
 *              [--cycles=N] [--threads=T] [--samples=K] [--bytes=B]
 *              [--commit=TEXT] --out=FILE
 *
 * create_leak (the original bug: create per submit, never destroyed) grows
 * by design: run it over fewer cycles; the report extrapolates its slope and
 * says so. Exit 0, 1 (a run failed), 2 (bad arguments). */
#ifndef EVB_E2E_BOUNDED_H
#define EVB_E2E_BOUNDED_H

#include "e2e/e2e_peer.h"

/* argv[1] is "--bounded". */
int e2e_bounded_main(e2e_peer *peer, int argc, char **argv);

#endif
