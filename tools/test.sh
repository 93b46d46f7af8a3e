#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The test command: installs the build dependencies if any is missing
# (tools/deps.sh), configures a CMake preset with warnings as errors, builds
# it and runs its CTest suite. Exits non-zero on any failure.
#
#   tools/test.sh          # preset default (Release): every label; the gpu
#                          # tests exit 77 (skipped) without a usable GPU
#   tools/test.sh asan     # or tsan, debug; asan and tsan run the labels
#                          # unit|stress only (their test presets say so)
#   tools/test.sh fuzz     # clang + libFuzzer: each fuzzer (label fuzz) over its
#                          # seed corpus for EVPOOL_FUZZ_SECONDS (default 45)
#
# The CUDA Toolkit is taken from $CUDA_HOME, else /usr/local/cuda. Build
# trees are build/<preset>. Extra arguments go to ctest (e.g. -R stress).
set -euo pipefail

preset=${1:-default}
case "$preset" in
  default | debug | asan | tsan | fuzz) ;;
  -h | --help) sed -n '3,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "tools/test.sh: unknown preset '$preset' (default|debug|asan|tsan|fuzz)" >&2; exit 2 ;;
esac
shift $(($# > 0 ? 1 : 0))

cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

# The sanitizer runtimes of gcc 12 fail at start-up on kernels with more
# address-space randomisation (vm.mmap_rnd_bits=32: "ThreadSanitizer:
# unexpected memory mapping"). Running the tests with ASLR off avoids that
# and changes nothing else they check.
run=()
case "$preset" in
  asan | tsan | fuzz) setarch "$(uname -m)" -R true 2>/dev/null && run=(setarch "$(uname -m)" -R) ;;
esac

tools/deps.sh "$([ "$preset" = fuzz ] && echo fuzz)"
cmake --preset "$preset" -DEVPOOL_WERROR=ON -DCUDAToolkit_ROOT="${CUDA_HOME:-/usr/local/cuda}"
cmake --build --preset "$preset" -j "$jobs"
"${run[@]}" ctest --preset "$preset" --output-on-failure "$@"
