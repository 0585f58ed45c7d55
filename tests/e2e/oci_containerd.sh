#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# boxlite-runtime under containerd: a containerd of the test's own (root, state, sockets
# and config in a temp folder, the CRI plugin off), its runc shim (io.containerd.runc.v2)
# told to run boxlite-runtime instead of runc (ctr's --runc-binary: the shim's BinaryName)
# with its state under the test (--runc-root): ctr run --rm (output, exit codes 42 / 137,
# a missing program), stdin, -t through a real pty, and a long-running task: task exec
# (output, exit status), task ps, task kill (SIGTERM, 143), then nothing left.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
. tests/harness/oci.sh
oci_begin ctd
need_cmd containerd
need_cmd ctr containerd
need_cmd docker-registry
ns=boxlite-e2e
oci_cleanup_more() {
  [ -n "${evpid:-}" ] && kill "$evpid" 2>/dev/null
  if [ -n "${cpid:-}" ]; then
    for t in $($CTR task ls -q 2>/dev/null); do $CTR task kill -s KILL "$t" >/dev/null 2>&1; $CTR task rm -f "$t" >/dev/null 2>&1; done
    for c in $($CTR c ls -q 2>/dev/null); do $CTR c rm "$c" >/dev/null 2>&1; done
    oci_containerd_stop
  fi
}
net0=$(host_net_state)

oci_image

oci_containerd 'disabled_plugins = ["io.containerd.grpc.v1.cri"]' ""
ok "containerd started (its own root, state and socket)"
CTR="ctr -a $work/containerd.sock -n $ns"
$CTR image pull --plain-http "$img" >/dev/null 2>"$work/pull.err" || no "ctr image pull from the local registry" "$(cat "$work/pull.err")"
RUN="$CTR run --runtime io.containerd.runc.v2 --runc-binary $R --runc-root $work/runc --snapshotter native --fifo-dir $work/fifo"
boxes() { oci_boxes "$work/runc/$ns/home"; }

expect "ctr run --rm IMG echo hi" "hi" "$($RUN --rm "$img" t1 echo hi 2>"$work/e")"
[ -s "$work/e" ] && cat "$work/e"
$RUN --rm "$img" t2 sh -c 'exit 42' 2>/dev/null; expect "ctr run: exit status 42" 42 "$?"
$RUN --rm "$img" t3 sh -c 'kill -9 $$' 2>/dev/null; expect "ctr run: killed by SIGKILL, 137" 137 "$?"
$RUN --rm "$img" t4 nosuchprog 2>"$work/e"; rc=$?
check "ctr run: a missing program fails" test "$rc" -ne 0
has "  ...with runc's text" 'exec: "nosuchprog": executable file not found in $PATH' "$work/e"
$CTR c rm t4 >/dev/null 2>&1
expect "ctr run: stdin reaches the process" "got piped" "$(echo piped | $RUN --rm "$img" t5 sh -c 'read x; echo got $x' 2>/dev/null)"

tests/fixtures/pty_run.py $RUN --rm -t "$img" t6 sh -c 'tty; stty size; exit 7' >"$work/tty.log" 2>&1 &&
  ok "ctr run -t: a terminal of the given size, exit status" || no "ctr run -t: a terminal of the given size, exit status" "$(tail -c 600 "$work/tty.log")"

# A long-running task, its start seen in containerd's event stream (not guessed by time).
mkfifo "$work/events"
$CTR events >"$work/events" 2>/dev/null &
evpid=$!
exec 4<"$work/events"
$RUN "$img" t7 sleep 1000 >/dev/null 2>&1 &
runpid=$!
timeout 180 grep -m1 -q "/tasks/start" <&4; expect "ctr run: the task started" 0 "$?"
expect "ctr task exec: output" "in-exec" "$($CTR task exec --fifo-dir "$work/fifo" --exec-id x1 t7 sh -c 'echo in-exec' 2>/dev/null)"
$CTR task exec --fifo-dir "$work/fifo" --exec-id x2 t7 sh -c 'exit 5' 2>/dev/null; expect "ctr task exec: exit status" 5 "$?"
relay=$($CTR task ls 2>/dev/null | awk '$1 == "t7" {print $2}')
$CTR task ps t7 >"$work/ps" 2>&1
has "ctr task ps: the task's process (the runtime's ps)" "$relay" "$work/ps"
$CTR task kill -s TERM t7; expect "ctr task kill -s TERM" 0 "$?"
wait "$runpid"; expect "  ...the task ends by SIGTERM (143)" 143 "$?"
$CTR c rm t7 >/dev/null 2>&1; expect "ctr container rm" 0 "$?"
expect "nothing left of the containers" "" "$($CTR c ls -q)"
expect "  ...nor of the boxes" 0 "$(boxes)"
expect "  ...nor of the runtime's state" "home" "$(ls "$work/runc/$ns" 2>&1)"
expect "the host's own network is as it was (IPv6 switches, loopback addresses, default routes)" "$net0" "$(host_net_state)"
finish
