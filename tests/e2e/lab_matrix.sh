#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The CPU matrix in CI: the lab's second CPU model (tests/e2e/lab_smoke.sh runs "max"), one
# L1 boot for all of it (tests/lab/lab-check.sh --cpu MODEL --matrix, tests/lab/matrix.sh):
# a box per CPU template (v3, baseline, host) whose guest shows the template's features and
# not the hidden ones; a KVM boot made to fail on purpose (engine auto) started again on QEMU
# with -accel kvm, saying why in the CLI's notice, inspect and vmm.log; an explicit
# --engine kvm that never falls back; `boxlite doctor` in L1 reporting KVM usable and both
# engines booting; pause, resume and fork through the CLI on the KVM engine (a tmpfs file
# and a loop kept, two forks each with its own host name, MAC, boot_id and random stream).
# $LAB_MATRIX_CPU picks the model (default EPYC-Rome); `make lab-matrix`
# runs every model. On a host with hardware virtualization the same runs directly.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
. tests/harness/lib.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need_cmd mke2fs e2fsprogs
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "$build/bin/boxlite, boxlite-vmm and the initramfs (make)" \
  test -x "$build/bin/boxlite" -a -x "$build/bin/boxlite-vmm" -a -f "$build/guest/initramfs.cpio.gz"
if ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
  need "the lab (tests/lab/setup.sh)" tests/lab/setup.sh --cached-only
fi
model=${LAB_MATRIX_CPU:-EPYC-Rome}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
LAB_TEMPLATES="v3 baseline host" LAB_SECTIONS="templates fallback doctor pause" \
  tests/lab/lab-check.sh --cpu "$model" --matrix >"$log" 2>&1
rc=$?
in_log() { check "$1" grep -qE "$2" "$log"; }
if grep -q "running in the nested-KVM lab" "$log"; then
  in_log "L1 booted with -cpu $model and kvm-amd reports nested paging" '^lab: kernel .*Nested Paging enabled'
fi
in_log "the default box booted (auto chose a template)" "^figure: CPU template chosen by auto \[$model\]: (v3|baseline)$"
# matrix.sh's own checks count here, one by one
while IFS= read -r l; do ok "${l#ok: }"; done < <(grep '^ok: ' "$log")
while IFS= read -r l; do no "${l#FAIL: }"; done < <(grep '^FAIL: ' "$log")
in_log "the matrix finished" "^matrix \[$model\]: [0-9]+ passed, 0 failed$"
for t in v3 baseline host; do
  in_log "template $t checked" "^ok: \[$model\] template $t: the guest's CPU shows"
done
in_log "the fallback ran the box on QEMU with KVM" "^ok: \[$model\] inspect: it runs on QEMU with KVM acceleration"
in_log "doctor saw both engines boot" "^ok: \[$model\] doctor: a smoke box booted on QEMU with KVM"
in_log "pause and resume through the CLI on the KVM engine" "^ok: \[$model\] the next exec resumes it with its tmpfs"
in_log "two forks through the CLI on the KVM engine" "^ok: \[$model\] three different host names, MACs, random streams and boot_ids"
expect "lab-check's status" 0 "$rc"
if [ $fail -gt 0 ]; then echo "---- lab-check output"; grep -v '^\[boot' "$log" | tail -120; fi
grep -E '^(figure|lab:|matrix)' "$log"
finish
