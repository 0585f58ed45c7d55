#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Density on the QEMU engine (issue 21; docs/protocol.md "Balloon"): a guest that allocates
# and frees 300 MiB gives the memory back to the host by free page reporting (QEMU's
# virtio-balloon-device punching the box's shared memory file), waited on through the box's
# own figure (boxlite stats --json: guest_resident_bytes), polled with a deadline; with
# reporting off the same memory stays (the control); a box with a balloon target cannot
# use more than the target, and `boxlite balloon` moves it at run time, a move that holds
# across a pause and reaches a fork (the figure and what the guest holds); RECLAIM answers;
# option errors name the range.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
. tests/harness/lib.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "$B (make)" test -x "$B"
need "/bin/busybox (busybox-static)" test -x /bin/busybox
kernel=$(scripts/build-kernel.sh --cached-only)
need "a guest kernel with the balloon driver (guest/kernel/boxlite.config)" \
  grep -qx CONFIG_PAGE_REPORTING=y "$(dirname "$kernel")/config"
work=$(mktemp -d)
export BOXLITE_HOME=$work/home BOXLITE_KERNEL=$kernel
cleanup() {
  for id in $("$B" ps -a -q --no-trunc 2>/dev/null); do "$B" rm -f "$id" >/dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup EXIT

root=$work/root
busybox_rootfs "$root"

# one figure of the box's metrics ("vmm" object), as an integer
# fig BOX KEY: a figure of boxlite stats --json, KEY in "vmm" or a path such as boot.idle_ms
fig() { "$B" stats --json "$1" 2>/dev/null | python3 -c "
import json,sys
v=json.load(sys.stdin); k='$2'.split('.')
for p in (k if len(k) > 1 else ['vmm'] + k): v=v[p]
print(v)" 2>/dev/null || echo -1; }
mib() { echo $(( $1 / 1048576 )); }
dir_of() { echo "$BOXLITE_HOME/boxes/$("$B" inspect -f '{{.ID}}' "$1" 2>/dev/null)"; }
# polls the box's figure until the test ($3 as an awk condition on v) holds, at most $4
# seconds; prints the last value and how long it took
wait_fig() {
  local box=$1 name=$2 cond=$3 limit=$4 t0 v
  t0=$(date +%s.%N)
  while :; do
    v=$(fig "$box" "$name")
    if awk -v v="$v" "BEGIN{exit !($cond)}"; then
      echo "$v $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')"
      return 0
    fi
    awk -v a="$t0" -v b="$(date +%s.%N)" -v l="$limit" 'BEGIN{exit !(b-a > l)}' && { echo "$v timeout"; return 1; }
    sleep 0.5
  done
}
# A process in the guest that allocates 300 MiB (dd's buffer, filled with zeros) and holds it
# until the test writes to a FIFO (its reader blocks on it), then exits and frees it all.
# (Not /dev/shm: the agent gives the container Docker's 64 MiB one.)
HOLD='dd if=/dev/zero bs=300M count=1 2>/dev/null | { cat /tmp/gate >/dev/null; cat >/dev/null; }'

# ---- free page reporting gives freed memory back ----------------------------------------
"$B" run -d --name rep --memory 1g "$root" sleep 1000000 >/dev/null 2>"$work/err" || cat "$work/err"
expect "a box runs with the balloon device" "running" "$("$B" inspect -f '{{.State}}' rep 2>/dev/null)"
has "QEMU got virtio-balloon-device with free-page-reporting=on" \
  "virtio-balloon-device,id=balloon0,free-page-reporting=on" <(tr '\0' ' ' </proc/"$(pgrep -f "qemu-system-x86_64.*$(dir_of rep)" | head -1)"/cmdline 2>/dev/null)
# What the engine passes for density (issue 21d): the TCG translation cache and free page
# reporting's order (src/common/guest_abi.h), and that the guest runs with that order: Linux
# 6.1 resets the parameter to its pageblock order (10) when the balloon driver registers,
# and the agent writes it back (guest/agent/reporting.c). Before 21d the guest said 10.
qargs=$(tr '\0' ' ' </proc/"$(pgrep -f "qemu-system-x86_64.*$(dir_of rep)" | head -1)"/cmdline 2>/dev/null)
has "QEMU's TCG translation cache is 16 MiB (-accel tcg,tb-size=16)" "tcg,tb-size=16 " <(echo "$qargs")
has "the guest kernel is asked for reporting order 5 (128 KiB chunks)" \
  " page_reporting.page_reporting_order=5 " <(echo "$qargs")
expect "the guest reports free chunks of order 5, not its pageblocks (order 10)" "5" \
  "$("$B" exec rep cat /sys/module/page_reporting/parameters/page_reporting_order 2>&1)"
# No BSD ptys (issue 21e, guest_abi.h GUEST_NO_LEGACY_PTYS_ARG): their 256 pairs of devices
# held 1.3 MiB of every idle guest's slab. Before 21e the guest had 512 pty* and tty[p-z]*.
has "the guest kernel is asked for no legacy ptys" " pty.legacy_count=0" <(echo "$qargs")
expect "the guest has no legacy pty devices" "0" \
  "$("$B" exec rep sh -c 'ls /sys/class/tty | grep -c "^pty"' 2>&1)"
expect "  and a terminal still gets a Unix 98 pty" "/dev/pts/0" \
  "$("$B" exec -t rep tty 2>&1 | tr -d '\r')"
# The kernel QEMU loads has no symbol table (scripts/build-kernel.sh strips it, issue 21j):
# QEMU's ELF loader copies .symtab and .strtab into its heap and keeps them, ~1.2 MiB a box.
qkernel=$(sed -n 's/.* -kernel \([^ ]*\) .*/\1/p' <<<"$qargs")
check "the kernel QEMU loads ($qkernel) has no symbol table for QEMU to copy" \
  sh -c '[ -f "$1" ] && readelf -S -W "$1" | grep -q " \.text " && ! readelf -S -W "$1" | grep -q " \.symtab "' _ "$qkernel"
idle=$(fig rep guest_resident_bytes)
"$B" exec rep mkfifo /tmp/gate
"$B" exec -d rep sh -c "$HOLD" >/dev/null
if out=$(wait_fig rep guest_resident_bytes "v >= $idle + 250 * 1048576" 120); then
  ok "allocating 300 MiB raises the guest RAM resident on the host ($(mib "$idle") -> $(mib "${out% *}") MiB)"
else
  no "allocating 300 MiB raises the guest RAM resident on the host" "$(mib "$idle") MiB, then ${out% *}"
fi
blocks0=$(stat -c %b "$(dir_of rep)/memory")
peak=$(fig rep guest_resident_bytes)
"$B" exec rep sh -c 'echo go > /tmp/gate'
if out=$(wait_fig rep guest_resident_bytes "v >= 0 && v <= $peak - 200 * 1048576" 60); then
  read -r v secs <<<"$out"
  ok "freed, at least 200 of the 300 MiB go back to the host in ${secs}s (resident $(mib "$peak") -> $(mib "$v") MiB)"
else
  no "freed memory goes back to the host within 60 s" "resident $(mib "$peak") MiB, then ${out% *}"
fi
blocks1=$(stat -c %b "$(dir_of rep)/memory")
check "the box's memory file has holes punched where the pages were ($((blocks0 / 2048)) -> $((blocks1 / 2048)) MiB allocated)" \
  test "$blocks1" -lt "$blocks0"
check "the figure of memory returned counts it" test "$(fig rep mem_returned_bytes)" -ge $((200 * 1048576))
check "host RSS of the box's processes is reported" test "$(fig rep host_rss_bytes)" -gt 0
out=$("$B" reclaim rep 2>&1)
has "reclaim answers with what the guest freed" "rep" <(echo "$out")
expect "the box runs on after all that" "hello" "$("$B" exec rep echo hello 2>&1)"

# ---- reclaim --idle: only the boxes without a request open for that long ----------------
"$B" exec rep mkfifo /tmp/gate2
"$B" exec rep sh -c 'cat /tmp/gate2 >/dev/null' >/dev/null 2>&1 & # open until the gate
busy=$!
wait_fig rep boot.idle_ms "v == 0" 60 >/dev/null # the exec's request is open
out=$("$B" reclaim --idle 1s 2>&1)
expect "reclaim --idle skips a box with an execution open" "rep	skipped: in use" "$out"
"$B" exec rep sh -c 'echo > /tmp/gate2' >/dev/null 2>&1
wait "$busy"
if out=$(wait_fig rep boot.idle_ms "v >= 1500" 60); then
  ok "stats: boot.idle_ms counts from the last request (${out% *} ms)"
else
  no "stats: boot.idle_ms counts from the last request" "${out% *}"
fi
out=$("$B" reclaim --idle 1s 2>&1)
has "reclaim --idle reclaims a box idle that long" "rep	" <(echo "$out")
has "  saying what it freed" "freed" <(echo "$out")
out=$("$B" reclaim --idle 1h 2>&1)
check "a reclaim is a request: idle counts again from it ($out)" grep -qE '^rep	skipped: idle for [0-9.]+s only$' <<<"$out"
"$B" reclaim --idle soon >/dev/null 2>&1; expect "reclaim --idle with a bad duration: usage error" 125 "$?"
"$B" reclaim --idle 1s rep >/dev/null 2>&1; expect "reclaim --idle naming a box: usage error" 125 "$?"
"$B" rm -f rep >/dev/null

# ---- the control: reporting off, the memory stays --------------------------------------
"$B" run -d --name keep --memory 1g --no-page-reporting "$root" sleep 1000000 >/dev/null 2>"$work/err" || cat "$work/err"
idle=$(fig keep guest_resident_bytes)
"$B" exec keep mkfifo /tmp/gate
"$B" exec -d keep sh -c "$HOLD" >/dev/null
wait_fig keep guest_resident_bytes "v >= $idle + 250 * 1048576" 120 >/dev/null
"$B" exec keep sh -c 'echo go > /tmp/gate'
# the holder is gone once its pages are free in the guest
"$B" exec keep sh -c 'while pidof dd >/dev/null; do sleep 0.1; done'
peak=$(fig keep guest_resident_bytes)
# what reporting did above within seconds, compaction and all, must not happen here: the
# guest's reclaim (which returns pages only through reporting) makes the pages free at once
"$B" reclaim keep >/dev/null 2>&1
if wait_fig keep guest_resident_bytes "v >= 0 && v <= $peak - 200 * 1048576" 10 >/dev/null; then
  no "without free page reporting freed memory stays with the box"
else
  ok "without free page reporting freed memory stays with the box (resident $(mib "$(fig keep guest_resident_bytes)") MiB after freeing 300)"
fi
"$B" rm -f keep >/dev/null

# ---- a balloon target is a ceiling ------------------------------------------------------
"$B" run -d --name cap --balloon-target 128m "$root" sleep 1000000 >/dev/null 2>"$work/err" || cat "$work/err"
expect "the target is in the figures" "128" "$(fig cap balloon_target_mib)"
if out=$(wait_fig cap balloon_actual_mib "v > 0 && v <= 128" 60); then
  ok "the guest inflates its balloon to the target in ${out#* }s (actual ${out% *} MiB)"
else
  no "the guest inflates its balloon to the target" "actual ${out% *} MiB"
fi
total=$("$B" exec cap sh -c "awk '/MemTotal/{print int(\$2/1024)}' /proc/meminfo")
check "the guest sees at most the target (MemTotal ${total} MiB)" test "${total:-999}" -le 128
# 200 MiB for one process: the guest has no room for it (the OOM killer takes dd), the box
# runs on
"$B" exec cap sh -c 'dd if=/dev/zero of=/dev/null bs=200M count=1 2>/dev/null; echo "status $?"' >"$work/big" 2>&1
st=$(sed -n 's/^status //p' "$work/big")
check "the guest cannot push its memory above the target (dd of a 200 MiB buffer: status ${st:-none})" \
  test "${st:-0}" -ne 0
res=$(fig cap guest_resident_bytes)
check "nor can it make the host hold more than the target ($(mib "$res") MiB resident)" \
  test "$res" -ge 0 -a "$res" -le $(((128 + 16) * 1048576))
expect "the box runs on" "ok" "$("$B" exec cap echo ok 2>&1)"
"$B" balloon cap none >/dev/null 2>&1
if out=$(wait_fig cap balloon_actual_mib "v >= 500" 60); then
  ok "balloon none gives the guest its memory back in ${out#* }s"
else
  no "balloon none gives the guest its memory back" "actual ${out% *} MiB"
fi
"$B" balloon cap 64m >/dev/null 2>&1
if out=$(wait_fig cap balloon_actual_mib "v > 0 && v <= 64" 60); then
  ok "balloon 64m at run time squeezes it again in ${out#* }s"
else
  no "balloon 64m at run time squeezes it again" "actual ${out% *} MiB"
fi
# ---- a run-time target survives a pause, and reaches a fork (issue 21i) ----------------
# The saved state carries it (QEMU's migrated balloon, our header: src/vmm/qemu/migrate.c):
# the figure, QEMU's query-balloon "actual" and the guest's MemTotal all say 64, not the
# box option's 128 (before 21i the resume set 128 again; with no option it read 0).
memtotal() { "$B" exec "$1" sh -c "awk '/MemTotal/{print int(\$2/1024)}' /proc/meminfo" 2>/dev/null; }
"$B" pause cap >/dev/null 2>&1 && "$B" resume cap >/dev/null 2>&1
expect "paused and resumed, the run-time target holds (target, not the option's 128)" "64" "$(fig cap balloon_target_mib)"
act=$(fig cap balloon_actual_mib) total=$(memtotal cap)
check "  ...and the guest holds it: actual ${act} MiB, MemTotal ${total:-?} MiB" \
  test "$act" -gt 0 -a "$act" -le 64 -a "${total:-999}" -le 64
"$B" fork cap capf >/dev/null 2>&1
act=$(fig capf balloon_actual_mib) total=$(memtotal capf)
expect "a fork of it has the source's run-time target" "64" "$(fig capf balloon_target_mib)"
check "  ...and its guest holds it: actual ${act} MiB, MemTotal ${total:-?} MiB" \
  test "$act" -gt 0 -a "$act" -le 64 -a "${total:-999}" -le 64
"$B" rm -f capf >/dev/null 2>&1
# "none" at run time holds too: the resume does not inflate the balloon to the option again
"$B" balloon cap none >/dev/null 2>&1
wait_fig cap balloon_actual_mib "v >= 500" 60 >/dev/null
"$B" pause cap >/dev/null 2>&1 && "$B" resume cap >/dev/null 2>&1
expect "a run-time \"none\" holds across a pause too (target 0)" "0" "$(fig cap balloon_target_mib)"
act=$(fig cap balloon_actual_mib) total=$(memtotal cap)
check "  ...and the guest keeps its memory: actual ${act} MiB, MemTotal ${total:-?} MiB" \
  test "$act" -ge 500 -a "${total:-0}" -gt 128

# ---- option errors ---------------------------------------------------------------------
out=$("$B" balloon cap 16m 2>&1); rc=$?
check "a run-time target below 32 MiB is refused" test $rc -ne 0
has "and the error names the range" "32..512" <(echo "$out")
out=$("$B" balloon cap 1g 2>&1); rc=$?
check "a run-time target above the box's memory is refused" test $rc -ne 0
out=$("$B" create --name bad --balloon-target 16m "$root" sleep 1 2>&1); rc=$?
check "create refuses a target below 32 MiB" test $rc -ne 0
has "naming the option" "balloon" <(echo "$out")
out=$("$B" create --name bad --memory 256m --balloon-target 300m "$root" sleep 1 2>&1); rc=$?
check "create refuses a target above the box's memory" test $rc -ne 0
has "naming the range" "32..256" <(echo "$out")
"$B" create --name stopped "$root" sleep 1 >/dev/null 2>&1
out=$("$B" balloon stopped 128m 2>&1); rc=$?
check "a box that does not run has no balloon to set" test $rc -ne 0
has "and says so" "it is" <(echo "$out")
out=$(BOXLITE_TCG_TB_MIB=lots "$B" run --rm "$root" true 2>&1); rc=$?
check "a bad BOXLITE_TCG_TB_MIB is refused" test $rc -ne 0
has "naming it" "BOXLITE_TCG_TB_MIB" <(echo "$out")
"$B" rm -f cap stopped >/dev/null 2>&1
finish
