#!/bin/bash
# The QEMU engine's figures on this machine (TCG here; KVM acceleration where the CPU has
# vmx/svm): boot to the agent's first console line and to agent-ready (the agent's HELLO on
# its channel), measured through engine_qemu_ops by bench/qemu_boot.c; and, once the CLI can
# run a command in a box, create-to-first-output through `boxlite run --engine qemu`.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BOXLITE_BUILD:-build}
runs=${BENCH_RUNS:-5}
command -v qemu-system-x86_64 >/dev/null || { echo "qemu: skipped (qemu-system-x86_64 not installed)"; exit 0; }
vmlinux=$(scripts/build-kernel.sh --cached-only 2>/dev/null) || { echo "qemu: skipped (no cached kernel)"; exit 0; }
initrd=$build/guest/initramfs.cpio.gz
[ -f "$initrd" ] || { echo "qemu: skipped (no $initrd: run make)"; exit 0; }

mkdir -p "$build/bench"
bin=$build/bench/qemu_boot
gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation \
  -Iinclude -Isrc -o "$bin" bench/qemu_boot.c src/vmm/qemu/*.c src/common/*.c \
  $(pkg-config --cflags --libs jansson) -lpthread || exit 1
"$bin" "$vmlinux" "$initrd" "$runs" || exit 1

# create-to-first-output through the whole stack (CLI, library, per-box process, agent).
cli=$build/bin/boxlite
if [ -x "$cli" ] && "$cli" --help 2>&1 | grep -qw run && [ -n "${BENCH_IMAGE:-}" ]; then
  start=$(date +%s%N)
  first=$("$cli" run --rm --engine qemu "$BENCH_IMAGE" echo first-output 2>/dev/null | head -c 12; date +%s%N)
  end=${first##*first-output}
  [ "${first:0:12}" = first-output ] &&
    echo "qemu/TCG create to first output (boxlite run $BENCH_IMAGE echo): $(( (end - start) / 1000000 )) ms"
else
  echo "qemu/TCG create to first output: n/a (needs \`boxlite run\` and BENCH_IMAGE=<local image>)"
fi
