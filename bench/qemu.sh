#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The QEMU engine's figures on this machine (TCG here; KVM acceleration where the CPU has
# vmx/svm): boot to the agent's first console line and to agent-ready (the agent's HELLO on
# its channel), measured through engine_qemu_ops by bench/qemu_boot.c; create to first output
# at the engine (start, HELLO, SETUP of a busybox rootfs disk, exec echo) and through the
# whole stack (`boxlite run --rm --engine qemu DIR echo`).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BOXLITE_BUILD:-build}
runs=${BENCH_RUNS:-5}
command -v qemu-system-x86_64 >/dev/null || { echo "qemu: skipped (qemu-system-x86_64 not installed)"; exit 0; }
vmlinux=$(scripts/build-kernel.sh --cached-only 2>/dev/null) || { echo "qemu: skipped (no cached kernel)"; exit 0; }
initrd=$build/guest/initramfs.cpio.gz
[ -f "$initrd" ] || { echo "qemu: skipped (no $initrd: run make)"; exit 0; }

mkdir -p "$build/bench"
bin=$build/bench/qemu_boot
gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation \
  -Iinclude -Isrc -o "$bin" bench/qemu_boot.c \
  -Wl,--start-group "$build"/lib/lib{vmm,netrule,disk,proto,common}.a -Wl,--end-group \
  $(pkg-config --cflags glib-2.0) $(make -s --no-print-directory print-libs) || exit 1

# A busybox rootfs (ext4) for create-to-first-output; without busybox, boot figures only.
rootfs=
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -x /bin/busybox ] && command -v mke2fs >/dev/null; then
  mkdir -p "$work/root/bin" "$work/root/etc"
  cp /bin/busybox "$work/root/bin/" && ln -s busybox "$work/root/bin/echo" && ln -s busybox "$work/root/bin/sh"
  cp -a "$work/root" "$work/rootdir" # a pristine copy for `boxlite run DIR`
  echo 'root:x:0:0:root:/root:/bin/sh' >"$work/root/etc/passwd"
  mke2fs -q -F -t ext4 -d "$work/root" "$work/rootfs.ext4" 32M >/dev/null 2>&1 && rootfs=$work/rootfs.ext4
fi
"$bin" "$vmlinux" "$initrd" "$runs" $rootfs || exit 1

# create-to-first-output through the whole stack: `boxlite run --rm --engine qemu DIR echo`
# (CLI, library, rootfs disk built from the directory, per-box process, this engine, agent).
cli=$build/bin/boxlite
if [ -x "$cli" ] && [ -d "$work/rootdir" ]; then
  python3 - "$cli" "$work" "$runs" <<'PY' || exit 1
import os, subprocess, sys, time
cli, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
firsts, totals = [], []
for i in range(runs):
    t0 = time.monotonic()
    p = subprocess.Popen([cli, "--home", os.path.join(work, "home"), "run", "--rm", "--engine", "qemu",
                          os.path.join(work, "rootdir"), "echo", "first-output"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    b = p.stdout.read(1)
    t1 = time.monotonic()
    rest = p.stdout.read()
    p.wait()
    if b + rest != b"first-output\n" or p.returncode != 0:
        print("qemu/TCG create to first output (boxlite run): failed, exit %d: %s"
              % (p.returncode, p.stderr.read()[-300:].decode(errors="replace")))
        sys.exit(1)
    firsts.append((t1 - t0) * 1000)
    totals.append((time.monotonic() - t0) * 1000)
for name, v in (("create to first output", firsts), ("whole run until the box is removed", totals)):
    v.sort()
    print("qemu/TCG %s (boxlite run --rm --engine qemu DIR echo): %.1f ms (median of %d; min %.1f ms, max %.1f ms)"
          % (name, v[len(v) // 2], len(v), v[0], v[-1]))
PY
else
  echo "qemu/TCG create to first output (boxlite run): n/a (no $cli or no busybox rootfs)"
fi
