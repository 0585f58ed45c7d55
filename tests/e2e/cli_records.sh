#!/bin/bash
# The boxlite CLI on box records (no VM needed): create, ps, inspect, stop, rm, errors.
set -uo pipefail
cd "$(dirname "$0")/../.."
B="${BOXLITE_BUILD:-build}/bin/boxlite"
. tests/harness/lib.sh
need "$B (make)" test -x "$B"
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export BOXLITE_HOME=$home

id=$($B create --name web -p 8080:80 -e A=1 --cpus 2 --memory 1g alpine:latest)
check "create prints a 32-hex id" grep -qE '^[0-9a-f]{32}$' <<<"$id"
check "ps -a lists it with its port" bash -c "$B ps -a | grep -q '127.0.0.1:8080->80/tcp'"
check "ps without -a hides configured boxes" bash -c "! $B ps | grep -q web"
check "inspect shows cpus and memory" bash -c "$B inspect web | grep -q '\"memory_mib\": 1024'"
check "name taken is an error with status 125" bash -c "$B create --name web alpine 2>&1 >/dev/null | grep -q 'already exists'; [ \${PIPESTATUS[0]} -eq 125 ]"
check "stop of a box that never ran fails" bash -c "! $B stop web 2>/dev/null"
check "bad port spec is refused" bash -c "! $B create -p 80 alpine 2>/dev/null"
check "bad memory is refused" bash -c "! $B create --memory lots alpine 2>/dev/null"
check "missing volume path is refused" bash -c "! $B create -v /nonexistent/x:/data alpine 2>/dev/null"
check "unknown command fails" bash -c "! $B frobnicate 2>/dev/null"
check "ps --json is a JSON array" bash -c "$B ps -a --json | python3 -c 'import json,sys; assert len(json.load(sys.stdin)) == 1'"
check "rm by id prefix" bash -c "$B rm ${id:0:8} >/dev/null"
check "rm of an unknown box fails" bash -c "! $B rm web 2>/dev/null"
check "version" bash -c "$B version | grep -q '^boxlite [0-9]'"
finish
