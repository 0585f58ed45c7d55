#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# End-to-end tests of the KVM engine, run inside one lab L1 (tests/e2e/lab_kvm.sh starts it;
# on a host with hardware virtualization it runs directly). Each test boots a box with
# boxlite-vmm (engine kvm), drives it with lab_client through the box socket, and checks the
# result from outside the guest with real tools (debugfs, e2fsck, qemu-img).
# env: LAB_VMM LAB_VMLINUX LAB_INITRD LAB_CLIENT LAB_ROOTFS (an ext4 image: busybox and
#      /etc/lab-rootfs), LAB_L2_CMDLINE (lab only), LAB_VMM_TEST (the VMM's test build),
#      LAB_LOOP_KO (loop.ko of L1's kernel: the suite then works on an ext4 filesystem, as a
#      user's box folder and volumes would be, not on L1's tmpfs), LAB_SUITE_SET (ci: only
#      issue 18's list, a raw and a qcow2 disk checked, slirp, 9p and a clean power-off, in
#      three boxes, and pause, resume and two forks: CI's form of the ARM64 lab; pause: that
#      last section alone; default all). Ends with "N passed, N failed".
# Every box runs jailed (src/vmm/jail/): boxlite-vmm is started as root and drops to 65534.
pass=0
fail=0
ok() { echo "ok: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }
base=/tmp
if [ -n "${LAB_LOOP_KO:-}" ] && [ -f "$LAB_LOOP_KO" ]; then
  insmod "$LAB_LOOP_KO" 2>/dev/null
  mkdir -p /tmp/ext4 && dd if=/dev/zero of=/tmp/ext4.img bs=1M count=0 seek=160 2>/dev/null &&
    mke2fs -F /tmp/ext4.img >/dev/null 2>&1 && mount -t ext4 -o loop /tmp/ext4.img /tmp/ext4 &&
    base=/tmp/ext4 && echo "suite: working on ext4 (a loop device): idmapped mounts and user xattrs"
fi
[ "$base" = /tmp ] && echo "suite: working on L1's tmpfs: no idmapped mounts, no user xattrs"
work=$(mktemp -d $base/suite.XXXXXX)
# LAB_TRACE=1: every VMM runs under strace, its filters denying nothing (the test build's
# trace-syscalls), and the end prints what each kind of thread called (scripts/seccomp-trace.sh
# compares that with the lists).
if [ "${LAB_TRACE:-0}" = 1 ] && [ -n "${LAB_VMM_TEST:-}" ] && command -v strace >/dev/null; then
  mkdir -p /tmp/st
  printf '#!/bin/sh\nexport BOXLITE_VMM_TEST=trace-syscalls\nexec strace -f -ff -qq -o /tmp/st/t %s "$@"\n' "$LAB_VMM_TEST" > /tmp/vmm-trace
  chmod +x /tmp/vmm-trace
  LAB_VMM=/tmp/vmm-trace
  echo "suite: tracing every VMM (strace)"
fi

# box NAME CMDLINE-EXTRA DISKS-JSON EXTRA-JSON -- CLIENT-ARGS...: boots, runs the client,
# waits for the VMM. Sets $vrc (the VMM's status) and $crc (the client's); the console log is
# $work/NAME.console. The client's output is passed on.
box() {
  name=$1 extra=$2 disks=$3 more=$4
  shift 5
  d=$work/$name
  mkdir -p "$d"
  cat > "$d/vmm.json" <<EOF
{ "engine": "kvm", "kernel": "$LAB_VMLINUX", "initrd": "$LAB_INITRD",
  "cmdline": "quiet $extra ${LAB_L2_CMDLINE:-}", "cpus": 1, "memory_mib": 512,
  "disks": [ $disks ] $more,
  "console_log": "$work/$name.console", "box_socket": "$d/box.sock", "ready_file": "$d/ready" }
EOF
  (cd "$d" && exec ${VMM:-$LAB_VMM} --config "$d/vmm.json" --stats) > "$d/vmm.out" 2>&1 &
  vpid=$!
  if [ -n "${BEFORE_CLIENT:-}" ]; then
    ${VMM:-$LAB_VMM} --status "$d/box.sock" --wait 300000 --pid $vpid >/dev/null # ready (STATUS)
    $BEFORE_CLIENT
  fi
  "$LAB_CLIENT" "$d/box.sock" 300 "$@" </dev/null
  crc=$?
  if [ "$KILL_VMM" = 1 ]; then
    kill -9 $vpid
  elif [ $crc != 0 ]; then
    kill $vpid 2>/dev/null
  fi
  # A VMM that does not end after the guest's power-off would hang the suite: bound it.
  ( sleep 120; kill -9 $vpid 2>/dev/null ) &
  guard=$!
  wait $vpid
  vrc=$?
  kill $guard 2>/dev/null
  if [ $crc != 0 ]; then
    echo "---- $name: boxlite-vmm output"; cat "$d/vmm.out"
    echo "---- $name: console (last lines)"; tail -20 "$work/$name.console"
  fi
}
disk() { echo "{ \"path\": \"$1\", \"readonly\": false }"; }
# every section runs unless LAB_SUITE_SET leaves it out (said so, as a skip line): ci keeps
# CI's list (the sections not asked through whole, and pause and resume), pause only the
# pause section (a quick run while working on snapshots: lab-check.sh --suite-pause)
whole() {
  case "${LAB_SUITE_SET:-all}:$1" in
    all:*|"pause:pause and resume"|"ci:pause and resume") return 0 ;;
  esac
  echo "skip: $1: not in LAB_SUITE_SET=${LAB_SUITE_SET} (the whole suite: make lab-check-arm64)"; return 1
}
# CI's sections: in every set but pause
ci_part() { [ "${LAB_SUITE_SET:-all}" != pause ] && return 0; whole "$1"; }

if ci_part "raw and qcow2 disks"; then
echo "== block device read/write (raw ext4 image), console log, clean power-off"
cp "$LAB_ROOTFS" "$work/t1.ext4"
box t1 "boxlite.root=/dev/vda" "$(disk "$work/t1.ext4")" "" -- \
  -c 'cat /etc/lab-rootfs' -o "the lab rootfs" \
  -c 'echo written-by-the-guest > /t1.txt && dd if=/dev/zero of=/zero bs=64k count=32 2>/dev/null && sync && cat /t1.txt' -o written-by-the-guest
[ $crc = 0 ] && ok "commands in the container on a raw disk" || bad "commands on a raw disk (client $crc)"
[ $vrc = 0 ] && ok "clean power-off: boxlite-vmm ended by itself with status 0" || bad "boxlite-vmm status $vrc after power-off"
[ "$(debugfs -R 'cat /t1.txt' "$work/t1.ext4" 2>/dev/null)" = written-by-the-guest ] &&
  ok "the guest's file is in the disk image (debugfs)" || bad "the guest's file is not in the image"
e2fsck -fn "$work/t1.ext4" >"$work/t1.fsck" 2>&1 && ok "the image is clean after power-off (e2fsck -fn)" ||
  { bad "e2fsck found problems"; cat "$work/t1.fsck"; }
grep -q "boxlite-agent: started" "$work/t1.console" && grep -q "boxlite-agent: ready" "$work/t1.console" &&
  ok "console log has the agent's lines (the kernel runs with quiet)" || bad "console log incomplete"

echo "== qcow2 overlay over a raw base"
qemu-img create -q -f qcow2 -F raw -b "$LAB_ROOTFS" "$work/t2.qcow2" && cp "$LAB_ROOTFS" "$work/base.copy"
box t2 "boxlite.root=/dev/vda" "$(disk "$work/t2.qcow2")" "" -- \
  -c 'dd if=/dev/zero of=/big bs=64k count=64 2>/dev/null && echo qcow2-write > /t2.txt && sync && wc -c < /big' -o 4194304
[ $crc = 0 ] && [ $vrc = 0 ] && ok "writes through a qcow2 overlay, clean power-off" || bad "qcow2 box: client $crc, VMM $vrc"
qemu-img check "$work/t2.qcow2" >"$work/t2.check" 2>&1 && ok "qemu-img check: no errors" ||
  { bad "qemu-img check"; cat "$work/t2.check"; }
qemu-img convert -O raw "$work/t2.qcow2" "$work/t2.raw" &&
  [ "$(debugfs -R 'cat /t2.txt' "$work/t2.raw" 2>/dev/null)" = qcow2-write ] &&
  ok "the guest's file reads back through QEMU's qcow2 code" || bad "the guest's file is not in the qcow2"
cmp -s "$LAB_ROOTFS" "$work/base.copy" && ok "the backing file is untouched" || bad "the backing file changed"
fi

if whole "a killed VMM, a snapshot chain"; then
echo "== a killed VMM leaves a consistent qcow2"
qemu-img create -q -f qcow2 -F raw -b "$LAB_ROOTFS" "$work/t3.qcow2"
KILL_VMM=1 box t3 "boxlite.root=/dev/vda" "$(disk "$work/t3.qcow2")" "" -- \
  -c '(i=0; while [ $i -lt 200 ]; do dd if=/dev/zero of=/f$i bs=64k count=4 2>/dev/null; i=$((i+1)); done) > /dev/null 2>&1 & sleep 2; echo writing' -o writing --no-shutdown
qemu-img check "$work/t3.qcow2" >"$work/t3.check" 2>&1
qrc=$?
# 0: clean; 3: leaked clusters only (allocated, unreferenced: wasted space, no damage).
{ [ $qrc = 0 ] || [ $qrc = 3 ]; } && ok "after kill -9 mid-write, qemu-img check finds no corruption (status $qrc)" ||
  { bad "qemu-img check status $qrc after kill -9"; cat "$work/t3.check"; }
KILL_VMM=0

echo "== a snapshot chain as src/runtime/snapshot.c lays it out: top over a frozen layer over the base"
# The layer was a box's disk.qcow2; a snapshot froze it (by name, relative to the folder) and
# put a fresh top over it. The KVM engine (jailed) must read through both, write only the top.
mkdir -p "$work/chain"
qemu-img create -q -f qcow2 -F raw -b "$LAB_ROOTFS" "$work/chain/layer-0123456789abcdef.qcow2"
box t5a "boxlite.root=/dev/vda" "$(disk "$work/chain/layer-0123456789abcdef.qcow2")" "" -- \
  -c 'echo before-the-snapshot > /snap.txt && sync && cat /snap.txt' -o before-the-snapshot
(cd "$work/chain" && qemu-img create -q -f qcow2 -F qcow2 -b layer-0123456789abcdef.qcow2 disk.qcow2) &&
  chmod 0644 "$work/chain/layer-0123456789abcdef.qcow2" && cp "$work/chain/layer-0123456789abcdef.qcow2" "$work/layer.copy"
box t5 "boxlite.root=/dev/vda" "$(disk "$work/chain/disk.qcow2")" "" -- \
  -c 'cat /snap.txt && echo after > /after.txt && sync && cat /after.txt' -o "before-the-snapshot
after"
[ $crc = 0 ] && [ $vrc = 0 ] && ok "a box boots on a two-layer chain and reads the frozen layer's file" ||
  bad "chain box: client $crc, VMM $vrc"
cmp -s "$work/chain/layer-0123456789abcdef.qcow2" "$work/layer.copy" && ok "the frozen layer is untouched" ||
  bad "the frozen layer changed"
qemu-img check -q "$work/chain/disk.qcow2" && qemu-img check -q "$work/chain/layer-0123456789abcdef.qcow2" &&
  ok "qemu-img check: the top and the layer are clean" || bad "qemu-img check of the chain"
qemu-img convert -O raw "$work/chain/disk.qcow2" "$work/t5.raw" &&
  [ "$(debugfs -R 'cat /after.txt' "$work/t5.raw" 2>/dev/null)" = after ] &&
  ok "the top's write reads back through QEMU's qcow2 code" || bad "the top's write is not in the chain"
fi

if ci_part "network and 9p"; then
echo "== network: the policy in front of libslirp (the same code as the QEMU engine's), and a shared directory (virtio-9p)"
# Two servers on L1's loopback; the box may reach 18080 (allow_host), nothing else of L1.
mkdir -p "$work/www" "$work/share" && echo "hello over slirp" > "$work/www/hello.txt" &&
  echo "from the host" > "$work/share/h.txt"
httpd -f -p 127.0.0.1:18080 -h "$work/www" &
hpid=$!
httpd -f -p 127.0.0.1:18081 -h "$work/www" &
hpid2=$!
box t4 "boxlite.root=/dev/vda boxlite.vol=vol0:/share" "$(disk "$work/t1.ext4")" \
  ", \"network\": { \"enabled\": true, \"allow_host\": [ { \"port\": 18080 } ] }, \"shares\": [ { \"tag\": \"vol0\", \"path\": \"$work/share\", \"readonly\": false } ]" -- \
  -c 'cat /share/h.txt && echo from-the-guest > /share/g.txt && ls /share' -o "from the host" \
  -c 'wget -q -O - http://10.0.2.2:18080/hello.txt' -o "hello over slirp" \
  -c 'wget -q -O - http://10.0.2.2:18081/hello.txt 2>&1; echo rc=$?' -o "Connection refused" \
  -c 'wget -q -O - http://169.254.169.254/ 2>&1; echo rc=$?' -o "Connection refused"
[ $crc = 0 ] && [ $vrc = 0 ] && ok "the guest read the host's file in the share (9p); allow_host 18080: the guest fetched a file from L1's loopback (10.0.2.2); port 18081 and 169.254.169.254 refused at once (a reset)" ||
  bad "network: client $crc, VMM $vrc"
grep -q "network: denied tcp 10.0.2.2 port 18081: the host's loopback (allow it with allow_host 18081)" "$d/vmm.out" &&
  ok "the VMM logged the denied loopback port" || { bad "no denial in the VMM's log"; cat "$d/vmm.out"; }
grep -q "network: denied tcp 169.254.169.254 port 80: link-local" "$d/vmm.out" &&
  ok "the VMM logged the denied metadata address as link-local" || bad "no link-local denial in the VMM's log"
grep -qE '"net_allowed":[1-9][0-9]*,"net_denied":([2-9]|[1-9][0-9]+)' "$d/vmm.out" &&
  ok "the VMM's figures count connections allowed and denied" ||
  bad "no allowed/denied counts in: $(grep net_allowed "$d/vmm.out")"
kill $hpid $hpid2 2>/dev/null

[ "$(cat "$work/share/g.txt" 2>/dev/null)" = from-the-guest ] && ok "the guest's write reached the host directory" ||
  bad "the guest's file is not in the host directory"
fi

if whole "pause and resume"; then
echo "== pause and resume on the KVM engine (memory snapshot, src/vmm/snapshot.c)"
# A loop started before the pause keeps a counter and a shell variable in tmpfs (each file
# replaced whole by rename). PAUSE saves guest RAM to memory and the machine to memory.state
# and ends the VMM; a state file altered by one byte, or resealed with another build id, is
# refused by a resuming VMM; the real one resumes the loop where it was.
d=$work/t8
mkdir -p "$d"
cp "$LAB_ROOTFS" "$work/t8.ext4"
snapcfg() { # snapcfg [INCOMING]: vmm.json of the t8 box
  inc=""
  [ -n "${1:-}" ] && inc=", \"incoming\": \"$1\""
  cat > "$d/vmm.json" <<EOF
{ "engine": "kvm", "kernel": "$LAB_VMLINUX", "initrd": "$LAB_INITRD",
  "cmdline": "quiet boxlite.root=/dev/vda ${LAB_L2_CMDLINE:-}", "cpus": 1, "memory_mib": 512,
  "disks": [ $(disk "$work/t8.ext4") ],
  "memory": { "file": "$d/memory", "state": "$d/memory.state" $inc },
  "console_log": "$work/t8.console", "box_socket": "$d/box.sock", "ready_file": "$d/ready" }
EOF
}
snapvmm() { # starts the t8 VMM in the background ($vpid)
  rm -f "$d/box.sock"
  (cd "$d" && exec ${VMM:-$LAB_VMM} --config "$d/vmm.json" --stats) > "$d/vmm.out" 2>&1 &
  vpid=$!
}
snapwait() { # waits for it to end (bounded): $vrc
  ( sleep 120; kill -9 $vpid 2>/dev/null ) &
  guard=$!
  wait $vpid
  vrc=$?
  kill $guard 2>/dev/null
}
LOOP='v=secret-$$-$RANDOM; i=0; while true; do i=$((i+1)); echo $i > /dev/shm/c.t; mv /dev/shm/c.t /dev/shm/c; echo "$v" > /dev/shm/v.t; mv /dev/shm/v.t /dev/shm/v; sleep 0.2; done'
snapcfg
snapvmm
"$LAB_CLIENT" "$d/box.sock" 300 --no-shutdown \
  -c "setsid sh -c '$LOOP' </dev/null >/dev/null 2>&1 & i=0; while [ \$(cat /dev/shm/c 2>/dev/null || echo 0) -lt 3 ] && [ \$i -lt 200 ]; do i=\$((i+1)); sleep 0.1; done; echo c=\$(cat /dev/shm/c) v=\$(cat /dev/shm/v)" \
  -o "v=secret-" > "$d/client1.out" 2>&1
crc=$?
cat "$d/client1.out"
c0=$(sed -n 's/.*c=\([0-9]*\) v=.*/\1/p' "$d/client1.out" | tail -1)
v0=$(sed -n 's/.* v=\(secret-[0-9-]*\).*/\1/p' "$d/client1.out" | tail -1)
[ $crc = 0 ] && [ -n "$c0" ] && [ -n "$v0" ] && ok "a loop counts in tmpfs before the pause (c=$c0, $v0)" ||
  bad "the loop did not start (client $crc)"
pout=$(${VMM:-$LAB_VMM} --status "$d/box.sock" --pause 2>&1)
prc=$?
snapwait
[ $prc = 0 ] && [ "$pout" = paused ] && ok "PAUSE on the KVM engine: $pout" || bad "PAUSE: [$pout] status $prc"
# status 3: the VM ended without a power-off (main.c), its reason the pause's
[ $vrc = 3 ] && grep -q "paused: memory saved" "$d/vmm.out" && ok "the VMM ended after saving (status 3, \"paused: memory saved\")" ||
  { bad "the VMM after PAUSE: status $vrc"; tail -5 "$d/vmm.out"; }
[ -s "$d/memory.state" ] && [ -f "$d/memory" ] &&
  ok "memory.state ($(stat -c %s "$d/memory.state") bytes) and memory ($(stat -c %s "$d/memory") bytes, $(( $(stat -c %b "$d/memory") * 512 / 1048576 )) MiB on disk) are in the box folder" ||
  bad "no snapshot files: $(ls -l "$d" | tr '\n' ' ')"
cp "$d/memory.state" "$d/state.good"
# the disk as it was at the pause, for the forks below
cp "$work/t8.ext4" "$work/f1.ext4" && cp "$work/t8.ext4" "$work/f2.ext4"
# one byte altered in the middle of the state: the checksum refuses it
sz=$(stat -c %s "$d/state.good")
cp "$d/state.good" "$d/state.bad"
printf '\377' | dd of="$d/state.bad" bs=1 seek=$((sz / 2)) conv=notrunc 2>/dev/null
snapcfg "$d/state.bad"
snapvmm
snapwait
[ $vrc != 0 ] && grep -q "checksum (SHA-256) does not match" "$d/vmm.out" &&
  ok "a state altered by one byte is refused (VMM status $vrc)" ||
  { bad "altered state: VMM status $vrc"; tail -5 "$d/vmm.out"; }
# another build: the build id changed and the checksum made right again
cp "$d/state.good" "$d/state.other"
printf '\377\377\377\377' | dd of="$d/state.other" bs=1 seek=32 conv=notrunc 2>/dev/null
n=$((sz - 32))
h=$(head -c $n "$d/state.other" | sha256sum | cut -d' ' -f1)
printf "$(echo "$h" | sed 's/\(..\)/\\x\1/g')" | dd of="$d/state.other" bs=1 seek=$n conv=notrunc 2>/dev/null
snapcfg "$d/state.other"
snapvmm
snapwait
[ $vrc != 0 ] && grep -q "made by another boxlite-vmm build" "$d/vmm.out" &&
  ok "a state from another build is refused: $(grep -o 'made by another boxlite-vmm build ([^)]*)' "$d/vmm.out" | head -1)" ||
  { bad "another build's state: VMM status $vrc"; tail -5 "$d/vmm.out"; }
[ -f "$d/state.other" ] && [ -f "$d/state.bad" ] && ok "a refused state is left where it was" || bad "a refused state was removed"
# the real one: the loop goes on, with its variable
cp "$d/state.good" "$d/memory.state"
snapcfg "$d/memory.state"
snapvmm
"$LAB_CLIENT" "$d/box.sock" 300 \
  -c 'a=$(cat /dev/shm/c); sleep 1; echo a=$a b=$(cat /dev/shm/c) v=$(cat /dev/shm/v)' -o "v=" > "$d/client2.out" 2>&1
crc=$?
cat "$d/client2.out"
snapwait
a=$(sed -n 's/.*a=\([0-9]*\) b=.*/\1/p' "$d/client2.out" | tail -1)
b=$(sed -n 's/.* b=\([0-9]*\) v=.*/\1/p' "$d/client2.out" | tail -1)
v1=$(sed -n 's/.* v=\(secret-[0-9-]*\).*/\1/p' "$d/client2.out" | tail -1)
[ $crc = 0 ] && [ -n "$a" ] && [ -n "$c0" ] && [ "$a" -ge "$c0" ] && [ -n "$b" ] && [ "$b" -gt "$a" ] &&
  ok "after resume the loop counts on from where it was ($c0 at the pause, then $a, $b)" ||
  { bad "after resume: client $crc, counter [$c0] [$a] [$b]"; tail -20 "$d/vmm.out"; tail -20 "$work/t8.console"; }
[ -n "$v1" ] && [ "$v1" = "$v0" ] && ok "the loop's shell variable survived ($v1)" || bad "shell variable [$v0] -> [$v1]"
[ ! -e "$d/memory.state" ] && ok "the resumed VMM removed the state it resumed from" || bad "memory.state is still there"
[ $vrc = 0 ] && ok "the resumed box powered off cleanly (status 0)" || bad "resumed VMM status $vrc"
# Forks, as the library makes them on this engine: two more VMMs resume the same RAM file
# at once, copy-on-write, each from its own copy of the state and of the disk as it was at
# the pause; each one's loop counts on from the pause with the parent's variable. (The
# fresh identity a fork gets, hostname and MAC, is the library's: not checked here.)
fpids=""
for f in f1 f2; do
  mkdir -p "$work/$f"
  cp "$d/state.good" "$work/$f/state"
  cat > "$work/$f/vmm.json" <<EOF
{ "engine": "kvm", "kernel": "$LAB_VMLINUX", "initrd": "$LAB_INITRD",
  "cmdline": "quiet boxlite.root=/dev/vda ${LAB_L2_CMDLINE:-}", "cpus": 1, "memory_mib": 512,
  "disks": [ $(disk "$work/$f.ext4") ],
  "memory": { "file": "$d/memory", "state": "$work/$f/memory.state", "incoming": "$work/$f/state" },
  "console_log": "$work/$f.console", "box_socket": "$work/$f/box.sock", "ready_file": "$work/$f/ready" }
EOF
  (cd "$work/$f" && exec ${VMM:-$LAB_VMM} --config "$work/$f/vmm.json" --stats) > "$work/$f/vmm.out" 2>&1 &
  fpids="$fpids $!"
done
cpids=""
for f in f1 f2; do
  "$LAB_CLIENT" "$work/$f/box.sock" 300 \
    -c 'a=$(cat /dev/shm/c); sleep 1; echo a=$a b=$(cat /dev/shm/c) v=$(cat /dev/shm/v)' -o "v=" > "$work/$f/client.out" 2>&1 &
  cpids="$cpids $!"
done
( sleep 300; kill -9 $fpids $cpids 2>/dev/null ) &
guard=$!
i=0
for p in $cpids; do i=$((i + 1)); wait $p; eval "fcrc$i=\$?"; done
i=0
for p in $fpids; do i=$((i + 1)); wait $p; eval "fvrc$i=\$?"; done
kill $guard 2>/dev/null
i=0
for f in f1 f2; do
  i=$((i + 1))
  eval "fc=\$fcrc$i fv=\$fvrc$i"
  a=$(sed -n 's/.*a=\([0-9]*\) b=.*/\1/p' "$work/$f/client.out" | tail -1)
  b=$(sed -n 's/.* b=\([0-9]*\) v=.*/\1/p' "$work/$f/client.out" | tail -1)
  vf=$(sed -n 's/.* v=\(secret-[0-9-]*\).*/\1/p' "$work/$f/client.out" | tail -1)
  [ "$fc" = 0 ] && [ "$fv" = 0 ] && [ -n "$a" ] && [ "$a" -ge "$c0" ] && [ -n "$b" ] && [ "$b" -gt "$a" ] && [ "$vf" = "$v0" ] &&
    ok "fork $f (two at once, one RAM file): the loop counts on from the pause ($c0, then $a, $b) with the parent's variable" ||
    { bad "fork $f: client $fc, VMM $fv, counter [$c0] [$a] [$b], variable [$v0] -> [$vf]"; tail -5 "$work/$f/vmm.out"; tail -5 "$work/$f.console"; }
done
rm -rf "$work/f1" "$work/f2" "$work/f1.ext4" "$work/f2.ext4"
# the client starts with its VMM: its wait for the agent's HELLO is the VMM's start to a
# guest that answers, a cold boot against a resume (a figure, not a check)
h0=$(sed -n 's/^client: connected, agent HELLO after \([0-9]*\) ms/\1/p' "$d/client1.out" | head -1)
h1=$(sed -n 's/^client: connected, agent HELLO after \([0-9]*\) ms/\1/p' "$d/client2.out" | head -1)
echo "figure: KVM engine, VMM start to the agent's HELLO: cold boot ${h0:-?} ms, resume ${h1:-?} ms"
echo "figure: KVM engine snapshot: state $(stat -c %s "$d/state.good") bytes, RAM file $(( $(stat -c %b "$d/memory") * 512 / 1048576 )) MiB on disk of $(( $(stat -c %s "$d/memory") / 1048576 )) MiB"
# the suite's filesystem is small (160 MiB): the RAM file and the disk go before the next box
df -k "$work" | awk 'NR == 2 { print "suite: free after the pause test: " int($4 / 1024) " MiB" }'
rm -rf "$d" "$work/t8.ext4"
fi

if whole "the jail, a forbidden system call"; then
echo "== issue 13 on the KVM engine: the jail, and a guest's setuid root file on a share"
# while the box runs: the supervisor and the jailed VMM, as the host sees them
check_jail() {
  # A box started without a memory file (vmm.json has no "memory") cannot be paused: PAUSE
  # is refused with the reason, and the box runs on (the client's commands below still run).
  pout=$(${VMM:-$LAB_VMM} --status "$d/box.sock" --pause 2>&1)
  case "$pout" in
    *"started without a memory file"*) ok "pause of a box without a memory file is refused: $pout" ;;
    *) bad "pause of a box without a memory file: [$pout]" ;;
  esac
  # The balloon, end to end on the jailed KVM engine: BALLOON on the box socket moves the
  # device's target, the guest's driver inflates to it (the pages it gives are discarded
  # under the jail's seccomp filter), STATUS reports it; target 0 gives it all back.
  bout=$(${VMM:-$LAB_VMM} --status "$d/box.sock" --balloon 448 2>&1)
  case "$bout" in
    "balloon: target 448 MiB, actual "*) ok "BALLOON on the KVM engine: $bout" ;;
    *) bad "BALLOON on the KVM engine: [$bout]" ;;
  esac
  i=0 actual=""
  while [ $i -lt 120 ]; do # the guest inflates at its pace: STATUS once a second
    actual=$(${VMM:-$LAB_VMM} --status "$d/box.sock" | sed -n 's/.*"balloon_actual_mib":\([0-9]*\).*/\1/p')
    [ "$actual" = 448 ] && break
    i=$((i + 1)); sleep 1
  done
  [ "$actual" = 448 ] && ok "the guest inflated its balloon to the target: STATUS says 448 of 512 MiB" ||
    bad "balloon: STATUS says [$actual] MiB after $i s (target 448)"
  bout=$(${VMM:-$LAB_VMM} --status "$d/box.sock" --balloon 0 2>&1) && ok "BALLOON 0 (no target): $bout" ||
    bad "BALLOON 0: [$bout]"
  vmm=$(cat /proc/$vpid/task/$vpid/children 2>/dev/null | tr -d ' ')
  st() { sed -n "s/^$2:[[:space:]]*//p" /proc/$1/status | awk '{print $1}'; }
  for p in $vpid $vmm; do
    [ -n "$p" ] && [ "$(st $p Seccomp)" = 2 ] && [ "$(st $p NoNewPrivs)" = 1 ] &&
      [ "$(st $p CapEff)" = 0000000000000000 ] && [ "$(st $p Uid)" != 0 ] &&
      ok "pid $p: Seccomp 2, NoNewPrivs 1, CapEff 0, uid $(st $p Uid)" ||
      bad "pid $p: Seccomp $(st $p Seccomp), NoNewPrivs $(st $p NoNewPrivs), CapEff $(st $p CapEff), uid $(st $p Uid)"
  done
  [ -n "$vmm" ] && for ns in mnt pid ipc uts; do
    [ "$(readlink /proc/$vmm/ns/$ns)" != "$(readlink /proc/self/ns/$ns)" ] || bad "VMM shares the $ns namespace"
  done && ok "the VMM has its own mnt, pid, ipc and uts namespaces"
  [ -n "$vmm" ] && [ ! -e /proc/$vmm/root/lab ] && [ -e /proc/$vmm/root/dev/kvm ] && [ ! -e /proc/$vmm/root/bin/busybox ] &&
    ok "the VMM's root: /dev/kvm, no L1 files" || bad "the VMM's root: $(ls /proc/$vmm/root/ 2>&1 | tr '\n' ' ')"
  jail_sec=$(sed -n 's/^Seccomp_filters:[[:space:]]*//p' /proc/$vmm/task/*/status 2>/dev/null | sort -u | tr '\n' ' ')
  echo "suite: seccomp filters per VMM thread: $jail_sec"
}
mkdir -p "$work/share2"
httpd -f -p 127.0.0.1:18080 -h "$work/www" &
hpid=$!
BEFORE_CLIENT=check_jail box t6 "boxlite.root=/dev/vda boxlite.vol=vol0:/share" "$(disk "$work/t1.ext4")" \
  ", \"network\": { \"enabled\": true, \"allow_host\": [ { \"port\": 18080 } ] }, \"shares\": [ { \"tag\": \"vol0\", \"path\": \"$work/share2\", \"readonly\": false } ]" -- \
  -c 'cp /bin/busybox /share/s && chown 0:0 /share/s && chmod 4755 /share/s && touch /share/o && chown 1234:5678 /share/o && ln -s /etc/shadow /share/l && echo $(stat -c "%a %u %g" /share/s) $(stat -c "%u %g" /share/o) $(readlink /share/l)' \
  -o "4755 0 0 1234 5678 /etc/shadow" \
  -c 'mkfifo /share/f 2>/dev/null || echo fifo-refused' -o fifo-refused \
  -c 'wget -q -O - http://10.0.2.2:18080/hello.txt' -o "hello over slirp"
[ $crc = 0 ] && [ $vrc = 0 ] && ok "jailed: the guest's chown 0:0 + chmod 4755, chown 1234:5678, symlink, network" || bad "jailed box: client $crc, VMM $vrc"
mode=$(stat -c %a "$work/share2/s" 2>/dev/null)
[ -n "$mode" ] && [ $((0$mode & 06000)) = 0 ] && ok "no setuid bit on the host file (mode $mode)" || bad "host mode [$mode]"
owners="$(stat -c '%u %g' "$work/share2/s" 2>/dev/null) $(stat -c '%u %g' "$work/share2/o" 2>/dev/null)"
if [ "$base" = /tmp/ext4 ]; then
  [ "$owners" = "0 0 0 0" ] && ok "the host files belong to the box's owner (root, through the idmapped share)" || bad "host owners [$owners]"
else
  [ "$owners" != "0 0 1234 5678" ] && ok "the host files keep the VMM's owner ($owners)" || bad "host owners [$owners]"
fi
[ -f "$work/share2/l" ] && [ ! -L "$work/share2/l" ] && ok "the guest's symlink is a plain file on the host" || bad "guest symlink on the host"
kill $hpid 2>/dev/null

if [ -n "${LAB_VMM_TEST:-}" ] && [ "$LAB_VMM" != /tmp/vmm-trace ]; then
  crash_now() { touch "$d/crash-now"; }
  export BOXLITE_VMM_TEST=forbidden-syscall
  VMM=$LAB_VMM_TEST BEFORE_CLIENT=crash_now
  box t7 "boxlite.root=/dev/vda" "$(disk "$work/t1.ext4")" "" -- -c 'sleep 60' --no-shutdown
  unset BOXLITE_VMM_TEST VMM BEFORE_CLIENT
  [ $vrc = $((128 + 31)) ] && ok "a forbidden system call: the VMM dies with SIGSYS (status $vrc)" || bad "forbidden call: VMM status $vrc"
  grep -q '"syscall_name":"ptrace"' "$work/t7/exit.json" 2>/dev/null && ok "exit.json names it: $(sed -n 's/.*"reason":"\([^"]*\)".*/\1/p' "$work/t7/exit.json")" ||
    bad "exit.json: $(cat "$work/t7/exit.json" 2>&1)"
fi
fi

if [ "$LAB_VMM" = /tmp/vmm-trace ]; then
  # per thread: its name (pthread_setname_np), the calls after its filter was installed
  # (inherited filters: mux, waiter, 9p: all); QEMU's threads and forks left out
  for f in /tmp/st/t.*; do
    awk '/execve\(".*boxlite-vmm/ { sup = 1 }
         /prctl\(PR_SET_NAME, "/ { s = $0; sub(/.*PR_SET_NAME, "/, "", s); sub(/".*/, "", s); name = s
                                    if (name == "mux" || name == "waiter" || name == "9p") on = 1; next }
         /seccomp\(SECCOMP_SET_MODE_FILTER/ && / = 0/ { on = 1; filt = 1; next }
         on && /^[a-z0-9_]+\(/ { c = $0; sub(/\(.*/, "", c); calls[c] = 1 }
         END { if (name == "" && sup) name = "supervisor"; else if (name == "" && filt) name = "main"
               if (name == "") exit; printf "seccomp-trace: %s:", name; for (c in calls) printf " %s", c; printf "\n" }' "$f"
  done | sort | uniq
fi
rm -rf "$work"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
