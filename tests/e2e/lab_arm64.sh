#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The aarch64 KVM engine in the ARM64 lab (tests/lab/README.md, "The ARM64 lab"), one L1 boot:
# L1 (Debian's cloud-arm64 kernel under qemu-system-aarch64 -M virt,virtualization=on with
# TCG) comes up with KVM at EL2; the cross-built boxlite-vmm (make ARCH=aarch64) boots the
# project's arm64 kernel and agent there, jailed, with the arm64 busybox rootfs on vda; a
# client on the box socket runs a command in the container (output and exit code 7 come
# back) and asks for a power-off (PSCI SYSTEM_OFF), after which the VMM ends with status 0.
# Then, in the same L1, the suite's part that issue 18 lists (lab-check.sh --suite-ci: a raw
# and a qcow2 disk checked with the arm64 qemu-img and e2fsprogs, slirp and its policy, 9p,
# the console log and clean power-offs; three boxes: 24 checks, 4.7 minutes at load 12), and
# the KVM engine's pause, resume and two forks of the paused box (13 checks, about 1 minute).
# The whole suite (also a killed VMM, a snapshot chain, the jail: 33 checks, about 9.5
# minutes) runs with LAB_ARM64_SUITE=1, or `make lab-check-arm64`: too long for CI's budget.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
. tests/harness/lib.sh
. tests/harness/lab.sh
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
suite=--suite-ci
[ "${LAB_ARM64_SUITE:-0}" = 1 ] && suite=--suite
BOXLITE_BUILD=$build tests/lab/lab-check.sh --arch arm64 $suite >"$log" 2>&1
rc=$?
in_log() { lab_in_log "$log" "$@"; }
if grep -q "running in the nested-KVM lab" "$log"; then
  in_log "L1 booted at EL2 and KVM came up" '^lab: kernel .*-arm64; (VHE|Hyp) mode initialized'
fi
lab_box_checks "$log" "the arm64 guest (the aarch64 VMM)"
in_log "the guest's kernel ran on our GIC, PL011 and device tree" '^\[boot\[box\]\] .*Machine model: BoxLite'
lab_suite_relay "$log"
expect "lab-check's status" 0 "$rc"
if [ $fail -gt 0 ]; then echo "---- lab-check output"; tail -80 "$log"; fi
grep -E '^(figure|lab:|suite:)' "$log"
finish
