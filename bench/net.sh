#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The network stack's cost (issue 12), before and after in the same run: the QEMU engine
# used to run its own user-mode network (-netdev user, counters from packet dumps); now its
# frames come to boxlite-vmm over a socket and meet our libslirp stack and the policy. The
# "before" boxlite-vmm is built from the commit before that change ($BENCH_NET_BEFORE,
# add0b27) in a scratch folder; both boot the same kernel, initramfs and busybox rootfs
# (with tests/fixtures/netprobe) with a network and a port forward, alternately, and a client
# on the box socket (bench/net_client.c) measures: the exec round trip of `true`, stdout
# throughput, TCP throughput from the box to the host through the forward, and what a
# connection to a listening host loopback port at 10.0.2.2 meets (time measured in the
# guest: the policy's reset now; the host's server before).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BOXLITE_BUILD:-build}
runs=${BENCH_RUNS:-20}
mib=${BENCH_NET_MIB:-16}
rounds=${BENCH_NET_ROUNDS:-2}
before=${BENCH_NET_BEFORE:-add0b27}
command -v qemu-system-x86_64 >/dev/null || { echo "net: skipped (qemu-system-x86_64 not installed)"; exit 0; }
vmlinux=$(scripts/build-kernel.sh --cached-only 2>/dev/null) || { echo "net: skipped (no cached kernel)"; exit 0; }
initrd=$PWD/$build/guest/initramfs.cpio.gz
[ -f "$initrd" ] && [ -x "$build/bin/boxlite-vmm" ] || { echo "net: skipped (run make)"; exit 0; }
[ -x /bin/busybox ] || { echo "net: skipped (no /bin/busybox)"; exit 0; }

work=$(mktemp -d)
lpid=
trap '[ -n "$lpid" ] && kill $lpid 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true dd nc; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$work/rootfs/etc/passwd"
echo 'root:x:0:' >"$work/rootfs/etc/group"
if command -v musl-gcc >/dev/null; then
  musl-gcc -static -O2 -o "$work/rootfs/bin/netprobe" tests/fixtures/netprobe.c || exit 1
fi
mke2fs -q -t ext4 -d "$work/rootfs" "$work/root.img" 64M >/dev/null || exit 1
mkdir -p "$build/bench"
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iinclude -Isrc -o "$build/bench/net_client" \
  bench/net_client.c "$build/lib/libproto.a" "$build/lib/libcommon.a" -lpthread || exit 1

# the "before" per-box process
old=
if git rev-parse -q --verify "$before^{commit}" >/dev/null 2>&1; then
  mkdir -p "$work/before"
  git archive "$before" | tar -x -C "$work/before"
  if make -C "$work/before" -j2 O=build build/bin/boxlite-vmm >"$work/before.log" 2>&1; then
    old=$work/before/build/bin/boxlite-vmm
  else
    echo "   before: building $before failed: $(tail -3 "$work/before.log")"
  fi
else
  echo "   before: skipped (commit $before is not in this checkout)"
fi

# a listening server on the host's loopback, for the connection the box attempts
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
while True:
    c, _ = s.accept(); c.close()' "$work/lo.port" &
lpid=$!
for _ in $(seq 100); do [ -s "$work/lo.port" ] && break; sleep 0.05; done
loport=$(cat "$work/lo.port")

one() { # LABEL VMM
  local label=$1 vmm=$2 d=$work/$1.$RANDOM
  mkdir -p "$d"
  cp "$work/root.img" "$d/root.img"
  cat >"$d/vmm.json" <<JSON
{"engine": "qemu", "kernel": "$vmlinux", "initrd": "$initrd", "cmdline": "boxlite.root=/dev/vda",
 "cpus": 1, "memory_mib": 512, "disks": [{"path": "$d/root.img", "format": "raw"}],
 "network": {"enabled": true, "ports": [{"proto": "tcp", "host_port": 0, "guest_port": 5000}]},
 "console_log": "$d/console.log", "box_socket": "$d/box.sock", "ready_file": "$d/ready"}
JSON
  "$vmm" --config "$d/vmm.json" >"$d/vmm.out" 2>&1 &
  local vpid=$! port=
  # ready: the box's STATUS, with the host port bound (boxlite-vmm --status waits on events)
  port=$("$build/bin/boxlite-vmm" --status "$d/box.sock" --wait 60000 --pid $vpid 2>/dev/null |
         sed -n 's/.*"host_ports":\[\([0-9]*\)\].*/\1/p')
  # a "before" binary older than STATUS (issue 15) says it in its ready file, written just
  # after its agent's HELLO: read once that is there
  for _ in $(seq 100); do [ -n "$port" ] || [ -s "$d/ready" ] || [ "$vmm" = "$build/bin/boxlite-vmm" ] && break; sleep 0.05; done
  [ -z "$port" ] && port=$(sed -n 's/.*"host_ports":\[\([0-9]*\)\].*/\1/p' "$d/ready" 2>/dev/null)
  if [ -z "$port" ]; then
    echo "   $label: the box did not come up: $(tail -3 "$d/vmm.out")"
    kill $vpid 2>/dev/null; wait $vpid 2>/dev/null
    return
  fi
  "$build/bench/net_client" "$label" "$d/box.sock" "$port" \
    "$([ -x "$work/rootfs/bin/netprobe" ] && echo "$loport" || echo 0)" "$runs" "$mib" |
    sed 's/^/   /'
  wait $vpid
}

echo "   (load average now: $(cut -d" " -f1-3 /proc/loadavg) on $(nproc) CPUs; runs alternate)"
for r in $(seq "$rounds"); do
  [ -n "$old" ] && one "before($before)" "$old"
  one "after" "$build/bin/boxlite-vmm"
done
