#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tests/lab/run.sh itself: a command in L1 gets the files it was given, its output comes back
# line by line and its exit status becomes run.sh's; it works with stdin closed (as in CI);
# --timeout ends an L1 whose command never ends (status 124). Two L1 boots, under a minute
# when the machine is idle. Skipped (77) when QEMU or the lab's kernel package is missing.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need "the lab (tests/lab/setup.sh)" tests/lab/setup.sh
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# 1. files, output, exit status, /dev/kvm, stdin closed
echo "a file from the host" > "$dir/data.txt"
cat > "$dir/script.sh" <<SCRIPT
cat "$dir/data.txt"
[ -c /dev/kvm ] && echo "kvm device present"
echo "L2 options: \$LAB_L2_CMDLINE"
echo "to stderr" >&2
exit 42
SCRIPT
tests/lab/run.sh --timeout 300 --file "$dir/data.txt" --script "$dir/script.sh" >"$dir/out" 2>"$dir/err" <&-
rc=$?
[ $rc -eq 42 ] && ok "the command's exit status comes back (42)" || no "exit status $rc, expected 42"
grep -qx "a file from the host" "$dir/out" && ok "a host file given with --file is there" || no "file content missing"
grep -qx "kvm device present" "$dir/out" && ok "/dev/kvm exists in L1" || no "no /dev/kvm in L1"
grep -qE "^L2 options: .*tsc_early_khz=[0-9]+ lpj=[0-9]+" "$dir/out" && ok "\$LAB_L2_CMDLINE is set" || no "\$LAB_L2_CMDLINE missing"
grep -qx "to stderr" "$dir/out" && ok "the command's stderr comes back too" || no "stderr missing"
grep -q "Nested Paging enabled" "$dir/err" && ok "kvm-amd reports nested paging" || no "no nested paging in: $(cat "$dir/err")"
if [ $fail -gt 0 ]; then echo "---- stdout"; cat "$dir/out"; echo "---- stderr"; cat "$dir/err"; fi

# 2. a command that never ends: --timeout ends L1, status 124, in bounded time
start=$SECONDS
tests/lab/run.sh --timeout 40 -- sleep 100000 >"$dir/out" 2>"$dir/err" </dev/null
rc=$?
[ $rc -eq 124 ] && ok "--timeout ends L1 (status 124 after $((SECONDS - start)) s)" ||
  { no "timeout: status $rc"; cat "$dir/err"; }

finish
