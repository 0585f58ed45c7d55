#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The nested-KVM lab (tests/lab/) end to end, one L1 boot: L1 comes up under QEMU TCG with
# kvm-amd and nested paging, a KVM program runs guest code on its /dev/kvm (kvm_probe), and
# boxlite-vmm (engine kvm) boots the project's guest kernel and initramfs there with a
# container rootfs on vda, a client on the box socket runs a command in the container (output
# and exit code come back) and asks for a power-off, after which the VMM ends with status 0.
# Then, in the same L1, the KVM engine's suite (tests/lab/suite.sh): block read/write on a
# raw image, a qcow2 overlay, a VMM killed mid-write leaving a consistent qcow2, the network
# policy (L1's loopback reachable on the allow_host port only, link-local refused, denials
# logged and counted), a 9p shared directory, the console log and
# clean power-off; each of its checks counts here. On a host with hardware virtualization the same
# checks run directly (tests/lab/lab-check.sh decides). Takes about a minute here (two on a busy machine).
# The KVM engine's unit test (test_kvm_engine, sanitizer build) runs in the same L1.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
. tests/harness/lib.sh
. tests/harness/lab.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "$build/bin/boxlite-vmm and $build/guest/initramfs.cpio.gz (make)" \
  test -x "$build/bin/boxlite-vmm" -a -f "$build/guest/initramfs.cpio.gz"
if ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
  need "the lab (tests/lab/setup.sh)" tests/lab/setup.sh
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
tests/lab/lab-check.sh --suite >"$log" 2>&1
rc=$?
in_log() { lab_in_log "$log" "$@"; }
if grep -q "running in the nested-KVM lab" "$log"; then
  in_log "L1 booted and kvm-amd reports nested paging" '^lab: kernel .*Nested Paging enabled'
  in_log "L1 hands L2 its timer options" '^lab: L2 options: .*tsc_early_khz=[0-9]+ lpj=[0-9]+'
fi
in_log "kvm_probe ran guest code on /dev/kvm" '^kvm_probe: ok'
lab_box_checks "$log" "the guest"
lab_suite_relay "$log"
in_log "test_kvm_engine (the KVM engine's unit test, sanitizer build) passed in L1" '^kvm_engine: 1 passed, 0 failed, 0 skipped$'
in_log "test_kvm_balloon (the balloon on a KVM machine's RAM, sanitizer build) passed in L1" '^kvm_balloon: 2 passed, 0 failed, 0 skipped$'
in_log "test_kvm_snapshot (a running KVM machine saved and restored, sanitizer build) passed in L1" '^kvm_snapshot: 1 passed, 0 failed, 0 skipped$'
expect "lab-check's status" 0 "$rc"
if [ $fail -gt 0 ]; then echo "---- lab-check output"; tail -80 "$log"; fi
grep -E '^(figure|lab:|suite:|test_kvm_engine:|test_kvm_balloon:|test_kvm_snapshot:)' "$log"
finish
