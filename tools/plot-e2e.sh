#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Turns evpool-e2e's JSON (and the bounded runs, if given) into a PNG:
#   tools/plot-e2e.sh E2E.json [E2E-BOUNDED.json] [OUT.png] [WHERE...]
#     (default OUT: E2E.png beside it; WHERE: every one in the JSON, in
#     its order: host, or same_gpu then two_gpus)
# Rows, for each WHERE: p50 submit, p99 submit and round-trip GB/s against
# threads, one panel per request size, one line per way (log scales);
# then, from the bounded runs, live events and RSS against submit/free
# cycles.
# Needs jq and gnuplot (tools/deps.sh installs both). Failed runs have no
# point.
set -euo pipefail

json=${1:?usage: tools/plot-e2e.sh E2E.json [E2E-BOUNDED.json] [OUT.png] [WHERE...]}
bounded=${2:-}
png=${3:-${json%.json}.png}
shift $(($# < 3 ? $# : 3))
command -v jq >/dev/null || { echo "plot-e2e: needs jq (tools/deps.sh installs it)" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "plot-e2e: needs gnuplot (tools/deps.sh installs gnuplot-nox)" >&2; exit 1; }
wheres=${*:-$(jq -r '[.benchmarks[] | .run_name | split("/")[1]]
  | reduce .[] as $i ([]; if index([$i]) then . else . + [$i] end) | .[]' "$json")}
[ -n "$wheres" ] || { echo "plot-e2e: no e2e runs in $json" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One data file per where, mode, size and way: threads p50_us p99_us GB/s
# (the median where repetitions made one; no point for a failed run).
jq -r '
  [.benchmarks[] | select(.error_occurred) | .run_name] as $failed
  | [.benchmarks[] | select(.run_type == "iteration" or .aggregate_name == "median")
     | select(.run_name as $r | $failed | index([$r]) | not)
     | (.run_name | split("/")) as $p
     | {k: "\($p[1])__\($p[0])__\($p[3])__\($p[2])", threads, p50: (.p50_ns / 1000), p99: (.p99_ns / 1000), gbps: .GB_per_s}]
  | group_by([.k, .threads]) | map(last) | .[] | [.k, .threads, .p50, .p99, .gbps] | @tsv' "$json" |
  sort -t$'\t' -k1,1 -k2,2n |
  awk -F'\t' -v dir="$tmp" '{ print $2, $3, $4, $5 > (dir "/" $1 ".dat") }'

# Every way of every where, in the JSON's order: one colour each.
ways=$(jq -r '[.benchmarks[] | .run_name | split("/") | .[2]]
  | reduce .[] as $i ([]; if index([$i]) then . else . + [$i] end) | .[]' "$json")
threads=$(jq -r '[.benchmarks[] | .threads] | unique | map(tostring) | join(",")' "$json")
xrange=$(jq -r '[.benchmarks[] | .threads] | "[\(min / 1.25):\(max * 1.25)]"' "$json")
title=$(jq -r '.context | "\(.host_name // "?"), \(.cpu_model // "?"), \(.num_cpus // "?") CPUs; GPU \(.gpu_name // "?"); commit \(.git_commit // "?"); \(.date // "")"' "$json")

# shellcheck source=tools/plot-lib.sh
. "$(dirname "$0")/plot-lib.sh"

panel() { # where mode size column ylabel title
  local way args=()
  printf 'set title "%s"\nset ylabel "%s"\n' "$6" "$5"
  for way in $ways; do
    args+=("$way" "$tmp/${1}__e2e_${2}__${3}__${way}.dat")
  done
  gp_lines "$4" "${args[@]}"
}

nwheres=$(wc -w <<<"$wheres")
rows=$((3 * nwheres))
if [ -n "$bounded" ]; then
  rows=$((rows + 1))
  # cycles live_events rss_MiB per bounded way.
  jq -r '.[] | .way as $w | .samples[] | [$w, .cycles, .live_events, (.rss_bytes / 1048576)] | @tsv' "$bounded" |
    awk -F'\t' -v dir="$tmp" '{ print $2, $3, $4 > (dir "/bounded__" $1 ".dat") }'
fi

{
  cat <<EOF
set terminal pngcairo size 2000,$((rows * 420)) font "DejaVu Sans,10" noenhanced
set output "$png"
set multiplot layout $rows,4 title "evpool-e2e — ${title}" font ",12"
set logscale x 2
set xtics (${threads})
set xrange ${xrange}
set xlabel "submitting threads"
set logscale y 10
set grid xtics ytics mytics
set key top left font ",8"
set format y "%g"
EOF
  for where in $wheres; do
    for size in 4KiB 64KiB 4MiB 64MiB; do
      panel "$where" submit "$size" 2 "µs" "$where: p50 submit, $size (lower is better)"
    done
    for size in 4KiB 64KiB 4MiB 64MiB; do
      panel "$where" submit "$size" 3 "µs" "$where: p99 submit, $size (lower is better)"
    done
    for size in 4KiB 64KiB 4MiB 64MiB; do
      panel "$where" roundtrip "$size" 4 "GB/s" "$where: round trip GB/s, $size (higher is better)"
    done
  done
  if [ -n "$bounded" ]; then
    echo 'unset logscale x; set autoscale x; set xtics autofreq; set xlabel "submit/free cycles"; set format x "%.0s%c"'
    for col in 2:live 3:rss; do
      printf 'set title "%s"\nset ylabel "%s"\n' \
        "$([ "${col#*:}" = live ] && echo 'live events (log)' || echo 'RSS, MiB (log)')" \
        "$([ "${col#*:}" = live ] && echo 'events' || echo 'MiB')"
      args=()
      for f in "$tmp"/bounded__*.dat; do
        w=${f##*/bounded__}
        args+=("${w%.dat}" "$f")
      done
      # Log scale: a count of 0 is drawn at 1.
      gp_lines "(\$${col%%:*} > 0 ? \$${col%%:*} : 1)" "${args[@]}"
    done
  fi
  echo 'unset multiplot'
} >"$tmp/plot.gp"

gnuplot "$tmp/plot.gp"
echo "plot-e2e: wrote $png" >&2
