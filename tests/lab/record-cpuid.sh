#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Records the KVM_GET_SUPPORTED_CPUID table of a lab L1 per QEMU CPU model (boxlite-vmm
# --cpuid inside L1, whose kvm-amd answers for the model QEMU's TCG emulates), as test data
# for the CPU template tests: tests/unit/vmm/cpuid/lab-<model>.txt. A developer's tool; the
# tables are committed.
#
# usage: tests/lab/record-cpuid.sh [MODEL...]   (default: max EPYC EPYC-Rome EPYC-Milan
#        Opteron_G3,+svm,+npt). Opteron_G4 and _G5 (Bulldozer) were tried: L1 never reached
#        its /init under TCG within 300 s.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
vmm=$root/${BOXLITE_BUILD:-build}/bin/boxlite-vmm
[ -x "$vmm" ] || { echo "record-cpuid: build $vmm first (make)" >&2; exit 1; }
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(max EPYC EPYC-Rome EPYC-Milan "Opteron_G3,+svm,+npt")
qver=$(qemu-system-x86_64 --version | head -1)
for m in "${models[@]}"; do
  name=$(echo "${m%%,*}" | tr 'A-Z' 'a-z')
  out=tests/unit/vmm/cpuid/lab-$name.txt
  tmp=$(mktemp)
  cat > "$tmp.sh" <<EOS
echo "# recorded in the nested-KVM lab by tests/lab/record-cpuid.sh on $(date -u +%Y-%m-%d):"
echo "# L1 = $qver, -accel tcg -cpu $m; kvm-amd of \$(uname -r);"
echo "# L1 CPU: \$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
"$vmm" --cpuid
EOS
  if tests/lab/run.sh --cpu "$m" --timeout 300 --file "$vmm" --script "$tmp.sh" > "$tmp" 2>"$tmp.err"; then
    grep -E '^(#|0x)' "$tmp" > "$out"
    echo "record-cpuid: $m -> $out ($(grep -c '^0x' "$out") entries)"
  else
    echo "record-cpuid: $m failed:" >&2; tail -20 "$tmp.err" >&2
  fi
  rm -f "$tmp" "$tmp.sh" "$tmp.err"
done
