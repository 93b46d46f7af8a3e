#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Prints the end-to-end benchmark's tables (Markdown) from evpool-e2e's JSON
# and, if given, the bounded-resources runs (a JSON array of
# `evpool-e2e --bounded` outputs, as tools/bench.sh writes e2e-bounded.json):
#   tools/e2e-table.sh E2E.json [E2E-BOUNDED.json]
# Needs jq. Every number comes from the JSON; nothing is computed here but
# ratios of two measured numbers, and, for create_leak (which grows by
# design), its measured growth per cycle times 10,000,000, labelled as such.
#
# The targets (issue "submit latency end to end"), per <where> and evpool
# transport, each judged met or missed with the worst ratio:
#   p50 submit <= 1.15 x the floor's, every thread count and size
#   p99 submit <= 1.5 x the floor's, every thread count and size
#   16 threads: create_destroy p99 submit >= 10 x evpool's, every size
#   round-trip GB/s at 64 MiB >= 0.95 x the floor's, every thread count
set -euo pipefail

json=${1:?usage: tools/e2e-table.sh E2E.json [E2E-BOUNDED.json]}
bounded=${2:-}
command -v jq >/dev/null || { echo "e2e-table: needs jq (tools/deps.sh installs it)" >&2; exit 1; }
for f in "$json" $bounded; do
  [ -r "$f" ] || { echo "e2e-table: cannot read $f" >&2; exit 1; }
done

jq -r -f /dev/stdin "$json" <<'JQ'
def r3: if . == null then null elif . >= 100 then round elif . >= 10 then (. * 10 | round) / 10
        else (. * 100 | round) / 100 end;
def us: if . == null then "-" else (. / 1000 | r3 | tostring) end;
def num: if . == null then "-" else (r3 | tostring) end;
def sizes: ["4KiB", "64KiB", "4MiB", "64MiB"];
def worst(f): (map(select(.r != null)) | max_by(f)) // null;
.context as $c
| (first(.benchmarks[] | .label // empty) // "?") as $runlabel
# One record per run: the median where repetitions made one, else the run.
| [ .benchmarks[]
    | select(.run_type == "iteration" or .aggregate_name == "median")
    | (.run_name | split("/")) as $p
    | { mode: ($p[0] | sub("^e2e_"; "")), where: $p[1], way: $p[2], size: $p[3], threads,
        p50: .p50_ns, p99: .p99_ns, p999: .p999_ns, gbps: .GB_per_s,
        prep: .prepare_ns, sub: .submit_ns, wait: .wait_ns, rel: .release_ns,
        err: (if .error_occurred then .error_message else null end) } ]
| group_by([.mode, .where, .way, .size, .threads]) | map(last) as $runs
| def cell($m; $w; $way; $s; $t): first($runs[] | select(.mode == $m and .where == $w and .way == $way
                                                        and .size == $s and .threads == $t)) // null;
  ($runs | map(.where) | unique) as $wheres
| ($runs | map(.threads) | unique) as $threads
| "# evpool-e2e on \($c.host_name // "?")",
  "",
  "- date: \($c.date // "?"), evpool \($c.evpool_version // "?") at \($c.git_commit // "unknown commit"), mode \($c.evb_mode // "?")",
  "- CPU: \($c.cpu_model // "?"), \($c.num_cpus // "?") CPUs; GPU: \($c.gpu_name // "?") x \($c.gpu_count // "?"); NVIDIA driver \($c.nvidia_driver // "?"); CUDA runtime \($c.cuda_runtime // "?")",
  "- timer \($c.evb_clock // "?") (\($c.evb_timer_ns // "?") ns per timed interval, in every percentile); run deadline \($c.evb_deadline_s // "?") s",
  "- where: \($c.e2e_wheres // "?")",
  "- label of the runs: \($runlabel)",
  "",
  ( $wheres[] as $w
    | ($runs | map(select(.where == $w)) | map(.way) | unique) as $ways0
    | ([$ways0[] | select(startswith("evpool"))] + (["floor", "create_destroy", "mutex_vector", "bare_copy"]
         | map(select(. as $x | $ways0 | index($x))))) as $ways
    | ( ["submit", "roundtrip"][] as $m
        | "## \(if $m == "submit" then "Submit" else "Round trip" end), \($w): p50 / p99 / p99.9 µs\(if $m == "roundtrip" then ", GB/s" else "" end)",
          "",
          "| size | threads | " + ($ways | join(" | ")) + " |",
          "|---|--:|" + ($ways | map("--:") | join("|")) + "|",
          ( sizes[] as $s | $threads[] as $t
            | [ $s, ($t | tostring),
                ( $ways[] as $way | cell($m; $w; $way; $s; $t)
                  | if . == null then "-"
                    elif .err != null then (if (.err | test("did not finish")) then "DNF" else "error" end)
                    else "\(.p50 | us) / \(.p99 | us) / \(.p999 | us)"
                         + (if $m == "roundtrip" then ", \(.gbps | num)" else "" end) end ) ]
            | "| " + join(" | ") + " |" ),
          "" ),
      ( $runs | map(select(.where == $w and .err != null)) | map("- \(.mode)/\(.way)/\(.size) at \(.threads) threads: \(.err)") | unique
        | if length > 0 then ("Runs that failed, \($w):", "", .[], "") else empty end ),
      ( $ways[] | select(startswith("evpool")) as $ev
        | [ sizes[] as $s | $threads[] as $t
            | { s: $s, t: $t, e: cell("submit"; $w; $ev; $s; $t), f: cell("submit"; $w; "floor"; $s; $t),
                c: cell("submit"; $w; "create_destroy"; $s; $t),
                re: cell("roundtrip"; $w; $ev; $s; $t), rf: cell("roundtrip"; $w; "floor"; $s; $t) } ] as $x
        | ($x | map(. + {r: (if .e.p50 != null and .f.p50 != null and .e.err == null and .f.err == null
                            then .e.p50 / .f.p50 else null end)}) | worst(.r)) as $p50
        | ($x | map(. + {r: (if .e.p99 != null and .f.p99 != null and .e.err == null and .f.err == null
                            then .e.p99 / .f.p99 else null end)}) | worst(.r)) as $p99
        | ($x | map(select(.t == 16)) | map(. + {r: (if .e.p99 != null and .c.p99 != null and .e.err == null and .c.err == null
                            then .c.p99 / .e.p99 else null end)})) as $cd
        | ($cd | map(select(.r != null)) | min_by(.r)) as $cdw
        | ($x | map(select(.s == "64MiB")) | map(. + {r: (if .re.gbps != null and .rf.gbps != null and .re.err == null and .rf.err == null
                            then .re.gbps / .rf.gbps else null end)})) as $bw
        | ($bw | map(select(.r != null)) | min_by(.r)) as $bww
        | def verdict(ok): if ok then "met" else "missed" end;
          def at(v): "\(v.s) at \(v.t) threads";
          "## Targets, \($w), \($ev) (ratios within this run)",
          "",
          "| target | worst measured | |",
          "|---|---|---|",
          ( if $p50 == null then "| p50 submit <= 1.15 x floor, every size and thread count | no data | - |"
            else "| p50 submit <= 1.15 x floor, every size and thread count | \($p50.r | r3)x (\(at($p50))) | \(verdict($p50.r <= 1.15)) |" end ),
          ( if $p99 == null then "| p99 submit <= 1.5 x floor, every size and thread count | no data | - |"
            else "| p99 submit <= 1.5 x floor, every size and thread count | \($p99.r | r3)x (\(at($p99))) | \(verdict($p99.r <= 1.5)) |" end ),
          ( if $cdw == null then "| 16 threads: p99 submit >= 10x lower than create_destroy | no data at 16 threads | - |"
            else "| 16 threads: p99 submit >= 10x lower than create_destroy | \($cdw.r | r3)x lower (\(at($cdw))) | \(verdict($cdw.r >= 10)) |" end ),
          ( if $bww == null then "| round-trip GB/s at 64 MiB within 5% of floor | no data | - |"
            else "| round-trip GB/s at 64 MiB within 5% of floor | \($bww.r | r3)x the floor's (\(at($bww))) | \(verdict($bww.r >= 0.95)) |" end ),
          "",
          "evpool / floor per cell (p50 submit, p99 submit; round-trip GB/s):",
          "",
          "| size | " + ($threads | map("\(.) threads") | join(" | ")) + " |",
          "|---|" + ($threads | map("--:") | join("|")) + "|",
          ( sizes[] as $s
            | [ $s, ( $threads[] as $t | first($x[] | select(.s == $s and .t == $t))
                      | def q(a; b; f): if a == null or b == null or a.err != null or b.err != null or (b | f) == null or (b | f) == 0
                                         then "-" else ((a | f) / (b | f) | r3 | tostring) end;
                        "\(q(.e; .f; .p50)), \(q(.e; .f; .p99)); \(q(.re; .rf; .gbps))" ) ]
            | "| " + join(" | ") + " |" ),
          "" ),
      ( "## Steps, \($w): where a 4 KiB round trip spends its time, mean µs per operation",
        "",
        "prepare = evpool's evp_transport_batch_alloc; submit = the submit call (evpool: lease, resolve, copy, record); wait = polling to completion; release = evpool's evp_transport_batch_free, create_destroy's destroy, mutex_vector's push.",
        "",
        "| way | threads | prepare | submit | wait | release | total |",
        "|---|--:|--:|--:|--:|--:|--:|",
        ( $ways[] as $way | $threads[] as $t | cell("roundtrip"; $w; $way; "4KiB"; $t)
          | select(. != null and .err == null)
          | "| \($way) | \($t) | \(.prep | us) | \(.sub | us) | \(.wait | us) | \(.rel | us) | \(((.prep // 0) + (.sub // 0) + (.wait // 0) + (.rel // 0)) | us) |" ),
        "" ) )
JQ

[ -n "$bounded" ] || exit 0
jq -r -f /dev/stdin "$bounded" <<'JQ'
def mib: . / 1048576 * 10 | round / 10;
"## Bounded resources: live events and RSS over submit/free cycles",
"",
"| way | transport | threads | cycles | seconds | live events first -> last | RSS MiB first -> last | growth per cycle (events, bytes of RSS) |",
"|---|---|--:|--:|--:|--:|--:|---|",
( .[] | (.samples | first) as $a | (.samples | last) as $b
  | (if $b.cycles > $a.cycles then ($b.live_events - $a.live_events) / ($b.cycles - $a.cycles) else 0 end) as $ev
  | (if $b.cycles > $a.cycles then ($b.rss_bytes - $a.rss_bytes) / ($b.cycles - $a.cycles) else 0 end) as $rss
  | "| \(.way) | \(.transport) | \(.threads) | \(.cycles) | \(.seconds) | \($a.live_events) -> \($b.live_events) | \($a.rss_bytes | mib) -> \($b.rss_bytes | mib) | "
    + "\($ev * 1000 | round / 1000), \($rss | round) B"
    + (if .way == "create_leak" then "; extrapolated to 10,000,000 cycles: \($ev * 1e7 | round) live events, +\($rss * 1e7 | mib) MiB RSS (measured over \(.cycles) cycles only)" else "" end)
    + (if .pool then "; pool: \(.pool.created) created (size \(.pool.size), max \(.pool.max)), high-water \(.pool.high_water)" else "" end)
    + " |" ),
""
JQ
