#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The Docker-like verbs through the real CLI on the engine that runs here (QEMU/TCG without
# hardware virtualization), an image from a real local registry. Boots are dear under TCG,
# so one long-lived box serves most checks. Exit statuses 125/126/127 and the command's
# own; output without bars or colour when NO_COLOR is set or not on a terminal.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
. tests/harness/lib.sh
need "$B (make)" test -x "$B"
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need_cmd docker-registry
need_cmd script "apt-get install bsdutils"
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
cleanup() {
  for id in $("$B" ps -a --json 2>/dev/null | python3 -c 'import json,sys; [print(b["id"]) for b in json.load(sys.stdin)]' 2>/dev/null); do
    "$B" rm -f "$id" >/dev/null 2>&1
  done
  tests/fixtures/registry.sh stop "$work/reg" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

python3 tests/fixtures/mkimages.py "$work/fx" busybox >/dev/null
port=$(tests/fixtures/registry.sh start "$work/reg" $$) || { echo "registry failed"; exit 1; }
tests/fixtures/registry.sh push "$work/reg" "$work/fx/busybox" busybox:latest
img=127.0.0.1:$port/busybox:latest

# ---- output conventions: a pull on a terminal draws bars; with NO_COLOR, plain lines -----
NO_COLOR=1 script -qec "$B pull $img" /dev/null >"$work/pull-nocolor" 2>&1
check "pull on a terminal with NO_COLOR: no escape sequences" bash -c "! grep -q $'\e' '$work/pull-nocolor'"
check "pull on a terminal with NO_COLOR: layers reported as lines" grep -q 'done' "$work/pull-nocolor"
script -qec "$B pull $img" /dev/null >"$work/pull-tty" 2>&1
check "pull on a terminal without NO_COLOR redraws its bars" grep -q $'\e\\[' "$work/pull-tty"
"$B" pull "$img" >"$work/pull-pipe" 2>&1
check "pull into a pipe: no escape sequences" bash -c "! grep -q $'\e' '$work/pull-pipe'"

# ---- images -q / --format ---------------------------------------------------------------
iid=$("$B" images --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
expect "images -q prints the short id" "${iid:0:12}" "$("$B" images -q)"
expect "images -q --no-trunc prints the whole id" "$iid" "$("$B" images -q --no-trunc)"
expect "images --format template: repository and tag" "127.0.0.1:$port/busybox latest" "$("$B" images --format '{{.Repository}} {{.Tag}}')"
expect "images --format json: the reference" "$img" "$("$B" images --format json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["Ref"])')"
expect "images: the default table's header" "REFERENCE ID SIZE LAYERS CREATED AT" "$("$B" images | head -1 | xargs)"

# ---- one box for the rest --------------------------------------------------------------
id=$("$B" run -d --name one "$img" sleep 86400)
expect "run -d prints an id" 32 "${#id}"

# ---- exit statuses (Docker's convention) -----------------------------------------------
"$B" exec one sh -c 'exit 3'
expect "exec: the command's own status" 3 $?
"$B" exec one nosuch-program 2>"$work/err"
expect "exec of a program not in the box: 127" 127 $?
has "  ...said on stderr with boxlite: and the reason" "boxlite: exec: exec nosuch-program: No such file or directory" "$work/err"
"$B" exec one /etc/passwd 2>/dev/null
expect "exec of a file that is not executable: 126" 126 $?
"$B" exec -w /nonexistent one ls 2>/dev/null
expect "exec in a working directory that does not exist: 126" 126 $?
"$B" exec -u nobody-here one ls 2>/dev/null
expect "exec as a user the box does not have: 126" 126 $?
"$B" exec no-such-box ls 2>/dev/null
expect "exec in a box that does not exist: 125" 125 $?
"$B" exec --bogus one ls 2>/dev/null
expect "exec with an unknown flag: 125" 125 $?
printf '# a comment\nFROM_FILE=two words\n\nPASSED\n' >"$work/env"
out=$(PASSED=through "$B" run --rm --env-file "$work/env" --hostname made-up -l a=b "$img" sh -c 'echo "$FROM_FILE|$PASSED|$(hostname)"; exit 5' 2>/dev/null); st=$?
expect "run: the command's own status" 5 $st
expect "run --env-file and --hostname reach the box" "two words|through|made-up" "$out"
mkdir -p "$work/rwvol"
out=$("$B" run --rm --read-only -v "$work/rwvol:/vol" "$img" sh -c 'touch /root-file 2>/dev/null && echo root-writable; touch /vol/v && echo vol-ok; touch /dev/shm/s && echo shm-ok; grep -q " / .*ro[,]" /proc/mounts && echo root-ro' 2>/dev/null)
expect "run --read-only: the root refuses writes, a volume and /dev/shm do not" "vol-ok shm-ok root-ro" "$(xargs <<<"$out")"
check "  ...the volume's file reached the host" test -e "$work/rwvol/v"

# ---- exec -d: returns at once, the command goes on without us --------------------------
"$B" exec -d one sh -c 'sleep 1; echo detached-ran > /tmp/detached'
expect "exec -d returns 0 once the command started" 0 $?
for _ in $(seq 100); do [ "$("$B" exec one cat /tmp/detached 2>/dev/null)" = detached-ran ] && break; sleep 0.2; done
expect "exec -d: the command ran on after the CLI returned" "detached-ran" "$("$B" exec one cat /tmp/detached 2>/dev/null)"
"$B" exec -d one no-such-prog 2>/dev/null
expect "exec -d of a program not in the box: 127" 127 $?
"$B" exec -d -t one sh 2>/dev/null
expect "exec -d with -t: 125" 125 $?

# ---- verbs on the running box ----------------------------------------------------------
out=$("$B" top one)
check "top lists the box's processes (the image's ps)" grep -q 'sleep 86400' <<<"$out"
out=$("$B" top one -o pid,args)
check "top passes ps options" grep -qE '^ *PID +COMMAND' <<<"$out"
expect "inspect --format over the record" "running one" "$("$B" inspect --format '{{.State}} {{.Name}}' one)"
expect "inspect -f {{json .Labels}}" '{}' "$("$B" inspect -f '{{json .Labels}}' one)"
"$B" rename one uno
expect "rename: the box answers to its new name" "running" "$("$B" inspect -f '{{.State}}' uno)"
"$B" inspect one >/dev/null 2>&1
expect "rename: the old name is gone" 125 $?
"$B" create --name taken "$img" >/dev/null
"$B" rename uno taken 2>/dev/null
expect "rename to a name in use: 125" 125 $?
"$B" rename uno one
out=$("$B" stats --no-stream one)
check "stats --no-stream: one table with CPU %, memory and net I/O" \
  bash -c "grep -q '^ID .*CPU %.*MEM USAGE / LIMIT.*NET I/O' <<<'$out' && [ \$(wc -l <<<'$out') -eq 2 ] && grep -qE 'one +[0-9.]+%' <<<'$out'"
expect "stats --format template" "one" "$("$B" stats --no-stream --format '{{.Name}}' one)"
"$B" stats --json one | python3 -c 'import json,sys; assert json.load(sys.stdin)["vmm"]["rss_bytes"] > 0' && ok "stats --json: the metrics" || no "stats --json: the metrics"
# logs -t / --since / --until: the per-box process dates each console line in an index
# beside the log (console.log.idx); the log's bytes stay as the guest wrote them (lines end
# with \r\n on the serial console)
"$B" exec -d one sh -c 'echo early-line'
for _ in $(seq 100); do "$B" logs one | grep -q early-line && break; sleep 0.1; done
mid=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
"$B" exec -d one sh -c 'echo late-line'
for _ in $(seq 100); do "$B" logs one | grep -q late-line && break; sleep 0.1; done
check "logs -t: each line starts with its RFC 3339 time" grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z early-line$' <<<"$("$B" logs -t one | tr -d '\r')"
expect "logs --since TIME: only what came after" "late-line" "$("$B" logs --since "$mid" one | tr -d '\r' | grep -E '^(early|late)-line' | xargs)"
expect "logs --until TIME: only what came before" "early-line" "$("$B" logs --until "$mid" one | tr -d '\r' | grep -E '^(early|late)-line' | xargs)"
expect "logs --since 10m: both lines" "early-line late-line" "$("$B" logs --since 10m one | tr -d '\r' | grep -E '^(early|late)-line' | xargs)"
expect "logs --until 1h: nothing is that old" "" "$("$B" logs --until 1h one)"
# -f stops following at --until (Docker's), though the box runs on
timeout 120 "$B" logs -f --until "$mid" one >"$work/follow"; st=$?
out=$(tr -d '\r' <"$work/follow" | grep -E '^(early|late)-line' | xargs)
expect "logs -f --until TIME past: what came before, then it ends (not at the box's stop)" "0 early-line" "$st $out"
soon=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%S.%NZ)
timeout 120 "$B" logs -f --until "$soon" one >/dev/null
expect "logs -f --until TIME to come: follows, and ends once it passed" 0 $?
check "logs -t --tail 1: one line, dated" grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{18}Z ' <<<"$("$B" logs -t --tail 1 one)"
"$B" logs --since yesterday one >/dev/null 2>"$work/err"
expect "logs --since with a time it cannot read: 125" 125 $?
has "  ...naming it" 'since' "$work/err"
check "the console log itself holds no times (the index is beside it)" bash -c "! grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' '$BOXLITE_HOME/boxes/$id/console.log' && test -s '$BOXLITE_HOME/boxes/$id/console.log.idx'"
# stats in a real terminal: redrawn live until Ctrl-C
need_cmd tmux
sock="$work/tmux"
tmux -S "$sock" new-session -d -x 150 -y 20 "BOXLITE_HOME=$BOXLITE_HOME $B stats one; echo stats-ended-\$?; sleep 60"
seen=""
for _ in $(seq 100); do tmux -S "$sock" capture-pane -p | grep -q 'one .*%' && { seen=1; break; }; sleep 0.1; done
check "stats in a terminal draws a live table" test -n "$seen"
tmux -S "$sock" send-keys C-c
ended=""
for _ in $(seq 50); do tmux -S "$sock" capture-pane -p | grep -q 'stats-ended-0' && { ended=1; break; }; sleep 0.1; done
check "Ctrl-C ends the live stats with status 0" test -n "$ended"
tmux -S "$sock" kill-server 2>/dev/null

# ---- restart, port, wait, attach, prune ------------------------------------------------
hp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# the main process ticks until told to end (a file made by exec), then exits 3
job=$("$B" run -d --name job -p "$hp:8080" -p 0:9090/udp "$img" sh -c 'until [ -e /tmp/go ]; do echo tick; sleep 0.2; done; echo job-says-bye; exit 3')
expect "port: every published port" "8080/tcp -> 127.0.0.1:$hp" "$("$B" port job | head -1)"
expect "port GUEST: the host side" "127.0.0.1:$hp" "$("$B" port job 8080)"
check "port of a host port 0: the port chosen" bash -c "'$B' port job 9090/udp | grep -qE '^127.0.0.1:[1-9][0-9]*$'"
"$B" port job 1234 2>/dev/null
expect "port of a port not published: 125" 125 $?
"$B" attach job >"$work/attach" 2>&1 &
apid=$!
for _ in $(seq 300); do grep -q tick "$work/attach" && break; sleep 0.1; done
check "attach follows the main process's output as it comes" grep -q tick "$work/attach"
"$B" exec job touch /tmp/go
wait $apid; st=$?
check "attach shows the output up to the end" grep -q 'job-says-bye' "$work/attach"
expect "attach exits with the main process's status" 3 $st
# attach with input (Docker's -i): the main process's stdin stays open between attaches
"$B" run -d -i --name reader "$img" sh -c 'read a; echo "first:$a"; read b; echo "second:$b"; exit 4' >/dev/null
printf 'one\n' | "$B" attach reader >"$work/att1" 2>&1 &
a1=$!
for _ in $(seq 300); do "$B" logs reader | grep -q '^first:one' && break; sleep 0.1; done
check "attach -i: our input reaches the main process" bash -c "'$B' logs reader | grep -q '^first:one'"
printf 'two\n' | "$B" attach reader >"$work/att2" 2>&1; st2=$?
wait $a1; st1=$?
expect "  ...a second attach reaches the same process (its stdin stayed open); both exit with its status" "4 4" "$st1 $st2"
check "  ...and the first attach saw the second's answer" grep -q '^second:two' "$work/att1"
expect "  ...the box records its stdin as open" "true" "$("$B" inspect -f '{{.StdinOpen}}' reader)"
"$B" rm reader >/dev/null
# kill and attach --sig-proxy: signals reach the main process (its traps answer in the log)
catches_int() { # process $1 has its SIGINT handler in place (bit 2 of SigCgt)
  local m; m=$(awk '/^SigCgt/{print $2}' "/proc/$1/status" 2>/dev/null) && [ -n "$m" ] && (( 0x$m & 2 ))
}
"$B" run -d --name trap "$img" sh -c 'trap "echo got-usr1" USR1; trap "echo got-int; exit 5" INT; echo armed; while :; do sleep 0.1; done' >/dev/null
for _ in $(seq 300); do "$B" logs trap | grep -q '^armed' && break; sleep 0.1; done
out=$("$B" kill -s usr1 trap); st=$?
expect "kill -s usr1: done, the box named" "0 trap" "$st $out"
for _ in $(seq 300); do "$B" logs trap | grep -q '^got-usr1' && break; sleep 0.1; done
check "  ...the main process got SIGUSR1" bash -c "'$B' logs trap | grep -q '^got-usr1'"
"$B" kill -s BOGUS trap 2>"$work/kill.err"
expect "kill -s BOGUS: 125" 125 $?
check "  ...naming the signal" grep -q "BOGUS: not a signal" "$work/kill.err"
"$B" attach --sig-proxy=maybe trap 2>/dev/null
expect "attach --sig-proxy=maybe: 125 (true or false)" 125 $?
"$B" attach --sig-proxy=false trap >"$work/att3" 2>&1 &
a3=$!
for _ in $(seq 300); do catches_int $a3 && break; sleep 0.1; done
kill -INT $a3; wait $a3; st=$?
expect "attach --sig-proxy=false: SIGINT detaches (0), the box runs on" "0 running" "$st $("$B" inspect -f '{{.State}}' trap)"
"$B" attach trap >"$work/att4" 2>&1 &
a4=$!
for _ in $(seq 300); do catches_int $a4 && break; sleep 0.1; done
kill -INT $a4; wait $a4; st=$?
expect "attach (sig-proxy): SIGINT reaches the main process, whose trap exits 5; attach exits with it" 5 $st
check "  ...the trap's line came through attach" grep -q '^got-int' "$work/att4"
"$B" kill trap 2>"$work/kill.err"
expect "kill of a stopped box: 125" 125 $?
check "  ...saying it is not running" grep -q "not running" "$work/kill.err"
"$B" run -d --name victim "$img" sleep 600 >/dev/null
"$B" kill victim >/dev/null
expect "kill (SIGKILL by default): the box stops; wait prints 137" 137 "$("$B" wait victim)"
"$B" rm trap victim >/dev/null
"$B" logs job >"$work/full"
check "the job's log has more than 3 lines" test "$(wc -l <"$work/full")" -gt 3
expect "logs --tail 2: the last two lines of the log" "$(tail -n 2 "$work/full")" "$("$B" logs --tail 2 job)"
expect "logs -n 1" "$(tail -n 1 "$work/full")" "$("$B" logs -n 1 job)"
expect "logs --tail 0: nothing" "" "$("$B" logs --tail 0 job)"
check "the ticks are in the log (the main process's output)" grep -q '^tick' "$work/full"
out=$("$B" wait job); st=$?
expect "wait prints the exit status" 3 "$out"
expect "wait exits with it" 3 $st
"$B" restart job >/dev/null
"$B" exec job touch /tmp/go >/dev/null 2>&1 # /tmp may be fresh after a start
expect "restart starts a stopped box again; wait sees its new end" 3 "$("$B" wait job)"
"$B" restart -t 5 one >/dev/null
expect "restart of a running box: running again" "running" "$("$B" inspect -f '{{.State}}' one)"
expect "  ...and it answers" "hi" "$("$B" exec one echo hi)"
"$B" stop one >/dev/null
expect "wait after a stop on request: 0" 0 "$("$B" wait one)"
"$B" prune </dev/null >/dev/null 2>&1
expect "prune without -f and no yes: nothing removed" 3 "$("$B" ps -aq | wc -l)"
"$B" run -d --name stays "$img" sleep 600 >/dev/null
echo y | "$B" prune >"$work/pruned" 2>/dev/null
expect "prune (answered yes) removes every stopped box and only those" "stays" "$("$B" ps -a --format '{{.Name}}')"
expect "  ...printing their ids" 3 "$(wc -l <"$work/pruned")"
"$B" create --name c1 "$img" >/dev/null
"$B" rm -a >/dev/null
expect "rm -a removes the stopped and created boxes, not a running one" "stays" "$("$B" ps -a --format '{{.Name}}')"
"$B" rm -af >/dev/null
expect "rm -af removes every box" "0" "$("$B" ps -aq | wc -l)"

# ---- --restart on-failure:2: the box's agent runs the main process twice more ------------
# (the library's policy: no process of ours stays behind to do it)
mkdir -p "$work/runs"
rid=$("$B" run -d --name rs --restart on-failure:2 -v "$work/runs:/runs" "$img" sh -c 'echo run >> /runs/count; exit 1')
check "--restart leaves no boxlite process behind" bash -c "! pgrep -f '[b]oxlite .*$rid' >/dev/null && ! pgrep -f '[_]_restarter' >/dev/null"
for _ in $(seq 600); do
  [ "$("$B" inspect -f '{{.State}}' rs)" = stopped ] && break
  sleep 0.2
done
expect "--restart on-failure:2: the main process ran 3 times (2 restarts)" 3 "$(cat "$work/runs/count" 2>/dev/null | wc -l)"
expect "  ...then the box stays stopped with the status, RestartCount 2" "stopped 1 2" "$("$B" inspect -f '{{.State}} {{.ExitCode}} {{.RestartCount}}' rs)"
has "  ...each restart is in the box's log" "restart 2 in 200 ms" "$BOXLITE_HOME/boxes/$rid/vmm.log"
# always: restarted while running; inspect counts as it goes; stop ends it for good
"$B" run -d --name ra --restart always "$img" sh -c 'sleep 0.2; exit 0' >/dev/null
for _ in $(seq 600); do
  [ "$("$B" inspect -f '{{.RestartCount}}' ra 2>/dev/null)" -ge 2 ] 2>/dev/null && break
  sleep 0.2
done
check "--restart always: a status of 0 is restarted too; RestartCount grows while it runs" bash -c "[ \$('$B' inspect -f '{{.RestartCount}}' ra) -ge 2 ] && [ \$('$B' inspect -f '{{.State}}' ra) = running ]"
"$B" stop ra >/dev/null
expect "  ...a stop on request ends it for good" "stopped" "$("$B" inspect -f '{{.State}}' ra)"
"$B" rm ra >/dev/null
"$B" run -d --rm --restart always "$img" true >/dev/null 2>&1
expect "--restart with --rm: 125" 125 $?
"$B" run -d --restart sometimes "$img" true >/dev/null 2>&1
expect "--restart with a policy that does not exist: 125" 125 $?
"$B" rm rs >/dev/null

# ---- a VM that dies: with no daemon, the next command (its runtime open) restarts the box --
mkdir -p "$work/vmd"
"$B" run -d --name vmd --restart on-failure:1 -v "$work/vmd:/runs" "$img" sh -c 'echo run >> /runs/count; exec sleep 600' >/dev/null
"$B" run -d --name novmd "$img" sleep 600 >/dev/null
runs() { cat "$work/vmd/count" 2>/dev/null | wc -l; }
pid_of() { "$B" inspect "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print((d[0] if isinstance(d,list) else d)["pid"])'; }
kill_vm() { # SIGKILL to per-box processes (pids: no boxlite command may run between the
  # kills, its runtime open would restart the box), back once they are gone (or zombies)
  kill -9 "$@"
  for p; do
    for _ in $(seq 100); do grep -qs '^State:.*[ZX]' "/proc/$p/status" || [ ! -e "/proc/$p" ] && break; sleep 0.1; done
  done
}
for _ in $(seq 300); do [ "$(runs)" -ge 1 ] && break; sleep 0.1; done
p1=$(pid_of vmd); p2=$(pid_of novmd)
kill_vm "$p1" "$p2"
"$B" ps -a >/dev/null 2>"$work/vmd.notice"
has "a VM that died: the next command restarts its box (on-failure:1), saying so" "restarted box vmd" "$work/vmd.notice"
for _ in $(seq 300); do [ "$(runs)" -ge 2 ] && break; sleep 0.1; done
expect "  ...its main process runs again; the box runs, RestartCount 1" "2 running 1" "$(runs) $("$B" inspect -f '{{.State}} {{.RestartCount}}' vmd)"
expect "  ...a box without a policy stays stopped" "stopped" "$("$B" inspect -f '{{.State}}' novmd)"
kill_vm "$(pid_of vmd)"
"$B" ps -a >/dev/null 2>"$work/vmd.notice2"
expect "  ...a second death spends on-failure:1: it stays stopped" "stopped 2" "$("$B" inspect -f '{{.State}}' vmd) $(runs)"
"$B" start vmd >/dev/null
expect "  ...a start on request runs it with a count from 0" "running 0" "$("$B" inspect -f '{{.State}} {{.RestartCount}}' vmd)"
"$B" rm -f vmd novmd >/dev/null

# ---- image prune -----------------------------------------------------------------------
"$B" create --name keeper "$img" >/dev/null
tests/fixtures/registry.sh push "$work/reg" "$work/fx/busybox" other:1 >/dev/null
"$B" pull -q "127.0.0.1:$port/other:1" >/dev/null
"$B" image prune -f >"$work/iprune" 2>/dev/null
expect "image prune removes the image no box uses" "removed 127.0.0.1:$port/other:1" "$(cat "$work/iprune")"
expect "image prune keeps the image a box was created from" "$img" "$("$B" images --format '{{.Ref}}')"
"$B" rm keeper >/dev/null

finish
