#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Truthful box state through the CLI and a real engine: a main process's exit (run -d CMD,
# --entrypoint, an image's Cmd) stops the box with its status as the reason in ps and
# inspect, and an exec on it says why; the image's HEALTHCHECK reports unhealthy then
# healthy; the console log rotates at its cap and `logs -f` follows it across rotations
# without a gap; `logs` on a real terminal shows the guest's escape sequences instead of
# obeying them (--raw keeps them); bad numbers, names and volumes are refused at create; a
# home left open to others is narrowed with a notice. Faults (kills, disk full, panic,
# reboot, OOM) are in faults.sh.
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
  for id in $("$B" ps -a --json 2>/dev/null | python3 -c 'import json,sys; [print(b["id"]) for b in json.load(sys.stdin)]' 2>/dev/null); do
    "$B" rm -f "$id" >/dev/null 2>&1
  done
  rm -rf "$work"
}
trap cleanup EXIT

root=$work/root
busybox_rootfs "$root"
python3 tests/fixtures/mkimages.py "$work/fx" busybox-health >/dev/null
info() { "$B" inspect "$1" 2>/dev/null | python3 -c "import json,sys; v=json.load(sys.stdin)[0].get('$2'); print('' if v is None else v)"; }
# waits (on the box's own state, polled) until inspect's field says what is wanted
wait_field() { for _ in $(seq 600); do [ "$(info "$1" "$2")" = "$3" ] && return 0; sleep 0.1; done; return 1; }

# ---- input refused at create, with the reason (no VM) --------------------------------
bad() { # NAME ARGS...: create fails with status 125 and a message
  local name=$1; shift
  if out=$("$B" create "$@" 2>&1 >/dev/null); then no "$name" "accepted"; else
    [ -n "$out" ] && ok "$name" || no "$name" "no message"; fi
}
bad "--cpus 4294967297 is refused, not 1 CPU" --cpus 4294967297 "$root"
bad "--memory 4294967808 is refused, not 512 MiB" --memory 4294967808 "$root"
bad "--memory 18014398509481985g is refused" --memory 18014398509481985g "$root"
bad "-p 99999999999:80 is refused" -p 99999999999:80 "$root"
bad "--log-opt max-size=1 is refused" --log-opt max-size=1 "$root"
bad "--health-interval 5x is refused" --health-interval 5x "$root"
bad "a name outside [a-zA-Z0-9][a-zA-Z0-9_.-]* is refused" --name '-x' "$root"
echo data >"$work/afile"
out=$("$B" create -v "$work/afile:/data" "$root" 2>&1)
has "a file as a volume is refused at create with the real reason" "is not a directory" <(echo "$out")
envs=(); for i in $(seq 10000); do envs+=(-e "VARIABLE_$i=value"); done
out=$("$B" create "${envs[@]}" "$root" 2>&1)
has "10,000 -e values are refused at create" "at most 32768 fit" <(echo "$out")
id=$("$B" create --name first "$root")
out=$("$B" create --name "$id" "$root" 2>&1)
has "a name equal to another box's id is refused" "another box's id" <(echo "$out")
out=$("$B" create --name "${id:0:10}" "$root" 2>&1)
has "a name that is a prefix of another box's id is refused" "another box's id" <(echo "$out")
"$B" rm first >/dev/null

# ---- files: the home and its database are the user's alone ---------------------------
expect "the home is 0700" "700" "$(stat -c %a "$BOXLITE_HOME")"
expect "the database is 0600" "600" "$(stat -c %a "$BOXLITE_HOME/boxlite.db")"
chmod 0755 "$BOXLITE_HOME"; chmod 0644 "$BOXLITE_HOME/boxlite.db"
"$B" ps >/dev/null 2>"$work/notice"
has "a widened home is narrowed with a one-line notice" "(0755): now 0700" "$work/notice"
expect "and is 0700 again" "700" "$(stat -c %a "$BOXLITE_HOME")"
expect "the database is 0600 again" "600" "$(stat -c %a "$BOXLITE_HOME/boxlite.db")"
"$B" ps >/dev/null 2>"$work/notice2"
expect "the notice is said once" "" "$(cat "$work/notice2")"

# ---- the main process: its exit is the box's stop reason -----------------------------
"$B" run -d --name m3 "$root" sh -c 'echo from-main; exit 3' >/dev/null 2>"$work/err" || cat "$work/err"
wait_field m3 state stopped && ok "the box stops when its main process exits" || no "the box stops when its main process exits"
expect "inspect: the stop reason" "main process exited with status 3" "$(info m3 stop_reason)"
expect "inspect: the exit code" "3" "$(info m3 exit_code)"
"$B" ps -a | grep m3 >"$work/ps"
has "ps says why it stopped" "stopped (main process exited with status 3)" "$work/ps"
out=$("$B" exec m3 echo hi 2>&1); rc=$?
expect "exec on it fails (125)" "125" "$rc"
has "and says why" "has stopped: main process exited with status 3" <(echo "$out")
"$B" logs m3 | grep -q from-main && ok "the main process's output is the box's log" || no "the main process's output is the box's log"
"$B" run -d --name ep --entrypoint /bin/sh "$root" -c 'exit 4' >/dev/null 2>&1
wait_field ep exit_code 4 && ok "--entrypoint replaces the command's program" || no "--entrypoint replaces the command's program" "$(info ep stop_reason)"
expect "run without -d still runs its command attached" "attached 5" "$("$B" run --rm "$root" sh -c 'echo attached 5')"

# ---- the image's Cmd and HEALTHCHECK --------------------------------------------------
img=oci:$work/fx/busybox-health
"$B" run -d --name web "$img" >/dev/null 2>"$work/err" || cat "$work/err"
wait_field web state running && ok "run -d IMAGE runs the image's Cmd (it lasts)" || no "run -d IMAGE runs the image's Cmd" "$(info web stop_reason)"
"$B" logs web | grep -q "serving from the image command" && ok "the image's Cmd is the main process" || no "the image's Cmd is the main process"
health() { "$B" inspect web | python3 -c 'import json,sys; print((json.load(sys.stdin)[0].get("health") or {}).get("status"))'; }
for _ in $(seq 600); do [ "$(health)" = unhealthy ] && break; sleep 0.1; done
expect "the image's HEALTHCHECK failing: unhealthy" "unhealthy" "$(health)"
"$B" ps | grep -q "running (unhealthy)" && ok "ps shows unhealthy" || no "ps shows unhealthy" "$("$B" ps)"
"$B" exec web touch /tmp/healthy
for _ in $(seq 600); do [ "$(health)" = healthy ] && break; sleep 0.1; done
expect "then passing: healthy" "healthy" "$(health)"
"$B" rm -f web >/dev/null

# ---- logs: rotation at the cap, -f across rotations, escapes on a terminal ----------
# The main process waits for /tmp/go, then writes 4000 numbered lines (about 200 KiB),
# an escape sequence and exits: with 16 KiB files, about a dozen rotations.
"$B" run -d --name flood --log-opt max-size=16k --log-opt max-file=2 "$root" sh -c \
  'while [ ! -e /tmp/go ]; do sleep 0.1; done; i=0; while [ $i -lt 4000 ]; do i=$((i+1)); echo "line $i ................................"; done; printf "title:\033]0;pwned\007:end\n"' >/dev/null
"$B" logs -f flood >"$work/follow" 2>&1 &
follower=$!
for _ in $(seq 300); do grep -q "main process sh started" "$work/follow" && break; sleep 0.1; done
"$B" exec flood touch /tmp/go
wait $follower
expect "logs -f ends when the box stops" "0" "$?"
python3 - "$work/follow" <<'PY' && ok "logs -f saw every line, in order, across the rotations" || no "logs -f saw every line, in order, across the rotations"
import re, sys
nums = [int(m.group(1)) for m in re.finditer(rb"^line (\d+) ", open(sys.argv[1], "rb").read(), re.M)]
sys.exit(0 if nums == list(range(1, 4001)) else (print(len(nums), nums[:3], nums[-3:]) or 1))
PY
dir=$BOXLITE_HOME/boxes/$("$B" inspect flood | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
big=$(find "$dir" -name 'console.log*' -size +16k | wc -l)
files=$(ls "$dir" | grep -cE '^console\.log(\.[0-9]+)?$')
expect "no console file above the 16 KiB cap" "0" "$big"
expect "two console files kept" "2" "$files"
# each kept file has its time index beside it, rotated with it by the jailed pump
expect "  ...each with its time index (console.log.idx, console.log.1.idx)" "2" "$(ls "$dir" | grep -cE '^console\.log(\.1)?\.idx$')"
undated=$("$B" logs -t flood | grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{18}Z ')
expect "  ...logs -t dates every retained line, across the rotation" "0" "$undated"
grep -q "title:$(printf '\033')]0;pwned" "$work/follow" && ok "logs to a pipe passes bytes as they are" || no "logs to a pipe passes bytes as they are"
python3 - "$B" <<'PY' && ok "logs on a terminal shows escape sequences, --raw passes them" || no "logs on a terminal shows escape sequences, --raw passes them"
import os, pty, sys
def on_tty(args):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.argv[1], [sys.argv[1], "logs", *args, "flood"])
    out = b""
    while True:
        try:
            b = os.read(fd, 65536)
        except OSError:
            break
        if not b:
            break
        out += b
    os.waitpid(pid, 0)
    return out
shown, raw = on_tty([]), on_tty(["--raw"])
ok = b"title:^[]0;pwned^G:end" in shown and b"\x1b]0;pwned" not in shown and b"\x1b]0;pwned\x07" in raw
if not ok:
    sys.stderr.write("shown %r\nraw %r\n" % (shown[-200:], raw[-200:]))
sys.exit(0 if ok else 1)
PY
finish
