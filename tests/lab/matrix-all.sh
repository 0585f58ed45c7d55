#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make lab-matrix: the CPU matrix over every QEMU CPU model the lab's TCG runs with SVM, one
# L1 boot per model (tests/lab/lab-check.sh --matrix): on each, a box per CPU template (v3,
# baseline, host), the fallback to QEMU with -accel kvm, boxlite doctor; then a model with
# AVX2 and BMI2 taken away, where "auto" must choose baseline and v3 must be refused naming
# them. Ends with a table of the figures: boot to ready and command round trip per model and
# template, doctor's run time. Takes 10 to 20 minutes here.
#   LAB_MODELS="max EPYC ..." chooses the models.
set -uo pipefail
cd "$(dirname "$0")/../.."
models=${LAB_MODELS:-max EPYC EPYC-Rome EPYC-Milan}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
rc=0
i=0
for m in $models; do
  i=$((i + 1))
  echo "== $m"
  tests/lab/lab-check.sh --cpu "$m" --matrix > "$logs/$i.log" 2>&1 || rc=1
  grep -E '^(ok|FAIL): |^matrix \[|^lab-check: (PASS|FAIL)' "$logs/$i.log"
done
# A host lacking v3's AVX2 and BMI2: auto picks baseline; v3 is refused, naming them.
m="EPYC-Rome,-avx2,-bmi2"
echo "== $m"
LAB_TEMPLATES="baseline" LAB_UNSATISFIED="v3:avx2 v3:bmi2" LAB_SECTIONS="templates" \
  tests/lab/lab-check.sh --cpu "$m" --matrix > "$logs/x.log" 2>&1 || rc=1
grep -E '^(ok|FAIL): |^matrix \[|^lab-check: (PASS|FAIL)' "$logs/x.log"
grep -q '^figure: CPU template chosen by auto \[EPYC-Rome,-avx2,-bmi2\]: baseline$' "$logs/x.log" &&
  echo "ok: [$m] auto chose baseline" || { echo "FAIL: [$m] auto did not choose baseline"; rc=1; }
echo
echo "== figures (boot to ready as boxlite-vmm measures it; round trip best of 5)"
cat "$logs"/*.log | grep -E '^figure: (\[|CPU template chosen|L1 boot)' | sed 's/^figure: //'
exit $rc
