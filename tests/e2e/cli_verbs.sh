#!/bin/bash
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
"$B" run --rm "$img" sh -c 'exit 5' 2>/dev/null
expect "run: the command's own status" 5 $?

finish
