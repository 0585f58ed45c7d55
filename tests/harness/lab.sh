# SPDX-License-Identifier: Apache-2.0
# The labs' box checks, one copy for the x86 lab (tests/e2e/lab_smoke.sh) and the ARM64 lab
# (tests/e2e/lab_arm64.sh): what tests/lab/lab-check.sh prints when the VMM booted the guest,
# a client ran a command in the container and the guest powered off. Sourced after lib.sh.

# lab_in_log LOG WHAT ERE: the ERE is in lab-check's output
lab_in_log() { check "$2" grep -qE "$3" "$1"; }

# lab_box_checks LOG GUEST: the box check's lines (GUEST names the guest in the check's name)
lab_box_checks() {
  local log=$1
  lab_in_log "$log" "boxlite-vmm booted $2 to the agent's ready mark" '^\[boot\[box\]\] .*boxlite-agent: ready in'
  lab_in_log "$log" "the client reached the agent through the box socket" '^client: connected'
  lab_in_log "$log" "a command in the container rootfs: output back" '^client: command output: hello from the lab rootfs as 0'
  lab_in_log "$log" "a command in the container rootfs: exit code back" '^client: command exit code: 7$'
  lab_in_log "$log" "the guest powered off and boxlite-vmm ended with status 0" '^boot\[box\]: timeline: .* exit=0$'
  lab_in_log "$log" "lab-check passed" '^lab-check: PASS'
}

# lab_suite_relay LOG: tests/lab/suite.sh's own "ok: " and "FAIL: " lines count here, and
# its counts line must be there (the suite finished)
lab_suite_relay() {
  local l
  while IFS= read -r l; do ok "${l#ok: }"; done < <(grep '^ok: ' "$1")
  while IFS= read -r l; do no "${l#FAIL: }"; done < <(grep '^FAIL: ' "$1")
  lab_in_log "$1" "the suite finished" '^[0-9]+ passed, [0-9]+ failed'
}
