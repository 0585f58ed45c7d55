#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Memory snapshots (issue 16, src/runtime/pause.c) through the CLI on whichever engine runs
# here, side by side with cold boxes of the same rootfs:
#  - resume to first exec output (`boxlite exec PAUSED echo hello`) vs cold create to first
#    output (`boxlite run --rm ROOTFS echo hello`), and the pause itself; the last resume's
#    steps (vmm.log's "resume:" line, the library's start_ms);
#  - fork of N boxes (BENCH_FORKS, default 10, as the issue asks) vs N cold boxes started at
#    once: wall time until
#    all run, and their memory: the sum of RSS (a shared page counted in every process) and
#    of PSS (a shared page split between the processes that map it) of their VMM and QEMU
#    processes; the host's MemAvailable and MemFree drops; one box's guest RAM mapping.
#    BENCH_WARM_MIB (default 0, at most 63: the container's /dev/shm is 64 MiB): the
#    source, and each cold box once started, first fill that much of their tmpfs (a warm
#    state: an interpreter and its data), so both sides hold the same guest memory.
set -uo pipefail
cd "$(dirname "$0")/.."
. tests/harness/lib.sh # busybox_rootfs, box_ram_kib
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
runs=${BENCH_RUNS:-3}
n=${BENCH_FORKS:-10}
warm=${BENCH_WARM_MIB:-0}
scripts/build-kernel.sh --cached-only >/dev/null 2>&1 || { echo "pause: skipped (no cached kernel)"; exit 0; }
[ -x /bin/busybox ] || { echo "pause: skipped (no /bin/busybox)"; exit 0; }
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
ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
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
avail_kb() { awk '/^MemAvailable:/ {print $2}' /proc/meminfo; }
free_kb() { awk '/^MemFree:/ {print $2}' /proc/meminfo; }
sum_mem() { # BOX...: "rss_mib pss_mib"
  local r=0 s=0 a b
  for x in "$@"; do read -r a b <<<"$(mem_of "$x")"; r=$((r + a)); s=$((s + b)); done
  echo "$((r / 1024)) $((s / 1024))"
}

# ---- resume vs cold start to first output ---------------------------------------------
cold=()
for _ in $(seq "$runs"); do
  t0=$(ms); "$B" run --rm "$root" echo hello 2>/dev/null | head -1 >/dev/null; cold+=($(( $(ms) - t0 )))
done
"$B" run -d --name src "$root" sleep 1000000 >/dev/null 2>&1
"$B" exec src sh -c 'echo warm > /dev/shm/w' >/dev/null
[ "$warm" -gt 0 ] && "$B" exec src dd if=/dev/zero of=/dev/shm/warm bs=1M count="$warm" 2>/dev/null
pause=(); resume=()
for _ in $(seq "$runs"); do
  t0=$(ms); "$B" pause src >/dev/null; pause+=($(( $(ms) - t0 )))
  t0=$(ms); "$B" exec src echo hello | head -1 >/dev/null; resume+=($(( $(ms) - t0 )))
done
state_kb=$(( $(stat -c %s "$BOXLITE_HOME/boxes/$("$B" inspect -f '{{.ID}}' src)/memory" 2>/dev/null || echo 0) / 1024 ))
"$B" pause src >/dev/null
st=$(stat -c %s "$BOXLITE_HOME/boxes/$("$B" inspect -f '{{.ID}}' src)/memory.state")
mc=$(du -k "$BOXLITE_HOME/boxes/$("$B" inspect -f '{{.ID}}' src)/memory" | cut -f1)
c=$(median "${cold[@]}"); r=$(median "${resume[@]}"); p=$(median "${pause[@]}")
echo "figure: cold \`run --rm ROOTFS echo hello\` to first output (engine $engine): median $c ms over $runs runs (${cold[*]})"
echo "figure: resume of a paused box to first output of \`exec BOX echo hello\`: median $r ms over $runs runs (${resume[*]}), $(awk "BEGIN {printf \"%.2f\", $r / $c}")x the cold start"
echo "figure: pause (CLI to the per-box process gone): median $p ms (${pause[*]}); state file $((st / 1024)) KiB, RAM file $mc KiB on disk (guest RAM $((state_kb / 1024)) MiB)"
# the last resume's steps, as its per-box process and the library logged them
d="$BOXLITE_HOME/boxes/$("$B" inspect -f '{{.ID}}' src)"
echo "figure: last resume's steps (ms from the per-box process's spawn): $(grep 'resume: QEMU' "$d/vmm.log" | tail -1 | sed 's/.*resume: //'), $(grep "the agent's HELLO" "$d/vmm.log" | tail -1 | sed 's/.*boxlite-vmm: //'); library: $(sqlite3 "$BOXLITE_HOME/boxlite.db" "select runtime_info from boxes where name = 'src'" 2>/dev/null | python3 -c 'import json,sys; s=json.load(sys.stdin)["start_ms"]; print("its records %.0f, spawn to agent ready %.0f, STATUS %.0f, identity and volumes %.0f, whole start %.0f" % (s.get("claim", 0), s["boot_to_ready"], s.get("status", 0), s["setup"] - s.get("status", 0), s["total"]))' 2>/dev/null)"
"$B" resume src >/dev/null

# ---- fork of N vs N cold boxes ---------------------------------------------------------
names=(); for i in $(seq "$n"); do names+=("f$i"); done
sleep 5 # the source's guest settles (free page reporting runs 2 s after frees)
a0=$(avail_kb); m0=$(free_kb)
t0=$(ms); "$B" fork src "${names[@]}" >/dev/null; tf=$(( $(ms) - t0 ))
sleep 5
read -r frss fpss <<<"$(sum_mem "${names[@]}")"
fa=$(( (a0 - $(avail_kb)) / 1024 )); fm=$(( (m0 - $(free_kb)) / 1024 ))
read -r gr gp gv <<<"$(box_ram_kib "$B" f1)"
"$B" rm -f "${names[@]}" >/dev/null 2>&1
colds=(); for i in $(seq "$n"); do colds+=("c$i"); done
sleep 5
a0=$(avail_kb); m0=$(free_kb)
t0=$(ms)
for x in "${colds[@]}"; do
  { "$B" run -d --name "$x" "$root" sleep 1000000 >/dev/null 2>&1
    [ "$warm" -gt 0 ] && "$B" exec "$x" dd if=/dev/zero of=/dev/shm/warm bs=1M count="$warm" 2>/dev/null; } &
done
wait
tc=$(( $(ms) - t0 ))
sleep 5
read -r crss cpss <<<"$(sum_mem "${colds[@]}")"
ca=$(( (a0 - $(avail_kb)) / 1024 )); cm=$(( (m0 - $(free_kb)) / 1024 ))
read -r cr cp cv <<<"$(box_ram_kib "$B" c1)"
echo "figure: fork of $n boxes (source paused, forked, resumed; all running): $tf ms wall; $n cold boxes started at once: $tc ms wall ($(awk "BEGIN {printf \"%.2f\", $tf / $tc}")x)"
ratio() { awk "BEGIN {printf \"%.2f\", $1 / ($2 ? $2 : 1)}"; }
up=0; for x in "${colds[@]}"; do [ "$("$B" inspect -f '{{.state}}' "$x" 2>/dev/null)" = running ] && up=$((up + 1)); done
echo "figure: memory of the $n forks (warm state $warm MiB each; $up of the $n cold boxes running when measured): RSS sum $frss MiB, PSS sum $fpss MiB; of $n cold boxes: RSS sum $crss MiB, PSS sum $cpss MiB (RSS $(ratio "$frss" "$crss")x, PSS $(ratio "$fpss" "$cpss")x; goal RSS <= 0.3x)"
echo "figure: host memory taken by the $n forks: MemAvailable -$fa MiB, MemFree -$fm MiB; by $n cold boxes: MemAvailable -$ca MiB, MemFree -$cm MiB (MemAvailable $(ratio "$fa" "$ca")x, MemFree $(ratio "$fm" "$cm")x; other processes on the host move these too)"
echo "figure: guest RAM mapping of one fork: RSS $((${gr:-0} / 1024)) MiB, PSS $((${gp:-0} / 1024)) MiB, private $((${gv:-0} / 1024)) MiB; of one cold box: RSS $((${cr:-0} / 1024)) MiB, PSS $((${cp:-0} / 1024)) MiB, private $((${cv:-0} / 1024)) MiB"
