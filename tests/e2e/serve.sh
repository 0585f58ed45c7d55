#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# boxlite serve (BoxLite's REST API) on loopback, driven by curl, with real boxes on the QEMU
# engine: the token flow (wrong secret, unknown client, scope not held), requests without,
# with a wrong and with an expired token, a missing scope (403), another tenant's box (404,
# also in lists), executions with their output as Server-Sent Events (stdout and stderr
# bytes, exit code), stdin with X-Close-Stdin, a signal, reconnecting with Last-Event-ID
# (the events after it, nothing lost), malformed JSON, unknown fields, host paths, a body
# over the limit (413), a stalled client while others are served, pages of a list, a box's
# console log as events (tail, timestamps, the end event; ids that are log positions, so a
# stream taken up again with Last-Event-ID after the log grew, with tail=1 or a relative
# since, gives exactly the new bytes) and its main process's stdin, a pull answered as
# events (progress, pulled; error), the server's host check (runtime:admin) and reclaim's
# idle_ms (ours, for --url doctor and reclaim --idle), doctor over TLS with and without the
# test CA, a folder uploaded onto a file (409), the log (no secret or token in it), a
# non-loopback address refused without TLS, and SIGTERM (executions end with their exit
# event, a detached box keeps running), then on a second server
# what the SDKs read beyond the API (timed_out, status_text, stop_reason, health, an exec
# user, a pause timeout). Every response of
# the session is then checked against docs/api.yaml (tests/e2e/serve_check.py contract).
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
CHECK="python3 $PWD/tests/e2e/serve_check.py"
. tests/harness/lib.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need_cmd curl
need_cmd openssl
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "$B (make)" test -x "$B"
need "/bin/busybox (busybox-static)" test -x /bin/busybox
need "python3-jsonschema" python3 -c 'import jsonschema'
need "python3-yaml" python3 -c 'import yaml'
need_cmd docker-registry
need_cmd skopeo
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
spid=
cleanup() {
  [ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
  [ -n "${U2_pid:-}" ] && kill -KILL "$U2_pid" 2>/dev/null
  tests/fixtures/registry.sh stop "$work/reg" >/dev/null 2>&1
  tests/fixtures/registry.sh stop "$work/preg" >/dev/null 2>&1
  for id in $("$B" ps -a -q 2>/dev/null); do "$B" rm -f "$id" >/dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup EXIT

root=$work/roots/bb
busybox_rootfs "$root"

creds=$work/creds
SECRET=$("$B" serve credentials add "$creds" acme-ci acme)
OSECRET=$("$B" serve credentials add "$creds" other-ci other --scopes boxes:read,boxes:write,boxes:exec,images:read)
RSECRET=$("$B" serve credentials add "$creds" acme-ro acme --scopes boxes:read)
ASECRET=$("$B" serve credentials add "$creds" acme-admin acme --scopes boxes:read,runtime:admin)
case $SECRET in bls_*) ok "credentials add prints a generated secret" ;; *) no "credentials add" "got [$SECRET]" ;; esac
if grep -qF -- "$SECRET" "$creds"; then no "the file holds no secret" "the secret is in $creds"; else ok "the credentials file holds a hash, not the secret"; fi
"$B" serve credentials add "$creds" acme-ci acme >/dev/null 2>"$work/dup.err"
[ $? = 125 ] && has "a client id given twice is refused" "exists" "$work/dup.err" || no "a client id given twice is refused"
"$B" serve credentials add "$creds" x a.b >/dev/null 2>&1 && no "a prefix with a dot is refused" || ok "a prefix with a dot is refused"
"$B" serve credentials add "$creds" gone acme >/dev/null
"$B" serve credentials rm "$creds" gone && ! grep -q '^gone ' "$creds" && ok "credentials rm" || no "credentials rm"

# a non-loopback address without TLS: refused before anything listens
"$B" serve --listen 198.51.100.1:8100 --credentials "$creds" >/dev/null 2>"$work/nl.err"
[ $? = 125 ] && has "a non-loopback --listen without TLS is refused" "not a loopback address" "$work/nl.err" \
  || no "a non-loopback --listen without TLS is refused" "$(cat "$work/nl.err")"

# start_server OUTVAR ARGS...: runs the server, waits for its "listening on" line (read
# from its stdout through a pipe: the real event, not a sleep)
start_server() {
  local var=$1; shift
  mkfifo "$work/fifo.$var"
  "$B" serve --listen 127.0.0.1:0 --credentials "$creds" "$@" >"$work/fifo.$var" 2>>"$work/serve.$var.log" &
  local pid=$!
  local line=
  exec {fd}<"$work/fifo.$var"
  read -r -t 60 line <&"$fd"
  # keep reading the pipe so that a later line cannot block the server
  cat <&"$fd" >/dev/null &
  exec {fd}<&-
  printf -v "$var" '%s' "${line##* }"
  printf -v "${var}_pid" '%s' "$pid"
}
# this host's user's registry credentials (written below, read at each pull): the server
# must not lend them to its clients unless told to
export DOCKER_CONFIG=$work/docker
start_server U --rootfs-dir "$work/roots" --rate 0 --max-file-bytes 4194304
spid=$U_pid
case $U in http://127.0.0.1:*) ok "the server listens on loopback ($U)" ;; *) no "server start" "$(cat "$work/serve.U.log")"; finish; exit 1 ;; esac

# api METHOD PATH TOKEN [curl args...]: the response body in $work/body.N ($BODY), its status
# in $ST; the call is recorded for the contract check
n=0
api() {
  local m=$1 p=$2 tok=$3; shift 3
  n=$((n + 1))
  BODY=$work/body.$n
  local auth=()
  [ -n "$tok" ] && auth=(-H "Authorization: Bearer $tok")
  if [ "$m" = HEAD ]; then
    ST=$(curl -s -o "$BODY" -w '%{http_code}' --max-time 300 -I "${auth[@]}" "$@" "$U$p")
  else
    ST=$(curl -s -o "$BODY" -w '%{http_code}' --max-time 300 -X "$m" "${auth[@]}" "$@" "$U$p")
  fi
  echo "$m $p $ST $BODY" >>"$work/contract.log"
}
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$BODY" "$1" 2>/dev/null; }
token() { # CLIENT SECRET [SCOPE]: the access token in $TOKEN (not in a subshell: n counts)
  local extra=()
  [ -n "${3:-}" ] && extra=(--data-urlencode "scope=$3")
  api POST /v1/oauth/tokens "" -d grant_type=client_credentials --data-urlencode "client_id=$1" \
    --data-urlencode "client_secret=$2" "${extra[@]}"
  TOKEN=
  [ "$ST" = 200 ] && TOKEN=$(jget 'd["access_token"]')
}

api GET /v1/config ""
expect "GET /v1/config needs no token" 200 "$ST"
expect "config says streaming is enabled" True "$(jget 'd["capabilities"]["streaming_enabled"]')"

token acme-ci "$SECRET"; T=$TOKEN
case $T in blt_*) ok "client credentials give a bearer token" ;; *) no "token" "$(cat "$BODY")" ;; esac
expect "the token carries the client's scopes" "boxes:read boxes:write boxes:exec images:read images:write" "$(jget 'd["scope"]')"
token other-ci "$OSECRET"; OT=$TOKEN
token acme-ro "$RSECRET"; RT=$TOKEN
token acme-admin "$ASECRET"; AT=$TOKEN
token acme-ci "${SECRET}x"
expect "a wrong secret is 401" 401 "$ST"
token nobody "$SECRET"
expect "an unknown client is 401 (the same answer)" 401 "$ST"
token acme-ro "$RSECRET" boxes:write
expect "a scope the client does not hold is refused" 401 "$ST"
api POST /v1/oauth/tokens "" -d grant_type=password -d client_id=acme-ci
expect "another grant type is 400" 400 "$ST"

api GET /v1/acme/boxes ""
expect "no token: 401" 401 "$ST"
expect "... in the error model" UnauthorizedError "$(jget 'd["error"]["type"]')"
api GET /v1/acme/boxes "blt_not-a-token"
expect "a wrong token: 401" 401 "$ST"
start_server E --token-ttl 0
U=$E token acme-ci "$SECRET"; ET=$TOKEN
U=$E api GET /v1/acme/boxes "$ET"
expect "an expired token: 401" 401 "$ST"
has "... saying it expired" "expired" "$BODY"
kill -TERM "$E_pid"; wait "$E_pid" 2>/dev/null

# a token's request rate: --rate 1 lets one of 10 requests made at once through
start_server L --rate 1
U=$L token acme-ci "$SECRET"; LT=$TOKEN
pids=()
for i in $(seq 10); do
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 -H "Authorization: Bearer $LT" "$L/v1/acme/boxes" >"$work/rate.$i" &
  pids+=($!)
done
wait "${pids[@]}"
expect "--rate 1: 10 requests at once, most refused with 429" 1 "$(cat "$work"/rate.* | grep -c '^429$' | awk '{print ($1 >= 8)}')"
kill -TERM "$L_pid"; wait "$L_pid" 2>/dev/null

api POST /v1/acme/boxes "$RT" -d '{"rootfs_path":"bb"}'
expect "a token without boxes:write cannot create (403)" 403 "$ST"
api GET /v1/acme/boxes "$RT"
expect "... but may list (boxes:read)" 200 "$ST"

# ---- bad input ---------------------------------------------------------------------------
api POST /v1/acme/boxes "$T" -d '{"rootfs_path": "bb",'
expect "malformed JSON: 400" 400 "$ST"
expect "... InvalidArgumentError" InvalidArgumentError "$(jget 'd["error"]["type"]')"
api POST /v1/acme/boxes "$T" -d '{"rootfs_path":"bb","colour":"red"}'
expect "an unknown field: 400" 400 "$ST"
has "... naming it" colour "$BODY"
api POST /v1/acme/boxes "$T" -d '{"image":"/etc"}'
expect "an image naming a host path: 400" 400 "$ST"
api POST /v1/acme/boxes "$T" -d '{"rootfs_path":"../roots/bb"}'
expect "a rootfs_path outside --rootfs-dir: 400" 400 "$ST"
api POST /v1/acme/boxes "$T" -d '{"rootfs_path":"bb","volumes":[{"host_path":"/","guest_path":"/h"}]}'
expect "volumes (host folders): 400" 400 "$ST"
head -c 2097152 /dev/zero | tr '\0' ' ' >"$work/huge"
api POST /v1/acme/boxes "$T" -H 'Content-Type: application/json' --data-binary @"$work/huge"
expect "a 2 MiB body is refused: 413" 413 "$ST"
api GET /v1/acme/nothing "$T"
expect "an unknown path: 404" 404 "$ST"
api PUT /v1/acme/boxes "$T"
expect "a method the path does not take: 405" 405 "$ST"

# ---- boxes -------------------------------------------------------------------------------
api POST /v1/acme/boxes "$T" -d '{"name":"one","rootfs_path":"bb","auto_remove":false,"labels":{"tier":"web"}}'
expect "create a box: 201" 201 "$ST"
ID=$(jget 'd["box_id"]')
expect "the Box has the tenant's name" one "$(jget 'd["name"]')"
expect "... status configured" configured "$(jget 'd["status"]')"
expect "... the labels given (ours hidden)" "{'tier': 'web'}" "$(jget 'd["labels"]')"
api POST /v1/acme/boxes "$T" -d '{"name":"one","rootfs_path":"bb"}'
expect "the same name again: 409" 409 "$ST"
api GET "/v1/acme/boxes/$ID" "$T"
expect "get by id" one "$(jget 'd["name"]')"
api GET /v1/acme/boxes/one "$T"
expect "get by name" "$ID" "$(jget 'd["box_id"]')"
api HEAD /v1/acme/boxes/one "$T"
expect "HEAD of a box: 204" 204 "$ST"
api HEAD /v1/acme/boxes/nope "$T"
expect "HEAD of no box: 404" 404 "$ST"
api GET "/v1/acme/boxes/${ID:0:8}" "$T"
expect "an id's prefix is not an id (no probing)" 404 "$ST"

# ---- another tenant ------------------------------------------------------------------------
api GET "/v1/other/boxes/$ID" "$OT"
expect "another tenant's box by id: 404" 404 "$ST"
expect "... NotFoundError" NotFoundError "$(jget 'd["error"]["type"]')"
api GET /v1/other/boxes/one "$OT"
expect "another tenant's box by name: 404" 404 "$ST"
api GET "/v1/acme/boxes/$ID" "$OT"
expect "another tenant's prefix: 404" 404 "$ST"
api DELETE "/v1/other/boxes/$ID?force=true" "$OT"
expect "another tenant cannot remove it: 404" 404 "$ST"
api GET /v1/other/boxes "$OT"
expect "another tenant's list does not show it" 0 "$(jget 'len(d["boxes"])')"
api POST /v1/other/boxes "$OT" -d '{"name":"one","rootfs_path":"bb"}'
expect "the same name in another tenant is its own box" 201 "$ST"
OID=$(jget 'd["box_id"]')

# ---- executions ---------------------------------------------------------------------------
# exec_run BOX JSON: starts one, streams its output into $work/sse.N; $X the execution id
exec_run() {
  api POST "/v1/acme/boxes/$1/exec" "$T" -d "$2"
  X=$(jget 'd["execution_id"]')
}
sse() { # EXEC [curl args]: the whole stream into $SSE
  n=$((n + 1))
  SSE=$work/sse.$n
  local x=$1; shift
  curl -s -N --max-time 300 -H "Authorization: Bearer $T" "$@" \
    "$U/v1/acme/boxes/one/executions/$x/output" >"$SSE"
}
exec_run one '{"command":"sh","args":["-c","echo hello; echo oops >&2; exit 3"]}'
expect "POST exec: 201 (the box boots on demand)" 201 "$ST"
case $X in exec-*) ok "an execution id" ;; *) no "execution id" "$(cat "$BODY")" ;; esac
sse "$X"
S=$($CHECK sse "$SSE")
expect "SSE stdout" 'hello\n' "$(echo "$S" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["stdout"])[1:-1])')"
expect "SSE stderr" 'oops\n' "$(echo "$S" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["stderr"])[1:-1])')"
expect "SSE exit event: exit code 3" 3 "$(echo "$S" | python3 -c 'import json,sys; print(json.load(sys.stdin)["exit"]["exit_code"])')"
api GET "/v1/acme/boxes/one/executions/$X" "$T"
expect "execution status completed" completed "$(jget 'd["status"]')"
expect "... exit_code 3" 3 "$(jget 'd["exit_code"]')"
api GET "/v1/other/boxes/$ID/executions/$X" "$OT"
expect "another tenant's execution: 404" 404 "$ST"

# stdin: 1 MiB in two writes, the second closing it; the SHA-256 the box computes comes back
head -c 1048576 /dev/urandom >"$work/in"
want=$(sha256sum <"$work/in" | cut -d' ' -f1)
exec_run one '{"command":"sha256sum"}'
head -c 524288 "$work/in" >"$work/in1"; tail -c 524288 "$work/in" >"$work/in2"
api POST "/v1/acme/boxes/one/executions/$X/input" "$T" --data-binary @"$work/in1" -H 'Content-Type: application/octet-stream'
expect "stdin write: 204" 204 "$ST"
api POST "/v1/acme/boxes/one/executions/$X/input" "$T" --data-binary @"$work/in2" -H 'Content-Type: application/octet-stream' -H 'X-Close-Stdin: true'
expect "stdin write with X-Close-Stdin: 204" 204 "$ST"
sse "$X"
got=$($CHECK sse "$SSE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stdout"].split()[0])')
expect "1 MiB of stdin arrives whole (SHA-256 in the box)" "$want" "$got"
api POST "/v1/acme/boxes/one/executions/$X/input" "$T" -d more
expect "stdin after it was closed: 409" 409 "$ST"

# output in many events, read whole, then again from the middle with Last-Event-ID
exec_run one '{"command":"seq","args":["1","120000"]}'
sse "$X"
seq 1 120000 >"$work/seq"
full=$($CHECK sse "$SSE")
expect "SSE stdout of seq 1 120000: every byte" "$(wc -c <"$work/seq")" "$(echo "$full" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stdout_len"])')"
nev=$(echo "$full" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
mid=$(echo "$full" | python3 -c 'import json,sys; i=json.load(sys.stdin)["ids"]; print(i[len(i)//2])')
[ "$nev" -gt 3 ] && ok "the output came in $nev events" || no "several events" "$nev"
first=$n
sse "$X" -H "Last-Event-ID: $mid"
a=$($CHECK sse-after "$work/sse.$first" "$mid" | sha256sum)
b=$($CHECK sse-after "$SSE" 0 | sha256sum)
expect "reconnect with Last-Event-ID: the events after it, nothing lost" "$a" "$b"
expect "... and the exit event" 0 "$($CHECK sse "$SSE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["exit"]["exit_code"])')"
sse "$X" -H "Last-Event-ID: 99999999"
has "a Last-Event-ID not sent yet: refused" "InvalidStateError" "$SSE"
sse "$X" -H "Last-Event-ID: +5"
has "a Last-Event-ID that is no event id (+5): refused" "InvalidArgumentError" "$SSE"

# a reader that hangs up mid-stream: the execution goes on, a new reader gets all of it
exec_run one '{"command":"seq","args":["1","300000"]}'
curl -s -N --max-time 300 -H "Authorization: Bearer $T" "$U/v1/acme/boxes/one/executions/$X/output" | head -c 2000 >/dev/null
sse "$X" -H "Last-Event-ID: 0"
seq 1 300000 | sha256sum >"$work/seq3.sum"
expect "after a reader hung up mid-stream, a new one gets every byte" "$(cat "$work/seq3.sum")" "$($CHECK sse-after "$SSE" 0 | sha256sum)"
api GET "/v1/acme/boxes/one/executions/$X" "$T"
expect "... and the execution completed" completed "$(jget 'd["status"]')"

# a signal
exec_run one '{"command":"sleep","args":["1000"]}'
api POST "/v1/acme/boxes/one/executions/$X/signal" "$T" -d '{"signal":9}'
expect "signal: 204" 204 "$ST"
sse "$X"
expect "killed by signal 9: exit 137" 137 "$($CHECK sse "$SSE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["exit"]["exit_code"])')"
api GET "/v1/acme/boxes/one/executions/$X" "$T"
expect "execution status killed" killed "$(jget 'd["status"]')"
api POST "/v1/acme/boxes/one/executions/$X/signal" "$T" -d '{"signal":99}'
expect "signal 99: 400" 400 "$ST"
api POST /v1/acme/boxes/one/exec "$T" -d '{"args":["x"]}'
expect "exec without command: 400" 400 "$ST"

# ---- files: tar streams both ways through the library's copies -----------------------------
src=$work/up
mkdir -p "$src/sub"
echo "hello files" >"$src/a.txt"
head -c 1048576 /dev/urandom >"$src/sub/b.bin"
ln -s a.txt "$src/link"
tar -C "$src" -cf "$work/up.tar" .
api PUT "/v1/acme/boxes/one/files?path=/tmp/up" "$T" -H 'Content-Type: application/x-tar' --data-binary @"$work/up.tar"
expect "upload a tar stream: 204" 204 "$ST"
exec_run one '{"command":"sh","args":["-c","cat /tmp/up/a.txt; sha256sum /tmp/up/sub/b.bin | cut -d\" \" -f1; readlink /tmp/up/link"]}'
sse "$X"
expect "... its files are in the box (text, 1 MiB by SHA-256, a symlink)" \
  "hello files $(sha256sum <"$src/sub/b.bin" | cut -d' ' -f1) a.txt" \
  "$($CHECK sse "$SSE" | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["stdout"].split()))')"
api GET "/v1/acme/boxes/one/files?path=/tmp//up/" "$T"
expect "download a directory: 200" 200 "$ST"
mkdir -p "$work/down" && tar -C "$work/down" -xf "$BODY" 2>"$work/untar.err"
expect "... a tar whose root entry is the path's last component, same tree" "" "$(diff -r "$src" "$work/down/up" 2>&1)"
api GET "/v1/acme/boxes/one/files?path=/etc/passwd" "$T"
expect "download a file: one entry named after it" "passwd" "$(tar -tf "$BODY" 2>&1)"
api GET "/v1/acme/boxes/one/files?path=/tmp/../etc" "$T"
expect "a path with ..: 400" 400 "$ST"
has "... saying paths outside the box are refused" "outside the box" "$BODY"
api GET "/v1/acme/boxes/one/files?path=etc" "$T"
expect "a relative path: 400" 400 "$ST"
api GET "/v1/acme/boxes/one/files" "$T"
expect "no path: 400" 400 "$ST"
api GET "/v1/acme/boxes/one/files?path=/no/such" "$T"
expect "a path that is not in the box: 404" 404 "$ST"
api PUT "/v1/acme/boxes/one/files?path=/no/such" "$T" -H "Content-Type: application/x-tar" --data-binary @"$work/up.tar"
expect "an upload under a folder that is not in the box: 404" 404 "$ST"
api GET "/v1/acme/boxes/one/files?path=/tmp/up&follow_symlinks=true" "$T"
expect "follow_symlinks=true: 501" 501 "$ST"
api PUT "/v1/acme/boxes/one/files?path=/tmp/up" "$T" -H 'Content-Type: text/plain' --data-binary @"$work/up.tar"
expect "an upload that is not a tar (Content-Type): 400" 400 "$ST"
api PUT "/v1/acme/boxes/one/files?path=/srv&overwrite=false" "$T" --data-binary @"$work/up.tar"
expect "overwrite=false: 501" 501 "$ST"
api PUT "/v1/other/boxes/$ID/files?path=/srv/x" "$OT" --data-binary @"$work/up.tar"
expect "another tenant's box: 404" 404 "$ST"
api PUT "/v1/acme/boxes/one/files?path=/srv/x" "$RT" --data-binary @"$work/up.tar"
expect "files need boxes:exec: 403" 403 "$ST"
# hostile archives: nothing of them reaches the box
python3 - "$work" <<'PY'
import io, sys, tarfile
w = sys.argv[1]
def mk(name, entries):
    with tarfile.open(f"{w}/{name}.tar", "w", format=tarfile.PAX_FORMAT) as t:
        for n, typ in entries:
            i = tarfile.TarInfo(n); i.type = typ
            data = b"pwned\n" if typ == tarfile.REGTYPE else b""
            i.size = len(data)
            if typ == tarfile.CHRTYPE: i.devmajor, i.devminor = 1, 3
            t.addfile(i, io.BytesIO(data))
mk("dotdot", [("ok.txt", tarfile.REGTYPE), ("../../evil", tarfile.REGTYPE)])
mk("abs", [("/evil", tarfile.REGTYPE)])
mk("dev", [("null2", tarfile.CHRTYPE)])
PY
for t in dotdot abs dev; do
  api PUT "/v1/acme/boxes/one/files?path=/tmp/h" "$T" -H 'Content-Type: application/x-tar' --data-binary @"$work/$t.tar"
  expect "a hostile archive ($t): 400" 400 "$ST"
done
has "... naming what is wrong" "archive" "$BODY"
exec_run one '{"command":"sh","args":["-c","ls /tmp/h /evil /tmp/evil 2>&1 | grep -c \"No such\""]}'
sse "$X"
expect "... and nothing of them is in the box" 3 "$($CHECK sse "$SSE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stdout"].strip())')"
head -c 5242880 /dev/zero >"$work/5m"
api PUT "/v1/acme/boxes/one/files?path=/srv/big" "$T" --data-binary @"$work/5m"
expect "an upload over --max-file-bytes (4 MiB): 413" 413 "$ST"
exec_run one '{"command":"dd","args":["if=/dev/zero","of=/tmp/big","bs=1048576","count=5"]}'
sse "$X"
api GET "/v1/acme/boxes/one/files?path=/tmp/big" "$T"
expect "a download over --max-file-bytes is refused" 1 "$([ "$ST" -ge 400 ] && [ "$ST" -lt 500 ] && echo 1 || echo "$ST")"
has "... saying so" "bytes" "$BODY"
# a folder onto a path that is a file in the box: the caller's conflict (409), not 500
api PUT "/v1/acme/boxes/one/files?path=/tmp/up/a.txt" "$T" -H 'Content-Type: application/x-tar' --data-binary @"$work/up.tar"
expect "an upload of a folder onto a file: 409" 409 "$ST"
has "... saying why" "Not a directory" "$BODY"
api GET "/v1/acme/boxes/one/files?path=/tmp/up/a.txt/x" "$T"
expect "a download under a file: 409" 409 "$ST"

api POST /v1/acme/boxes/one/stdin "$T" --data-binary x -H 'Content-Type: application/octet-stream'
expect "stdin of a box whose main process has none open: 409" 409 "$ST"
api POST "/v1/other/boxes/$ID/stdin" "$OT" --data-binary x
expect "... another tenant's box: 404" 404 "$ST"
api GET "/v1/acme/boxes/one/logs" "$RT"
expect "logs need boxes:exec: 403" 403 "$ST"
api GET "/v1/other/boxes/$ID/logs" "$OT"
expect "... another tenant's box: 404" 404 "$ST"

# ---- metrics ---------------------------------------------------------------------------------
api GET /v1/acme/boxes/one/metrics "$T"
expect "box metrics: 200" 200 "$ST"
expect "... executions counted" True "$(jget 'd["commands_executed_total"] >= 5')"
expect "... the memory of the running box" True "$(jget 'd["memory_bytes"] > 0')"
expect "... the start timing" True "$(jget 'd["boot_timing"]["total_create_ms"] > 0')"
api GET /v1/acme/metrics "$T"
expect "runtime metrics need runtime:admin: 403" 403 "$ST"
api GET /v1/acme/metrics "$AT"
expect "runtime metrics: 200" 200 "$ST"
expect "... the tenant's running box" 1 "$(jget 'd["num_running_boxes"]')"
expect "... its executions" True "$(jget 'd["total_commands_executed"] >= 5')"
api GET /v1/acme/host "$T"
expect "the server's host check needs runtime:admin: 403" 403 "$ST"
api GET /v1/acme/host "$AT"
expect "the server's host check (ours, for doctor): 200, checks with a status, engines" "200 True True" \
  "$ST $(jget 'all(k["status"] in ("ok","info","warn","fail") for k in d["checks"]) and len(d["checks"]) > 3') $(jget '"engines" in d["engines"]')"
api GET "/v1/other/boxes/$ID/metrics" "$OT"
expect "another tenant's box metrics: 404" 404 "$ST"

# ---- images: pull from a registry on loopback, list, get, HEAD ---------------------------------
python3 tests/fixtures/mkimages.py "$work/fx" busybox >/dev/null
rport=$(tests/fixtures/registry.sh start "$work/reg" $$) || no "the registry starts"
tests/fixtures/registry.sh push "$work/reg" "$work/fx/busybox" tools/bb:1
api POST /v1/acme/images/pull "$T" -d "{\"reference\":\"127.0.0.1:$rport/tools/bb:1\"}"
expect "pull: 200" 200 "$ST"
expect "... the ImageInfo" "127.0.0.1:$rport/tools/bb 1" "$(jget 'd["repository"] + " " + d["tag"]')"
IMG=$(jget 'd["id"]')
# ours: the same pull as events (the layers' progress, then the ImageInfo) when asked for
# (again: a layer already stored comes once, done)
curl -s -N --max-time 300 -H "Authorization: Bearer $T" -H 'Accept: text/event-stream' \
  -d "{\"reference\":\"127.0.0.1:$rport/tools/bb:1\"}" -D "$work/pullsse.h" "$U/v1/acme/images/pull" >"$work/pullsse"
expect "pull with Accept: text/event-stream: 200, events" "200 text/event-stream" \
  "$(head -1 "$work/pullsse.h" | cut -d' ' -f2) $(grep -i '^content-type:' "$work/pullsse.h" | tr -d '\r' | cut -d' ' -f2)"
expect "... progress events, the last of each layer done, then pulled with the ImageInfo" "True 127.0.0.1:$rport/tools/bb 1" \
  "$(python3 - "$work/pullsse" <<'PY'
import json, sys
evs, cur = [], {}
for line in open(sys.argv[1]).read().split("\n"):
    if not line:
        if cur: evs.append(cur)
        cur = {}
    elif not line.startswith(":"):
        k, _, v = line.partition(": ")
        cur[k] = v
prog = [json.loads(e["data"]) for e in evs if e.get("event") == "progress"]
last = {}
for p in prog:
    last[p["layer"]] = p
ok = bool(prog) and all(p["done"] == p["total"] > 0 for p in last.values()) and evs[-1]["event"] == "pulled"
d = json.loads(evs[-1]["data"])
print(ok, d["repository"], d["tag"])
PY
)"
curl -s -N --max-time 300 -H "Authorization: Bearer $T" -H 'Accept: text/event-stream' \
  -d "{\"reference\":\"127.0.0.1:$rport/tools/none:1\"}" "$U/v1/acme/images/pull" >"$work/pullsse2"
expect "... a pull that fails: an error event, the error model with the plain answer's status" "422 ImageError" \
  "$(python3 -c 'import json,sys; t=open(sys.argv[1]).read(); e=[b for b in t.split("\n\n") if "event: error" in b][0]; d=json.loads(e.split("data: ",1)[1]); print(d["error"]["code"], d["error"]["type"])' "$work/pullsse2")"
api GET /v1/acme/images "$T"
expect "the tenant's images list it" "['127.0.0.1:$rport/tools/bb:1']" "$(jget '[i["reference"] for i in d["images"]]')"
api GET "/v1/acme/images/$IMG" "$T"
expect "get an image by id" "$IMG" "$(jget 'd["id"]')"
api HEAD "/v1/acme/images/$IMG" "$T"
expect "HEAD of an image: 204" 204 "$ST"
api HEAD "/v1/acme/images/sha256:$(printf '0%.0s' $(seq 64))" "$T"
expect "HEAD of no image: 404" 404 "$ST"
api GET /v1/other/images "$OT"
expect "another tenant's list does not show it" 0 "$(jget 'len(d["images"])')"
api GET "/v1/other/images/$IMG" "$OT"
expect "... nor does it get it by id" 404 "$ST"
api POST /v1/acme/images/pull "$T" -d '{"reference":"oci:/etc"}'
expect "pull of a host path: 400" 400 "$ST"
api POST /v1/acme/images/pull "$T" -d "{\"reference\":\"127.0.0.1:$rport/no/such:1\"}"
expect "pull of no such image: 422" 422 "$ST"
expect "... ImageError" ImageError "$(jget 'd["error"]["type"]')"
api POST /v1/acme/images/pull "$RT" -d "{\"reference\":\"127.0.0.1:$rport/tools/bb:1\"}"
expect "pull needs images:write: 403" 403 "$ST"
# the extensions: remove and prune (the tenant's own view of the shared store)
api DELETE "/v1/other/images/$IMG" "$OT"
expect "another tenant's DELETE of the image: 403 (no images:write; with it, 404: serve_cli.sh)" 403 "$ST"
api DELETE "/v1/acme/images/$IMG" "$RT"
expect "DELETE of an image needs images:write: 403" 403 "$ST"
api DELETE "/v1/acme/images/$IMG?force=maybe" "$T"
expect "force not a boolean: 400" 400 "$ST"
api DELETE "/v1/acme/images/$IMG" "$T"
expect "DELETE of the tenant's image: 204" 204 "$ST"
api GET /v1/acme/images "$T"
expect "... gone from its list" 0 "$(jget 'len(d["images"])')"
api POST /v1/acme/images/pull "$T" -d "{\"reference\":\"127.0.0.1:$rport/tools/bb:1\"}"
api POST /v1/acme/images/prune "$T"
expect "image prune: 200, removing what no box of the tenant's uses" "200 ['127.0.0.1:$rport/tools/bb:1']" "$ST $(jget 'd["removed"]')"

# ---- registry credentials: this host's are not its clients' -----------------------------------
pport=$(tests/fixtures/registry.sh start "$work/preg" $$ ci s3cret) || no "the registry with a password starts"
tests/fixtures/registry.sh push "$work/preg" "$work/fx/busybox" priv/bb:1 ci:s3cret
PRIV=127.0.0.1:$pport/priv/bb:1
mkdir -p "$DOCKER_CONFIG"
printf '{"auths": {"127.0.0.1:%s": {"auth": "%s"}}}\n' "$pport" "$(printf ci:s3cret | base64)" >"$DOCKER_CONFIG/config.json"
"$B" pull "$PRIV" >/dev/null 2>"$work/priv.err" && ok "this host pulls the private image with its Docker config" \
  || no "this host pulls the private image with its Docker config" "$(cat "$work/priv.err")"
api POST /v1/acme/images/pull "$T" -d "{\"reference\":\"$PRIV\"}"
expect "a client's pull of it is anonymous (the server's user's credentials are not lent): 422" 422 "$ST"
expect "... saying the registry refused anonymous access" True "$(jget '"anonymous" in d["error"]["message"]')"
api POST /v1/acme/boxes "$T" -d "{\"name\":\"priv\",\"image\":\"$PRIV\"}"
expect "nor is a box made of it from the store, which has it: 422 ImageError" "422 ImageError" "$ST $(jget 'd["error"]["type"]')"
api GET /v1/acme/boxes/priv "$T"
expect "... and no box is left" 404 "$ST"
start_server U2 --rate 0 --registry-credentials
saved=$U U=$U2
token acme-ci "$SECRET"
api POST /v1/acme/images/pull "$TOKEN" -d "{\"reference\":\"$PRIV\"}"
expect "with --registry-credentials the server lends them: the same pull is 200" 200 "$ST"
U=$saved
kill -TERM "$U2_pid" 2>/dev/null; wait "$U2_pid" 2>/dev/null

# ---- the TTY WebSocket (python3's socket module as the client) -------------------------------
ws() { # PATH_AND_QUERY SCRIPT_JSON [TOKEN]: the client's summary in $WS
  WS=$(python3 tests/e2e/serve_ws.py "$U" "${3-$T}" "$1" "$2")
}
wsget() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, {"d": d}))' "$WS" "$1" 2>/dev/null; }
ws "/v1/acme/boxes/one/exec/tty?command=tty" '[["end"]]'
expect "tty: the upgrade (101) with the right Sec-WebSocket-Accept" "101 True" "$(wsget 'd["status"], d["accept_ok"]' | tr -d "(),'")"
expect "... tty says the process has a terminal" True "$(wsget 'd["output"].strip().startswith("/dev/pts/")')"
expect "... then the exit message (0) and a normal close (1000)" "0 1000" "$(wsget 'd["exit"]["exit_code"], d["close"][0]' | tr -d '(),')"
ws "/v1/acme/boxes/one/exec/tty?command=sh&cols=80&rows=24" '[["expect","/ # "],["send","text","{\"type\":\"resize\",\"cols\":100,\"rows\":30}"],["send","binary","stty size\n"],["expect","30 100"],["frag","echo $((6*7))x\n",3],["expect","42x"],["ping","hi"],["send","binary","exit 3\n"],["end"]]'
expect "a shell: resize message, then stty size says 30 100" "[True, True, True]" "$(wsget 'd["matched"]')"
expect "... a fragmented binary message arrives whole (42x)" True "$(wsget '"42x" in d["output"]')"
expect "... a ping gets its pong" True "$(wsget 'd["pong"]')"
expect "... exit 3: the exit message says 3, then close 1000" "3 1000" "$(wsget 'd["exit"]["exit_code"], d["close"][0]' | tr -d '(),')"
ws "/v1/acme/boxes/one/exec/tty?command=sh&args=-c&args=echo%20a%20b" '[["end"]]'
expect "command and repeated args" "a b" "$(wsget 'd["output"].strip()')"
ws "/v1/acme/boxes/one/exec/tty?command=sh&args=-c&args=echo%20\$V%20\$W%20\$(pwd)&env=V=1&env=W=a%3Db&working_dir=/tmp" '[["end"]]'
expect "env (repeated KEY=VALUE) and working_dir" "1 a=b /tmp" "$(wsget 'd["output"].strip()')"
ws "/v1/acme/boxes/one/exec/tty?command=true&env=novalue" '[["end"]]'
expect "... an env without =: 400" 400 "$(wsget 'd["status"]')"
# an unmasked client frame: closed with 1002 (RFC 6455 section 5.1)
ws "/v1/acme/boxes/one/exec/tty?command=cat" '[["raw","820268690a"],["end"]]'
expect "an unmasked frame: close 1002" 1002 "$(wsget 'd["close"][0]')"
ws "/v1/acme/boxes/one/exec/tty?command=cat" '[["send","text","{\"type\":\"bogus\"}"],["end"]]'
expect "a text message that is not a resize: close 1008, saying what it takes" "1008 True" "$(wsget 'd["close"][0], "resize" in d["close"][1]' | tr -d '(),')"
ws "/v1/acme/boxes/one/exec/tty?command=cat" '[["send","binary","hello\n"],["expect","hello"],["close",1000]]'
expect "the client closes: the server answers its close" 1000 "$(wsget 'd["close"][0]')"
ws "/v1/acme/boxes/one/exec/tty?command=tty" '[["end"]]' ""
expect "no token: 401, no upgrade" 401 "$(wsget 'd["status"]')"
ws "/v1/other/boxes/$ID/exec/tty?command=tty" '[["end"]]' "$OT"
expect "another tenant's box: 404" 404 "$(wsget 'd["status"]')"
ws "/v1/acme/boxes/one/exec/tty?command=/no/such" '[["end"]]'
expect "a command that is not in the box: exit -1 with the reason, then close 1000" "-1 True 1000" "$(wsget 'd["exit"]["exit_code"], "/no/such" in d["exit"]["error"], d["close"][0]' | tr -d '(),')"
ws "/v1/acme/boxes/one/exec/tty?rows=0" '[["end"]]'
expect "rows=0: 400" 400 "$(wsget 'd["status"]')"
api GET /v1/acme/boxes/one/exec/tty "$T"
expect "a GET that is not an upgrade: 400" 400 "$ST"

# ---- idempotency keys ---------------------------------------------------------------------
K=017f22e2-79b0-7cc3-98c4-dc0c0c07398f
api POST /v1/acme/boxes "$T" -H "Idempotency-Key: $K" -D "$work/h1" -d '{"name":"idem","rootfs_path":"bb","auto_remove":false}'
expect "create with an Idempotency-Key: 201" 201 "$ST"
I1=$(jget 'd["box_id"]')
api POST /v1/acme/boxes "$T" -H "Idempotency-Key: $K" -D "$work/h2" -d '{"name":"idem","rootfs_path":"bb","auto_remove":false}'
expect "the same key and body: the same answer (201, the same box)" "201 $I1" "$ST $(jget 'd["box_id"]')"
has "... marked as replayed" "Idempotent-Replayed: true" "$work/h2"
expect "... with the same Location" "$(grep -i '^Location' "$work/h1")" "$(grep -i '^Location' "$work/h2")"
api GET /v1/acme/boxes "$T"
expect "... and no second box" 1 "$(jget 'len([b for b in d["boxes"] if b["name"] == "idem"])')"
api POST /v1/acme/boxes "$T" -H "Idempotency-Key: $K" -d '{"name":"idem2","rootfs_path":"bb"}'
expect "the same key with another body: 422" 422 "$ST"
api POST /v1/other/boxes "$OT" -H "Idempotency-Key: $K" -d '{"name":"idem","rootfs_path":"bb"}'
expect "another tenant's same key is its own (201, another box)" "201 True" "$ST $(jget 'd["box_id"] != "'"$I1"'"')"
OI=$(jget 'd["box_id"]')
api POST /v1/acme/boxes/one/exec "$T" -H "Idempotency-Key: exec-$K" -d '{"command":"true"}'
X1=$(jget 'd["execution_id"]')
api POST /v1/acme/boxes/one/exec "$T" -H "Idempotency-Key: exec-$K" -d '{"command":"true"}'
expect "an exec retried with its key: the same execution" "201 $X1" "$ST $(jget 'd["execution_id"]')"
api POST /v1/acme/boxes "$T" -H "Idempotency-Key: a key" -d '{"rootfs_path":"bb"}'
expect "a key with a space: 400" 400 "$ST"
api DELETE /v1/acme/boxes/idem "$T" -H "Idempotency-Key: rm-$K"
expect "delete with a key: 204" 204 "$ST"
api DELETE /v1/acme/boxes/idem "$T" -H "Idempotency-Key: rm-$K"
expect "... retried: 204 again (not 404)" 204 "$ST"
api DELETE /v1/acme/boxes/idem "$T"
expect "... without the key: 404" 404 "$ST"
api DELETE "/v1/other/boxes/$OI" "$OT"

# ---- a stalled client does not hold up the others -------------------------------------------
port=${U##*:}
exec {slow}<>/dev/tcp/127.0.0.1/"$port"
printf 'POST /v1/oauth/tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc' >&"$slow"
api GET /v1/config ""
expect "a client stalled mid-request does not block others" 200 "$ST"
exec {slow}>&-

# ---- 100 concurrent clients -------------------------------------------------------------------
pids=()
for i in $(seq 100); do
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 120 -H "Authorization: Bearer $T" "$U/v1/acme/boxes/one" >"$work/conc.$i" &
  pids+=($!)
done
wait "${pids[@]}"
expect "100 concurrent clients are all answered 200" 100 "$(cat "$work"/conc.* | grep -c '^200$')"

# ---- lists -----------------------------------------------------------------------------------
api POST /v1/acme/boxes "$T" -d '{"name":"two","rootfs_path":"bb","detach":true,"auto_remove":false,"stdin_open":true,"cmd":["sh","-c","echo log-line-1; echo log-line-2; while read x; do echo got-$x; done; exec sleep 1000"]}'
expect "a detached box (a main process with its stdin open)" 201 "$ST"
expect "... the Box says so" "True False" "$(jget 'd["stdin_open"], d["tty"]' | tr -d '(),')"
api GET "/v1/acme/boxes?pageSize=1" "$T"
p1=$(jget 'd["boxes"][0]["name"]'); tok=$(jget 'd["next_page_token"]')
api GET "/v1/acme/boxes?pageSize=1&pageToken=$tok" "$T"
p2=$(jget 'd["boxes"][0]["name"]')
expect "two pages of one box each, oldest first" "one two" "$p1 $p2"
expect "... the last without a next page" None "$(jget 'd["next_page_token"]')"
api GET "/v1/acme/boxes?status=running" "$T"
expect "status=running: the booted box only" "['one']" "$(jget '[b["name"] for b in d["boxes"]]')"
api GET "/v1/acme/boxes?status=sleepy" "$T"
expect "a status that is none: 400" 400 "$ST"
api GET "/v1/acme/boxes?pageToken=garbage!" "$T"
expect "a page token not ours: 400" 400 "$ST"

# ---- snapshots and stop -------------------------------------------------------------------------
api POST /v1/acme/boxes/one/stop "$T" -d '{"timeout_seconds":20}'
expect "stop: 200" 200 "$ST"
expect "... stopped" stopped "$(jget 'd["status"]')"
api POST /v1/acme/boxes/one/snapshots "$T" -d '{"name":"s1"}'
expect "snapshot of a stopped box: 201" 201 "$ST"
api GET /v1/acme/boxes/one/snapshots "$T"
expect "snapshot list" "['s1']" "$(jget '[s["name"] for s in d["snapshots"]]')"
api GET /v1/acme/boxes/one/snapshots/s1 "$T"
expect "get a snapshot" s1 "$(jget 'd["name"]')"
api DELETE /v1/acme/boxes/one/snapshots/s1 "$T"
expect "remove a snapshot: 204" 204 "$ST"
# the extensions on a stopped box (docs/api.yaml x-boxlite-extension)
api POST /v1/acme/boxes/one/wait "$T"
expect "wait on a stopped box: 200, stopped" "200 stopped" "$ST $(jget 'd["status"]')"
api POST /v1/acme/boxes/one/kill "$T" -d '{"signal":15}'
expect "kill of a stopped box: 409" 409 "$ST"
api POST /v1/acme/boxes/one/kill "$T" -d '{}'
expect "kill without a signal: 400" 400 "$ST"
api POST /v1/acme/boxes/one/rename "$T" -d '{"name":"uno"}'
expect "rename: 200, the new name" "200 uno" "$ST $(jget 'd["name"]')"
api POST /v1/acme/boxes/uno/rename "$T" -d '{"name":"../x"}'
expect "rename to a bad name: 400" 400 "$ST"
api POST /v1/acme/boxes/uno/rename "$T" -d '{"name":"one"}'
expect "... and back" "200 one" "$ST $(jget 'd["name"]')"
api POST /v1/acme/boxes/one/balloon "$T" -d '{"target_mib":64}'
expect "balloon of a stopped box: 409" 409 "$ST"
api POST /v1/acme/boxes/one/balloon "$T" -d '{"target_mib":8}'
expect "balloon below 32: 400" 400 "$ST"
api POST /v1/acme/boxes/one/reclaim "$T"
expect "reclaim of a stopped box: 409" 409 "$ST"
api POST /v1/acme/boxes/one/fork "$T" -d '{"names":["a","b"],"x":1}'
expect "fork with an unknown field: 400" 400 "$ST"
for v in kill wait rename pause resume fork reclaim balloon; do
  api POST "/v1/other/boxes/$ID/$v" "$OT" -d '{"signal":9,"name":"x","target_mib":64}'
  expect "another tenant's $v of the box (by id): 404" 404 "$ST"
done
api POST /v1/acme/boxes/one/rename "$RT" -d '{"name":"uno"}'
expect "rename needs boxes:write: 403" 403 "$ST"
api POST /v1/other/boxes/prune "$OT"
expect "the other tenant's prune removes its own box only, not acme's stopped one" "200 ['$OID']" "$ST $(jget 'd["removed"]')"
api GET /v1/acme/boxes/one "$T"
expect "... which is still there" 200 "$ST"
api DELETE /v1/acme/boxes/one "$T"
expect "delete a stopped box: 204" 204 "$ST"
api GET /v1/acme/boxes/one "$T"
expect "... gone: 404" 404 "$ST"
api DELETE "/v1/other/boxes/$OID" "$OT"
expect "the other tenant's own box went with its prune: 404" 404 "$ST"

# ---- the console log and the main process's stdin (ours: logs, attach) -----------------------
api POST /v1/acme/boxes/two/start "$T"
expect "start the box with a main process: 200" 200 "$ST"
for _ in $(seq 300); do
  api GET "/v1/acme/boxes/two/logs?tail=2" "$T"
  grep -q "event: log" "$BODY" && $CHECK sse "$BODY" | grep -q log-line-2 && break
  sleep 0.2
done
expect "logs: 200" 200 "$ST"
L=$($CHECK sse "$BODY")
jl() { echo "$L" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
# (the console ends its lines with CR LF)
expect "... tail=2: the main process's last two lines, base64 in log events" '"log-line-1\r\nlog-line-2\r\n"' "$(jl 'json.dumps(d["log"])')"
expect "... then the end event: the box's state, no exit yet" "running None" "$(jl 'd["end"]["state"], d["end"]["exit_code"]' | tr -d "(),'")"
expect "... the ids are positions in the log (inode.offset.state.since.until)" 1 "$(jl 'd["ids"][-2]' | grep -cE '^[0-9]+(\.[0-9]+){4}$')"
FIRST=$(jl 'd["ids"][0]')
api GET "/v1/acme/boxes/two/logs?tail=2" "$T" -H "Last-Event-ID: $FIRST"
expect "... again from the first (empty) event's id: the same two lines, the tail's start is exact" '"log-line-1\r\nlog-line-2\r\n"' "$($CHECK sse "$BODY" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["log"]))')"
api GET "/v1/acme/boxes/two/logs?tail=2" "$T" -H "Last-Event-ID: -1"
expect "... a Last-Event-ID that is no event id (-1): 400" 400 "$ST"
api GET "/v1/acme/boxes/two/logs?tail=2" "$T" -H "Last-Event-ID: 12"
expect "... nor is a byte count (12, the old ids): 400" 400 "$ST"
api GET "/v1/acme/boxes/two/logs?tail=2" "$T" -H "Last-Event-ID: ${FIRST%%.*}.99999999999.0.0.0"
expect "... a position beyond the end of its file: 400" 400 "$ST"
api GET "/v1/acme/boxes/two/logs?tail=2&timestamps=true" "$T"
expect "... timestamps=true: each line starts with its time" 2 "$($CHECK sse "$BODY" | python3 -c 'import json,re,sys; print(len(re.findall(r"(?m)^20[0-9-]+T[0-9:.]+Z log-line", json.load(sys.stdin)["log"])))')"
api GET "/v1/acme/boxes/two/logs?tail=x" "$T"
expect "... tail=x: 400" 400 "$ST"
api GET "/v1/acme/boxes/two/logs?since=yesterday-ish" "$T"
expect "... a since that is no time: 400" 400 "$ST"
api POST /v1/acme/boxes/two/stdin "$T" --data-binary $'hi\n' -H 'Content-Type: application/octet-stream'
expect "stdin of the main process: 204" 204 "$ST"
for _ in $(seq 300); do
  api GET "/v1/acme/boxes/two/logs?tail=1" "$T"
  $CHECK sse "$BODY" | grep -q got-hi && break
  sleep 0.2
done
expect "... it read what was sent" '"got-hi\r\n"' "$($CHECK sse "$BODY" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["log"]))')"
# a stream taken up again goes on exactly where it stopped, whatever its window: the log
# grows between the two requests, so tail=1 and a relative since pick other lines the
# second time (ids that counted bytes skipped or repeated some)
LOGQ() { $CHECK sse "$BODY" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["ids"][-2] if sys.argv[1] == "id" else json.dumps(d["log"]))' "$1"; }
LID=$(LOGQ id)
stdin_line() { # WORD...: each a line to the main process, the last then waited for in the log
  local last=${!#}
  api POST /v1/acme/boxes/two/stdin "$T" --data-binary "$(printf '%s\n' "$@")"$'\n' -H 'Content-Type: application/octet-stream'
  for _ in $(seq 300); do
    api GET "/v1/acme/boxes/two/logs?tail=1" "$T"
    $CHECK sse "$BODY" | grep -q "got-$last" && break
    sleep 0.2
  done
}
stdin_line more more2
api GET "/v1/acme/boxes/two/logs?tail=1" "$T" -H "Last-Event-ID: $LID"
expect "logs tail=1 taken up again after the log grew by two lines: exactly those" '"got-more\r\ngot-more2\r\n"' "$(LOGQ log)"
api GET "/v1/acme/boxes/two/logs?since=3s&follow=false" "$T"
LID=$(LOGQ id)
sleep 3.5 # every line read so far is now older than the window
stdin_line again
api GET "/v1/acme/boxes/two/logs?since=3s&follow=false" "$T" -H "Last-Event-ID: $LID"
expect "logs since=3s taken up again once the window moved past the lines read: exactly the new line" '"got-again\r\n"' "$(LOGQ log)"
api GET "/v1/acme/boxes/two/logs?since=1h&timestamps=true" "$T"
A=$(LOGQ log)
LID=$($CHECK sse "$BODY" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ids"][0])')
api GET "/v1/acme/boxes/two/logs?since=1h&timestamps=true" "$T" -H "Last-Event-ID: $LID"
expect "... with timestamps, again from the stream's first id: the same dated lines" "$A" "$(LOGQ log)"

# ---- the extensions on a running box: pause, resume, fork, prune ---------------------------------
api POST /v1/acme/boxes/two/pause "$T"
expect "pause: 200, paused" "200 paused" "$ST $(jget 'd["status"]')"
api POST /v1/acme/boxes/two/resume "$T"
expect "resume: 200, running" "200 running" "$ST $(jget 'd["status"]')"
api POST /v1/acme/boxes/two/fork "$T" -d '{"names":["two-f"]}'
expect "fork: 201, the fork running" "201 two-f running" "$ST $(jget 'd["boxes"][0]["name"] + " " + d["boxes"][0]["status"]')"
FID=$(jget 'd["boxes"][0]["box_id"]')
api POST /v1/acme/boxes/two-f/stop "$T" -d '{"timeout_seconds":5}'
api POST /v1/acme/boxes/prune "$T"
expect "prune: 200, the stopped fork removed" "200 True" "$ST $(jget "'$FID' in d['removed']")"
api GET /v1/acme/boxes/two "$T"
expect "... two still runs" running "$(jget 'd["status"]')"
api POST "/v1/acme/boxes/two/reclaim?idle_ms=3600000" "$T"
expect "reclaim?idle_ms of a box not idle that long: 200, skipped, how long it was idle" "200 True True" \
  "$ST $(jget 'd["skipped"]') $(jget 'd["idle_ms"] < 3600000 and "freed_bytes" not in d')"
api POST "/v1/acme/boxes/two/reclaim?idle_ms=x" "$T"
expect "... idle_ms=x: 400" 400 "$ST"

# ---- SIGTERM: executions end with their exit event, the detached box stays ----------------------
exec_run two '{"command":"sh","args":["-c","echo started; exec sleep 1000"]}'
n=$((n + 1)); LAST=$work/sse.$n
curl -s -N --max-time 300 -H "Authorization: Bearer $T" "$U/v1/acme/boxes/two/executions/$X/output" >"$LAST" &
sse_pid=$!
n=$((n + 1)); WSTERM=$work/ws.$n
python3 tests/e2e/serve_ws.py "$U" "$T" "/v1/acme/boxes/two/exec/tty?command=sh&args=-c&args=echo%20started;%20exec%20sleep%201000" \
  "[[\"expect\",\"started\"],[\"mark\",\"$work/ws.open\"],[\"end\"]]" >"$WSTERM" &
ws_pid=$!
# the stream is open once its first event arrived, the TTY session once it saw "started"
for _ in $(seq 600); do grep -q 'event: stdout' "$LAST" && [ -e "$work/ws.open" ] && break; sleep 0.1; done
kill -TERM "$spid"
wait "$spid"; rc=$?
spid=
expect "SIGTERM: the server exits 0" 0 "$rc"
wait "$sse_pid"
expect "... the open stream ends with the exit event (SIGTERM: 143)" 143 "$($CHECK sse "$LAST" | python3 -c 'import json,sys; print(json.load(sys.stdin)["exit"]["exit_code"])')"
wait "$ws_pid"
expect "... an open TTY session ends with its exit message (SIGTERM: 143) and close 1000" "143 1000" \
  "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["exit"]["exit_code"], d["close"][0])' "$WSTERM" 2>/dev/null)"
expect "... the detached box keeps running" running "$("$B" inspect -f '{{.State}}' acme.two 2>/dev/null)"

# ---- TLS with a test CA -------------------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout "$work/ca.key" \
  -out "$work/ca.pem" -addext basicConstraints=critical,CA:TRUE >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$work/srv.key" -out "$work/srv.csr" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1\n' >"$work/san.ext"
openssl x509 -req -in "$work/srv.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
  -days 2 -extfile "$work/san.ext" -out "$work/srv.pem" >/dev/null 2>&1
start_server S --tls-cert "$work/srv.pem" --tls-key "$work/srv.key"
case $S in https://127.0.0.1:*) ok "with --tls-cert/--tls-key the server speaks HTTPS ($S)" ;; *) no "TLS server" "$(tail -3 "$work/serve.S.log")" ;; esac
expect "HTTPS with the test CA: GET /v1/config 200" 200 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 --cacert "$work/ca.pem" "$S/v1/config")"
tok=$(curl -s --max-time 60 --cacert "$work/ca.pem" -d grant_type=client_credentials -d client_id=acme-ci --data-urlencode "client_secret=$SECRET" "$S/v1/oauth/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' 2>/dev/null)
expect "... a token over TLS, then a box list" 200 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 --cacert "$work/ca.pem" -H "Authorization: Bearer $tok" "$S/v1/acme/boxes")"
curl -s -o /dev/null --max-time 60 "$S/v1/config" && no "a client without the CA refuses the server" || ok "a client without the CA refuses the server"
curl -s -o /dev/null --max-time 60 "http://${S#https://}/v1/config" && no "plain HTTP to the TLS port fails" || ok "plain HTTP to the TLS port fails"
BOXLITE_CA_FILE=$work/ca.pem "$B" --url "$S" --client-id acme-ci --client-secret "$SECRET" --prefix acme doctor >"$work/doc.tls" 2>&1; st=$?
expect "doctor --url over TLS with the test CA: 0" 0 "$st"
has "... tls verified against that CA" "ok    tls: https, the certificate verified against $work/ca.pem" "$work/doc.tls"
"$B" --url "$S" --client-id acme-ci --client-secret "$SECRET" --prefix acme doctor >"$work/doc.notls" 2>&1; st=$?
expect "doctor --url over TLS without the CA: 1, the server and tls failing" "1 1 1" "$st $(grep -c '^fail  server:' "$work/doc.notls") $(grep -c '^fail  tls: https, not verified' "$work/doc.notls")"
kill -TERM "$S_pid"; wait "$S_pid" 2>/dev/null

# ---- the log -------------------------------------------------------------------------------
log=$work/serve.U.log
has "the log has method, path, status, client" "POST /v1/acme/boxes 201" "$log"
has "... and the client id" "client=acme-ci" "$log"
if grep -qF -e "$SECRET" -e "$T" "$log"; then no "no secret or token in the log"; else ok "no secret or token in the log"; fi

# ---- what the SDKs need beyond the API (issue 23i): timed_out, status_text, stop_reason, health --
# a server again (the first one ended at SIGTERM) on the box two, which kept running
start_server V --rootfs-dir "$work/roots" --rate 0
spid=$V_pid
U=$V
token acme-ci "$SECRET"; T=$TOKEN
xsse() { # EXEC: box two's execution's whole stream into $work/sse.EXEC; its exit event's
  # exit_code, timed_out and whether it has an error
  curl -s -N --max-time 300 -H "Authorization: Bearer $T" "$U/v1/acme/boxes/two/executions/$1/output" >"$work/sse.$1"
  $CHECK sse "$work/sse.$1" | python3 -c 'import json,sys; e=json.load(sys.stdin)["exit"]; print(e["exit_code"], e.get("timed_out"), "error" in e)'
}
exec_run two '{"command":"sleep","args":["600"],"timeout_seconds":1}'
expect "exit event of a timed-out execution: 137, timed_out true" "137 True False" "$(xsse "$X")"
exec_run two '{"command":"sleep","args":["600"]}'
api POST "/v1/acme/boxes/two/executions/$X/signal" "$T" -d '{"signal":9}'
expect "... of one killed by a signal: 137, timed_out false" "137 False False" "$(xsse "$X")"
exec_run two '{"command":"true"}'
expect "... of one that ended by itself: 0, timed_out false" "0 False False" "$(xsse "$X")"
# ExecRequest's user and PauseBoxRequest's timeout_seconds (ours)
exec_run two '{"command":"sh","args":["-c","id -u; id -g"],"user":"65534:65533"}'
expect "exec with user 65534:65533: exit 0" "0 False False" "$(xsse "$X")"
expect "... the process's uid and gid" '65534\n65533\n' \
  "$($CHECK sse "$work/sse.$X" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["stdout"])[1:-1])')"
exec_run two '{"command":"true","user":"no-such-user"}'
expect "... a user the box lacks: the exit event's -1 with an error" "-1 None True" "$(xsse "$X")"
api POST /v1/acme/boxes/two/exec "$T" -d '{"command":"true","user":""}'
expect "... an empty user: 400" 400 "$ST"
api POST /v1/acme/boxes/two/pause "$T" -d '{"timeout_seconds":-1}'
expect "pause with timeout_seconds -1: 400" 400 "$ST"
api POST /v1/acme/boxes/two/pause "$T" -d '{"timeout_seconds":5,"x":1}'
expect "... with an unknown field: 400" 400 "$ST"
api GET /v1/acme/boxes/two "$T"
expect "... the box still runs" running "$(jget 'd["status"]')"
# the library's own words, as `boxlite inspect` (the local API) has them
local_info() { "$B" inspect acme.two | python3 -c 'import json,sys; i=json.load(sys.stdin)[0]; print(i["status"], i.get("stop_reason"), (i.get("health") or {}).get("status"))'; }
api GET /v1/acme/boxes/two "$T"
expect "a running box: status_text, stop_reason, health as the library has them" "$(local_info)" \
  "$(jget 'd["status_text"], d["stop_reason"], d["health"]' | tr -d "(),'")"
expect "... (running None None)" "running None None" "$(local_info)"
api POST /v1/acme/boxes/two/stop "$T" -d '{"timeout_seconds":5}'
expect "stop: 200, stop_reason stopped" "200 stopped" "$ST $(jget 'd["stop_reason"]')"
api GET /v1/acme/boxes "$T"
expect "... the list has them too (the library's words)" "$(local_info)" \
  "$(jget '[(b["status_text"], b["stop_reason"], b["health"]) for b in d["boxes"] if b["name"] == "two"][0]' | tr -d "(),'")"
kill -TERM "$V_pid"; wait "$V_pid" 2>/dev/null
spid=

# ---- every response against docs/api.yaml, and its shape against BoxLite's ------------------------
if out=$($CHECK shape docs/api.yaml tests/e2e/serve_upstream_shape.json); then ok "shape: $(echo "$out" | tail -1)"; else no "shape" "$out"; fi
if out=$($CHECK contract docs/api.yaml "$work/contract.log"); then ok "contract: $(echo "$out" | tail -1)"; else no "contract" "$out"; fi
finish
