#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Sets up the nested-KVM lab (tests/lab/README.md): Debian's cloud kernel (unpacked with
# apt-get download + dpkg -x, nothing installed into /boot), its three KVM modules and a
# base initramfs (static busybox, the modules, tests/lab/init.sh as /init).
# Cached under ${BOXLITE_CACHE:-~/.cache/boxlite}/lab/<key>/ where the key hashes the kernel
# package's version, busybox's version, init.sh and RECIPE: a second run does nothing.
# Prints the lab directory on its last line.
# --cached-only: print the directory if set up, fail otherwise (never downloads).
# --quick: reuse the lab set up last if init.sh, busybox and RECIPE are unchanged, without
#   asking apt for the kernel package's version (apt-cache takes seconds on a busy machine);
#   run.sh uses this, scripts/setup.sh the full check.
# --arch arm64 (first argument; or $LAB_ARCH): the ARM64 lab instead, under .../lab-arm64/:
#   Debian's linux-image-cloud-arm64 (KVM built in: no modules) and Debian's
#   busybox-static:arm64 (tests/fixtures/arm64-busybox.sh); arm64 must be one of dpkg's
#   foreign architectures (that script adds it) so that apt-get download finds the package.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
arch=${LAB_ARCH:-amd64}
if [ "${1:-}" = --arch ]; then arch=$2; shift 2; fi
init="$root/tests/lab/init.sh"
# Bump RECIPE when the steps below change what ends up in the lab directory.
RECIPE=1
case $arch in
  amd64|x86_64)
    cache="${BOXLITE_CACHE:-$HOME/.cache/boxlite}/lab"
    META=linux-image-cloud-amd64
    busybox=/bin/busybox
    bbver=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null) ||
      { echo "lab-setup: busybox-static is not installed (apt-get install busybox-static)" >&2; exit 1; } ;;
  arm64|aarch64)
    cache="${BOXLITE_CACHE:-$HOME/.cache/boxlite}/lab-arm64"
    META=linux-image-cloud-arm64:arm64
    if [ "${1:-}" = --cached-only ] || [ "${1:-}" = --quick ]; then
      busybox=$("$root/tests/fixtures/arm64-busybox.sh" --cached-only) || exit 1
    else
      busybox=$("$root/tests/fixtures/arm64-busybox.sh") || exit 1
    fi
    bbver=$(cat "$(dirname "$(dirname "$busybox")")/version") ;;
  *) echo "lab-setup: unknown architecture $arch (amd64 or arm64)" >&2; exit 1 ;;
esac
local_key=$( { echo "busybox $bbver recipe $RECIPE"; cat "$init"; } | sha256sum | cut -c1-16)
if [ "${1:-}" = --quick ] && [ -f "$cache/current/base.cpio" ] &&
   [ "$(cat "$cache/current/local-key" 2>/dev/null)" = "$local_key" ]; then
  readlink -f "$cache/current"
  exit 0
fi

candidate() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '(none)' || true; }
metaver=$(candidate $META)
if [ -z "$metaver" ] && [ "${1:-}" != --cached-only ]; then
  apt-get update -qq >&2 || true
  metaver=$(candidate $META)
fi
if [ -z "$metaver" ]; then
  # No package lists: fall back to the last lab set up, if any.
  if [ -f "$cache/current/base.cpio" ]; then readlink -f "$cache/current"; exit 0; fi
  echo "lab-setup: apt-cache knows no $META (run apt-get update)" >&2; exit 1
fi
# The metapackage depends on the versioned image package, e.g. linux-image-6.1.0-56-cloud-amd64.
pkg=$(apt-cache depends "$META=$metaver" 2>/dev/null | sed -n 's/^ *Depends: *\(linux-image-[0-9][^ ]*\)$/\1/p' | head -1)
pkg=${pkg%:arm64}
[ -n "$pkg" ] || { echo "lab-setup: cannot resolve the kernel package behind $META" >&2; exit 1; }
key=$( { echo "$pkg $metaver busybox $bbver recipe $RECIPE"; cat "$init"; } | sha256sum | cut -c1-16)
out="$cache/$key"
if [ -f "$out/base.cpio" ]; then
  [ -f "$out/local-key" ] || echo "$local_key" > "$out/local-key"
  ln -sfn "$key" "$cache/current"
  echo "$out"
  exit 0
fi
if [ "${1:-}" = --cached-only ]; then
  echo "lab-setup: no lab cached for this recipe under $cache" >&2
  exit 1
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
kver=${pkg#linux-image-}
# The unpacked package is kept apart from the keyed directory, so a change to init.sh only
# rebuilds the small base archive.
kdir="$cache/pkg/$pkg-$metaver"
if [ ! -f "$kdir/boot/vmlinuz-$kver" ]; then
  echo "lab-setup: fetching $pkg" >&2
  # apt's sandbox user must be able to write where the file lands
  chmod 0777 "$work"
  (cd "$work" && apt-get download "$pkg${META#"${META%:*}"}" >&2)
  rm -rf "$kdir.tmp"; mkdir -p "$kdir.tmp"
  dpkg -x "$work"/"$pkg"_*.deb "$kdir.tmp"
  rm -rf "$kdir"; mv "$kdir.tmp" "$kdir"
fi
mods="$kdir/lib/modules/$kver/kernel"

# The base initramfs: directories, /dev/console (the kernel opens it before /init runs),
# busybox, the modules in load order, /init. run.sh appends a second archive per run.
stage="$work/stage"
mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,run,lab/modules,etc}
cp "$busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
mknod -m 600 "$stage/dev/console" c 5 1
mknod -m 666 "$stage/dev/null" c 1 3
n=0
# arm64's cloud kernel has KVM built in (CONFIG_KVM=y): no modules there.
if [ "$META" = linux-image-cloud-amd64 ]; then
  for m in virt/lib/irqbypass.ko arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko; do
    n=$((n + 1))
    # Each module's dependencies are listed before it (modinfo says kvm-amd -> kvm -> irqbypass).
    cp "$mods/$m" "$stage/lab/modules/$n-$(basename "$m")"
  done
fi
install -m 755 "$init" "$stage/init"
echo "$pkg $metaver" > "$stage/lab/kernel-version"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet --owner=0:0) > "$work/base.cpio"

mkdir -p "$out.tmp"
cp "$kdir/boot/vmlinuz-$kver" "$out.tmp/vmlinuz"
cp "$kdir/boot/config-$kver" "$out.tmp/config"
mv "$work/base.cpio" "$out.tmp/base.cpio"
echo "$pkg $metaver" > "$out.tmp/kernel-version"
echo "$local_key" > "$out.tmp/local-key"
rm -rf "$out"; mv "$out.tmp" "$out"
ln -sfn "$key" "$cache/current"
echo "$out"
