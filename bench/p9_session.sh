#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The KVM engine's 9p session across a pause (bench/p9_session.c): save and restore time
# and size for P9_BENCH_FIDS fids (default 2000), what a resume pays instead of having the
# agent mount its volumes again. Builds against build/lib (run `make` first).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/lib/libvmm.a ] || { echo "build/lib/libvmm.a missing: run make"; exit 1; }
mkdir -p build/bench
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iinclude -Isrc \
  -o build/bench/p9_session bench/p9_session.c build/lib/libvmm.a build/lib/libcommon.a
dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/p9_session.XXXXXX")
trap 'rm -rf "$dir"' EXIT
echo "   (scratch: $dir on $(df --output=fstype "$dir" | tail -1))"
build/bench/p9_session "$dir" "${P9_BENCH_FIDS:-2000}" | sed 's/^/   /'
