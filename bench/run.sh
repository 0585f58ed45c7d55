#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make bench: runs every benchmark under bench/ and prints its figures with units.
# A benchmark is an executable bench/*.sh (or a program built to build/bench/) that prints
# lines "figure: value unit"; none is timed inside a test.
set -uo pipefail
cd "$(dirname "$0")/.."
rc=0
for b in bench/*.sh; do
  # not benchmarks: this runner, and vmm_smaps.sh (a breakdown bench/vmm.sh runs on a PID)
  case $b in bench/run.sh|bench/vmm_smaps.sh) continue ;; esac
  echo "== $(basename "$b" .sh)"
  bash "$b" || { echo "   (failed: exit $?)"; rc=1; }
done
exit $rc
