#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# arm64 boxes on this x86_64 host (issue 18): `boxlite run --platform linux/arm64` picks the
# arm64 variant of a multi-platform image (Debian's busybox-static:arm64 beside this host's
# busybox, pushed as one index to a real local registry) and runs it on the QEMU engine's
# -M virt under TCG with the arm64 guest kernel and agent: uname -m says aarch64, exit
# codes come back, a volume and the network (a forwarded port) work, cp in and out; the
# default platform stays the host's; a missing variant and engine kvm are clear errors.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
. tests/harness/lib.sh
need "$B (make)" test -x "$B"
need "the arm64 guest initramfs (make, with gcc-aarch64-linux-gnu)" test -f "$build/guest-arm64/initramfs.cpio.gz"
need "a cached arm64 guest kernel (scripts/build-kernel.sh --arch arm64)" scripts/build-kernel.sh --arch arm64 --cached-only
need "a cached x86_64 guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "Debian's busybox-static:arm64 (tests/fixtures/arm64-busybox.sh)" tests/fixtures/arm64-busybox.sh --cached-only
need_cmd qemu-system-aarch64 "apt-get install qemu-system-arm"
need_cmd docker-registry
need_cmd skopeo
[ "$(uname -m)" = x86_64 ] || skip "this host is $(uname -m): the cross-arch box here would be amd64 on arm64; proven on x86_64 hosts by tests/e2e/arm64_tcg.sh"
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

BOXLITE_ARM64_BUSYBOX=$(tests/fixtures/arm64-busybox.sh --cached-only) \
  python3 tests/fixtures/mkimages.py "$work/fx" busybox-multiarch busybox >/dev/null || { echo "not ok - fixtures"; exit 1; }
port=$(tests/fixtures/registry.sh start "$work/reg" $$) || { echo "registry failed"; exit 1; }
tests/fixtures/registry.sh push "$work/reg" "$work/fx/busybox-multiarch" multi:latest --all >/dev/null
tests/fixtures/registry.sh push "$work/reg" "$work/fx/busybox" amd64only:latest >/dev/null
img=127.0.0.1:$port/multi:latest

out=$("$B" run --rm --platform linux/arm64 "$img" uname -m 2>"$work/err")
expect "run --platform linux/arm64: the box is aarch64" "aarch64" "$out"
[ "$out" = aarch64 ] || { cat "$work/err"; cat "$BOXLITE_HOME"/boxes/*/console.log 2>/dev/null | tail -20; }
out=$("$B" run --rm --platform linux/arm64 "$img" sh -c 'head -c 4 /bin/busybox | od -An -c | tr -d " \n"; od -An -tx1 -j18 -N2 /bin/busybox | tr -d " \n"')
expect "  ...running the index's arm64 busybox (ELF machine 0xb7, EM_AARCH64)" '177ELFb700' "$out"
"$B" run --rm --platform linux/arm64 "$img" sh -c 'exit 7'
expect "  ...its exit status comes back" "7" "$?"
out=$("$B" run --rm "$img" uname -m)
expect "without --platform the box is the host's (the amd64 variant pulled again)" "x86_64" "$out"

# A detached arm64 box: volume, network (a forwarded port to a server in the box), cp.
mkdir -p "$work/rw"
echo from-host >"$work/rw/in.txt"
hp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
id=$("$B" run -d --platform linux/arm64 --name arm -v "$work/rw:/data" -p "$hp:8080" "$img" sleep 86400)
expect "run -d --platform linux/arm64 prints an id" "32" "${#id}"
expect "the volume is readable in the arm64 box" "from-host" "$("$B" exec arm cat /data/in.txt)"
"$B" exec arm sh -c 'echo from-arm64 > /data/out.txt'
expect "  ...and the host sees its write" "from-arm64" "$(cat "$work/rw/out.txt" 2>/dev/null)"
# busybox httpd has bound its port when the exec returns (it daemonizes after listening)
"$B" exec arm sh -c 'mkdir -p /www && uname -m > /www/index.html && httpd -p 8080 -h /www'
got=$(curl -s --max-time 30 "http://127.0.0.1:$hp/index.html")
expect "a forwarded port reaches a server in the arm64 box" "aarch64" "$got"
out=$("$B" exec arm sh -c 'ip -o -4 addr show eth0 | grep -c inet')
expect "  ...which has its address on eth0" "1" "$out"
echo payload >"$work/cp.txt"
"$B" cp "$work/cp.txt" arm:/tmp/cp.txt && "$B" cp arm:/tmp/cp.txt "$work/back.txt"
expect "cp into the arm64 box and back" "payload" "$(cat "$work/back.txt" 2>/dev/null)"
"$B" inspect arm 2>/dev/null | grep -q '"platform": "linux/arm64"' && ok "inspect shows the box's platform" || no "inspect shows the box's platform"
"$B" rm -f arm >/dev/null

# Clear errors
"$B" run --rm --platform linux/arm64 "127.0.0.1:$port/amd64only:latest" true >"$work/o" 2>"$work/e"
rc=$?
[ $rc -ne 0 ] && grep -q "linux/arm64" "$work/e" && ok "an image without an arm64 variant is refused, naming the platform (exit $rc)" || no "an image without an arm64 variant is refused, naming the platform" "$(cat "$work/e")"
"$B" run --rm --platform linux/arm64 --engine kvm "$img" true >"$work/o" 2>"$work/e"
rc=$?
[ $rc -ne 0 ] && grep -q "kvm engine runs only" "$work/e" && ok "--engine kvm with another architecture is refused (exit $rc)" || no "--engine kvm with another architecture is refused" "$(cat "$work/e")"
"$B" run --rm --platform linux/s390x "$img" true >"$work/o" 2>"$work/e"
rc=$?
[ $rc -ne 0 ] && grep -q "platform" "$work/e" && ok "an unsupported platform is refused (exit $rc)" || no "an unsupported platform is refused" "$(cat "$work/e")"
# boxlite pull --platform: the arm64 variant fetched ahead is what a later arm64 box runs,
# with the registry gone (the host's variant, pulled first, is replaced under the name).
"$B" pull -q "$img" >/dev/null 2>&1
"$B" pull -q --platform linux/arm64 "$img" >"$work/o" 2>"$work/e"
expect "pull --platform linux/arm64 succeeds" "0" "$?"
"$B" pull -q --platform linux/arm64 "127.0.0.1:$port/amd64only:latest" >"$work/o" 2>"$work/e"
rc=$?
[ $rc -ne 0 ] && grep -q "linux/arm64" "$work/e" && ok "pull --platform of an image without that variant is refused, naming it (exit $rc)" || no "pull --platform of an image without that variant is refused, naming it" "$(cat "$work/e")"
tests/fixtures/registry.sh stop "$work/reg" >/dev/null 2>&1
out=$("$B" run --rm --platform linux/arm64 "$img" uname -m 2>"$work/e")
expect "  ...and a box of that platform runs it with the registry stopped" "aarch64" "$out"
"$B" run --rm "$img" true >"$work/o" 2>"$work/e"
[ $? -ne 0 ] && ok "  ...while the host's variant is no longer recorded (it would need the registry)" || no "  ...while the host's variant is no longer recorded"
finish
