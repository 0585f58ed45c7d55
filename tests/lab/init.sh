#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# /init of the lab's L1 guest (tests/lab/README.md). The base archive built by setup.sh holds
# busybox, the KVM modules (/lab/modules, numbered in load order) and this script; run.sh
# appends a second archive with /lab/cmd (the command, a shell script), /lab/nonce (the
# marker that frames its output), /lab/cwd and the files the command needs.
# Everything here prints to the serial console, which run.sh reads on the host.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# What udev makes on a real system; QEMU's engine hands QEMU pipes as /dev/fd/N.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
# / is the initramfs, itself a tmpfs: writable scratch space, /tmp included (no tmpfs over
# /tmp: run.sh may have put files there, at the host's paths).
chmod 1777 /tmp
mkdir -p /root /dev/pts /dev/shm && mount -t tmpfs tmpfs /dev/shm
ip link set lo up 2>/dev/null
nonce=$(cat /lab/nonce 2>/dev/null || echo none)
say() { echo "lab-$nonce: $*"; }
end() {
  say "exit $1"
  sync
  # reboot=t and QEMU's -no-reboot make this end L1 at once.
  reboot -f
  sleep 5; echo b > /proc/sysrq-trigger
}

for m in /lab/modules/*.ko; do
  [ -e "$m" ] || continue # the ARM64 lab's kernel has KVM built in
  insmod "$m" || { say "error: insmod $m failed"; dmesg | tail -20; end 125; }
done
if [ ! -c /dev/kvm ]; then say "error: no /dev/kvm after loading the modules"; dmesg | tail -20; end 125; fi
export LAB_L1=1
if [ "$(uname -m)" = aarch64 ]; then
  # KVM on arm64 needs the kernel entered at EL2 (QEMU's virtualization=on); it then says
  # which mode it took (VHE with -cpu max). Nothing for L2's command line: the architected
  # timer needs no calibration.
  if ! dmesg | grep -q -E 'kvm \[[0-9]+\]: (VHE|Hyp) mode initialized'; then
    say "error: KVM did not initialize at EL2"; dmesg | grep -i -E 'kvm|EL2'; end 125
  fi
  export LAB_L2_CMDLINE=""
  say "kernel $(uname -r); $(dmesg | grep -o -E '(VHE|Hyp) mode initialized' | head -1); $(dmesg | grep -o 'GICv[0-9].*' | head -1)"
else
  # kvm_amd says "Nested Paging enabled" when SVM with NPT is usable; without it KVM would
  # fall back to shadow paging (or refuse to load), which is not what users' machines run.
  if ! dmesg | grep -q "Nested Paging enabled"; then
    say "error: kvm_amd did not report nested paging"; dmesg | grep -i -E 'kvm|svm' ; end 125
  fi
  # The L2 guest's timer calibration under nested SVM inside TCG stalls (environment.md):
  # hand L2 the TSC frequency and delay-loop value L1 itself runs with. Commands put
  # $LAB_L2_CMDLINE on their L2 kernel command line; it exists only in the lab.
  khz=$(dmesg | sed -n 's/.*tsc: Refined TSC clocksource calibration: \([0-9]*\)\.\([0-9]*\) MHz.*/\1\2/p' | tail -1)
  [ -n "$khz" ] || khz=$(dmesg | sed -n 's/.*tsc: Detected \([0-9]*\)\.\([0-9]*\) MHz.*/\1\2/p' | tail -1)
  lpj=$(dmesg | sed -n 's/.*(lpj=\([0-9]*\)).*/\1/p' | tail -1)
  export LAB_L2_CMDLINE="no_timer_check${khz:+ tsc_early_khz=$khz}${lpj:+ lpj=$lpj}"
  say "kernel $(uname -r); kvm-amd: $(dmesg | grep -o -E 'Nested (Virtualization|Paging) enabled' | tr '\n' ' ')"
  say "L2 options: $LAB_L2_CMDLINE"
fi
say "ready at uptime $(cut -d' ' -f1 /proc/uptime) s"

cd "$(cat /lab/cwd 2>/dev/null || echo /)" 2>/dev/null || cd /
say "begin"
sh /lab/cmd </dev/null
end $?
