#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Boots the project's guest kernel and initramfs once on this machine's /dev/kvm and measures
# it with lab_timeline to the agent's line "boxlite-agent: ready in ..." (the ready mark: the
# agent has found its virtio-console port and, in our VMM, written the control page). Runs
# inside the lab's L1 (busybox sh), or directly on a host with hardware virtualization.
#
# usage: guest_boot.sh box|ours|qemu [quiet]
#   quiet: the guest kernel runs with "quiet" (few console bytes: each is a VM exit, which
#          costs most nested inside TCG); the tag becomes MODE-quiet
#   box   boxlite-vmm with $LAB_DISK as the container rootfs (vda, boxlite.root=/dev/vda);
#         $LAB_CLIENT connects to the box socket, runs commands in the container and asks
#         the agent to power off: the VMM must then end by itself with status 0
#   ours  boxlite-vmm, no disk; stopped with SIGTERM at the ready mark (bench)
#   qemu  the reference: qemu-system-x86_64 -M microvm -accel kvm, the same kernel,
#         initramfs, memory and command line; stopped at the ready mark (bench)
# env:   LAB_VMM (boxlite-vmm), LAB_VMLINUX, LAB_INITRD, LAB_TIMELINE, LAB_CLIENT, LAB_DISK,
#        LAB_GUEST_MIB (default 512), LAB_L2_CMDLINE (set by the lab's init: timer options
#        that only a guest nested inside TCG needs; empty on real hardware)
# Prints the guest's console as "[boot[MODE]] [seconds since the VMM started] line", then
# "boot[MODE]: timeline: ..." (lab_timeline.c), and for box the client's "client: ..." lines.
# Exit status: the VMM's (124: timeout), or 1 when the client failed.
mode=$1
q=""
tag=$mode
if [ "${2:-}" = quiet ]; then q="quiet "; tag=$mode-quiet; fi
mib=${LAB_GUEST_MIB:-512}
mark="boxlite-agent: ready in"
dir=$(mktemp -d /tmp/guest_boot.XXXXXX)
stop=--stop-after-ready
vmm_config() { # $1 = extra cmdline, $2 = disks JSON
  # console_log is the VMM's own stdout, which lab_timeline reads line by line; --stats adds
  # the VMM's own figures (VM exits, CPU, RSS outside guest RAM) as a JSON line at exit.
  cat > "$dir/vmm.json" <<EOF
{ "engine": "kvm", "kernel": "$LAB_VMLINUX", "initrd": "$LAB_INITRD",
  "cmdline": "$1${LAB_L2_CMDLINE:-}", "cpus": 1, "memory_mib": $mib, "disks": [ $2 ],
  "console_log": "/proc/self/fd/1", "box_socket": "$dir/box.sock", "ready_file": "$dir/ready" }
EOF
}
case "$mode" in
  box)
    vmm_config "boxlite.root=/dev/vda " "{ \"path\": \"$LAB_DISK\", \"readonly\": false }"
    stop=""
    set -- "$LAB_VMM" --config "$dir/vmm.json" --stats ;;
  ours)
    vmm_config "$q" ""
    set -- "$LAB_VMM" --config "$dir/vmm.json" --stats ;;
  qemu)
    # The agent's virtio-console port is there too: the agent must find it before it says
    # ready. QEMU microvm adds virtio_mmio.device= for it by itself.
    set -- qemu-system-x86_64 -M microvm,acpi=off -accel kvm -cpu host -m "$mib" -smp 1 \
      -nodefaults -no-user-config -display none -serial stdio -no-reboot \
      -device virtio-serial-device -chardev socket,id=agent,path="$dir/agent.sock",server=on,wait=off \
      -device virtserialport,chardev=agent,name=boxlite.agent \
      -kernel "$LAB_VMLINUX" -initrd "$LAB_INITRD" \
      -append "console=ttyS0 reboot=t panic=-1 $q${LAB_L2_CMDLINE:-}" ;;
  *) echo "usage: guest_boot.sh box|ours|qemu" >&2; exit 2 ;;
esac
rc=0
if [ "$mode" = box ]; then
  "$LAB_TIMELINE" --ready "$mark" --tag "boot[$tag]" --timeout "${LAB_BOOT_TIMEOUT:-400}" \
    --guest-mib "$mib" -- "$@" </dev/null &
  tl=$!
  "$LAB_CLIENT" "$dir/box.sock" "${LAB_BOOT_TIMEOUT:-400}" </dev/null || {
    rc=1
    kill "$tl" 2>/dev/null
  }
  wait "$tl"
  trc=$?
  [ $rc != 0 ] || rc=$trc
else
  "$LAB_TIMELINE" --ready "$mark" --tag "boot[$tag]" --timeout "${LAB_BOOT_TIMEOUT:-400}" \
    --guest-mib "$mib" $stop -- "$@" </dev/null || rc=$?
fi
rm -rf "$dir"
exit $rc
