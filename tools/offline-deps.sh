#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Carries evpool's pkg-config dependencies (liburcu, Concurrency Kit) to a
# machine that has no package registry (an offline GPU node, say).
#
#   tools/offline-deps.sh fetch DIR           # on a connected Debian/Ubuntu machine, any user
#   tools/offline-deps.sh unpack DIR PREFIX   # on the offline machine, any user
#   eval "$(tools/offline-deps.sh env PREFIX)"
#
# fetch:  `apt-get download` of the packages (and nothing they depend on:
#         libc is assumed) into DIR. Needs current apt lists, no root.
# unpack: `dpkg -x` of every DIR/*.deb into PREFIX (no root, touches nothing
#         outside PREFIX), and points the unpacked .pc files at PREFIX.
# env:    prints export lines that point pkg-config (and so CMake's
#         pkg_check_modules) and the dynamic loader at PREFIX. pkg-config then
#         answers with paths under PREFIX (the .pc files were rewritten at
#         unpack; no PKG_CONFIG_SYSROOT_DIR, which would also move the paths of
#         .pc files found through PKG_CONFIG_PATH, e.g. an installed
#         evpool.pc), and, since PKG_CONFIG_LIBDIR replaces the default search
#         path, finds ONLY the modules unpacked in PREFIX (and PKG_CONFIG_PATH).
#         The system-directory filters are turned off: PREFIX/usr/include is
#         not the compiler's /usr/include.
#
# The debs are those of the fetching machine's release and architecture; they
# work on a newer glibc (e.g. bookworm debs on Ubuntu 24.04), not an older one.
set -euo pipefail

PKGS=(liburcu-dev liburcu8 libck-dev libck0)

die() { echo "offline-deps: $*" >&2; exit 1; }
usage() {
  sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

fetch() {
  local dir=$1
  command -v apt-get >/dev/null || die "fetch needs apt-get (a Debian/Ubuntu machine)"
  mkdir -p "$dir"
  # apt-get download writes into the current directory. As root, apt would
  # drop to the _apt user and warn that it cannot write there; downloading
  # unsandboxed is what we want for a plain directory.
  ( cd "$dir" && apt-get download -q -o APT::Sandbox::User=root "${PKGS[@]}" ) ||
    die "apt-get download failed (stale apt lists? try: apt-get update)"
  local p
  for p in "${PKGS[@]}"; do
    compgen -G "$dir/${p}_*.deb" >/dev/null || die "no ${p}_*.deb in $dir after download"
  done
  echo "offline-deps: fetched into $dir:" >&2
  ls -1 "$dir"/*.deb >&2
}

unpack() {
  local dir=$1 prefix=$2 deb n=0
  command -v dpkg >/dev/null || die "unpack needs dpkg (dpkg-deb)"
  mkdir -p "$prefix"
  for deb in "$dir"/*.deb; do
    [ -e "$deb" ] || die "no .deb files in $dir (run: $0 fetch $dir)"
    dpkg -x "$deb" "$prefix"
    n=$((n + 1))
  done
  prefix=$(cd "$prefix" && pwd -P)
  # The packages' .pc files name /usr: make them name PREFIX/usr.
  find "$prefix" -name '*.pc' -path '*/pkgconfig/*' -exec sed -i -E \
    "s#^(prefix|exec_prefix|libdir|includedir)=/usr#\\1=$prefix/usr#" {} +
  echo "offline-deps: unpacked $n packages into $prefix" >&2
}

# The multiarch library directory of the unpacked packages
# (usr/lib/x86_64-linux-gnu, usr/lib/aarch64-linux-gnu, ...), read off the
# tree itself so that it matches what was fetched; plain usr/lib otherwise.
libdir_of() {
  local prefix=$1 d
  for d in "$prefix"/usr/lib/*-linux-gnu*/pkgconfig; do
    [ -d "$d" ] && { dirname "$d"; return; }
  done
  echo "$prefix/usr/lib"
}

env_lines() {
  local prefix libdir pcdirs
  [ -d "$1" ] || die "no such prefix: $1 (run: $0 unpack DIR $1)"
  prefix=$(cd "$1" && pwd -P)
  libdir=$(libdir_of "$prefix")
  pcdirs="$libdir/pkgconfig"
  [ -d "$prefix/usr/share/pkgconfig" ] && pcdirs="$pcdirs:$prefix/usr/share/pkgconfig"
  printf 'export PKG_CONFIG_LIBDIR=%q\n' "$pcdirs"
  printf 'export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1\n'
  # shellcheck disable=SC2016 # expanded by the eval, not here
  printf 'export LD_LIBRARY_PATH=%q${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\n' "$libdir"
}

[ $# -ge 1 ] || usage
cmd=$1; shift
case "$cmd" in
  fetch)  [ $# -eq 1 ] || usage; fetch "$1" ;;
  unpack) [ $# -eq 2 ] || usage; unpack "$1" "$2" ;;
  env)    [ $# -eq 1 ] || usage; env_lines "$1" ;;
  -h|--help|help) usage ;;
  *) usage ;;
esac
