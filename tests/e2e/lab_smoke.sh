#!/bin/bash
# The nested-KVM lab (tests/lab/) end to end, one L1 boot: L1 comes up under QEMU TCG with
# kvm-amd and nested paging, a KVM program runs guest code on its /dev/kvm (kvm_probe), and
# boxlite-vmm (engine kvm) boots the project's guest kernel and initramfs there with a
# container rootfs on vda, a client on the box socket runs a command in the container (output
# and exit code come back) and asks for a power-off, after which the VMM ends with status 0.
# Then, in the same L1, the KVM engine's suite (tests/lab/suite.sh): block read/write on a
# raw image, a qcow2 overlay, a VMM killed mid-write leaving a consistent qcow2, network
# through libslirp to a server on L1's loopback, a 9p shared directory, the console log and
# clean power-off; each of its checks counts here. On a host with hardware virtualization the same
# checks run directly (tests/lab/lab-check.sh decides). Takes about a minute here (two on a busy machine).
# Skipped (77) when QEMU, the built tree, the cached kernel or the lab's kernel package is
# missing.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
command -v qemu-system-x86_64 >/dev/null || { echo "skip: qemu-system-x86_64 not installed"; exit 77; }
scripts/build-kernel.sh --cached-only >/dev/null 2>&1 || { echo "skip: no cached guest kernel"; exit 77; }
[ -x "$build/bin/boxlite-vmm" ] && [ -f "$build/guest/initramfs.cpio.gz" ] || { echo "skip: run make first"; exit 77; }
if ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
  tests/lab/setup.sh >/dev/null || { echo "skip: the lab cannot be set up (tests/lab/setup.sh)"; exit 77; }
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
tests/lab/lab-check.sh --suite >"$log" 2>&1
rc=$?
pass=0 fail=0
check() { # $1 = what, $2 = ERE that must be in the log
  if grep -qE "$2" "$log"; then echo "ok: $1"; pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi
}
if grep -q "running in the nested-KVM lab" "$log"; then
  check "L1 booted and kvm-amd reports nested paging" '^lab: kernel .*Nested Paging enabled'
  check "L1 hands L2 its timer options" '^lab: L2 options: .*tsc_early_khz=[0-9]+ lpj=[0-9]+'
fi
check "kvm_probe ran guest code on /dev/kvm" '^kvm_probe: ok'
check "boxlite-vmm booted the guest to the agent's ready mark" '^\[boot\[box\]\] .*boxlite-agent: ready in'
check "the client reached the agent through the box socket" '^client: connected'
check "a command in the container rootfs: output back" '^client: command output: hello from the lab rootfs as 0'
check "a command in the container rootfs: exit code back" '^client: command exit code: 7$'
check "the guest powered off and boxlite-vmm ended with status 0" '^boot\[box\]: timeline: .* exit=0$'
check "lab-check passed" '^lab-check: PASS'
n=$(grep -c '^ok: ' "$log"); pass=$((pass + n)); grep '^ok: ' "$log"
n=$(grep -c '^FAIL: ' "$log"); fail=$((fail + n)); grep '^FAIL: ' "$log"
grep -qE '^[0-9]+ passed, [0-9]+ failed' "$log" || { echo "FAIL: the suite did not finish"; fail=$((fail + 1)); }
[ $rc -eq 0 ] || { echo "FAIL: lab-check exited $rc"; fail=$((fail + 1)); }
if [ $fail -gt 0 ]; then echo "---- lab-check output"; tail -80 "$log"; fi
grep -E '^(figure|lab:|suite:)' "$log"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
