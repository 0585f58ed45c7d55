#!/bin/bash
# Runs every test suite and ends with one line "N passed, N failed, N skipped".
#   tests/run.sh [--only unit|fuzz|e2e|python] [--component NAME] [BUILD_DIR]
# Unit tests come from BUILD_DIR (default build/san), fuzz targets from build/fuzz, e2e
# scripts from tests/e2e/*.sh (run with BOXLITE_BUILD=build; exit 77 means skipped).
# Each suite's own output goes to build/test-logs/; failures are printed in full.
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
logs=build/test-logs
mkdir -p "$logs"
passed=0 failed=0 skipped=0
failed_names=()

# Adds the counts from a log's "N passed, N failed[, N skipped]" line; returns 1 if none.
add_counts() {
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
  if [ -z "$line" ]; then
    # pytest's summary: "3 failed, 10 passed, 1 skipped in 2.1s" (any order, any subset)
    line=$(grep -E '^(=+ )?[0-9]+ (passed|failed|skipped|errors?)\b.* in [0-9.]+s' "$1" | tail -1)
    [ -n "$line" ] || return 1
    local n
    n=$(grep -oE '[0-9]+ passed' <<<"$line" | cut -d' ' -f1); passed=$((passed + ${n:-0}))
    n=$(grep -oE '[0-9]+ failed' <<<"$line" | cut -d' ' -f1); failed=$((failed + ${n:-0}))
    n=$(grep -oE '[0-9]+ errors?' <<<"$line" | cut -d' ' -f1); failed=$((failed + ${n:-0}))
    n=$(grep -oE '[0-9]+ skipped' <<<"$line" | cut -d' ' -f1); skipped=$((skipped + ${n:-0}))
    return 0
  fi
  local p f s
  p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
  s=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$line")
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
  return 0
}

# run_suite NAME LOG CMD...: a suite that prints its own counts, or counts as one test.
run_suite() {
  local name=$1 log=$2; shift 2
  local start=$SECONDS rc
  "$@" >"$log" 2>&1 </dev/null
  rc=$?
  if add_counts "$log"; then
    if [ $rc -ne 0 ] && ! grep -qE '^[0-9]+ passed, [1-9]|[0-9]+ (failed|errors?)' "$log"; then
      failed=$((failed + 1)) # exited non-zero although every counted test passed
    fi
  elif [ $rc -eq 0 ]; then passed=$((passed + 1))
  elif [ $rc -eq 77 ]; then skipped=$((skipped + 1))
  else failed=$((failed + 1))
  fi
  if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
    failed_names+=("$name")
    echo "---- $name failed (exit $rc), log $log:"
    tail -n 60 "$log"
  fi
  printf '%-50s %s (%ds)\n' "$name" "$([ $rc -eq 0 ] && echo ok || { [ $rc -eq 77 ] && echo skipped || echo FAILED; })" $((SECONDS - start))
}

if [ -z "$only" ] || [ "$only" = unit ]; then
  for t in $(find "$build/tests/unit" -type f -executable 2>/dev/null | sort); do
    comp=$(basename "$(dirname "$t")")
    [ -n "$component" ] && [ "$comp" != "$component" ] && continue
    run_suite "unit/$comp/$(basename "$t")" "$logs/unit-$comp-$(basename "$t").log" "$t"
  done
fi

if [ -z "$only" ] || [ "$only" = fuzz ]; then
  secs=${FUZZ_SECONDS:-10}
  for t in $(find build/fuzz/tests/fuzz -type f -executable 2>/dev/null | sort); do
    name=$(basename "$t")
    corpus=tests/fuzz/corpus/${name#fuzz_}
    work=$(mktemp -d)
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
    run_suite "fuzz/$name (${secs}s)" "$logs/fuzz-$name.log" \
      "$t" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 \
      -artifact_prefix="$logs/fuzz-$name-" "$work"
    rm -rf "$work"
  done
fi

if [ -z "$only" ] || [ "$only" = e2e ]; then
  for t in tests/e2e/*.sh; do
    [ -e "$t" ] || continue
    run_suite "e2e/$(basename "$t")" "$logs/e2e-$(basename "$t").log" env BOXLITE_BUILD=build bash "$t"
  done
fi

if [ -z "$only" ] || [ "$only" = python ]; then
  if [ -d sdk/python/tests ]; then
    # Debian's python3 carries python3-pytest (a pyenv python3 earlier on PATH may not).
    run_suite "python/sdk" "$logs/python-sdk.log" /usr/bin/python3 -m pytest -q -p no:cacheprovider sdk/python/tests
  fi
fi

[ ${#failed_names[@]} -eq 0 ] || echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ $((passed + failed)) -gt 0 ]
