#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
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

# Listing: -q, --filter, --format, --no-trunc (on records: no VM needed)
id2=$($B create --name api -l tier=back -l team=a alpine:latest sleep 1)
$B create --name webfront -l tier=front alpine:latest >/dev/null
expect "ps -a -q prints one short id per box" "3 12" "$($B ps -a -q | wc -l) $($B ps -a -q | awk '{print length($0)}' | sort -u)"
expect "ps -q --no-trunc prints whole ids" "$id2" "$($B ps -a -q --no-trunc --filter name=api)"
expect "ps --filter name= matches a part of the name" "web webfront" "$($B ps -a --format '{{.Name}}' --filter name=web | sort | xargs)"
expect "ps --filter label=KEY=VALUE" "api" "$($B ps -a --format '{{.Name}}' --filter label=tier=back)"
expect "ps --filter label=KEY" "api" "$($B ps -a --format '{{.Name}}' --filter label=team)"
expect "two values of one filter key: either matches" "api webfront" "$($B ps -a --format '{{.Name}}' --filter label=tier=back --filter label=tier=front | sort | xargs)"
expect "different keys: all must match" "" "$($B ps -a --format '{{.Name}}' --filter label=tier=back --filter name=web)"
expect "a state filter looks at every box (no -a)" "3" "$($B ps -q --filter state=configured | wc -l)"
expect "Docker's state names: created is configured" "3" "$($B ps -q --filter status=created | wc -l)"
expect "ps --filter id=PREFIX" "api" "$($B ps -a --filter id=${id2:0:6} --format '{{.Name}}')"
expect "ps --format template with several fields" "api configured tier=back,team=a" "$($B ps -a --filter name=api --format '{{.Name}} {{.State}} {{.Labels}}')"
expect "ps --format json: one object per line" "3" "$($B ps -a --format json | python3 -c 'import json,sys; print(sum(1 for l in sys.stdin if json.loads(l)["ID"]))')"
expect "ps --format {{json .Labels}}" '"tier=back,team=a"' "$($B ps -a --filter name=api --format '{{json .Labels}}')"
out=$($B ps -a --format 'table {{.Name}}\t{{.State}}')
expect "ps --format 'table ...' prints a header and aligned columns" "NAME       STATE" "$(head -1 <<<"$out")"
expect "the default table's header" "ID NAME IMAGE COMMAND CREATED STATUS PORTS" "$($B ps -a | head -1 | xargs)"
check "a command longer than 20 characters is cut in the table, whole with --no-trunc" \
  bash -c "$B create --name longcmd alpine:latest sh -c 'echo a long command line here' >/dev/null && $B ps -a | grep -q 'sh -c echo a lo...' && $B ps -a --no-trunc | grep -q 'sh -c echo a long command line here'"
$B ps --format '{{.Name' >/dev/null 2>&1
expect "a bad template is refused with 125" 125 $?
$B ps --format '{{index .Name 1}}' >/dev/null 2>&1
expect "a template function we do not have is refused with 125" 125 $?
$B ps --filter colour=red >/dev/null 2>&1
expect "an unknown filter is refused with 125" 125 $?
expect "ps --format {{.Missing}} prints <no value>" "<no value>" "$($B ps -a --filter name=api --format '{{.Missing}}')"
$B rm api webfront longcmd >/dev/null

# -p forms: ranges, an address, any free port
$B create --name ports -p 8000-8002:80-82/udp -p 0.0.0.0::90 -p :91 alpine:latest >/dev/null
expect "-p ranges and forms" "127.0.0.1:8000->80/udp, 127.0.0.1:8001->81/udp, 127.0.0.1:8002->82/udp, 0.0.0.0:0->90/tcp, 127.0.0.1:0->91/tcp" "$($B ps -a --filter name=ports --format '{{.Ports}}')"
$B create -p 8000-8002:80-81 alpine >/dev/null 2>&1
expect "-p ranges of different lengths: 125" 125 $?
$B create -p 80 alpine >/dev/null 2>&1
expect "-p GUEST alone is refused (say HOST 0 for any)" 125 $?
printf 'OK=1\nBAD NAME=1\n' >"$home/envbad"
err=$($B create --env-file "$home/envbad" alpine 2>&1)
expect "--env-file: a bad line is named" "boxlite: --env-file $home/envbad:2: \"BAD NAME\" is not a variable name" "$err"
$B create --hostname -bad- alpine >/dev/null 2>&1
expect "--hostname that is not a host name: 125" 125 $?
$B rm ports >/dev/null

check "rm by id prefix" bash -c "$B rm ${id:0:8} >/dev/null"
check "rm of an unknown box fails" bash -c "! $B rm web 2>/dev/null"
check "version" bash -c "$B version | grep -q '^boxlite [0-9]'"
finish
