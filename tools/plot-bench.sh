#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Turns an evpool-bench JSON file into a PNG: ns per operation per thread and
# aggregate throughput against thread count, one line per implementation,
# log scales, for the same_thread and cross_thread patterns.
#   tools/plot-bench.sh BENCH.json [OUT.png]   (default: BENCH.png beside it)
# Needs jq and gnuplot (Debian gnuplot-nox; tools/deps.sh installs both).
# Where gnuplot is missing and cannot be installed (the GPU machine's image:
# no package registry, but python3 with matplotlib), the same data is drawn
# with matplotlib instead. Runs that did not finish or had no GPU have no
# point; the key names the thread counts that did not finish.
set -euo pipefail

json=${1:?usage: tools/plot-bench.sh BENCH.json [OUT.png]}
png=${2:-${json%.json}.png}
command -v jq >/dev/null || { echo "plot-bench: needs jq (tools/deps.sh installs it)" >&2; exit 1; }
if [ -n "${EVB_PLOTTER:-}" ]; then
  renderer=$EVB_PLOTTER # gnuplot or matplotlib: to try the other one
elif command -v gnuplot >/dev/null; then
  renderer=gnuplot
elif command -v python3 >/dev/null && python3 -c 'import matplotlib' 2>/dev/null; then
  renderer=matplotlib
else
  echo "plot-bench: needs gnuplot (tools/deps.sh installs gnuplot-nox), or python3 with matplotlib" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One data file per pattern and implementation: threads, ns/op/thread, Mops/s.
# With --benchmark_repetitions a run has iterations and aggregates under one
# run_name: its median is the point, alone. A run with any failed repetition
# has no point.
jq -r '[.benchmarks[] | select(.aggregate_name == "median") | .run_name] as $medians
  | [.benchmarks[] | select(.error_occurred) | .run_name] as $failed
  | .benchmarks[]
  | select(.run_name as $r | $failed | index([$r]) | not)
  | select(.aggregate_name == "median"
           or (.run_type == "iteration" and (.run_name as $r | $medians | index([$r]) | not)))
  | (.run_name | split("/")) as $p
  | select($p[0] == "same_thread" or $p[0] == "cross_thread")
  | [$p[0], $p[1], .threads, .ns_per_op, .Mops_per_s] | @tsv' "$json" |
  sort -t$'\t' -k1,1 -k2,2 -k3,3n |
  awk -F'\t' -v dir="$tmp" '{ f = dir "/" $1 "__" $2 ".dat"; print $3, $4, $5 > f }'

# Thread counts where a run did not finish, per pattern and implementation:
# named in the key, since those runs have no point.
jq -r '.benchmarks[]
  | select(.run_type == "iteration" and .error_occurred and (.error_message | test("did not finish")))
  | (.run_name | split("/")) as $p | [$p[0], $p[1], .threads] | @tsv' "$json" |
  awk -F'\t' -v dir="$tmp" '{ f = dir "/" $1 "__" $2 ".dnf"; if (!done[f, $3]++) printf "%s%s", (seen[f]++ ? "," : ""), $3 > f }'

title=$(jq -r '.context | "\(.host_name // "?"): \(.cpu_model // "?"), \(.num_cpus // "?") CPUs; GPU \(.gpu_name // "?"); evpool backend \(.evpool_backend // "?"); \(.date // "")"' "$json")
threads=$(jq -r '[.benchmarks[] | .threads] | unique | map(tostring) | join(",")' "$json")
xrange=$(jq -r '[.benchmarks[] | .threads] | "[\(min / 1.25):\(max * 1.25)]"' "$json")

# Same colour for an implementation in every panel: the order it was first
# registered in (the JSON's order).
impls=$(jq -r '[.benchmarks[] | (.run_name | split("/")) | select(.[0] == "same_thread" or .[0] == "cross_thread") | .[1]]
  | reduce .[] as $i ([]; if index([$i]) then . else . + [$i] end) | .[]' "$json")

# "did not finish: ck_ring_mpmc at 4,8,16 threads" for a pattern, or nothing.
dnf_note() {
  local pattern=$1 impl note=""
  for impl in $impls; do
    [ -s "$tmp/${pattern}__${impl}.dnf" ] &&
      note="${note:+$note; }$impl at $(cat "$tmp/${pattern}__${impl}.dnf") threads"
  done
  [ -z "$note" ] || printf 'did not finish: %s' "$note"
}

# shellcheck source=tools/plot-lib.sh
. "$(dirname "$0")/plot-lib.sh"

plot_panel() { # pattern column ylabel title
  local pattern=$1 col=$2 note
  note=$(dnf_note "$pattern")
  printf 'set title "%s%s"\n' "$4" "${note:+\\n$note}"
  printf 'set ylabel "%s"\n' "$3"
  if ! ls "$tmp/${pattern}__"*.dat >/dev/null 2>&1; then
    # Nothing measured for this pattern (filtered out, or every run failed).
    printf 'set label 99 "no data" at graph 0.5,0.5 center\n'
    printf 'plot [1:2] [1:10] 5 lc rgb "white" notitle\nunset label 99\n'
    return
  fi
  local args=()
  for impl in $impls; do
    args+=("$impl" "$tmp/${pattern}__${impl}.dat")
  done
  gp_lines "$col" "${args[@]}"
}

# The fallback renderer: the same four panels from the same data files.
plot_matplotlib() {
  MPLBACKEND=Agg python3 - "$tmp" "$png" "$title" "$threads" $impls <<'PY'
import os, sys
import matplotlib.pyplot as plt
tmp, png, title, threads, impls = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
ticks = [int(t) for t in threads.split(",")]
panels = [("same_thread", 1, "same_thread: ns per lease+return pair per thread (lower is better)", "ns per pair per thread"),
          ("same_thread", 2, "same_thread: aggregate pairs per second (higher is better)", "million pairs / s"),
          ("cross_thread", 1, "cross_thread: ns per lease per submitting thread (lower is better)", "ns per lease per thread"),
          ("cross_thread", 2, "cross_thread: aggregate leases per second (higher is better)", "million leases / s")]
fig, axes = plt.subplots(2, 2, figsize=(16, 11))
fig.suptitle("evpool-bench — " + title)
for ax, (pattern, col, name, ylabel) in zip(axes.flat, panels):
    for n, impl in enumerate(impls):
        f = os.path.join(tmp, "%s__%s.dat" % (pattern, impl))
        if not os.path.exists(f) or os.path.getsize(f) == 0:
            continue
        rows = [l.split() for l in open(f)]
        ax.plot([float(r[0]) for r in rows], [float(r[col]) for r in rows], "o-", lw=2,
                color="C%d" % (n % 10), label=impl)
    dnf = ["%s at %s threads" % (impl, open(f).read()) for impl in impls
           for f in [os.path.join(tmp, "%s__%s.dnf" % (pattern, impl))] if os.path.exists(f)]
    ax.set_title(name + ("\ndid not finish: " + "; ".join(dnf) if dnf else ""))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks])
    ax.set_xlim(min(ticks) / 1.25, max(ticks) * 1.25)
    ax.set_xlabel("threads (submitting threads for cross_thread)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize="small")
    else:
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center")
fig.tight_layout()
fig.savefig(png, dpi=100)
PY
}

if [ "$renderer" = matplotlib ]; then
  plot_matplotlib
  echo "plot-bench: wrote $png (matplotlib: gnuplot is not installed)" >&2
  exit 0
fi

{
  cat <<EOF
set terminal pngcairo size 1800,1100 font "DejaVu Sans,11" noenhanced
set output "$png"
set multiplot layout 2,2 title "evpool-bench — ${title}" font ",13"
set logscale x 2
set xrange ${xrange}
set logscale y 10
set grid xtics ytics mytics
set xtics (${threads})
set xlabel "threads (submitting threads for cross_thread)"
set key outside right top vertical box
# The same right margin everywhere, so the four panels line up whatever
# the width of their keys.
set rmargin 24
set format y "%g"
EOF
  plot_panel same_thread 2 "ns per pair per thread" \
    "same_thread: ns per lease+return pair per thread (lower is better)"
  plot_panel same_thread 3 "million pairs / s" \
    "same_thread: aggregate pairs per second (higher is better)"
  plot_panel cross_thread 2 "ns per lease per thread" \
    "cross_thread: ns per lease per submitting thread (lower is better)"
  plot_panel cross_thread 3 "million leases / s" \
    "cross_thread: aggregate leases per second (higher is better)"
  echo 'unset multiplot'
} > "$tmp/plot.gp"

gnuplot "$tmp/plot.gp"
echo "plot-bench: wrote $png" >&2
