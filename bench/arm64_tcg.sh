#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Cross-architecture boxes (issue 18): an arm64 box on this x86_64 host runs on QEMU's
# -M virt under TCG. Figure: create to first output through the whole stack
# (`boxlite run --rm --platform linux/arm64 IMG echo`, the image already pulled and its
# base built), beside the same for the host's own platform under the same engine.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BOXLITE_BUILD:-build}
runs=${BENCH_RUNS:-3}
B="$PWD/$build/bin/boxlite"
[ -x "$B" ] || { echo "arm64_tcg: skipped (no $B: run make)"; exit 0; }
[ "$(uname -m)" = x86_64 ] || { echo "arm64_tcg: skipped (host is $(uname -m))"; exit 0; }
command -v qemu-system-aarch64 >/dev/null || { echo "arm64_tcg: skipped (qemu-system-aarch64 not installed)"; exit 0; }
scripts/build-kernel.sh --arch arm64 --cached-only >/dev/null 2>&1 || { echo "arm64_tcg: skipped (no cached arm64 kernel)"; exit 0; }
arm=$(tests/fixtures/arm64-busybox.sh --cached-only 2>/dev/null) || { echo "arm64_tcg: skipped (no arm64 busybox fixture)"; exit 0; }
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
trap 'tests/fixtures/registry.sh stop "$work/reg" >/dev/null 2>&1; rm -rf "$work"' EXIT
BOXLITE_ARM64_BUSYBOX=$arm python3 tests/fixtures/mkimages.py "$work/fx" busybox-multiarch >/dev/null || exit 1
port=$(tests/fixtures/registry.sh start "$work/reg" $$) || exit 1
tests/fixtures/registry.sh push "$work/reg" "$work/fx/busybox-multiarch" multi:latest --all >/dev/null || exit 1
img=127.0.0.1:$port/multi:latest

measure() { # PLATFORM: median ms of `run --rm` to its output, after one warm-up (the pull)
  local plat=$1 t0 t1 out ms=()
  "$B" run --rm --engine qemu --platform "$plat" "$img" true >/dev/null 2>&1 || return 1
  for _ in $(seq "$runs"); do
    t0=$(date +%s%N)
    out=$("$B" run --rm --engine qemu --platform "$plat" "$img" echo first-output 2>/dev/null)
    t1=$(date +%s%N)
    [ "$out" = first-output ] || return 1
    ms+=($(( (t1 - t0) / 1000000 )))
  done
  printf '%s\n' "${ms[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%d ms (median of %d; min %d, max %d)", a[int((NR+1)/2)], NR, a[1], a[NR]}'
}
# the host's own platform first: the same image's amd64 variant under the same engine
echo "host platform (linux/amd64, QEMU engine) box create to first output: $(measure linux/amd64 || echo failed)"
# a box of another platform replaces the image record (docker pull --platform's rule), so
# each measure's warm-up pulls its variant again
echo "cross-arch (linux/arm64 on x86_64, -M virt TCG) box create to first output: $(measure linux/arm64 || echo failed)"
