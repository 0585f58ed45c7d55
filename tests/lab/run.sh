#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs a command inside the nested-KVM lab (tests/lab/README.md): boots an L1 guest under
# QEMU TCG with -cpu max (which offers AMD SVM), loads kvm-amd there, runs the command with a
# working /dev/kvm, streams its output back as it comes, ends L1 and exits with the
# command's exit status.
#
# usage: tests/lab/run.sh [options] -- CMD [ARG...]
#        tests/lab/run.sh [options] --script FILE      (several commands in one boot)
# options:
#   --files LIST     LIST names host files or directories the command needs, one per line;
#                    each is copied into L1 at the same path, ELF files with the shared
#                    libraries ldd finds for them. Repeatable.
#   --file PATH      one such path. Repeatable.
#   --timeout SEC    end L1 after SEC seconds whatever happens (default $LAB_TIMEOUT or 900)
#   --mem MIB        L1 memory (default $LAB_MEM or 2048)
#   --cpu MODEL      L1's QEMU CPU model (default $LAB_CPU or max). It must offer AMD SVM with
#                    nested paging under TCG: max, EPYC, EPYC-Rome, EPYC-Milan (README.md,
#                    "CPU models"); "+svm" and other QEMU feature flags may be appended
#   --log FILE       keep the whole serial console (L1 boot included) in FILE
#   --arch arm64     the ARM64 lab (default $LAB_ARCH or amd64): qemu-system-aarch64 -M virt
#                    with EL2 and GICv3, -cpu max, Debian's cloud-arm64 kernel (KVM built in).
#                    aarch64 ELF files get their shared libraries from --sysroot DIR (an arm64
#                    sysroot, scripts/arm64-sysroot.sh), copied to the same paths in L1
#   -v               print L1's boot messages on stderr too
# Exit status: the command's; 124 if the timeout ended L1; 125 if the lab itself failed
# (L1 did not boot, kvm-amd did not load, no exit status came back).
# In L1: busybox tools in /bin, a writable tmpfs at / and /tmp, and $LAB_L2_CMDLINE: the
# timer options an L2 kernel needs there (see init.sh). The command starts in the host's
# current directory if that directory was copied in, else in /. It has no stdin.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
timeout_s=${LAB_TIMEOUT:-900}
mem=${LAB_MEM:-2048}
cpu=${LAB_CPU:-max}
arch=${LAB_ARCH:-amd64}
sysroot=""
log=""
verbose=0
script=""
paths=()
while [ $# -gt 0 ]; do
  case "$1" in
    --files) [ -r "$2" ] || { echo "lab: cannot read file list $2" >&2; exit 125; }
             while IFS= read -r p; do [ -n "$p" ] && [ "${p#\#}" = "$p" ] && paths+=("$p"); done < "$2"
             shift 2 ;;
    --file) paths+=("$2"); shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --cpu) cpu=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --arch) arch=$2; shift 2 ;;
    --sysroot) sysroot=$2; shift 2 ;;
    --script) script=$2; shift 2 ;;
    -v) verbose=1; shift ;;
    --) shift; break ;;
    *) echo "lab: unknown option $1 (usage: run.sh [options] -- CMD...)" >&2; exit 125 ;;
  esac
done
if [ -z "$script" ] && [ $# -eq 0 ]; then
  echo "usage: tests/lab/run.sh [--files LIST] [--script FILE] [-- CMD...]" >&2; exit 125
fi
case $arch in
  amd64|x86_64) arch=amd64; qemu=qemu-system-x86_64; qpkg=qemu-system-x86 ;;
  arm64|aarch64) arch=arm64; qemu=qemu-system-aarch64; qpkg=qemu-system-arm ;;
  *) echo "lab: unknown --arch $arch (amd64 or arm64)" >&2; exit 125 ;;
esac
command -v $qemu >/dev/null || { echo "lab: $qemu missing (apt-get install $qpkg)" >&2; exit 125; }
labdir=$("$here/setup.sh" --arch $arch --quick | tail -1) || { echo "lab: setup failed" >&2; exit 125; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/boxlite-lab.XXXXXX")
qpid=""
cleanup() { [ -n "$qpid" ] && kill "$qpid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the per-run archive: the command, its marker, its files ------------------------------
stage=$tmp/stage
mkdir -p "$stage/lab"
nonce=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
echo "$nonce" > "$stage/lab/nonce"
pwd > "$stage/lab/cwd"
if [ -n "$script" ]; then
  cp "$script" "$stage/lab/cmd"
else
  { printf 'exec'; printf ' %q' "$@"; printf '\n'; } > "$stage/lab/cmd"
fi
add() { # copy a host path to the same path in the stage (symlinks to files become files)
  local p=$1
  [ -e "$p" ] || { echo "lab: $p does not exist" >&2; exit 125; }
  p=$(cd "$(dirname "$p")" && pwd)/$(basename "$p")
  [ -e "$stage$p" ] && return 0
  mkdir -p "$stage$(dirname "$p")"
  if [ -d "$p" ]; then cp -a "$p" "$stage$p"; else cp -L "$p" "$stage$p"; fi
}
for p in "${paths[@]}"; do add "$p"; done
# Shared libraries of every ELF file copied in, and the dynamic loader.
if [ $arch = amd64 ]; then
  while IFS= read -r f; do
    head -c4 "$f" 2>/dev/null | grep -q ELF || continue
    { ldd "${f#"$stage"}" 2>/dev/null || true; } | awk '/=> \//{print $3} /^\t\//{print $1}'
  done < <(find "$stage" -type f -perm -u+x) | sort -u | while IFS= read -r lib; do add "$lib"; done
elif [ -n "$sysroot" ]; then
  # No ldd for a foreign ELF: its DT_NEEDED names, looked up in the sysroot's library
  # folders, land at /lib/aarch64-linux-gnu in L1, the dynamic loader at /lib, until no
  # library needs another one not there yet.
  mkdir -p "$stage/lib/aarch64-linux-gnu"
  find "$sysroot" -name 'ld-linux-aarch64.so.1' | head -1 | xargs -r -I{} cp -L {} "$stage/lib/"
  todo=$(find "$stage" -type f -perm -u+x)
  while [ -n "$todo" ]; do
    next=""
    for f in $todo; do
      head -c4 "$f" 2>/dev/null | grep -q ELF || continue
      for n in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [ -e "$stage/lib/aarch64-linux-gnu/$n" ] && continue
        src=$(find "$sysroot/lib" "$sysroot/usr/lib" -name "$n" 2>/dev/null | head -1)
        [ -n "$src" ] || { echo "lab: $n (needed by ${f#"$stage"}) not in $sysroot" >&2; exit 125; }
        cp -L "$src" "$stage/lib/aarch64-linux-gnu/$n"
        next="$next $stage/lib/aarch64-linux-gnu/$n"
      done
    done
    todo=$next
  done
fi
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet --owner=0:0) > "$tmp/run.cpio"
# Linux unpacks concatenated newc archives in order: the base from setup.sh, then this run's.
cat "$labdir/base.cpio" "$tmp/run.cpio" > "$tmp/initrd"
rm -rf "$stage"

# ---- L1 -----------------------------------------------------------------------------------
# tsc_early_khz: under TCG, L1's TSC ticks at the host's TSC rate, but calibrating it against
# the emulated PIT is unreliable when every instruction is emulated; without the value L1
# sometimes fails "tsc: Unable to calibrate against PIT" and hangs early (environment.md).
# So L1 is told the host's own frequency, read here at run time (dmesg, else /proc/cpuinfo).
host_khz=$(dmesg 2>/dev/null | sed -n 's/.*tsc: Refined TSC clocksource calibration: \([0-9]*\)\.\([0-9]*\) MHz.*/\1\2/p' | tail -1)
[ -n "$host_khz" ] || host_khz=$(dmesg 2>/dev/null | sed -n 's/.*tsc: Detected \([0-9]*\)\.\([0-9]*\) MHz.*/\1\2/p' | tail -1)
[ -n "$host_khz" ] || host_khz=$(awk -F: '/^cpu MHz/{printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
append="console=ttyS0 quiet panic=-1 reboot=t${host_khz:+ tsc_early_khz=$host_khz}"
machine=(-M microvm,accel=tcg -cpu "$cpu")
if [ $arch = arm64 ]; then
  # virtualization=on enters L1's kernel at EL2, which KVM needs; GICv3 as on most arm64
  # servers (environment.md, "An ARM64 lab is viable here"). PSCI powers L1 off.
  append="console=ttyAMA0 quiet panic=-1"
  machine=(-M virt,virtualization=on,gic-version=3,accel=tcg -cpu "$cpu")
fi

fifo=$tmp/console
mkfifo "$fifo"
start=$(date +%s.%N)
timeout -k 10 "$timeout_s" $qemu "${machine[@]}" -m "$mem" -smp 1 \
  -nodefaults -no-user-config -display none -serial stdio -no-reboot \
  -kernel "$labdir/vmlinuz" -initrd "$tmp/initrd" -append "$append" \
  </dev/null >"$fifo" 2>"$tmp/qemu.err" &
qpid=$!

rc=""
state=boot
[ -n "$log" ] && : > "$log"
while IFS= read -r line || [ -n "$line" ]; do
  line=${line%$'\r'}
  [ -n "$log" ] && printf '%s\n' "$line" >> "$log"
  case "$line" in
    *"lab-$nonce: exit "*)
      pre=${line%%"lab-$nonce: exit "*}
      [ -n "$pre" ] && printf '%s\n' "$pre"
      rc=${line##*"lab-$nonce: exit "}
      state=done ;;
    *"lab-$nonce: begin"*) state=cmd ;;
    *"lab-$nonce: ready at uptime"*)
      # L1's uptime lags wall time when the host is busy: say both.
      printf 'lab: %s (wall %.1f s since QEMU started)\n' "${line#*"lab-$nonce: "}" \
        "$(echo "$(date +%s.%N) - $start" | bc)" >&2 ;;
    *"lab-$nonce: "*) printf 'lab: %s\n' "${line#*"lab-$nonce: "}" >&2 ;;
    *) case $state in
         cmd) printf '%s\n' "$line" ;;
         boot) [ $verbose = 1 ] && printf 'L1: %s\n' "$line" >&2
               printf '%s\n' "$line" >> "$tmp/boot.log" ;;
       esac ;;
  esac
done < "$fifo"
set +e
wait "$qpid"; qrc=$?
set -e
qpid=""
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
if [ -n "$rc" ]; then
  printf 'lab: L1 ended after %.1f s (command exit status %s)\n' "$elapsed" "$rc" >&2
  exit "$rc"
fi
if [ $qrc -eq 124 ] || [ $qrc -eq 137 ]; then
  echo "lab: timeout: L1 ended after ${timeout_s} s without the command's exit status" >&2
  rc=124
else
  echo "lab: L1 ended (QEMU status $qrc) without the command's exit status" >&2
  rc=125
fi
if [ $state = boot ]; then
  echo "lab: last lines of L1's console:" >&2
  tail -30 "$tmp/boot.log" 2>/dev/null | sed 's/^/L1: /' >&2
fi
[ -s "$tmp/qemu.err" ] && sed 's/^/qemu: /' "$tmp/qemu.err" >&2
exit $rc
