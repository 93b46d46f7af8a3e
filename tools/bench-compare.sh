#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the same benchmarks from two source trees on one machine, in one
# call, alternating, so that their ratio means something on a shared host:
#
#   tools/bench-compare.sh OUTDIR BASELINE_SRC [FILTER] [ROUNDS]
#
#   BASELINE_SRC  an evpool source tree (e.g. `git archive <commit>` unpacked)
#                 whose evpool-bench is the baseline
#   FILTER        --benchmark_filter regex (default: the pool patterns,
#                 same_thread|cross_thread of evpool, ck_ring and mutex)
#   ROUNDS        baseline/current alternations (default 2)
#
# Writes OUTDIR/baseline-<i>.json and OUTDIR/current-<i>.json (Google
# Benchmark JSON) and OUTDIR/compare.md: per benchmark present in both, the
# medians over the rounds of ns_per_op, Mops_per_s and p99_ns, and the ratio
# current / baseline. The current tree is the one this script lives in.
# Needs what tools/bench.sh needs (and python3 for the table).
set -euo pipefail

[ $# -ge 2 ] || { sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
mkdir -p "$1"
out=$(cd "$1" && pwd)
base_src=$(cd "$2" && pwd)
filter=${3:-'^(same_thread|cross_thread)[a-z_]*/(evpool_tc64|evpool_tc0|ck_ring_mpmc|mutex_vector)/'}
rounds=${4:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
cuda=${CUDA_HOME:-/usr/local/cuda}
jobs=$(nproc 2>/dev/null || echo 4)

build_bench() { # SRC BUILD_DIR
  cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DCUDAToolkit_ROOT="$cuda" \
    -DEVPOOL_BUILD_BENCH=ON -DEVPOOL_BUILD_TESTS=OFF -DEVPOOL_BUILD_EXAMPLES=OFF \
    -DEVPOOL_BUILD_TOOLS=OFF >/dev/null
  cmake --build "$2" --target evpool-bench -j"$jobs" >/dev/null
}

echo "== bench-compare: building baseline ($base_src) and current ($root)" >&2
build_bench "$base_src" "$root/build-compare/baseline"
build_bench "$root" "$root/build-compare/current"

for i in $(seq 1 "$rounds"); do
  for which in baseline current; do
    echo "== bench-compare: round $i/$rounds: $which" >&2
    "$root/build-compare/$which/bench/evpool-bench" --benchmark_filter="$filter" \
      --benchmark_out="$out/$which-$i.json" --benchmark_out_format=json \
      --benchmark_context="tree=$which,round=$i" >/dev/null
  done
done

python3 - "$out" "$rounds" >"$out/compare.md" <<'EOF'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def load(which):
    runs = {}
    for i in range(1, rounds + 1):
        for b in json.load(open(f"{out}/{which}-{i}.json"))["benchmarks"]:
            if b.get("run_type") != "iteration":
                continue
            runs.setdefault(b["run_name"], []).append(None if b.get("error_occurred") else b)
    return runs
base, cur = load("baseline"), load("current")
def med(rs, key):
    vals = [r[key] for r in rs if r and key in r]
    return statistics.median(vals) if vals and len(vals) == len(rs) else None
def f(v):
    return "DNF/err" if v is None else f"{v:,.1f}"
print(f"# evpool-bench, baseline vs current, medians of {rounds} alternating rounds\n")
print("| benchmark | ns/op base | ns/op cur | cur/base | Mops/s base | Mops/s cur | p99 ns base | p99 ns cur |")
print("|---|---|---|---|---|---|---|---|")
for name in sorted(set(base) & set(cur)):
    b, c = base[name], cur[name]
    nb, nc = med(b, "ns_per_op"), med(c, "ns_per_op")
    ratio = f"{nc / nb:.2f}" if nb and nc else "-"
    print(f"| {name.replace('/real_time', '')} | {f(nb)} | {f(nc)} | {ratio} | {f(med(b, 'Mops_per_s'))} | "
          f"{f(med(c, 'Mops_per_s'))} | {f(med(b, 'p99_ns'))} | {f(med(c, 'p99_ns'))} |")
EOF
cat "$out/compare.md"
