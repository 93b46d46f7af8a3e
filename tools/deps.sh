#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages evpool builds against, if any is missing.
# Idempotent; needs root (or sudo) only when something must be installed.
#
# What is needed is checked by function first (a compiler, cmake, pkg-config
# finding liburcu-memb and ck, Google Benchmark's header), so a machine that
# has them some other way — an offline GPU node with
# `eval "$(tools/offline-deps.sh env PREFIX)"`, a source-built benchmark —
# installs nothing. jq and gnuplot only serve the benchmark's table and
# picture: they are installed with the rest, but their absence alone does
# not send an offline machine to apt.
#
#   DEPS_OFFLINE=1   never call apt-get: report what is missing, and fail
#                      only if a build requirement is.
#   DEPS_DOCS=1      also install doxygen, for the API reference (the docs
#                      target); optional: a failure to install it only warns.
#
# apt-get waits up to 10 minutes for a dpkg or package-list lock held by
# another apt run (unattended upgrades, a second checkout's deps.sh) instead
# of failing at once.
#
#   tools/deps.sh fuzz   also what the fuzz preset needs: clang with
#                        libFuzzer and the sanitizer runtimes (tools/test.sh
#                        fuzz passes it; nothing else needs clang).
#
# The CUDA Toolkit is not a Debian package here: it is expected at
# $CUDA_HOME (default /usr/local/cuda).
set -euo pipefail

pkgs=(build-essential cmake pkg-config liburcu-dev libck-dev libbenchmark-dev gnuplot-nox jq)
fuzz=0
[ "${1:-}" = fuzz ] && fuzz=1 && pkgs+=(clang libclang-rt-dev)

have() { command -v "$1" >/dev/null 2>&1; }

# A build requirement that is not there, by what it is for.
missing_required() {
  have cc || echo "C compiler (build-essential)"
  have c++ || echo "C++ compiler (build-essential)"
  have cmake || echo "cmake"
  have pkg-config || echo "pkg-config"
  if have pkg-config; then
    pkg-config --exists liburcu-memb || echo "liburcu-memb (liburcu-dev)"
    pkg-config --exists ck || echo "ck (libck-dev)"
  fi
  if have c++; then
    echo '#include <benchmark/benchmark.h>' | c++ -E -x c++ - >/dev/null 2>&1 ||
      echo "Google Benchmark (libbenchmark-dev)"
  fi
  if [ $fuzz = 1 ]; then
    # Links a fuzzer the way tests/fuzz does: libFuzzer + ASan + UBSan runtimes.
    local t
    t=$(mktemp -d)
    echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' >"$t/f.c"
    have clang && clang -fsanitize=fuzzer,address,undefined "$t/f.c" -o "$t/f" >/dev/null 2>&1 ||
      echo "clang with libFuzzer (clang, libclang-rt-dev)"
    rm -rf "$t"
  fi
}

required=$(missing_required)
optional=""
have jq || optional+=" jq"
have gnuplot || optional+=" gnuplot-nox"
docs=""
[ "${DEPS_DOCS:-0}" = 1 ] && [ "${DEPS_OFFLINE:-0}" != 1 ] && ! have doxygen && docs=doxygen

if [ -z "$required" ] && [ -z "$docs" ] && { [ -z "$optional" ] || [ "${DEPS_OFFLINE:-0}" = 1 ]; }; then
  [ -z "$optional" ] || echo "evpool deps: offline; without$optional the benchmark table/plot are skipped" >&2
  exit 0
fi
if [ "${DEPS_OFFLINE:-0}" = 1 ]; then
  echo "evpool deps: missing (DEPS_OFFLINE=1, not installing):" >&2
  echo "$required" | sed 's/^/  /' >&2
  exit 1
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || [ -n "$docs" ] || exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  have sudo || { echo "evpool deps: need root to install ${missing[*]} $docs" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
apt=($sudo apt-get -o DPkg::Lock::Timeout=600 -qq)
# DPkg::Lock::Timeout covers the dpkg locks of install; the package-list lock
# of update is waited for here, for as long (60 x 10 s).
for try in $(seq 60); do
  if out=$("${apt[@]}" update 2>&1); then break; fi
  if [ "$try" -lt 60 ] && grep -q "Could not get lock" <<<"$out"; then
    echo "evpool deps: apt-get update waits for another apt run's lock ($try/60)" >&2
    sleep 10
  else
    echo "$out" >&2
    exit 1
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "evpool deps: installing ${missing[*]}" >&2
  "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ -n "$docs" ]; then
  echo "evpool deps: installing $docs (DEPS_DOCS=1)" >&2
  "${apt[@]}" install -y --no-install-recommends "$docs" >/dev/null ||
    echo "evpool deps: could not install $docs; the docs target will skip" >&2
fi
