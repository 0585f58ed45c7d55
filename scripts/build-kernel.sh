#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Builds the guest kernel (vmlinux) from Debian's linux-source-6.1 and our config
# fragment, cached under ${BOXLITE_CACHE:-~/.cache/boxlite}/kernel/<key>/ where the key
# hashes the source package's version, the fragment and RECIPE: an unchanged
# config never rebuilds. Prints the path of vmlinux on its last line.
# --cached-only: print the path if built, fail otherwise (never builds).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${BOXLITE_CACHE:-$HOME/.cache/boxlite}/kernel"
fragment="$root/guest/kernel/boxlite.config"
tarball=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null || true)
[ -n "$tarball" ] || { echo "build-kernel: /usr/src/linux-source-6.1.tar.xz missing (apt-get install linux-source-6.1)" >&2; exit 1; }
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
# Bump RECIPE when the build steps below change in a way that changes vmlinux.
RECIPE=1
key=$( { echo "$srcver recipe $RECIPE"; cat "$fragment"; } | sha256sum | cut -c1-16)
out="$cache/$key"
if [ -f "$out/vmlinux" ]; then
  echo "$out/vmlinux"
  exit 0
fi
if [ "${1:-}" = --cached-only ]; then
  echo "build-kernel: no kernel cached for this config under $cache" >&2
  exit 1
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "build-kernel: unpacking linux-source $srcver" >&2
tar -C "$work" -xf "$tarball"
src="$work/linux-source-6.1"
cd "$src"
make -s tinyconfig >/dev/null
scripts/kconfig/merge_config.sh -m .config "$fragment" >/dev/null
make -s olddefconfig >/dev/null
# Every line of the fragment must survive olddefconfig, or a dependency is missing.
bad=0
while IFS= read -r line; do
  case "$line" in CONFIG_*=n) sym=${line%%=*}; grep -q "^$sym=" .config && { echo "build-kernel: $sym should be off" >&2; bad=1; } ;;
                  CONFIG_*) grep -qxF "$line" .config || { echo "build-kernel: $line did not survive olddefconfig" >&2; bad=1; } ;; esac
done < "$fragment"
[ $bad -eq 0 ] || exit 1
echo "build-kernel: building vmlinux (several minutes on 2 cores)" >&2
make -s -j"$(nproc)" vmlinux KBUILD_BUILD_HOST=boxlite KBUILD_BUILD_USER=boxlite >&2
mkdir -p "$out.tmp"
cp vmlinux "$out.tmp/vmlinux"
cp .config "$out.tmp/config"
rm -rf "$out"; mv "$out.tmp" "$out"
ln -sfn "$key" "$cache/current"
echo "$out/vmlinux"
