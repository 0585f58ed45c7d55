#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Density on our KVM engine (issue 21), in one run of the nested-KVM lab (or directly on a
# host with hardware virtualization): memory given back to the host after a guest frees
# 300 MiB and how long it takes, the RSS of a box held to a 128 MiB balloon target, and host
# memory (RSS and PSS) per idle box for $LAB_DENSITY_BOXES (10) boxes of 512 MiB, with free
# page reporting and without (before). tests/lab/density.sh does the work; the guest kernel
# needs virtio-balloon ($LAB_KERNEL, else the cached one).
set -uo pipefail
cd "$(dirname "$0")/.."
if ! grep -qwE 'vmx|svm' /proc/cpuinfo && ! tests/lab/setup.sh --cached-only >/dev/null 2>&1; then
  echo "   lab_density: skipped (no lab set up: tests/lab/setup.sh)"; exit 0
fi
k=${LAB_KERNEL:-$(scripts/build-kernel.sh --cached-only 2>/dev/null)}
if [ -z "$k" ] || ! grep -q virtio_balloon "$k"; then
  echo "   lab_density: skipped (the guest kernel has no virtio-balloon driver: ${k:-none cached})"; exit 0
fi
out=$(LAB_KERNEL="$k" LAB_DENSITY_BEFORE=1 LAB_TIMEOUT=${LAB_TIMEOUT:-2400} tests/lab/lab-check.sh --density 2>&1)
rc=$?
if [ $rc -ne 0 ]; then echo "   lab_density: FAILED (lab-check exit $rc)"; echo "$out" | tail -40; exit 1; fi
echo "$out" | grep -E '^(figure|density|lab: ready|lab: L1)' | sed 's/^/   /'
