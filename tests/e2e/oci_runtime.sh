#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# boxlite-runtime, the OCI runtime, end to end on the QEMU engine: first driven directly
# with a busybox bundle, as conmon or a containerd shim drives runc (create, state, start,
# stdio, exit status, kill, exec in its three forms, ps, delete, a terminal through
# --console-socket with its size following a resize), then by Podman (`--runtime`) with an
# image from a local registry: echo, exit codes 42/137/127, -i, -d + exec + stop -t 2, the
# guest's kernel, a -v volume written by the box, -it and exec -it through a real pty,
# nothing left after rm.
set -uo pipefail
cd "$(dirname "$0")/../.."
CONSOLE="$PWD/tests/fixtures/oci_console.py"
. tests/harness/lib.sh
. tests/harness/oci.sh
oci_begin e2e
need "busybox-static (apt-get install busybox-static)" test -x /bin/busybox
boxes() { oci_boxes; }
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2" 2>/dev/null; }

# A bundle as `runc spec` lays it out: busybox-static for a rootfs, and a config.json.
bundle() { # DIR ARGS-JSON [TERMINAL]
  mkdir -p "$1/rootfs/bin" "$1/rootfs/tmp"
  cp /bin/busybox "$1/rootfs/bin/busybox"
  for x in sh echo cat sleep hostname stty tty read ls; do ln -sf busybox "$1/rootfs/bin/$x"; done
  python3 - "$1/config.json" "$2" "${3:-false}" <<'EOF'
import json, sys
path, args, term = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "true"
json.dump({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "hostname": "ocibox",
           "process": {"terminal": term, "user": {"uid": 0, "gid": 0}, "args": args,
                       "env": ["PATH=/bin", "GREETING=hello"], "cwd": "/tmp",
                       "consoleSize": {"height": 40, "width": 120},
                       "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]},
           "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
           "annotations": {"io.boxlite.memory": "256M"},
           "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}}, open(path, "w"))
EOF
}

# ---- the command line alone -------------------------------------------------------------
"$R" --version >"$work/v"
has "--version in runc's form (first line)" "boxlite-runtime version" "$work/v"
has "--version names the runtime-spec version" "spec: 1.0.2" "$work/v"
"$R" features | python3 -c 'import json,sys; f=json.load(sys.stdin); assert f["ociVersionMax"] == "1.0.2", f' \
  && ok "features prints runtime-spec's features document" || no "features prints runtime-spec's features document"
"$R" --root "$root" state nosuch >"$work/o" 2>"$work/e"; rc=$?
expect "state of an unknown container fails" 1 "$rc"
has "  ...saying \"does not exist\"" "does not exist" "$work/e"
expect "  ...with nothing on stdout" "" "$(cat "$work/o")"
"$R" --root "$root" --log "$work/log.json" --log-format json kill nosuch 2>/dev/null
python3 -c 'import json,sys; l=json.loads(open(sys.argv[1]).readline()); assert l["level"]=="error" and "does not exist" in l["msg"], l' "$work/log.json" \
  && ok "--log-format json: the error as {\"level\":\"error\",\"msg\":...}" || no "--log-format json: the error as {\"level\":\"error\",\"msg\":...}"
"$R" --root "$root" delete --force nosuch; expect "delete --force of an unknown container succeeds (runc)" 0 "$?"
"$R" --root "$root" kill c1 NOSIG 2>"$work/e"; has "an unknown signal is refused" "invalid signal" "$work/e"

bundle "$work/missing" '["nosuchprog"]'
"$R" --root "$root" create --bundle "$work/missing" m1 2>"$work/e"; rc=$?
expect "create with a missing program fails" 1 "$rc"
has "  ...with runc's \"executable file not found\"" 'exec: "nosuchprog": executable file not found in $PATH' "$work/e"
check "  ...leaving no state" test ! -e "$root/m1"

# A mount point is made in the rootfs as the guest resolves it: a symlink cannot lead the
# runtime (root on the host) out of it.
bundle "$work/esc" '["sh"]'
mkdir -p "$work/outside" "$work/vol-esc"
ln -s "../../../../../../../../../..$work/outside" "$work/esc/rootfs/esc"
python3 - "$work/esc/config.json" "$work/vol-esc" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["mounts"].append({"destination": "/esc/vol", "type": "bind", "source": sys.argv[2]})
json.dump(c, open(sys.argv[1], "w"))
EOF
"$R" --root "$root" create --bundle "$work/esc" e1 2>"$work/e"
check "a mount point through a symlink out of the rootfs is refused" test $? -ne 0
check "  ...and nothing is made outside the rootfs" test ! -e "$work/outside/vol"
has "  ...saying which mount point" "mount point /esc/vol" "$work/e"

# ---- create, state, start: stdio, exit status, writes seen on the host ------------------
bundle "$work/b1" '["sh", "-c", "echo out $GREETING $(hostname) $(pwd); echo err >&2; read line; echo got $line; echo written > /tmp/w.txt; cat /proc/version; exit 42"]'
mkfifo "$work/in1"
exec 3<>"$work/in1"
python3 "$REAP" "$R" "$root" "$work/b1" c1 \
  -- "!\"\$RUNTIME\" --root $root state \$ID > $work/created.json; cat $work/c1.pid > $work/pidfile-copy" \
  -- start \
  -- "!\"\$RUNTIME\" --root $root state \$ID > $work/running.json; echo line-in > $work/in1" \
  <&3 >"$work/out1" 2>"$work/err1"
rc=$?
exec 3>&-
expect "the container's exit status is its process's" 42 "$rc"
expect "after create: status created" created "$(field "$work/created.json" status)"
expect "  ...its pid is the relay's (the pid file's)" "$(cat "$work/pidfile-copy")" "$(field "$work/created.json" pid)"
check "  ...the pid file holds no newline" test "$(wc -l <"$work/pidfile-copy")" -eq 0
expect "after start: status running" running "$(field "$work/running.json" status)"
expect "stdout carries the process's output (env, hostname, cwd from config.json)" "out hello ocibox /tmp" "$(head -1 "$work/out1")"
expect "stderr apart" "err" "$(cat "$work/err1")"
expect "stdin reaches the process" "got line-in" "$(sed -n 2p "$work/out1")"
grep -q "^Linux version 6\.1\..*boxlite@" "$work/out1" && ! grep -qF "$(cat /proc/version)" "$work/out1" \
  && ok "/proc/version in the container is the guest kernel's" || no "/proc/version in the container is the guest kernel's" "$(tail -1 "$work/out1")"
expect "the rootfs is shared: the host sees the container's write" "written" "$(cat "$work/b1/rootfs/tmp/w.txt" 2>/dev/null)"
"$R" --root "$root" state c1 >"$work/stopped.json" 2>"$work/e"
expect "after the process ended: status stopped" stopped "$(field "$work/stopped.json" status)"
expect "  ...pid 0, as runc says" 0 "$(field "$work/stopped.json" pid)"
expect "  ...and nothing on stderr" "" "$(cat "$work/e")"
"$R" --root "$root" kill c1 KILL 2>"$work/e"; rc=$?
check "kill of a stopped container fails" test "$rc" -ne 0
has "  ...\"container not running\"" "container not running" "$work/e"
"$R" --root "$root" delete c1; expect "delete of a stopped container" 0 "$?"
"$R" --root "$root" state c1 2>/dev/null; check "  ...then it does not exist" test $? -ne 0
expect "  ...and its box is gone" 0 "$(boxes)"

# ---- a long-running container: exec (three forms), ps, kill by name ----------------------
bundle "$work/b2" '["sleep", "1000"]'
cat >"$work/proc.json" <<'EOF'
{"args": ["sh", "-c", "echo from-process-file $PWD; exit 4"], "cwd": "/bin", "env": ["PATH=/bin"]}
EOF
python3 "$REAP" "$R" "$root" "$work/b2" c2 -- start \
  -- "!\"\$RUNTIME\" --root $root exec \$ID sh -c 'echo in-exec \$GREETING; exit 5' > $work/x1 2>&1; echo \$? > $work/x1.rc" \
  -- "!\"\$RUNTIME\" --root $root exec --process $work/proc.json \$ID > $work/x2 2>&1; echo \$? > $work/x2.rc" \
  -- "!\"\$RUNTIME\" --root $root exec \$ID nosuchprog > $work/x3 2>&1; echo \$? > $work/x3.rc" \
  -- "!\"\$RUNTIME\" --root $root exec --detach --pid-file $work/x4.pid \$ID sleep 1000 > $work/x4 2>&1; echo \$? > $work/x4.rc; kill -0 \$(cat $work/x4.pid) && echo alive > $work/x4.alive" \
  -- "!\"\$RUNTIME\" --root $root ps --format json \$ID > $work/ps.json" \
  -- "!\"\$RUNTIME\" --root $root delete \$ID 2> $work/del-running" \
  -- "@kill" "TERM" \
  >"$work/out2" 2>&1
rc=$?
expect "exec ID CMD: its output (the container's env)" "in-exec hello" "$(cat "$work/x1")"
expect "  ...and its exit status" 5 "$(cat "$work/x1.rc")"
expect "exec --process FILE: args and cwd from the file" "from-process-file /bin" "$(cat "$work/x2")"
expect "  ...its exit status" 4 "$(cat "$work/x2.rc")"
has "exec of a missing program: \"executable file not found\"" "executable file not found" "$work/x3"
check "  ...and fails" test "$(cat "$work/x3.rc")" -ne 0
expect "exec --detach returns at once, successfully" 0 "$(cat "$work/x4.rc")"
grep -qE '^[0-9]+$' "$work/x4.pid" && [ "$(wc -l <"$work/x4.pid")" -eq 0 ] && [ -f "$work/x4.alive" ] \
  && ok "  ...its pid file (no newline) names a live process" || no "  ...its pid file (no newline) names a live process" "$(cat "$work/x4.pid" 2>&1)"
expect "ps --format json lists the relay" "[$(cat "$work/c2.pid")]" "$(tr -d ' \n' <"$work/ps.json")"
has "delete of a running container is refused" "not stopped" "$work/del-running"
expect "kill ID TERM reaches the process: it ends by SIGTERM (128+15)" 143 "$rc"
"$R" --root "$root" delete c2; expect "delete after the kill" 0 "$?"

# SIGKILL by number: the relay (and with it the box) dies at once.
bundle "$work/b3" '["sleep", "1000"]'
python3 "$REAP" "$R" "$root" "$work/b3" c3 -- start -- "@kill" "9" >/dev/null 2>&1
expect "kill ID 9: status 137" 137 "$?"
"$R" --root "$root" delete c3
expect "no box is left" 0 "$(boxes)"

# ---- a terminal: the master through --console-socket, its size followed -----------------
bundle "$work/b4" '["sh", "-c", "stty size; tty; echo READY; read x; stty size; exit 3"]' true
OCI_CREATE_ARGS="--console-socket $work/console.sock" python3 "$CONSOLE" "$work/console.sock" "$work/tty.out" \
  python3 "$REAP" "$R" "$root" "$work/b4" c4 -- start
rc=$?
tr -d '\r' <"$work/tty.out" >"$work/tty.txt"
expect "a terminal container's exit status" 3 "$rc"
has "its terminal has config.json's consoleSize" "40 120" "$work/tty.txt"
has "  ...it is a pty" "/dev/pts/" "$work/tty.txt"
has "  ...resizing the master resizes the guest's terminal" "50 132" "$work/tty.txt"
has "  ...typed keys are echoed by the guest's terminal" "go" "$work/tty.txt"
"$R" --root "$root" delete c4

# ---- Podman ------------------------------------------------------------------------------
oci_image
oci_podman
expect "podman run --rm IMG echo hi" "hi" "$($P run --rm "$img" echo hi 2>"$work/e")"
[ -s "$work/e" ] && cat "$work/e"
$P run --rm "$img" sh -c 'exit 42' 2>/dev/null; expect "podman: exit status 42" 42 "$?"
$P run --rm "$img" sh -c 'kill -9 $$' 2>/dev/null; expect "podman: killed by SIGKILL, 137" 137 "$?"
$P run --rm "$img" nosuchprog 2>"$work/e"; expect "podman: a missing program, 127" 127 "$?"
has "  ...podman says why" "executable file not found" "$work/e"
expect "podman run -i: stdin reaches the process" "got piped" "$(echo piped | $P run --rm -i "$img" sh -c 'read x; echo got $x' 2>/dev/null)"
v=$($P run --rm "$img" cat /proc/version 2>/dev/null)
case "$v" in "Linux version 6.1."*boxlite@*) [ "$v" != "$(cat /proc/version)" ] && ok "podman: /proc/version is the guest kernel" || no "podman: /proc/version is the guest kernel" "$v";;
  *) no "podman: /proc/version is the guest kernel" "$v";; esac
# podman run -it through a real terminal: its size, a resize, Ctrl-C, the exit status.
python3 - "$img" $P <<'PY' >"$work/it.log" 2>&1 && ok "podman run -it: terminal size, resize, Ctrl-C and exit status" || no "podman run -it: terminal size, resize, Ctrl-C and exit status" "$(tail -c 600 "$work/it.log")"
import fcntl, os, pty, select, signal, struct, sys, termios, time
img, podman = sys.argv[1], sys.argv[2:]
def setsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
pid, fd = pty.fork()
if pid == 0:
    # the guest waits for the resize itself (a resize and typed keys travel apart in podman)
    os.execvp(podman[0], podman + ["run", "-it", "--rm", img, "sh", "-c",
              "stty size; echo READY; read x; n=0; while [ \"$(stty size)\" = '30 100' ] && [ $n -lt 300 ]; "
              "do n=$((n+1)); sleep 0.1; done; stty size; trap 'echo got-int; exit 5' INT; echo armed; "
              "sleep 60 & wait"])
setsize(fd, 30, 100)
buf = b""
def until(needle, secs=120):
    global buf
    end = time.time() + secs
    while needle not in buf and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try: buf += os.read(fd, 4096)
            except OSError: break
    return needle in buf
ok = until(b"30 100") and until(b"READY")
setsize(fd, 40, 120)
os.kill(pid, signal.SIGWINCH)
os.write(fd, b"go\r")
ok = ok and until(b"40 120") and until(b"armed")
os.write(fd, b"\x03")
ok = ok and until(b"got-int")
_, status = os.waitpid(pid, 0)
ok = ok and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 5
print("pty transcript: %r status %r" % (buf, status))
sys.exit(0 if ok else 1)
PY
mkdir -p "$work/vol"
$P run --rm -v "$work/vol:/vol" "$img" sh -c 'echo from-box > /vol/f.txt' 2>/dev/null
expect "podman -v: the box's write reaches the host folder" "from-box" "$(cat "$work/vol/f.txt" 2>/dev/null)"
# a command on a volume: the box sees the host folder there, not the rootfs beneath it
mkdir -p "$work/tools"
printf '#!/bin/sh\necho from-volume\n' >"$work/tools/hello"
chmod 755 "$work/tools/hello"
id=$($P run -d -v "$work/tools:/opt/tools" "$img" sleep 1000 2>"$work/e")
expect "podman run -d starts a container" running "$($P inspect -f '{{.State.Status}}' "$id" 2>/dev/null)"
expect "podman exec: output" "in-exec" "$($P exec "$id" sh -c 'echo in-exec' 2>/dev/null)"
expect "podman exec: a command on a volume, by path" "from-volume" \
  "$($P exec "$id" /opt/tools/hello 2>&1)"
expect "podman exec: a command on a volume, found in PATH" "from-volume" \
  "$($P exec -e PATH=/opt/tools:/bin "$id" hello 2>&1)"
$P exec "$id" sh -c 'exit 3' 2>/dev/null; expect "podman exec: exit status" 3 "$?"
# podman exec -it: the exec's terminal through its own console socket
python3 - "$id" $P <<'PY' >"$work/eit.log" 2>&1 && ok "podman exec -it: terminal size, resize and exit status" || no "podman exec -it: terminal size, resize and exit status" "$(tail -c 600 "$work/eit.log")"
import fcntl, os, pty, select, signal, struct, sys, termios, time
cid, podman = sys.argv[1], sys.argv[2:]
def setsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
pid, fd = pty.fork()
if pid == 0:
    os.execvp(podman[0], podman + ["exec", "-it", cid, "sh", "-c",
              "stty size; echo READY; read x; n=0; while [ \"$(stty size)\" = '30 100' ] && [ $n -lt 300 ]; "
              "do n=$((n+1)); sleep 0.1; done; stty size; exit 6"])
setsize(fd, 30, 100)
buf = b""
def until(needle, secs=120):
    global buf
    end = time.time() + secs
    while needle not in buf and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try: buf += os.read(fd, 4096)
            except OSError: break
    return needle in buf
ok = until(b"30 100") and until(b"READY")
setsize(fd, 40, 120)
os.kill(pid, signal.SIGWINCH)
os.write(fd, b"go\r")
ok = ok and until(b"40 120")
_, status = os.waitpid(pid, 0)
ok = ok and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 6
print("pty transcript: %r status %r" % (buf, status))
sys.exit(0 if ok else 1)
PY
$P stop -t 2 "$id" >/dev/null 2>&1; expect "podman stop -t 2" 0 "$?"
expect "  ...the container exited by SIGTERM" 143 "$($P inspect -f '{{.State.ExitCode}}' "$id" 2>/dev/null)"
$P rm "$id" >/dev/null 2>&1
expect "nothing of the boxes is left after rm" 0 "$(boxes)"
left=$(find "$root" -mindepth 1 -maxdepth 1 ! -name home | wc -l)
expect "  ...nor of the runtime's state" 0 "$left"
finish
