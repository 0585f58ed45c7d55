#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The library's figures through whichever engine runs here (issue 6): create-to-first-output
# of `echo hello` for a cached image (pulled once from a local registry beforehand), and 10
# boxes started concurrently (wall time until all are running). The engine is named.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
runs=${BENCH_RUNS:-5}
scripts/build-kernel.sh --cached-only >/dev/null 2>&1 || { echo "runtime: skipped (no cached kernel)"; exit 0; }
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
port=$(tests/fixtures/registry.sh start "$work/reg" $$) || exit 1
tests/fixtures/registry.sh push "$work/reg" "$work/fx/busybox" busybox:latest
img=127.0.0.1:$port/busybox:latest
engine=$("$build/bin/boxlite-vmm" --check 2>/dev/null | sed -n 's/^selected: //p')
ms() { echo $(( $(date +%s%N) / 1000000 )); }

"$B" run --rm "$img" true >/dev/null 2>&1 # pull and build the base once: the image is cached
times=()
for _ in $(seq "$runs"); do
  t0=$(ms)
  "$B" run --rm "$img" echo hello | head -1 >/dev/null
  # first output reaches us before the box is removed: time that, not the removal
  times+=($(( $(ms) - t0 )))
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
echo "figure: create to end of \`boxlite run --rm IMAGE echo hello\` (cached image, engine $engine): median $median ms over $runs runs ($sorted)"

# First output alone: the time until "hello" is read, the box still being removed after.
t0=$(ms)
{ "$B" run --rm "$img" echo hello & } | { read -r _; echo $(( $(ms) - t0 )) > "$work/first"; cat >/dev/null; }
wait
echo "figure: create to first output of echo hello (cached image, engine $engine): $(cat "$work/first") ms"

# Ten boxes at once.
t0=$(ms)
for i in $(seq 10); do "$B" run -d --name c$i "$img" sleep 86400 >/dev/null 2>"$work/err$i" & done
wait
t1=$(ms)
running=$("$B" ps --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "figure: 10 boxes started concurrently (engine $engine): $((t1 - t0)) ms wall until all ready, $running running"
for i in $(seq 10); do [ -s "$work/err$i" ] && sed "s/^/  box c$i: /" "$work/err$i"; done
