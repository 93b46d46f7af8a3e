/* SPDX-License-Identifier: Apache-2.0 */
/* e2e bench: the Google Benchmark families of the end-to-end benchmark.
 *
 *   e2e_submit/<where>/<way>/<size>     one submit (timed), up to
 *       E2E_WINDOW in flight per thread, the oldest retired (polled to
 *       completion, released) before the next: the latency a caller of
 *       submit waits for.
 *   e2e_roundtrip/<where>/<way>/<size>  prepare + submit + poll to
 *       completion + release, timed whole: latency and bandwidth.
 *
 * <where>: same_gpu (the peer's segment on GPU 0, submits on GPU 0),
 * two_gpus (the segment on GPU 1, submits on GPU 0: peer NVLink; skipped
 * with a message on fewer GPUs), or host (the host backend: memfd segment,
 * memcpy workers). <way>: evpool_<kind> (through the transport: nvlink and
 * mnnvl on CUDA, host without a GPU) and the baselines of e2e_way.h, which
 * copy into the first kind's segment. <size>: 4KiB 64KiB 4MiB 64MiB.
 * Threads: 1, 4, 16 and 2 x the online CPUs. */
#ifndef EVB_E2E_BENCH_H
#define EVB_E2E_BENCH_H

#include "e2e/e2e_peer.h"

/* Submits one thread keeps in flight in the submit runs. */
#define E2E_WINDOW 16u

/* Registers every family; the peer serves the segments. Targets are opened
 * by the first run that needs them and kept for the rest. */
void e2e_register(e2e_peer *peer);

/* Closes every target opened (after the runs). */
void e2e_targets_close(void);

#endif
