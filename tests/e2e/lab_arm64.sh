#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The aarch64 KVM engine in the ARM64 lab (tests/lab/README.md, "The ARM64 lab"), one L1 boot:
# L1 (Debian's cloud-arm64 kernel under qemu-system-aarch64 -M virt,virtualization=on with
# TCG) comes up with KVM at EL2; the cross-built boxlite-vmm (make ARCH=aarch64) boots the
# project's arm64 kernel and agent there, jailed, with the arm64 busybox rootfs on vda; a
# client on the box socket runs a command in the container (output and exit code 7 come
# back) and asks for a power-off (PSCI SYSTEM_OFF), after which the VMM ends with status 0.
# Two and a half minutes on a busy machine. The whole suite (raw and qcow2 disks checked with
# arm64 qemu-img and e2fsprogs, slirp and its policy, 9p, the jail: 34 checks, about 11
# minutes) runs with LAB_ARM64_SUITE=1, or `make lab-check-arm64`: too long for CI's budget.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
. tests/harness/lib.sh
need_cmd qemu-system-aarch64 qemu-system-arm
need_cmd aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
need "a cached arm64 guest kernel (scripts/build-kernel.sh --arch arm64)" scripts/build-kernel.sh --arch arm64 --cached-only
need "$build/guest-arm64/initramfs.cpio.gz (make)" test -f "$build/guest-arm64/initramfs.cpio.gz"
need "the arm64 sysroot (scripts/arm64-sysroot.sh)" scripts/arm64-sysroot.sh --cached-only
need "the ARM64 lab (tests/lab/setup.sh --arch arm64)" tests/lab/setup.sh --arch arm64 --cached-only
need "the VMM cross-built for aarch64 ($build/arm64)" \
  make --no-print-directory -s ARCH=aarch64 O="$build/arm64" "$build/arm64/bin/boxlite-vmm" \
    "$build/arm64/tests/boxlite-vmm-test" "$build/arm64/lib/libproto.a" "$build/arm64/lib/libcommon.a"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
suite=()
[ "${LAB_ARM64_SUITE:-0}" = 1 ] && suite=(--suite)
BOXLITE_BUILD=$build tests/lab/lab-check.sh --arch arm64 "${suite[@]}" >"$log" 2>&1
rc=$?
in_log() { check "$1" grep -qE "$2" "$log"; }
if grep -q "running in the nested-KVM lab" "$log"; then
  in_log "L1 booted at EL2 and KVM came up" '^lab: kernel .*-arm64; (VHE|Hyp) mode initialized'
fi
in_log "boxlite-vmm (aarch64) booted the arm64 guest to the agent's ready mark" '^\[boot\[box\]\] .*boxlite-agent: ready in'
in_log "the guest's kernel ran on our GIC, PL011 and device tree" '^\[boot\[box\]\] .*Machine model: BoxLite'
in_log "the client reached the agent through the box socket" '^client: connected'
in_log "a command in the container rootfs: output back" '^client: command output: hello from the lab rootfs as 0'
in_log "a command in the container rootfs: exit code back" '^client: command exit code: 7$'
in_log "the guest powered off and boxlite-vmm ended with status 0" '^boot\[box\]: timeline: .* exit=0$'
in_log "lab-check passed" '^lab-check: PASS'
while IFS= read -r l; do ok "${l#ok: }"; done < <(grep '^ok: ' "$log")
while IFS= read -r l; do no "${l#FAIL: }"; done < <(grep '^FAIL: ' "$log")
[ ${#suite[@]} -gt 0 ] && in_log "the suite finished" '^[0-9]+ passed, [0-9]+ failed'
expect "lab-check's status" 0 "$rc"
if [ $fail -gt 0 ]; then echo "---- lab-check output"; tail -80 "$log"; fi
grep -E '^(figure|lab:|suite:)' "$log"
finish
