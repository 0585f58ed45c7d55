#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Issue 13, the per-box process's jail, through the CLI on the engine that runs here
# (QEMU/TCG): the supervisor, boxlite-vmm and QEMU run without privileges (Seccomp 2,
# NoNewPrivs 1, CapEff 0, not root), see none of the caller's descriptors or environment,
# live in their own mount/PID/IPC/UTS namespaces under a root that holds only the box's
# files, in the box's cgroups, with RLIMIT_CORE 0; a VMM that makes a forbidden system call
# dies with SIGSYS and `boxlite ps`/`inspect` say which call. The KVM engine's threads are
# proven in the lab (tests/lab/suite.sh, tests/e2e/lab_smoke.sh).
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
T="$PWD/$build/tests/boxlite-vmm-test"
. tests/harness/lib.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "$B and $T (make)" test -x "$B" -a -x "$T"
need "/bin/busybox (busybox-static)" test -x /bin/busybox
[ "$(id -u)" = 0 ] || skip "the drop to another uid is for a runtime started by root; as a user the jail keeps the user's uid (proven as root by this script in CI)"
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
cleanup() {
  for b in jbox crash; do "$B" rm -f $b >/dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup EXIT

root=$work/root
mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/tmp"
cp /bin/busybox "$root/bin/"
for a in sh echo cat sleep ls; do ln -s busybox "$root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"

# The caller holds a secret: an open descriptor (no O_CLOEXEC) and a variable.
echo top-secret >"$work/secret"
exec 7<"$work/secret"
SECRET_TOKEN=s3cr3t "$B" run -d --name jbox "$root" >/dev/null 2>"$work/err" || { no "run -d"; cat "$work/err"; }
exec 7<&-
sup=$("$B" inspect jbox | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["pid"])')
vmm=$(pgrep -P "$sup" | head -1)
qemu=$(pgrep -P "$vmm" -f qemu-system | head -1)
[ -n "$sup" ] && [ -n "$vmm" ] && [ -n "$qemu" ] && ok "supervisor $sup, boxlite-vmm $vmm, QEMU $qemu" || no "process tree" "sup=[$sup] vmm=[$vmm] qemu=[$qemu]"

field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | awk '{print $1}'; }
for who in "supervisor:$sup" "boxlite-vmm:$vmm" "QEMU:$qemu"; do
  name=${who%%:*} p=${who#*:}
  expect "$name: Seccomp 2 (filter)" "2" "$(field "$p" Seccomp)"
  expect "$name: NoNewPrivs 1" "1" "$(field "$p" NoNewPrivs)"
  expect "$name: no effective capability" "0000000000000000" "$(field "$p" CapEff)"
  expect "$name: no capability left to gain (bounding set empty)" "0000000000000000" "$(field "$p" CapBnd)"
  u=$(field "$p" Uid)
  [ -n "$u" ] && [ "$u" != 0 ] && ok "$name: runs as uid $u, not root" || no "$name: not root" "uid [$u]"
  ls -l "/proc/$p/fd/" 2>/dev/null | grep -q "$work/secret" && no "$name: holds the caller's secret descriptor" || ok "$name: none of the caller's descriptors"
  tr '\0' '\n' <"/proc/$p/environ" >"$work/env.$name"
  grep -q SECRET_TOKEN "$work/env.$name" && no "$name: the caller's environment leaked" || ok "$name: none of the caller's environment"
  bad=$(grep -v -E '^(PATH|LANG|LANGUAGE|TZ|LC_[A-Z_]+|BOXLITE_(QEMU|KVM_ANY_HOST|VMM_TEST|SPAWN_NS))=' "$work/env.$name")
  [ -z "$bad" ] && ok "$name: environment within the allow-list" || no "$name: environment within the allow-list" "$bad"
done

# The VMM's and QEMU's view of the world
for who in "boxlite-vmm:$vmm" "QEMU:$qemu"; do
  name=${who%%:*} p=${who#*:}
  for ns in mnt pid ipc uts; do
    [ "$(readlink /proc/$p/ns/$ns)" != "$(readlink /proc/self/ns/$ns)" ] && ok "$name: own $ns namespace" || no "$name: own $ns namespace"
  done
  expect "$name: the host's network namespace (the user-mode network needs it)" "$(readlink /proc/self/ns/net)" "$(readlink /proc/$p/ns/net)"
  [ ! -e "/proc/$p/root/etc/shadow" ] && [ ! -e "/proc/$p/root/home" ] && [ ! -e "/proc/$p/root$work/secret" ] &&
    ok "$name: its root holds no /etc/shadow, /home or the caller's files" || no "$name: its root is the jail" "$(ls /proc/$p/root/)"
  [ -e "/proc/$p/root$BOXLITE_HOME/boxes" ] && [ -e "/proc/$p/root/dev/null" ] && ok "$name: its root holds the box's folder and /dev/null" || no "$name: box folder in the jail"
  expect "$name: core dumps off" "0" "$(awk '/Max core file size/{print $5}' /proc/$p/limits)"
done
id=$("$B" inspect jbox | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
expect "boxlite-vmm works in the box's folder" "$BOXLITE_HOME/boxes/$id" "$(readlink /proc/$vmm/cwd)"
# QEMU's number in the namespace: whatever boxlite-vmm forked before it (a probe) took the ones between
qemu_ns=$(awk '/^NSpid:/{print $NF}' /proc/$qemu/status)
expect "/proc in the jail shows the namespace's processes only (boxlite-vmm 1, QEMU $qemu_ns)" "1 $qemu_ns" "$(ls /proc/$vmm/root/proc | grep -E '^[0-9]+$' | sort -n | tr '\n' ' ' | sed 's/ $//')"
grep -q "boxlite/$id" /proc/$vmm/cgroup && ok "boxlite-vmm is in the box's cgroup" || no "box cgroup" "$(cat /proc/$vmm/cgroup)"
mem=$(cat /sys/fs/cgroup/memory/boxlite/$id/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/boxlite/$id/memory.max 2>/dev/null)
expect "memory limit: guest RAM (512 MiB) + QEMU's 512 MiB" "$((1024 << 20))" "$mem"
expect "pids limit" "512" "$(cat /sys/fs/cgroup/pids/boxlite/$id/pids.max 2>/dev/null || cat /sys/fs/cgroup/boxlite/$id/pids.max 2>/dev/null)"
quota=$(cat /sys/fs/cgroup/cpu/boxlite/$id/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/boxlite/$id/cpu.max 2>/dev/null)
expect "CPU quota: the box's 1 CPU plus 1 for the engine's own work, per 100 ms" "200000" "$quota"
expect "the box still works" "inside" "$("$B" exec jbox echo inside)"
"$B" rm -f jbox >/dev/null

# A uid of the box's own from a range: one uid, two boxes: the second waits for the first.
uid_of_box() { # BOX: the uid its boxlite-vmm runs as
  local s v
  s=$("$B" inspect "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["pid"])')
  v=$(pgrep -P "$s" | head -1)
  awk '/^Uid:/{print $2}' /proc/$v/status
}
BOXLITE_JAIL_UIDS=200000:1 "$B" run -d --name u1 "$root" >/dev/null 2>"$work/u1.err" || no "u1" "$(cat "$work/u1.err")"
expect "BOXLITE_JAIL_UIDS=200000:1: the box's VMM runs as 200000" "200000" "$(uid_of_box u1)"
BOXLITE_JAIL_UIDS=200000:1 "$B" run -d --name u2 "$root" >/dev/null 2>"$work/u2.err"
has "a second box cannot share the range's only uid" "all 1 uids from 200000 are taken" "$work/u2.err"
"$B" stop u1 >/dev/null
BOXLITE_JAIL_UIDS=200000:1 "$B" start u2 >/dev/null 2>"$work/u2.err" || no "u2 after u1 stopped" "$(cat "$work/u2.err")"
expect "once the first box stopped, its uid serves the next" "200000" "$(uid_of_box u2)"
"$B" rm -f u1 u2 >/dev/null

# A forbidden system call: the test build makes one once told to (a file in its folder).
BOXLITE_VMM="$T" BOXLITE_VMM_TEST=forbidden-syscall "$B" run -d --name crash "$root" >/dev/null 2>&1
expect "the test build runs a box like the release build" "alive" "$("$B" exec crash echo alive)"
cid=$("$B" inspect crash | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
touch "$BOXLITE_HOME/boxes/$cid/crash-now"
for _ in $(seq 100); do [ "$("$B" inspect crash 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])' 2>/dev/null)" = stopped ] && break; sleep 0.2; done
"$B" inspect crash >"$work/inspect.json"
python3 - "$work/inspect.json" <<'PY' && ok "inspect: stopped, killed by seccomp at ptrace" || no "inspect says why" "$(cat "$work/inspect.json")"
import json, sys
b = json.load(open(sys.argv[1]))[0]
x = b.get("exit") or {}
assert b["state"] == "stopped", b["state"]
assert x.get("crashed") is True and x.get("signal") == 31, x
assert x.get("syscall_name") == "ptrace" and "forbidden system call" in x.get("reason", ""), x
PY
"$B" ps -a | grep crash | grep -q "forbidden system call .* (ptrace)" && ok "ps -a says why: $("$B" ps -a | grep -o 'boxlite-vmm was killed.*')" || no "ps -a says why" "$("$B" ps -a)"
grep -q "killed by seccomp" "$BOXLITE_HOME"/boxes/*/vmm.log && ok "vmm.log says it too" || no "vmm.log"
"$B" rm -f crash >/dev/null
left=""
for c in memory pids cpu; do
  for b in $id $cid; do [ -e /sys/fs/cgroup/$c/boxlite/$b ] && left="$left $c/boxlite/$b"; done
done
[ -d /sys/fs/cgroup/memory/boxlite ] || [ -d /sys/fs/cgroup/boxlite ] || no "the jail made no box cgroup to remove"
[ -z "$left" ] && ok "the boxes' cgroups are removed with them" || no "the boxes' cgroups are removed with them" "left:$left"

# Started by a user who is not root (boxlite-vmm directly, as the library would start it
# for that user): a user namespace mapping the user to itself stands in for root's powers;
# the VMM and QEMU keep the user's uid, without capabilities, in their own namespaces.
if command -v setpriv >/dev/null; then
  nr=$work/nobody
  mkdir -p "$nr/box"
  cp "$(scripts/build-kernel.sh --cached-only)" "$nr/vmlinux"
  cp "$build/guest/initramfs.cpio.gz" "$nr/initrd"
  cat >"$nr/box/vmm.json" <<JSON
{ "engine": "qemu", "kernel": "$nr/vmlinux", "initrd": "$nr/initrd", "cpus": 1, "memory_mib": 256,
  "console_log": "$nr/box/console.log", "box_socket": "$nr/box/box.sock", "ready_file": "$nr/box/ready" }
JSON
  chmod 755 "$work"
  chown -R 65534:65534 "$nr"
  vmmbin=$PWD/$build/bin/boxlite-vmm
  (cd "$nr/box" && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$vmmbin" --config vmm.json) >"$nr/out" 2>&1 &
  nsup=$!
  # ready: STATUS on the box socket (inotify for the socket, the agent's HELLO, a pidfd)
  "$vmmbin" --status "$nr/box/box.sock" --wait 60000 --pid $nsup >"$nr/status" 2>&1
  nvmm=$(pgrep -P $nsup | head -1)
  nqemu=$(pgrep -P "${nvmm:-0}" -f qemu-system | head -1)
  grep -q '"state":"running"' "$nr/status" && ok "as a user: the box is ready" || no "as a user: not ready" "$(cat "$nr/status" "$nr/out")"
  for who in "boxlite-vmm:$nvmm" "QEMU:$nqemu"; do
    name=${who%%:*} p=${who#*:}
    [ -n "$p" ] && [ "$(field "$p" Uid)" = 65534 ] && [ "$(field "$p" CapEff)" = 0000000000000000 ] &&
      [ "$(field "$p" Seccomp)" = 2 ] && [ "$(field "$p" NoNewPrivs)" = 1 ] &&
      ok "as a user, $name: the user's uid, no capability, Seccomp 2, NoNewPrivs 1" || no "as a user, $name" "$(grep -E '^(Uid|CapEff|Seccomp|NoNewPrivs)' /proc/$p/status 2>&1)"
    [ -n "$p" ] && [ "$(readlink /proc/$p/ns/user)" != "$(readlink /proc/self/ns/user)" ] &&
      [ "$(readlink /proc/$p/ns/pid)" != "$(readlink /proc/self/ns/pid)" ] &&
      ok "as a user, $name: own user and PID namespaces" || no "as a user, $name: namespaces"
  done
  kill -TERM $nsup 2>/dev/null
  wait $nsup 2>/dev/null
fi
finish
