#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Density on the KVM engine (issue 21), run inside one lab L1 (lab-check.sh --density) or
# directly on a host with hardware virtualization. Needs a guest kernel with virtio-balloon
# and free page reporting. Host memory is what L1 sees of each boxlite-vmm: VmRSS (guest RAM
# resident, the VMM's own memory, and the kernel file's page-cache pages it maps) and Pss
# (shared pages divided among the boxes that map them).
#   1. reclaim: a guest allocates and frees 300 MiB (busybox dd with a 300 MiB buffer); with
#      free page reporting the box's RSS falls back by at least 250 MiB, and how long that
#      takes after the guest freed it is the figure; without reporting (the "before") it
#      stays up.
#   2. target: a box with "balloon": {"target_mib": 128}: the guest's MemTotal falls under
#      the target, 300 MiB cannot be allocated in it, and the box's RSS stays under the
#      target plus 64 MiB while the guest tries.
#   3. idle boxes: $LAB_DENSITY_BOXES (10) boxes of 512 MiB started together, each ready
#      and idle, their memory settled (no fall of more than 1 MiB over 5 s): RSS and Pss per
#      box, with reporting ("after") and, with LAB_DENSITY_BEFORE=1, without ("before").
# env: LAB_VMM LAB_VMLINUX LAB_INITRD LAB_CLIENT LAB_ROOTFS LAB_L2_CMDLINE (as suite.sh);
#      LAB_DENSITY_SECTIONS ("reclaim target idle"), LAB_DENSITY_PREP (a command run in each
#      idle box once it is ready: guest tuning to try), LAB_DENSITY_TRY (kernel command-line
#      words; several sets separated by "|", one phase each; host-thp=never in a set sets
#      this host's transparent huge pages for that phase, env:VAR=VALUE puts VAR in that
#      phase's VMM environment) and LAB_DENSITY_TRY_ENV
#      (VAR=VALUE words for the VMM's environment): the idle boxes again with them, in the
#      same run, to compare; LAB_DENSITY_PAGES=1: which kernel pages the first idle box
#      copied, and the first box's own view of its memory (meminfo, buddyinfo, per-CPU lists);
#      LAB_DENSITY_ENGINE (kvm): "qemu" runs the boxes on the QEMU engine, QEMU with -accel
#      kvm (the idle section is what it is for: the goals of reclaim and target are the KVM
#      engine's); its breakdown counts QEMU's own memory apart from the per-box process's,
#      and the largest anonymous mappings of the first box's QEMU are listed (what they are:
#      malloc arenas, thread stacks, the kernel's and initrd's ROM copies). Its guest RAM is
#      a file in the box's folder as the library gives it, or with LAB_DENSITY_QEMU_RAM=
#      anonymous QEMU's own anonymous memory (what a box gets without room for its file)
# Prints "ok: "/"FAIL: " lines, "figure: " lines, then "density: N passed, N failed".
pass=0
fail=0
ok() { echo "ok: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }
work=$(mktemp -d /tmp/density.XXXXXX)
boxes=${LAB_DENSITY_BOXES:-10}
engine=${LAB_DENSITY_ENGINE:-kvm}
case $engine in
  kvm) label="KVM engine" goal=25 ;;
  qemu) label="QEMU engine" goal=40 ;; # issue 21's goal for it; its -accel is a figure
  *) echo "density: LAB_DENSITY_ENGINE must be kvm or qemu, not $engine"; exit 2 ;;
esac

now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
. "$(dirname "$0")/procmem.sh" # field, descendants, kib, settle
rss() { kib "$1" VmRSS; }
pss() { kib "$1" Pss; }

# Where a box's memory lies, one "CATEGORY RSS PSS" line (KiB) per category, from the
# smaps of the VMM and the processes below it. Guest RAM is the anonymous mappings marked
# MADV_DONTFORK ("dc"), ours and QEMU's alike; the kernel and initrd files mapped into it
# (MAP_PRIVATE) are counted apart, with the pages the guest wrote there (copied on write:
# "Anonymous") apart from the file's own page-cache pages, which every box shares. The QEMU
# engine's QEMU (below it) reads the kernel and initrd into its own memory instead: its
# categories are "qemu-*", the per-box process's "vmm-*"; its guest RAM is a shared file
# (guest-ram-file) or, without one, anonymous. guest-ram-in-thp is the part of guest RAM
# the host backs with transparent huge pages (AnonHugePages, ShmemPmdMapped, FilePmdMapped).
breakdown() {
  for b_p in $1 $(descendants "$1"); do
    b_who=vmm
    case $(readlink "/proc/$b_p/exe" 2>/dev/null) in */qemu-system-*) b_who=qemu ;; esac
    awk -v k="${LAB_VMLINUX##*/}" -v i="${LAB_INITRD##*/}" -v who="$b_who" '
    function flush() {
      if (cat == "") return
      if (cat == "anonymous" && vmflags ~ / dc/) cat = "guest-ram-anonymous"
      else if (cat !~ /^(kernel|initrd|libraries|guest-ram-file)$/) cat = who "-" cat
      if (cat ~ /^guest-ram-(anonymous|file)$/) {
        # guest RAM the host may back with transparent huge pages (no MADV_NOHUGEPAGE)
        if (cat == "guest-ram-anonymous" && vmflags !~ / nh/) { R["guest-ram-thp-allowed"] += rss; P["guest-ram-thp-allowed"] += pss }
        R["guest-ram-in-thp"] += huge; P["guest-ram-in-thp"] += huge
      }
      if (cat == "kernel" || cat == "initrd") {
        R[cat "-copied"] += an; P[cat "-copied"] += an
        R[cat "-file"] += rss - an; P[cat "-file"] += pss - an
      } else { R[cat] += rss; P[cat] += pss }
      cat = ""
    }
    /^[0-9a-f]+-[0-9a-f]+ / {
      flush()
      path = $6; base = path; sub(/.*\//, "", base)
      if (path == "") cat = "anonymous"
      else if (base == k) cat = "kernel"
      else if (base == i) cat = "initrd"
      else if (base == "boxlite-vmm" || base ~ /^qemu-system-/) cat = "binary"
      else if (base == "memory") cat = "guest-ram-file"
      else if (path == "[heap]") cat = "heap"
      else if (path ~ /^\[stack/) cat = "stack"
      else if (path ~ /^\//) cat = "libraries"
      else cat = "other"
      rss = pss = an = huge = 0; vmflags = ""
      next
    }
    /^Rss:/ { rss = $2 } /^Pss:/ { pss = $2 } /^Anonymous:/ { an = $2 } /^(AnonHugePages|ShmemPmdMapped|FilePmdMapped):/ { huge += $2 }
    /^VmFlags:/ { vmflags = $0 }
    END { flush(); for (c in R) print c, R[c], P[c] }' "/proc/$b_p/smaps" 2>/dev/null
  done
}

# The accelerator a box's QEMU was started with (its -accel argument)
qemu_accel() {
  for a_p in $(descendants "$1"); do
    tr '\0' '\n' < "/proc/$a_p/cmdline" 2>/dev/null | grep -A1 -x -- -accel | tail -1
  done
}

# The largest anonymous mappings (by RSS) of a box's QEMU, guest RAM aside: "SIZE_KiB RSS_KiB"
# each, to tell malloc arenas (64 MiB reserved, glibc), thread stacks (8 MiB) and the ROM
# copies of the kernel and initrd (their own sizes) apart.
qemu_anon() {
  for q_p in $(descendants "$1"); do
    case $(readlink "/proc/$q_p/exe" 2>/dev/null) in */qemu-system-*) ;; *) continue ;; esac
    awk '/^[0-9a-f]+-[0-9a-f]+ / { anon = (NF < 6); size = 0 }
      /^Size:/ { size = $2 } /^Rss:/ { rss = $2 }
      /^VmFlags:/ { if (anon && $0 !~ / dc/ && rss > 0) print size, rss }' "/proc/$q_p/smaps" 2>/dev/null
  done | sort -k2 -n -r | head -8 | awk '{ printf "%s+%s ", $1, $2 } END { print "" }'
}

# Which of the kernel file's pages a box holds as its own copies (the guest wrote them):
# runs of file offsets, "OFFSET+KiB" in hex/decimal, from the first VMA mapping the kernel
# file on. pagemap bit 63 is "present", bit 61 "file page": a present page without it is a
# copy. For the kernel's sections: readelf -S on the same vmlinux.
copied_runs() {
  for c_p in $1 $(descendants "$1"); do
    grep "/${LAB_VMLINUX##*/}\$" "/proc/$c_p/maps" | while read -r c_range c_perm c_off c_rest; do
      c_lo=$((0x${c_range%-*})) c_hi=$((0x${c_range#*-}))
      dd if="/proc/$c_p/pagemap" bs=8 skip=$((c_lo / 4096)) count=$(((c_hi - c_lo) / 4096)) 2>/dev/null |
        od -An -v -tx8 | tr -s ' ' '\n' | grep . |
        awk -v base=$((0x$c_off)) '
          { copied = ($1 ~ /^[89]/) }
          copied && !run { start = base + (NR - 1) * 4096; run = 1 }
          !copied && run { printf "%x+%d ", start, (base + (NR - 1) * 4096 - start) / 1024; run = 0 }
          END { if (run) printf "%x+%d ", start, (base + NR * 4096 - start) / 1024 }'
    done
  done
  echo
}

# start NAME BALLOON_JSON: boots a box of 512 MiB in the background; its pid in $work/NAME.pid
start() {
  d=$work/$1
  mkdir -p "$d"
  cp "$LAB_ROOTFS" "$d/root.ext4"
  # the QEMU engine's guest RAM as the library gives it (src/runtime/pause.c): a file in the
  # box's folder, shared (here on L1's tmpfs; on a host, the home's disk)
  mem=""
  [ "$engine" = qemu ] && [ "${LAB_DENSITY_QEMU_RAM:-file}" = file ] &&
    mem="\"memory\": { \"file\": \"$d/memory\", \"shared\": true },"
  cat > "$d/vmm.json" <<EOF
{ "engine": "$engine", "kernel": "$LAB_VMLINUX", "initrd": "$LAB_INITRD", $mem
  "cmdline": "quiet boxlite.root=/dev/vda ${LAB_L2_CMDLINE:-} ${words:-}", "cpus": 1, "memory_mib": 512,
  "disks": [ { "path": "$d/root.ext4", "readonly": false } ], "balloon": $2,
  "console_log": "$d/console", "box_socket": "$d/box.sock", "ready_file": "$d/ready" }
EOF
  (cd "$d" && exec env ${wenv:-} "$LAB_VMM" --config "$d/vmm.json") > "$d/vmm.out" 2>&1 &
  echo $! > "$d/pid"
}
pid() { cat "$work/$1/pid"; }
client() { # client NAME CLIENT-ARGS...: the guest stays up
  n=$1
  shift
  # ready, or its VMM gone: then its last words, not 400 s of waiting on a socket
  if ! "$LAB_VMM" --status "$work/$n/box.sock" --wait 400000 --pid "$(pid "$n")" >/dev/null 2>&1; then
    echo "[$n] FAIL: the box never became ready; its VMM said: $(tail -5 "$work/$n/vmm.out" 2>/dev/null | tr '\n' ' ')" >&2
    return 1
  fi
  "$LAB_CLIENT" "$work/$n/box.sock" 400 "$@" --no-shutdown </dev/null > "$work/$n/client.out" 2>&1
  r=$?
  sed "s/^/[$n] /" "$work/$n/client.out" >&2
  return $r
}
stop() {
  for n in "$@"; do kill "$(pid "$n")" 2>/dev/null; done
  for n in "$@"; do wait "$(pid "$n")" 2>/dev/null; done
}
# Samples a box's RSS every 200 ms into $work/NAME.samples until $work/NAME.stop exists.
sample() {
  while [ ! -e "$work/$1.stop" ]; do rss "$(pid "$1")" >> "$work/$1.samples"; sleep 0.2; done
}
peak() { sort -n "$work/$1.samples" | tail -1; }

# ---- 1. reclaim --------------------------------------------------------------------------
reclaim() { # reclaim NAME BALLOON_JSON WINDOW_S: prints "idle peak end seconds"
  start "$1" "$2"
  client "$1" -c 'true' || { stop "$1"; echo "0 0 0 -1"; return; }
  idle=$(rss "$(pid "$1")")
  sample "$1" &
  sp=$!
  client "$1" -c 'dd if=/dev/zero of=/dev/null bs=300M count=1 2>&1 | tail -1'
  freed=$(now_ms)
  touch "$work/$1.stop"
  wait $sp
  pk=$(peak "$1")
  # Wait for the fall (at least 250 MiB back), at most WINDOW_S: the time is the figure.
  secs=-1
  while [ $(($(now_ms) - freed)) -lt $(($3 * 1000)) ]; do
    cur=$(rss "$(pid "$1")")
    if [ $((pk - cur)) -ge $((250 * 1024)) ]; then
      secs=$(awk -v a="$(now_ms)" -v b="$freed" 'BEGIN { printf "%.1f", (a - b) / 1000 }')
      break
    fi
    sleep 0.2
  done
  cur=$(rss "$(pid "$1")")
  stop "$1"
  echo "$idle $pk $cur $secs"
}
sections=${LAB_DENSITY_SECTIONS:-reclaim target idle}
if echo " $sections " | grep -q ' reclaim '; then
echo "== reclaim: a guest allocates and frees 300 MiB"
set -- $(reclaim on '{ "free_page_reporting": true }' 60)
on_idle=$1 on_peak=$2 on_end=$3 on_secs=$4
echo "density: reporting on: idle ${on_idle} KiB, peak ${on_peak} KiB, then ${on_end} KiB after ${on_secs} s"
[ "${on_peak:-0}" -ge $(( ${on_idle:-0} + 250 * 1024 )) ] &&
  ok "the guest's 300 MiB reached the host (RSS ${on_idle} -> ${on_peak} KiB)" ||
  bad "the guest's 300 MiB never showed on the host (RSS ${on_idle} -> ${on_peak} KiB)"
[ "$on_secs" != -1 ] &&
  ok "free page reporting gave at least 250 MiB back within 60 s (${on_secs} s; RSS ${on_end} KiB)" ||
  bad "free page reporting: RSS still ${on_end} KiB 60 s after the guest freed 300 MiB (peak ${on_peak} KiB)"
echo "figure: memory returned after the guest freed 300 MiB ($label, lab): $(( (${on_peak:-0} - ${on_end:-0}) / 1024 )) MiB in ${on_secs} s"
set -- $(reclaim off '{ "free_page_reporting": false }' 20)
off_idle=$1 off_peak=$2 off_end=$3
echo "density: reporting off: idle ${off_idle} KiB, peak ${off_peak} KiB, then ${off_end} KiB"
[ "${off_end:-0}" -ge $(( ${off_peak:-0} - 50 * 1024 )) ] && [ "${off_peak:-0}" -gt 0 ] &&
  ok "without reporting the 300 MiB stay on the host 20 s later (${off_end} KiB): reporting is what gave them back" ||
  bad "without reporting RSS fell to ${off_end} KiB from ${off_peak} KiB"

fi

# ---- 2. target ---------------------------------------------------------------------------
if echo " $sections " | grep -q ' target '; then
echo "== target: a box held to 128 MiB"
start held '{ "free_page_reporting": true, "target_mib": 128 }'
# MemTotal falls as the driver inflates (no DEFLATE_ON_OOM: the pages leave the guest's
# total); the guest polls its own figure, the event itself.
client held -c 'i=0; while [ $(awk "/MemTotal/ { print \$2 }" /proc/meminfo) -gt 131072 ]; do i=$((i+1)); [ $i -gt 600 ] && exit 1; sleep 0.2; done; grep MemTotal /proc/meminfo' \
  && ok "the guest's MemTotal fell to the target of 128 MiB" \
  || bad "the guest's MemTotal did not fall under 128 MiB"
sample held &
sp=$!
client held -c 'dd if=/dev/zero of=/dev/null bs=300M count=1 >/dev/null 2>&1 && echo GREW || echo HELD' -o HELD \
  && ok "300 MiB cannot be allocated in a guest held to 128 MiB" \
  || bad "a guest held to 128 MiB allocated 300 MiB"
touch "$work/held.stop"
wait $sp
hp=$(peak held)
[ "${hp:-0}" -gt 0 ] && [ "$hp" -le $(( (128 + 64) * 1024 )) ] &&
  ok "the box's RSS stayed at ${hp} KiB (target 128 MiB + 64 MiB)" ||
  bad "the box's RSS reached ${hp} KiB with a target of 128 MiB"
echo "figure: RSS of a box held to 128 MiB while its guest asks for 300 MiB (lab): $((${hp:-0} / 1024)) MiB"
stop held
fi

# ---- 3. idle boxes -----------------------------------------------------------------------
idle_boxes() { # idle_boxes TAG BALLOON_JSON
  names=""
  for i in $(seq "$boxes"); do start "$1$i" "$2"; names="$names $1$i"; done
  ready=0
  for n in $names; do client "$n" -c "${LAB_DENSITY_PREP:-true}" && ready=$((ready + 1)); done
  settle $(for n in $names; do pid "$n"; done)
  # (not r and p: client() sets r)
  i_rss=0 i_pss=0
  for n in $names; do i_rss=$((i_rss + $(rss "$(pid "$n")"))); i_pss=$((i_pss + $(pss "$(pid "$n")"))); done
  for n in $names; do breakdown "$(pid "$n")"; done > "$work/$1.parts"
  [ "$engine" = qemu ] &&
    echo "figure: box ${1}1's QEMU runs with -accel $(qemu_accel "$(pid "$1"1)")" >&2 &&
    echo "figure: the largest anonymous mappings of box ${1}1's QEMU, guest RAM aside (size+RSS KiB): $(qemu_anon "$(pid "$1"1)")" >&2
  # The engine's own words reach the guest: noreplace-smp keeps the kernel's text shared
  # (our engine maps the kernel file; QEMU copies it into guest RAM, nothing to keep shared).
  [ "$engine" = kvm ] &&
    client "$1"1 -c 'grep -qw noreplace-smp /proc/cmdline && echo SHARED-TEXT' -o SHARED-TEXT &&
    touch "$work/$1.smp"
  # the VMMs' CPU time so far (boot, the commands, settling): what reporting costs
  i_cpu=0
  for n in $names; do
    for c_p in $(pid "$n") $(descendants "$(pid "$n")"); do
      i_cpu=$((i_cpu + $(awk '{ print $14 + $15 }' "/proc/$c_p/stat" 2>/dev/null || echo 0)))
    done
  done
  if [ "${LAB_DENSITY_PAGES:-0}" = 1 ]; then
    echo "figure: kernel pages copied in box ${1}1 (file offset+KiB): $(copied_runs "$(pid "$1"1)")" >&2
    # the guest's side of the same memory (client() prints it, prefixed, on stderr):
    # free pages held on the per-CPU lists (zoneinfo count) are never reported
    client "$1"1 -c 'cat /proc/meminfo /proc/buddyinfo; grep -E "^ +(min|low|high|managed|count|batch|nr_free_pages)[: ]" /proc/zoneinfo; dmesg | grep -E "hash table entries|Memory:|percpu:|Freeing"' || true
  fi
  stop $names
  # (/proc/PID/stat counts in USER_HZ, 100 a second on Linux; L1 has no getconf)
  echo "$ready $((i_rss / boxes)) $((i_pss / boxes)) $((i_cpu * 10 / boxes))"
}
# parts TAG: the breakdown of the idle boxes TAG*, averaged per box, largest PSS first.
parts() {
  echo "figure: where an idle box's memory lies ($1, per box, KiB): RSS PSS"
  awk -v n="$boxes" '{ R[$1] += $2; P[$1] += $3 }
    END { for (c in R) printf "figure:   %-22s %7d %7d\n", c, R[c] / n, P[c] / n }' "$work/$1.parts" |
    sort -k4 -n -r
}
if echo " $sections " | grep -q ' idle '; then
echo "== $boxes idle boxes of 512 MiB${LAB_DENSITY_PREP:+ (in each: $LAB_DENSITY_PREP)}; this host's THP: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"
set -- $(idle_boxes idle '{ "free_page_reporting": true }')
[ "${1:-0}" = "$boxes" ] && ok "$boxes boxes ready at once" || bad "only ${1:-0} of $boxes boxes ready"
echo "figure: host memory per idle box, $boxes boxes of 512 MiB, $label, lab, reporting on: RSS $(( ${2:-0} / 1024 )) MiB, PSS $(( ${3:-0} / 1024 )) MiB (${3:-0} KiB)"
after_pss=${3:-0}
echo "figure: VMM CPU time per idle box (boot, commands, settling; $label, lab): ${4:-0} ms"
if [ "$engine" = kvm ]; then
  [ -e "$work/idle.smp" ] &&
    ok "the guest kernel got noreplace-smp: its LOCK prefixes stay as in the shared file" ||
    bad "the guest kernel's command line lacks noreplace-smp (each box rewrites 2.5 MiB of kernel text)"
fi
parts idle
# QEMU asks for huge pages on guest RAM itself (MADV_HUGEPAGE): its figures say what that costs
if [ "$engine" = kvm ]; then
  grep -q '^guest-ram-thp-allowed ' "$work/idle.parts" &&
    bad "guest RAM without MADV_NOHUGEPAGE: a THP host fills whole 2 MiB pages the guest never uses" ||
    ok "guest RAM is marked MADV_NOHUGEPAGE (this host's THP fills no unused 2 MiB around a touched page)"
fi

[ "$after_pss" -gt 0 ] && [ "$after_pss" -le $((goal * 1024)) ] &&
  ok "an idle box costs ${after_pss} KiB (PSS), goal $goal MiB ($label)" ||
  bad "an idle box costs ${after_pss} KiB (PSS), above the goal of $goal MiB ($label)"
if [ -n "${LAB_DENSITY_TRY:-}${LAB_DENSITY_TRY_ENV:-}" ]; then
  # one try phase per '|'-separated set of words, each with the VMM environment
  t_ifs=$IFS; IFS='|'; set -f
  set -- ${LAB_DENSITY_TRY:-}
  IFS=$t_ifs; set +f
  [ $# -gt 0 ] || set -- ""
  t=0
  thp_file=/sys/kernel/mm/transparent_hugepage/enabled
  thp_was=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp_file" 2>/dev/null)
  for t_words in "$@"; do
    t=$((t + 1))
    # host-thp=always|madvise|never: this host's transparent huge pages for the phase (what
    # the VMM's MADV_NOHUGEPAGE on guest RAM would do), not a kernel word
    # env:VAR=VALUE: VAR in the VMM's environment for the phase (QEMU inherits it)
    words="" thp="" wenv=${LAB_DENSITY_TRY_ENV:-}
    for w in $t_words; do
      case $w in
        host-thp=*) thp=${w#host-thp=} ;;
        env:*) wenv="$wenv ${w#env:}" ;;
        *) words="$words $w" ;;
      esac
    done
    [ -n "$thp" ] && echo "$thp" > "$thp_file"
    set -- $(idle_boxes "try$t" '{ "free_page_reporting": true }')
    words= wenv=
    [ -n "$thp" ] && [ -n "$thp_was" ] && echo "$thp_was" > "$thp_file"
    echo "figure: host memory per idle box, $boxes boxes of 512 MiB, $label, lab, reporting on, with '${t_words}${LAB_DENSITY_TRY_ENV:+ (VMM env $LAB_DENSITY_TRY_ENV)}': RSS $(( ${2:-0} / 1024 )) MiB, PSS $(( ${3:-0} / 1024 )) MiB (${3:-0} KiB)"
    echo "figure: VMM CPU time per idle box, with '${t_words}': ${4:-0} ms"
    parts "try$t"
  done
fi
if [ "${LAB_DENSITY_BEFORE:-0}" = 1 ]; then
  set -- $(idle_boxes before '{ "free_page_reporting": false }')
  echo "figure: host memory per idle box, $boxes boxes of 512 MiB, $label, lab, reporting off (before): RSS $(( ${2:-0} / 1024 )) MiB, PSS $(( ${3:-0} / 1024 )) MiB"
  parts before
fi
fi
rm -rf "$work"
echo "density: $pass passed, $fail failed"
