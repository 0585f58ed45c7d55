#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# An arm64 sysroot for cross-building the host side (make ARCH=aarch64: the VMM, the library,
# the CLI, boxlite-runtime and the unit tests' binaries): Debian 12 cannot install
# the -dev:arm64 packages beside the amd64 ones here (libext2fs-dev, libfdt-dev, libisal-dev
# are not Multi-Arch: same), so their :arm64 packages and the libraries they need at link and
# run time are fetched with `apt-get download` and unpacked with `dpkg -x` into
# ${BOXLITE_CACHE:-~/.cache/boxlite}/sysroot-arm64/<key>/ (key: the packages' versions and
# RECIPE); nothing is installed. C library and compiler are the cross toolchain's
# (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross); libc6:arm64 is unpacked too, for the
# lab's L1 and for qemu-aarch64 (user mode), which run what links against the sysroot; so
# are the arm64 qemu-img and e2fsprogs, the oracles the lab's suite checks disks with there
# (tests/lab/suite.sh).
# Prints the sysroot on its last line.
#   --cached-only   print the sysroot set up last, fail if none (never downloads)
set -euo pipefail
cache="${BOXLITE_CACHE:-$HOME/.cache/boxlite}/sysroot-arm64"
RECIPE=3
# What boxlite-vmm links (readelf -d of the x86_64 build: slirp, jansson, seccomp, crypto,
# zstd; libfdt for the device tree), their -dev packages, and the shared libraries those
# need in turn (libslirp -> glib -> pcre2, ffi, mount, blkid, selinux, zlib).
PKGS=(libc6 libgcc-s1
      libslirp-dev libslirp0 libglib2.0-0 libpcre2-8-0 libffi8 libmount1 libblkid1 libselinux1
      zlib1g zlib1g-dev libjansson-dev libjansson4 libfdt-dev libfdt1 libseccomp-dev
      libseccomp2 libssl-dev libssl3 libzstd-dev libzstd1
      # what the library, the CLI (serve) and boxlite-runtime link besides (readelf -d of
      # the x86_64 libboxlite.so, boxlite and boxlite-runtime), and what those need in turn
      libcurl4-openssl-dev libcurl4 libarchive-dev libarchive13 libsqlite3-dev libsqlite3-0
      libext2fs-dev comerr-dev libisal-dev libisal2 libmicrohttpd-dev libmicrohttpd12
      libacl1 libbrotli1 libbz2-1.0 liblz4-1 liblzma5 libxml2 libicu72 libstdc++6
      libnghttp2-14 libpsl5 librtmp1 libssh2-1 libldap-2.5-0 libsasl2-2 libgssapi-krb5-2
      libkrb5-3 libk5crypto3 libkrb5support0 libkeyutils1
      # the suite's oracles in the ARM64 lab, and what they link
      qemu-utils e2fsprogs libext2fs2 libcom-err2 libss2 libuuid1 libaio1 libfuse3-3 libgmp10
      libgnutls30 libhogweed6 libnettle8 libnuma1 liburing2 libp11-kit0 libidn2-0
      libunistring2 libtasn1-6)
if [ "${1:-}" = --cached-only ]; then
  [ -f "$cache/current/.done" ] || { echo "arm64-sysroot: none set up (scripts/arm64-sysroot.sh)" >&2; exit 1; }
  readlink -f "$cache/current"; exit 0
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  apt-get update -qq
fi
names=("${PKGS[@]/%/:arm64}")
versions=$(apt-cache policy "${names[@]}" | sed -n 's/^ *Candidate: *//p' | tr '\n' ' ')
case " $versions " in *"(none)"*|"  ") echo "arm64-sysroot: apt knows no candidate for some of ${PKGS[*]} (apt-get update)" >&2; exit 1 ;; esac
key=$(echo "recipe $RECIPE ${PKGS[*]} $versions" | sha256sum | cut -c1-16)
out="$cache/$key"
if [ ! -f "$out/.done" ]; then
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  chmod 0777 "$work" # apt's sandbox user writes the downloads
  (cd "$work" && apt-get download -qq "${names[@]}" >&2)
  mkdir -p "$work/root"
  for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/root"; done
  # -dev packages link libX.so to the runtime library by absolute path in a few cases:
  # make every absolute symlink relative to the sysroot so the cross linker finds it.
  find "$work/root" -type l | while IFS= read -r l; do
    t=$(readlink "$l")
    case $t in /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$work/root$t")" "$l" ;; esac
  done
  echo "${PKGS[*]} $versions" > "$work/root/.done"
  rm -rf "$out"; mv "$work/root" "$out"
fi
ln -sfn "$key" "$cache/current"
echo "$out"
