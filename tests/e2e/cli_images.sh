#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Image management through the `boxlite` CLI against a real local registry (Debian's
# docker-registry): pull (plain progress lines in a pipe, redrawn bars on a terminal),
# images [--json], rmi [-f] (refused while a created box uses the image; garbage
# collection removes unused blobs and keeps the disk base of an existing box, which still
# boots), an unknown image (404), and BOXLITE_INSECURE_REGISTRIES for a plain-HTTP
# registry that is not localhost.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
. tests/harness/lib.sh
need "$B (make)" test -x "$B"
need_cmd docker-registry
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
unset BOXLITE_INSECURE_REGISTRIES
fwd_pid=
cleanup() {
  for id in $("$B" ps -a --json 2>/dev/null | python3 -c 'import json,sys; [print(b["id"]) for b in json.load(sys.stdin)]' 2>/dev/null); do
    "$B" rm -f "$id" >/dev/null 2>&1
  done
  [ -n "$fwd_pid" ] && kill "$fwd_pid" 2>/dev/null
  tests/fixtures/registry.sh stop "$work/reg" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
blobs() { ls "$BOXLITE_HOME/images/blobs/sha256" 2>/dev/null | wc -l; }
jq_() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

python3 tests/fixtures/mkimages.py "$work/fx" busybox layers multi >/dev/null
port=$(tests/fixtures/registry.sh start "$work/reg" $$) || { echo "registry failed"; exit 1; }
tests/fixtures/registry.sh push "$work/reg" "$work/fx/busybox" busybox:latest
tests/fixtures/registry.sh push "$work/reg" "$work/fx/layers" layers:latest
tests/fixtures/registry.sh push "$work/reg" "$work/fx/multi" multi:latest --all
reg=127.0.0.1:$port

# pull into a pipe: one plain line per layer, then "pulled".
"$B" pull "$reg/layers:latest" >"$work/out" 2>"$work/err"
expect "pull exits 0" "0" "$?"
expect "pull prints one line per layer (3 layers)" "3" "$(grep -cE '^layer [1-3]/3 sha256:[0-9a-f]{12}… done$' "$work/out")"
for i in 1 2 3; do has "line for layer $i/3" "layer $i/3 sha256:" "$work/out"; done
has "pull says what it pulled" "pulled $reg/layers:latest" "$work/out"
[ -s "$work/err" ] && no "pull prints nothing on stderr" "$(cat "$work/err")" || ok "pull prints nothing on stderr"
if grep -q $'\033' "$work/out"; then no "no terminal escapes in a pipe"; else ok "no terminal escapes in a pipe"; fi

# pull on a terminal (script gives it a pty): bars redrawn in place.
if command -v script >/dev/null; then
  script -qfec "$B pull $reg/busybox:latest" /dev/null >"$work/tty" 2>&1
  expect "pull on a terminal exits 0" "0" "$?"
  if grep -q $'\033\\[2K' "$work/tty" && grep -q 'layer 1/1' "$work/tty" && grep -q '\[=*' "$work/tty"; then
    ok "pull on a terminal draws progress bars with escape sequences"
  else
    no "pull on a terminal draws progress bars with escape sequences" "$(od -c "$work/tty" | head -20)"
  fi
  has "terminal bar ends done" "done" "$work/tty"
else
  "$B" pull "$reg/busybox:latest" >/dev/null
fi

# images
"$B" images >"$work/out"
expect "images exits 0" "0" "$?"
has "images lists layers" "$reg/layers:latest" "$work/out"
has "images lists busybox" "$reg/busybox:latest" "$work/out"
has "images has a header" "REFERENCE" "$work/out"
"$B" images --json >"$work/json"
expect "images --json: two images" "2" "$(jq_ 'len(d)' <"$work/json")"
expect "images --json: refs sorted" "$reg/busybox:latest $reg/layers:latest" "$(jq_ '" ".join(i["ref"] for i in d)' <"$work/json")"
expect "images --json: 64-hex ids" "True" "$(jq_ 'all(len(i["id"])==64 for i in d)' <"$work/json")"
expect "images --json: layer counts" "1 3" "$(jq_ '" ".join(str(i["layers"]) for i in d)' <"$work/json")"
expect "images --json: sizes are positive" "True" "$(jq_ 'all(i["size"]>0 for i in d)' <"$work/json")"
expect "images --json: created from the config" "True" "$(jq_ 'all(i["created"].startswith("20") for i in d)' <"$work/json")"
bb_id=$(jq_ 'd[0]["id"]' <"$work/json")

# Errors: unknown image (404), unknown and malformed references to rmi, bad usage.
"$B" pull "$reg/nope:latest" >"$work/out" 2>"$work/err"
expect "pull of an unknown image exits 125" "125" "$?"
has "pull of an unknown image says not found" "not found" "$work/err"
has "pull of an unknown image names it" "$reg/nope" "$work/err"
"$B" rmi "$reg/nope:latest" >/dev/null 2>"$work/err"
expect "rmi of an unknown image exits 125" "125" "$?"
has "rmi of an unknown image says so" "not in the local store" "$work/err"
"$B" rmi "Bad Ref" >/dev/null 2>"$work/err"
expect "rmi of a malformed reference exits 125" "125" "$?"
has "rmi of a malformed reference says invalid" "invalid image reference" "$work/err"
"$B" pull >/dev/null 2>&1
expect "pull without a reference exits 125" "125" "$?"
"$B" rmi >/dev/null 2>&1
expect "rmi without a reference exits 125" "125" "$?"

# rmi of an unused image: its record and its blobs go (busybox's stay).
before=$(blobs)
"$B" rmi "$reg/layers:latest" >"$work/out" 2>"$work/err"
expect "rmi exits 0" "0" "$?"
has "rmi says what it removed" "removed $reg/layers:latest" "$work/out"
expect "rmi removes the image from the list" "1" "$("$B" images --json | jq_ 'len(d)')"
# layers had an index-less manifest + config + 3 layers = 5 blobs.
expect "rmi garbage-collects the image's blobs" "$((before - 5))" "$(blobs)"

# A created (never started) box holds its image: rmi refused, rmi -f allowed.
id=$("$B" create --name holder "$reg/busybox:latest" 2>"$work/err")
expect "create a box from busybox" "32" "${#id}"
"$B" rmi "$reg/busybox" >"$work/out" 2>"$work/err"
expect "rmi of an image a box uses exits 125" "125" "$?"
has "rmi refusal names the box" "used by box holder" "$work/err"
expect "refused rmi keeps the image" "1" "$("$B" images --json | jq_ 'len(d)')"
"$B" rmi "${bb_id:0:12}" >/dev/null 2>"$work/err"
expect "rmi by id prefix of a used image exits 125" "125" "$?"
"$B" rmi -f "${bb_id:0:12}" >"$work/out" 2>"$work/err"
expect "rmi -f (by id prefix) exits 0" "0" "$?"
expect "rmi -f removes the image" "0" "$("$B" images --json | jq_ 'len(d)')"
expect "rmi -f leaves no blob behind" "0" "$(blobs)"
"$B" rm -f holder >/dev/null 2>&1

# A local OCI image layout: recorded as oci:<real path>, removable by a relative path.
"$B" pull "oci:$work/fx/layers" >/dev/null 2>"$work/err"
expect "pull oci:<layout> exits 0" "0" "$?"
expect "it is listed by its real path" "oci:$(realpath "$work/fx/layers")" "$("$B" images --json | jq_ 'd[0]["ref"]')"
(cd "$work/fx" && "$B" rmi oci:./layers >/dev/null 2>"$work/err")
expect "rmi oci:<relative path> exits 0" "0" "$?"
expect "and leaves no blob behind" "0" "$(blobs)"

# A multi-platform index: progress counts the chosen platform's layers; rmi removes the
# index blob too.
"$B" pull "$reg/multi" >"$work/out" 2>"$work/err"
expect "pull of a multi-platform index exits 0" "0" "$?"
expect "progress counts the platform's layers" "1" "$(grep -cE '^layer 1/1 sha256:' "$work/out")"
expect "images: one layer" "1" "$("$B" images --json | jq_ 'd[0]["layers"]')"
"$B" rmi "$reg/multi" >/dev/null 2>&1
expect "rmi of an index image leaves no blob behind" "0" "$(blobs)"

# A box with a disk keeps its ext4 base through rmi -f and garbage collection, and boots.
if scripts/build-kernel.sh --cached-only >/dev/null 2>&1; then
  "$B" pull "$reg/busybox:latest" >/dev/null
  # Detached, so that `start` from this shell leaves it running.
  "$B" run -d --name keeper "$reg/busybox:latest" sleep 86400 >/dev/null 2>"$work/err"
  out=$("$B" exec keeper echo first 2>>"$work/err")
  expect "a box runs from the image" "first" "$out"
  "$B" stop keeper >/dev/null 2>>"$work/err"
  base=$(ls "$BOXLITE_HOME/images/rootfs/" | grep '\.ext4$' | head -1)
  [ -n "$base" ] && ok "the image has an ext4 base ($base)" || no "the image has an ext4 base"
  "$B" rmi "$reg/busybox:latest" >/dev/null 2>&1
  expect "rmi of the image of a stopped box is refused" "125" "$?"
  "$B" rmi -f "$reg/busybox:latest" >/dev/null 2>"$work/err"
  expect "rmi -f of the image of a stopped box exits 0" "0" "$?"
  [ -f "$BOXLITE_HOME/images/rootfs/$base" ] && ok "garbage collection keeps the box's base" || no "garbage collection keeps the box's base" "$(ls "$BOXLITE_HOME/images/rootfs/")"
  expect "and the blobs are gone" "0" "$(blobs)"
  # (Known failure until fixed: exec looks the image's defaults up with a NULL error
  # object, and src/image's lookup() stores to it when the image is gone: SIGSEGV.)
  "$B" start keeper >/dev/null 2>"$work/err"
  expect "the box starts again without its image" "second" "$("$B" exec keeper echo second 2>>"$work/err")"
  [ -s "$work/err" ] && cat "$work/err"
  "$B" rm -f keeper >/dev/null 2>&1
else
  echo "# no cached guest kernel: skipping the box-base checks"
fi

# BOXLITE_INSECURE_REGISTRIES: plain HTTP for a registry that is not localhost/127.0.0.1
# (127.0.0.2 forwarded to the registry).
fport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.2",0)); print(s.getsockname()[1])' 2>/dev/null)
if [ -n "$fport" ]; then
  python3 - "$fport" "$port" <<'EOF' &
import socket, sys, threading
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.2", int(sys.argv[1]))); ls.listen(16)
def pipe(a, b):
    try:
        while (d := a.recv(65536)):
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
while True:
    c, _ = ls.accept()
    u = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
EOF
  fwd_pid=$!
  for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.2',$fport),1)" 2>/dev/null && break; sleep 0.1; done
  "$B" pull "127.0.0.2:$fport/busybox:latest" >/dev/null 2>"$work/err"
  expect "a plain-HTTP registry not marked insecure is refused" "125" "$?"
  BOXLITE_INSECURE_REGISTRIES="other.example:5000,127.0.0.2:$fport" "$B" pull "127.0.0.2:$fport/busybox:latest" >"$work/out" 2>"$work/err"
  expect "BOXLITE_INSECURE_REGISTRIES allows it" "0" "$?"
  [ -s "$work/err" ] && cat "$work/err"
  has "and it is listed" "127.0.0.2:$fport/busybox:latest" <("$B" images)
else
  echo "# 127.0.0.2 not usable: skipping the insecure-registry check"
fi

finish
