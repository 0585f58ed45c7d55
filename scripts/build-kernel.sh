#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Builds the guest kernel (vmlinux) from Debian's linux-source-6.1 and our config
# fragment, cached under ${BOXLITE_CACHE:-~/.cache/boxlite}/kernel/<key>/ where the key
# hashes the source package's version, the fragment and RECIPE: an unchanged
# config never rebuilds. Prints the path of vmlinux on its last line.
# --cached-only: print the path if built, fail otherwise (never builds).
# --arch arm64: the arm64 guest kernel (QEMU's -M virt) with Debian's cross compiler
# (gcc-aarch64-linux-gnu), boxlite.config then guest/kernel/arm64.config merged over
# tinyconfig, an `Image` (the arm64 boot protocol's format) under kernel/arm64-<key>/.
# --arch x86_64 (the default) is unchanged, and so is its cache key.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${BOXLITE_CACHE:-$HOME/.cache/boxlite}/kernel"
fragment="$root/guest/kernel/boxlite.config"
arch=x86_64 cached_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --cached-only) cached_only=1 ;;
    --arch) arch="${2:-}"; shift ;;
    --arch=*) arch="${1#--arch=}" ;;
    *) echo "build-kernel: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
case "$arch" in
  x86_64|amd64) arch=x86_64; fragments=("$fragment"); kmake=(); target=vmlinux; built=vmlinux; prefix= ;;
  arm64|aarch64) arch=arm64; fragments=("$fragment" "$root/guest/kernel/arm64.config")
    kmake=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-); target=Image; built=arch/arm64/boot/Image; prefix=arm64-
    command -v aarch64-linux-gnu-gcc >/dev/null || { echo "build-kernel: aarch64-linux-gnu-gcc missing (apt-get install gcc-aarch64-linux-gnu)" >&2; exit 1; } ;;
  *) echo "build-kernel: unknown --arch $arch (x86_64 or arm64)" >&2; exit 2 ;;
esac
tarball=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null || true)
[ -n "$tarball" ] || { echo "build-kernel: /usr/src/linux-source-6.1.tar.xz missing (apt-get install linux-source-6.1)" >&2; exit 1; }
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
# Bump RECIPE when the build steps below change in a way that changes vmlinux.
RECIPE=1
if [ $arch = x86_64 ]; then
  key=$( { echo "$srcver recipe $RECIPE"; cat "$fragment"; } | sha256sum | cut -c1-16)
else
  key=$( { echo "$srcver recipe $RECIPE arch $arch"; cat "${fragments[@]}"; } | sha256sum | cut -c1-16)
fi
out="$cache/$prefix$key"
# The symbol table (.symtab and .strtab, 1.3 MiB) serves nothing at run time (the kernel
# has its own kallsyms) and costs every box on the QEMU engine about 1.2 MiB: QEMU's ELF
# loader copies it into its heap (for its monitor) and keeps it (docs/architecture.md,
# "Density"). Stripped here; the loadable segments, their file offsets and the PVH note
# stay. A kernel cached before this step is stripped in place by a run that may build
# (never by --cached-only), through a rename: a running box keeps the file it opened.
strip_symbols() { # FILE
  case "$(readelf -S -W "$1" 2>/dev/null)" in *' .symtab '*) ;; *) return 0 ;; esac
  objcopy --strip-all "$1" "$1.strip.$$" && mv -f "$1.strip.$$" "$1"
}
if [ -f "$out/$target" ]; then
  [ $cached_only = 1 ] || strip_symbols "$out/$target"
  echo "$out/$target"
  exit 0
fi
if [ $cached_only = 1 ]; then
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
make -s "${kmake[@]}" tinyconfig >/dev/null
scripts/kconfig/merge_config.sh -m .config "${fragments[@]}" >/dev/null
make -s "${kmake[@]}" olddefconfig >/dev/null
# Every line of the fragments (a later fragment's line overriding an earlier one's) must
# survive olddefconfig, or a dependency is missing. On another architecture a symbol that
# only other architectures' Kconfig define (boxlite.config's PVH, KVM_GUEST...) is skipped.
skip=""
if [ $arch != x86_64 ]; then
  skip=$(grep -rE --include='Kconfig*' '^(menu)?config [A-Z0-9_]+' . \
         | awk -v a="./arch/$arch/" '{ f=$1; sub(/:.*/, "", f); s=$NF;
                  if (f ~ /^\.\/arch\// && index(f, a) != 1) other[s]=1; else here[s]=1 }
                END { for (s in other) if (!(s in here)) print "CONFIG_" s }')
fi
bad=0
while IFS= read -r line; do
  sym=${line%%=*}
  grep -qxF "$sym" <<<"$skip" && continue
  case "$line" in CONFIG_*=n) grep -q "^$sym=" .config && { echo "build-kernel: $sym should be off" >&2; bad=1; } ;;
                  CONFIG_*) grep -qxF "$line" .config || { echo "build-kernel: $line did not survive olddefconfig" >&2; bad=1; } ;; esac
done < <(cat "${fragments[@]}" | grep '^CONFIG_' | awk -F= '{ v[$1]=$0; if (!($1 in o)) { o[$1]=n++ ; k[o[$1]]=$1 } }
                                                    END { for (i=0;i<n;i++) print v[k[i]] }')
[ $bad -eq 0 ] || exit 1
echo "build-kernel: building $target for $arch (several minutes on 2 cores)" >&2
make -s "${kmake[@]}" -j"$(nproc)" $target KBUILD_BUILD_HOST=boxlite KBUILD_BUILD_USER=boxlite >&2
mkdir -p "$out.tmp"
cp "$built" "$out.tmp/$target"
strip_symbols "$out.tmp/$target"
cp .config "$out.tmp/config"
rm -rf "$out"; mv "$out.tmp" "$out"
ln -sfn "$prefix$key" "$cache/${prefix}current"
echo "$out/$target"
