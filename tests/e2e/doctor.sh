#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `boxlite doctor` on this host: every check says its status and a fix, the verdict follows
# the engines this host really has (here: no vmx/svm, so KVM is not usable and a smoke box
# boots on QEMU with TCG; on a host with hardware virtualization both engines must boot),
# --json carries the same, a broken set-up (no guest kernel, a home others can write) is
# reported as such; boxlite-vmm's --check --json, --cpu-templates and --cpuid answer. Inside
# the lab's L1 (KVM usable, both engines boot) the same command is checked by
# tests/e2e/lab_matrix.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
. tests/harness/lib.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "$build/bin/boxlite (make)" test -x "$build/bin/boxlite"
need "a static busybox (busybox-static)" test -x /bin/busybox
B=$PWD/$build/bin/boxlite
V=$PWD/$build/bin/boxlite-vmm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export BOXLITE_HOME=$tmp/home

hw=0
grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ] && hw=1

"$B" doctor > "$tmp/out" 2>&1
rc=$?
cat "$tmp/out" | sed 's/^/doctor: /'
expect "doctor: exit status on a host where boxes can run" 0 "$rc"
# every line: a status, a name, a detail; warnings and failures with a fix
bad_lines=$(grep -vcE '^(ok|info|warn|fail) +[^:]+: .+|^boxes can run here' "$tmp/out")
expect "doctor: every line is STATUS NAME: DETAIL" 0 "$bad_lines"
nofix=$(grep -E '^(warn|fail) ' "$tmp/out" | grep -vc '(fix: ')
expect "doctor: every warning and failure says how to fix it" 0 "$nofix"
for n in "cpu virtualization" "guest kernel and initramfs" "engine qemu" "engine auto" qemu cgroups \
         "user namespaces" seccomp home "free disk"; do
  check "doctor: checks $n" grep -qE "^(ok|info|warn|fail) +$n: " "$tmp/out"
done
has "doctor: the QEMU version" "QEMU emulator version" "$tmp/out"
if [ $hw = 1 ]; then
  check "doctor: vmx/svm found" grep -qE '^ok +cpu virtualization: (vmx|svm)' "$tmp/out"
  check "doctor: /dev/kvm usable" grep -q '^ok    /dev/kvm: opens read-write' "$tmp/out"
  check "doctor: a smoke box on the KVM engine" grep -qE '^ok +smoke kvm: .*CPU (v3|baseline)' "$tmp/out"
  check "doctor: a smoke box on QEMU with KVM" grep -q '^ok    smoke qemu: .*CPU qemu:host' "$tmp/out"
else
  check "doctor: reports no vmx/svm" grep -q '^warn  cpu virtualization: the CPU has no vmx or svm flag' "$tmp/out"
  check "doctor: the KVM engine is not usable, and why" grep -q '^info  engine kvm: not usable: the CPU has no hardware virtualization' "$tmp/out"
  check "doctor: QEMU usable with TCG" grep -q '^ok    engine qemu: usable (TCG: emulation)' "$tmp/out"
  check "doctor: auto chooses QEMU" grep -q '^ok    engine auto: qemu' "$tmp/out"
  check "doctor: a smoke box booted on QEMU/TCG, with its figures" \
    grep -qE '^ok    smoke qemu: box started in [0-9]+ ms \(guest ready [0-9]+ ms after its VMM started\), command round trip [0-9.]+ ms, CPU qemu:max$' "$tmp/out"
  check "doctor: no smoke box on KVM" bash -c "! grep -q 'smoke kvm' '$tmp/out'"
fi
check "doctor: says how long it took" grep -qE '^boxes can run here: doctor took [0-9.]+ s$' "$tmp/out"
expect "doctor: left no box behind" "[]" "$("$B" ps -a --json)"

# --json: the same, for machines
"$B" doctor --json > "$tmp/json" 2>"$tmp/json.err"
expect "doctor --json: exit status" 0 "$?"
check "doctor --json: one JSON document with checks, engines, smoke, elapsed_ms, ok" python3 - "$tmp/json" "$hw" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
hw = sys.argv[2] == "1"
assert d["ok"] is True, d["ok"]
assert d["elapsed_ms"] > 0
assert all(set(c) == {"name", "status", "detail", "fix"} for c in d["checks"]), d["checks"]
assert all(c["status"] in ("ok", "info", "warn", "fail") for c in d["checks"])
assert d["engines"]["selected"] == ("kvm" if hw else "qemu"), d["engines"]["selected"]
engines = [s["engine"] for s in d["smoke"]]
assert engines == (["kvm", "qemu"] if hw else ["qemu"]), engines
for s in d["smoke"]:
    assert s["ok"] is True and s["exec_round_trip_ms"] > 0 and s["start_ms"] > 0, s
    assert s["cpu_template"] in (("v3", "baseline") if s["engine"] == "kvm" else ("qemu:host" if hw else "qemu:max",)), s
EOF

"$B" doctor --no-smoke > "$tmp/nosmoke" 2>&1
expect "doctor --no-smoke: exit status" 0 "$?"
check "doctor --no-smoke: boots nothing" bash -c "! grep -q '^.....smoke' '$tmp/nosmoke'"

# A broken set-up is reported as broken.
BOXLITE_KERNEL=$tmp/no-such-vmlinux "$B" doctor > "$tmp/broken" 2>&1
expect "doctor without a guest kernel: exit status 1" 1 "$?"
check "doctor without a guest kernel: names it, with the fix" \
  grep -qE "^fail  guest kernel and initramfs: guest kernel not found at $tmp/no-such-vmlinux .*\(fix: run scripts/setup.sh" "$tmp/broken"
check "doctor without a guest kernel: the smoke box fails" grep -q '^fail  smoke qemu: ' "$tmp/broken"
mkdir -p "$tmp/open" && chmod 777 "$tmp/open"
"$B" --home "$tmp/open" doctor --no-smoke > "$tmp/open.out" 2>&1
check "doctor: a home others can write is a warning with a fix" \
  grep -qE "^warn  home: $tmp/open is writable by others \(mode 777\).*\(fix: chmod go-w" "$tmp/open.out"
"$B" doctor --engine xen > "$tmp/badopt" 2>&1
expect "doctor --engine xen: usage error" 125 "$?"
has "doctor --engine xen: says what is expected" "expected kvm or qemu" "$tmp/badopt"

# boxlite-vmm's own diagnostics, which the doctor builds on
"$V" --check --json > "$tmp/check.json"
check "boxlite-vmm --check --json: engines, kvm, qemu" python3 -c "
import json,sys; d=json.load(open('$tmp/check.json'))
assert [e['name'] for e in d['engines']] == ['kvm','qemu']; assert 'kvm' in d and 'qemu' in d"
"$V" --cpu-templates > "$tmp/tpl"
check "boxlite-vmm --cpu-templates: v3, baseline, host" grep -qE '^host: ' "$tmp/tpl"
has "boxlite-vmm --cpu-templates: v3 requires avx2 (CPUID 7.0 EBX bit 5)" "avx2(0x7.0:ebx[5])" "$tmp/tpl"
"$V" --cpu-templates v4 > /dev/null 2>"$tmp/tpl.err"
expect "boxlite-vmm --cpu-templates v4: unknown" 1 "$?"
if [ -e /dev/kvm ]; then
  "$V" --cpuid > "$tmp/cpuid"
  check "boxlite-vmm --cpuid: a table" grep -q '^# boxlite cpuid table 1' "$tmp/cpuid"
else
  "$V" --cpuid > /dev/null 2>"$tmp/cpuid.err"
  expect "boxlite-vmm --cpuid without /dev/kvm: status 1" 1 "$?"
  has "boxlite-vmm --cpuid without /dev/kvm: says why" "/dev/kvm:" "$tmp/cpuid.err"
fi
# The runtime's QEMU (boxlite --qemu PATH: the "qemu" setting, boxlite_host_check_with) is
# the one checked, not the environment's.
"$B" --qemu "$tmp/no-such-qemu" doctor --no-smoke > "$tmp/q.out" 2>&1
qrc=$?
check "doctor --qemu MISSING: a failure (status $qrc)" test "$qrc" -ne 0
check "doctor --qemu MISSING: engine qemu fails naming it" \
  grep -qE "^fail +engine qemu: not usable: qemu_binary $tmp/no-such-qemu " "$tmp/q.out"
BOXLITE_QEMU=$tmp/no-such-qemu "$B" --qemu "$(command -v qemu-system-x86_64)" doctor --no-smoke \
  > "$tmp/q2.out" 2>&1
expect "doctor --qemu PATH wins over BOXLITE_QEMU: exit status" 0 "$?"
check "doctor --qemu PATH wins over BOXLITE_QEMU: engine qemu usable" \
  grep -qE "^ok +engine qemu: usable" "$tmp/q2.out"
"$V" --qemu "$tmp/no-such-qemu" --check --json > "$tmp/qcheck.json"
check "boxlite-vmm --qemu PATH --check --json: answers for that binary" python3 -c "
import json; d=json.load(open('$tmp/qcheck.json')); q=d['qemu']
assert 'binary' not in q and '$tmp/no-such-qemu' in q['why'], q
assert [e['available'] for e in d['engines'] if e['name'] == 'qemu'] == [False]"
"$B" --qemu 2> "$tmp/q3.err"
expect "boxlite --qemu without a path: a usage error" 125 "$?"
finish
