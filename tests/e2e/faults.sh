#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Faults, and the truth afterwards. SIGKILL of the CLI at each stage (create, pull, start,
# exec, copy, stop), of the per-box process (boxlite-vmm) and of QEMU (start, exec, copy,
# stop); the host disk full during a pull and during a guest write (a small tmpfs home, in
# a mount namespace of the test's own); a guest kernel panic (panic_on_oom), a reboot inside
# the box, the agent dying (kernel word boxlite.fault_exit_ms), the OOM killer. Every kill
# waits for the event that puts it in its stage (a process appearing, a marker printed, a
# registry stalled mid-blob, bytes read), never for a delay. After each fault:
#   - ps tells the truth: a box said running has its per-box process; a box said stopped
#     or configured has no process left (those still dying are given a bounded time);
#   - the state database passes PRAGMA integrity_check and nobody holds its write lock;
#   - the next command on the same box (or home) works.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
. tests/harness/lib.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "$B (make)" test -x "$B"
need "/bin/busybox (busybox-static)" test -x /bin/busybox
need_cmd sqlite3
need_cmd unshare util-linux
# The disk-full cases mount small tmpfs homes: in a mount namespace of our own, so nothing
# is left mounted whatever happens to this script.
if [ -z "${FAULTS_IN_NS:-}" ]; then
  FAULTS_IN_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
cleanup() {
  for h in "$work"/home "$work"/full*/home; do
    [ -d "$h" ] || continue
    for id in $(BOXLITE_HOME=$h "$B" ps -a --json 2>/dev/null | python3 -c 'import json,sys; [print(b["id"]) for b in json.load(sys.stdin)]' 2>/dev/null); do
      BOXLITE_HOME=$h "$B" rm -f "$id" >/dev/null 2>&1
    done
  done
  [ -n "${regpid:-}" ] && kill "$regpid" 2>/dev/null
  for m in "$work"/full*; do umount "$m" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

root=$work/root
busybox_rootfs "$root"
truncate -s 256M "$work/payload" # read as zeros: a copy that lasts seconds
BIG_MB=24 python3 tests/fixtures/mkimages.py "$work/fx" busybox big >/dev/null

# ---- helpers ---------------------------------------------------------------------------
id_of() { "$B" inspect "$1" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])' 2>/dev/null; }
field() { "$B" inspect "$1" 2>/dev/null | python3 -c "import json,sys; v=json.load(sys.stdin)[0].get('$2'); print('' if v is None else v)" 2>/dev/null; }
# Each wait polls for a real event, for at most a minute (a bound against hangs, not a
# timing assertion).
# PATTERN: the pid of the first process whose command line matches, once there is one
wait_proc() { local p end=$((SECONDS + 60)); while [ $SECONDS -lt $end ]; do p=$(pgrep -f -- "$1" | head -1); [ -n "$p" ] && { echo "$p"; return 0; }; sleep 0.02; done; return 1; }
# BOX: the box's boxlite-vmm doing the work: under the jail the child of the per-box process
# the library records (its supervisor, the oldest process whose command line names the box's
# vmm.json), unconfined that process itself
vmm_of() {
  local sup end=$((SECONDS + 60))
  while [ $SECONDS -lt $end ]; do
    sup=$(pgrep -of -- "$1/vmm.json")
    [ -n "$sup" ] && { pgrep -P "$sup" -f -- "$1/vmm.json" || echo "$sup"; return 0; }
    sleep 0.02
  done
  return 1
}
# FILE TEXT: until the file holds the text
wait_text() { local end=$((SECONDS + 60)); while [ $SECONDS -lt $end ]; do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.02; done; return 1; }
# NAME FIELD VALUE: until inspect's field says it
wait_field() { local end=$((SECONDS + 60)); while [ $SECONDS -lt $end ]; do [ "$(field "$1" "$2")" = "$3" ] && return 0; sleep 0.05; done; return 1; }
# BOX: until its id is known (a create under way), then the id
wait_id() { local i end=$((SECONDS + 60)); while [ $SECONDS -lt $end ]; do i=$(id_of "$1"); [ -n "$i" ] && { echo "$i"; return 0; }; sleep 0.02; done; return 1; }
# PID BYTES: until the process has read that many bytes (a copy under way)
wait_read() { local end=$((SECONDS + 60)); while [ $SECONDS -lt $end ]; do [ "$(awk '/^rchar/{print $2}' /proc/$1/io 2>/dev/null || echo 0)" -ge "$2" ] && return 0; sleep 0.02; done; return 1; }
console() { echo "$BOXLITE_HOME/boxes/$(id_of "$1")/console.log"; }

# The invariants; NAME says which fault they follow.
after() {
  local name=$1 out
  echo "# after: $name (${SECONDS}s)"
  out=$(B="$B" python3 - <<'PY'
import json, os, subprocess, sys, time
B, home = os.environ["B"], os.environ["BOXLITE_HOME"]
def procs(path):
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if path.encode() in open("/proc/%s/cmdline" % pid, "rb").read():
                    found.append(pid)
            except OSError:
                pass
    return found
boxes = json.loads(subprocess.run([B, "ps", "-a", "--json"], capture_output=True, text=True, check=True).stdout)
bad = []
for b in boxes:
    d = os.path.join(home, "boxes", b["id"]) + "/"
    if b["state"] == "running":
        try:
            cmd = open("/proc/%d/cmdline" % b["pid"], "rb").read()
        except OSError:
            cmd = b""
        if b"boxlite-vmm" not in cmd:
            bad.append("%s said running, its process %d is not" % (b["name"], b["pid"]))
    elif b["state"] in ("stopped", "configured"):
        end = time.time() + 15  # processes already dying (QEMU after its parent) finish
        while procs(d) and time.time() < end:
            time.sleep(0.05)
        if procs(d):
            bad.append("%s said %s, processes left: %s" % (b["name"], b["state"], procs(d)))
    elif b["state"] not in ("starting", "stopping"):
        bad.append("%s in state %s" % (b["name"], b["state"]))
print("; ".join(bad))
PY
)
  [ -z "$out" ] && ok "$name: ps tells the truth, nothing left running" || no "$name: ps tells the truth, nothing left running" "$out"
  local ic
  ic=$(sqlite3 "$BOXLITE_HOME/boxlite.db" 'PRAGMA integrity_check;' 2>&1)
  [ "$ic" = ok ] && sqlite3 -cmd '.timeout 0' "$BOXLITE_HOME/boxlite.db" 'BEGIN IMMEDIATE; COMMIT;' >/dev/null 2>&1 &&
    ok "$name: database intact and unlocked" || no "$name: database intact and unlocked" "$ic"
}
# NAME BOX: the box can be used again (an explicit start if it stopped, then an exec)
usable() {
  local name=$1 box=$2 out
  [ "$(field "$box" state)" = running ] || "$B" start "$box" >/dev/null 2>"$work/start.err"
  out=$("$B" exec "$box" echo usable 2>&1)
  expect "$name: the next command works" "usable" "$out"
}

# ---- the CLI killed --------------------------------------------------------------------
# create: killed as soon as it runs, ten times; a run --rm killed the same way leaves no
# box once the next runtime opens the home (its owner is gone).
for i in $(seq 10); do "$B" create --name c$i "$root" >/dev/null 2>&1 & kill -9 $!; wait $! 2>/dev/null; done
for i in $(seq 5); do "$B" run --rm --name r$i "$root" true >/dev/null 2>&1 & kill -9 $!; wait $! 2>/dev/null; done
after "CLI killed during create"
left=$("$B" ps -a --json | python3 -c 'import json,sys; print(sum(b["name"].startswith("r") for b in json.load(sys.stdin)))')
expect "CLI killed during run --rm: its box is removed at the next open" "0" "$left"
for i in $(seq 10); do "$B" rm -f c$i >/dev/null 2>&1; done
expect "CLI killed during create: the next create works" "32" "$("$B" create --name c1 "$root" | tr -d '\n' | wc -c)"
"$B" rm c1 >/dev/null

# pull: the registry sends half a layer and holds; the CLI is killed there.
python3 tests/fixtures/fakeregistry.py "$work/fx" "$work/reg.port" $$ --stall-once &
regpid=$!
for _ in $(seq 500); do [ -s "$work/reg.port" ] && break; sleep 0.02; done
reg=127.0.0.1:$(cut -d' ' -f1 "$work/reg.port")
"$B" pull "$reg/test/busybox" >/dev/null 2>&1 &
cli=$!
wait_text "$work/reg.port.stalled" sha256 && kill -9 $cli || no "the kill found its stage (line 139)"
wait $cli 2>/dev/null
after "CLI killed during pull"
"$B" pull "$reg/test/busybox" >/dev/null 2>"$work/pull.err"
expect "CLI killed during pull: the next pull works" "0" "$?"
"$B" images | grep -q "test/busybox" && ok "CLI killed during pull: the image is listed" || no "CLI killed during pull: the image is listed"

# start: while the guest boots; a box bound to its starter stops with it, a detached one
# is stopped by whoever finds its start abandoned. The box's processes are held (SIGSTOP)
# as soon as they appear, so that the CLI is killed before the guest can be ready however
# fast it boots; they go on once it is dead.
# Only this test's boxes (its home's): other BoxLite users on the host are not ours to hold.
ours="$BOXLITE_HOME/boxes/.*/vmm.json"
hold_start() { # CLI-PID: the per-box processes held, the CLI killed, the processes let go
  local killed=1
  wait_proc "$ours" >/dev/null && pkill -STOP -f -- "$ours" && kill -9 "$1" && killed=0
  wait "$1" 2>/dev/null
  pkill -CONT -f -- "$ours"
  return $killed
}
"$B" run --name s1 "$root" sleep 600 >/dev/null 2>&1 &
cli=$!
hold_start $cli || no "the kill found its stage (line 150)"
wait $cli 2>/dev/null
after "CLI killed during start (attached)"
expect "CLI killed during start (attached): it reads as stopped" "stopped" "$(field s1 state)"
"$B" rm -f s1 >/dev/null
# no per-box process of s1 left, for hold_start to find s2's only
end=$((SECONDS + 60)); while pgrep -f -- "$ours" >/dev/null && [ $SECONDS -lt $end ]; do sleep 0.05; done
"$B" run -d --name s2 --disk-size 1g "$root" >/dev/null 2>&1 &
cli=$!
hold_start $cli || no "the kill found its stage (line 157)"
wait $cli 2>/dev/null
after "CLI killed during start (detached)"
expect "CLI killed during start (detached): it reads as stopped" "stopped" "$(field s2 state)"
usable "CLI killed during start (detached)" s2

# exec: once the command runs; the box stays, the command is ended in the guest.
"$B" exec s2 sh -c 'echo started; exec sleep 600' >"$work/exec.out" 2>&1 &
cli=$!
wait_text "$work/exec.out" started && kill -9 $cli || no "the kill found its stage (line 166)"
wait $cli 2>/dev/null
after "CLI killed during exec"
expect "CLI killed during exec: the box runs on" "running" "$(field s2 state)"
for _ in $(seq 200); do [ "$("$B" exec s2 sh -c 'ps | grep -c "[s]leep 600"')" = 0 ] && break; sleep 0.05; done
expect "CLI killed during exec: its command is ended in the box" "0" "$("$B" exec s2 sh -c 'ps | grep -c "[s]leep 600"')"
usable "CLI killed during exec" s2

# copy: once 8 MiB of the 256 MiB file are read.
"$B" cp "$work/payload" s2:/tmp/payload >/dev/null 2>&1 &
cli=$!
wait_read $cli $((8 << 20)) && kill -9 $cli || no "the kill found its stage (line 177)"
wait $cli 2>/dev/null
after "CLI killed during copy"
echo small >"$work/small"
"$B" cp "$work/small" s2:/tmp/small && expect "CLI killed during copy: the next copy works" "small" "$("$B" exec s2 cat /tmp/small)"

# stop: once the agent is shutting down (a command that ignores SIGTERM holds its 3 s
# grace open); the box still ends, as a stop asked for.
hold() { # BOX: an execution that outlives SIGTERM, running
  "$B" exec "$1" sh -c 'trap "" TERM; echo armed; while :; do sleep 1; done' >"$work/hold.out" 2>&1 &
  wait_text "$work/hold.out" armed
}
hold s2
"$B" stop s2 >/dev/null 2>&1 &
cli=$!
wait_text "$(console s2)" "boxlite-agent: shutting down" && kill -9 $cli || no "the kill found its stage (line 192)"
wait $cli 2>/dev/null
wait_field s2 state stopped
after "CLI killed during stop"
expect "CLI killed during stop: the reason is the stop asked for" "stopped" "$(field s2 stop_reason)"
expect "CLI killed during stop: an exec starts it again" "usable" "$("$B" exec s2 echo usable 2>&1)"
"$B" rm -f s2 >/dev/null

# ---- the per-box process killed --------------------------------------------------------
"$B" run -d --name v1 --disk-size 1g "$root" >/dev/null 2>"$work/v1.err" &
cli=$!
# held as soon as they appear (as hold_start does): the kill lands before the guest can be
# ready however slow the lookups are (under load a free-running guest won that race)
wait_proc "$ours" >/dev/null && pkill -STOP -f -- "$ours" && id=$(wait_id v1) &&
  vmm=$(vmm_of "$id") && kill -9 "$vmm" || no "the kill found its stage (line 203)"
pkill -CONT -f -- "$ours"
wait $cli
expect "VMM killed during start: run fails with 125" "125" "$?"
has "VMM killed during start: the error says the VM process exited" "exited before the guest was ready" "$work/v1.err"
after "VMM killed during start"
usable "VMM killed during start" v1

"$B" exec v1 sh -c 'echo started; exec sleep 600' >"$work/exec.out" 2>&1 &
cli=$!
vmm=$(vmm_of "$(id_of v1)")
wait_text "$work/exec.out" started && kill -9 "$vmm" || no "the kill found its stage (line 213)"
wait $cli
[ $? -ne 0 ] && ok "VMM killed during exec: the exec fails" || no "VMM killed during exec: the exec fails"
after "VMM killed during exec"
# said by the jail's supervisor (exit.json), or guessed by the library when nobody said it
case "$(field v1 stop_reason)" in
  "boxlite-vmm was killed by signal 9"*|"the box's VM process (pid "*") died without a word"*) ok "VMM killed during exec: ps says its VM process died" ;;
  *) no "VMM killed during exec: ps says its VM process died" "$(field v1 stop_reason)" ;;
esac
out=$("$B" exec v1 echo hi 2>&1)
case "$out" in
  *"has stopped: boxlite-vmm was killed by signal 9"*|*"has stopped: the box's VM process"*) ok "VMM killed during exec: an exec is refused with the reason" ;;
  *) no "VMM killed during exec: an exec is refused with the reason" "$out" ;;
esac
usable "VMM killed during exec" v1

vmm=$(vmm_of "$(id_of v1)")
"$B" cp "$work/payload" v1:/tmp/payload >/dev/null 2>&1 &
cli=$!
wait_read $cli $((8 << 20)) && kill -9 "$vmm" || no "the kill found its stage (line 228)"
wait $cli
[ $? -ne 0 ] && ok "VMM killed during copy: the copy fails" || no "VMM killed during copy: the copy fails"
after "VMM killed during copy"
usable "VMM killed during copy" v1

hold v1
vmm=$(vmm_of "$(id_of v1)"); log=$(console v1)
"$B" stop v1 >/dev/null 2>&1 &
cli=$!
wait_text "$log" "boxlite-agent: shutting down" && kill -9 "$vmm" || no "the kill found its stage (line 238)"
wait $cli
after "VMM killed during stop"
expect "VMM killed during stop: stopped" "stopped" "$(field v1 state)"
usable "VMM killed during stop" v1

# the per-box process the library records (the jail's supervisor): its VMM and QEMU go with it
sup=$(field v1 pid)
[ -n "$sup" ] && [ "$sup" != 0 ] && kill -9 "$sup" || no "the kill found its stage (supervisor)"
wait_field v1 state stopped
after "supervisor killed while running"
usable "supervisor killed while running" v1
"$B" rm -f v1 >/dev/null

# ---- QEMU killed -----------------------------------------------------------------------
"$B" run -d --name q1 --disk-size 1g "$root" >/dev/null 2>"$work/q1.err" &
cli=$!
id=$(wait_id q1) && qemu=$(wait_proc "$id/disk.qcow2") && kill -9 "$qemu" || no "the kill found its stage (line 248)"
wait $cli
expect "QEMU killed during start: run fails with 125" "125" "$?"
has "QEMU killed during start: the error carries the VM process's last word" "QEMU killed by signal 9" "$work/q1.err"
after "QEMU killed during start"
usable "QEMU killed during start" q1

qemu=$(pgrep -f "$(id_of q1)/disk.qcow2")
"$B" exec q1 sh -c 'echo started; exec sleep 600' >"$work/exec.out" 2>&1 &
cli=$!
wait_text "$work/exec.out" started && kill -9 "$qemu" || no "the kill found its stage (line 258)"
wait $cli
[ $? -ne 0 ] && ok "QEMU killed during exec: the exec fails" || no "QEMU killed during exec: the exec fails"
wait_field q1 state stopped
after "QEMU killed during exec"
expect "QEMU killed during exec: ps says why" "QEMU killed by signal 9" "$(field q1 stop_reason | cut -c1-23)"
usable "QEMU killed during exec" q1

qemu=$(pgrep -f "$(id_of q1)/disk.qcow2")
"$B" cp "$work/payload" q1:/tmp/payload >/dev/null 2>&1 &
cli=$!
wait_read $cli $((8 << 20)) && kill -9 "$qemu" || no "the kill found its stage (line 269)"
wait $cli
[ $? -ne 0 ] && ok "QEMU killed during copy: the copy fails" || no "QEMU killed during copy: the copy fails"
wait_field q1 state stopped
after "QEMU killed during copy"
usable "QEMU killed during copy" q1

hold q1
qemu=$(pgrep -f "$(id_of q1)/disk.qcow2"); log=$(console q1)
"$B" stop q1 >/dev/null 2>&1 &
cli=$!
wait_text "$log" "boxlite-agent: shutting down" && kill -9 "$qemu" || no "the kill found its stage (line 280)"
wait $cli
after "QEMU killed during stop"
expect "QEMU killed during stop: stopped" "stopped" "$(field q1 state)"
usable "QEMU killed during stop" q1
"$B" rm -f q1 >/dev/null

# ---- the guest ---------------------------------------------------------------------------
# a reboot inside the box: the container's init ends (SIGHUP from reboot(2) in its PID
# namespace) and the box with it
"$B" run -d --name g1 "$root" >/dev/null
"$B" exec g1 reboot -f >/dev/null 2>&1
wait_field g1 state stopped
after "guest reboot"
expect "guest reboot: ps says why" "the container was rebooted from inside the box" "$(field g1 stop_reason)"
usable "guest reboot" g1
"$B" rm -f g1 >/dev/null

# a kernel panic: the OOM killer told to panic instead
"$B" run -d --name g2 --memory 64m "$root" >/dev/null
"$B" exec g2 sh -c 'echo 1 > /proc/sys/vm/panic_on_oom; tail /dev/zero' >/dev/null 2>&1
wait_field g2 state stopped
after "guest kernel panic"
case "$(field g2 stop_reason)" in
  "guest kernel panic: Out of memory"*) ok "guest kernel panic: ps says why" ;;
  *) no "guest kernel panic: ps says why" "$(field g2 stop_reason)" ;;
esac
usable "guest kernel panic" g2
"$B" rm -f g2 >/dev/null

# the agent dies (as if it crashed): the guest's PID 1 is gone, the kernel panics
BOXLITE_KERNEL_CMDLINE="boxlite.fault_exit_ms=3000" "$B" run -d --name g3 "$root" >/dev/null
"$B" exec g3 sh -c 'echo started; exec sleep 600' >"$work/exec.out" 2>&1
[ $? -ne 0 ] && ok "agent killed: the exec under way fails" || no "agent killed: the exec under way fails"
wait_field g3 state stopped
after "agent killed"
case "$(field g3 stop_reason)" in
  "guest kernel panic: Attempted to kill init"*) ok "agent killed: ps says why" ;;
  *) no "agent killed: ps says why" "$(field g3 stop_reason)" ;;
esac
usable "agent killed" g3
"$B" rm -f g3 >/dev/null

# the OOM killer: a workload process goes, the box lives (its init is protected); a main
# process it takes ends the box with that reason
"$B" run -d --name g4 --memory 64m "$root" >/dev/null
"$B" exec g4 sh -c 'tail /dev/zero' >/dev/null 2>&1
expect "OOM in an exec: the command is killed (137), the box lives" "137 running" "$? $(field g4 state)"
after "OOM in an exec"
usable "OOM in an exec" g4
"$B" rm -f g4 >/dev/null
"$B" run -d --name g5 --memory 64m "$root" sh -c 'tail /dev/zero' >/dev/null
wait_field g5 state stopped
after "OOM of the main process"
expect "OOM of the main process: ps says why" "main process killed by OOM" "$(field g5 stop_reason)"
expect "OOM of the main process: its status" "137" "$(field g5 exit_code)"
"$B" rm -f g5 >/dev/null

# ---- the host's disk full ------------------------------------------------------------------
# during a pull: a 16 MiB home for a 24 MiB image
mkdir -p "$work/full1" && mount -t tmpfs -o size=16m tmpfs "$work/full1"
BOXLITE_HOME=$work/full1/home "$B" pull "oci:$work/fx/big" >/dev/null 2>"$work/full.err"
expect "disk full during a pull: the pull fails" "125" "$?"
has "disk full during a pull: it says why" "No space left on device" "$work/full.err"
( export BOXLITE_HOME=$work/full1/home; after "disk full during a pull" )
BOXLITE_HOME=$work/full1/home "$B" pull "oci:$work/fx/busybox" >/dev/null 2>&1
expect "disk full during a pull: a pull that fits works next" "0" "$?"

# during a guest write: a 32 MiB home, a box whose disk may grow to 1 GiB writes 64 MiB
mkdir -p "$work/full2" && mount -t tmpfs -o size=32m tmpfs "$work/full2"
(
  export BOXLITE_HOME=$work/full2/home
  "$B" run -d --name w1 --disk-size 1g "$root" >/dev/null 2>"$work/w1.err" || cat "$work/w1.err"
  "$B" exec w1 sh -c 'dd if=/dev/zero of=/fill bs=1M count=64 2>&1; sync; echo synced' >"$work/dd.out" 2>&1
  [ "$(df --output=avail "$work/full2" | tail -1)" -lt 1024 ] && ok "disk full during a guest write: the host disk filled" ||
    no "disk full during a guest write: the host disk filled" "$(df -h "$work/full2" | tail -1)"
  after "disk full during a guest write"
  expect "disk full during a guest write: the box still answers" "alive" "$("$B" exec w1 echo alive 2>&1)"
  "$B" rm -f w1 >/dev/null 2>"$work/rm.err"
  expect "disk full during a guest write: rm -f frees it" "0 " "$? $(cat "$work/rm.err")"
  [ "$(df --output=used "$work/full2" | tail -1)" -lt $((16 << 10)) ] && ok "disk full during a guest write: the space is back" ||
    no "disk full during a guest write: the space is back" "$(df -h "$work/full2" | tail -1)"
  after "disk full during a guest write, removed"
  echo "$pass $fail" >"$work/sub.count"
)
read -r p f <"$work/sub.count" && pass=$p fail=$f
finish
