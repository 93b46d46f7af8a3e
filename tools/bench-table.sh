#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Prints the summary tables (Markdown) of an evpool-bench JSON file:
#   tools/bench-table.sh bench/results/<run>/bench.json
# Needs jq and awk (tools/deps.sh installs jq). Every number comes from the
# JSON's counters (see bench/evb_run.h for what each one is); nothing is
# computed here but ratios of two measured numbers.
set -euo pipefail

json=${1:?usage: tools/bench-table.sh BENCH.json}
[ -r "$json" ] || { echo "bench-table: cannot read $json" >&2; exit 1; }
command -v jq >/dev/null || { echo "bench-table: needs jq (tools/deps.sh installs it)" >&2; exit 1; }

# The machine, from the context evpool-bench wrote.
jq -r '.context as $c |
  "# evpool-bench on \($c.host_name // "?")",
  "",
  "- date: \($c.date // "?"), evpool \($c.evpool_version // "?") at \($c.git_commit // "unknown commit"), mode \($c.evb_mode // "?")",
  "- CPU: \($c.cpu_model // "?"), \($c.num_cpus // "?") CPUs; load average at start \(($c.load_avg // []) | map(. * 100 | round / 100 | tostring) | join(" "))",
  "- GPU: \($c.gpu_name // "?"); NVIDIA driver \($c.nvidia_driver // "?"); CUDA driver API \($c.cuda_driver_api // "?"), runtime \($c.cuda_runtime // "?")",
  "- evpool backend: \($c.evpool_backend // "?"); pool capacity in the pattern runs \($c.evb_pool_capacity // "?") (more beyond 32 threads: the capacity counter); timer \($c.evb_clock // "?") (\($c.evb_timer_ns // "?") ns per timed interval, included in the percentiles); run deadline \($c.evb_deadline_s // "?") s",
  ""' "$json"

# One TSV row per run: group, impl, threads, status, counters, error.
# With --benchmark_repetitions the median aggregate comes after the
# iterations and replaces them (awk keeps the last row per key), unless a
# repetition failed (then there is no aggregate, and the run is failed).
jq -r '
  def n(x): if x == null then "" else (x | tostring) end;
  .benchmarks[]
  | select(.run_type == "iteration" or .aggregate_name == "median")
  | (.run_name | split("/")) as $p
  | [ $p[0], $p[1], (.threads | tostring),
      (if .error_occurred then
         (if (.error_message | test("did not finish")) then "DNF"
          elif (.error_message | test("no GPU")) then "noGPU"
          else "ERR" end)
       else "ok" end),
      n(.ns_per_op), n(.Mops_per_s), n(.p50_ns), n(.p99_ns), n(.p999_ns), n(.max_ns),
      n(.eagain), n(.timeout_ns), n(.max_wait_ratio), n(.exhaust_waits), n(.steals),
      n(.retire_ns), (.error_message // "" | gsub("\t"; " ")) ]
  | @tsv' "$json" |
awk -F'\t' '
function fmt(x) {
  if (x == "") return "-";
  x += 0;
  if (x >= 100) return sprintf("%.0f", x);
  if (x >= 10) return sprintf("%.1f", x);
  return sprintf("%.2f", x);
}
function status_cell(s) {
  if (s == "DNF") return "DNF";
  if (s == "noGPU") return "no GPU";
  return "error";
}
function note(msg) {
  if (msg != "" && !(msg in noted)) { noted[msg] = ++nnotes; notes[nnotes] = msg; }
}
{
  g = $1; im = $2; t = $3 + 0; k = g SUBSEP im SUBSEP t;
  if (!(g in gseen)) { gseen[g] = 1; groups[++ngroups] = g; }
  if (!((g, im) in iseen)) { iseen[g, im] = 1; impls[g, ++nimpl[g]] = im; }
  if (!((g, t) in tseen)) { tseen[g, t] = 1; thr[g, ++nthr[g]] = t; }
  # A run with several repetitions is as bad as its worst one: one that did
  # not finish makes the run "DNF" even if another repetition finished.
  if ($4 != "ok") bad[k] = $4;
  st[k] = (k in bad) ? bad[k] : $4; ns[k] = $5; mops[k] = $6; p50[k] = $7; p99[k] = $8; p999[k] = $9;
  mx[k] = $10; eagain[k] = $11; tmo[k] = $12; ratio[k] = $13; waits[k] = $14;
  steals[k] = $15; retire[k] = $16; err[k] = $17;
  # A missing GPU is one note for all its runs; anything else, one per run.
  if ($4 == "noGPU") note($17);
  else if ($4 != "ok") note(g "/" im " at " t " threads: " $17);
}
function sort_threads(g,   i, j, tmp) {
  for (i = 2; i <= nthr[g]; i++)
    for (j = i; j > 1 && thr[g, j - 1] > thr[g, j]; j--) {
      tmp = thr[g, j]; thr[g, j] = thr[g, j - 1]; thr[g, j - 1] = tmp;
    }
}
function header(g, first,   i, line, sep) {
  line = "| " first; sep = "|--:";
  for (i = 1; i <= nimpl[g]; i++) { line = line " | " impls[g, i]; sep = sep "|--:"; }
  print line " |"; print sep "|";
}
# same_thread / cross_thread: the pattern tables.
function pattern_tables(g, what, lat,   i, j, t, k, line, ref, refk, other, ok) {
  print "## " g ": " what;
  print "";
  print "ns per operation per thread (aggregate millions of operations per second); flat = perfect scaling.";
  print "";
  header(g, "threads");
  for (j = 1; j <= nthr[g]; j++) {
    t = thr[g, j]; line = "| " t;
    for (i = 1; i <= nimpl[g]; i++) {
      k = g SUBSEP impls[g, i] SUBSEP t;
      if (!(k in st)) line = line " | -";
      else if (st[k] != "ok") line = line " | " status_cell(st[k]);
      else line = line " | " fmt(ns[k]) " (" fmt(mops[k]) ")";
    }
    print line " |";
  }
  print "";
  print lat " latency, p50 / p99 ns (sampled about 1 in 64 operations; includes the timer).";
  print "";
  header(g, "threads");
  for (j = 1; j <= nthr[g]; j++) {
    t = thr[g, j]; line = "| " t;
    for (i = 1; i <= nimpl[g]; i++) {
      k = g SUBSEP impls[g, i] SUBSEP t;
      if (!(k in st)) line = line " | -";
      else if (st[k] != "ok") line = line " | " status_cell(st[k]);
      else line = line " | " fmt(p50[k]) " / " fmt(p99[k]);
    }
    print line " |";
  }
  print "";
  ref = impls[g, 1];
  print "Speed-up of " ref " (its aggregate throughput / the other one at the same thread count).";
  print "";
  line = "| threads"; sep = "|--:";
  for (i = 2; i <= nimpl[g]; i++) { line = line " | vs " impls[g, i]; sep = sep "|--:"; }
  print line " |"; print sep "|";
  for (j = 1; j <= nthr[g]; j++) {
    t = thr[g, j]; line = "| " t; refk = g SUBSEP ref SUBSEP t;
    for (i = 2; i <= nimpl[g]; i++) {
      other = g SUBSEP impls[g, i] SUBSEP t;
      ok = (refk in st) && st[refk] == "ok" && ns[refk] > 0;
      if (!ok) line = line " | " ((refk in st) ? ref " " status_cell(st[refk]) : "-");
      else if (!(other in st)) line = line " | -";
      else if (st[other] == "DNF") line = line " | baseline DNF";
      else if (st[other] != "ok") line = line " | " status_cell(st[other]);
      else line = line " | " fmt(ns[other] / ns[refk]) "x";
    }
    print line " |";
  }
  print "";
}
function exhaust_table(g,   i, j, t, k) {
  print "## exhaust: 16 threads, pool size 1..4, EVPOOL_ON_EXHAUST=wait";
  print "";
  print "Every lease timed. Wait = time in evp_pool_lease; max / timeout below 1 = nobody waited past the timeout.";
  print "";
  print "| run | threads | M pairs/s | wait p50 ns | p99 ns | p99.9 ns | max ns | max / timeout | EVP_EAGAIN | waits | steals |";
  print "|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|";
  for (i = 1; i <= nimpl[g]; i++)
    for (j = 1; j <= nthr[g]; j++) {
      t = thr[g, j]; k = g SUBSEP impls[g, i] SUBSEP t;
      if (!(k in st)) continue;
      if (st[k] != "ok") { print "| " impls[g, i] " | " t " | " status_cell(st[k]) " | | | | | | | | |"; continue; }
      printf("| %s | %d | %s | %s | %s | %s | %s | %.4f | %s | %s | %s |\n", impls[g, i], t,
             fmt(mops[k]), fmt(p50[k]), fmt(p99[k]), fmt(p999[k]), fmt(mx[k]), ratio[k] + 0,
             eagain[k] + 0, waits[k] + 0, steals[k] + 0);
    }
  print "";
}
function submit_table(g,   i, j, t, k, line, pk, ck) {
  print "## submit: 4 KiB D2D cudaMemcpyAsync + event, each thread its own stream";
  print "";
  print "Enqueue path p50 / p99 ns (every submit timed), and ns per submit per thread including retiring.";
  print "";
  header(g, "threads");
  for (j = 1; j <= nthr[g]; j++) {
    t = thr[g, j]; line = "| " t;
    for (i = 1; i <= nimpl[g]; i++) {
      k = g SUBSEP impls[g, i] SUBSEP t;
      if (!(k in st)) line = line " | -";
      else if (st[k] != "ok") line = line " | " status_cell(st[k]);
      else line = line " | " fmt(p50[k]) " / " fmt(p99[k]) " (" fmt(ns[k]) ")";
    }
    print line " |";
  }
  print "";
}
END {
  for (n = 1; n <= ngroups; n++) {
    g = groups[n]; sort_threads(g);
    if (g == "same_thread") pattern_tables(g, "lease + return on one thread", "Pair (lease + return)");
    else if (g == "cross_thread") pattern_tables(g, "submitters lease, one progress thread returns", "Lease");
    else if (g == "exhaust") exhaust_table(g);
    else if (g == "submit") submit_table(g);
  }
  if (nnotes > 0) {
    print "Runs that did not report numbers:";
    print "";
    for (i = 1; i <= nnotes; i++) print "- " notes[i];
    print "";
  }
}'
