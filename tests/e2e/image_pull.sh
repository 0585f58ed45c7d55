#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Pulls as users meet them, through the `boxlite` CLI and real registries on 127.0.0.1:
# a pull killed midway (SIGKILL) and run again fetches only what was missing (bytes counted
# in the registry's own log) and gives the same image; a private registry reached through a
# Docker credential helper named in $DOCKER_CONFIG/config.json; a short name found through
# <home>/registries.json's search list, said on stderr; a broken registries.json named.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
. tests/harness/lib.sh
need "$B (make)" test -x "$B"
need_cmd docker-registry
need_cmd skopeo
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
unset BOXLITE_INSECURE_REGISTRIES DOCKER_CONFIG
cleanup() {
  for r in reg priv; do tests/fixtures/registry.sh stop "$work/$r" >/dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

# A large image (incompressible layers, so the download takes a while even on loopback).
BIG_MB=${PULL_MB:-120} python3 tests/fixtures/mkimages.py "$work/fx" big busybox >/dev/null
port=$(tests/fixtures/registry.sh start "$work/reg" $$) || { no "the registry starts"; finish; exit 1; }
tests/fixtures/registry.sh push "$work/reg" "$work/fx/big" big/img:1
ref=127.0.0.1:$port/big/img:1
total=$(python3 -c "
import json,sys; L='$work/fx/big'; m=json.load(open(L+'/index.json'))['manifests'][0]['digest'][7:]
print(sum(l['size'] for l in json.load(open(L+'/blobs/sha256/'+m))['layers']))")
# Bytes of blobs the registry sent after log line $1.
sent_since() {
  tail -n +"$(($1 + 1))" "$work/reg/registry.log" |
    grep 'http.request.method=GET' | grep '/blobs/sha256:' |
    sed -n 's/.*http.response.written=\([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}'
}

# 1. Killed midway: once some of a layer is down, SIGKILL the CLI.
mark=$(wc -l <"$work/reg/registry.log")
"$B" pull -q "$ref" >/dev/null 2>&1 &
pid=$!
got=0
while kill -0 $pid 2>/dev/null; do
  got=$(find "$BOXLITE_HOME/images/tmp" -name 'partial-*' -printf '%s\n' 2>/dev/null | awk '{s += $1} END {print s + 0}')
  [ "$got" -gt $((total / 4)) ] && break
done
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
first=$(sent_since "$mark")
if [ "$got" -gt 0 ] && ! "$B" images | grep -q big/img; then
  ok "a pull SIGKILLed midway ($got of $total bytes down) leaves no image"
else
  no "the pull was killed midway" "partial bytes $got, images: $("$B" images)"
fi
mark=$(wc -l <"$work/reg/registry.log")
"$B" pull -q "$ref" >"$work/out" 2>&1
expect "the pull run again succeeds" 0 "$?"
second=$(sent_since "$mark")
echo "# first pull sent $first bytes before the kill, the second $second; layers total $total"
check "the second pull fetched only what was missing ($second < $total bytes)" test "$second" -lt "$total"
# What the registry wrote before the kill includes bytes still in flight in four sockets,
# lost with the process: compare the second pull with what was on disk instead (the partial
# files only grew between the measure and the kill).
check "and it resumed: no more than the $((total - got)) bytes missing at the kill, +5%" \
  test "$second" -le $((total - got + total / 20))
id_resumed=$("$B" images --json | python3 -c "import json,sys; print([i['id'] for i in json.load(sys.stdin) if 'big/img' in i['ref']][0])")
rm -rf "$work/home2"
id_clean=$(BOXLITE_HOME=$work/home2 "$B" pull -q "$ref" >/dev/null 2>&1 &&
  BOXLITE_HOME=$work/home2 "$B" images --json | python3 -c "import json,sys; print([i['id'] for i in json.load(sys.stdin) if 'big/img' in i['ref']][0])")
expect "the resumed image is the image a clean pull gives" "$id_clean" "$id_resumed"
expect "no partial download is left" 0 "$(find "$BOXLITE_HOME/images/tmp" -name 'partial-*' | wc -l)"

# 2. A private registry through a credential helper (Docker's protocol), via the CLI.
pport=$(tests/fixtures/registry.sh start "$work/priv" $$ alice s3cret)
tests/fixtures/registry.sh push "$work/priv" "$work/fx/busybox" team/bb:1 alice:s3cret
mkdir -p "$work/bin" "$work/docker"
cat >"$work/bin/docker-credential-fixture" <<EOF
#!/bin/sh
[ "\$1" = get ] || exit 2
read server
[ "\$server" = "127.0.0.1:$pport" ] || { echo "credentials not found in native keychain"; exit 1; }
echo '{"ServerURL":"127.0.0.1:$pport","Username":"alice","Secret":"s3cret"}'
EOF
chmod +x "$work/bin/docker-credential-fixture"
echo '{"credHelpers": {"127.0.0.1:'"$pport"'": "fixture"}}' >"$work/docker/config.json"
DOCKER_CONFIG=$work/docker PATH="$work/bin:$PATH" "$B" pull -q "127.0.0.1:$pport/team/bb:1" >"$work/out" 2>&1
expect "a private registry through credHelpers" 0 "$?"
echo '{"credsStore": "fixture"}' >"$work/docker/config.json"
DOCKER_CONFIG=$work/docker PATH="$work/bin:$PATH" "$B" rmi "127.0.0.1:$pport/team/bb:1" >/dev/null 2>&1
DOCKER_CONFIG=$work/docker PATH="$work/bin:$PATH" "$B" pull -q "127.0.0.1:$pport/team/bb:1" >"$work/out" 2>&1
expect "and through credsStore" 0 "$?"
echo '{"credsStore": "gone"}' >"$work/docker/config.json"
DOCKER_CONFIG=$work/docker "$B" pull -q "127.0.0.1:$pport/team/bb:2" >"$work/out" 2>&1
expect "a missing helper fails the pull" 125 "$?"
has "and says which" "docker-credential-gone is not installed" "$work/out"

# 3. A short name through the search list: said on stderr, found again by that name.
tests/fixtures/registry.sh push "$work/reg" "$work/fx/busybox" tools/bb:1
echo '{"search": ["127.0.0.1:1", "127.0.0.1:'"$port"'"]}' >"$BOXLITE_HOME/registries.json"
"$B" pull tools/bb:1 >"$work/out" 2>"$work/err"
expect "a short name through the search list" 0 "$?"
has "the name it resolved to is said" "tools/bb:1 resolved to 127.0.0.1:$port/tools/bb:1 (registries search list)" "$work/err"
check "and the short name finds it afterwards" bash -c "'$B' images --json | grep -q '127.0.0.1:$port/tools/bb:1'"
echo '{"registries": {"docker.io": {"mirors": []}}}' >"$BOXLITE_HOME/registries.json"
"$B" pull tools/bb:1 >"$work/out" 2>&1
expect "a broken registries.json fails the pull" 125 "$?"
has "naming the file and the key" 'registries.json: registries: registries.docker.io: unknown key "mirors"' "$work/out"
finish
