#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `boxlite doctor`'s own run time on this machine: the checks alone (--no-smoke) and the whole
# run (checks, then a smoke box on every usable engine: start, 5 commands, stop), best of
# $BENCH_RUNS (default 3) each, and the smoke box's figures from the last run. A fresh home,
# so the first run also builds the smoke rootfs's disk base (reported apart). In the lab's L1
# the doctor's run time is printed by `make lab-matrix` (figure "boxlite doctor run time").
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BOXLITE_BUILD:-build}
runs=${BENCH_RUNS:-3}
B=$PWD/$build/bin/boxlite
[ -x "$B" ] || { echo "   doctor: skipped (no $B: run make)"; exit 0; }
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export BOXLITE_HOME=$home/home
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
t=$(date +%s%N); "$B" doctor --json > "$home/first.json" || { echo "   doctor: FAILED"; cat "$home/first.json"; exit 1; }
first=$(ms "$t")
best_checks="" best_all=""
for i in $(seq "$runs"); do
  t=$(date +%s%N); "$B" doctor --no-smoke > /dev/null; c=$(ms "$t")
  t=$(date +%s%N); "$B" doctor --json > "$home/last.json"; a=$(ms "$t")
  [ -z "$best_checks" ] || [ "$c" -lt "$best_checks" ] && best_checks=$c
  [ -z "$best_all" ] || [ "$a" -lt "$best_all" ] && best_all=$a
done
echo "   figure: doctor, checks only (--no-smoke), best of $runs: $best_checks ms"
echo "   figure: doctor, checks and smoke boxes, best of $runs: $best_all ms (first run, building the smoke disk base: $first ms)"
python3 - "$home/last.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for s in d["smoke"]:
    print("   figure: doctor smoke box on %s: start %.0f ms, guest ready %.0f ms after its VMM started, "
          "command round trip %.1f ms, CPU %s" % (s["engine"], s["start_ms"], s.get("vmm_start_to_ready_ms") or 0,
                                                  s["exec_round_trip_ms"], s["cpu_template"]))
PY
