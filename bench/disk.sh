#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Disk backend figures (bench/disk_bench.c): qcow2 overlay creation time, 4 KiB random
# write and sequential read throughput through our qcow2 code against raw.
# Builds the program against build/lib (run `make` first); BENCH_DIR picks the file system.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/lib/libdisk.a ] || { echo "build/lib/libdisk.a missing: run make"; exit 1; }
mkdir -p build/bench
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iinclude -Isrc \
  -o build/bench/disk_bench bench/disk_bench.c build/lib/libdisk.a build/lib/libcommon.a -lzstd
dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/disk_bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
echo "   (scratch: $dir on $(df --output=fstype "$dir" | tail -1))"
build/bench/disk_bench "$dir" | sed 's/^/   /'
