#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# boxlite --url: the CLI driving a real `boxlite serve` on loopback (a credentials file, a
# busybox root of the server's --rootfs-dir, boxes on the QEMU engine), the same verbs run
# locally beside it and compared: run attached (output, exit status, --rm) and detached,
# exec (exit codes 0/3/127, stdin of 1 MiB by SHA-256, stdout and stderr kept apart, -e,
# -w, -d; 1.3 MB of output, also through a relay that cuts the stream midway:
# tests/e2e/cut_proxy.py), ps/ls (-a, -q), inspect, stop, start, rm, cp both ways (a folder
# with a 1 MiB file and a symlink, compared with diff -r; a folder onto a file is the
# server's 409), logs (--tail, -t, --since, --until, -f until the box stops), attach (our
# input to a run -d -i box's main process, its output and exit status), stats
# (--no-stream, --format, --json), top, `run -it` and `exec -it` (also with -e and -w)
# through a real pty over the TTY WebSocket (tests/fixtures/pty_run.py: the terminal's
# size 33x111 and exit status 7), the environment's
# BOXLITE_URL/BOXLITE_CLIENT_ID/BOXLITE_CLIENT_SECRET, a wrong secret, another tenant's box
# (not found, for the streaming verbs too), flags the API cannot carry (125, "not
# supported with --url"), doctor (its lines and status beside local doctor's, with and
# without runtime:admin, a wrong secret, no server), attach to a -t box through a real pty,
# and export/import of a box over HTTP (an archive this tenant exported comes back with its
# disk, one exported outside the server is adopted; another tenant's, a damaged one and one
# asking for more memory than the server allows are refused and leave nothing); the
# management verbs (create
# with -e -l -p, rename, port, snapshot, clone, kill, wait, restart, reclaim (--idle too),
# balloon, pause, resume, fork, prune; pull (with its progress), images, rmi (a short
# reference too), image
# prune from a registry on loopback)
# beside the local ones, each of them refused for another tenant's box (404), prune and rmi
# never touching another tenant's boxes or images.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
. tests/harness/lib.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "$B (make)" test -x "$B"
need "/bin/busybox (busybox-static)" test -x /bin/busybox
need_cmd python3
need_cmd docker-registry
need_cmd skopeo
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
spid=
cleanup() {
  [ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
  tests/fixtures/registry.sh stop "$work/reg" >/dev/null 2>&1
  for id in $("$B" ps -a -q 2>/dev/null); do "$B" rm -f "$id" >/dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup EXIT

root=$work/roots/bb
busybox_rootfs "$root"
creds=$work/creds
SECRET=$("$B" serve credentials add "$creds" acme-ci acme)
OSECRET=$("$B" serve credentials add "$creds" other-ci other)
ASECRET=$("$B" serve credentials add "$creds" admin-ci acme --scopes boxes:read,boxes:write,boxes:exec,images:read,images:write,runtime:admin)

# the server; its "listening on URL" line read through a pipe (the real event, not a sleep)
mkfifo "$work/fifo"
"$B" serve --listen 127.0.0.1:0 --credentials "$creds" --rootfs-dir "$work/roots" --rate 0 \
  >"$work/fifo" 2>>"$work/serve.log" &
spid=$!
exec {fd}<"$work/fifo"
read -r -t 60 line <&"$fd"
cat <&"$fd" >/dev/null &
exec {fd}<&-
U=${line##* }
case $U in http://127.0.0.1:*) ok "the server listens on loopback ($U)" ;; *) no "server start" "$(cat "$work/serve.log")"; finish; exit 1 ;; esac

R() { "$B" --url "$U" --client-id acme-ci --client-secret "$SECRET" --prefix acme "$@"; }
L() { "$B" "$@"; }

# ---- run: attached, the same output and status as locally ---------------------------------
out=$(R run --rm rootfs:bb sh -c 'echo out; echo err >&2; exit 3' 2>"$work/run.err"); st=$?
lout=$(L run --rm "$root" sh -c 'echo out; echo err >&2; exit 3' 2>"$work/lrun.err"); lst=$?
expect "run --url: the command's exit status" 3 "$st"
expect "... as locally" "$lst" "$st"
expect "run --url: stdout" out "$out"
expect "... as locally" "$lout" "$out"
expect "run --url: stderr apart" err "$(grep -v '^boxlite:' "$work/run.err")"
expect "run --rm --url: the box is gone" "" "$(R ps -a -q)"

# ---- run -d, then exec, ps, inspect ---------------------------------------------------------
ID=$(R run -d --name web rootfs:bb sh -c 'echo hello-web; exec sleep 3600' 2>"$work/rund.err")
case $ID in [0-9a-f][0-9a-f]*) expect "run -d --url prints the box's id (32 hex digits)" 32 "${#ID}" ;; *) no "run -d --url" "$ID $(cat "$work/rund.err")" ;; esac
LID=$(L run -d --name lweb "$root" sh -c 'echo hello-web; exec sleep 3600' 2>/dev/null)
expect "... as locally" "${#LID}" "${#ID}"

R exec web true; expect "exec --url: status 0" 0 "$?"
R exec web sh -c 'exit 3'; expect "exec --url: status 3" 3 "$?"
R exec web no-such-program 2>"$work/e127.err"; st=$?
L exec lweb no-such-program 2>/dev/null; lst=$?
expect "exec --url: a program the box lacks is 127" 127 "$st"
expect "... as locally" "$lst" "$st"
out=$(R exec web sh -c 'echo o1; echo e1 >&2; echo o2' 2>"$work/split.err")
expect "exec --url: stdout" "o1
o2" "$out"
expect "exec --url: stderr, apart" "e1" "$(cat "$work/split.err")"
expect "exec --url -e -w" "v=42 /tmp" "$(R exec -e V=42 -w /tmp web sh -c 'echo v=$V $(pwd)')"
head -c 1048576 /dev/urandom >"$work/in.bin"
want=$(sha256sum <"$work/in.bin" | cut -d' ' -f1)
got=$(R exec -i web sha256sum <"$work/in.bin" | cut -d' ' -f1)
expect "exec -i --url: 1 MiB of stdin arrives whole (SHA-256)" "$want" "$got"
expect "exec --url: without -i, stdin is closed (cat ends)" "" "$(R exec web cat </dev/null)"
seq 1 200000 >"$work/seq.want"
R exec web seq 1 200000 >"$work/seq.got"
cmp -s "$work/seq.want" "$work/seq.got" && ok "exec --url: 1.3 MB of stdout over SSE, byte for byte" \
  || no "exec --url: seq output" "$(wc -c <"$work/seq.got") bytes"
# the output stream cut midway (a relay drops the first output connection after 200 KB):
# the client takes it up again with Last-Event-ID, nothing lost or repeated
coproc PROXY { exec python3 tests/e2e/cut_proxy.py "${U##*:}" 200000 2>"$work/proxy.log"; }
ppid=$PROXY_PID
read -r -t 30 pport <&"${PROXY[0]}"
"$B" --url "http://127.0.0.1:$pport" --client-id acme-ci --client-secret "$SECRET" --prefix acme \
  exec web seq 1 200000 >"$work/seq.cut"; st=$?
kill "$ppid" 2>/dev/null; wait "$ppid" 2>/dev/null
expect "exec --url through a stream cut midway: status 0" 0 "$st"
has "... the relay did cut it" "cut" "$work/proxy.log"
cmp -s "$work/seq.want" "$work/seq.cut" && ok "... every byte once (reconnected with Last-Event-ID)" \
  || no "exec --url through a cut stream" "$(wc -c <"$work/seq.cut") bytes of $(wc -c <"$work/seq.want")"
R exec -d web sh -c 'echo bg >/tmp/bg'; expect "exec -d --url" 0 "$?"

lines=$(R ps)
has_line() { grep -q -- "$2" <<<"$1"; }
has_line "$lines" "web" && ok "ps --url lists the running box by name" || no "ps --url" "$lines"
expect "ps -q --url: the box's short id" "${ID:0:12}" "$(R ps -q)"
expect "ls -a -q --url" "${ID:0:12}" "$(R ls -a -q)"
expect "ps --no-trunc -q --url" "$ID" "$(R ps --no-trunc -q)"
expect "inspect --url: the box's status" running "$(R inspect -f '{{.status}}' web)"
expect "inspect --url: by id too" web "$(R inspect -f '{{.name}}' "$ID")"
R inspect nosuch >/dev/null 2>"$work/insp.err"; st=$?
expect "inspect --url of a box that does not exist: 125" 125 "$st"
has "... saying not found (404)" "404" "$work/insp.err"

# ---- cp both ways, compared with the same copies made locally --------------------------------
src=$work/tree
mkdir -p "$src/sub"
echo "hello cp" >"$src/a.txt"
head -c 1048576 /dev/urandom >"$src/sub/b.bin"
ln -s a.txt "$src/link"
R cp "$src" web:/tmp/tree; expect "cp HOST BOX:PATH --url" 0 "$?"
expect "... the files are in the box" "hello cp $(sha256sum <"$src/sub/b.bin" | cut -d' ' -f1) a.txt" \
  "$(R exec web sh -c 'cat /tmp/tree/a.txt; sha256sum /tmp/tree/sub/b.bin | cut -d" " -f1; readlink /tmp/tree/link' | tr '\n' ' ' | sed 's/ $//')"
R cp web:/tmp/tree "$work/back"; expect "cp BOX:PATH HOST --url" 0 "$?"
diff -r "$src" "$work/back" >/dev/null && ok "... the copy back equals the original (diff -r)" || no "cp back" "$(diff -r "$src" "$work/back" 2>&1 | head -3)"
mkdir -p "$work/into"
R cp web:/tmp/tree/a.txt "$work/into"
L cp "$src" lweb:/tmp/tree && mkdir -p "$work/linto" && L cp lweb:/tmp/tree/a.txt "$work/linto"
expect "cp into an existing folder: DEST/NAME, as locally" "$(ls "$work/linto")" "$(ls "$work/into")"
R cp web:/no/such "$work/none" 2>"$work/cp404.err"; st=$?
expect "cp of a missing path --url: 125" 125 "$st"
R cp --max-size 1k web:/tmp/tree/sub/b.bin "$work/big" 2>/dev/null; st=$?
[ "$st" = 125 ] && [ ! -e "$work/big" ] && ok "cp --max-size --url refuses a larger file, nothing written" || no "cp --max-size" "status $st"
R cp "$src" web:/tmp/tree/a.txt 2>"$work/cpf.err"; st=$?
L cp "$src" lweb:/tmp/tree/a.txt 2>/dev/null; lst=$?
expect "cp of a folder onto a file in the box --url: 125" 125 "$st"
expect "... as locally" "$lst" "$st"
has "... the server's 409 (the caller's conflict, not a server error)" "HTTP 409" "$work/cpf.err"

# ---- logs, attach, stats, top: the streaming verbs, each beside the same verb locally ----------
for _ in $(seq 300); do R logs web 2>/dev/null | grep -q hello-web && L logs lweb | grep -q hello-web && break; sleep 0.2; done
# (the console ends its lines with CR LF, here and locally)
expect "logs --tail 1 --url: the main process's output" hello-web "$(R logs --tail 1 web | tr -d '\r')"
expect "... as locally" "$(L logs --tail 1 lweb)" "$(R logs --tail 1 web)"
grep -Eq '^20[0-9-]+T[0-9:.]+Z hello-web$' <<<"$(R logs -t --tail 1 web | tr -d '\r')" && ok "logs -t --url: the line's time first" || no "logs -t --url" "$(R logs -t --tail 1 web)"
expect "logs --since 1h --url keeps it" 1 "$(R logs --since 1h web | grep -c hello-web)"
expect "logs --until 2000-01-01 --url: nothing that old" "" "$(R logs --until 2000-01-01 web)"
expect "... as locally" "$(L logs --until 2000-01-01 lweb)" "$(R logs --until 2000-01-01 web)"
R logs --vmm web 2>"$work/lvmm.err"; st=$?
expect "logs --vmm --url (the server's own log): 125" 125 "$st"
has "... not supported with --url" "not supported with --url" "$work/lvmm.err"
# attach: our input to the main process (run -d -i), its output and status ours
R run -d -i --name calc rootfs:bb sh -c 'read x; echo got-$x; exit 4' >/dev/null
L run -d -i --name lcalc "$root" sh -c 'read x; echo got-$x; exit 4' >/dev/null
expect "run -d -i --url: the Box keeps its main process's stdin open" true "$(R inspect -f '{{.StdinOpen}}' calc)"
R logs -f calc >"$work/follow.out" 2>&1 &
fpid=$!
echo hello | R attach calc >"$work/attach.out" 2>&1; st=$?
echo hello | L attach lcalc >"$work/lattach.out" 2>&1; lst=$?
has "attach --url: our input reaches the main process, its output comes back" got-hello "$work/attach.out"
expect "attach --url: the main process's status (exit 4)" 4 "$st"
expect "... as locally" "$lst" "$st"
wait "$fpid"; st=$?
expect "logs -f --url ends when the box stops: status 0" 0 "$st"
has "... having followed its output" got-hello "$work/follow.out"
R attach calc 2>"$work/att2.err"; st=$?
L attach lcalc 2>/dev/null; lst=$?
expect "attach --url to a stopped box: 125" 125 "$st"
expect "... as locally" "$lst" "$st"
R rm -f calc >/dev/null; L rm -f lcalc >/dev/null
# create -i, start, then attach: the main process's stdin kept for the attach, as locally
R create -i --name cin rootfs:bb sh -c 'read x; echo got-$x; exit 5' >/dev/null
expect "create -i --url: the Box keeps its main process's stdin open" true "$(R inspect -f '{{.StdinOpen}}' cin)"
R start cin >/dev/null
echo yo | R attach cin >"$work/cin.out" 2>&1; st=$?
has "... attach after start: our input reaches it" got-yo "$work/cin.out"
expect "... and its status is ours (exit 5)" 5 "$st"
R rm -f cin >/dev/null
# attach's --sig-proxy (the default): a signal we get goes to the main process
R run -d --name sig rootfs:bb sh -c 'trap "echo got-term; exit 9" TERM; while :; do echo tick; sleep 0.2; done' >/dev/null
"$B" --url "$U" --client-id acme-ci --client-secret "$SECRET" --prefix acme attach sig >"$work/sig.out" 2>&1 &
apid=$!
for _ in $(seq 300); do grep -q tick "$work/sig.out" && break; sleep 0.1; done
kill -TERM "$apid"
wait "$apid"; st=$?
has "attach --url: our SIGTERM reaches the main process" got-term "$work/sig.out"
expect "... which exits 9, and so do we" 9 "$st"
R rm -f sig >/dev/null
R stats --no-stream web >"$work/stats.out"; st=$?
expect "stats --no-stream --url: 0" 0 "$st"
# (the columns' widths follow the figures: the words are compared)
expect "... the table's header, as locally" "$(L stats --no-stream lweb | head -1 | tr -s ' ')" "$(head -1 "$work/stats.out" | tr -s ' ')"
expect "... a row for the box, by its name" 1 "$(grep -c ' web ' "$work/stats.out")"
expect "stats --format --url (every running box)" "web running" "$(R stats --no-stream --format '{{.Name}} {{.State}}')"
expect "stats --json --url: the library's metrics" True "$(R stats --json web | python3 -c 'import json,sys; print("vmm" in json.loads(sys.stdin.readline()))')"
R top web >"$work/top.out"; st=$?
expect "top --url: 0" 0 "$st"
expect "... the header, as locally" "$(L top lweb | head -1)" "$(head -1 "$work/top.out")"
has "... the main process" "sleep 3600" "$work/top.out"
expect "top --url with ps options" "$(L top lweb -o comm | sort | tr '\n' ' ')" "$(R top web -o comm | sort | tr '\n' ' ')"

# ---- a terminal: run -it and exec -it through a real pty over the TTY WebSocket -------------
python3 tests/fixtures/pty_run.py "$B" --url "$U" --client-id acme-ci --client-secret "$SECRET" --prefix acme \
  exec -it web sh -c 'tty; stty size; exit 7' >"$work/pty1" 2>&1 \
  && ok "exec -it --url: a terminal of our size, status 7" || no "exec -it --url" "$(cat "$work/pty1")"
python3 tests/fixtures/pty_run.py "$B" --url "$U" --client-id acme-ci --client-secret "$SECRET" --prefix acme \
  run -it --rm rootfs:bb sh -c 'tty; stty size; exit 7' >"$work/pty2" 2>&1 \
  && ok "run -it --url: a terminal of our size, status 7" || no "run -it --url" "$(cat "$work/pty2")"
# attach to a box whose main process runs on a terminal: our terminal's size reaches it (it
# waits for that size), its output and status come back through the pty
R run -d -i -t --name tty1 rootfs:bb sh -c 'while [ "$(stty size)" != "33 111" ]; do sleep 0.1; done; tty; stty size; exit 7' >/dev/null
python3 tests/fixtures/pty_run.py "$B" --url "$U" --client-id acme-ci --client-secret "$SECRET" --prefix acme \
  attach tty1 >"$work/pty3" 2>&1 \
  && ok "attach --url to a -t box: a terminal of our size, status 7" || no "attach -t --url" "$(cat "$work/pty3")"
R rm -f tty1 >/dev/null
printf 'echo typed-$((6*7))\nexit 5\n' | R exec -i -t web sh >"$work/tty-in" 2>&1; st=$?
expect "exec -it --url: what we type reaches the shell, its status ours" 5 "$st"
has "... and its output comes back" "typed-42" "$work/tty-in"
printf 'echo v=$V $(pwd)\nexit 0\n' | R exec -i -t -e V=42 -w /tmp web sh >"$work/tty-env" 2>&1; st=$?
expect "exec -it -e -w --url: status 0" 0 "$st"
has "... the environment and the working directory given" "v=42 /tmp" "$work/tty-env"

# ---- the environment, wrong credentials, tenancy ----------------------------------------------
expect "BOXLITE_URL, BOXLITE_CLIENT_ID, BOXLITE_CLIENT_SECRET, BOXLITE_PREFIX" "${ID:0:12}" \
  "$(BOXLITE_URL=$U BOXLITE_CLIENT_ID=acme-ci BOXLITE_CLIENT_SECRET=$SECRET BOXLITE_PREFIX=acme "$B" ps -q)"
"$B" --url "$U" --client-id acme-ci --client-secret "${SECRET}x" --prefix acme ps 2>"$work/bad.err"; st=$?
expect "a wrong secret: 125" 125 "$st"
has "... saying so (401)" "401" "$work/bad.err"
"$B" --url "$U" --client-id other-ci --client-secret "$OSECRET" --prefix other exec web true 2>"$work/ten.err"; st=$?
expect "another tenant's box is not found: 125" 125 "$st"
has "... 404" "404" "$work/ten.err"
expect "... and not in its list" "" "$("$B" --url "$U" --client-id other-ci --client-secret "$OSECRET" --prefix other ps -a -q)"
for v in "logs web" "attach web" "stats --no-stream web" "top web"; do
  "$B" --url "$U" --client-id other-ci --client-secret "$OSECRET" --prefix other $v >/dev/null 2>"$work/ten2.err"; st=$?
  expect "another tenant's $v: 125" 125 "$st"
  has "... 404" "404" "$work/ten2.err"
done
"$B" --url "$U" --client-id acme-ci --client-secret "$SECRET" --prefix other ps 2>/dev/null; st=$?
expect "a prefix that is not the client's: 125" 125 "$st"
"$B" --url "ftp://127.0.0.1:1" ps 2>"$work/ftp.err"; st=$?
expect "a URL that is not http(s): 125" 125 "$st"

# ---- doctor: what a client can check of a server, in local doctor's lines and status ---------
R doctor >"$work/doc.out" 2>&1; st=$?
expect "doctor --url: 0 (the server answers, our token works)" 0 "$st"
expect "... one line per check, as local doctor's (STATUS NAME: detail)" "ok server|ok tls|ok credentials|ok scopes|info server host" \
  "$(grep -E '^(ok|info|warn|fail) ' "$work/doc.out" | sed -E 's/^(ok|info|warn|fail) +([^:]+):.*/\1 \2/' | paste -sd'|')"
has "... plain http on loopback" "plain http on loopback" "$work/doc.out"
has "... the server's own check needs runtime:admin" "needs runtime:admin" "$work/doc.out"
has "... and the verdict" "boxes can run on $U" "$work/doc.out"
"$B" --url "$U" --client-id admin-ci --client-secret "$ASECRET" --prefix acme doctor >"$work/doca.out" 2>&1; st=$?
L doctor --no-smoke >"$work/docl.out" 2>&1; lst=$?
expect "doctor --url with runtime:admin: the server host's checks, status as local doctor --no-smoke there" "$lst" "$st"
expect "... each of local doctor's checks, as 'server NAME' with its status" \
  "$(grep -E '^(ok|info|warn|fail) ' "$work/docl.out" | sed -E 's/^(ok|info|warn|fail) +([^:]+):.*/\1 server \2/' | paste -sd'|')" \
  "$(grep -E '^(ok|info|warn|fail) +server [^ :]' "$work/doca.out" | grep -v '^info  server host:' | sed -E 's/^(ok|info|warn|fail) +([^:]+):.*/\1 \2/' | paste -sd'|')"
"$B" --url "$U" --client-id acme-ci --client-secret "${SECRET}x" --prefix acme doctor >"$work/docb.out" 2>&1; st=$?
expect "doctor --url with a wrong secret: 1" 1 "$st"
grep -q '^fail  credentials: .*401' "$work/docb.out" && ok "... fail credentials, saying 401" || no "doctor wrong secret" "$(cat "$work/docb.out")"
"$B" --url http://127.0.0.1:1 --client-id acme-ci --client-secret "$SECRET" --prefix acme doctor >"$work/docn.out" 2>&1; st=$?
expect "doctor --url of no server: 1, fail server" "1 1" "$st $(grep -c '^fail  server:' "$work/docn.out")"
expect "doctor --json --url: one JSON object, ok" "True 5" "$(R doctor --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["ok"], len(d["checks"]))')"
R doctor --engine qemu >/dev/null 2>"$work/unsup.err"; st=$?
expect "doctor --engine --url (a smoke box is not doctor's remotely): 125" 125 "$st"
has "... not supported with --url" "not supported with --url" "$work/unsup.err"
R run --read-only rootfs:bb true 2>"$work/unsupf.err"; st=$?
expect "run --read-only --url: 125, not half done" 125 "$st"
has "... naming the flag" "read-only: not supported with --url" "$work/unsupf.err"
expect "... and no box was created" "${ID:0:12}" "$(R ps -a -q)"

# ---- export and import over HTTP (the library's archive; tenancy kept) -------------------------
R exec web sh -c 'mkdir -p /srv && echo kept >/srv/mark && sync'
R export web "$work/web.box"; st=$?
expect "export --url" 0 "$st"
[ -s "$work/web.box" ] && ok "... the archive is written" || no "export --url: no archive"
ID2=$(R import --name web2 "$work/web.box" 2>"$work/imp.err"); st=$?
expect "import --url --name web2: status 0" 0 "$st"
expect "... prints the new box's id" 32 "${#ID2}"
expect "... the box is the tenant's, by its name" web2 "$(R inspect -f '{{.name}}' web2 2>&1)"
expect "... with the exported disk" kept "$(R exec web2 cat /srv/mark 2>&1)"
"$B" --url "$U" --client-id other-ci --client-secret "$OSECRET" --prefix other import --name stolen "$work/web.box" 2>"$work/imp2.err"; st=$?
expect "another tenant cannot import this tenant's archive: 125" 125 "$st"
has "... saying whose it is" "another owner" "$work/imp2.err"
expect "... and it keeps nothing" "" "$("$B" --url "$U" --client-id other-ci --client-secret "$OSECRET" --prefix other ps -a -q)"
L stop lweb >/dev/null && L export lweb "$work/local.box" && L start lweb >/dev/null 2>&1
FID=$(R import --name fromlocal "$work/local.box" 2>"$work/imp3.err"); st=$?
expect "an archive exported outside the server (no tenant) is adopted: 0" 0 "$st"
expect "... the box is the tenant's, by its name" fromlocal "$(R inspect -f '{{.name}}' "$FID" 2>&1)"
expect "... and another tenant's list does not show it" "" "$("$B" --url "$U" --client-id other-ci --client-secret "$OSECRET" --prefix other ps -a -q)"
R rm -f fromlocal >/dev/null
head -c 65536 /dev/urandom >"$work/junk.box"
R import --name junk "$work/junk.box" 2>"$work/imp4.err"; st=$?
expect "a damaged archive is refused: 125" 125 "$st"
has "... as invalid (400)" "400" "$work/imp4.err"
expect "... and only web and web2 exist" "2" "$(R ps -a -q | wc -l)"
# an archive's options are its exporter's: one asking for more than the server allows is
# refused whole (a box never started: its archive needs no boot)
L create --name lbig --memory 20g "$root" true >/dev/null && L export lbig "$work/big.box" && L rm -f lbig >/dev/null
R import --name big "$work/big.box" 2>"$work/imp5.err"; st=$?
expect "import --url of an archive asking for 20 GiB (the server allows 16): 125" 125 "$st"
has "... saying what is over" "over what this server allows" "$work/imp5.err"
expect "... and only web and web2 exist still" "2" "$(R ps -a -q | wc -l)"
R rm -f web2 >/dev/null

# ---- the management verbs, each remotely beside the same verb run locally -------------------
O() { "$B" --url "$U" --client-id other-ci --client-secret "$OSECRET" --prefix other "$@"; }
# both R "$@" and L "$@" (with local box names l<name>): same exit status, the outputs kept
both() { local v=$1; shift; R "$v" "$@" >"$work/r.out" 2>"$work/r.err"; rst=$?
  local la=() x; for x in "$@"; do case $x in web|made|made2|made3) la+=("l$x") ;; *) la+=("$x") ;; esac; done
  L "$v" "${la[@]}" >"$work/l.out" 2>"$work/l.err"; lst=$?; }
# create: the options run has (env, label, publish, cmd), the box configured, not started
MID=$(R create --name made -e A=1 -l tier=db -p 127.0.0.1:0:80 rootfs:bb sleep 3600 2>"$work/c.err"); st=$?
LMID=$(L create --name lmade -e A=1 -l tier=db -p 127.0.0.1:0:80 "$root" sleep 3600 2>/dev/null); lst=$?
expect "create --url: status as locally (0)" "$lst/0" "$st/0"
expect "... prints the box's id" 32 "${#MID}"
expect "... configured, as locally" "$(L inspect -f '{{.State}}' lmade)" "$(R inspect -f '{{.status}}' made)"
expect "... with its label" db "$(R inspect -f '{{.labels.tier}}' made)"
both port made; expect "port --url: the published port before it runs, as locally" "$(cat "$work/l.out")/$lst" "$(cat "$work/r.out")/$rst"
R create -v /tmp:/x rootfs:bb true 2>"$work/cv.err"; st=$?
expect "create -v --url: 125" 125 "$st"
has "... naming the flag" "volume: not supported with --url" "$work/cv.err"
R create /tmp true 2>/dev/null; expect "create of a host folder --url: 125" 125 "$?"
# rename, start, port once it runs
both rename made made2; expect "rename --url: as locally (0)" "$lst/0" "$rst/0"
expect "... the new name" made2 "$(R inspect -f '{{.name}}' "$MID")"
both rename made2 web; expect "rename onto a name in use --url: 125 as locally" "$lst/125" "$rst/125"
R start made2 >/dev/null && L start lmade2 >/dev/null
both port made2 80; rp=$(cat "$work/r.out")
case $rp in 127.0.0.1:[1-9]*) ok "port BOX 80 --url: the host port bound ($rp)" ;; *) no "port BOX 80 --url" "$rp $(cat "$work/r.err")" ;; esac
expect "... status as locally" "$lst" "$rst"
both port made2 81; expect "port of a port not published --url: 125 as locally" "$lst/125" "$rst/125"
# snapshots and clone (the API's own operations)
both snapshot create made2 s1; expect "snapshot create --url: as locally (0)" "$lst/0" "$rst/0"
both snapshot ls made2; expect "snapshot ls --url: the header and names as locally" \
  "$(awk '{print $1}' "$work/l.out" | tr '\n' ' ')" "$(awk '{print $1}' "$work/r.out" | tr '\n' ' ')"
expect "snapshot ls --json --url: the names" '["s1"]' "$(R snapshot ls --json made2 | python3 -c 'import json,sys; print(json.dumps([s["name"] for s in json.load(sys.stdin)]))')"
both snapshot create made2 s1; expect "snapshot create of a name taken --url: 125 as locally" "$lst/125" "$rst/125"
both snapshot restore made2 s1; expect "snapshot restore of a running box --url: 125 as locally" "$lst/125" "$rst/125"
both snapshot rm made2 s1; expect "snapshot rm --url: as locally (0)" "$lst/0" "$rst/0"
CID=$(R clone made2 made3 2>"$work/cl.err"); expect "clone --url prints the new box's id" 32 "${#CID}"
L clone lmade2 lmade3 >/dev/null 2>&1
expect "... named" made3 "$(R inspect -f '{{.name}}' "$CID")"
# kill and wait: the main process's status, as locally
both kill -s TERM made2; expect "kill -s TERM --url: prints the box, as locally" "$(cat "$work/l.out" | sed 's/^l//')/$lst" "$(cat "$work/r.out")/$rst"
both wait made2; expect "wait --url: prints 143 (SIGTERM), exits with it, as locally" "$(cat "$work/l.out")/$lst" "$(cat "$work/r.out")/$rst"
expect "... 143" 143 "$rst"
both kill made2; expect "kill of a stopped box --url: 125 as locally" "$lst/125" "$rst/125"
both kill -s NOPE made2; expect "kill -s NOPE --url: 125 as locally" "$lst/125" "$rst/125"
both restart made2; expect "restart --url: prints the box, status as locally" "$lst/0" "$rst/0"
expect "... running" running "$(R inspect -f '{{.status}}' made2)"
# memory: reclaim and balloon on a running box
both reclaim made2; expect "reclaim --url: status as locally" "$lst" "$rst"
grep -q "^made2	.* freed$" "$work/r.out" && ok "... one line, the box and what it freed" || no "reclaim --url" "$(cat "$work/r.out" "$work/r.err")"
R reclaim --idle 1h >"$work/ri.out" 2>&1; st=$?
expect "reclaim --idle 1h --url: 0" 0 "$st"
grep -q "^made2	skipped: idle for [0-9.]*s only$" "$work/ri.out" && ok "... made2 skipped, idle too short, as local reclaim --idle says it" || no "reclaim --idle --url" "$(cat "$work/ri.out")"
both reclaim --idle 1h made2; expect "reclaim --idle with a box named --url: 125 as locally" "$lst/125" "$rst/125"
both balloon made2 128m; expect "balloon --url: status as locally" "$lst" "$rst"
both balloon made2 1m; expect "balloon below 32m --url: 125 as locally" "$lst/125" "$rst/125"
# pause, resume, fork (memory snapshots, QEMU engine)
both pause made2; expect "pause --url: as locally (0)" "$lst/0" "$rst/0"
expect "... paused" paused "$(R inspect -f '{{.status}}' made2)"
both resume made2; expect "resume --url: as locally (0)" "$lst/0" "$rst/0"
expect "... running" running "$(R inspect -f '{{.status}}' made2)"
FID=$(R fork made2 forked 2>"$work/fork.err"); st=$?
expect "fork --url prints the fork's id" "0/32" "$st/${#FID}"
expect "... it runs, the tenant's, named" "running forked" "$(R inspect -f '{{.status}} {{.name}}' forked 2>&1)"
R rm -f forked >/dev/null
# another tenant: every new verb on acme's box is "not found", and nothing changed
for v in "kill made2" "wait made2" "rename made2 x" "pause made2" "resume made2" "fork made2 f" \
         "reclaim made2" "balloon made2 64m" "snapshot ls made2" "clone made2 c" "port made2" "restart made2"; do
  O $v >/dev/null 2>"$work/o.err"; st=$?
  expect "another tenant: $v --url: 125" 125 "$st"
  has "... 404" "404" "$work/o.err"
done
expect "... made2 still runs, named so" "running made2" "$(R inspect -f '{{.status}} {{.name}}' made2)"
# prune: the tenant's stopped boxes only, never another tenant's
OID=$(O create rootfs:bb true 2>/dev/null)
R stop -t 1 made2 >/dev/null
R prune -f >"$work/prune.out" 2>"$work/prune.err"; st=$?
expect "prune -f --url: 0" 0 "$st"
expect "... removed the stopped box and the never started clone" "$(printf '%s\n' "$MID" "$CID" | sort)" "$(sort "$work/prune.out")"
has "... and says how many" "Removed 2 boxes" "$work/prune.err"
R ps -q | grep -qx "${ID:0:12}" && ok "... the running box stays" || no "prune removed a running box"
expect "... another tenant's stopped box stays" "${OID:0:12}" "$(O ps -a -q)"
O rm -f "$OID" >/dev/null
L rm -f lmade2 lmade3 >/dev/null 2>&1
# images over the API: pull, images, rmi, image prune; tenants see only what they pulled
python3 tests/fixtures/mkimages.py "$work/fx" busybox >/dev/null
rport=$(tests/fixtures/registry.sh start "$work/reg" $$) || no "the registry starts"
tests/fixtures/registry.sh push "$work/reg" "$work/fx/busybox" tools/bb:1 >/dev/null
REF=127.0.0.1:$rport/tools/bb:1
expect "pull --url: as locally" "pulled $REF" "$(R pull -q "$REF" 2>&1)"
expect "images --url: the image as the local images shows it" "$(L images --format '{{.Ref}} {{.ID}} {{.Layers}} {{.Size}}')" \
  "$(R images --format '{{.Ref}} {{.ID}} {{.Layers}} {{.Size}}')"
expect "images -q --url" "$(L images -q)" "$(R images -q)"
expect "another tenant does not see it" "" "$(O images -q)"
O rmi "$REF" 2>"$work/ormi.err"; st=$?
expect "another tenant's rmi of it: 125, not found" "125" "$st"
has "... 404" "404" "$work/ormi.err"
R create --name fromimg "$REF" true >/dev/null
R rmi "$REF" 2>"$work/rmi.err"; st=$?
expect "rmi --url of an image a box of ours uses: 125" 125 "$st"
has "... naming our box" "used by box fromimg" "$work/rmi.err"
expect "pull --url by the other tenant too" "pulled $REF" "$(O pull -q "$REF" 2>&1)"
expect "... its rmi forgets it for itself" "removed $REF" "$(O rmi "$REF" 2>&1)"
expect "... ours still lists it" "$(L images -q)" "$(R images -q)"
R rm -f fromimg >/dev/null
expect "image prune -f --url: removes what no box of ours uses" "removed $REF" "$(R image prune -f 2>/dev/null)"
expect "... gone from the store too (no one else holds it)" "" "$(L images -q)"
R pull -q "$REF" >/dev/null
expect "rmi --url" "removed $REF" "$(R rmi "$REF" 2>&1)"
expect "... gone from the store" "" "$(L images -q)"
R pull --platform linux/arm64 "$REF" 2>/dev/null; expect "pull --platform --url: 125" 125 "$?"
# a short reference, read as the library reads it (here: no tag is :latest; "busybox" is
# docker.io/library/busybox:latest by the same parser, but no registry of that name is here)
tests/fixtures/registry.sh push "$work/reg" "$work/fx/busybox" tools/bb:latest >/dev/null
SHORT=127.0.0.1:$rport/tools/bb
R pull -q "$SHORT" >/dev/null
expect "rmi --url of a short reference (no tag): removed, as locally" "removed $SHORT" "$(R rmi "$SHORT" 2>&1)"
expect "... gone from the store" "" "$(L images -q)"
# pull's progress: the server's layers shown as the local pull shows its own (here not on a
# terminal: a line per layer done, then "pulled")
R pull "$SHORT" >"$work/pullp.out" 2>"$work/pullp.err"; st=$?
L pull "$SHORT" >"$work/pulll.out" 2>/dev/null; lst=$?
expect "pull --url with progress: status as locally (0)" "$lst/0" "$st/0"
grep -q "^layer 1/1 .* done$" "$work/pullp.out" && ok "... a line per layer done" || no "pull --url progress" "$(cat "$work/pullp.out" "$work/pullp.err")"
expect "... the same lines as the local pull" "$(cat "$work/pulll.out")" "$(cat "$work/pullp.out")"
R pull "127.0.0.1:$rport/no/such:1" >/dev/null 2>"$work/pullf.err"; st=$?
expect "pull --url with progress of no such image: 125" 125 "$st"
has "... the server's reason (422)" "422" "$work/pullf.err"
R rmi "$SHORT" >/dev/null 2>&1; L rmi "$SHORT" >/dev/null 2>&1
tests/fixtures/registry.sh stop "$work/reg" >/dev/null 2>&1

# ---- stop, start, rm ---------------------------------------------------------------------------
expect "stop --url prints the box" web "$(R stop -t 1 web)"
expect "... stopped" stopped "$(R inspect -f '{{.status}}' web)"
expect "start --url prints the box" web "$(R start web)"
expect "... running" running "$(R inspect -f '{{.status}}' web)"
R rm web 2>"$work/rm.err"; st=$?
expect "rm --url of a running box without -f: 125" 125 "$st"
expect "rm -f --url prints the box" web "$(R rm -f web)"
expect "... gone" "" "$(R ps -a -q)"
L rm -f lweb >/dev/null

kill -TERM "$spid"; wait "$spid"; st=$?; spid=
expect "the server exits 0 at SIGTERM" 0 "$st"
if grep -qF -- "$SECRET" "$work/serve.log"; then no "the server's log holds no secret"; else ok "the server's log holds no secret"; fi
finish
