#!/bin/bash
# The KVM engine's host-side cost on this machine (issue 3): time from spawning boxlite-vmm
# to its first KVM_RUN, and its resident memory excluding guest RAM, booting the project's
# kernel and initramfs with 512 MiB. On hosts without hardware virtualization (the build
# machines) /dev/kvm still runs the guest's first instructions, which is all this needs:
# BOXLITE_KVM_ANY_HOST=1 lets the engine start there. VM exits to agent-ready come from the
# lab (make lab-check), where a guest can reach user space.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BOXLITE_BUILD:-build}
vmm=$build/bin/boxlite-vmm
initrd=$build/guest/initramfs.cpio.gz
[ -x "$vmm" ] && [ -f "$initrd" ] || { echo "vmm: build first (make)"; exit 1; }
[ -r /dev/kvm ] || { echo "vmm: skipped: no /dev/kvm"; exit 0; }
kernel=$(scripts/build-kernel.sh --cached-only) || { echo "vmm: no cached kernel (scripts/setup.sh)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$build/bench"
cc -O2 -Wall -Wextra -Werror -o "$build/bench/vmm_start" bench/vmm_start.c
cat > "$tmp/vmm.json" <<JSON
{"engine": "kvm", "kernel": "$kernel", "initrd": "$PWD/$initrd", "cpus": 1, "memory_mib": 512,
 "cmdline": "quiet", "console_log": "$tmp/console.log"}
JSON
echo "   (load average now: $(cut -d" " -f1-3 /proc/loadavg) on $(nproc) CPUs; the minimum is the unloaded cost)"
BOXLITE_KVM_ANY_HOST=1 "$build/bench/vmm_start" "$vmm" "$tmp/vmm.json" 7 400 2>/dev/null
