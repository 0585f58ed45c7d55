#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# attach to a box whose main process runs on a terminal (run -dit), through a real terminal
# (tmux): raw mode, the box's tty and its size following our window, Ctrl-C typed on the
# box's terminal (its shell's job is interrupted, the box runs on), Ctrl-P Ctrl-Q detaching,
# and the main process's status at its end.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
. tests/harness/lib.sh
need "$B (make)" test -x "$B"
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need_cmd docker-registry
need_cmd tmux
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
panes=0
cleanup() {
  for s in "$work"/tmux.*; do tmux -S "$s" kill-server 2>/dev/null; done
  "$B" rm -f tt >/dev/null 2>&1
  tests/fixtures/registry.sh stop "$work/reg" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

python3 tests/fixtures/mkimages.py "$work/fx" busybox >/dev/null
port=$(tests/fixtures/registry.sh start "$work/reg" $$) || { echo "registry failed"; exit 1; }
tests/fixtures/registry.sh push "$work/reg" "$work/fx/busybox" busybox:latest >/dev/null
img=127.0.0.1:$port/busybox:latest

screen() { tmux -S "$sock" capture-pane -p; }
# waits (30 s at most) until the pane shows text matching the regex $1
shows() { for _ in $(seq 300); do screen | grep -qE "$1" && return 0; sleep 0.1; done; return 1; }
# attach in a fresh pane of a window $1x$2; back once attach holds the terminal raw
attach_in_pane() {
  # a server of its own each time: a new one on the socket of one being killed can die with
  # it ("server exited unexpectedly")
  [ -n "${sock:-}" ] && tmux -S "$sock" kill-server 2>/dev/null
  panes=$((panes + 1))
  sock="$work/tmux.$panes"
  tmux -S "$sock" new-session -d -x "$1" -y "$2" "BOXLITE_HOME=$BOXLITE_HOME $B attach tt; echo attach-ended-\$?; sleep 600"
  tmux -S "$sock" set-option -g status off >/dev/null
  local tty; tty=$(tmux -S "$sock" display -p '#{pane_tty}')
  for _ in $(seq 300); do stty -F "$tty" -a 2>/dev/null | grep -q -- '-icanon' && return 0; sleep 0.1; done
  return 1
}
size() { tmux -S "$sock" display -p '#{pane_height} #{pane_width}'; }

"$B" run -dit --name tt "$img" sh >/dev/null
expect "run -dit: the box records its terminal" "true" "$("$B" inspect -f '{{.Tty}}' tt 2>/dev/null || "$B" inspect tt | python3 -c 'import json,sys; d=json.load(sys.stdin); print(str((d[0] if isinstance(d,list) else d)["tty"]).lower())')"
check "attach puts our terminal in raw mode" attach_in_pane 100 30
tmux -S "$sock" send-keys 'tty; stty size' Enter
check "the main process runs on a terminal of the box's devpts" shows '^/dev/pts/[0-9]+'
check "  ...whose size is our window's" shows "^$(size)\$"
tmux -S "$sock" resize-window -x 120 -y 25
for _ in $(seq 50); do [ "$(size)" = "25 120" ] && break; sleep 0.1; done
tmux -S "$sock" send-keys 'stty size' Enter
check "  ...and follows its resize (SIGWINCH)" shows '^25 120$'
tmux -S "$sock" send-keys 'sleep 600' Enter
# the job must run before its Ctrl-C (typed earlier, the shell would just drop the line)
for _ in $(seq 300); do "$B" exec tt sh -c 'ps | grep -q "[s]leep 600"' && break; sleep 0.1; done
tmux -S "$sock" send-keys C-c
tmux -S "$sock" send-keys 'echo after-$?' Enter
check "Ctrl-C is typed on the box's terminal: its job is interrupted (130)" shows '^after-130'
tmux -S "$sock" send-keys C-p C-q
check "Ctrl-P Ctrl-Q detaches: attach ends with 0" shows '^attach-ended-0'
expect "  ...and the box runs on" running "$("$B" inspect -f '{{.State}}' tt)"
check "attach again: raw mode again" attach_in_pane 100 30
tmux -S "$sock" send-keys 'echo back-$((6*7))' Enter
check "  ...the same shell answers" shows '^back-42'
tmux -S "$sock" send-keys 'exit 7' Enter
check "the main process's end ends attach with its status" shows '^attach-ended-7'
expect "  ...the box stopped with it" "stopped 7" "$("$B" inspect -f '{{.State}} {{.ExitCode}}' tt)"
"$B" run -dt --name nt "$img" sh -c 'tty; exit 3' >/dev/null
expect "run -dt without -i: a terminal all the same; wait gives its status" 3 "$("$B" wait nt)"
check "  ...its output (the tty's name) is in the box's log" bash -c "'$B' logs nt | grep -q '^/dev/pts/'"
"$B" rm -f nt >/dev/null
finish
