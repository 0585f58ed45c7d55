#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The per-box process (boxlite-vmm) with "engine": "qemu" and the real agent: STATUS on the
# box socket once ready (agent-ready = its HELLO) with the host port QEMU chose for a port-0
# forward, a graceful stop on SIGTERM (the agent powers off) told to a connected client as
# EXIT, QEMU's death reported in EXIT and exit.json, and a clear error when QEMU is missing.
# Every wait is on an event (`boxlite-vmm --status`: inotify for the socket, the agent's
# HELLO, the process's pidfd). Skipped (77) when QEMU or the kernel are missing.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
vmm=$build/bin/boxlite-vmm
initrd=$build/guest/initramfs.cpio.gz
. tests/harness/lib.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
vmlinux=$(scripts/build-kernel.sh --cached-only)
need "$vmm and $initrd (make)" test -x "$vmm" -a -f "$initrd"

dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -KILL $pid 2>/dev/null; rm -rf "$dir"' EXIT

write_config() { # $1 = box dir
  mkdir -p "$1"
  cat >"$1/vmm.json" <<JSON
{ "engine": "qemu", "kernel": "$vmlinux", "initrd": "$initrd", "cpus": 1, "memory_mib": 256,
  "network": { "enabled": true, "ports": [ {"proto": "tcp", "host_addr": "127.0.0.1", "host_port": 0, "guest_port": 80} ] },
  "console_log": "$1/console.log", "box_socket": "$1/box.sock", "ready_file": "$1/ready" }
JSON
}

status() { # $1 = box dir, $2 = seconds: STATUS into $1/status
  "$vmm" --status "$1/box.sock" --wait $(($2 * 1000)) --pid $pid >"$1/status" 2>"$1/status.err"
}
watch_exit() { # $1 = box dir: a client connected until the box ends; its lines on fd 4
  rm -f "$1/fifo"; mkfifo "$1/fifo"
  "$vmm" --status "$1/box.sock" --wait 10000 --pid $pid --until-exit >"$1/fifo" 2>"$1/status.err" &
  watcher=$!
  exec 4<"$1/fifo"
  read -r -t 30 first <&4 # it printed STATUS: it is connected
}

# 1. ready, with the chosen port; SIGTERM: the agent powers the guest off
box=$dir/a
write_config "$box"
"$vmm" --config "$box/vmm.json" >"$box/out" 2>&1 &
pid=$!
if status "$box" 120; then
  ok "STATUS: $(cat "$box/status")"
  grep -q '"engine":"qemu"' "$box/status" && ok "engine named qemu" || no "engine not named in STATUS"
  grep -q '"state":"running"' "$box/status" && ok "state running" || no "state not running in STATUS"
  port=$(sed -n 's/.*"host_ports":\[\([0-9]*\)\].*/\1/p' "$box/status")
  if [ -n "$port" ] && [ "$port" -gt 0 ]; then ok "host port chosen for port 0: $port"
  else no "no host port in STATUS"; fi
  if [ -n "$port" ] && (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then ok "something listens on 127.0.0.1:$port"
  else no "nothing listens on the reported port $port"; fi
else
  no "not ready within 120 s: $(cat "$box/status.err")"; cat "$box/out"; tail -20 "$box/console.log"
fi
grep -q "boxlite-agent" "$box/console.log" 2>/dev/null && ok "agent's lines in the console log" || no "no agent line in the console log"
watch_exit "$box"
kill -TERM $pid
wait $pid; rc=$?
[ $rc -eq 0 ] && ok "graceful stop: exit 0 ($(tail -1 "$box/out"))" || no "graceful stop: exit $rc: $(cat "$box/out")"
read -r -t 30 exit_line <&4; exec 4<&-; wait $watcher
echo "$exit_line" | grep -q '"requested":true' && echo "$exit_line" | grep -q '"stop_reason":"stopped"' &&
  ok "a connected client was told: EXIT $exit_line" || no "EXIT to a connected client" "$exit_line $(cat "$box/status.err")"
pid=

# 2. QEMU dies: the per-box process says so
box=$dir/b
write_config "$box"
"$vmm" --config "$box/vmm.json" >"$box/out" 2>&1 &
pid=$!
if status "$box" 120; then
  # QEMU: a child of boxlite-vmm, itself under the jail's supervisor ($pid)
  qpid=$(for c in $pid $(pgrep -P $pid); do pgrep -P $c -x qemu-system-x86; done | head -1)
  if [ -n "$qpid" ]; then
    watch_exit "$box"
    kill -KILL "$qpid"
    wait $pid; rc=$?
    read -r -t 30 exit_line <&4; exec 4<&-; wait $watcher
    if [ $rc -ne 0 ] && grep -q "signal 9" "$box/exit.json" 2>/dev/null; then ok "QEMU's death: exit $rc, $(cat "$box/exit.json")"
    else no "QEMU's death: exit $rc, exit.json: $(cat "$box/exit.json" 2>&1), out: $(cat "$box/out")"; fi
    echo "$exit_line" | grep -q "signal 9" && ok "and in EXIT to the connected client" ||
      no "QEMU's death in EXIT" "$exit_line $(cat "$box/status.err")"
  else no "no QEMU child of boxlite-vmm"; kill -KILL $pid; fi
else no "second box: not ready: $(cat "$box/status.err")"; kill -KILL $pid; fi
pid=

# 3. QEMU missing: a clear error, quickly
box=$dir/c
write_config "$box"
BOXLITE_QEMU=/nonexistent/qemu timeout 60 "$vmm" --config "$box/vmm.json" >"$box/out" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "/nonexistent/qemu" "$box/out"; then
  ok "missing QEMU binary: exit $rc, says: $(grep -m1 nonexistent "$box/out")"
else no "missing QEMU binary: exit $rc, output: $(cat "$box/out")"; fi
mkdir -p "$dir/emptybin"
timeout 60 env PATH="$dir/emptybin" "$vmm" --config "$box/vmm.json" >"$box/out" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "qemu-system-x86_64 is not installed" "$box/out"; then
  ok "QEMU not on PATH: exit $rc"
else no "QEMU not on PATH: exit $rc, output: $(cat "$box/out")"; fi

finish
