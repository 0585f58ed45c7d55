#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Where a boxlite-vmm's resident memory outside guest RAM goes (issue 15): reads
# /proc/PID/smaps and prints, one line each, prefixed "mem LABEL:",
#   - the total: resident outside guest RAM, split into file-backed pages (the binary and
#     its shared libraries: text, most of it shared with every other process mapping them)
#     and anonymous pages (the process's own: heap, malloc arenas, thread stacks, relocated
#     data), and its proportional share (Pss) and private part;
#   - each file mapped (binary, libraries), its resident and private-dirty kB;
#   - each anonymous mapping with resident pages: a thread stack is a read-write mapping of
#     the stack size right above its guard page, a malloc arena a read-write part followed by
#     its reserved rest.
# Guest RAM is what the engine marked MADV_DONTFORK ("dc" in VmFlags) plus the files it
# maps over parts of guest RAM (the kernel, the initramfs: FILE...), as the VMM's own count
# (machine_guest_rss) has it.
# POSIX sh and awk only: it runs in the lab's L1 (busybox) as on a host.
#   vmm_smaps.sh PID LABEL [FILE...]
pid=$1 label=$2
shift 2
guestfiles=" $* "
[ -r "/proc/$pid/smaps" ] || { echo "mem $label: /proc/$pid/smaps not readable"; exit 1; }
threads=$(sed -n 's/^Threads:[[:space:]]*//p' "/proc/$pid/status")
names=$(for t in /proc/$pid/task/*; do cat "$t/comm" 2>/dev/null; done | sort | uniq -c |
        awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }')
awk -v label="$label" -v guestfiles="$guestfiles" -v threads="$threads" -v names="$names" '
function flush() {
  if (!have) return
  guest = (flags ~ / dc( |$)/) || (name != "" && index(guestfiles, " " name " ") > 0)
  if (guest) { g += rss; have = 0; return }
  tot += rss; pss_t += pss; priv += pd + pc
  if (name ~ /^\//) { file += rss; frss[name] += rss; fpd[name] += pd }
  else {
    anon += rss
    if (rss > 0) {
      kind = name != "" ? name : (perm == "rw-p" && prevperm == "---p" && size >= 8188 ? "thread stack?" : "anon")
      nanon++; arss[nanon] = rss; adesc[nanon] = sprintf("%s %s %d kB mapped", kind, perm, size)
    }
  }
  have = 0
}
/^[0-9a-f]+-[0-9a-f]+ / {
  flush()
  prevperm = curperm; perm = $2; curperm = perm
  name = $6; for (i = 7; i <= NF; i++) name = name " " $i
  size = rss = pss = pd = pc = 0; flags = ""; have = 1; next
}
/^Size:/ { size = $2 } /^Rss:/ { rss = $2 } /^Pss:/ { pss = $2 }
/^Private_Dirty:/ { pd = $2 } /^Private_Clean:/ { pc = $2 }
/^VmFlags:/ { flags = $0 }
END {
  flush()
  printf "mem %s: outside guest RAM %d kB resident (%.2f MiB): file-backed %d kB, anonymous %d kB; Pss %d kB, private %d kB; guest RAM %d kB; %s threads: %s\n",
    label, tot, tot / 1024, file, anon, pss_t, priv, g, threads, names
  for (f in frss) printf "mem %s:   file %6d kB (private dirty %4d kB) %s\n", label, frss[f], fpd[f], f
  for (i = 1; i <= nanon; i++) printf "mem %s:   anon %6d kB %s\n", label, arss[i], adesc[i]
}' "/proc/$pid/smaps"
