#!/usr/bin/env bash
# Installs the Debian packages evpool builds against, if any is missing.
# Idempotent; needs root (or sudo) only when something must be installed.
# The CUDA Toolkit itself is not a Debian package here: it is expected at
# $CUDA_HOME (default /usr/local/cuda).
set -euo pipefail

pkgs=(build-essential cmake pkg-config liburcu-dev libck-dev libbenchmark-dev gnuplot-nox jq)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "evpool deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "evpool deps: need root to install ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
