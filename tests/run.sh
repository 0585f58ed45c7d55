#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs every test suite and ends with one line: the unit cases, the end-to-end checks, the
# fuzz targets and the Python, Node and Go SDK tests counted apart, then the total "N passed,
# N failed, N skipped". Exits 0 only when nothing failed and something passed.
#   tests/run.sh [--only unit|fuzz|e2e|san|python|node|go] [--component NAME] [BUILD_DIR]
# Unit tests come from BUILD_DIR (default build/san), fuzz targets from build/fuzz, e2e
# scripts from tests/e2e/*.sh (run with BOXLITE_BUILD=build); the "san" pass runs a subset of
# them against the sanitizer build (BOXLITE_BUILD=build/san). Each suite's output goes to
# build/test-logs/; a failing suite's is printed.
#
# How a suite counts: its last "N passed, N failed[, N skipped]" line (tests/harness, the e2e
# scripts), pytest's summary, node --test's TAP summary ("# pass N", "# fail N", "# cancelled
# N", "# skipped N") or go test -v's top-level "--- PASS/FAIL/SKIP" lines; a suite without one is a single check (exit 0 passed, 77
# skipped, anything else failed). A suite that exits non-zero counts as failed even when its
# own counts say "0 failed". Exit 77 means skipped; in strict mode (CI=true or
# BOXLITE_TEST_STRICT=1) every skip must say where the same behaviour is proven instead
# ("proven by ..."), else it is a failure.
# For the runner's own tests (tests/harness/test_run.sh) the suites' folders can be moved:
# RUN_E2E_DIR, RUN_FUZZ_DIR, RUN_PYTHON_DIR, RUN_NODE_DIR (its *.test.js), RUN_GO_DIR (a Go
# module), RUN_SAN_E2E (a list of script names), RUN_LOGS;
# RUN_SELF=0 leaves out the runner's own tests.
set -uo pipefail
cd "$(dirname "$0")/.."
only="" component=""
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=$2; shift 2 ;;
    --component) component=$2; shift 2 ;;
    *) break ;;
  esac
done
build=${1:-build/san}
logs=${RUN_LOGS:-build/test-logs}
e2e_dir=${RUN_E2E_DIR:-tests/e2e}
fuzz_dir=${RUN_FUZZ_DIR:-build/fuzz/tests/fuzz}
python_dir=${RUN_PYTHON_DIR:-sdk/python/tests}
node_dir=${RUN_NODE_DIR:-sdk/node/test}
go_dir=${RUN_GO_DIR:-sdk/go}
# The end-to-end subset run against the sanitizer build: the CLI, the library, the per-box
# process on the QEMU engine and the REST server (the KVM engine runs sanitised in the lab:
# tests/e2e/lab_smoke.sh).
san_e2e=${RUN_SAN_E2E:-qemu_cli.sh qemu_vmm.sh net_policy.sh serve.sh serve_cli.sh}
mkdir -p "$logs"
strict=0
{ [ "${CI:-}" = true ] || [ "${BOXLITE_TEST_STRICT:-}" = 1 ]; } && strict=1

declare -A P=() F=() S=()   # per kind of unit: passed, failed, skipped
kinds=("unit cases" "e2e checks" "fuzz targets" "python tests" "node tests" "go tests")
for k in "${kinds[@]}"; do P[$k]=0 F[$k]=0 S[$k]=0; done
failed_names=() skip_lines=()

# counts LOG [KIND]: sets cp cf cs from the log's last summary line; returns 1 if it has none.
counts() {
  local line n
  cp=0 cf=0 cs=0
  if [ "${2:-}" = "node tests" ]; then
    # node --test (TAP): "# pass 3", "# fail 1", "# cancelled 0", "# skipped 1", "# todo 0"
    grep -qE '^# pass [0-9]+$' "$1" || return 1
    cp=$(grep -E '^# pass [0-9]+$' "$1" | tail -1 | cut -d' ' -f3)
    cf=$(( $(grep -E '^# fail [0-9]+$' "$1" | tail -1 | cut -d' ' -f3) + 0 ))
    n=$(grep -E '^# cancelled [0-9]+$' "$1" | tail -1 | cut -d' ' -f3); cf=$((cf + ${n:-0}))
    n=$(grep -E '^# skipped [0-9]+$' "$1" | tail -1 | cut -d' ' -f3); cs=${n:-0}
    return 0
  fi
  if [ "${2:-}" = "go tests" ]; then
    # go test -v: the top-level tests' verdicts (subtests are indented)
    grep -qE '^--- (PASS|FAIL|SKIP): ' "$1" || return 1
    cp=$(grep -cE '^--- PASS: ' "$1"); cf=$(grep -cE '^--- FAIL: ' "$1"); cs=$(grep -cE '^--- SKIP: ' "$1")
    return 0
  fi
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
  if [ -n "$line" ]; then
    cp=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
    cf=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
    cs=$(sed -nE 's/^[0-9]+ passed, [0-9]+ failed, ([0-9]+) skipped.*/\1/p' <<<"$line")
    cs=${cs:-0}
    return 0
  fi
  # pytest: "3 failed, 10 passed, 1 skipped in 2.1s" (any order, any subset)
  line=$(grep -E '^(=+ )?[0-9]+ (passed|failed|skipped|errors?|deselected)\b.* in [0-9.]+s' "$1" | tail -1)
  [ -n "$line" ] || return 1
  local n
  n=$(grep -oE '[0-9]+ passed' <<<"$line" | cut -d' ' -f1); cp=${n:-0}
  n=$(grep -oE '[0-9]+ failed' <<<"$line" | cut -d' ' -f1); cf=${n:-0}
  n=$(grep -oE '[0-9]+ errors?' <<<"$line" | cut -d' ' -f1); cf=$((cf + ${n:-0}))
  n=$(grep -oE '[0-9]+ skipped' <<<"$line" | cut -d' ' -f1); cs=${n:-0}
  return 0
}

# skip_reasons LOG [KIND]: one reason per line, from the harness ("#   skip: R"), the e2e
# scripts ("skip: R"), pytest -rs ("SKIPPED [N] file:line: R"), node --test ("ok N - name #
# SKIP R") and go test -v (the "file.go:N: R" line of a test that ends "--- SKIP").
skip_reasons() {
  case "${2:-}" in
    "node tests") sed -nE 's/^ *ok [0-9]+ - .* # SKIP (.+)$/\1/p' "$1" ;;
    # go prints a test's log (t.Skip's reason) before its "--- SKIP" line
    "go tests") awk '/^=== (RUN|CONT)/{m=""} /^ +[^ ]+\.go:[0-9]+: /{m=$0; sub(/^ +[^ ]+\.go:[0-9]+: /, "", m)} /^--- SKIP: /{print m; m=""}' "$1" ;;
    *) sed -nE -e 's/^#   skip: (.*)/\1/p' -e 's/^skip: (.*)/\1/p' \
              -e 's/^SKIPPED \[[0-9]+\] [^:]*:[0-9]+: (.*)/\1/p' "$1" ;;
  esac
}

# run_suite KIND NAME LOG CMD...
run_suite() {
  local kind=$1 name=$2 log=$3; shift 3
  local start=$SECONDS rc verdict why=""
  "$@" >"$log" 2>&1 </dev/null
  rc=$?
  if counts "$log" "$kind"; then
    :
  elif [ "$kind" = "unit cases" ] && [ $rc -ne 77 ]; then
    cp=0 cf=1 cs=0 why="printed no counts"   # a harness binary always prints them
  elif [ $rc -eq 0 ]; then cp=1 cf=0 cs=0
  elif [ $rc -eq 77 ]; then cp=0 cf=0 cs=1
  else cp=0 cf=1 cs=0
  fi
  if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ "$cf" -eq 0 ]; then
    cf=1 why="exited $rc although its counts say 0 failed"
  fi
  # Skips: listed at the end with their reasons; in strict mode one that does not say where
  # the behaviour is proven instead is a failure.
  local r
  while IFS= read -r r; do
    [ -n "$r" ] || continue
    if [ $strict = 1 ] && [[ "$r" != *"proven by"* ]]; then
      [ "$cs" -gt 0 ] && cs=$((cs - 1))
      cf=$((cf + 1)) why="skipped in strict mode without saying where it is proven: $r"
    else
      skip_lines+=("$name: $r")
    fi
  done < <(skip_reasons "$log" "$kind")
  P[$kind]=$((P[$kind] + cp)); F[$kind]=$((F[$kind] + cf)); S[$kind]=$((S[$kind] + cs))
  if [ "$cf" -gt 0 ]; then
    verdict=FAILED
    failed_names+=("$name${why:+ ($why)}")
    # the first failing checks, repeated at the end where a truncated log (CI's tail) shows them
    local l
    while IFS= read -r l; do failed_names+=("  $name: ${l:0:200}"); done \
      < <(grep -E '^(not ok|--- FAIL|FAIL|SUMMARY: )' "$log" | head -n 5)
    echo "---- $name failed (exit $rc${why:+; $why}), log $log:"
    tail -n 60 "$log"
  elif [ $rc -eq 77 ] || { [ "$cs" -gt 0 ] && [ "$cp" -eq 0 ]; }; then verdict=skipped
  else verdict=ok
  fi
  printf '%-50s %s (%ds)\n' "$name" "$verdict" $((SECONDS - start))
}

if [ -z "$only" ] || [ "$only" = unit ]; then
  if [ -z "$component" ] && [ "${RUN_SELF:-1}" = 1 ]; then
    run_suite "unit cases" "harness/test_run.sh" "$logs/unit-harness-test_run.log" bash tests/harness/test_run.sh
  fi
  for t in $(find "$build/tests/unit" -type f -executable 2>/dev/null | sort); do
    comp=$(basename "$(dirname "$t")")
    [ -n "$component" ] && [ "$comp" != "$component" ] && continue
    run_suite "unit cases" "unit/$comp/$(basename "$t")" "$logs/unit-$comp-$(basename "$t").log" "$t"
  done
fi

if [ -z "$only" ] || [ "$only" = fuzz ]; then
  secs=${FUZZ_SECONDS:-10}
  for t in $(find "$fuzz_dir" -type f -executable 2>/dev/null | sort); do
    name=$(basename "$t")
    corpus=tests/fuzz/corpus/${name#fuzz_}
    work=$(mktemp -d)
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
    rm -f "$logs/fuzz-$name-"*
    run_suite "fuzz targets" "fuzz/$name (${secs}s)" "$logs/fuzz-$name.log" \
      "$t" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 -error_exitcode=1 \
      -artifact_prefix="$logs/fuzz-$name-" "$work"
    rm -rf "$work"
    # The input that failed, on the last lines too: CI's clone is gone afterwards, and this
    # is what reproduces the finding (echo ... | base64 -d > x; fuzz_NAME x).
    for a in "$logs/fuzz-$name-"*; do
      [ -f "$a" ] || continue
      n=$(stat -c %s "$a")
      failed_names+=("  fuzz/$name: $(basename "$a") ($n bytes$([ "$n" -gt 1536 ] && echo ", the first 1536"); base64): $(head -c 1536 "$a" | base64 -w0)")
    done
  done
fi

if [ -z "$only" ] || [ "$only" = e2e ]; then
  for t in "$e2e_dir"/*.sh; do
    [ -e "$t" ] || continue
    run_suite "e2e checks" "e2e/$(basename "$t")" "$logs/e2e-$(basename "$t").log" env BOXLITE_BUILD=build bash "$t"
  done
fi

if [ -z "$only" ] || [ "$only" = san ]; then
  for s in $san_e2e; do
    t=$e2e_dir/$s
    [ -e "$t" ] || { failed_names+=("e2e-san/$s (no such script)"); F["e2e checks"]=$((F["e2e checks"] + 1)); continue; }
    run_suite "e2e checks" "e2e-san/$s (ASan+UBSan build)" "$logs/e2e-san-$s.log" env BOXLITE_BUILD=build/san bash "$t"
  done
fi

if [ -z "$only" ] || [ "$only" = python ]; then
  if [ -d "$python_dir" ]; then
    # Debian's python3 carries python3-pytest (a pyenv python3 earlier on PATH may not).
    run_suite "python tests" "python/sdk" "$logs/python-sdk.log" /usr/bin/python3 -m pytest -q -rs -p no:cacheprovider "$python_dir"
  fi
fi

if [ -z "$only" ] || [ "$only" = node ]; then
  if [ -d "$node_dir" ]; then
    # one pass over every file (each boots its own shared box); node runs them one at a time
    # on two cores
    run_suite "node tests" "node/sdk" "$logs/node-sdk.log" \
      sh -c 'exec node --test --test-reporter=tap "$@"' node-tests "$node_dir"/*.test.js
  fi
fi

if [ -z "$only" ] || [ "$only" = go ]; then
  if [ -d "$go_dir" ]; then
    # vet, then the tests under the race detector in one pass; no network (GOPROXY=off)
    run_suite "go tests" "go/sdk" "$logs/go-sdk.log" \
      env -C "$go_dir" GOPROXY=off GOFLAGS=-mod=mod sh -c 'go vet ./... && exec go test -race -count=1 -timeout 20m -v ./...'
  fi
fi

total_p=0 total_f=0 total_s=0 parts=()
for k in "${kinds[@]}"; do
  total_p=$((total_p + P[$k])); total_f=$((total_f + F[$k])); total_s=$((total_s + S[$k]))
  [ $((P[$k] + F[$k] + S[$k])) -gt 0 ] && parts+=("$k ${P[$k]} passed ${F[$k]} failed ${S[$k]} skipped")
done
for s in "${skip_lines[@]}"; do echo "skipped: $s"; done
for n in "${failed_names[@]}"; do echo "failed: $n"; done
summary=""
for p in "${parts[@]}"; do summary+="$p | "; done
echo "${summary}total: $total_p passed, $total_f failed, $total_s skipped"
[ "$total_f" -eq 0 ] && [ ${#failed_names[@]} -eq 0 ] && [ "$total_p" -gt 0 ]
