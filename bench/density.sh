#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Density (issue 21): host memory per idle box, N busybox boxes of 512 MiB each (BENCH_BOXES,
# default 10) on whichever engine runs here (the QEMU engine on these machines), in one run:
#  - before: free page reporting off and QEMU's own TCG translation cache (1 GiB: the
#    library's tcg_tb_mib setting 0), i.e. what a box cost before issue 21;
#  - 21c: reporting on at the kernel's own order (its pageblocks, 4 MiB: the engine's
#    order-5 word overridden by BOXLITE_KERNEL_CMDLINE, whose words come last), 16 MiB cache;
#  - 21d: as after, but with the guest's 256 pairs of BSD ptys back (pty.legacy_count=256 after
#    the engine's pty.legacy_count=0, as BOXLITE_KERNEL_CMDLINE's words come last), i.e.
#    what a box cost before issue 21e;
#  - after: the defaults (reporting on, order 5 = 128 KiB chunks, a 16 MiB translation
#    cache, no legacy ptys), with where each box's PSS goes (guest RAM, TCG's cache, QEMU's
#    heap and other anonymous memory, binary and libraries, the kernel file, the per-box
#    process) and where its guest RAM lies (the kernel image, the rest), then again after
#    `boxlite reclaim` (the guests drop their caches and compact; reporting returns it).
#    BENCH_DENSITY_PHASES (default "before 21c 21d after") picks phases, run in its order;
#    a word try:NAME:VAR=VALUE[,VAR=VALUE...] adds a phase like "after" with those library
#    settings (e.g. try:symbols:BOXLITE_KERNEL=/path/to/unstripped/vmlinux).
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
# where the boxes' PSS goes, MiB per box, by kind of mapping (QEMU's smaps; the box's guest
# RAM is its memory file, or an anonymous mapping of the box's size)
breakdown() {
  local pids="" b id
  for b in "$@"; do
    id=$("$B" inspect -f '{{.ID}}' "$b")
    pids="$pids $(pgrep -f "$BOXLITE_HOME/boxes/$id/" | tr '\n' ' ')"
  done
  for p in $pids; do
    [ -r "/proc/$p/smaps" ] || continue
    # a file mapping's Anonymous pages are its private copies (the relocated data of a
    # position-independent binary or library): counted apart from its shared file pages
    awk -v comm="$(cat "/proc/$p/comm" 2>/dev/null)" '
      function flush() {
        if (!have) return
        if (comm !~ /^qemu/) k = "per-box process (boxlite-vmm)"
        else if (name ~ /\/memory$/ || (name == "" && size >= 64 && perm == "rw-p")) k = "guest RAM"
        else if (name == "" && perm == "rwxp") k = "TCG translation cache"
        else if (name == "[heap]") k = "QEMU heap (main malloc arena)"
        else if (name == "") k = "QEMU other anonymous (thread arenas, stacks, large mallocs)"
        else if (name ~ /^\[/) k = "QEMU stack and vdso"
        else if (name ~ /qemu-system/) k = "QEMU binary"
        else if (name ~ /\.so/) k = "libraries"
        else if (name ~ /vmlinux|bzImage|Image/) k = "guest kernel file"
        else k = "other files"
        if (k == "QEMU binary" || k == "libraries") {
          print k " (relocated data, private)\t" anon
          print k " (file pages, shared)\t" pss - anon
        } else print k "\t" pss
        have = 0 }
      /^[0-9a-f]+-[0-9a-f]+ / { flush(); perm = $2; name = $6; have = 1; anon = 0; next }
      /^Size:/ { size = $2 / 1024 }
      /^Pss:/ { pss = $2 }
      /^Anonymous:/ { anon = $2 }
      END { flush() }' "/proc/$p/smaps"
  done | awk -F'\t' -v n=$# '{ s[$1] += $2; t += $2 } END { for (k in s) printf "%7.1f MiB  %s\n", s[k] / 1024 / n, k
    printf "%7.1f MiB  in all (%d KiB)\n", t / 1024 / n, t / n }' | sort -rn | sed 's/^/    /'
}
# where the boxes' resident guest RAM lies, MiB per box: the guest kernel's image (its
# /proc/iomem "Kernel code" to the end of "Kernel bss": the same ~9 MiB in every box) and the
# rest (struct pages, 64 B per 4 KiB page of the box's RAM, then slab, page tables, caches);
# QEMU's page map of the box's memory file says which guest pages are resident
guest_regions() {
  local b id q img
  for b in "$@"; do
    id=$("$B" inspect -f '{{.ID}}' "$b")
    q=$(pgrep -f "qemu.*$BOXLITE_HOME/boxes/$id/" | head -1)
    img=$("$B" exec "$b" cat /proc/iomem 2>/dev/null | awk -F' : ' '/Kernel code/ { split($1, a, "-"); lo = a[1] }
      /Kernel bss/ { split($1, a, "-"); hi = a[2] } END { print lo, hi }')
    [ -n "$q" ] && python3 - "$q" $img <<'PY'
import struct, sys
pid, lo, hi = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3], 16) + 1
for line in open(f"/proc/{pid}/maps"):
    f = line.split()
    if len(f) >= 6 and f[5].endswith("/memory"):
        start, end = (int(x, 16) for x in f[0].split("-")); off = int(f[2], 16); break
else:
    sys.exit(0)
pm = open(f"/proc/{pid}/pagemap", "rb"); pm.seek(start // 4096 * 8)
data = pm.read((end - start) // 4096 * 8)
image = rest = 0
for i in range(len(data) // 8):
    if struct.unpack_from("<Q", data, i * 8)[0] >> 63:
        gpa = off + i * 4096
        if lo <= gpa < hi: image += 4096
        else: rest += 4096
print(image, rest)
PY
  done | awk -v n=$# '{ i += $1; r += $2 } END {
    printf "%7.1f MiB  the kernel image\n%7.1f MiB  the rest\n", i / 1048576 / n, r / 1048576 / n }' | sed 's/^/    /'
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
phases=${BENCH_DENSITY_PHASES:-before 21c 21d after}
# ---- before ------------------------------------------------------------------------------
phase_before() {
  BOXLITE_TCG_TB_MIB=0 start_boxes b --no-page-reporting || exit 1
  read -r pss rss guest <<<"$(settle_and_measure $(names b))"
  echo "before (reporting off, tb-size QEMU's 1 GiB): host memory per idle box: $pss MiB PSS ($rss MiB RSS), guest RAM resident $guest MiB"
  for b in $(names b); do "$B" rm -f "$b" >/dev/null 2>&1; done
}
# a phase whose boxes get one kernel word after the engine's (BOXLITE_KERNEL_CMDLINE's words
# come last): PHASE PREFIX WORD DESCRIPTION
word_phase() {
  BOXLITE_KERNEL_CMDLINE="${BOXLITE_KERNEL_CMDLINE:+$BOXLITE_KERNEL_CMDLINE }$3" start_boxes "$2" || exit 1
  read -r pss rss guest <<<"$(settle_and_measure $(names "$2"))"
  echo "$1 ($4): host memory per idle box: $pss MiB PSS ($rss MiB RSS), guest RAM resident $guest MiB"
  for b in $(names "$2"); do "$B" rm -f "$b" >/dev/null 2>&1; done
}
# ---- after -------------------------------------------------------------------------------
phase_after() {
  start_boxes a || exit 1
  read -r pss rss guest <<<"$(settle_and_measure $(names a))"
  echo "after (reporting order 5 = 128 KiB chunks, tb-size 16 MiB, no legacy ptys): host memory per idle box: $pss MiB PSS ($rss MiB RSS), guest RAM resident $guest MiB"
  echo "  where it goes (PSS per box):"
  breakdown $(names a)
  echo "  where its guest RAM lies (resident, per box):"
  guest_regions $(names a)
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
}
# ---- try:NAME:VAR=VALUE[,VAR=VALUE...]: the defaults but for the library's settings given
# (BOXLITE_KERNEL, BOXLITE_TCG_TB_MIB, BOXLITE_KERNEL_CMDLINE, BOXLITE_QEMU ...), measured
# and broken down like "after" (without the reclaim), for an A/B in one run: put the try
# before or after "after" in BENCH_DENSITY_PHASES, phases run in its order, and later phases
# measure a little lower (docs/architecture.md, "Density")
phase_try() {
  local name=${1%%:*} kv
  IFS=, read -ra kv <<<"${1#*:}"
  (export "${kv[@]}"; start_boxes t) || exit 1
  read -r pss rss guest <<<"$(settle_and_measure $(names t))"
  echo "try $name (${1#*:}): host memory per idle box: $pss MiB PSS ($rss MiB RSS), guest RAM resident $guest MiB"
  echo "  where it goes (PSS per box):"
  breakdown $(names t)
  for b in $(names t); do "$B" rm -f "$b" >/dev/null 2>&1; done
}
for ph in $phases; do # every word checked before the first phase starts
  case $ph in before | 21c | 21d | after | try:*:*=*) ;;
    *) echo "density: unknown phase $ph (before 21c 21d after try:NAME:VAR=VALUE,...)"; exit 2 ;;
  esac
done
for ph in $phases; do
  case $ph in
    before) phase_before ;;
    # reporting at the kernel's pageblock order
    21c) word_phase 21c c page_reporting.page_reporting_order=10 "reporting order 10 = 4 MiB chunks, tb-size 16 MiB" ;;
    # the guest's legacy ptys back
    21d) word_phase 21d d pty.legacy_count=256 "256 legacy pty pairs, reporting order 5, tb-size 16 MiB" ;;
    after) phase_after ;;
    try:*) phase_try "${ph#try:}" ;;
  esac
done

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
