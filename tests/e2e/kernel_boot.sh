#!/bin/bash
# The guest kernel boots under qemu-system-x86_64 -M microvm -accel tcg to /init (the
# agent's initramfs) and the agent's first line reaches the serial console.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
vmlinux=$(scripts/build-kernel.sh --cached-only) || { echo "no cached kernel: run scripts/setup.sh"; exit 1; }
initrd=$build/guest/initramfs.cpio.gz
[ -f "$initrd" ] || { echo "missing $initrd: run make"; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
timeout 120 qemu-system-x86_64 -M microvm,acpi=off -accel tcg -cpu max -m 256 -smp 1 \
  -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
  -kernel "$vmlinux" -initrd "$initrd" \
  -append "console=ttyS0 reboot=t panic=-1 quiet" >"$log" 2>&1 || true
cat "$log"
grep -q "boxlite-agent" "$log" || { echo "FAIL: the agent's line never reached the console"; exit 1; }
echo "kernel boot to /init: ok"
