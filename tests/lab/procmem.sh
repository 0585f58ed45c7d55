# SPDX-License-Identifier: Apache-2.0
# Host memory of a box's processes, sourced by density.sh and matrix.sh (busybox sh in L1).
# A box is its per-box process and everything below it: a jailed VMM has a child, whose
# child is the QEMU engine's QEMU. Counting the tree (not command lines) sees them all.

# field FILE KEY: a "KEY: N kB" value of a /proc file
field() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "$1" 2>/dev/null | head -1; }
children() { # the pids whose parent is $1
  for s in /proc/[0-9]*/stat; do
    read -r c_pid c_comm c_state c_ppid c_rest 2>/dev/null < "$s" && [ "$c_ppid" = "$1" ] && echo "$c_pid"
  done
}
descendants() { # the pids below $1
  for d_p in $(children "$1"); do echo "$d_p"; descendants "$d_p"; done
}
# KiB of a process and those below it: kib PID VmRSS|Pss
kib() {
  k_total=0
  for k_p in $1 $(descendants "$1"); do
    if [ "$2" = VmRSS ]; then k_v=$(field /proc/$k_p/status VmRSS); else k_v=$(field /proc/$k_p/smaps_rollup Pss); fi
    k_total=$((k_total + ${k_v:-0}))
  done
  echo $k_total
}
# settle PID...: returns once the boxes' summed RSS fell by no more than 1 MiB over 5
# samples a second apart (free page reporting gives memory back for a while after a boot),
# or after 180 s
settle() {
  s_prev="" s_stable=0 s_t0=$(awk '{ printf "%d", $1 }' /proc/uptime)
  while [ $s_stable -lt 5 ] && [ $(($(awk '{ printf "%d", $1 }' /proc/uptime) - s_t0)) -lt 180 ]; do
    s_sum=0
    for s_p in "$@"; do s_sum=$((s_sum + $(kib "$s_p" VmRSS))); done
    if [ -n "$s_prev" ] && [ $((s_prev - s_sum)) -le 1024 ]; then s_stable=$((s_stable + 1)); else s_stable=0; fi
    s_prev=$s_sum
    sleep 1
  done
}
