#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make lab-check: the KVM engine end to end, on a /dev/kvm backed by hardware
# virtualization: this host's own when its CPU has vmx/svm, else the nested-KVM lab
# (tests/lab/run.sh: an L1 under QEMU TCG with kvm-amd). boxlite-vmm (engine "kvm") boots the
# project's guest kernel and initramfs with a small ext4 container rootfs on vda; a client
# (lab_client.c) on the box socket waits for the agent, runs a command in the container and
# checks its output and exit code, times command round trips and asks for a power-off, after
# which the VMM must end by itself with status 0. Passes only then; prints the figures.
#
# usage: tests/lab/lab-check.sh [--bench] [--suite|--suite-ci|--suite-pause] [--matrix] [--cpu MODEL] [--log FILE]
#   --bench  also boot the same kernel and initramfs with QEMU (-M microvm -accel kvm) in the
#            same L1, alternating with ours for $LAB_ROUNDS (2) rounds, and print the ratios
#            ours/QEMU (bench/lab.sh)
#   --suite  then run the KVM engine's end-to-end suite (suite.sh: block, qcow2, killed VMM,
#            network, shared directory, console log, power-off) and its unit test
#            (test_kvm_engine, the sanitizer build's when there is one) in the same L1
#   --matrix then the CPU matrix's checks in the same L1 (matrix.sh: a box per CPU template,
#            the fallback to QEMU with -accel kvm, boxlite doctor, pause/resume/fork through
#            the CLI; $LAB_TEMPLATES, $LAB_UNSATISFIED and $LAB_SECTIONS choose what runs;
#            the opt-in section "forks": a fork of $LAB_PAUSE_FORKS (10) boxes against as
#            many cold boxes, $LAB_PAUSE_WARM_MIB (0) written to each one's tmpfs)
#   --density then density on the KVM engine (density.sh: memory given back after a guest
#            frees 300 MiB, a balloon target that holds, host memory per idle box for
#            $LAB_DENSITY_BOXES boxes); the guest kernel needs virtio-balloon: $LAB_KERNEL
#            names one when the cached kernel of this tree has none; LAB_DENSITY_ENGINE=qemu
#            runs the boxes on the QEMU engine (QEMU with -accel kvm), as LAB_PAUSE_ENGINE=qemu
#            does matrix.sh's pause section
#   --arch arm64  the aarch64 KVM engine in the ARM64 lab (run.sh --arch arm64): the VMM
#            cross-built in $BOXLITE_BUILD_ARM64 (build/arm64: make lab-check-arm64 builds it),
#            the arm64 guest kernel (build-kernel.sh --arch arm64) and initramfs, an arm64
#            busybox rootfs; the helpers cross-built static. --suite runs suite.sh there with
#            the arm64 qemu-img and e2fsprogs of the sysroot as oracles (not the KVM unit
#            tests). Not with --bench, --matrix or --density yet
#   --suite-ci  --suite with LAB_SUITE_SET=ci: only a raw and a qcow2 disk checked, slirp,
#            9p and a clean power-off, in three boxes (CI's form; suite.sh)
#   --suite-pause  --suite with LAB_SUITE_SET=pause: the pause and resume section alone
#   --cpu    L1's QEMU CPU model (run.sh --cpu; default max)
#   --log    keep the whole output (L1 console included) in FILE
#   --trace  with --suite: every VMM of the suite under strace, printing what each kind of
#            its threads called (to compare with src/vmm/jail/seccomp_rules.c)
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
build=${BOXLITE_BUILD:-build}
bench=0
suite=0
suiteset=all
matrix=0
density=0
cpu=${LAB_CPU:-max}
arch=${LAB_ARCH:-amd64}
trace=0
rounds=${LAB_ROUNDS:-2}
keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bench) bench=1; shift ;;
    --suite) suite=1; shift ;;
    --suite-ci) suite=1; suiteset=ci; shift ;;
    --suite-pause) suite=1; suiteset=pause; shift ;;
    --matrix) matrix=1; shift ;;
    --density) density=1; shift ;;
    --cpu) cpu=$2; shift 2 ;;
    --arch) arch=$2; shift 2 ;;
    --trace) trace=1; shift ;;
    --log) keep=$2; shift 2 ;;
    *) echo "usage: lab-check.sh [--bench] [--suite|--suite-ci|--suite-pause] [--matrix] [--cpu MODEL] [--log FILE]" >&2; exit 2 ;;
  esac
done
say() { echo "lab-check: $*"; }
fail() { say "FAIL: $*"; exit 1; }

case $arch in
  amd64|x86_64)
    arch=amd64
    vmm=$root/$build/bin/boxlite-vmm
    initrd=$root/$build/guest/initramfs.cpio.gz
    vmlinux=${LAB_KERNEL:-$(scripts/build-kernel.sh --cached-only)} || fail "no cached guest kernel (run scripts/setup.sh)"
    hcc=gcc helpers="kvm_probe lab_timeline" libs=$build/lib lab=$build/lab bb=/bin/busybox ;;
  arm64|aarch64)
    arch=arm64
    abuild=${BOXLITE_BUILD_ARM64:-$build/arm64}
    [ $bench = 0 ] && [ $matrix = 0 ] && [ $density = 0 ] ||
      fail "--arch arm64: the box check and --suite only so far (no --bench, --matrix, --density)"
    vmm=$root/$abuild/bin/boxlite-vmm
    initrd=$root/$build/guest-arm64/initramfs.cpio.gz
    vmlinux=${LAB_KERNEL:-$(scripts/build-kernel.sh --arch arm64 --cached-only)} || fail "no cached arm64 guest kernel (run scripts/setup.sh)"
    sysroot=$(scripts/arm64-sysroot.sh --cached-only) || fail "no arm64 sysroot (scripts/arm64-sysroot.sh)"
    bb=$(tests/fixtures/arm64-busybox.sh --cached-only) || fail "no arm64 busybox (tests/fixtures/arm64-busybox.sh)"
    # kvm_probe runs x86 real-mode code: not here
    hcc=aarch64-linux-gnu-gcc helpers=lab_timeline libs=$abuild/lib lab=$build/lab-arm64 ;;
  *) fail "unknown --arch $arch (amd64 or arm64)" ;;
esac
[ -x "$vmm" ] && [ -f "$initrd" ] || fail "missing $vmm or $initrd (run make)"
# The lab's helpers are static so L1 needs no libraries for them.
mkdir -p "$lab"
for t in $helpers; do
  if [ ! -x "$lab/$t" ] || [ "tests/lab/$t.c" -nt "$lab/$t" ]; then
    $hcc -static -O2 -Wall -Wextra -Werror -o "$lab/$t" "tests/lab/$t.c" || fail "cannot build $t"
  fi
done
# The client links the project's protocol library (built by make all), static as well.
$hcc -std=c11 -D_GNU_SOURCE -static -O2 -Wall -Wextra -Werror -Wno-unused-parameter -Iinclude -Isrc \
  -o "$lab/lab_client" tests/lab/lab_client.c "$libs/libproto.a" "$libs/libcommon.a" \
  -lpthread || fail "cannot build lab_client"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/log
# The container rootfs: static busybox and a file that proves where the command ran.
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/proc" "$work/rootfs/dev" "$work/rootfs/tmp"
cp "$bb" "$work/rootfs/bin/busybox"
echo "the lab rootfs" > "$work/rootfs/etc/lab-rootfs"
mke2fs -q -F -t ext4 -d "$work/rootfs" "$work/rootfs.ext4" 16M >/dev/null || fail "mke2fs failed"
# What runs on the KVM host (L1 in the lab): the probe, our VMM, then (bench) QEMU.
cat > "$work/script.sh" <<EOF
export LAB_VMM="$vmm" LAB_VMLINUX="$vmlinux" LAB_INITRD="$initrd"
export LAB_TIMELINE="$root/$lab/lab_timeline" LAB_GUEST_MIB=512 LAB_ROOT="$root"
export LAB_CLIENT="$root/$lab/lab_client" LAB_DISK="$work/rootfs.ext4"
EOF
[ $arch = amd64 ] && cat >> "$work/script.sh" <<EOF
echo "== kvm_probe"
"$root/$lab/kvm_probe" || exit 10
EOF
cat >> "$work/script.sh" <<EOF
echo "== boot: box (boxlite-vmm, engine kvm, container rootfs on vda, client on the box socket)"
sh "$root/tests/lab/guest_boot.sh" box
echo "== box exit status \$?"
EOF
if [ $bench = 1 ]; then
  # Rounds alternate ours and QEMU so both see the same load; the figures take each one's
  # minimum (the machine is shared: the minimum is the cost without other work in the way).
  for r in $(seq "$rounds"); do
    echo 'echo "== boot: ours (boxlite-vmm, no disk)"' >> "$work/script.sh"
    echo 'sh "$LAB_ROOT/tests/lab/guest_boot.sh" ours' >> "$work/script.sh"
    echo 'echo "== boot: reference (qemu-system-x86_64 -M microvm -accel kvm)"' >> "$work/script.sh"
    echo 'sh "$LAB_ROOT/tests/lab/guest_boot.sh" qemu' >> "$work/script.sh"
  done
  # The same with a quiet guest kernel: the console costs both VMMs a VM exit per byte,
  # which nested inside TCG hides the rest of the boot.
  for r in $(seq "$rounds"); do
    echo 'sh "$LAB_ROOT/tests/lab/guest_boot.sh" ours quiet' >> "$work/script.sh"
    echo 'sh "$LAB_ROOT/tests/lab/guest_boot.sh" qemu quiet' >> "$work/script.sh"
  done
fi
if [ $suite = 1 ] && [ $arch = arm64 ]; then
  # suite.sh alone, its oracles (qemu-img, debugfs, e2fsck, mke2fs) the sysroot's arm64 ones
  labdir=$(tests/lab/setup.sh --arch arm64 --quick | tail -1)
  loopko=$(ls "$(dirname "$labdir")"/pkg/"$(cut -d' ' -f1 "$labdir/kernel-version")"-*/lib/modules/*/kernel/drivers/block/loop.ko 2>/dev/null | head -1)
  vmmtest=$root/$abuild/tests/boxlite-vmm-test
  { echo 'echo "== suite"'
    echo "export PATH=\"\$PATH:$sysroot/usr/bin:$sysroot/sbin\""
    echo "LAB_SUITE_SET=$suiteset LAB_TRACE=0 LAB_ROOTFS=\"$work/rootfs.ext4\" LAB_LOOP_KO=\"$loopko\" LAB_VMM_TEST=\"$vmmtest\" sh \"\$LAB_ROOT/tests/lab/suite.sh\""
  } >> "$work/script.sh"
elif [ $suite = 1 ]; then
  # The KVM engine's unit tests with a real guest, from the sanitizer build when there is
  # one (the engine's code under ASan and UBSan), else built here: test_kvm_engine (the
  # engine), test_kvm_balloon (the balloon on real guest RAM), test_kvm_snapshot (a running
  # guest saved, ended, restored from its files, counting on).
  unit_bin() {
    local t=tests/unit/vmm/$1
    if [ -x "$root/build/san/$t" ]; then echo "$root/build/san/$t"; return; fi
    make --no-print-directory -s O="$build" "$build/$t" >/dev/null || return 1
    echo "$root/$build/$t"
  }
  kvmtest=$(unit_bin test_kvm_engine) || fail "cannot build test_kvm_engine"
  kvmballoon=$(unit_bin test_kvm_balloon) || fail "cannot build test_kvm_balloon"
  kvmsnap=$(unit_bin test_kvm_snapshot) || fail "cannot build test_kvm_snapshot"
  # loop.ko of L1's kernel: the suite then works on ext4 as users' folders are (idmapped
  # mounts, user xattrs), not on L1's tmpfs; the VMM's test build for the SIGSYS check
  labdir=$(tests/lab/setup.sh --quick | tail -1)
  loopko=$(ls "$(dirname "$labdir")"/pkg/"$(cut -d' ' -f1 "$labdir/kernel-version")"-*/lib/modules/*/kernel/drivers/block/loop.ko 2>/dev/null | head -1)
  vmmtest=$root/$build/tests/boxlite-vmm-test
  { echo 'echo "== suite"'
    echo "LAB_SUITE_SET=$suiteset LAB_TRACE=$trace LAB_ROOTFS=\"$work/rootfs.ext4\" LAB_LOOP_KO=\"$loopko\" LAB_VMM_TEST=\"$vmmtest\" sh \"\$LAB_ROOT/tests/lab/suite.sh\""
    echo 'echo "== test_kvm_engine"'
    echo "cd /tmp && BOXLITE_KERNEL=\"$vmlinux\" BOXLITE_INITRD=\"$initrd\" \"$kvmtest\" 2>&1 | sed 's/^/kvm_engine: /'"
    echo 'echo "== test_kvm_balloon"'
    echo "cd /tmp && \"$kvmballoon\" 2>&1 | sed 's/^/kvm_balloon: /'"
    echo 'echo "== test_kvm_snapshot"'
    echo "cd /tmp && ASAN_OPTIONS=color=never \"$kvmsnap\" 2>&1 | sed 's/^/kvm_snapshot: /'"
  } >> "$work/script.sh"
fi
if [ $matrix = 1 ]; then
  # The CPU matrix (matrix.sh), with the CLI and the library for the fallback and doctor.
  cat >> "$work/script.sh" <<EOF
echo "== matrix"
LAB_ROOTFS="$work/rootfs.ext4" LAB_MODEL="$cpu" LAB_CLI="$root/$build/bin/boxlite" \
  LAB_TEMPLATES="${LAB_TEMPLATES-v3 baseline host}" LAB_UNSATISFIED="${LAB_UNSATISFIED:-}" \
  LAB_SECTIONS="${LAB_SECTIONS:-templates fallback doctor pause}" LAB_PAUSE_ROUNDS="${LAB_PAUSE_ROUNDS:-1}" \
  LAB_PAUSE_ENGINE="${LAB_PAUSE_ENGINE:-kvm}" LAB_PAUSE_FORKS="${LAB_PAUSE_FORKS:-10}" \
  LAB_PAUSE_WARM_MIB="${LAB_PAUSE_WARM_MIB:-0}" \
  BOXLITE_KERNEL="$vmlinux" sh "\$LAB_ROOT/tests/lab/matrix.sh"
EOF
fi
if [ $density = 1 ]; then
  cat >> "$work/script.sh" <<EOF
echo "== density"
LAB_ROOTFS="$work/rootfs.ext4" LAB_DENSITY_BOXES="${LAB_DENSITY_BOXES:-10}" LAB_DENSITY_ENGINE="${LAB_DENSITY_ENGINE:-kvm}" \
  LAB_DENSITY_BEFORE="${LAB_DENSITY_BEFORE:-0}" LAB_DENSITY_SECTIONS="${LAB_DENSITY_SECTIONS:-reclaim target idle}" \
  LAB_DENSITY_PREP='${LAB_DENSITY_PREP:-true}' LAB_DENSITY_TRY='${LAB_DENSITY_TRY:-}' LAB_DENSITY_TRY_ENV='${LAB_DENSITY_TRY_ENV:-}' LAB_DENSITY_PAGES='${LAB_DENSITY_PAGES:-0}' sh "\$LAB_ROOT/tests/lab/density.sh"
EOF
fi
echo "exit 0" >> "$work/script.sh"

if { [ $arch = amd64 ] && grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; } ||
   { [ $arch = arm64 ] && [ "$(uname -m)" = aarch64 ] && [ -w /dev/kvm ]; }; then
  mode=direct
  say "this host has hardware virtualization: running directly, no lab"
  (LAB_L2_CMDLINE="" bash "$work/script.sh") 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
else
  mode=lab
  say "no vmx/svm on this host: running in the nested-KVM lab (tests/lab/run.sh)"
  files=("$vmm" "$vmlinux" "$initrd" "$root/$lab/lab_timeline"
         "$root/$lab/lab_client" "$work/rootfs.ext4" "$root/tests/lab/guest_boot.sh")
  [ $arch = amd64 ] && files+=("$root/$lab/kvm_probe")
  if [ $bench = 1 ] || [ $matrix = 1 ] || { [ $density = 1 ] && [ "${LAB_DENSITY_ENGINE:-kvm}" = qemu ]; }; then
    q=$(command -v qemu-system-x86_64) || fail "qemu-system-x86_64 missing"
    files+=("$q")
    # QEMU's microvm firmware and option ROMs (the names QEMU looks for under /usr/share/qemu).
    for f in qboot.rom bios-microvm.bin linuxboot_dma.bin pvh.bin; do
      [ -e "/usr/share/qemu/$f" ] && files+=("/usr/share/qemu/$f")
    done
  fi
  if [ $suite = 1 ] && [ $arch = arm64 ]; then
    files+=("$root/tests/lab/suite.sh" "$vmmtest" "$sysroot/usr/bin/qemu-img" "$sysroot/sbin/debugfs"
            "$sysroot/sbin/e2fsck" "$sysroot/sbin/mke2fs")
    [ -n "$loopko" ] && files+=("$loopko")
  elif [ $suite = 1 ]; then
    files+=("$root/tests/lab/suite.sh" "$kvmtest" "$kvmballoon" "$kvmsnap" "$vmmtest")
    [ $trace = 1 ] && files+=("$(command -v strace)")
    [ -n "$loopko" ] && files+=("$loopko")
    for t in qemu-img debugfs e2fsck; do
      p=$(command -v $t) || fail "$t missing (qemu-utils, e2fsprogs)"
      files+=("$p")
    done
  fi
  [ $density = 1 ] && files+=("$root/tests/lab/density.sh" "$root/tests/lab/procmem.sh")
  if [ $matrix = 1 ]; then
    # the CLI, its library (found by ldd) and what the library runs: mke2fs and debugfs build
    # the smoke box's disk
    files+=("$root/tests/lab/matrix.sh" "$root/tests/lab/procmem.sh" "$root/$build/bin/boxlite" "$root/$build/lib/libboxlite.so")
    for t in mke2fs debugfs; do
      p=$(command -v $t) || fail "$t missing (e2fsprogs)"
      files+=("$p")
    done
  fi
  printf '%s\n' "${files[@]}" > "$work/files"
  # The matrix's boxes keep images and disks in L1's memory, and doctor wants room.
  mem=${LAB_MEM:-2048}
  [ $matrix = 1 ] && mem=${LAB_MEM:-4096}
  # ten boxes of 512 MiB: each idle one costs little, but the first test peaks at 300 MiB
  [ $density = 1 ] && mem=${LAB_MEM:-3072}
  tests/lab/run.sh --arch $arch ${sysroot:+--sysroot "$sysroot"} --cpu "$cpu" --mem "$mem" --files "$work/files" --timeout "${LAB_TIMEOUT:-1200}" --script "$work/script.sh" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
fi
[ -n "$keep" ] && cp "$log" "$keep"

# ---- verdict and figures ------------------------------------------------------------------
# Timeline lines: "boot[ENGINE]: timeline: ready_ms=N cpu_to_ready_ms=N ... exit=N".
get() { echo "$1" | sed -n "s/.* $2=\(-\{0,1\}[0-9.]*\).*/\1/p"; }
line_of() { grep -m1 "^boot\[$1\]: timeline:" "$log" | sed 's/^[^:]*: //'; }
# The minimum of one key over an engine's rounds that reached ready.
best() { grep "^boot\[$1\]: timeline:" "$log" | grep -v 'ready_ms=-1 ' |
         sed -n "s/.* $2=\([0-9.]*\).*/\1/p" | sort -n | head -1; }
if [ $arch = amd64 ]; then
  [ "$rc" -eq 10 ] && fail "kvm_probe could not run guest code on /dev/kvm"
  grep -q "kvm_probe: ok" "$log" || fail "kvm_probe did not pass (exit $rc)"
fi
box=$(line_of box)
[ -n "$box" ] || fail "no timeline from our VMM (exit $rc)"
grep -q '^\[boot\[box\]\].*boxlite-agent: ready in' "$log" ||
  fail "the guest never reached the agent's ready mark under boxlite-vmm ($box)"
grep -q '^client: ok' "$log" || fail "the client's checks failed: $(grep -m1 '^client: FAIL' "$log")"
[ "$(get "$box" exit)" = 0 ] || fail "boxlite-vmm exited $(get "$box" exit) after the guest's power-off (expected 0)"

# The VMM's own figures (--stats, printed at its exit as JSON on its stdout).
stats=$(grep -m1 -o '{"engine":"kvm"[^}]*}' "$log")
js() { echo "$stats" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
rss_own=$(js rss_bytes)
rss_own_kib=$([ -n "$rss_own" ] && echo $((rss_own / 1024)))
say "PASS: boxlite-vmm booted the guest to the agent, a command ran in the container rootfs and its output and exit code came back, the VM powered off ($mode)"
echo "figure: agent ready, wall time from VMM start (console line): $(get "$box" ready_ms) ms"
echo "figure: agent ready (control page write), as the VMM measures it: $(js start_to_ready_ms) ms"
echo "figure: VMM start to first KVM_RUN: $(js start_to_first_run_ms) ms"
echo "figure: CPU template chosen by auto [$cpu]: $(echo "$stats" | sed -n 's/.*"cpu_template":"\([^"]*\)".*/\1/p')"
echo "figure: VM exits, whole run (boot, commands, power-off): $(js vm_exits)"
echo "figure: VMM CPU time to agent ready: $(get "$box" cpu_to_ready_ms) ms"
echo "figure: VMM RSS outside guest RAM (its own count): ${rss_own_kib:-?} KiB"
echo "figure: command round trip (best of 5): $(sed -n 's/^client: command round trip (best of 5): //p' "$log" | head -1)"
if [ $suite = 1 ] && [ $arch = amd64 ]; then
  kvm_counts=$(sed -n 's/^kvm_engine: \([0-9]* passed, [0-9]* failed.*\)/\1/p' "$log" | tail -1)
  echo "test_kvm_engine: ${kvm_counts:-did not finish}"
  [ "$kvm_counts" = "1 passed, 0 failed, 0 skipped" ] || fail "test_kvm_engine in the lab: $(grep '^kvm_engine: #' "$log" | tr '\n' ';')"
  balloon_counts=$(sed -n 's/^kvm_balloon: \([0-9]* passed, [0-9]* failed.*\)/\1/p' "$log" | tail -1)
  echo "test_kvm_balloon: ${balloon_counts:-did not finish}"
  grep -m1 '^kvm_balloon: # guest RAM resident' "$log" | sed 's/^kvm_balloon: # /figure: /'
  [ "$balloon_counts" = "2 passed, 0 failed, 0 skipped" ] || fail "test_kvm_balloon in the lab: $(grep '^kvm_balloon: #' "$log" | tr '\n' ';')"
  snap_counts=$(sed -n 's/^kvm_snapshot: \([0-9]* passed, [0-9]* failed.*\)/\1/p' "$log" | tail -1)
  echo "test_kvm_snapshot: ${snap_counts:-did not finish}"
  [ "$snap_counts" = "1 passed, 0 failed, 0 skipped" ] || fail "test_kvm_snapshot in the lab: $(grep '^kvm_snapshot: #' "$log" | tr '\n' ';')"
fi
if [ $suite = 1 ]; then
  counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  [ -n "$counts" ] || fail "the suite did not finish"
  echo "suite: $counts"
  grep -q '^[0-9]* passed, 0 failed' <<<"$counts" || fail "the suite failed: $(grep '^FAIL:' "$log" | tr '\n' ';')"
fi
if [ $matrix = 1 ]; then
  counts=$(sed -n 's/^matrix: \([0-9]* passed, [0-9]* failed\)$/\1/p' "$log" | tail -1)
  [ -n "$counts" ] || fail "the matrix did not finish"
  echo "matrix [$cpu]: $counts"
  grep -q '^[0-9]* passed, 0 failed' <<<"$counts" || fail "the matrix failed [$cpu]: $(grep '^FAIL:' "$log" | tr '\n' ';')"
fi
if [ $density = 1 ]; then
  counts=$(sed -n 's/^density: \([0-9]* passed, [0-9]* failed\)$/\1/p' "$log" | tail -1)
  [ -n "$counts" ] || fail "the density checks did not finish"
  echo "density: $counts"
  grep -q '^[0-9]* passed, 0 failed' <<<"$counts" || fail "the density checks failed: $(grep '^FAIL:' "$log" | tr '\n' ';')"
fi
if [ $mode = lab ]; then
  l1=$(sed -n 's/^lab: ready at uptime \([0-9.]*\) s.*/\1/p' "$log" | head -1)
  l1wall=$(sed -n 's/^lab: ready at uptime .*(wall \([0-9.]*\) s.*/\1/p' "$log" | head -1)
  l1end=$(sed -n 's/^lab: L1 ended after \([0-9.]*\) s.*/\1/p' "$log" | head -1)
  echo "figure: L1 boot to ready, KVM up: ${l1wall:-?} s wall (${l1:-?} s of L1 uptime)"
  echo "figure: L1 whole run (wall): ${l1end:-?} s"
  echo "note: in the lab L2 runs under nested KVM inside TCG ($([ $arch = arm64 ] && echo "arm64, VHE" || echo "SVM")): times are far above hardware's"
fi
if [ $bench = 1 ]; then
  ref=$(line_of qemu)
  [ -n "$ref" ] || fail "no timeline from the QEMU reference"
  grep -q '^\[boot\[qemu\]\].*boxlite-agent: ready in' "$log" || fail "the QEMU reference never reached the agent"
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "?" }'; }
  n_ours=$(grep -c "^boot\[ours\]: timeline:" "$log"); n_ref=$(grep -c "^boot\[qemu\]: timeline:" "$log")
  echo "bench: best of $n_ours boots (ours) and $n_ref (QEMU), same L1, alternating"
  ours=$(line_of ours)
  [ -n "$ours" ] || fail "no timeline from our VMM's bench boots"
  for v in "" -quiet; do
    for k in ready_ms cpu_to_ready_ms; do
      a=$(best "ours$v" $k); b=$(best "qemu$v" $k)
      echo "figure: $k${v:+ (guest kernel quiet)}: ours ${a:-?}, qemu ${b:-?}, ratio ours/qemu $(ratio "$a" "$b")"
    done
  done
  # RSS outside guest RAM: QEMU's from its smaps (guest RAM is its one mapping of the guest's
  # size); ours from the VMM's own count (of the bench boot without disk), since it maps the
  # kernel file over part of guest RAM, which splits guest RAM into several mappings an
  # outside rule cannot tell apart.
  stats=$(grep -o '{"engine":"kvm"[^}]*}' "$log" | sed -n 2p)
  rss_own=$(js rss_bytes)
  rss_own_kib=$([ -n "$rss_own" ] && echo $((rss_own / 1024)))
  b=$(get "$ref" rss_outside_guest_kib)
  echo "figure: rss_outside_guest_kib: ours ${rss_own_kib:-?}, qemu ${b:-?}, ratio ours/qemu $(ratio "$rss_own_kib" "$b")"
fi
exit 0
