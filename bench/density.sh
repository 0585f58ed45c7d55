#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Density (issue 21): host memory per idle box, N busybox boxes of 512 MiB each (BENCH_BOXES,
# default 10) on whichever engine runs here (the QEMU engine on these machines), in one run:
#  - before: free page reporting off and QEMU's own TCG translation cache (1 GiB: the
#    library's tcg_tb_mib setting 0), i.e. what a box cost before issue 21;
#  - after: the defaults (reporting on, a 16 MiB translation cache), then again after
#    `boxlite reclaim` (the guests drop their caches and compact; reporting returns it).
# "Idle" is once every box's guest RAM resident on the host has stopped moving (its own
# figure, read every second, the same for 3 readings). Per box: the sum of PSS (a page
# shared between processes split between them: the QEMU binary, libraries, the kernel
# file) and of RSS over its processes (per-box process and QEMU), and the guest RAM
# resident as the box reports it.
# Then in one 1 GiB box a process allocates 300 MiB and exits: how much goes back to the
# host and how long it takes (its guest_resident_bytes polled every 0.25 s).
set -uo pipefail
cd "$(dirname "$0")/.."
. tests/harness/lib.sh # busybox_rootfs
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
n=${BENCH_BOXES:-10}
scripts/build-kernel.sh --cached-only >/dev/null 2>&1 || { echo "density: skipped (no cached kernel)"; exit 0; }
[ -x /bin/busybox ] || { echo "density: skipped (no /bin/busybox)"; exit 0; }
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
cleanup() {
  for id in $("$B" ps -a -q --no-trunc 2>/dev/null); do "$B" rm -f "$id" >/dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup EXIT
root=$work/root
busybox_rootfs "$root"
engine=$("$build/bin/boxlite-vmm" --check 2>/dev/null | sed -n 's/^selected: //p')

fig() { "$B" stats --json "$1" 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['vmm']['$2'])" 2>/dev/null || echo 0; }
# memory of a box's processes (its per-box process and QEMU): "rss_kb pss_kb"
mem_of() {
  local id rss=0 pss=0 p
  id=$("$B" inspect -f '{{.ID}}' "$1")
  for p in $(pgrep -f "$BOXLITE_HOME/boxes/$id/"); do
    [ -r "/proc/$p/smaps_rollup" ] || continue
    rss=$((rss + $(awk '/^Rss:/ {print $2}' "/proc/$p/smaps_rollup")))
    pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup")))
  done
  echo "$rss $pss"
}
# waits until the boxes' guest RAM resident (summed) is the same for 3 readings a second
# apart (at most 120 s), then prints "pss_mib rss_mib guest_mib" per box
settle_and_measure() {
  local prev=-1 same=0 t
  for t in $(seq 120); do
    local sum=0
    for b in "$@"; do sum=$((sum + $(fig "$b" guest_resident_bytes) / 1048576)); done
    if [ $((sum - prev)) -ge -1 ] && [ $((sum - prev)) -le 1 ]; then same=$((same + 1)); else same=0; fi
    prev=$sum
    [ $same -ge 2 ] && break
    sleep 1
  done
  local r=0 s=0 g=0 a c
  for b in "$@"; do
    read -r a c <<<"$(mem_of "$b")"
    r=$((r + a)); s=$((s + c))
    g=$((g + $(fig "$b" guest_resident_bytes)))
  done
  echo "$((s / 1024 / $#)) $((r / 1024 / $#)) $((g / 1048576 / $#))"
}
start_boxes() { # PREFIX EXTRA-FLAGS...
  local p=$1 i
  shift
  for i in $(seq "$n"); do
    "$B" run -d --name "$p$i" --memory 512m "$@" "$root" sleep 1000000 >/dev/null 2>"$work/err" ||
      { echo "density: box $p$i did not start: $(head -c 300 "$work/err")"; return 1; }
  done
}
names() { local i; for i in $(seq "$n"); do echo "$1$i"; done; }

echo "engine: $engine"
echo "boxes: $n busybox boxes, 512 MiB each, idle (sleep)"
# ---- before ------------------------------------------------------------------------------
BOXLITE_TCG_TB_MIB=0 start_boxes b --no-page-reporting || exit 1
read -r pss rss guest <<<"$(settle_and_measure $(names b))"
echo "before (reporting off, tb-size QEMU's 1 GiB): host memory per idle box: $pss MiB PSS ($rss MiB RSS), guest RAM resident $guest MiB"
for b in $(names b); do "$B" rm -f "$b" >/dev/null 2>&1; done
# ---- after -------------------------------------------------------------------------------
start_boxes a || exit 1
read -r pss rss guest <<<"$(settle_and_measure $(names a))"
echo "after (reporting on, tb-size 16 MiB): host memory per idle box: $pss MiB PSS ($rss MiB RSS), guest RAM resident $guest MiB"
"$B" reclaim >/dev/null 2>&1
read -r pss2 rss2 guest2 <<<"$(settle_and_measure $(names a))"
echo "after + boxlite reclaim: host memory per idle box: $pss2 MiB PSS ($rss2 MiB RSS), guest RAM resident $guest2 MiB"
best=$(( pss2 < pss ? pss2 : pss ))
if [ "$best" -le 40 ]; then
  echo "goal (<= 40 MiB per idle box on the QEMU engine): met ($best MiB PSS)"
else
  echo "goal (<= 40 MiB per idle box on the QEMU engine): not met ($best MiB PSS)"
fi
for b in $(names a); do "$B" rm -f "$b" >/dev/null 2>&1; done

# ---- a guest frees 300 MiB -------------------------------------------------------------
"$B" run -d --name big --memory 1g "$root" sleep 1000000 >/dev/null 2>&1 || { echo "density: the 1 GiB box did not start"; exit 1; }
# a process allocates 300 MiB (dd's buffer, filled) and holds it until a FIFO is written
"$B" exec big mkfifo /tmp/gate
idle=$(fig big guest_resident_bytes)
"$B" exec -d big sh -c 'dd if=/dev/zero bs=300M count=1 2>/dev/null | { cat /tmp/gate >/dev/null; cat >/dev/null; }' >/dev/null
for _ in $(seq 240); do [ "$(fig big guest_resident_bytes)" -ge $((idle + 250 * 1048576)) ] && break; sleep 0.5; done
peak=$(fig big guest_resident_bytes)
t0=$(date +%s%N)
"$B" exec big sh -c 'echo go > /tmp/gate'
v=$peak
while [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 60000 ]; do
  v=$(fig big guest_resident_bytes)
  [ "$v" -le $((peak - 250 * 1048576)) ] && break
  sleep 0.25
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "300 MiB freed in a guest: $(( (peak - v) / 1048576 )) MiB returned to the host in $ms ms (guest RAM resident $((peak / 1048576)) -> $((v / 1048576)) MiB)"
echo "memory returned (the box's count): $(( $(fig big mem_returned_bytes) / 1048576 )) MiB"
