#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# boxlite --url (issue 23): a whole `boxlite exec BOX true` command, process start to exit,
# locally (the library) and through --url against a `boxlite serve` on loopback (token, POST
# exec, stdin closed, SSE to the exit event), on the same box in the same run, alternating;
# and `exec -it` through a pty over the TTY WebSocket. Engine: whichever runs here (QEMU/TCG
# on machines without vmx/svm, where the guest dominates the round trip).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BOXLITE_BUILD:-build}
runs=${BENCH_RUNS:-20}
scripts/build-kernel.sh --cached-only >/dev/null 2>&1 || { echo "serve_cli: skipped (no cached kernel)"; exit 0; }
B=$PWD/$build/bin/boxlite
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
spid=
cleanup() {
  [ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
  for id in $("$B" ps -a -q 2>/dev/null); do "$B" rm -f "$id" >/dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup EXIT
python3 tests/fixtures/mkrootfs.py "$work/roots/bb"
secret=$("$B" serve credentials add "$work/creds" bench acme) || exit 1
mkfifo "$work/fifo"
"$B" serve --listen 127.0.0.1:0 --credentials "$work/creds" --rootfs-dir "$work/roots" --rate 0 \
  >"$work/fifo" 2>"$work/serve.log" &
spid=$!
exec {fd}<"$work/fifo"
read -r -t 60 line <&"$fd" || { echo "serve_cli: the server did not start"; cat "$work/serve.log"; exit 1; }
cat <&"$fd" >/dev/null &
url=${line##* }
R=("$B" --url "$url" --client-id bench --client-secret "$secret" --prefix acme)
"${R[@]}" run -d --name rtt rootfs:bb sleep 100000 >/dev/null || { echo "serve_cli: run -d failed"; exit 1; }
"${R[@]}" exec rtt true || exit 1   # boots the box
python3 - "$runs" "$B" "${R[@]}" <<'PY'
import os, pty, statistics, subprocess, sys, time
runs, local = int(sys.argv[1]), sys.argv[2]
remote = sys.argv[3:]
def once(cmd):
    t = time.monotonic()
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
    return (time.monotonic() - t) * 1000
def tty_once(cmd):
    t = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    while True:
        try:
            if not os.read(fd, 4096):
                break
        except OSError:
            break
    _, st = os.waitpid(pid, 0)
    assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0, st
    return (time.monotonic() - t) * 1000
loc, rem, tty = [], [], []
for _ in range(runs):
    loc.append(once([local, "exec", "acme.rtt", "true"]))
    rem.append(once(remote + ["exec", "rtt", "true"]))
    tty.append(tty_once(remote + ["exec", "-it", "rtt", "true"]))
ml, mr, mt = statistics.median(loc), statistics.median(rem), statistics.median(tty)
print(f"figure: `boxlite exec BOX true`, process start to exit (median of {runs}): local "
      f"{ml:.1f} ms, --url {mr:.1f} ms ({mr - ml:+.1f} ms; --url fetches a token and talks HTTP, "
      f"local opens the runtime each time)")
print(f"figure: `boxlite --url ... exec -it BOX true` on a pty over the TTY WebSocket "
      f"(median of {runs}): {mt:.1f} ms")
PY
