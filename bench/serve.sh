#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# boxlite serve (issue 23): the exec round trip of `true` over the REST API (POST .../exec,
# then the SSE output read to its exit event, one keep-alive connection) and over the TTY
# WebSocket (upgrade, `true` on a terminal, to its exit message and close) against the C API
# (bench/sdk_exec.c: boxlite_exec_start to the result) on the same box in the same run,
# rounds alternating; and requests per second of GET /v1/{prefix}/boxes with 100 boxes (ab,
# 4 concurrent clients). Engine: whichever runs here (QEMU/TCG on machines without vmx/svm,
# where the guest dominates the round trip).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BOXLITE_BUILD:-build}
runs=${BENCH_RUNS:-20}
rounds=${BENCH_ROUNDS:-3}
nboxes=${BENCH_BOXES:-100}
scripts/build-kernel.sh --cached-only >/dev/null 2>&1 || { echo "serve: skipped (no cached kernel)"; exit 0; }
command -v ab >/dev/null || { echo "serve: skipped (ab not installed: apache2-utils)"; exit 0; }
B=$PWD/$build/bin/boxlite
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
bin=$build/bench/sdk_exec
mkdir -p "$build/bench" "$work/roots"
spid=
cleanup() {
  [ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
  for id in $("$B" ps -a -q 2>/dev/null); do "$B" rm -f "$id" >/dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup EXIT
gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iinclude -o "$bin" bench/sdk_exec.c \
  -L"$build/lib" -Wl,-rpath,"$PWD/$build/lib" -lboxlite || exit 1
python3 tests/fixtures/mkrootfs.py "$work/roots/bb"
secret=$("$B" serve credentials add "$work/creds" bench acme) || exit 1
mkfifo "$work/fifo"
"$B" serve --listen 127.0.0.1:0 --credentials "$work/creds" --rootfs-dir "$work/roots" \
  --max-boxes $((nboxes + 10)) --rate 0 >"$work/fifo" 2>"$work/serve.log" &
spid=$!
exec {fd}<"$work/fifo"
read -r -t 60 line <&"$fd" || { echo "serve: the server did not start"; cat "$work/serve.log"; exit 1; }
cat <&"$fd" >/dev/null &
url=${line##* }
python3 - "$url" "$secret" "$runs" "$rounds" "$bin" "$work/out" <<'PY' || exit 1
import http.client, json, statistics, subprocess, sys, time, urllib.parse
url, secret, runs, rounds, cbin, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
host = urllib.parse.urlparse(url).netloc
c = http.client.HTTPConnection(host, timeout=600)
def call(m, p, body=None, headers=None, ct="application/json"):
    h = dict(headers or {})
    if body is not None:
        h["Content-Type"] = ct
    c.request(m, p, body=body, headers=h)
    r = c.getresponse()
    return r.status, r.read()
st, b = call("POST", "/v1/oauth/tokens", urllib.parse.urlencode(
    {"grant_type": "client_credentials", "client_id": "bench", "client_secret": secret}),
    ct="application/x-www-form-urlencoded")
tok = json.loads(b)["access_token"]
auth = {"Authorization": "Bearer " + tok}
st, b = call("POST", "/v1/acme/boxes", json.dumps({"name": "rtt", "rootfs_path": "bb", "memory_mib": 256,
             "detach": True, "auto_remove": False}), auth)
assert st == 201, b
def rest_true():
    st, b = call("POST", "/v1/acme/boxes/rtt/exec", json.dumps({"command": "true"}), auth)
    assert st == 201, b
    x = json.loads(b)["execution_id"]
    st, b = call("GET", f"/v1/acme/boxes/rtt/executions/{x}/output", None, auth)
    assert st == 200 and b"event: exit" in b, b
sys.path.insert(0, "tests/e2e")
from serve_ws import Conn  # noqa: E402 - the WebSocket client of tests/e2e/serve.sh
def tty_true():
    w = Conn(url, tok, "/v1/acme/boxes/rtt/exec/tty?command=true")
    assert w.status == 101, w.buf
    while w.read_frame()[0] != 0x8:
        pass
    w.sock.close()
rest_true()  # boots the box, warm-up
tty_true()
rest, capi, tty = [], [], []
for _ in range(rounds):
    for _ in range(runs):
        t = time.monotonic()
        rest_true()
        rest.append((time.monotonic() - t) * 1000)
        t = time.monotonic()
        tty_true()
        tty.append((time.monotonic() - t) * 1000)
    o = subprocess.run([cbin, "bench", "acme.rtt", str(runs), "0", "0"], capture_output=True, text=True, check=True)
    capi += [float(l.split()[1]) for l in o.stdout.splitlines() if l.startswith("rtt ")]
mr, mc = statistics.median(rest), statistics.median(capi)
print(f"figure: exec round trip of `true` (median of {len(rest)} each): C API {mc:.1f} ms, "
      f"REST (POST exec + SSE to exit) {mr:.1f} ms ({(mr - mc) / mc * 100:+.1f}%, {mr - mc:+.2f} ms)")
mt = statistics.median(tty)
print(f"figure: exec round trip of `true` on a terminal over the TTY WebSocket (new connection, "
      f"upgrade to close; median of {len(tty)}): {mt:.1f} ms ({(mt - mc) / mc * 100:+.1f}% vs the C API)")
open(out, "w").write(tok)
PY
tok=$(cat "$work/out")
for i in $(seq "$nboxes"); do
  curl -s -o /dev/null -H "Authorization: Bearer $tok" -d "{\"name\":\"b$i\",\"rootfs_path\":\"bb\",\"auto_remove\":false}" "$url/v1/acme/boxes"
done
have=$(curl -s -H "Authorization: Bearer $tok" "$url/v1/acme/boxes?pageSize=1000" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["boxes"]))')
rps=$(ab -q -n 2000 -c 4 -k -H "Authorization: Bearer $tok" "$url/v1/acme/boxes?pageSize=1000" 2>/dev/null |
      sed -n 's/^Requests per second: *\([0-9.]*\).*/\1/p')
echo "figure: GET /v1/acme/boxes with $have boxes (all on one page, ab -c 4 -k, 2000 requests): ${rps:-?} requests/s"
