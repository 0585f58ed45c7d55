#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What the per-box process's jail (src/vmm/jail/, issue 13) costs at start, on this machine:
# the same boxlite-vmm, jailed and unconfined ("jail": {"enabled": false}), alternating,
# measured from the spawn (BOXLITE_SPAWN_NS) to the engine's start: the QEMU engine here
# (spawn to QEMU launched: namespaces, the new root with QEMU's libraries, the fork, the drop
# of privileges, the filters, then QEMU's fork), the KVM engine's spawn to first KVM_RUN in
# the lab (bench/vmm.sh, both ways in one L1) and directly on hosts with /dev/kvm.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BOXLITE_BUILD:-build}
vmm=$build/bin/boxlite-vmm
initrd=$build/guest/initramfs.cpio.gz
[ -x "$vmm" ] && [ -f "$initrd" ] || { echo "jail: build first (make)"; exit 1; }
command -v qemu-system-x86_64 >/dev/null || { echo "jail: skipped: no qemu-system-x86_64"; exit 0; }
kernel=$(scripts/build-kernel.sh --cached-only) || { echo "jail: no cached kernel (scripts/setup.sh)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$build/bench"
cc -O2 -Wall -Wextra -Werror -o "$build/bench/vmm_start" bench/vmm_start.c
for mode in jailed unconfined; do
  mkdir -p "$tmp/$mode"
  jail=$([ $mode = unconfined ] && echo '"jail": {"enabled": false},' || true)
  cat > "$tmp/$mode/vmm.json" <<JSON
{"engine": "qemu", "kernel": "$kernel", "initrd": "$PWD/$initrd", "cpus": 1, "memory_mib": 256, $jail
 "cmdline": "quiet", "console_log": "$tmp/$mode/console.log", "ready_file": "$tmp/$mode/ready"}
JSON
done
echo "   (load average now: $(cut -d" " -f1-3 /proc/loadavg) on $(nproc) CPUs; the minimum is the unloaded cost)"
for round in 1 2; do
  for mode in unconfined jailed; do
    (cd "$tmp/$mode" && "$OLDPWD/$build/bench/vmm_start" "$OLDPWD/$vmm" vmm.json 5 1500 \
      "QEMU engine, $mode, spawn to QEMU launched (round $round)") 2>/dev/null | tee -a "$tmp/out"
  done
done
best() { grep "$1" "$tmp/out" | sed -n 's/.*min \([0-9.]*\) ms.*/\1/p' | sort -n | head -1; }
u=$(best unconfined) j=$(best jailed)
echo "figure: the jail's cost at start (QEMU engine, best jailed - best unconfined): $(awk -v a="$j" -v b="$u" 'BEGIN{printf "%.2f", a-b}') ms"
