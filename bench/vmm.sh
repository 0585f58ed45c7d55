#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The KVM engine's host-side cost on this machine (issue 3): time from spawning boxlite-vmm
# to its first KVM_RUN, and its resident memory excluding guest RAM, booting the project's
# kernel and initramfs with 512 MiB. On hosts without hardware virtualization (the build
# machines) /dev/kvm still runs the guest's first instructions, which is all this needs:
# BOXLITE_KVM_ANY_HOST=1 lets the engine start there.
# Then, if the nested-KVM lab is set up (tests/lab/), the same binary boots the kernel and
# agent there to agent-ready and a client talks to the agent through the box socket: time to
# ready, VM exits to ready, a request's round trip (BOXLITE_BENCH_NO_LAB=1 skips this); and
# spawn to first KVM_RUN of the same VMM jailed (src/vmm/jail/) and unconfined, alternating
# in the same L1 (the jail's cost; in the lab every host-side step runs under TCG, far
# slower than on hardware: the difference is the figure, not the absolute times).
# Memory (issue 15): the VMM's resident memory outside guest RAM (its own count, STATUS's
# rss_bytes) at ready, and for a box as the library runs one (jailed, a qcow2 rootfs, the
# network, commands run in it), with where it goes (bench/vmm_smaps.sh: per library, heap,
# thread stacks) for the VMM and the jail's supervisor. BOXLITE_BENCH_VMM_BEFORE=PATH runs
# that box with another boxlite-vmm too (an older build: before/after in one L1).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BOXLITE_BUILD:-build}
vmm=$build/bin/boxlite-vmm
initrd=$build/guest/initramfs.cpio.gz
[ -x "$vmm" ] && [ -f "$initrd" ] || { echo "vmm: build first (make)"; exit 1; }
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
if [ -r /dev/kvm ]; then
  BOXLITE_KVM_ANY_HOST=1 "$build/bench/vmm_start" "$vmm" "$tmp/vmm.json" 7 400 2>/dev/null
  (cd "$tmp" && sed 's/"cpus"/"jail": {"enabled": false}, "cpus"/' vmm.json > unconfined.json &&
   BOXLITE_KVM_ANY_HOST=1 "$OLDPWD/$build/bench/vmm_start" "$OLDPWD/$vmm" unconfined.json 7 400 \
     "spawn to first KVM_RUN, unconfined (the jail off)" 2>/dev/null)
else
  echo "host figures: skipped (no /dev/kvm here); the lab's below"
fi

# ---- in the lab ------------------------------------------------------------------------
[ "${BOXLITE_BENCH_NO_LAB:-0}" = 1 ] && exit 0
if ! tests/lab/setup.sh --cached-only >/dev/null 2>&1; then
  echo "lab figures: skipped (no lab set up: tests/lab/setup.sh)"
  exit 0
fi
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iinclude -Isrc -o "$build/bench/vmm_client" \
  bench/vmm_client.c "$build/lib/libproto.a" "$build/lib/libcommon.a" -lpthread
# The library-like box's client and container rootfs, as tests/lab/lab-check.sh makes them.
mkdir -p "$build/lab" "$tmp/rootfs/bin" "$tmp/rootfs/etc" "$tmp/rootfs/proc" "$tmp/rootfs/dev" "$tmp/rootfs/tmp"
gcc -std=c11 -D_GNU_SOURCE -static -O2 -Wall -Wextra -Werror -Wno-unused-parameter -Iinclude -Isrc \
  -o "$build/lab/lab_client" tests/lab/lab_client.c "$build/lib/libproto.a" "$build/lib/libcommon.a" -lpthread
cp /bin/busybox "$tmp/rootfs/bin/busybox"
echo "the lab rootfs" > "$tmp/rootfs/etc/lab-rootfs"
mke2fs -q -F -t ext4 -d "$tmp/rootfs" "$tmp/rootfs.ext4" 16M >/dev/null
qemu-img create -q -f qcow2 -F raw -b "$tmp/rootfs.ext4" "$tmp/disk.qcow2"
before="" vmm_before=${BOXLITE_BENCH_VMM_BEFORE:-}
before_files=()
if [ -n "$vmm_before" ]; then
  vmm_before=$(realpath "$vmm_before") before=before before_files=(--file "$vmm_before")
fi
# $LAB_L2_CMDLINE carries the timer options an L2 kernel needs under TCG (tests/lab/init.sh);
# "quiet" because every console byte is a VM exit, costly two levels down.
cat > "$tmp/lab.sh" <<SCRIPT
# mem SUPERVISOR PREFIX: where the memory of a jailed box goes (bench/vmm_smaps.sh): the jail's
# supervisor, started here, and the VMM, its child (PID 1 of the box's PID namespace).
# (Its variables are the shell's globals: named so as not to clobber the caller's.)
mem() {
  sh $PWD/bench/vmm_smaps.sh \$1 \$2supervisor "$kernel" "$PWD/$initrd"
  for mem_s in /proc/[0-9]*/stat; do
    read -r mem_p mem_c mem_st mem_pp mem_rest 2>/dev/null < \$mem_s
    [ "\$mem_pp" = "\$1" ] && [ "\$mem_c" = "(boxlite-vmm)" ] &&
      sh $PWD/bench/vmm_smaps.sh \$mem_p \$2vmm "$kernel" "$PWD/$initrd"
  done
}
for mode in jailed unconfined; do
  mkdir -p /tmp/jb-\$mode
  jail=\$([ \$mode = unconfined ] && echo '"jail": {"enabled": false},')
  printf '{"engine": "kvm", "kernel": "%s", "initrd": "%s", "cpus": 1, "memory_mib": 512, %s "cmdline": "quiet", "console_log": "/tmp/jb-%s/console.log"}\n' \
    "$kernel" "$PWD/$initrd" "\$jail" \$mode > /tmp/jb-\$mode/vmm.json
done
for round in 1 2; do
  for mode in unconfined jailed; do
    (cd /tmp/jb-\$mode && $PWD/$build/bench/vmm_start $PWD/$vmm vmm.json 3 1500 "spawn to first KVM_RUN, \$mode (round \$round)")
  done
done
# The box of a library user: jailed (as root, dropping to 65534), its own folder.
b=/tmp/jb-ready
mkdir -p \$b
cat > \$b/vmm.json <<J
{"engine": "kvm", "kernel": "$kernel", "initrd": "$PWD/$initrd", "cpus": 1, "memory_mib": 512,
 "cmdline": "quiet \$LAB_L2_CMDLINE", "console_log": "\$b/console.log",
 "box_socket": "\$b/box.sock", "ready_file": "\$b/ready"}
J
t0=\$(cut -d' ' -f1 /proc/uptime)
(cd \$b && exec $PWD/$vmm --config \$b/vmm.json --stats) > /tmp/stats 2> /tmp/vmm.err &
vmm=\$!
# ready: the agent's HELLO through the mux, then STATUS (no sleep, no polling: inotify for
# the socket, which the VMM renames into place once it listens, and the VMM's pidfd)
$PWD/$vmm --status \$b/box.sock --wait 300000 --pid \$vmm > /tmp/status; src=\$?
# Where the memory goes, at ready: the jail's supervisor (\$vmm) and the VMM, its child.
[ \$src = 0 ] && mem \$vmm ready-
[ \$src = 0 ] && $PWD/$build/bench/vmm_client \$b/box.sock; crc=\$?
[ \$src = 0 ] || crc=1
[ \$crc = 0 ] || kill -TERM \$vmm
wait \$vmm; vrc=\$?
t1=\$(cut -d' ' -f1 /proc/uptime)
echo "status at ready: \$(cat /tmp/status 2>/dev/null)"
echo "at exit: \$(cat /tmp/stats)"
echo "boxlite-vmm: exit status \$vrc, L1 seconds from VMM start to its end: \$t0 -> \$t1"
[ \$crc = 0 ] && [ \$vrc = 0 ] || { echo "---- vmm stderr"; cat /tmp/vmm.err; echo "---- console"; cat \$b/console.log; exit 1; }
# A box as the library runs one: jailed, the container rootfs on a qcow2 overlay (vda), the
# network on, the console through the log pump; commands in the container, then its memory
# (STATUS and smaps) while it still runs, then SIGTERM (the agent powers off). With
# \$BOXLITE_BENCH_VMM_BEFORE, the same with that binary first (an older build, to compare).
for v in $before after; do
  bin=$PWD/$vmm
  [ \$v = before ] && bin=$vmm_before
  b=/tmp/jb-box-\$v
  mkdir -p \$b && cp $tmp/disk.qcow2 \$b/disk.qcow2
  cat > \$b/vmm.json <<J
{"engine": "kvm", "kernel": "$kernel", "initrd": "$PWD/$initrd", "cpus": 1, "memory_mib": 512,
 "cmdline": "quiet boxlite.root=/dev/vda \$LAB_L2_CMDLINE", "console_log": "\$b/console.log",
 "disks": [{"path": "\$b/disk.qcow2", "readonly": false}], "network": {"enabled": true},
 "box_socket": "\$b/box.sock", "ready_file": "\$b/ready"}
J
  (cd \$b && exec \$bin --config \$b/vmm.json --stats) > \$b/stats 2> \$b/vmm.err &
  p=\$!
  $PWD/$build/lab/lab_client \$b/box.sock 300 -c 'cat /etc/lab-rootfs' -o 'the lab rootfs' \
    -c 'dd if=/dev/zero of=/zero bs=64k count=64 2>/dev/null && sync && ls /bin | wc -l' -o 1 \
    --rtt --no-shutdown < /dev/null | sed "s/^/\$v /"
  if \$bin --status \$b/box.sock --now --pid \$p > \$b/status; then
    echo "box status (\$v): \$(cat \$b/status)"
    mem \$p box-\$v-
  else
    echo "box (\$v): no STATUS"; cat \$b/vmm.err; tail -20 \$b/console.log; boxfail=1
  fi
  kill -TERM \$p; wait \$p
  echo "box (\$v): boxlite-vmm exit status \$? after SIGTERM"
done
[ -z "\$boxfail" ]
SCRIPT
out=$(tests/lab/run.sh --timeout 600 --file "$PWD/$vmm" --file "$kernel" --file "$PWD/$initrd" \
      --file "$PWD/$build/bench/vmm_client" --file "$PWD/$build/bench/vmm_start" \
      --file "$PWD/bench/vmm_smaps.sh" --file "$PWD/$build/lab/lab_client" \
      --file "$tmp/rootfs.ext4" --file "$tmp/disk.qcow2" "${before_files[@]}" \
      --script "$tmp/lab.sh" 2>&1) || {
  echo "lab figures: FAILED"; echo "$out" | tail -40; exit 1; }
# Each process's total; the breakdown for the library-like box's VMM.
echo "$out" | grep -E "^(client|request|boxlite-vmm:|spawn to first|mem [a-z-]*: outside|mem box-after-vmm:|box |(before|after) client)" |
  sed 's/^/   lab: /'
ready=$(echo "$out" | sed -n 's/^status at ready: //p')
num() { echo "$ready" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
echo "lab: boxlite-vmm start to agent-ready (L2 under nested SVM in TCG): $(num start_to_ready_ms) ms"
echo "lab: VM exits from start to agent-ready: $(num vm_exits)"
echo "lab: VMM resident memory outside guest RAM at ready: $(awk -v b="$(num rss_bytes)" 'BEGIN{printf "%.2f", b/1048576}') MiB"
for v in $before after; do
  st=$(echo "$out" | sed -n "s/^box status ($v): //p")
  rss=$(echo "$st" | sed -n 's/.*"rss_bytes":\([0-9]*\).*/\1/p')
  echo "lab: VMM resident memory outside guest RAM, a box with a qcow2 rootfs and the network after commands ($v): $(awk -v b="$rss" 'BEGIN{ if (b > 0) printf "%.2f MiB", b/1048576; else print "?" }')"
done
best() { echo "$out" | grep "spawn to first KVM_RUN, $1" | sed -n 's/.*min \([0-9.]*\) ms.*/\1/p' | sort -n | head -1; }
u=$(best unconfined) j=$(best jailed)
echo "lab: spawn to first KVM_RUN, best of 6: unconfined ${u:-?} ms, jailed ${j:-?} ms, the jail's cost $(awk -v a="$j" -v b="$u" 'BEGIN{ if (a > 0 && b > 0) printf "%.2f", a-b; else print "?" }') ms"
