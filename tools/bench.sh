#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The benchmark suite, from a fresh Debian machine to a table:
#   tools/bench.sh [OUTDIR] [extra evpool-bench flags...]
#
# 1. tools/deps.sh (Debian packages; needs root or sudo only if one is missing)
# 2. release build of evpool-bench in build-bench/ (CUDA Toolkit at
#    ${CUDA_HOME:-/usr/local/cuda})
# 3. runs it: OUTDIR/bench.json (Google Benchmark JSON, the machine in
#    its context); the console output goes to stdout
# 4. OUTDIR/bench-summary.md (tools/bench-table.sh, also printed) and
#    OUTDIR/bench.png (tools/plot-bench.sh)
#
# Exactly those three files go to OUTDIR (it may be shared: tools/gpu-suite.sh
# passes its own flat, 8-file OUTDIR). Build output goes to stdout too.
#
# OUTDIR defaults to bench/results/<host>-<UTC date and time>. The evpool
# runs use the CUDA backend when a GPU is usable, else the host backend
# (EVPOOL_BACKEND=auto; lease/return never touch the backend).
#
# Environment:
#   EVB_QUICK=1       short runs (EVB_MIN_TIME=0.02, 3 s deadline): a
#                     2-core machine finishes in a few minutes
#   EVB_MIN_TIME      seconds each run aims for (--benchmark_min_time,
#                     spelt for the library version; default 0.5)
#   EVB_DEADLINE_S    longest a single run may take before it is reported
#                     "did not finish" (default 10, quick 3)
#   CUDA_HOME         CUDA Toolkit (default /usr/local/cuda)
#   EVB_BUILD_DIR     build directory (default build-bench/)
#   EVB_FLAGS         more evpool-bench flags, before the arguments (for
#                     callers that cannot pass arguments, e.g.
#                     EVB_FLAGS=--benchmark_repetitions=3 tools/gpu-suite.sh)
#   EVB_GIT_COMMIT    the commit to record where the tree has no .git
# Extra flags go to evpool-bench, e.g. --benchmark_filter=same_thread or
# --benchmark_repetitions=3 (the tables then use the medians).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
stamp=$(date -u +%Y%m%d-%H%M%S)
host=$(hostname -s 2>/dev/null || hostname)
outdir=${1:-$root/bench/results/$host-$stamp}
[ $# -gt 0 ] && shift
build=${EVB_BUILD_DIR:-$root/build-bench}
cuda=${CUDA_HOME:-/usr/local/cuda}

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

echo "== evpool bench: dependencies" >&2
# On a machine without a package registry deps.sh cannot install; go on with
# what is there: the build says what is missing, and the table and plot are
# skipped (with a message) if jq or gnuplot is.
timeout 300 "$root/tools/deps.sh" || echo "evpool bench: tools/deps.sh failed; trying with what is installed" >&2

echo "== evpool bench: release build in $build" >&2
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCUDAToolkit_ROOT="$cuda" \
  -DEVPOOL_BUILD_BENCH=ON -DEVPOOL_BUILD_TESTS=OFF -DEVPOOL_BUILD_EXAMPLES=OFF \
  -DEVPOOL_BUILD_TOOLS=OFF
cmake --build "$build" --target evpool-bench -j"$(nproc)"

mode=full
if [ "${EVB_QUICK:-0}" = 1 ]; then
  mode=quick
  export EVB_MIN_TIME=${EVB_MIN_TIME:-0.02} EVB_DEADLINE_S=${EVB_DEADLINE_S:-3}
fi
# A copy of the tree without .git (a device machine) can be told its commit.
commit=${EVB_GIT_COMMIT:-$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)}

echo "== evpool bench: running ($mode) -> $outdir" >&2
"$build/bench/evpool-bench" \
  --benchmark_out="$outdir/bench.json" --benchmark_out_format=json \
  --benchmark_context="git_commit=$commit,evb_mode=$mode" ${EVB_FLAGS:-} "$@"

echo "== evpool bench: summary" >&2
status=0
if "$root/tools/bench-table.sh" "$outdir/bench.json" >"$outdir/bench-summary.md"; then
  cat "$outdir/bench-summary.md"
else
  echo "evpool bench: no summary table (see above); the JSON is $outdir/bench.json" >&2
  rm -f "$outdir/bench-summary.md"
  status=1
fi
"$root/tools/plot-bench.sh" "$outdir/bench.json" "$outdir/bench.png" ||
  { echo "evpool bench: no plot (see above)" >&2; status=1; }
echo "== evpool bench: done: $outdir/{bench.json,bench-summary.md,bench.png}" >&2
exit $status
