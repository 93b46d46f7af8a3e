#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The benchmark suite, from a fresh Debian machine to tables and pictures:
#   tools/bench.sh [OUTDIR] [extra evpool-bench flags...]
#
# 1. tools/deps.sh (Debian packages; needs root or sudo only if one is missing)
# 2. release build of evpool-bench and evpool-e2e in build-bench/ (CUDA
#    Toolkit at ${CUDA_HOME:-/usr/local/cuda})
# 3. the pool suite, evpool-bench: OUTDIR/bench.json (Google Benchmark JSON,
#    the machine in its context), OUTDIR/bench-summary.md
#    (tools/bench-table.sh, also printed), OUTDIR/bench.png
#    (tools/plot-bench.sh)
# 4. submit latency end to end, evpool-e2e (bench/README.md): through the
#    transports against the floor, create+destroy, mutex+vector and the bare
#    copy, on one GPU and across two (the host backend without a GPU):
#    OUTDIR/e2e.json; then the bounded-resources runs (evpool,
#    create_destroy, create_leak at 16 threads): OUTDIR/e2e-bounded.json;
#    OUTDIR/e2e-summary.md (tools/e2e-table.sh: tables and the targets,
#    also printed) and OUTDIR/e2e.png (tools/plot-e2e.sh)
#
# A line goes to stderr when each run starts and when it ends (evpool-e2e
# adds one per benchmark run). Build output goes to stdout.
#
# OUTDIR defaults to bench/results/<host>-<UTC date and time>. The evpool
# runs use the CUDA backend when a GPU is usable, else the host backend
# (EVPOOL_BACKEND=auto).
#
# Environment:
#   EVB_QUICK=1       short runs (EVB_MIN_TIME=0.02, 3 s deadline, 20,000
#                     bounded cycles): a 2-core machine finishes in a few
#                     minutes
#   EVB_PARTS         which parts run: "bench e2e" (default), "bench", "e2e"
#   EVB_MIN_TIME      seconds each run aims for (--benchmark_min_time,
#                     spelt for the library version; default 0.5)
#   EVB_DEADLINE_S    longest a single run may take before it is reported
#                     "did not finish" (default 10, quick 3)
#   EVB_E2E_DEADLINE_S  the same for evpool-e2e (default 60, quick 10: 64 MiB
#                     copies at 2 x the cores take a while)
#   EVB_E2E_CYCLES    bounded run, submit/free cycles of evpool and
#                     create_destroy (default 10,000,000: on an H100 host
#                     evpool's took 40 s, create_destroy's over 4 minutes);
#                     each run's JSON is kept in OUTDIR/e2e-bounded.parts/
#                     until all are merged
#   EVB_E2E_LEAK_CYCLES  the same for create_leak, which grows by design
#                     (default 1,000,000; the table extrapolates, labelled)
#   EVB_E2E_FLAGS     more evpool-e2e flags (--benchmark_filter=..., repetitions)
#   EVB_PACK=1        leave only bench-summary.md, e2e-summary.md and
#                     bench-results.tar.gz (every file) in OUTDIR: for
#                     tools/gpu-suite.sh, whose OUTDIR holds 8 files at most
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
parts=${EVB_PARTS:-bench e2e}
for p in $parts; do
  case $p in bench | e2e) ;; *) echo "evpool bench: EVB_PARTS: unknown part '$p' (bench, e2e)" >&2; exit 2 ;; esac
done
targets=()
has() { [[ " $parts " == *" $1 "* ]]; }
has bench && targets+=(evpool-bench)
has e2e && targets+=(evpool-e2e)
cmake --build "$build" --target "${targets[@]}" -j"$(nproc)"

mode=full cycles=${EVB_E2E_CYCLES:-10000000} leak_cycles=${EVB_E2E_LEAK_CYCLES:-1000000}
e2e_deadline=${EVB_E2E_DEADLINE_S:-60}
if [ "${EVB_QUICK:-0}" = 1 ]; then
  mode=quick
  export EVB_MIN_TIME=${EVB_MIN_TIME:-0.02} EVB_DEADLINE_S=${EVB_DEADLINE_S:-3}
  cycles=${EVB_E2E_CYCLES:-20000} leak_cycles=${EVB_E2E_LEAK_CYCLES:-20000}
  e2e_deadline=${EVB_E2E_DEADLINE_S:-10}
fi
# A copy of the tree without .git (a device machine) can be told its commit.
commit=${EVB_GIT_COMMIT:-$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)}
status=0

# run NAME COMMAND...: a progress line when it starts and when it ends.
run() {
  local name=$1 start rc
  shift
  start=$(date +%s)
  echo "== evpool bench: $name: start ($(date -u +%H:%M:%S))" >&2
  "$@"
  rc=$?
  echo "== evpool bench: $name: end, exit $rc, $(($(date +%s) - start)) s" >&2
  return $rc
}

# EVB_FLAGS and EVB_E2E_FLAGS are lists of flags: split on purpose.
# shellcheck disable=SC2086
if has bench; then
  run "evpool-bench ($mode) -> $outdir/bench.json" "$build/bench/evpool-bench" \
    --benchmark_out="$outdir/bench.json" --benchmark_out_format=json \
    --benchmark_context="git_commit=$commit,evb_mode=$mode" ${EVB_FLAGS:-} "$@" || status=1
  if "$root/tools/bench-table.sh" "$outdir/bench.json" >"$outdir/bench-summary.md"; then
    cat "$outdir/bench-summary.md"
  else
    echo "evpool bench: no summary table (see above); the JSON is $outdir/bench.json" >&2
    rm -f "$outdir/bench-summary.md"
    status=1
  fi
  "$root/tools/plot-bench.sh" "$outdir/bench.json" "$outdir/bench.png" ||
    { echo "evpool bench: no plot (see above)" >&2; status=1; }
fi

# shellcheck disable=SC2086
if has e2e; then
  e2e=$build/bench/evpool-e2e
  run "evpool-e2e ($mode) -> $outdir/e2e.json" env EVB_DEADLINE_S="$e2e_deadline" "$e2e" \
    --benchmark_out="$outdir/e2e.json" --benchmark_out_format=json \
    --benchmark_context="git_commit=$commit,evb_mode=$mode" ${EVB_E2E_FLAGS:-} || status=1
  # Each bounded run's JSON lands in OUTDIR as it finishes, so a run cut
  # short (a time limit) keeps the ones that ended; merged below.
  tmp=$outdir/e2e-bounded.parts
  mkdir -p "$tmp"
  for way in evpool create_destroy create_leak; do
    n=$cycles
    [ "$way" = create_leak ] && n=$leak_cycles
    run "evpool-e2e --bounded --way=$way, $n cycles at 16 threads" "$e2e" --bounded --way="$way" \
      --cycles="$n" --threads=16 --commit="$commit" --out="$tmp/$way.json" || status=1
  done
  if ls "$tmp"/*.json >/dev/null 2>&1; then
    jq -s . "$tmp"/evpool.json "$tmp"/create_destroy.json "$tmp"/create_leak.json \
      >"$outdir/e2e-bounded.json" 2>/dev/null || jq -s . "$tmp"/*.json >"$outdir/e2e-bounded.json"
  fi
  [ -s "$outdir/e2e-bounded.json" ] && rm -rf "$tmp"
  bounded=()
  [ -s "$outdir/e2e-bounded.json" ] && bounded=("$outdir/e2e-bounded.json")
  if "$root/tools/e2e-table.sh" "$outdir/e2e.json" "${bounded[@]}" >"$outdir/e2e-summary.md"; then
    cat "$outdir/e2e-summary.md"
  else
    echo "evpool bench: no e2e summary table (see above); the JSON is $outdir/e2e.json" >&2
    rm -f "$outdir/e2e-summary.md"
    status=1
  fi
  if command -v gnuplot >/dev/null; then
    "$root/tools/plot-e2e.sh" "$outdir/e2e.json" "${bounded[0]:-}" "$outdir/e2e.png" ||
      { echo "evpool bench: no e2e plot (see above)" >&2; status=1; }
  else
    # The GPU machine's image has no gnuplot: the picture is drawn later
    # from the JSON (tools/plot-e2e.sh), not a failure of the run.
    echo "evpool bench: no e2e plot here (no gnuplot): tools/plot-e2e.sh e2e.json e2e-bounded.json" >&2
  fi
fi

if [ "${EVB_PACK:-0}" = 1 ]; then
  # Every file in one archive; the summaries stay readable beside it.
  files=()
  for f in bench.json bench.png e2e.json e2e-bounded.json e2e.png bench-summary.md e2e-summary.md; do
    [ -e "$outdir/$f" ] && files+=("$f")
  done
  tar -C "$outdir" -czf "$outdir/bench-results.tar.gz" "${files[@]}"
  (cd "$outdir" && rm -f bench.json bench.png e2e.json e2e-bounded.json e2e.png)
fi
echo "== evpool bench: done: $(find "$outdir" -mindepth 1 -maxdepth 1 -printf '%f ')in $outdir" >&2
exit $status
