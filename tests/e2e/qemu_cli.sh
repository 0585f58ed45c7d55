#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The CLI with an explicit `--engine qemu` on a busybox rootfs directory (no registry): the
# box records the engine, stdin echo, a signal's exit status, 10 MiB of output, 20
# concurrent `exec`s in one box, and the box reaching a server on the host's loopback
# through the gateway (10.0.2.2) only with --allow-host (tests/e2e/net_policy.sh has the
# whole policy). The registry-image path, volumes, published ports, cp and stop/start
# persistence are in boxlite_run.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
. tests/harness/lib.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "$B (make)" test -x "$B"
need "/bin/busybox (busybox-static)" test -x /bin/busybox
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
srv=
cleanup() {
  "$B" rm -f qbox >/dev/null 2>&1
  [ -n "$srv" ] && kill "$srv" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

root=$work/root
mkdir -p "$root/bin" "$root/etc" "$root/root"
cp /bin/busybox "$root/bin/"
for a in sh echo cat head wc nc sleep kill seq; do ln -s busybox "$root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"

expect "stdin reaches the command and comes back" "echo me" "$(echo 'echo me' | "$B" run --rm -i --engine qemu "$root" cat)"
"$B" run --rm --engine qemu "$root" sh -c 'kill -TERM $$'
expect "a command killed by SIGTERM: exit 128+15" "143" "$?"
expect "10 MiB of output, every byte" "10485760" \
  "$("$B" run --rm --engine qemu "$root" head -c 10485760 /dev/zero | wc -c | tr -d ' ')"

# a host loopback port the box may reach (opened when the box is created)
hp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
id=$("$B" run -d --name qbox --engine qemu --allow-host "$hp" "$root")
expect "run -d prints an id" "32" "${#id}"
engine=$("$B" inspect qbox | python3 -c 'import json,sys; print(json.load(sys.stdin)[0].get("engine"))' 2>/dev/null)
expect "the box records the engine it runs on" "qemu" "$engine"

# 20 concurrent executions in one box
for i in $(seq 20); do ("$B" exec qbox sh -c "echo run-$i; exit $((i % 4))" >"$work/exec.$i" 2>&1; echo $? >"$work/rc.$i") & done
wait
good=0
for i in $(seq 20); do
  [ "$(cat "$work/exec.$i")" = "run-$i" ] && [ "$(cat "$work/rc.$i")" = "$((i % 4))" ] && good=$((good+1))
done
expect "20 concurrent execs: output and exit status each" "20" "$good"

# out through the gateway: 10.0.2.2 is the host's loopback, reachable on that port only
python3 - "$hp" "$work/got" "$work/listening" <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); s.settimeout(120)
open(sys.argv[3], "w").close()
c, _ = s.accept(); c.settimeout(30)
data = b""
while not data.endswith(b"\n"):
    b = c.recv(100)
    if not b: break
    data += b
c.sendall(b"reply-from-host\n")
open(sys.argv[2], "wb").write(data)
PY
srv=$!
# the server listens before the box connects (python's start-up is slow on a loaded machine)
for _ in $(seq 600); do [ -e "$work/listening" ] && break; sleep 0.1; done
out=$("$B" exec qbox sh -c "echo hello-from-box | nc 10.0.2.2 $hp")
wait $srv; srv=
expect "with --allow-host, the box reaches that host loopback port through 10.0.2.2" "hello-from-box" "$(cat "$work/got" 2>/dev/null)"
expect "and reads its reply" "reply-from-host" "$out"
# another port, with a server listening on it too
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
open(sys.argv[1], "w").write(str(s.getsockname()[1])); time.sleep(120)' "$work/other" &
srv=$!
for _ in $(seq 100); do [ -s "$work/other" ] && break; sleep 0.05; done
out=$("$B" exec qbox sh -c "echo x | nc 10.0.2.2 $(cat "$work/other") 2>&1; echo rc=\$?")
kill $srv; srv=
expect "another host loopback port, listening too: refused" "nc: can't connect to remote host (10.0.2.2): Connection refused rc=1" "$(echo $out)"

"$B" rm -f qbox >/dev/null
finish
