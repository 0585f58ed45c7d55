#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The box disk boots: a busybox OCI image (tests/fixtures/mkimages.py) is imported,
# built into an ext4 base and given a qcow2 overlay by our code, then the guest kernel
# mounts it as root under QEMU (microvm, TCG) and reports what it sees: root-owned files
# with the image's modes, a writable overlay, the filesystem size.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
. tests/harness/lib.sh
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
vmlinux=$(scripts/build-kernel.sh --cached-only)
need_cmd qemu-system-x86_64 qemu-system-x86
for a in image disk common; do need "$build/lib/lib$a.a (make)" test -f "$build/lib/lib$a.a"; done
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
pkgs="libcurl jansson libarchive openssl libzstd zlib ext2fs com_err libisal"
gcc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -Isrc $(pkg-config --cflags $pkgs) bench/image.c \
  -Wl,--start-group "$build/lib/libimage.a" "$build/lib/libdisk.a" "$build/lib/libcommon.a" -Wl,--end-group \
  $(pkg-config --libs $pkgs) -lpthread -o "$work/image"
python3 tests/fixtures/mkimages.py "$work/fx" busybox
"$work/image" oci "$work/home" "$work/fx/busybox" "$work/box.qcow2" 1024 >/dev/null
qemu-img check "$work/box.qcow2" >/dev/null
log=$work/console.log
timeout 120 qemu-system-x86_64 -M microvm,acpi=off,x-option-roms=off -accel tcg -cpu max -m 256 -smp 1 \
  -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
  -drive id=root,file="$work/box.qcow2",format=qcow2,if=none -device virtio-blk-device,drive=root \
  -kernel "$vmlinux" \
  -append "console=ttyS0 reboot=t panic=-1 root=/dev/vda rw rootfstype=ext4 init=/etc/boxlite-check.sh" \
  >"$log" 2>&1 || true
grep BOXLITE-CHECK "$log" || { tail -30 "$log"; echo "FAIL: the check script never ran"; exit 1; }
check "guest owners and modes" grep -q "BOXLITE-CHECK root=0:0:700 tmp=1777" "$log"
check "writes through the overlay" grep -q "BOXLITE-CHECK write=hello" "$log"
check "df on the root filesystem" grep -q "BOXLITE-CHECK blocks=[0-9]" "$log"
# The guest's writes went to the overlay, never to the shared base.
base=$(ls "$work"/home/images/rootfs/*.ext4)
check "the shared base is clean (e2fsck -fn)" e2fsck -fn "$base"
debugfs -R "stat /root/x" "$base" 2>&1 | grep "not found" >/dev/null && ok "the guest's write never reached the base" || no "base was written"
finish
