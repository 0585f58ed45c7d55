# SPDX-License-Identifier: Apache-2.0
# Shared by the end-to-end scripts (tests/e2e/*.sh): checks that count, and the two kinds of
# skip. Source it after `cd` to the repository root:  . tests/harness/lib.sh
# A script ends with `finish`, which prints "N passed, N failed" (tests/run.sh adds it up)
# and returns non-zero when a check failed.
# Under `set -o pipefail`, never end a pipeline with `grep -q`: it stops reading at the first
# match, the writer dies of SIGPIPE and the pipeline fails although it matched. Use
# `grep PATTERN >/dev/null`, or `grep -q PATTERN <<<"$text"`.
pass=0 fail=0

ok() { pass=$((pass + 1)); echo "ok - $1"; }
no() { fail=$((fail + 1)); echo "not ok - $1"; [ -z "${2:-}" ] || echo "#   $2"; }
# expect NAME WANTED GOT
expect() { if [ "$2" = "$3" ]; then ok "$1"; else no "$1" "wanted [$2] got [$3]"; fi; }
# has NAME NEEDLE FILE: FILE holds the fixed string NEEDLE
has() { if grep -qF -- "$2" "$3"; then ok "$1"; else no "$1" "[$2] not in: $(head -c 600 "$3")"; fi; }
# check NAME COMMAND...: passes when the command succeeds
check() { local name=$1; shift; if "$@"; then ok "$name"; else no "$name" "failed: $*"; fi; }

finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; }

# CI=true or BOXLITE_TEST_STRICT=1: what the set-up installs must be there.
strict() { [ "${CI:-}" = true ] || [ "${BOXLITE_TEST_STRICT:-}" = 1 ]; }

# need WHAT COMMAND...: a prerequisite that scripts/setup.sh (or CI) provides. Missing, it is
# a skip on a developer's machine and a failure that names it in strict mode.
need() {
  local what=$1; shift
  "$@" >/dev/null 2>&1 && return 0
  if strict; then echo "not ok - missing prerequisite (scripts/setup.sh or CI provides it): $what"; exit 1; fi
  echo "skip: missing prerequisite: $what"
  exit 77
}
need_cmd() { need "$1 (${2:-apt-get install $1})" command -v "$1"; }

# skip REASON: this machine cannot do what the script tests. REASON must say where the same
# behaviour is proven instead ("...; proven by tests/e2e/x.sh"); tests/run.sh fails a skip
# without it in strict mode.
skip() { echo "skip: $1"; exit 77; }

# busybox_rootfs DIR: a container root of the host's static busybox (busybox-static): every
# applet linked in bin/, root in etc/passwd and etc/group, an empty tmp/.
busybox_rootfs() {
  mkdir -p "$1/bin" "$1/etc" "$1/tmp"
  cp /bin/busybox "$1/bin/"
  local a
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$1/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$1/etc/passwd"
  echo 'root:x:0:' >"$1/etc/group"
}

# box_ram_kib BOXLITE BOX: "rss pss private" (KiB) of the box's guest RAM as its QEMU maps it
# (the mapping of its folder's memory or memory.base file, from /proc/PID/smaps); nothing for
# a box without one. Shared pages count whole in RSS and split between the mappers in PSS.
box_ram_kib() {
  local dir p
  dir=$BOXLITE_HOME/boxes/$("$1" inspect -f '{{.ID}}' "$2" 2>/dev/null)
  for p in $(pgrep -f "$dir/"); do
    awk -v d="$dir/memory" '
      /^[0-9a-f]+-[0-9a-f]+ / { on = ($6 == d || $6 == d ".base") }
      on && /^Rss:/ { r += $2 } on && /^Pss:/ { s += $2 }
      on && /^Private_(Clean|Dirty):/ { v += $2 }
      END { if (r) print r, s, v }' "/proc/$p/smaps" 2>/dev/null
  done | head -1
}

# host_net_state: what an engine's network set-up must never change in the host's own
# network namespace (IPv6 switched off, loopback's addresses, the default routes): a test
# that drives Docker, containerd or Podman compares it before and after.
host_net_state() {
  local f
  for f in all default lo; do echo "disable_ipv6 $f $(cat /proc/sys/net/ipv6/conf/$f/disable_ipv6 2>/dev/null)"; done
  ip -o addr show dev lo 2>/dev/null | awk '{print $3, $4}'
  ip route show default 2>/dev/null
  ip -6 route show default 2>/dev/null
}

