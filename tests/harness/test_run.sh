#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tests/run.sh itself, on fabricated suites: for each way a suite can end (counts and exit
# status agreeing or not, a crash without counts, a skip with and without a reason, pytest's
# summary), the closing line and run.sh's exit status must agree with what happened.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# scenario NAME UNIT-SCRIPT E2E-SCRIPT [ENV...]: a fake build with one unit "binary" and one
# e2e script, each a shell script given as text; runs run.sh on them (unit + e2e only).
scenario() {
  local name=$1 unit=$2 e2e=$3; shift 3
  local d=$work/$name
  mkdir -p "$d/build/tests/unit/fake" "$d/e2e" "$d/logs"
  if [ -n "$unit" ]; then printf '#!/bin/bash\n%s\n' "$unit" >"$d/build/tests/unit/fake/test_x"; chmod +x "$d/build/tests/unit/fake/test_x"; fi
  [ -n "$e2e" ] && printf '%s\n' "$e2e" >"$d/e2e/x.sh"
  for o in unit e2e; do
    env -u CI -u BOXLITE_TEST_STRICT RUN_SELF=0 RUN_E2E_DIR="$d/e2e" RUN_LOGS="$d/logs" "$@" \
      bash tests/run.sh --only $o "$d/build" >>"$d/out" 2>&1
    echo "rc=$?" >>"$d/out"
  done
  out=$d/out
}
# last LINE: the closing line of the Nth run (1 unit, 2 e2e)
closing() { grep -E 'total: ' "$out" | sed -n "${1}p"; }
rc_of() { grep '^rc=' "$out" | sed -n "${1}p" | cut -d= -f2; }

scenario pass 'echo "ok 1 - a"; echo "3 passed, 0 failed, 0 skipped"; exit 0' 'echo "2 passed, 0 failed"; exit 0'
expect "all pass: unit closing line" "unit cases 3 passed 0 failed 0 skipped | total: 3 passed, 0 failed, 0 skipped" "$(closing 1)"
expect "all pass: unit status 0" 0 "$(rc_of 1)"
expect "all pass: e2e closing line" "e2e checks 2 passed 0 failed 0 skipped | total: 2 passed, 0 failed, 0 skipped" "$(closing 2)"
expect "all pass: e2e status 0" 0 "$(rc_of 2)"

scenario nonzero 'echo "3 passed, 0 failed, 0 skipped"; exit 1' 'echo "2 passed, 0 failed"; exit 3'
expect "non-zero exit with '0 failed' (unit) is a failure" "unit cases 3 passed 1 failed 0 skipped | total: 3 passed, 1 failed, 0 skipped" "$(closing 1)"
expect "  and run.sh fails" 1 "$(rc_of 1)"
expect "non-zero exit with '0 failed' (e2e) is a failure" "e2e checks 2 passed 1 failed 0 skipped | total: 2 passed, 1 failed, 0 skipped" "$(closing 2)"
expect "  and run.sh fails" 1 "$(rc_of 2)"
has "  and the suite is named with the reason" "failed: e2e/x.sh (exited 3 although its counts say 0 failed)" "$out"

scenario counted 'echo "3 passed, 2 failed, 0 skipped"; exit 1' 'echo "1 passed, 1 failed"; exit 1'
expect "counted failures are counted once (unit)" "unit cases 3 passed 2 failed 0 skipped | total: 3 passed, 2 failed, 0 skipped" "$(closing 1)"
expect "counted failures are counted once (e2e)" "e2e checks 1 passed 1 failed 0 skipped | total: 1 passed, 1 failed, 0 skipped" "$(closing 2)"
expect "  and run.sh fails" 1 "$(rc_of 2)"

scenario named 'echo "not ok 2 - the unit case"; echo "1 passed, 1 failed, 0 skipped"; exit 1' 'echo "not ok - the e2e check"; for i in $(seq 200); do echo filler; done; echo "0 passed, 1 failed"; exit 1'
expect "a failed check is repeated on the runner's last lines (unit)" "failed:   unit/fake/test_x: not ok 2 - the unit case" "$(grep -A3 '^failed: unit/fake/test_x$' "$out" | sed -n 2p)"
expect "  (e2e, past the printed tail of its log)" "failed:   e2e/x.sh: not ok - the e2e check" "$(tail -n 3 "$out" | head -1)"

# A fuzz target that finds something: its input is repeated on the last lines (base64), with
# the sanitizer's SUMMARY; a stale artifact of an earlier run is not reported.
fz=$work/fuzz
mkdir -p "$fz/bin" "$fz/logs"
cat >"$fz/bin/fuzz_fake" <<'SH'
#!/bin/bash
for a; do case $a in -artifact_prefix=*) p=${a#-artifact_prefix=} ;; esac; done
printf 'hello' >"${p}crash-0123"
echo "==1== ERROR: libFuzzer: deadly signal"; echo "SUMMARY: libFuzzer: deadly signal"; exit 1
SH
printf '#!/bin/bash\nexit 0\n' >"$fz/bin/fuzz_good"
chmod +x "$fz/bin/fuzz_fake" "$fz/bin/fuzz_good"
printf 'old' >"$fz/logs/fuzz-fuzz_good-crash-stale"
env -u CI -u BOXLITE_TEST_STRICT RUN_SELF=0 RUN_FUZZ_DIR="$fz/bin" RUN_LOGS="$fz/logs" FUZZ_SECONDS=1 \
  bash tests/run.sh --only fuzz >"$fz/out" 2>&1
expect "a fuzz finding fails the run" "fuzz targets 1 passed 1 failed 0 skipped | total: 1 passed, 1 failed, 0 skipped" "$(grep 'total: ' "$fz/out")"
has "  its input is on the last lines, in base64" "failed:   fuzz/fuzz_fake: fuzz-fuzz_fake-crash-0123 (5 bytes; base64): aGVsbG8=" "$fz/out"
has "  with the sanitizer's summary" "failed:   fuzz/fuzz_fake (1s): SUMMARY: libFuzzer: deadly signal" "$fz/out"
expect "  and a stale artifact of an earlier run is not reported" 0 "$(grep -c crash-stale "$fz/out")"

scenario lying 'echo "3 passed, 1 failed, 0 skipped"; exit 0' 'echo "4 passed, 2 failed"; exit 0'
expect "counts with failures but exit 0 is still a failure" 1 "$(rc_of 1)"
expect "  (e2e too)" 1 "$(rc_of 2)"

scenario crash 'echo "ok 1 - a"; kill -SEGV $$' 'echo "half way"; exit 139'
expect "a unit binary that crashes before its counts fails" "unit cases 0 passed 1 failed 0 skipped | total: 0 passed, 1 failed, 0 skipped" "$(closing 1)"
expect "  and run.sh fails" 1 "$(rc_of 1)"
expect "an e2e script without counts that fails counts one failure" "e2e checks 0 passed 1 failed 0 skipped | total: 0 passed, 1 failed, 0 skipped" "$(closing 2)"

scenario nocounts 'echo "ok 1 - a"; exit 0' 'echo fine; exit 0'
expect "a unit binary without counts fails even with exit 0" 1 "$(rc_of 1)"
expect "an e2e script without counts that exits 0 is one check" "e2e checks 1 passed 0 failed 0 skipped | total: 1 passed, 0 failed, 0 skipped" "$(closing 2)"

scenario empty '' 'echo "0 passed, 0 failed"; exit 0'
expect "nothing passed: run.sh fails" 1 "$(rc_of 2)"

skip_e2e='echo "skip: no such thing here"; exit 77'
proven_e2e='echo "skip: no vmx here; proven by tests/e2e/lab_smoke.sh"; exit 77'
unit_skip='echo "#   skip: missing prerequisite: qemu"; echo "ok 1 - a # SKIP"; echo "#   skip: no vmx; proven by the lab"; echo "ok 2 - b # SKIP"; echo "ok 3 - c"; echo "1 passed, 0 failed, 2 skipped"'
scenario skips "$unit_skip" "$skip_e2e"
expect "skips count as skips (unit)" "unit cases 1 passed 0 failed 2 skipped | total: 1 passed, 0 failed, 2 skipped" "$(closing 1)"
expect "  run.sh passes" 0 "$(rc_of 1)"
has "  the reason is listed" "skipped: unit/fake/test_x: missing prerequisite: qemu" "$out"
expect "a skipped e2e script (77) is one skip; nothing passed, so run.sh fails" "e2e checks 0 passed 0 failed 1 skipped | total: 0 passed, 0 failed, 1 skipped" "$(closing 2)"

scenario strict "$unit_skip" "$skip_e2e" BOXLITE_TEST_STRICT=1
expect "strict: a skip that names no proof is a failure" "unit cases 1 passed 1 failed 1 skipped | total: 1 passed, 1 failed, 1 skipped" "$(closing 1)"
expect "  run.sh fails" 1 "$(rc_of 1)"
has "  the skip is named" "skipped in strict mode without saying where it is proven: missing prerequisite: qemu" "$out"
expect "strict: an e2e skip that names no proof is a failure" "e2e checks 0 passed 1 failed 0 skipped | total: 0 passed, 1 failed, 0 skipped" "$(closing 2)"

scenario strictok 'echo "#   skip: no vmx; proven by the lab"; echo "1 passed, 0 failed, 1 skipped"' "$proven_e2e"'
' CI=true
expect "strict: a proven skip stays a skip" "unit cases 1 passed 0 failed 1 skipped | total: 1 passed, 0 failed, 1 skipped" "$(closing 1)"
expect "  run.sh passes" 0 "$(rc_of 1)"

# pytest's summary line, in any order
scenario pytest '' 'echo "====== 2 failed, 10 passed, 1 skipped in 3.20s ======"; exit 1'
expect "pytest's summary is read" "e2e checks 10 passed 2 failed 1 skipped | total: 10 passed, 2 failed, 1 skipped" "$(closing 2)"

# node --test's TAP summary and go test -v's verdict lines, with real node and go: a failure
# fails the run, a skip names its reason, strict mode fails a skip without proof.
# sdk_run KIND-OPTION DIR [ENV...]: prints run.sh's output for one fake SDK suite.
sdk_run() {
  local o=$1 d=$2; shift 2
  env -u CI -u BOXLITE_TEST_STRICT RUN_SELF=0 RUN_LOGS="$work/logs-$o" RUN_NODE_DIR="$d" RUN_GO_DIR="$d" "$@" \
    bash tests/run.sh --only "$o" "$work/none" 2>&1
  echo "rc=$?"
}
if command -v node >/dev/null; then
  mkdir -p "$work/node"
  cat >"$work/node/a.test.js" <<'EOF2'
const test = require('node:test');
test('passes', () => {});
test('parent', async (t) => { await t.test('child', () => {}); });
test('skips', (t) => t.skip('no such thing; proven by tests/e2e/x.sh'));
EOF2
  out=$(sdk_run node "$work/node")
  has_text() { if grep -qF -- "$2" <<<"$3"; then ok "$1"; else no "$1" "no '$2' in: $3"; fi; }
  has_text "node: passes and skips counted from the TAP summary" "node tests 3 passed 0 failed 1 skipped | total: 3 passed, 0 failed, 1 skipped" "$out"
  has_text "  run.sh passes" "rc=0" "$out"
  has_text "  the skip's reason is listed" "skipped: node/sdk: no such thing; proven by tests/e2e/x.sh" "$out"
  cat >"$work/node/b.test.js" <<'EOF2'
const test = require('node:test');
test('fails', () => { throw new Error('boom'); });
test('skips without proof', (t) => t.skip('missing prerequisite: x'));
EOF2
  out=$(sdk_run node "$work/node")
  has_text "node: a failing test fails the run" "node tests 3 passed 1 failed 2 skipped | total: 3 passed, 1 failed, 2 skipped" "$out"
  has_text "  run.sh fails" "rc=1" "$out"
  out=$(sdk_run node "$work/node" BOXLITE_TEST_STRICT=1)
  has_text "node strict: a skip without proof is a failure" "node tests 3 passed 2 failed 1 skipped" "$out"
  rm "$work/node/b.test.js"
  printf 'process.kill(process.pid, "SIGSEGV");\n' >"$work/node/c.test.js"
  out=$(sdk_run node "$work/node")
  has_text "node: a test file that crashes is a failure" "node tests 3 passed 1 failed 1 skipped" "$out"
else
  no "node is installed (scripts/setup.sh)" "no node"
fi
if command -v go >/dev/null; then
  mkdir -p "$work/gomod"
  printf 'module example.com/fake\n\ngo 1.19\n' >"$work/gomod/go.mod"
  cat >"$work/gomod/fake_test.go" <<'EOF2'
package fake

import (
	"os"
	"testing"
)

func TestPasses(t *testing.T) { t.Run("sub", func(t *testing.T) {}) }
func TestSkips(t *testing.T)  { t.Skip("no such thing; proven by tests/e2e/x.sh") }
func TestMaybeFails(t *testing.T) {
	if os.Getenv("FAKE_FAIL") == "1" {
		t.Fatal("boom")
	}
}
EOF2
  out=$(sdk_run go "$work/gomod")
  has_text "go: top-level verdicts counted, subtests not" "go tests 2 passed 0 failed 1 skipped | total: 2 passed, 0 failed, 1 skipped" "$out"
  has_text "  the skip's reason is listed" "skipped: go/sdk: no such thing; proven by tests/e2e/x.sh" "$out"
  has_text "  run.sh passes" "rc=0" "$out"
  out=$(sdk_run go "$work/gomod" FAKE_FAIL=1)
  has_text "go: a failing test fails the run" "go tests 1 passed 1 failed 1 skipped" "$out"
  has_text "  run.sh fails" "rc=1" "$out"
  printf 'package fake\n\nfunc broken( {\n' >"$work/gomod/broken.go"
  out=$(sdk_run go "$work/gomod")
  has_text "go: a package that does not build is a failure" "go tests 0 passed 1 failed 0 skipped" "$out"
else
  no "go is installed (scripts/setup.sh)" "no go"
fi

# The real harness: a skip after a failed CHECK is a failure; a missing prerequisite fails
# in strict mode; a leak in a test's process is found (LeakSanitizer runs at its exit).
cc=${CC:-gcc}
cat >"$work/h.c" <<'EOF'
#include "harness/harness.h"
#include <stdlib.h>
TEST(fails_then_skips) { CHECK(1 == 2); harness_skip("nothing here"); }
TEST(needs_something) { harness_need("a thing"); }
TEST(leaks) { char *volatile p = malloc(100); p[0] = 1; p = NULL; }
TEST(passes) { CHECK(1 == 1); }
EOF
if $cc -std=c11 -D_GNU_SOURCE -fsanitize=address -g -Itests -o "$work/h" "$work/h.c" tests/harness/harness.c 2>"$work/cc.err"; then
  env -u CI -u BOXLITE_TEST_STRICT "$work/h" >"$work/h.out" 2>&1
  has "harness: a skip after a failed CHECK fails the test" "not ok 1 - fails_then_skips" "$work/h.out"
  has "harness: a missing prerequisite skips outside strict mode" "ok 2 - needs_something # SKIP" "$work/h.out"
  has "harness: a leak in a test's process fails it (LeakSanitizer ran)" "not ok 3 - leaks" "$work/h.out"
  has "harness: the counts" "1 passed, 2 failed, 1 skipped" "$work/h.out"
  BOXLITE_TEST_STRICT=1 "$work/h" needs_something >"$work/h.out" 2>&1
  has "harness: a missing prerequisite fails in strict mode" "not ok 1 - needs_something" "$work/h.out"
else
  no "harness test program builds" "$(cat "$work/cc.err")"
fi
finish
