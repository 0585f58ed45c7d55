#!/bin/sh
# Boots the project's guest kernel and initramfs once on this machine's /dev/kvm and measures
# it with lab_timeline to the agent's line "boxlite-agent: ready in ..." (the ready mark: the
# agent has found its virtio-console port and, in our VMM, written the control page), then
# stops the VMM (SIGTERM: nothing connects to the box socket to ask for a clean power-off). Runs inside the
# lab's L1 (busybox sh), or directly on a host with hardware virtualization.
#
# usage: guest_boot.sh ours|qemu
# env:   LAB_VMM (boxlite-vmm), LAB_VMLINUX, LAB_INITRD, LAB_TIMELINE (lab_timeline),
#        LAB_GUEST_MIB (default 512), LAB_L2_CMDLINE (set by the lab's init: timer options
#        that only a guest nested inside TCG needs; empty on real hardware)
# Prints the guest's console as "[boot[ENGINE]] [seconds since the VMM started] line", then
# "boot[ENGINE]: timeline: ..." (see lab_timeline.c). Exit status: the VMM's (124: timeout).
engine=$1
mib=${LAB_GUEST_MIB:-512}
mark="boxlite-agent: ready in"
dir=$(mktemp -d /tmp/guest_boot.XXXXXX)
case "$engine" in
  ours)
    # console_log is the VMM's own stdout, which lab_timeline reads line by line; --stats adds
    # the VMM's own figures (VM exits, CPU, RSS outside guest RAM) as a JSON line at exit.
    cat > "$dir/vmm.json" <<EOF
{ "engine": "kvm", "kernel": "$LAB_VMLINUX", "initrd": "$LAB_INITRD",
  "cmdline": "${LAB_L2_CMDLINE:-}", "cpus": 1, "memory_mib": $mib,
  "console_log": "/proc/self/fd/1", "box_socket": "$dir/box.sock", "ready_file": "$dir/ready" }
EOF
    set -- "$LAB_VMM" --config "$dir/vmm.json" --stats ;;
  qemu)
    # The reference: the same kernel, initramfs, memory and command line as ours (serial
    # console, reboot=t panic=-1) and the agent's virtio-console port, which the agent must
    # find before it says ready; QEMU microvm adds virtio_mmio.device= for it by itself.
    set -- qemu-system-x86_64 -M microvm,acpi=off -accel kvm -cpu host -m "$mib" -smp 1 \
      -nodefaults -no-user-config -display none -serial stdio -no-reboot \
      -device virtio-serial-device -chardev socket,id=agent,path="$dir/agent.sock",server=on,wait=off \
      -device virtserialport,chardev=agent,name=boxlite.agent \
      -kernel "$LAB_VMLINUX" -initrd "$LAB_INITRD" \
      -append "console=ttyS0 reboot=t panic=-1 ${LAB_L2_CMDLINE:-}" ;;
  *) echo "usage: guest_boot.sh ours|qemu" >&2; exit 2 ;;
esac
rc=0
"$LAB_TIMELINE" --ready "$mark" --tag "boot[$engine]" --timeout "${LAB_BOOT_TIMEOUT:-400}" \
  --guest-mib "$mib" --stop-after-ready -- "$@" </dev/null || rc=$?
rm -rf "$dir"
exit $rc
