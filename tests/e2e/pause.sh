#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Memory snapshots through the CLI on the QEMU engine (src/runtime/pause.c,
# src/vmm/qemu/migrate.c): a process started before `pause` still runs after `resume` with
# its state (a counter in a tmpfs file, a shell variable its loop echoes, its pid); a paused
# box has no process and outlives the CLI that paused it; an exec resumes it; --idle-pause
# pauses a box by itself (with a volume too, unmounted by the per-box process first; not
# while a volume is in use; an exec that comes as it pauses waits and resumes it); a box with volumes pauses with them unmounted (refused while one
# is in use) and gets them back on resume, as its forks do; another process's execs racing
# an explicit pause run with their volumes or wait for it and resume the box (HOLD), and a
# pause that dies holding the box leaves it running with its volumes; what cannot be paused (open
# executions) is refused and the box runs on; `fork` makes 5 running boxes at once that see the parent's tmpfs and differ in
# host name, MAC and randomness; kill -9 of the per-box process during pause and during
# resume, and of the CLI during pause, leave a box that is usable or says why; a fork keeps
# the source's disk snapshots whole (one qcow2 chain); a paused box refuses disk snapshots and
# export, keeps its restart count (a fork's starts at 0), and `wait` goes on through a pause.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
. tests/harness/lib.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "$B (make)" test -x "$B"
need "/bin/busybox (busybox-static)" test -x /bin/busybox
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
cleanup() {
  for id in $("$B" ps -a -q --no-trunc 2>/dev/null); do "$B" rm -f "$id" >/dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup EXIT

root=$work/root
busybox_rootfs "$root"
info() { "$B" inspect -f "{{.$2}}" "$1" 2>/dev/null; }
# waits (on the box's own state, polled) until inspect's field says what is wanted
wait_field() { for _ in $(seq 900); do [ "$(info "$1" "$2")" = "$3" ] && return 0; sleep 0.1; done; return 1; }
dir_of() { echo "$BOXLITE_HOME/boxes/$("$B" inspect -f '{{.ID}}' "$1" 2>/dev/null)"; }
# a loop started before the pause: its pid, a shell variable and a counter in tmpfs
# (each file replaced whole, by rename, so a reader never sees one half-written)
LOOP='v=secret-$RANDOM; echo $$ > /dev/shm/pid; i=0; while true; do i=$((i+1)); echo $i > /dev/shm/c.t; mv /dev/shm/c.t /dev/shm/c; echo "$v" > /dev/shm/v.t; mv /dev/shm/v.t /dev/shm/v; sleep 0.1; done'

# ---- pause and resume -----------------------------------------------------------------
"$B" run -d --name p "$root" sleep 1000000 >/dev/null 2>"$work/err" || cat "$work/err"
"$B" exec -d p sh -c "$LOOP" >/dev/null
for _ in $(seq 100); do [ "$("$B" exec p cat /dev/shm/c 2>/dev/null || echo 0)" -ge 3 ] && break; done
before=$("$B" exec p cat /dev/shm/c /dev/shm/v /dev/shm/pid | tr '\n' ' ')
read -r c0 v0 pid0 <<<"$before"
vmm=$(info p pid)
out=$("$B" pause p 2>&1)
expect "pause says the box" "p" "$out"
expect "a paused box reads paused (inspect)" "paused" "$(info p state)"
has "and in ps" "paused" <("$B" ps -a)
gone() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null); [ -z "$st" ] || [ "${st:0:1}" = Z ]; }
check "its per-box process is gone" gone "$vmm"
check "its saved state is in its folder" test -s "$(dir_of p)/memory.state"
expect "no process is recorded for it" "0" "$(info p pid)"
# the CLI that paused it has exited: a new one resumes it
out=$("$B" resume p 2>&1)
expect "resume says the box" "p" "$out"
expect "a resumed box is running" "running" "$(info p state)"
check "the state file is consumed by the resume" test ! -e "$(dir_of p)/memory.state"
# the saved state is the pausing engine's format: the resume runs that engine (the box's
# own choice, auto, could pick the other on a host with KVM)
expect "the resume runs the engine that paused, not the box's auto" "qemu" \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["engine"])' "$(dir_of p)/vmm.json" 2>&1)"
after=$("$B" exec p sh -c 'sleep 0.5; cat /dev/shm/c /dev/shm/v /dev/shm/pid' | tr '\n' ' ')
read -r c1 v1 pid1 <<<"$after"
check "the loop's counter went on from where it was ($c0 -> $c1)" test "${c1:-0}" -gt "${c0:-0}"
expect "the loop's shell variable is the same" "$v0" "$v1"
expect "the loop is the same process" "$pid0" "$pid1"
check "the loop still runs" "$B" exec p kill -0 "$pid0"

# ---- an exec resumes a paused box ------------------------------------------------------
"$B" pause p >/dev/null 2>&1
expect "paused again" "paused" "$(info p state)"
out=$("$B" exec p cat /dev/shm/v 2>&1)
expect "an exec on a paused box resumes it and runs" "$v0" "$out"
expect "the box runs after that exec" "running" "$(info p state)"

# ---- refusals: open executions, volumes ------------------------------------------------
"$B" exec p sleep 600 >/dev/null 2>&1 &
execpid=$!
for _ in $(seq 100); do "$B" exec p pidof sleep 2>/dev/null | grep -q ' ' && break; done
out=$("$B" pause p 2>&1); rc=$?
check "a pause with an execution open is refused" test "$rc" -ne 0
has "and says why" "still open" <(echo "$out")
expect "the box runs on" "running" "$(info p state)"
kill "$execpid" 2>/dev/null; wait "$execpid" 2>/dev/null

# ---- volumes: unmounted around the pause, mounted again after it (guest/agent/volumes.c) --
mkdir -p "$work/vol" "$work/ro"
echo from-host > "$work/ro/r"
"$B" run -d --name vol -v "$work/vol:/data" -v "$work/ro:/ro:ro" "$root" sleep 1000000 >/dev/null 2>&1
"$B" exec vol sh -c 'echo before > /data/g; echo vol-tmpfs > /dev/shm/t'
vmm=$(info vol pid)
# a process whose working directory is on the volume holds it: refused, nothing changed
"$B" exec -d vol sh -c 'cd /data && echo $$ > /dev/shm/holder.t && mv /dev/shm/holder.t /dev/shm/holder && exec sleep 600' >/dev/null
for _ in $(seq 100); do "$B" exec vol test -s /dev/shm/holder 2>/dev/null && break; done
out=$("$B" pause vol 2>&1); rc=$?
check "a box whose volume is in use is refused" test "$rc" -ne 0
has "and the refusal names the volume in use" "volume /data is in use" <(echo "$out")
expect "that box runs on, the same process" "running $vmm" "$(info vol state) $(info vol pid)"
expect "with its volumes mounted once each" "2" "$("$B" exec vol grep -c ' 9p ' /proc/mounts 2>&1)"
expect "which still reach the host" "before" "$(cat "$work/vol/g" 2>&1)"
"$B" exec vol sh -c 'kill $(cat /dev/shm/holder); while kill -0 $(cat /dev/shm/holder) 2>/dev/null; do sleep 0.1; done'
# free: it pauses; the host changes the folder meanwhile; the resume mounts it again
out=$("$B" pause vol 2>&1); rc=$?
expect "a box with volumes pauses once nothing uses them" "0 paused" "$rc $(info vol state)"
# the per-box process said how its engine's pause treats volumes (STATUS, PAUSE_SHARES),
# the library unmounted them by that word, and the pause's record keeps it for the resume
expect "the pause's record: the volumes were unmounted (QEMU)" "unmounted" \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("pause_shares"))' "$(dir_of vol)/exit.json" 2>&1)"
echo while-paused > "$work/vol/h"
expect "resumed, it sees what the host wrote while it was paused" "while-paused" "$("$B" exec vol cat /data/h 2>&1)"
expect "and its tmpfs as it was" "vol-tmpfs" "$("$B" exec vol cat /dev/shm/t 2>&1)"
expect "its volumes are mounted once each" "2" "$("$B" exec vol grep -c ' 9p ' /proc/mounts 2>&1)"
"$B" exec vol sh -c 'echo after > /data/g'
expect "its writes reach the host" "after" "$(cat "$work/vol/g" 2>&1)"
expect "the read-only volume is read" "from-host" "$("$B" exec vol cat /ro/r 2>&1)"
check "and still read-only" bash -c "! '$B' exec vol touch /ro/x 2>/dev/null"
# an exec of another process racing an explicit pause (src/runtime/pause.c: HOLD first,
# then the volumes' unmount, then PAUSE), started 0.15 s before to 0.015 s after the pause
# (an exec takes longer to reach the box): each runs with both volumes mounted and its
# write reaches the host; one that comes while the pause holds waits for it and resumes
# the box. The pause either pauses or is refused because the exec was first ("still
# open"). Before HOLD, the unmount came first: an exec in between ran without /data, its
# write beneath the mount point.
want="" got="" host="" paused=0 waited=0 refused=0 other=""
later() { sleep "$(awk -v a="$1" -v b="$EPOCHREALTIME" -v t="$2" 'BEGIN { d = t - (b - a); print (d > 0 ? d : 0) }')"; }
for k in $(seq 12); do
  [ "$(info vol state)" = paused ] && "$B" resume vol >/dev/null 2>&1
  d=$(awk -v k="$k" 'BEGIN { print (k - 11) * 0.015 }') # the exec's start after the pause's
  t0=$EPOCHREALTIME
  [[ $d == -* ]] || { "$B" pause vol >"$work/pause.$k" 2>&1 & pp=$!; later "$t0" "$d"; }
  "$B" exec vol sh -c "echo x$k > /data/x$k && cat /data/x$k && grep -c ' 9p ' /proc/mounts" >"$work/race.$k" 2>&1 & ep=$!
  [[ $d == -* ]] && { later "$t0" "${d#-}"; "$B" pause vol >"$work/pause.$k" 2>&1 & pp=$!; }
  wait "$ep"
  got+="$(tr '\n' ' ' <"$work/race.$k")"
  want+="x$k 2 "
  host+="$(cat "$work/vol/x$k" 2>&1) "
  if wait "$pp"; then paused=$((paused+1)); [ "$(info vol state)" = running ] && waited=$((waited+1))
  elif grep -q "still open" "$work/pause.$k"; then refused=$((refused+1))
  else other+="$(cat "$work/pause.$k") "; fi
done
expect "12 execs racing an explicit pause each ran with its volumes ($paused paused, $waited of them waited and resumed the box; $refused refused: the exec came first)" "$want" "$got"
expect "  ...and their writes reach the host's folder" "$(echo "$want" | sed 's/ 2 / /g')" "$host"
expect "  ...and each pause paused or was refused because the exec came first" "" "$other"
expect "  ...and the box runs, its volumes mounted once each" "running 2" \
  "$("$B" exec vol true; info vol state) $("$B" exec vol grep -c ' 9p ' /proc/mounts 2>&1)"
# a pause that dies once it held the box and had its volumes unmounted (a client of the
# box socket that sends HOLD, then VOLUMES unmount, then ends): the per-box process mounts
# them again before it lets requests through (src/proto/mux.c, holder_gone)
out=$(python3 - "$(dir_of vol)/box.sock" <<'PY' 2>&1
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
u64 = lambda tag, v: struct.pack("<HHQ", tag, 8, v)
def send(t, ch, body): s.sendall(struct.pack("<IHBBI", len(body), t, 0, 0, ch) + body)
def read(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: sys.exit("the box socket closed")
        b += c
    return b
def frame():
    n, t, _, _, ch = struct.unpack("<IHBBI", read(12)); return t, ch, read(n)
def until(types):
    while True:
        t, ch, b = frame()
        if t == 2: sys.exit("ERROR %r" % b)
        if t in types: return
send(1, 0, u64(1, 1) + u64(2, 1) + u64(7, 1)); until({1})   # HELLO with CONTROL
send(0x1E, 0, u64(180, 1)); until({0x1E})                    # HOLD
send(0x1A, 1, u64(121, 0)); until({0x25})                    # VOLUMES unmount: RESULT
print("held unmounted")
PY
)
expect "a client held the box and had its volumes unmounted, then ended" "held unmounted" "$out"
expect "  ...and the box runs on with its volumes mounted again" "2 x1" \
  "$("$B" exec vol sh -c 'grep -c " 9p " /proc/mounts; cat /data/x1' 2>&1 | tr '\n' ' ' | sed 's/ $//')"
# a fork mounts its source's host folders (docs/protocol.md, VOLUMES)
out=$("$B" fork vol volf 2>&1); rc=$?
expect "a box with volumes forks" "0" "$rc"
expect "the fork sees the source's host folder" "after" "$("$B" exec volf cat /data/g 2>&1)"
expect "and the source's tmpfs" "vol-tmpfs" "$("$B" exec volf cat /dev/shm/t 2>&1)"
"$B" exec volf sh -c 'echo from-fork > /data/f'
expect "the fork's writes reach the same folder" "from-fork" "$(cat "$work/vol/f" 2>&1)"
expect "the source runs again with its volume" "from-fork" "$("$B" exec vol cat /data/f 2>&1)"
"$B" rm -f vol volf >/dev/null 2>&1

# ---- auto-pause -------------------------------------------------------------------------
# with a volume: the per-box process has the agent unmount it first (src/vmm/main.c), and
# the resume mounts it again
"$B" run -d --name idle --idle-pause 2s -v "$work/vol:/data" "$root" sleep 1000000 >/dev/null 2>&1
"$B" exec idle sh -c 'echo kept > /dev/shm/k; echo idle-vol > /data/i'
wait_field idle state paused && ok "--idle-pause 2s pauses an unused box with a volume" || no "--idle-pause 2s pauses an unused box with a volume" "state $(info idle state)"
has "its log says it paused" "paused: memory saved" "$(dir_of idle)/vmm.log"
expect "the next exec resumes it with its tmpfs" "kept" "$("$B" exec idle cat /dev/shm/k 2>&1)"
expect "and its volume mounted again, once" "idle-vol 1" "$("$B" exec idle sh -c 'cat /data/i; grep -c " 9p " /proc/mounts' 2>&1 | tr '\n' ' ' | sed 's/ $//')"
# a volume in use (a working directory on it) holds the auto-pause back: tried again later
"$B" exec -d idle sh -c 'cd /data && echo $$ > /dev/shm/holder.t && mv /dev/shm/holder.t /dev/shm/holder && exec sleep 600' >/dev/null
for _ in $(seq 100); do grep -q "auto-pause: unmount the volumes: VOLUMES: volume /data is in use" "$(dir_of idle)/vmm.log" 2>/dev/null && break; sleep 0.1; done
has "an idle box whose volume is in use is not paused, and its log says why" "auto-pause: unmount the volumes: VOLUMES: volume /data is in use" "$(dir_of idle)/vmm.log"
expect "and it runs on" "running" "$(info idle state)"
"$B" exec idle sh -c 'kill $(cat /dev/shm/holder); while kill -0 $(cat /dev/shm/holder) 2>/dev/null; do sleep 0.1; done'
wait_field idle state paused && ok "and it pauses again when idle, once the volume is free" || no "and it pauses again when idle, once the volume is free" "state $(info idle state)"
# execs that come as the box pauses itself (1.64 to 1.97 s after the last one ended, plus
# the CLI's own start: around the 2 s timer): each waits for the pause and resumes the box
# (the library PINGs first: src/runtime/lifecycle.c rt_box_conn), and none runs with its
# volume unmounted. Before the fix, here, r9 ran without /data and r10 found no box socket.
race="" want="" host=""
for k in $(seq 12); do
  sleep "$(awk -v k="$k" 'BEGIN { print 1.61 + k * 0.03 }')"
  race+="$("$B" exec idle sh -c "echo r$k > /data/r$k && cat /data/r$k && grep -c ' 9p ' /proc/mounts" 2>&1 | tr '\n' ' ')"
  want+="r$k 1 "
  host+="$(cat "$work/vol/r$k" 2>&1) "
done
expect "twelve execs racing the auto-pause all run, each with its volume" "$want" "$race"
expect "  ...and their writes reach the host's folder" "$(echo "$want" | sed 's/ 1 / /g')" "$host"
"$B" rm -f idle >/dev/null 2>&1

# ---- fork ---------------------------------------------------------------------------------
"$B" exec p sh -c 'echo from-parent > /dev/shm/s'
# 16 MiB of the parent's tmpfs that one fork will free (below)
sum0=$("$B" exec p sh -c 'head -c 16777216 /dev/urandom > /dev/shm/data; md5sum < /dev/shm/data')
# a disk snapshot first: the fork freezes the disk into the same qcow2 chain (snapshot.h),
# so the snapshot's layers must survive it in the source and reach every fork
check "a disk snapshot of the source before the fork" "$B" snapshot create p before-fork
out=$("$B" fork p f1 f2 f3 f4 f5 2>&1); rc=$?
expect "fork of 5 succeeds" "0" "$rc"
expect "and prints 5 ids" "5" "$(echo "$out" | grep -cE '^[0-9a-f]{32}$')"
expect "the source runs again" "running" "$(info p state)"
has "the source's disk snapshot is still listed after the fork" "before-fork" <("$B" snapshot ls p)
# a later snapshot runs snap_gc: a frozen layer it did not know would lose what lies below
check "a disk snapshot of the source after the fork" "$B" snapshot create p after-fork
check "the source's disk chain is whole after the fork" bash -c "qemu-img info -U --backing-chain '$(dir_of p)/disk.qcow2' >/dev/null"
# a second fork: the source's disk now sits on the first fork's frozen layer, which the new
# fork must get too (every layer of the chain is linked into its folder)
check "a second fork of the source (its disk two layers deep)" "$B" fork p p2
check "whose disk chain is whole" bash -c "qemu-img info -U --backing-chain '$(dir_of p2)/disk.qcow2' >/dev/null"
expect "and which runs" "from-parent" "$("$B" exec p2 cat /dev/shm/s 2>&1)"
"$B" rm -f p2 >/dev/null 2>&1
macs=$("$B" exec p cat /sys/class/net/eth0/address); rands=$("$B" exec p sh -c 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " "')
boots=$("$B" exec p cat /proc/sys/kernel/random/boot_id)
hosts=p
for f in f1 f2 f3 f4 f5; do
  expect "$f runs" "running" "$(info $f state)"
  line=$("$B" exec $f sh -c 'echo "$(hostname) $(cat /sys/class/net/eth0/address) $(cat /dev/shm/s) $(head -c 16 /dev/urandom | od -An -tx1 | tr -d " ") $(cat /proc/sys/kernel/random/boot_id) $(awk "\$1 == \"127.0.1.1\" { print \$2 }" /etc/hosts)"')
  read -r h m s r b n <<<"$line"
  expect "$f sees the parent's tmpfs" "from-parent" "$s"
  expect "$f has its name as host name" "$f" "$h"
  expect "$f's /etc/hosts names it on 127.0.1.1" "$f" "$n"
  check "$f's boot_id is a version 4 UUID" grep -qE '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' <<<"$b"
  hosts="$hosts $h"; macs="$macs $m"; rands="$rands $r"; boots="$boots $b"
  has "$f's agent reseeded its RNG from the host's seed" "RNG reseeded from the host's seed" "$(dir_of $f)/console.log"
done
expect "6 different host names" "6" "$(echo $hosts | tr ' ' '\n' | sort -u | wc -l)"
expect "6 different MACs" "6" "$(echo $macs | tr ' ' '\n' | sort -u | wc -l)"
expect "6 different random streams" "6" "$(echo $rands | tr ' ' '\n' | sort -u | wc -l)"
expect "6 different boot_ids" "6" "$(echo $boots | tr ' ' '\n' | sort -u | wc -l)"
check "a fork's boot_id cannot be written" bash -c "! '$B' exec f1 sh -c 'echo x > /proc/sys/kernel/random/boot_id' 2>/dev/null"
check "the loop forked with the parent runs in f3" "$B" exec f3 kill -0 "$pid0"
expect "5 forks and the source run at once" "6" "$("$B" ps -q --filter status=running | wc -l)"
"$B" exec f1 sh -c 'echo f1-only > /dev/shm/s'
expect "a fork's writes are its own" "from-parent" "$("$B" exec f2 cat /dev/shm/s)"
# The forks share the frozen RAM file: of what f2's QEMU maps of it, most pages are the
# page cache's one copy that the source and the other forks map too (PSS well below RSS).
read -r rss pss priv <<<"$(box_ram_kib "$B" f2)"
check "a fork's guest RAM is shared with its siblings (RSS ${rss:-?} KiB, PSS ${pss:-?}, private ${priv:-?})" \
  test "${rss:-0}" -gt 4096 -a "$(( ${pss:-0} * 2 ))" -lt "${rss:-0}"
# A fork that frees memory gives none of the shared file back: QEMU 7.2 would punch the
# pages its guest reports free out of memory.base, zeroing them for every other box.
blocks=$(stat -c %b "$(dir_of p)/memory.base")
"$B" exec f1 sh -c 'rm /dev/shm/data; echo 3 > /proc/sys/vm/drop_caches'
sleep 6 # the guest reports free pages 2 s after they are freed
expect "memory.base keeps its blocks after a fork freed memory" "$blocks" "$(stat -c %b "$(dir_of p)/memory.base")"
expect "a sibling's tmpfs is intact after a fork freed its copy" "$sum0" "$("$B" exec f2 sh -c 'md5sum < /dev/shm/data' 2>&1)"
expect "and the source's" "$sum0" "$("$B" exec p sh -c 'md5sum < /dev/shm/data' 2>&1)"
"$B" rm -f p >/dev/null 2>&1
expect "a fork outlives its source's removal" "from-parent" "$("$B" exec f4 cat /dev/shm/s 2>&1)"
"$B" stop f5 >/dev/null 2>&1
check "a fork's disk passes qemu-img check" qemu-img check -q "$(dir_of f5)/disk.qcow2"
"$B" rm -f f2 f3 f4 f5 >/dev/null 2>&1

# ---- kill -9 during pause, during resume, and of the CLI during pause ---------------------
# usable or says why: whatever state the box is left in, an exec either runs or fails naming
# the reason.
usable() { # BOX NAME
  local out st why; st=$(info "$1" state); why=$(info "$1" stop_reason)
  out=$("$B" exec "$1" cat /dev/shm/s 2>&1)
  if [ "$out" = f1-only ]; then ok "$2: the box ($st) resumes with its memory"
  elif [ -n "$out" ] && "$B" start "$1" >/dev/null 2>&1 && [ "$("$B" exec "$1" echo up 2>&1)" = up ]; then
    ok "$2: the box ($st: $why) says why ($out) and starts again"
  else no "$2" "exec: $out; state $st $why"; fi
}
d=$(dir_of f1)
vmm=$(info f1 pid)
"$B" pause f1 >/dev/null 2>&1 &
cli=$!
# spin (no sleep: the window is short) while the CLI works, never past its end
while kill -0 "$cli" 2>/dev/null; do [ -e "$d/memory.state.tmp" ] || [ -e "$d/memory.state" ] && break; done
kill -9 "$vmm" 2>/dev/null
wait "$cli"
check "after kill -9 during pause the box is paused or stopped" bash -c "[[ \$('$B' inspect -f '{{.State}}' f1) =~ ^(paused|stopped)\$ ]]"
usable f1 "kill -9 during pause"
"$B" exec f1 sh -c 'echo f1-only > /dev/shm/s'
"$B" pause f1 >/dev/null 2>&1
"$B" resume f1 >/dev/null 2>&1 &
cli=$!
pid=""
while kill -0 "$cli" 2>/dev/null; do pid=$(pgrep -o -f "boxlite-vmm --config $d/vmm.json") && break; done
kill -9 "$pid" 2>/dev/null
wait "$cli"
usable f1 "kill -9 during resume"
"$B" exec f1 sh -c 'echo f1-only > /dev/shm/s'
"$B" pause f1 >/dev/null 2>&1 &
cli=$!
kill -9 "$cli" 2>/dev/null
wait "$cli" 2>/dev/null
for _ in $(seq 100); do kill -0 "$(info f1 pid)" 2>/dev/null || break; sleep 0.1; done
check "after the CLI was killed during pause the box is paused or running" bash -c "[[ \$('$B' inspect -f '{{.State}}' f1) =~ ^(paused|running)\$ ]]"
usable f1 "kill -9 of the CLI during pause"

# ---- a paused box and the other features (disk snapshots, restart policy, wait) ----------
"$B" pause f1 >/dev/null 2>&1
out=$("$B" snapshot create f1 never 2>&1); rc=$?
check "snapshot create refuses a paused box" test "$rc" -ne 0
has "saying it is paused" "paused" <(echo "$out")
out=$("$B" export f1 "$work/f1.tar.zst" 2>&1); rc=$?
check "export refuses a paused box" test "$rc" -ne 0
check "and writes nothing" test ! -e "$work/f1.tar.zst"
timeout 2 "$B" wait f1 >/dev/null 2>&1; rc=$?
expect "wait goes on through a pause (a paused box has not ended)" "124" "$rc"
# the restart policy: the main process fails once, then waits for /dev/shm/die to fail
# again; its count survives a pause, and a fork counts its own from 0
MAIN='n=$(cat /n 2>/dev/null || echo 0); echo $((n+1)) > /n; [ "$n" -eq 0 ] && exit 1; while [ ! -e /dev/shm/die ]; do sleep 0.2; done; rm /dev/shm/die; exit 1'
"$B" run -d --name rp --restart on-failure "$root" sh -c "$MAIN" >/dev/null 2>"$work/err" || cat "$work/err"
wait_field rp RestartCount 1 && ok "the main process restarted once" || no "the main process restarted once" "$(info rp RestartCount)"
"$B" pause rp >/dev/null 2>&1
expect "a paused box keeps its restart count" "1" "$(info rp RestartCount)"
"$B" resume rp >/dev/null 2>&1
expect "and a resumed one too" "1" "$(info rp RestartCount)"
"$B" fork rp rpf >/dev/null 2>&1
expect "a fork's restart count starts at 0" "0" "$(info rpf RestartCount)"
expect "its source's stays" "1" "$(info rp RestartCount)"
"$B" exec rpf touch /dev/shm/die
wait_field rpf RestartCount 1 && ok "the fork's agent counts its main process's restarts from 0" \
  || no "the fork's agent counts its main process's restarts from 0" "$(info rpf RestartCount)"
expect "the source's count is its own" "1" "$(info rp RestartCount)"
"$B" rm -f rp rpf >/dev/null 2>&1

# ---- stop and rm of a paused box -----------------------------------------------------------
"$B" stop f1 >/dev/null 2>&1
expect "a paused box stops (its memory is dropped)" "stopped" "$(info f1 state)"
check "its memory files are gone" test ! -e "$(dir_of f1)/memory.state" -a ! -e "$(dir_of f1)/memory.base"
"$B" start f1 >/dev/null 2>&1
check "and starts cold afterwards" bash -c "! '$B' exec f1 cat /dev/shm/s 2>/dev/null | grep -q ."
"$B" pause f1 >/dev/null 2>&1
check "a paused box is removed without -f" "$B" rm f1
finish
