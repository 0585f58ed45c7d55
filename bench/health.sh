#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Issue 14's figures through whichever engine runs here:
# - the cost of a health check: two boxes side by side for BENCH_HEALTH_SECONDS (default
#   60), one checked every second, one not; the CPU their per-box process and engine (QEMU)
#   spend, the difference per check, and what that makes per box per hour at Docker's
#   default interval (30 s);
# - log rotation against a flooding guest: a main process that prints as fast as it can
#   for BENCH_FLOOD_SECONDS (default 20) with the default rotation (1 MiB, 2 files): bytes
#   the guest wrote, bytes left on disk.
set -uo pipefail
cd "$(dirname "$0")/.."
. tests/harness/lib.sh # busybox_rootfs
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
secs=${BENCH_HEALTH_SECONDS:-60}
flood=${BENCH_FLOOD_SECONDS:-20}
scripts/build-kernel.sh --cached-only >/dev/null 2>&1 || { echo "health: skipped (no cached kernel)"; exit 0; }
[ -x /bin/busybox ] || { echo "health: skipped (no /bin/busybox)"; exit 0; }
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
engine=$("$build/bin/boxlite-vmm" --check 2>/dev/null | sed -n 's/^selected: //p')

id_of() { "$B" inspect "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])'; }
# CPU ticks (user + system) of the per-box process and of QEMU, for a box
ticks() {
  local id total=0 p
  id=$(id_of "$1")
  for p in $(pgrep -f "boxes/$id/"); do
    total=$((total + $(awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null || echo 0)))
  done
  echo $total
}
checks() { "$B" inspect "$1" | python3 -c 'import json,sys; print((json.load(sys.stdin)[0].get("health") or {}).get("checks", 0))'; }
hz=$(getconf CLK_TCK)

"$B" run -d --name plain "$root" >/dev/null 2>&1
"$B" run -d --name checked --health-cmd 'true' --health-interval 1s "$root" >/dev/null 2>&1
p0=$(ticks plain) c0=$(ticks checked) n0=$(checks checked)
sleep "$secs" # the measured window itself
p1=$(ticks plain) c1=$(ticks checked) n1=$(checks checked)
python3 - "$p0" "$p1" "$c0" "$c1" "$n0" "$n1" "$hz" "$secs" "$engine" <<'PY'
import sys
p0, p1, c0, c1, n0, n1, hz, secs = map(float, sys.argv[1:9])
engine = sys.argv[9]
plain, checked, n = (p1 - p0) / hz, (c1 - c0) / hz, n1 - n0
per = max(checked - plain, 0) / n if n else float("nan")
print("figure: idle box (engine %s): %.1f CPU s per hour (per-box process + engine)" % (engine, plain / secs * 3600))
print("figure: health check every 1 s: %d checks in %d s, %.1f CPU ms per check above the idle box" % (n, secs, per * 1000))
print("figure: health check at the default 30 s interval: %.1f CPU s per box per hour" % (per * 120))
PY
"$B" rm -f plain checked >/dev/null

"$B" run -d --name flood "$root" sh -c 'i=0; while :; do i=$((i+1)); echo "flood line $i ...................................................."; done' >/dev/null 2>&1
dir=$BOXLITE_HOME/boxes/$(id_of flood)
sleep "$flood" # the measured window itself
last=$("$B" logs flood | tail -c 4096 | grep -o 'flood line [0-9]*' | tail -1 | awk '{print $3}')
ondisk=$(cat "$dir"/console.log* | wc -c)
"$B" rm -f flood >/dev/null
python3 - "${last:-0}" "$ondisk" "$flood" <<'PY'
import sys
lines, disk, secs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
wrote = lines * len("flood line %d ....................................................\n" % lines)
print("figure: flooding guest console: about %.1f MiB written in %d s (%.0f KiB/s)" % (wrote / 2**20, secs, wrote / 1024 / secs))
print("figure: console logs kept on disk: %d bytes (cap 2 x 1 MiB = 2097152 bytes)" % disk)
PY
