#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The Debian package: `make deb` builds it with dpkg-deb, lintian finds no error in it, it
# installs into a throwaway root (`dpkg --root`, whose status file is this host's, so its
# Depends are really checked: with qemu-system-x86 missing it is refused), `boxlite run`
# from the installed files runs a box (the library found through the root's usr/lib, the
# VMM, kernel and initramfs relative to it), and `dpkg --root -r` removes every file.
# (Running it inside a chroot would need the host's libraries in the root: a debootstrap
# needs the network, which these machines lack.)
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
. tests/harness/lib.sh
need_cmd dpkg-deb dpkg
need_cmd lintian
need_cmd qemu-system-x86_64 qemu-system-x86
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "a cached arm64 guest kernel (scripts/build-kernel.sh --arch arm64)" scripts/build-kernel.sh --arch arm64 --cached-only
need "$build/bin/boxlite (make)" test -x "$build/bin/boxlite"
need "/bin/busybox (busybox-static)" test -x /bin/busybox
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

deb=$(make -s O="$build" deb 2> "$work/make.log" | tail -1)
expect "make deb prints the package" "$build/boxlite_$(sed -n 's/^#define BOXLITE_VERSION "\(.*\)"/\1/p' include/boxlite.h)_amd64.deb" "$deb"
[ -f "$deb" ] || { sed 's/^/make: /' "$work/make.log"; finish; exit 1; }
lintian "$deb" > "$work/lintian" 2>&1
sed 's/^/lintian: /' "$work/lintian" | grep -v 'root privileges'
expect "lintian: no error" 0 "$(grep -c '^E:' "$work/lintian")"
dpkg-deb -f "$deb" Depends > "$work/depends"
has "Depends names the shared libraries (dpkg-shlibdeps)" "libslirp0" "$work/depends"
has "Depends names QEMU" "qemu-system-x86" "$work/depends"
has "Depends names the libraries loaded on first use (src/common/lazylib.h)" "libcurl4, libarchive13, libmicrohttpd12, libssl3" "$work/depends"
expect "Suggests QEMU's arm64 machine (for the arm64 guest it carries)" "qemu-system-arm" "$(dpkg-deb -f "$deb" Suggests)"

newroot() {
  rm -rf "$1"; mkdir -p "$1/var/lib/dpkg/info" "$1/var/lib/dpkg/updates"
  cp /var/lib/dpkg/status "$1/var/lib/dpkg/status"
}
# Without QEMU among the installed packages, dpkg refuses.
newroot "$work/r0"
python3 - "$work/r0/var/lib/dpkg/status" <<'PY'
import sys
p = sys.argv[1]
paras = open(p).read().split("\n\n")
open(p, "w").write("\n\n".join(x for x in paras if not x.startswith("Package: qemu-system-x86\n")))
PY
dpkg --root="$work/r0" -i "$deb" > "$work/dpkg0" 2>&1
expect "dpkg refuses it where qemu-system-x86 is not installed" 1 "$?"
has "... naming the missing dependency" "qemu-system-x86" "$work/dpkg0"

r=$work/root
newroot "$r"
dpkg --root="$r" -i "$deb" > "$work/dpkg" 2>&1
expect "dpkg --root -i installs it" 0 "$?"
grep -v 'files list file for package' "$work/dpkg" | sed 's/^/dpkg: /'
expect "dpkg --root: installed" "install ok installed" "$(dpkg --root="$r" -s boxlite 2>/dev/null | sed -n 's/^Status: //p')"
for f in usr/bin/boxlite usr/lib/libboxlite.so.0 usr/libexec/boxlite/boxlite-vmm \
         usr/include/boxlite.h usr/lib/pkgconfig/boxlite.pc usr/share/boxlite/vmlinux \
         usr/share/boxlite/initramfs.cpio.gz usr/share/boxlite/arm64/Image \
         usr/share/boxlite/arm64/initramfs.cpio.gz usr/share/doc/boxlite/copyright; do
  check "installed: /$f" test -e "$r/$f"
done
expect "the CLI of the package has no run path (the library is in /usr/lib)" "" \
  "$(objdump -p "$r/usr/bin/boxlite" | awk '$1 == "RUNPATH" || $1 == "RPATH"')"

root=$work/rootfs
mkdir -p "$root/bin" "$root/etc" "$root/root"
cp /bin/busybox "$root/bin/"
ln -s busybox "$root/bin/sh"; ln -s busybox "$root/bin/echo"
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"
unset BOXLITE_VMM BOXLITE_KERNEL BOXLITE_INITRD BOXLITE_CACHE BOXLITE_LIB
mkdir -p "$work/home"
out=$(HOME=$work/home BOXLITE_HOME=$work/bh LD_LIBRARY_PATH=$r/usr/lib "$r/usr/bin/boxlite" \
  run --rm --engine qemu --network none "$root" echo deb-ok 2> "$work/err")
expect "boxlite run from the installed package runs a box" "deb-ok" "$out"
[ -s "$work/err" ] && sed 's/^/boxlite: /' "$work/err"

dpkg --root="$r" -r boxlite > "$work/dpkg-r" 2>&1
expect "dpkg --root -r removes it" 0 "$?"
expect "... leaving no file of it" "0" "$(find "$r/usr" \( -type f -o -type l \) 2>/dev/null | wc -l)"
finish
