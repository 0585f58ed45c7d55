#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The aarch64 KVM engine in the ARM64 lab (issue 18): one box check of
# tests/lab/lab-check.sh --arch arm64 (L2 is KVM nested inside L1's TCG, far slower than
# hardware), its figures with units: VMM start to first KVM_RUN, start to the agent's ready
# mark, VM exits of the whole box run, the command round trip through the box socket and the
# VMM's RSS outside guest RAM. The cross-arch TCG figure (an arm64 box on this x86_64 host)
# is bench/arm64_tcg.sh's. Skipped, with the reason, when the lab cannot be set up here.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BOXLITE_BUILD:-build}
skip() { echo "   lab_arm64: skipped ($1)"; exit 0; }
command -v qemu-system-aarch64 >/dev/null || skip "qemu-system-aarch64 not installed: scripts/setup.sh"
command -v aarch64-linux-gnu-gcc >/dev/null || skip "no cross compiler (gcc-aarch64-linux-gnu): scripts/setup.sh"
scripts/arm64-sysroot.sh --cached-only >/dev/null 2>&1 || skip "no arm64 sysroot: scripts/arm64-sysroot.sh"
tests/lab/setup.sh --arch arm64 --cached-only >/dev/null 2>&1 || skip "no ARM64 lab: tests/lab/setup.sh --arch arm64"
scripts/build-kernel.sh --arch arm64 --cached-only >/dev/null 2>&1 || skip "no arm64 guest kernel: scripts/build-kernel.sh --arch arm64"
[ -f "$build/guest-arm64/initramfs.cpio.gz" ] || skip "no arm64 guest initramfs: make"
make --no-print-directory -s ARCH=aarch64 O="$build/arm64" "$build/arm64/bin/boxlite-vmm" \
  "$build/arm64/tests/boxlite-vmm-test" "$build/arm64/lib/libproto.a" "$build/arm64/lib/libcommon.a" ||
  { echo "   lab_arm64: FAILED (the aarch64 cross build)"; exit 1; }
out=$(BOXLITE_BUILD=$build tests/lab/lab-check.sh --arch arm64 2>&1)
rc=$?
if [ $rc -ne 0 ]; then echo "   lab_arm64: FAILED (lab-check exit $rc)"; echo "$out" | tail -40; exit 1; fi
# VM exits are a count; every other figure of lab-check carries its unit already
echo "$out" | grep -E '^(figure|lab: ready|lab: L1)' | grep -v 'CPU template chosen' |
  sed -e 's/^\(figure: VM exits[^:]*: [0-9]*\)$/\1 exits/' -e 's/^/   [arm64 lab] /'
