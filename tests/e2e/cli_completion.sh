#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `boxlite completion bash|zsh|fish` loaded in a real interactive shell in a terminal
# (tmux), a Tab pressed, the line read back: verbs, flags, box names and image references
# from the home, and from another home named with --home on the line. No VM: the boxes are
# records, the image comes from a local registry.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
. tests/harness/lib.sh
need "$B (make)" test -x "$B"
need_cmd tmux
need_cmd zsh
need_cmd fish
need_cmd docker-registry
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
cleanup() { for s in bash zsh fish; do tmux -S "$work/tmux-$s" kill-server 2>/dev/null; done; tests/fixtures/registry.sh stop "$work/reg" >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT

python3 tests/fixtures/mkimages.py "$work/fx" busybox >/dev/null
port=$(tests/fixtures/registry.sh start "$work/reg" $$) || { echo "registry failed"; exit 1; }
tests/fixtures/registry.sh push "$work/reg" "$work/fx/busybox" zz-only:latest
"$B" pull -q "127.0.0.1:$port/zz-only:latest" >/dev/null
"$B" create --name alpha-box alpine >/dev/null
BOXLITE_HOME=$work/home2 "$B" create --name beta-box alpine >/dev/null

"$B" completion bash >"$work/c.bash"
"$B" completion zsh >"$work/c.zsh"
"$B" completion fish >"$work/c.fish"
check "completion bash is valid bash" bash -n "$work/c.bash"
check "completion zsh is valid zsh" zsh -n "$work/c.zsh"
check "completion fish is valid fish" fish --no-execute "$work/c.fish"
"$B" completion tcsh >/dev/null 2>&1
expect "completion of an unknown shell: 125" 125 $?
check "fish: every verb and a box-name source" bash -c "grep -q -- '-a restart' '$work/c.fish' && grep -q -- '-l no-trunc' '$work/c.fish' && grep -q 'ps -a --format' '$work/c.fish'"

# type LINE into the shell, press Tab, wait for WANT on the screen
tab() { # NAME LINE WANT
  tmux -S "$sock" send-keys -t t "$2" Tab
  local got=""
  for _ in $(seq 100); do
    tmux -S "$sock" capture-pane -p -t t | grep -qF -- "$3" && { got=1; break; }
    sleep 0.1
  done
  if [ -n "$got" ]; then ok "$1"; else no "$1" "screen: $(tmux -S "$sock" capture-pane -p -t t | grep -v '^$' | tail -3)"; fi
  tmux -S "$sock" send-keys -t t C-u
}

for sh in bash zsh fish; do
  sock=$work/tmux-$sh
  if [ $sh = bash ]; then
    start="env -i HOME=$work TERM=xterm PATH=$(dirname "$B"):/usr/bin:/bin BOXLITE_HOME=$BOXLITE_HOME PS1='$ ' bash --norc --noprofile"
    load="source $work/c.bash"
  elif [ $sh = zsh ]; then
    start="env -i HOME=$work TERM=xterm PATH=$(dirname "$B"):/usr/bin:/bin BOXLITE_HOME=$BOXLITE_HOME zsh -f"
    load="autoload -U compinit && compinit -u && source $work/c.zsh && PS1='$ '"
  else
    # no configuration, no autosuggestions (their grey text would be read as completed)
    start="env -i HOME=$work TERM=xterm PATH=$(dirname "$B"):/usr/bin:/bin BOXLITE_HOME=$BOXLITE_HOME fish --no-config"
    load="set -g fish_autosuggestion_enabled 0; function fish_prompt; echo '\$ '; end; source $work/c.fish; and true"
  fi
  tmux -S "$sock" new-session -d -s t -x 160 -y 30 "$start"
  stv='$?'; [ $sh = fish ] && stv='$status'
  tmux -S "$sock" send-keys -t t "$load" Enter "clear; echo loaded-$stv" Enter
  for _ in $(seq 100); do tmux -S "$sock" capture-pane -p -t t | grep -q '^loaded-0' && break; sleep 0.1; done
  check "$sh: the script loads in an interactive shell" bash -c "tmux -S '$sock' capture-pane -p -t t | grep -q '^loaded-0'"
  tmux -S "$sock" send-keys -t t clear Enter
  tab "$sh: a verb" "boxlite resta" "boxlite restart"
  tab "$sh: a flag of that verb" "boxlite ps --no-tr" "boxlite ps --no-trunc"
  tab "$sh: a box name from the home" "boxlite rm alp" "boxlite rm alpha-box"
  tab "$sh: an image reference from the home" "boxlite run 127.0.0.1:$port/zz" "boxlite run 127.0.0.1:$port/zz-only:latest"
  tab "$sh: a two-word verb" "boxlite image pr" "boxlite image prune"
  tab "$sh: --home is followed" "boxlite --home $work/home2 inspect bet" "inspect beta-box"
  tmux -S "$sock" kill-server 2>/dev/null
done
finish
