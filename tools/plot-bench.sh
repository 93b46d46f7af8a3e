#!/usr/bin/env bash
# Turns an evpool-bench JSON file into a PNG: ns per operation per thread and
# aggregate throughput against thread count, one line per implementation,
# log scales, for the same_thread and cross_thread patterns.
#   tools/plot-bench.sh BENCH.json [OUT.png]   (default: BENCH.png beside it)
# Needs jq and gnuplot (Debian gnuplot-nox; tools/deps.sh installs both).
# Runs that did not finish or had no GPU have no point.
set -euo pipefail

json=${1:?usage: tools/plot-bench.sh BENCH.json [OUT.png]}
png=${2:-${json%.json}.png}
for tool in jq gnuplot; do
  command -v "$tool" >/dev/null || { echo "plot-bench: needs $tool (tools/deps.sh installs it)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One data file per pattern and implementation: threads, ns/op/thread, Mops/s.
jq -r '.benchmarks[]
  | select((.run_type == "iteration" or .aggregate_name == "median") and (.error_occurred | not))
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
  awk -F'\t' -v dir="$tmp" '{ f = dir "/" $1 "__" $2 ".dnf"; printf "%s%s", (seen[f]++ ? "," : ""), $3 > f }'

title=$(jq -r '.context | "\(.host_name // "?"): \(.cpu_model // "?"), \(.num_cpus // "?") CPUs; GPU \(.gpu_name // "?"); evpool backend \(.evpool_backend // "?"); \(.date // "")"' "$json")
threads=$(jq -r '[.benchmarks[] | .threads] | unique | map(tostring) | join(",")' "$json")
xrange=$(jq -r '[.benchmarks[] | .threads] | "[\(min / 1.25):\(max * 1.25)]"' "$json")

# Same colour for an implementation in every panel: the order it was first
# registered in (the JSON's order).
impls=$(jq -r '[.benchmarks[] | (.run_name | split("/")) | select(.[0] == "same_thread" or .[0] == "cross_thread") | .[1]]
  | reduce .[] as $i ([]; if index([$i]) then . else . + [$i] end) | .[]' "$json")

plot_panel() { # pattern column ylabel
  local pattern=$1 col=$2 first=1 n=0 f
  printf 'set ylabel "%s"\n' "$3"
  if ! ls "$tmp/${pattern}__"*.dat >/dev/null 2>&1; then
    # Nothing measured for this pattern (filtered out, or every run failed).
    printf 'set label 99 "no data" at graph 0.5,0.5 center\n'
    printf 'plot [1:2] [1:10] 5 lc rgb "white" notitle\nunset label 99\n'
    return
  fi
  printf 'plot '
  for impl in $impls; do
    n=$((n + 1))
    f="$tmp/${pattern}__${impl}.dat"
    [ -s "$f" ] || continue
    [ $first -eq 1 ] || printf ', \\\n     '
    first=0
    local name=$impl
    [ -s "$tmp/${pattern}__${impl}.dnf" ] && name="$impl (did not finish at $(cat "$tmp/${pattern}__${impl}.dnf") threads)"
    printf '"%s" using 1:%s with linespoints lt %d lw 2 pt 7 ps 1 title "%s"' "$f" "$col" "$n" "$name"
  done
  printf '\n'
}

{
  cat <<EOF
set terminal pngcairo size 1600,1100 font "DejaVu Sans,11" noenhanced
set output "$png"
set multiplot layout 2,2 title "evpool-bench — ${title}" font ",13"
set logscale x 2
set xrange ${xrange}
set logscale y 10
set grid xtics ytics mytics
set xtics (${threads})
set xlabel "threads (submitting threads for cross_thread)"
set key top left box opaque
set format y "%g"
EOF
  echo 'set title "same_thread: ns per lease+return pair per thread (lower is better)"'
  plot_panel same_thread 2 "ns per pair per thread"
  echo 'set title "same_thread: aggregate pairs per second (higher is better)"'
  plot_panel same_thread 3 "million pairs / s"
  echo 'set title "cross_thread: ns per lease per submitting thread (lower is better)"'
  plot_panel cross_thread 2 "ns per lease per thread"
  echo 'set title "cross_thread: aggregate leases per second (higher is better)"'
  plot_panel cross_thread 3 "million leases / s"
  echo 'unset multiplot'
} > "$tmp/plot.gp"

gnuplot "$tmp/plot.gp"
echo "plot-bench: wrote $png" >&2
