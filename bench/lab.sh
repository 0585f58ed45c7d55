#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Our KVM engine against QEMU on the same /dev/kvm (issue 9): the same guest kernel,
# initramfs and memory booted to the agent's ready mark by boxlite-vmm and by
# qemu-system-x86_64 -M microvm -accel kvm, alternating, in one run of the nested-KVM lab
# (or directly on a host with hardware virtualization). Ratios ours/QEMU for boot-to-ready
# wall time, the VMM's CPU time to ready and its resident memory outside guest RAM
# (goal for boot-to-ready: below 0.8). Rounds: $LAB_ROUNDS (default 2).
set -uo pipefail
cd "$(dirname "$0")/.."
if ! grep -qwE 'vmx|svm' /proc/cpuinfo && ! tests/lab/setup.sh --cached-only >/dev/null 2>&1; then
  echo "   lab: skipped (no lab set up: tests/lab/setup.sh)"; exit 0
fi
out=$(tests/lab/lab-check.sh --bench 2>&1)
rc=$?
if [ $rc -ne 0 ]; then echo "   lab: FAILED (lab-check exit $rc)"; echo "$out" | tail -40; exit 1; fi
echo "$out" | grep -E '^(figure|bench|note|lab: ready|lab: L1)' | sed 's/^/   /'
