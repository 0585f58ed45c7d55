#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The guest kernel boots under qemu-system-x86_64 -M microvm -accel tcg to /init (the
# agent's initramfs): the agent runs as PID 1, finds no agent port (this VM has no
# virtio-console) and powers the VM off, which ends QEMU by itself.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
. tests/harness/lib.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
vmlinux=$(scripts/build-kernel.sh --cached-only)
initrd=$build/guest/initramfs.cpio.gz
need "$initrd (make)" test -f "$initrd"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
timeout 120 qemu-system-x86_64 -M microvm,acpi=off -accel tcg -cpu max -m 256 -smp 1 \
  -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
  -kernel "$vmlinux" -initrd "$initrd" \
  -append "console=ttyS0 reboot=t panic=-1 quiet" >"$log" 2>&1 </dev/null
rc=$?
expect "QEMU ended by itself (the guest powered off), not by the 120 s timeout" 0 "$rc"
check "the agent started as PID 1 (it is /init)" grep -qE '^boxlite-agent: started as pid 1 at [0-9]+ ms of uptime' "$log"
check "it looked for its port and powered off without one" grep -q '^boxlite-agent: no virtio-console port named boxlite.agent: powering off' "$log"
check "no kernel panic" bash -c "! grep -q 'Kernel panic' '$log'"
[ "$fail" -eq 0 ] || cat "$log"
finish
