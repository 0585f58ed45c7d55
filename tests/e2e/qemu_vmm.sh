#!/bin/bash
# The per-box process (boxlite-vmm) with "engine": "qemu": the placeholder agent boots to its
# first console line and its reboot ends the process; a missing QEMU is a clear error.
# Skipped (77) while boxlite-vmm has no engine wired in or QEMU/the kernel are missing.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
vmm=$build/bin/boxlite-vmm
initrd=$build/guest/initramfs.cpio.gz
command -v qemu-system-x86_64 >/dev/null || { echo "skip: qemu-system-x86_64 not installed"; exit 77; }
vmlinux=$(scripts/build-kernel.sh --cached-only 2>/dev/null) || { echo "skip: no cached kernel"; exit 77; }
[ -x "$vmm" ] && [ -f "$initrd" ] || { echo "skip: run make first"; exit 77; }
if "$vmm" 2>&1 | grep -q "no engine built yet"; then echo "skip: boxlite-vmm is still a placeholder"; exit 77; fi

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0 fail=0
ok() { echo "ok: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }

write_config() { # $1 = file
  cat >"$1" <<JSON
{ "engine": "qemu", "kernel": "$vmlinux", "initrd": "$initrd", "cpus": 1, "memory_mib": 256,
  "console_log": "$dir/console.log", "box_socket": "$dir/box.sock", "ready_file": "$dir/ready" }
JSON
}

# 1. boot: the placeholder agent prints its line and reboots; the process ends by itself
write_config "$dir/vmm.json"
timeout 120 "$vmm" --config "$dir/vmm.json" >"$dir/out" 2>&1
rc=$?
if [ $rc -eq 124 ]; then bad "boxlite-vmm did not end after the guest rebooted"; cat "$dir/out"
else ok "boxlite-vmm ended after the guest's reboot (exit $rc)"; fi
if grep -q "boxlite-agent" "$dir/console.log" 2>/dev/null; then ok "agent's first line in the console log"
else bad "no agent line in $dir/console.log"; cat "$dir/out"; fi

# 2. QEMU missing: a clear error, quickly
BOXLITE_QEMU=/nonexistent/qemu timeout 60 "$vmm" --config "$dir/vmm.json" >"$dir/out" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "/nonexistent/qemu" "$dir/out"; then
  ok "missing QEMU binary: exit $rc, says: $(grep -m1 nonexistent "$dir/out")"
else bad "missing QEMU binary: exit $rc, output: $(cat "$dir/out")"; fi
mkdir -p "$dir/emptybin"
timeout 60 env PATH="$dir/emptybin" "$vmm" --config "$dir/vmm.json" >"$dir/out" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "qemu-system-x86_64 is not installed" "$dir/out"; then
  ok "QEMU not on PATH: exit $rc"
else bad "QEMU not on PATH: exit $rc, output: $(cat "$dir/out")"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
