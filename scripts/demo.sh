#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The main job on a fresh machine without internet: a local busybox OCI image (made from
# Debian's busybox-static by tests/fixtures/mkimages.py, kept under ~/.cache/boxlite/demo/)
# runs a command in a box through `boxlite run` (KVM engine with hardware virtualization,
# QEMU engine otherwise).   usage: scripts/demo.sh [COMMAND [ARG...]]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
demo="${BOXLITE_CACHE:-$HOME/.cache/boxlite}/demo"
if [ ! -f "$demo/busybox/index.json" ]; then
  rm -rf "$demo.tmp" && mkdir -p "$demo.tmp"
  python3 "$root/tests/fixtures/mkimages.py" "$demo.tmp" busybox >/dev/null
  rm -rf "$demo" && mv "$demo.tmp" "$demo"
fi
[ $# -gt 0 ] || set -- echo "hello from a BoxLite box"
exec "$root/build/bin/boxlite" run --rm "oci:$demo/busybox" "$@"
