#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# shellcheck disable=SC2317 # the step functions run through step "$@"
# The whole GPU-machine run in one command:
#
#   tools/gpu-suite.sh OUTDIR [DEPS_DIR]
#
#   DEPS_DIR  optional: .deb files from `tools/offline-deps.sh fetch DIR`, for
#             a machine that cannot install liburcu/ck itself; unpacked into
#             build/offline-deps and put on pkg-config's path.
#
# Steps (each runs even if an earlier one failed; status and time of each go
# to OUTDIR/summary.txt; the script exits non-zero if any failed):
#   machine    nvidia-smi and environment facts        -> OUTDIR/machine.txt
#   deps       unpack DEPS_DIR (only if given)          -> OUTDIR/log.txt
#   configure  cmake --preset default (Release, benchmarks on)
#   build      cmake --build --preset default
#   ctest      every label: the host tests in parallel (half the CPUs), then
#              the gpu-labelled ones one at a time      -> OUTDIR/ctest.txt
#   gpu-ran    the gpu-labelled tests ran (a skip = no usable GPU = failure,
#              except a multigpu-labelled test on a machine of one GPU)
#   memcheck   each gpu-labelled test and examples/evpool-basic under
#              compute-sanitizer --tool memcheck --leak-check full
#                                                       -> OUTDIR/compute-sanitizer.txt
#   synccheck  the same under --tool synccheck          -> the same file
#              (GPU_SUITE_SANITIZERS lists the tools, default
#              "memcheck synccheck"; GPU_SUITE_TESTS=0 leaves out ctest,
#              gpu-ran and the sanitizers, for a call that only measures)
#   compare    only if GPU_SUITE_COMPARE names a baseline source tree:
#              tools/bench-compare.sh against it (the pool patterns, current
#              vs baseline, alternating) -> OUTDIR/compare.md and
#              OUTDIR/compare.tar.gz (its JSON files);
#              GPU_SUITE_COMPARE_FILTER narrows it (a --benchmark_filter regex)
#   bench      EVB_PACK=1 tools/bench.sh OUTDIR, if that script exists: the
#              pool suite, then submit latency end to end (evpool-e2e) on
#              one GPU and, where the machine has two, across two, and the
#              bounded-resources runs; its console output goes to
#              OUTDIR/log.txt. Left out with GPU_SUITE_BENCH=0 (a machine's
#              run split in two calls); EVB_PARTS=e2e runs only the e2e part.
#
# EVB_GIT_COMMIT names the tree's commit where the copy's .git is not the
# tree's own (machine.txt, and tools/bench.sh's JSON).
#
# OUTDIR stays flat with 5 files of this script's own, so that a transfer
# limited to 8 files leaves 3 for tools/bench.sh: with EVB_PACK=1 it leaves
# bench-summary.md, e2e-summary.md and bench-results.tar.gz (every JSON
# and PNG inside). The CUDA Toolkit is taken
# from $CUDA_HOME, else /usr/local/cuda.
set -uo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  sed -n '4,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
fi
mkdir -p "$1" || exit 2
out=$(cd "$1" && pwd)
deps_dir=${2:-}
[ -z "$deps_dir" ] || deps_dir=$(cd "$deps_dir" && pwd) || exit 2
cd "$(dirname "$0")/.." || exit 2

cuda=${CUDA_HOME:-/usr/local/cuda}
jobs=$(nproc 2>/dev/null || echo 4)
build=build/default
summary=$out/summary.txt
log=$out/log.txt
: >"$summary"
: >"$log"
failed=0
printf 'evpool gpu suite, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" >>"$summary"

# step NAME LOGFILE COMMAND...: runs COMMAND with its output appended to
# LOGFILE (and shown), records PASS/FAIL and the time in summary.txt.
step() {
  local name=$1 file=$2 rc start secs
  shift 2
  printf '\n==== [%s] %s\n' "$name" "$*" | tee -a "$file"
  start=$(date +%s)
  "$@" 2>&1 | tee -a "$file"
  rc=${PIPESTATUS[0]}
  secs=$(($(date +%s) - start))
  if [ "$rc" -eq 0 ]; then
    printf '%-10s PASS            %5ss\n' "$name" "$secs" >>"$summary"
  else
    printf '%-10s FAIL (exit %3s) %5ss   see %s\n' "$name" "$rc" "$secs" "${file##*/}" >>"$summary"
    failed=1
  fi
  printf '==== [%s] exit %s in %ss\n' "$name" "$rc" "$secs" | tee -a "$file"
  return "$rc"
}

machine_facts() {
  echo "date:      $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "host:      $(uname -srm)"
  echo "os:        $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-?}")"
  echo "cpu:       $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "nproc:     $(nproc)"
  echo "memory:    $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "cc:        $(cc --version 2>/dev/null | head -n1)"
  echo "cmake:     $(cmake --version 2>/dev/null | head -n1)"
  echo "nvcc:      $("$cuda/bin/nvcc" --version 2>/dev/null | grep -i release || echo "not found under $cuda")"
  echo "sanitizer: $( ( "$(find_compute_sanitizer)" --version | grep -i version | head -n1 ) 2>/dev/null || echo "not found")"
  echo "commit:    ${EVB_GIT_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo 'unknown (no .git)')}"
  echo
  nvidia-smi --query-gpu=index,name,driver_version,memory.total,compute_cap,pci.bus_id \
    --format=csv 2>&1
  echo
  nvidia-smi 2>&1
}

# The compute-sanitizer executable: PATH, then the toolkit's usual places.
find_compute_sanitizer() {
  local cs
  for cs in "$(command -v compute-sanitizer)" "$cuda/bin/compute-sanitizer" \
    "$cuda/compute-sanitizer/compute-sanitizer"; do
    [ -n "$cs" ] && [ -x "$cs" ] && { echo "$cs"; return 0; }
  done
  return 1
}

# Prints one shell command a line: each gpu-labelled test as CTest would run
# it (working directory, environment, arguments), with "$@" where a wrapper
# goes: bash -c "$line" _ WRAPPER ARGS... runs the test under WRAPPER.
gpu_test_commands() {
  ctest --test-dir "$build" -L gpu --show-only=json-v1 | python3 -c '
import json, shlex, sys
for t in json.load(sys.stdin).get("tests", []):
    props = {p["name"]: p["value"] for p in t.get("properties", [])}
    env = props.get("ENVIRONMENT", [])
    cwd = props.get("WORKING_DIRECTORY", ".")
    print("cd %s && env %s \"$@\" %s" % (shlex.quote(cwd), " ".join(map(shlex.quote, env)),
                                       " ".join(map(shlex.quote, t["command"]))))
'
}

# The number of GPUs nvidia-smi lists (0 if it cannot).
gpu_count() {
  nvidia-smi -L 2>/dev/null | grep -c '^GPU '
}

# Every gpu-labelled test must have run and passed: a skip (exit 77) here
# means the GPU was not usable, which is a failure on a GPU machine. The one
# exception: a test labelled multigpu may skip on a machine of one GPU.
gpu_tests_ran() {
  local names multi n bad=0
  names=$(ctest --test-dir "$build" -N -L gpu | sed -n 's/^ *Test *#[0-9]*: *//p')
  multi=$(ctest --test-dir "$build" -N -L multigpu | sed -n 's/^ *Test *#[0-9]*: *//p')
  [ -n "$names" ] || { echo "no gpu-labelled tests"; return 1; }
  for n in $names; do
    if grep -Eq "Test +#[0-9]+: $n \.* *Passed" "$out/ctest.txt"; then
      echo "gpu test $n: ran and passed"
    elif grep -qx "$n" <<<"$multi" && [ "$(gpu_count)" -lt 2 ] &&
      grep -Eq "Test +#[0-9]+: $n .*Skipped" "$out/ctest.txt"; then
      echo "gpu test $n: skipped, needs 2 GPUs and this machine has $(gpu_count) (ok)"
    elif grep -Eq "Test +#[0-9]+: $n .*(Skipped|Not Run)" "$out/ctest.txt"; then
      echo "gpu test $n: SKIPPED (no usable GPU?)"
      bad=1
    else
      echo "gpu test $n: did not pass"
      bad=1
    fi
  done
  return "$bad"
}

# sanitize TOOL: runs each gpu test, and the example on the CUDA backend,
# under compute-sanitizer's TOOL (memcheck with leak checking). A reported
# error or a non-zero exit fails the step.
sanitize() {
  local tool=$1 cs cmds line rc bad=0 args
  cs=$(find_compute_sanitizer) || { echo "compute-sanitizer not found (PATH, $cuda)"; return 127; }
  cmds=$(gpu_test_commands) || return 1
  [ -n "$cmds" ] || { echo "no gpu-labelled tests"; return 1; }
  cmds+=$'\n''env EVPOOL_BACKEND=cuda "$@" '"$(printf '%q' "$PWD/$build/examples/evpool-basic") 2000 8"
  while IFS= read -r line; do
    echo
    echo "---- $line"
    # The lines are ctest's own test commands, shell-quoted by python above.
    # EVP_TEST_UNDER_SANITIZER: tests leave out the CUDA calls they make to
    # see them fail (the plain ctest run covers those), which memcheck
    # would report as API errors.
    args=(--tool "$tool" --error-exitcode 99)
    [ "$tool" = memcheck ] && args+=(--leak-check full)
    bash -c "$line" _ env EVP_TEST_UNDER_SANITIZER=1 "$cs" "${args[@]}"
    rc=$?
    # 77: skipped (a multigpu test on one GPU; gpu-ran judges skips).
    if [ "$rc" -eq 77 ]; then
      echo "---- skipped (exit 77)"
    elif [ "$rc" -ne 0 ]; then
      echo "---- FAILED: exit $rc"
      bad=1
    fi
  done <<<"$cmds"
  return "$bad"
}

# compare BASELINE_SRC: tools/bench-compare.sh against that tree, its JSON
# packed so that OUTDIR stays within 8 files.
compare() {
  local dir rc
  dir=$(mktemp -d) || return 1
  tools/bench-compare.sh "$dir" "$1" ${GPU_SUITE_COMPARE_FILTER:+"$GPU_SUITE_COMPARE_FILTER"}
  rc=$?
  [ -f "$dir/compare.md" ] && cp "$dir/compare.md" "$out/compare.md"
  tar -czf "$out/compare.tar.gz" -C "$dir" . || rc=1
  rm -rf "$dir"
  return "$rc"
}

# The host tests (stress and soak included) in parallel, then the gpu tests
# alone: they share the GPUs and their figures (RSS, events created) are
# read from a quiet machine.
run_ctest() {
  local rc=0
  # --test-dir, not --preset: the preset's label filter would replace ours.
  ctest --test-dir "$build" --output-on-failure -LE 'gpu|soak' -j "$(((jobs + 1) / 2))" || rc=1
  # -V: their figures (events, RSS, delays) go to the log, passed or not.
  ctest --test-dir "$build" -V -L gpu || rc=1
  return "$rc"
}

step machine "$out/machine.txt" machine_facts
if [ -n "$deps_dir" ]; then
  prefix=$PWD/build/offline-deps
  rm -rf "$prefix"
  if step deps "$log" tools/offline-deps.sh unpack "$deps_dir" "$prefix"; then
    eval "$(tools/offline-deps.sh env "$prefix")"
    # No registry here: tools/deps.sh (run by tools/bench.sh) must not wait
    # on apt-get for the optional table/plot tools.
    export DEPS_OFFLINE=1
    env | grep -E '^(PKG_CONFIG|LD_LIBRARY_PATH)' >>"$log"
  fi
fi
if step configure "$log" cmake --preset default -DCUDAToolkit_ROOT="$cuda" &&
  step build "$log" cmake --build --preset default -j "$jobs"; then
  if [ "${GPU_SUITE_TESTS:-1}" = 0 ]; then
    echo "ctest, gpu-ran, sanitizers: not run: GPU_SUITE_TESTS=0" >>"$summary"
  else
    step ctest "$out/ctest.txt" run_ctest
    step gpu-ran "$out/ctest.txt" gpu_tests_ran
    for tool in ${GPU_SUITE_SANITIZERS-memcheck synccheck}; do
      step "$tool" "$out/compute-sanitizer.txt" sanitize "$tool"
    done
  fi
  if [ -n "${GPU_SUITE_COMPARE:-}" ]; then
    step compare "$log" compare "$GPU_SUITE_COMPARE"
  fi
  if [ "${GPU_SUITE_BENCH:-1}" = 0 ]; then
    echo "bench      not run: GPU_SUITE_BENCH=0" >>"$summary"
  elif [ -x tools/bench.sh ]; then
    step bench "$log" env EVB_PACK=1 tools/bench.sh "$out"
  else
    echo "bench      not run: tools/bench.sh does not exist" >>"$summary"
  fi
else
  echo "ctest, gpu-ran, sanitizers, compare, bench: not run (no build)" >>"$summary"
fi

nfiles=$(find "$out" -mindepth 1 | wc -l)
if [ "$nfiles" -gt 8 ] || [ -n "$(find "$out" -mindepth 1 -type d)" ]; then
  echo "outdir     FAIL: $nfiles entries in $out (at most 8 files, flat)" >>"$summary"
  failed=1
fi
{
  echo
  grep -h -e 'tests passed, .* tests failed out of' "$out/ctest.txt" 2>/dev/null
  grep -h -e '^========= ERROR SUMMARY' "$out/compute-sanitizer.txt" 2>/dev/null | sort | uniq -c
  echo
  [ $failed -eq 0 ] && echo "RESULT: PASS" || echo "RESULT: FAIL"
} >>"$summary"
echo
cat "$summary"
exit $failed
