#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CTest e2e_smoke: evpool-e2e briefly on the host backend (4 KiB requests,
# both modes, every way, its thread counts; then short bounded runs), and
# the JSON checked for every series: each way of each mode ran at every
# thread count without an error, and the bounded runs have their samples
# (evpool's live events flat). Exit 77 (skipped) without jq.
#   e2e_smoke.sh EVPOOL-E2E OUTDIR
set -euo pipefail

bin=${1:?usage: e2e_smoke.sh EVPOOL-E2E OUTDIR}
out=${2:?usage: e2e_smoke.sh EVPOOL-E2E OUTDIR}
command -v jq >/dev/null || { echo "e2e_smoke: jq is not installed (tools/deps.sh): skipped"; exit 77; }
mkdir -p "$out"
export EVPOOL_BACKEND=host EVB_MIN_TIME=0.01 EVB_DEADLINE_S=20

"$bin" --benchmark_filter='/4KiB/' --benchmark_out="$out/e2e.json" --benchmark_out_format=json >/dev/null
for way in evpool create_destroy create_leak; do
  "$bin" --bounded --way="$way" --cycles=4000 --threads=4 --samples=5 --out="$out/$way.json"
done
# Bad arguments are refused with a message and exit 2.
rc=0
"$bin" --bounded --way=nonsense --out="$out/x.json" 2>"$out/bad.txt" || rc=$?
[ "$rc" -eq 2 ] && grep -q -- '--way must be' "$out/bad.txt" || { echo "e2e_smoke: a bad --way was not refused (exit $rc)"; exit 1; }

jq -e -r '
  def want: ["evpool_host", "floor", "create_destroy", "mutex_vector", "bare_copy"];
  [.benchmarks[] | (.run_name | split("/")) as $p | {mode: $p[0], way: $p[2], threads, err: .error_occurred, ops}] as $r
  | ($r | map(.threads) | unique) as $t
  | [ ["e2e_submit", "e2e_roundtrip"][] as $m | want[] as $w | $t[] as $n
      | select([$r[] | select(.mode == $m and .way == $w and .threads == $n and (.err | not) and .ops > 0)] | length == 0)
      | "\($m)/\($w) at \($n) threads: missing or failed" ] as $missing
  | if ($missing | length) == 0 and ($t | length) >= 2 then "e2e_smoke: \($r | length) runs, every series present"
    else ($missing[], "e2e_smoke: FAILED") | halt_error(1) end' "$out/e2e.json"

for way in evpool create_destroy create_leak; do
  jq -e -r --arg w "$way" '
    (.samples | length) as $n | (.samples | first) as $a | (.samples | last) as $b
    | if $n < 3 or $b.cycles != .cycles then "e2e_smoke: bounded \($w): \($n) samples, \($b.cycles) of \(.cycles) cycles\n" | halt_error(1)
      elif $w == "evpool" and $a.live_events != $b.live_events then "e2e_smoke: bounded evpool: live events \($a.live_events) -> \($b.live_events)\n" | halt_error(1)
      elif $w == "create_leak" and $b.live_events != .cycles then "e2e_smoke: bounded create_leak: \($b.live_events) live of \(.cycles)\n" | halt_error(1)
      else "e2e_smoke: bounded \($w): \($n) samples, live events \($a.live_events) -> \($b.live_events)" end' "$out/$way.json"
done
