#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The control protocol between the library and the per-box process (docs/protocol.md,
# "The box socket's control frames"), through the CLI and a real engine (QEMU):
# - a library that connects late (another process, after the box is ready) gets STATUS:
#   inspect shows the host port the engine bound for -p 0:80, metrics the engine's figures;
#   a script gets it too (boxlite-vmm --status);
# - the per-box process killed at each point (before the agent's HELLO, after ready, during
#   a stop) leaves a box that reads as stopped with a reason, and nothing hangs;
# - no ready/stats.json/exit.json polling is left in the library or the VMM (grep).
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
V="$PWD/$build/bin/boxlite-vmm"
. tests/harness/lib.sh

# ---- no polling of the per-box process's files (no VM needed) --------------------------
# The library and the VMM read and write no "ready" or "stats.json" file any more; exit.json
# is read only in the post-mortem helpers (boxfiles.c, fallback.c, boxes.c's inspect), and
# nothing loops on it.
left=$(grep -rnE '"(ready|stats\.json|health\.json)"|/ready"|stats\.json' src --include=*.c --include=*.h | grep -v -e '^src/vmm/config\.[ch]:' -e ready_file -e '^src/common/boxpath\.c:' || true)
[ -z "$left" ] && ok "no ready, stats.json or health.json file in src/" || no "files still used" "$left"
# (src/common/boxpath.c names the box's files; the library reaches exit.json through
# BOX_EXIT_JSON: boxes.c's inspect, boxfiles.c, fallback.c)
readers=$(grep -rlnE 'exit\.json|BOX_EXIT_JSON' src --include=*.c | sort | tr '\n' ' ')
expect "exit.json is touched only by its writers and post-mortem readers" \
  "src/common/boxpath.c src/runtime/boxes.c src/runtime/boxfiles.c src/runtime/fallback.c src/vmm/jail/jail.c src/vmm/jail/seccomp_rules.c src/vmm/main.c " "$readers"
loops=$(cd src && grep -nE 'usleep|nanosleep' runtime/spawn.c runtime/lifecycle.c runtime/metrics.c runtime/exec.c runtime/boxfiles.c runtime/fallback.c vmm/main.c vmm/status_tool.c proto/mux.c proto/client.c || true)
# (boxes.c's one sleep is a retry of a delete on a full disk, not a wait on the process)
[ -z "$loops" ] && ok "no sleeping loop in the library's box start/stop/metrics, the VMM's main or the protocol" || no "sleeps left" "$loops"
grep -q 'poll(p, 5, timeout)' src/vmm/main.c && ! grep -q 'ready && agent_set ? STATS_PERIOD_MS : 10' src/vmm/main.c &&
  ok "boxlite-vmm's main loop waits without a period (timeout -1 but for a stop's grace)" || no "main loop period"

need_cmd qemu-system-x86_64 qemu-system-x86
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "$B (make)" test -x "$B"
need "/bin/busybox (busybox-static)" test -x /bin/busybox
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
cleanup() {
  for id in $("$B" ps -a --json 2>/dev/null | python3 -c 'import json,sys; [print(b["id"]) for b in json.load(sys.stdin)]' 2>/dev/null); do
    "$B" rm -f "$id" >/dev/null 2>&1
  done
  rm -rf "$work"
}
trap cleanup EXIT
root=$work/root
busybox_rootfs "$root"
j() { python3 -c "import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(eval(sys.argv[1]))" "$1"; }
vmm_of() { # the boxlite-vmm process itself: the child of the recorded pid (its jail's supervisor)
  local sup; sup=$("$B" inspect "$1" | j 'd["pid"]'); pgrep -P "$sup" | head -1
}
dir_of() { echo "$BOXLITE_HOME/boxes/$("$B" inspect "$1" | j 'd["id"]')"; }

# ---- a library that connects late -----------------------------------------------------
"$B" run -d --name late -p 0:80 "$root" sleep 1000 >/dev/null 2>"$work/err" || no "run -d" "$(cat "$work/err")"
# inspect is another process: its STATUS comes from the running box's per-box process
hp=$("$B" inspect late | j 'd["ports"][0]["host_port"]')
[ "${hp:-0}" -gt 0 ] 2>/dev/null && ok "late connect: inspect shows the host port bound for 0: $hp" || no "inspect host port" "$("$B" inspect late)"
(exec 3<>/dev/tcp/127.0.0.1/"$hp") 2>/dev/null && ok "and something listens there" || no "nothing on $hp"
sock=$(dir_of late)/box.sock
st=$("$V" --status "$sock" --wait 5000)
echo "$st" | grep -q '"state":"running"' && echo "$st" | grep -q "\"host_ports\":\[$hp\]" &&
  ok "late connect: boxlite-vmm --status: $st" || no "STATUS" "$st"

"$B" stats --json late >"$work/stats" 2>&1
python3 - "$work/stats" <<'PY' && ok "late connect: stats has the engine's figures (STATUS): $(head -c 160 "$work/stats")" || no "stats" "$(cat "$work/stats")"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["vmm"]["engine"] == "qemu" and m["vmm"]["start_to_ready_ms"] > 0, m
assert m["boot"]["state"] == "running", m
PY
"$B" rm -f late >/dev/null

# ---- killed before the agent's HELLO --------------------------------------------------
"$B" create --name early "$root" sleep 1000 >/dev/null 2>"$work/err" || no "create" "$(cat "$work/err")"
d=$(dir_of early)
"$B" start early >"$work/early.out" 2>&1 &
starter=$!
# its socket (inotify), then STATUS without waiting for ready: the VMM is up, the guest not
st=$("$V" --status "$d/box.sock" --wait 30000 --now)
sup=$(pgrep -f "boxlite-vmm --config $d/vmm.json" | head -1)
vmm=$(pgrep -P "${sup:-0}" | head -1)
if echo "$st" | grep -q '"state":"starting"' && [ -n "$vmm" ]; then
  kill -KILL "$vmm"
  wait $starter; rc=$?
  state=$("$B" inspect early | j 'd["state"]'); why=$("$B" inspect early | j 'd.get("stop_reason")')
  [ $rc != 0 ] && [ "$state" = stopped ] && [ -n "$why" ] &&
    ok "killed before HELLO (STATUS said starting): start fails, stopped: $why" || no "killed before HELLO" "rc $rc state $state why $why; sup $sup vmm $vmm: $(ps -o pid,ppid,args -p $sup,$vmm 2>&1); $(cat "$work/early.out")"
else
  no "no VMM in the starting state to kill" "status $st, sup ${sup:-none} vmm ${vmm:-none}"; wait $starter
fi
"$B" rm -f early >/dev/null

# ---- killed after ready ------------------------------------------------------------------
"$B" run -d --name ready "$root" sleep 1000 >/dev/null 2>"$work/err" || no "run -d" "$(cat "$work/err")"
vmm=$(vmm_of ready)
kill -KILL "$vmm"
# the jail's supervisor records the death in exit.json and exits: wait on it (its pidfd)
"$V" --status "$(dir_of ready)/box.sock" --wait 1 --pid "$("$B" inspect ready | j 'd["pid"]')" >/dev/null 2>&1
sup=$("$B" inspect ready | j 'd["pid"]')
[ "$sup" = 0 ] || timeout 30 tail --pid="$sup" -f /dev/null
state=$("$B" inspect ready | j 'd["state"]'); why=$("$B" inspect ready | j 'd.get("stop_reason")')
[ "$state" = stopped ] && echo "$why" | grep -q "signal 9" &&
  ok "killed after ready: stopped: $why" || no "killed after ready" "state $state why $why"
"$B" rm -f ready >/dev/null

# ---- killed during a stop ----------------------------------------------------------------
"$B" run -d --name stopping "$root" sh -c 'trap "" TERM; sleep 1000' >/dev/null 2>"$work/err" || no "run -d" "$(cat "$work/err")"
vmm=$(vmm_of stopping)
d=$(dir_of stopping)
# a client that hears EXIT, then a stop; the VMM is killed while the agent winds down
rm -f "$work/fifo"; mkfifo "$work/fifo"
"$V" --status "$d/box.sock" --wait 10000 --until-exit >"$work/fifo" 2>"$work/watch.err" &
watcher=$!
exec 4<"$work/fifo"; read -r -t 30 first <&4
"$B" stop -t 20 stopping >"$work/stop.out" 2>&1 &
stopper=$!
st=$("$V" --status "$d/box.sock" --wait 10000 --now)
kill -KILL "$vmm"
wait $stopper; rc=$?
read -r -t 30 exitline <&4; exec 4<&-; wait $watcher
state=$("$B" inspect stopping | j 'd["state"]'); why=$("$B" inspect stopping | j 'd.get("stop_reason")')
[ "$state" = stopped ] && [ -n "$why" ] && ok "killed during a stop (STATUS said $(echo "$st" | sed -n 's/.*"state":"\([a-z]*\)".*/\1/p')): stop returns ($rc), stopped: $why" ||
  no "killed during a stop" "rc $rc state $state why $why; $(cat "$work/stop.out")"
[ -z "$exitline" ] && ok "a SIGKILLed process sends no EXIT: its client saw the connection end" || no "EXIT from a killed process?" "$exitline"
"$B" rm -f stopping >/dev/null

finish
