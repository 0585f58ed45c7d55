#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The host side cross-built for aarch64 (issue 18), proven to work, not only to link:
# `make ARCH=aarch64` (Debian's cross compiler, the arm64 sysroot of scripts/arm64-sysroot.sh)
# builds everything host-side that the x86_64 build builds, `file` says aarch64 for each, and
# the aarch64 binaries run under qemu-aarch64 (user mode, Debian's qemu-user) with the
# sysroot's libraries: the CLI and boxlite-runtime answer, and the unit tests of every
# component pass (curl, libarchive, sqlite, ext2fs, isal, microhttpd, openssl, libslirp at
# work against real registries, disks and sockets on this host). What user-mode emulation
# cannot do (namespaces, /dev/kvm of another architecture, seccomp filters, posix_spawn's
# exec errors: qemu-user runs vfork as fork) is listed below and printed as skips, each
# with where it is proven; the aarch64 KVM engine itself is tests/e2e/lab_arm64.sh's.
# CROSS_UNIT="COMP|COMP/TEST ...": only those unit tests; CROSS_UNIT=all: every one (about
# 10 minutes emulated, runtime/test_snapshot alone 4.5: too long for CI, whose default is the
# components that exercise the sysroot's libraries, not the VMM's or the runtime's tests,
# which boot QEMU boxes from an emulated host; the x86_64 unit run proves those).
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
abuild=$build/arm64
. tests/harness/lib.sh
need_cmd aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
need_cmd qemu-aarch64 qemu-user
need "the arm64 sysroot (scripts/arm64-sysroot.sh)" scripts/arm64-sysroot.sh --cached-only
need "the x86_64 build in $build (make)" test -x "$build/bin/boxlite"
sysroot=$(scripts/arm64-sysroot.sh --cached-only)

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if make --no-print-directory -s -j2 ARCH=aarch64 O="$abuild" all bins-unit >"$log" 2>&1; then
  ok "make ARCH=aarch64 O=$abuild all bins-unit"
else
  no "make ARCH=aarch64 O=$abuild all bins-unit" "$(tail -20 "$log")"
fi

# Every host-side output of the x86_64 build, in the aarch64 build and for aarch64.
for f in bin/boxlite bin/boxlite-runtime bin/boxlite-vmm "lib/$(readlink "$build/lib/libboxlite.so.0")" \
         tests/boxlite-vmm-test $( [ -f "$build/node/boxlite.node" ] && echo node/boxlite.node); do
  has "$f is an aarch64 ELF" "ARM aarch64" <(file -L "$abuild/$f" 2>&1)
done
nx=$(ls tests/unit/*/test_*.c | grep -vc /test_x86_)
na=$(find "$abuild/tests/unit" -type f -executable 2>/dev/null | wc -l)
expect "a unit test binary for every tests/unit/*/test_*.c but test_x86_*" "$nx" "$na"

emu() { QEMU_LD_PREFIX=$sysroot BOXLITE_FIXTURE_ARCH=arm64 timeout 300 qemu-aarch64 "$@"; }
out=$(emu "$abuild/bin/boxlite" --version 2>&1)
expect "boxlite --version (aarch64, qemu-aarch64)" "boxlite $(sed -n 's/^#define BOXLITE_VERSION "\(.*\)"/\1/p' include/boxlite.h)" "$out"
out=$(emu "$abuild/bin/boxlite-runtime" --version 2>&1)
has "boxlite-runtime --version names the library it loaded" "libboxlite: " <(echo "$out")
out=$(BOXLITE_HOME=$(mktemp -d) emu "$abuild/bin/boxlite" images 2>&1); rc=$?
expect "boxlite images on an empty home (sqlite): status" 0 "$rc"

# What user-mode emulation cannot do: a whole binary (comp/test) or one test (comp/test:name).
declare -A limit=(
  [agent/test_container]="the container's namespaces and pid 1 (qemu-user has no CLONE_NEWPID/mount emulation); proven by the x86_64 unit run and tests/e2e/lab_arm64.sh (the arm64 agent runs a container in L2)"
  [agent/test_container_exit]="as agent/test_container; proven by the x86_64 unit run and tests/e2e/arm64_tcg.sh"
  [agent/test_disk]="resize2fs and mounts of a loop device; proven by the x86_64 unit run and tests/e2e/agent_disk.sh"
  [vmm/test_kvm_boot]="this host's /dev/kvm is x86_64's; proven by tests/e2e/lab_arm64.sh (aarch64 KVM in the ARM64 lab)"
  [vmm/test_kvm_select]="this host's /dev/kvm is x86_64's; proven by tests/e2e/lab_arm64.sh"
  [vmm/test_seccomp]="qemu-user does not apply seccomp filters; proven by tests/e2e/lab_arm64.sh (Seccomp 2 and SIGSYS in the suite)"
  [oci/test_seccomp:spec_carries_seccomp_and_namespace_types]="qemu-user does not pass the nsfs ioctl NS_GET_NSTYPE (a namespace path's type); proven by the x86_64 unit run"
  [vmm/test_qemu_agent]="starts qemu-system-aarch64 with -accel kvm or a guest the emulated host cannot give; proven by tests/e2e/arm64_tcg.sh and the x86_64 unit run"
  [vmm/test_qemu_engine]="as vmm/test_qemu_agent; proven by tests/e2e/arm64_tcg.sh and the x86_64 unit run"
  [vmm/test_qemu_memory]="as vmm/test_qemu_agent; proven by the x86_64 unit run"
  [vmm/test_qemu_parse]="as vmm/test_qemu_agent; proven by the x86_64 unit run"
  [common/test_helpers:proc_stat_reads_this_process_and_not_a_missing_one]="qemu-user's /proc/self/stat has no process state; proven by the x86_64 unit run"
  [image/test_auth:credential_helpers_as_docker_runs_them]="qemu-user runs posix_spawn's vfork as fork, so a missing program is exit 127, not ENOENT; proven by the x86_64 unit run"
  [image/test_ext4build:unprivileged_user_builds_root_owned_image]="as nobody the test cannot read the sysroot's libraries under /root, and libarchive is loaded on first use (after the test's setuid); proven by the x86_64 unit run"
  [image/test_registry:credential_helper_logs_in]="as image/test_auth; proven by the x86_64 unit run"
  [runtime/test_settings:qemu_option_wins_over_boxlite_qemu_and_reaches_the_host_check]="as image/test_auth (posix_spawn); proven by the x86_64 unit run"
)
units=${CROSS_UNIT:-common client serve image disk oci proto}
[ -n "${CROSS_UNIT:-}" ] || echo "skip: unit/{agent,runtime,vmm} under qemu-aarch64: CROSS_UNIT=all runs them (about 10 minutes emulated); proven by the x86_64 unit run"
for t in $(find "$abuild/tests/unit" -type f -executable | sort); do
  name=$(basename "$(dirname "$t")")/$(basename "$t")
  case " $units " in
    " all ") ;;
    *" ${name%%/*} "*|*" $name "*) ;;
    *) continue ;;
  esac
  if [ -n "${limit[$name]:-}" ]; then echo "skip: unit/$name under qemu-aarch64: ${limit[$name]}"; continue; fi
  start=$SECONDS
  emu "$t" >"$log" 2>&1 </dev/null
  rc=$?
  unexpected=()
  while IFS= read -r tc; do
    if [ -n "${limit[$name:$tc]:-}" ]; then echo "skip: unit/$name:$tc under qemu-aarch64: ${limit[$name:$tc]}"
    else unexpected+=("$tc"); fi
  done < <(sed -n 's/^not ok [0-9]* - //p' "$log")
  counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [ -n "$counts" ] && [ ${#unexpected[@]} -eq 0 ] && { [ $rc = 0 ] || [ $rc = 1 ]; }; then
    ok "unit/$name under qemu-aarch64: $counts ($((SECONDS - start)) s)"
  else
    # each unexpected failure with the lines before it: its checks, and a timed-out
    # test's last words (its helpers' stderr)
    no "unit/$name under qemu-aarch64 (status $rc): ${counts:-no counts}" \
      "$(for tc in "${unexpected[@]}"; do grep -B8 -E "^not ok [0-9]+ - $tc\$" "$log" | grep -v '^ok '; done | head -16)"
  fi
done
finish
