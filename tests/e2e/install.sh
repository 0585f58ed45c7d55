#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The installed way: `make install DESTDIR=... PREFIX=/opt/boxlite` stages a tree; a C
# program compiled with `pkg-config --cflags --libs boxlite` against it runs a box (QEMU
# engine) with nothing of the checkout in sight (no BOXLITE_ asset variables, a HOME
# without the kernel cache): the library finds boxlite-vmm, the kernel and the initramfs
# relative to itself. The tree is then moved to another folder and still works: the CLI
# there runs a box, the program finds the moved assets. `make uninstall` removes every file.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
. tests/harness/lib.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need_cmd pkg-config
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "$build/lib/libboxlite.so.0 (make)" test -e "$build/lib/libboxlite.so.0"
need "/bin/busybox (busybox-static)" test -x /bin/busybox
need "a cached arm64 guest kernel (scripts/build-kernel.sh --arch arm64)" scripts/build-kernel.sh --arch arm64 --cached-only
need "$build/guest-arm64/initramfs.cpio.gz (make, with gcc-aarch64-linux-gnu)" test -f "$build/guest-arm64/initramfs.cpio.gz"
need "Debian's busybox-static:arm64 (tests/fixtures/arm64-busybox.sh)" tests/fixtures/arm64-busybox.sh --cached-only
need_cmd qemu-system-aarch64 qemu-system-arm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

kernel=$(scripts/build-kernel.sh --cached-only)
kernel_arm64=$(scripts/build-kernel.sh --arch arm64 --cached-only)
busybox_arm64=$(tests/fixtures/arm64-busybox.sh --cached-only)
# Nothing of the checkout or of this user's set-up may help the installed tree.
unset BOXLITE_VMM BOXLITE_KERNEL BOXLITE_INITRD BOXLITE_CACHE BOXLITE_HOME BOXLITE_LIB
mkdir -p "$work/home"
export HOME=$work/home

stage=$work/stage
make -s O="$build" install DESTDIR="$stage" PREFIX=/opt/boxlite KERNEL="$kernel" KERNEL_ARM64="$kernel_arm64" > "$work/make.log" 2>&1
expect "make install DESTDIR=... PREFIX=/opt/boxlite" 0 "$?" || sed 's/^/make: /' "$work/make.log"
tree=$stage/opt/boxlite
for f in bin/boxlite bin/boxlite-runtime lib/libboxlite.so.0 lib/libboxlite.so libexec/boxlite/boxlite-vmm \
         include/boxlite.h lib/pkgconfig/boxlite.pc share/boxlite/vmlinux \
         share/boxlite/initramfs.cpio.gz share/boxlite/arm64/Image share/boxlite/arm64/initramfs.cpio.gz; do
  check "installed: $f" test -e "$tree/$f"
done
expect "lib/libboxlite.so -> the SONAME" "libboxlite.so.0" "$(readlink "$tree/lib/libboxlite.so")"
# The kernel goes in without its symbol table (QEMU copies one into every box's heap)
# and with its loadable segments: the same program headers as the kernel given.
check "installed: share/boxlite/vmlinux has no symbol table" \
  sh -c '! readelf -S -W "$1" | grep -q " \.symtab "' _ "$tree/share/boxlite/vmlinux"
expect "  and the same segments as $kernel" "$(readelf -l -W "$kernel" | grep -E '^ +(LOAD|NOTE)')" \
  "$(readelf -l -W "$tree/share/boxlite/vmlinux" | grep -E '^ +(LOAD|NOTE)')"
scripts/abi-check.sh "$tree/lib/libboxlite.so.0" > "$work/abi" 2>&1
expect "the installed library passes the ABI check" 0 "$?"

# A user's program, built from the installed header and library only.
export PKG_CONFIG_PATH=$tree/lib/pkgconfig
expect "pkg-config knows the version" "$(sed -n 's/^#define BOXLITE_VERSION "\(.*\)"/\1/p' include/boxlite.h)" \
  "$(pkg-config --modversion boxlite)"
cp tests/fixtures/installed_client.c "$work/"
(cd "$work" && cc -o client installed_client.c $(pkg-config --cflags --libs boxlite)) 2> "$work/cc.log"
expect "a C program compiles and links with pkg-config --cflags --libs boxlite" 0 "$?"
[ -s "$work/cc.log" ] && sed 's/^/cc: /' "$work/cc.log"
expect "it needs libboxlite.so.0 (the SONAME)" "libboxlite.so.0" \
  "$(objdump -p "$work/client" | awk '$1 == "NEEDED" && $2 ~ /boxlite/ { print $2 }')"

root=$work/root
mkdir -p "$root/bin" "$root/etc" "$root/root"
cp /bin/busybox "$root/bin/"
ln -s busybox "$root/bin/sh"; ln -s busybox "$root/bin/echo"
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"

LD_LIBRARY_PATH=$tree/lib "$work/client" check "$work/bh" > "$work/check" 2> "$work/err"
has "the library finds the staged kernel and initramfs" "$tree/share/boxlite/vmlinux" "$work/check"
out=$(LD_LIBRARY_PATH=$tree/lib "$work/client" run "$work/bh" "$root" 2> "$work/err")
expect "the program runs a box from the staged tree (QEMU engine)" "installed-ok" "$out"
[ -s "$work/err" ] && sed 's/^/client: /' "$work/err"

# Moved elsewhere, the tree still works: nothing in it names where it was installed.
moved=$work/elsewhere/bl
mkdir -p "$(dirname "$moved")"
mv "$tree" "$moved"
LD_LIBRARY_PATH=$moved/lib "$work/client" check "$work/bh" > "$work/check2" 2> "$work/err"
has "moved: the library finds the moved kernel" "$moved/share/boxlite/vmlinux" "$work/check2"
has "moved: ... and the moved initramfs" "$moved/share/boxlite/initramfs.cpio.gz" "$work/check2"
expect "moved: the CLI loads the moved library (\$ORIGIN/../lib)" "$moved/lib" \
  "$(dirname "$(realpath "$(ldd "$moved/bin/boxlite" | awk '$1 == "libboxlite.so.0" { print $3 }')")")"
export PKG_CONFIG_PATH=$moved/lib/pkgconfig
expect "moved: pkg-config points into the moved tree" "-I$moved/lib/pkgconfig/../../include" \
  "$(pkg-config --cflags boxlite | tr -d ' ')"
out=$(BOXLITE_HOME=$work/bh2 "$moved/bin/boxlite" run --rm --engine qemu --network none "$root" \
  echo moved-ok 2> "$work/err")
expect "moved: boxlite run works from the moved tree" "moved-ok" "$out"
[ -s "$work/err" ] && sed 's/^/boxlite: /' "$work/err"

# The arm64 guest in the moved tree: a box of platform linux/arm64 (Debian's arm64 busybox
# as its root) runs with no kernel cache in HOME.
a64=$work/root-arm64
mkdir -p "$a64/bin" "$a64/etc"
cp "$busybox_arm64" "$a64/bin/busybox"
ln -s busybox "$a64/bin/sh"; ln -s busybox "$a64/bin/uname"
cp "$root/etc/passwd" "$root/etc/group" "$a64/etc/"
out=$(BOXLITE_HOME=$work/bh3 "$moved/bin/boxlite" run --rm --platform linux/arm64 --network none "$a64" \
  uname -m 2> "$work/err")
expect "moved: an arm64 box runs from the tree's arm64 guest" "aarch64" "$out"
[ -s "$work/err" ] && sed 's/^/boxlite: /' "$work/err"

make -s O="$build" uninstall DESTDIR="$work/elsewhere" PREFIX=/bl > "$work/make.log" 2>&1
expect "make uninstall" 0 "$?"
expect "make uninstall leaves no file (the folders stay)" "0 yes" \
  "$(find "$moved" -type f -o -type l | wc -l) $(test -d "$moved/lib" && echo yes)"
finish
