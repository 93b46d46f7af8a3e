#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs one libFuzzer binary for a bounded time (the CTest command of each
# fuzz test, tests/fuzz/CMakeLists.txt):
#
#   run-fuzzer.sh FUZZER SEED_DIR BUILD_DIR DEFAULT_SECONDS [libFuzzer options...]
#
# Seeds are read from SEED_DIR (the repository's corpus, never written);
# new inputs go to BUILD_DIR/corpus/<fuzzer>, crash/leak inputs to
# BUILD_DIR/artifacts/. EVPOOL_FUZZ_SECONDS overrides DEFAULT_SECONDS.
# Exits non-zero on any crash, leak, sanitizer report or failed invariant.
set -euo pipefail
fuzzer=$1 seeds=$2 build=$3 secs=${EVPOOL_FUZZ_SECONDS:-$4}
shift 4
name=$(basename "$fuzzer")
mkdir -p "$build/corpus/$name" "$build/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec "$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$build/artifacts/$name-" "$@" "$build/corpus/$name" "$seeds"
