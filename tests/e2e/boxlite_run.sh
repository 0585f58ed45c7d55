#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The product end to end through the engine that runs here (QEMU/TCG on machines without
# hardware virtualization): an image pushed to a real local registry (Debian's
# docker-registry) is pulled and run by the `boxlite` CLI; exit codes, env, working dir,
# volumes (ro refused, rw seen by the host), port forwarding, cp, stop/start persistence,
# a box stopping with its killed creator, and a real terminal (-it, resize, Ctrl-C).
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
. tests/harness/lib.sh
need "$B (make)" test -x "$B"
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need_cmd docker-registry
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
cleanup() {
  for id in $("$B" ps -a --json 2>/dev/null | python3 -c 'import json,sys; [print(b["id"]) for b in json.load(sys.stdin)]' 2>/dev/null); do
    "$B" rm -f "$id" >/dev/null 2>&1
  done
  tests/fixtures/registry.sh stop "$work/reg" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

python3 tests/fixtures/mkimages.py "$work/fx" busybox >/dev/null
port=$(tests/fixtures/registry.sh start "$work/reg" $$) || { echo "registry failed"; exit 1; }
tests/fixtures/registry.sh push "$work/reg" "$work/fx/busybox" busybox:latest
img=127.0.0.1:$port/busybox:latest

# The README's main job: pull and run a command, output on our stdout.
out=$("$B" run --rm "$img" echo hello from boxlite 2>"$work/err")
expect "run --rm prints the command's output (pulled from the registry)" "hello from boxlite" "$out"
[ -s "$work/err" ] && cat "$work/err"
expect "run --rm leaves no box" "0" "$("$B" ps -a --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"

"$B" run --rm "$img" sh -c 'exit 7'
expect "run's exit status is the command's" "7" "$?"
out=$("$B" run --rm -e GREETING=hi -w /tmp "$img" sh -c 'echo $GREETING $(pwd)')
expect "-e and -w reach the command" "hi /tmp" "$out"

# A detached box serves several commands; volumes and ports.
mkdir -p "$work/ro" "$work/rw"
echo from-host >"$work/ro/in.txt"
hp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
hp6=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0)); print(s.getsockname()[1])')
# run -d runs its command as the box's main process (Docker's rule): one that lasts.
up6=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::1",0)); print(s.getsockname()[1])')
id=$("$B" run -d --name web -v "$work/ro:/data:ro" -v "$work/rw:/out" -p "$hp:8080" -p "[::1]:$hp6:8080" -p "[::1]:$up6:5353/udp" "$img" sleep 86400)
expect "run -d prints an id" "32" "${#id}"
expect "read-only volume is readable" "from-host" "$("$B" exec web cat /data/in.txt)"
"$B" exec web sh -c 'echo x > /data/new.txt' 2>/dev/null
[ $? -ne 0 ] && [ ! -e "$work/ro/new.txt" ] && ok "read-only volume refuses writes" || no "read-only volume refuses writes"
"$B" exec web sh -c 'echo from-box > /out/result.txt'
expect "read-write volume: the host sees the box's write" "from-box" "$(cat "$work/rw/result.txt" 2>/dev/null)"
"$B" exec web sh -c 'mkdir -p /www && echo served-by-box > /www/index.html && httpd -p 8080 -h /www'
got=""
for _ in $(seq 50); do got=$(curl -s --max-time 2 "http://127.0.0.1:$hp/index.html") && [ -n "$got" ] && break; sleep 0.2; done
expect "a forwarded port reaches a server in the box" "served-by-box" "$got"
got=$(curl -s -g --max-time 5 "http://[::1]:$hp6/index.html")
expect "-p [::1]:PORT:8080: a forward from an IPv6 host address reaches it too" "served-by-box" "$got"
expect "  ...and ps shows it as Docker writes it" "127.0.0.1:$hp->8080/tcp, [::1]:$hp6->8080/tcp, [::1]:$up6->5353/udp" "$("$B" ps --filter name=web --format '{{.Ports}}')"
# UDP on an IPv6 host address (udp_relay.c; the datagram's way to the guest and back is
# test_slirp's): the confined per-box process takes datagrams there and lives on
python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); [s.sendto(b"x", ("::1", int(sys.argv[1]))) for _ in range(3)]' "$up6"
expect "-p [::1]:PORT:5353/udp: the box takes datagrams there and runs on" "still-here" "$("$B" exec web echo still-here)"
echo payload >"$work/in.txt"
"$B" cp "$work/in.txt" web:/tmp/copied.txt && "$B" cp web:/tmp/copied.txt "$work/back.txt"
expect "cp into the box and back" "payload" "$(cat "$work/back.txt" 2>/dev/null)"
"$B" logs web | grep "boxlite-agent" >/dev/null && ok "logs shows the console" || no "logs shows the console"
"$B" stats --json web | python3 -c 'import json,sys; m=json.load(sys.stdin); assert m["executions"] >= 4 and m["vmm"]["rss_bytes"] > 0, m' && ok "stats counts executions" || no "stats counts executions"

# Persistence: a stopped and restarted box keeps its disk.
"$B" exec web sh -c 'echo kept > /root-data.txt; sync'
"$B" stop web >/dev/null && "$B" start web >/dev/null
expect "the disk keeps its data across stop and start" "kept" "$("$B" exec web cat /root-data.txt)"
"$B" rm web >/dev/null 2>&1
[ $? -ne 0 ] && ok "rm of a running box is refused" || no "rm of a running box is refused"
"$B" rm -f web >/dev/null && ok "rm -f removes a running box" || no "rm -f removes a running box"

# A box without detach stops when the process that started it is killed.
"$B" run --name orphan "$img" sleep 600 &
cli=$!
for _ in $(seq 100); do "$B" ps | grep orphan >/dev/null && break; sleep 0.2; done
kill -9 $cli; wait $cli 2>/dev/null
state=""
for _ in $(seq 100); do
  state=$("$B" inspect orphan 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])' 2>/dev/null)
  [ "$state" = stopped ] && break; sleep 0.2
done
expect "a non-detached box stops when its creator is killed" "stopped" "$state"
"$B" rm -f orphan >/dev/null 2>&1

# A real terminal: -it with the local size, a resize, Ctrl-C passed through.
python3 - "$B" "$img" <<'PY' && ok "-it: terminal size, resize and Ctrl-C reach the box" || no "-it: terminal size, resize and Ctrl-C reach the box"
import fcntl, os, pty, select, signal, struct, sys, termios, time
B, img = sys.argv[1], sys.argv[2]
def setsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
pid, fd = pty.fork()
if pid == 0:
    os.execv(B, [B, "run", "-it", "--rm", img, "sh", "-c",
                 "stty size; read x; stty size; trap 'echo got-int; exit 5' INT; echo armed; sleep 30 & wait"])
setsize(fd, 30, 100)
buf = b""
def until(needle, secs=60):
    global buf
    end = time.time() + secs
    while needle not in buf and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try: buf += os.read(fd, 4096)
            except OSError: break
    return needle in buf
ok = until(b"30 100")
setsize(fd, 40, 120); os.kill(pid, signal.SIGWINCH); time.sleep(0.5)
os.write(fd, b"go\r")
ok = ok and until(b"40 120") and until(b"armed")
time.sleep(0.5)
os.write(fd, b"\x03")
ok = ok and until(b"got-int")
_, status = os.waitpid(pid, 0)
ok = ok and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 5
if not ok:
    sys.stderr.write("pty transcript: %r status %r\n" % (buf, status))
sys.exit(0 if ok else 1)
PY

finish
