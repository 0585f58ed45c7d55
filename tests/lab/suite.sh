#!/bin/sh
# End-to-end tests of the KVM engine, run inside one lab L1 (tests/e2e/lab_kvm.sh starts it;
# on a host with hardware virtualization it runs directly). Each test boots a box with
# boxlite-vmm (engine kvm), drives it with lab_client through the box socket, and checks the
# result from outside the guest with real tools (debugfs, e2fsck, qemu-img).
# env: LAB_VMM LAB_VMLINUX LAB_INITRD LAB_CLIENT LAB_ROOTFS (an ext4 image: busybox and
#      /etc/lab-rootfs), LAB_L2_CMDLINE (lab only). Ends with "N passed, N failed".
pass=0
fail=0
ok() { echo "ok: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }
work=$(mktemp -d /tmp/suite.XXXXXX)

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
  "$LAB_VMM" --config "$d/vmm.json" --stats > "$d/vmm.out" 2>&1 &
  vpid=$!
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

echo "== network: the policy in front of libslirp (the same code as the QEMU engine's)"
# Two servers on L1's loopback; the box may reach 18080 (allow_host), nothing else of L1.
mkdir -p "$work/www" && echo "hello over slirp" > "$work/www/hello.txt"
httpd -f -p 127.0.0.1:18080 -h "$work/www" &
hpid=$!
httpd -f -p 127.0.0.1:18081 -h "$work/www" &
hpid2=$!
box t4 "boxlite.root=/dev/vda" "$(disk "$work/t1.ext4")" \
  ', "network": { "enabled": true, "allow_host": [ { "port": 18080 } ] }' -- \
  -c 'wget -q -O - http://10.0.2.2:18080/hello.txt' -o "hello over slirp" \
  -c 'wget -q -O - http://10.0.2.2:18081/hello.txt 2>&1; echo rc=$?' -o "Connection refused" \
  -c 'wget -q -O - http://169.254.169.254/ 2>&1; echo rc=$?' -o "Connection refused"
[ $crc = 0 ] && [ $vrc = 0 ] && ok "allow_host 18080: the guest fetched a file from L1's loopback (10.0.2.2); port 18081 and 169.254.169.254 refused at once (a reset)" ||
  bad "network: client $crc, VMM $vrc"
grep -q "network: denied tcp 10.0.2.2 port 18081: the host's loopback (allow it with allow_host 18081)" "$d/vmm.out" &&
  ok "the VMM logged the denied loopback port" || { bad "no denial in the VMM's log"; cat "$d/vmm.out"; }
grep -q "network: denied tcp 169.254.169.254 port 80: link-local" "$d/vmm.out" &&
  ok "the VMM logged the denied metadata address as link-local" || bad "no link-local denial in the VMM's log"
grep -qE '"net_allowed":[1-9][0-9]*,"net_denied":([2-9]|[1-9][0-9]+)' "$d/vmm.out" &&
  ok "the VMM's figures count connections allowed and denied" ||
  bad "no allowed/denied counts in: $(grep net_allowed "$d/vmm.out")"
kill $hpid $hpid2 2>/dev/null

echo "== a shared directory (virtio-9p)"
mkdir -p "$work/share" && echo "from the host" > "$work/share/h.txt"
box t5 "boxlite.root=/dev/vda boxlite.vol=vol0:/share" "$(disk "$work/t1.ext4")" \
  ", \"shares\": [ { \"tag\": \"vol0\", \"path\": \"$work/share\", \"readonly\": false } ]" -- \
  -c 'cat /share/h.txt && echo from-the-guest > /share/g.txt && ls /share' -o "from the host"
[ $crc = 0 ] && [ $vrc = 0 ] && ok "the guest read the host's file in the share" || bad "share: client $crc, VMM $vrc"
[ "$(cat "$work/share/g.txt" 2>/dev/null)" = from-the-guest ] && ok "the guest's write reached the host directory" ||
  bad "the guest's file is not in the host directory"

rm -rf "$work"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
