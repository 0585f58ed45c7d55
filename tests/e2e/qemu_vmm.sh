#!/bin/bash
# The per-box process (boxlite-vmm) with "engine": "qemu" and the real agent: the ready file
# (agent-ready = its HELLO) with the host port QEMU chose for a port-0 forward, a graceful
# stop on SIGTERM (the agent powers off), QEMU's death reported in exit.json, and a clear
# error when QEMU is missing. Skipped (77) when QEMU or the kernel are missing.
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

wait_for() { # $1 = file, $2 = seconds
  for _ in $(seq $(($2 * 10))); do [ -s "$1" ] && return 0; sleep 0.1; done
  return 1
}

# 1. ready, with the chosen port; SIGTERM: the agent powers the guest off
box=$dir/a
write_config "$box"
"$vmm" --config "$box/vmm.json" >"$box/out" 2>&1 &
pid=$!
if wait_for "$box/ready" 120; then
  ok "ready file: $(cat "$box/ready")"
  grep -q '"engine":"qemu"' "$box/ready" && ok "engine named qemu" || no "engine not named in ready"
  port=$(sed -n 's/.*"host_ports":\[\([0-9]*\)\].*/\1/p' "$box/ready")
  if [ -n "$port" ] && [ "$port" -gt 0 ]; then ok "host port chosen for port 0: $port"
  else no "no host port in the ready file"; fi
  if [ -n "$port" ] && (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then ok "something listens on 127.0.0.1:$port"
  else no "nothing listens on the reported port $port"; fi
else
  no "no ready file within 120 s"; cat "$box/out"; tail -20 "$box/console.log"
fi
grep -q "boxlite-agent" "$box/console.log" 2>/dev/null && ok "agent's lines in the console log" || no "no agent line in the console log"
kill -TERM $pid
for _ in $(seq 300); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then no "boxlite-vmm still runs 30 s after SIGTERM"; kill -KILL $pid
else
  wait $pid; rc=$?
  [ $rc -eq 0 ] && ok "graceful stop: exit 0 ($(tail -1 "$box/out"))" || no "graceful stop: exit $rc: $(cat "$box/out")"
fi
pid=

# 2. QEMU dies: the per-box process says so
box=$dir/b
write_config "$box"
"$vmm" --config "$box/vmm.json" >"$box/out" 2>&1 &
pid=$!
if wait_for "$box/ready" 120; then
  qpid=$(pgrep -f "qemu-system-x86_64.*$box/" | head -1) # the jail puts QEMU under a supervisor
  if [ -n "$qpid" ]; then
    kill -KILL "$qpid"
    for _ in $(seq 300); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    wait $pid; rc=$?
    if [ $rc -ne 0 ] && grep -q "signal 9" "$box/exit.json" 2>/dev/null; then ok "QEMU's death: exit $rc, $(cat "$box/exit.json")"
    else no "QEMU's death: exit $rc, exit.json: $(cat "$box/exit.json" 2>&1), out: $(cat "$box/out")"; fi
  else no "no QEMU child of boxlite-vmm"; kill -KILL $pid; fi
else no "second box: no ready file"; kill -KILL $pid; fi
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
