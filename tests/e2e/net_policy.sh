#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The network policy end to end on the QEMU engine (the KVM engine: tests/lab/suite.sh), with
# real servers in two network namespaces this script creates and removes:
#   box side  bln$$: the CLI, hence boxlite-vmm and its libslirp, run here; it is "the
#             host" of the boxes: servers on its 127.0.0.1 and [::1], one on 0.0.0.0;
#             198.51.100.2/24, 2001:db8::2/64; its resolver is the test host.
#   test host blh$$: 198.51.100.1 and .3, 2001:db8::1; TCP, UDP and DNS servers
#             (tests/fixtures/nethost.py), each logging what it received.
# Boxes are busybox rootfs directories with tests/fixtures/netprobe (static, musl).
# Checked: a default box reaches the test host (TCP, UDP, DNS, IPv4 and IPv6) and nothing of
# the host (loopback through 10.0.2.2 and fec0::2, the DNS address on another port, the
# host's own address, link-local metadata): refused at once (a reset), logged once, counted;
# --allow-host PORT[/udp] opens that port only; --deny-net; --allow-net by address and by
# name (following an address change); --network none has no eth0; one box reaches another
# box's published port only with --allow-host.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
. tests/harness/lib.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "$B (make)" test -x "$B"
need "/bin/busybox (busybox-static)" test -x /bin/busybox
need_cmd musl-gcc musl-tools
need_cmd ip iproute2
need_cmd curl
need "root, for network namespaces (CI and the set-up run as root)" test "$(id -u)" = 0

work=$(mktemp -d)
H=blh$$ N=bln$$ VA=blv$$a VB=blv$$b
cleanup() {
  for b in $(bx ps -a --json 2>/dev/null | python3 -c 'import json,sys; [print(b["id"]) for b in json.load(sys.stdin)]' 2>/dev/null); do
    bx rm -f "$b" >/dev/null 2>&1
  done
  for ns in $N $H; do
    for p in $(ip netns pids $ns 2>/dev/null); do kill "$p" 2>/dev/null; done
    ip netns del $ns 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

# The CLI in the box side's namespace, its resolver the test host (a bind mount in the
# mount namespace `ip netns exec` makes: the host's /etc is not touched).
echo "nameserver 198.51.100.1" >"$work/resolv.conf"
bx() {
  ip netns exec $N sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' sh \
    "$work/resolv.conf" env BOXLITE_HOME="$work/home" "$B" "$@"
}

ip netns add $H && ip netns add $N || { no "create network namespaces"; finish; exit 1; }
ip link add $VA netns $N type veth peer name $VB netns $H
ip -n $N link set lo up && ip -n $H link set lo up
ip -n $N addr add 198.51.100.2/24 dev $VA && ip -n $N addr add 2001:db8::2/64 dev $VA nodad
ip -n $H addr add 198.51.100.1/24 dev $VB && ip -n $H addr add 198.51.100.3/24 dev $VB
ip -n $H addr add 2001:db8::1/64 dev $VB nodad
ip -n $N link set $VA up && ip -n $H link set $VB up
ip -n $N route add default via 198.51.100.1 && ip -n $N -6 route add default via 2001:db8::1

echo "svc.test.example 198.51.100.1" >"$work/dns.txt"
ip netns exec $H python3 tests/fixtures/nethost.py "$work/host.log" "$work/host.ready" \
  --dns-answer "$work/dns.txt" tcp:198.51.100.1:8080 tcp:198.51.100.1:8081 tcp:198.51.100.3:8080 \
  tcp:198.51.100.3:8081 "tcp:[2001:db8::1]:8080" udp:198.51.100.1:5353 udp:198.51.100.1:5354 \
  dns:198.51.100.1:53 >"$work/host.out" 2>&1 &
ip netns exec $N python3 tests/fixtures/nethost.py "$work/lo.log" "$work/lo.ready" \
  tcp:127.0.0.1:7000 tcp:127.0.0.1:7001 "tcp:[::1]:7000" udp:127.0.0.1:7000 tcp:0.0.0.0:7002 \
  >"$work/lo.out" 2>&1 &
for _ in $(seq 100); do [ -f "$work/host.ready" ] && [ -f "$work/lo.ready" ] && break; sleep 0.1; done
check "the test host's and the loopback's servers are up" test -f "$work/host.ready" -a -f "$work/lo.ready"
touch "$work/host.log" "$work/lo.log"

root=$work/root
mkdir -p "$root/bin" "$root/etc" "$root/root"
cp /bin/busybox "$root/bin/"
for a in sh echo cat ls ip grep seq sleep mkdir httpd; do ln -s busybox "$root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
musl-gcc -static -O2 -o "$root/bin/netprobe" tests/fixtures/netprobe.c || { no "build netprobe"; finish; exit 1; }

start() { # NAME FLAGS...: a detached box in the box side's namespace
  local name=$1; shift
  local id
  id=$(bx run -d --name "$name" --engine qemu "$@" "$root" 2>"$work/$name.err")
  [ ${#id} = 32 ] || { no "box $name starts" "$(cat "$work/$name.err")"; return 1; }
}
probe() { bx exec "$1" netprobe "${@:2}" 2>&1; }
# like NAME PATTERN TEXT (a shell pattern)
like() { if [[ $3 == $2 ]]; then ok "$1"; else no "$1" "wanted [$2] got [$3]"; fi; }
# The guest's IPv6 default route comes from libslirp's router advertisement (SLAAC).
wait6() { bx exec "$1" sh -c 'for i in $(seq 200); do ip -6 route | grep -q ^default && exit 0; sleep 0.05; done; exit 1'; }
box_dir() { echo "$work/home/boxes/$(bx inspect "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"; }
# stat BOX KEY: a counter from the box's stats (refreshed by boxlite-vmm every second)
stat() { bx stats --json "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['vmm']['$2'])"; }

echo "# a default box"
start d || { finish; exit 1; }
like "the test host over TCP" "connected 198.51.100.1 * ms: hello from 198.51.100.1:8080 got d-v4" \
  "$(probe d tcp 198.51.100.1 8080 d-v4)"
like "the test host over UDP" "reply: echo 198.51.100.1:5353 d-udp" "$(probe d udp 198.51.100.1 5353 d-udp)"
like "a name from the box's resolver (DNS through the per-box process)" "198.51.100.1" \
  "$(probe d resolve svc.test.example)"
check "IPv6: the box gets its default route" wait6 d
like "the test host over IPv6" "connected 2001:db8::1 * ms: hello from 2001:db8::1:8080 got d-v6" \
  "$(probe d tcp 2001:db8::1 8080 d-v6)"
out=$(probe d tcp 10.0.2.2 7000 d-lo)
like "the host's 127.0.0.1 through 10.0.2.2: refused (a reset, not a time-out)" "refused 10.0.2.2 * ms" "$out"
echo "# ${out}"
like "again: refused again" "refused 10.0.2.2 * ms" "$(probe d tcp 10.0.2.2 7000 d-lo-again)"
like "the host's ::1 through fec0::2: refused" "refused fec0::2 * ms" "$(probe d tcp fec0::2 7000 d-lo6)"
like "the DNS address on another port: refused" "refused 10.0.2.3 * ms" "$(probe d tcp 10.0.2.3 7000 d-dns)"
like "the host's own address (198.51.100.2): refused" "refused 198.51.100.2 * ms" \
  "$(probe d tcp 198.51.100.2 7002 d-own)"
like "link-local (cloud metadata 169.254.169.254): refused" "refused 169.254.169.254 * ms" \
  "$(probe d tcp 169.254.169.254 80 d-meta)"
like "UDP to the host's loopback: no answer" "no reply" "$(probe d udp 10.0.2.2 7000 d-lo-udp)"
like "UDP to the test host still answers (after the denied datagram)" "reply: *" \
  "$(probe d udp 198.51.100.1 5353 d-udp-2)"
check "nothing of it reached the host's servers" test ! -s "$work/lo.log"
dlog=$(box_dir d)/vmm.log
expect "a denied destination is logged once, with the way to open it" "1" \
  "$(grep -c "network: denied tcp 10.0.2.2 port 7000: the host's loopback (allow it with allow_host 7000)" "$dlog")"
has "the metadata denial names link-local" "denied tcp 169.254.169.254 port 80: link-local" "$dlog"
allowed=0 denied=0
for _ in $(seq 50); do
  allowed=$(stat d net_allowed) denied=$(stat d net_denied)
  [ "$allowed" -ge 5 ] && [ "$denied" -ge 6 ] && break
  sleep 0.2
done
check "stats count connections allowed ($allowed) and denied ($denied)" test "$allowed" -ge 5 -a "$denied" -ge 6

echo "# one box, another box's published port"
start p -p 0:8000 || { finish; exit 1; }
bx exec p sh -c 'mkdir -p /www && echo from-box-p > /www/index.html && httpd -p 8000 -h /www'
pport=$(bx inspect p | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ports"][0]["host_port"])')
got=""
for _ in $(seq 50); do
  got=$(ip netns exec $N curl -s --max-time 2 "http://127.0.0.1:$pport/index.html") && [ -n "$got" ] && break
  sleep 0.2
done
expect "the published port serves the host (port forwards work under the policy)" "from-box-p" "$got"
like "box d cannot reach box p's forward" "refused 10.0.2.2 * ms" "$(probe d tcp 10.0.2.2 "$pport" GET)"
start q --allow-host "$pport" || { finish; exit 1; }
like "box q, with --allow-host $pport, can" "connected 10.0.2.2 * ms: HTTP/1.* 200 OK*" \
  "$(probe q tcp 10.0.2.2 "$pport" 'GET /index.html HTTP/1.0')"
like "and nothing else of the host" "refused 10.0.2.2 * ms" "$(probe q tcp 10.0.2.2 7000 q-lo)"
bx rm -f d p q >/dev/null

echo "# --allow-host"
start h --allow-host 7000 --allow-host 7000/udp || { finish; exit 1; }
like "--allow-host 7000: 127.0.0.1:7000" "connected 10.0.2.2 * ms: hello from 127.0.0.1:7000 got h-lo" \
  "$(probe h tcp 10.0.2.2 7000 h-lo)"
check "IPv6 up" wait6 h
like "--allow-host 7000: [::1]:7000 through fec0::2" "connected fec0::2 * ms: hello from ::1:7000 got h-lo6" \
  "$(probe h tcp fec0::2 7000 h-lo6)"
like "--allow-host 7000/udp: UDP 127.0.0.1:7000" "reply: echo 127.0.0.1:7000 h-udp" \
  "$(probe h udp 10.0.2.2 7000 h-udp)"
like "only that port: 7001 refused" "refused 10.0.2.2 * ms" "$(probe h tcp 10.0.2.2 7001 h-lo-7001)"
has "the loopback server saw the allowed connection" "tcp 127.0.0.1:7000 got h-lo" "$work/lo.log"
check "and not the refused one" sh -c "! grep -q h-lo-7001 '$work/lo.log'"
bx rm -f h >/dev/null

echo "# --deny-net"
start n --deny-net 198.51.100.1:8080 --deny-net 2001:db8::1 --deny-net 198.51.100.1:5353 || { finish; exit 1; }
like "--deny-net 198.51.100.1:8080: refused" "refused 198.51.100.1 * ms" "$(probe n tcp 198.51.100.1 8080 n-8080)"
like "another port of that host: reachable" "connected 198.51.100.1 * ms: hello from 198.51.100.1:8081 got n-8081" \
  "$(probe n tcp 198.51.100.1 8081 n-8081)"
check "IPv6 up" wait6 n
like "--deny-net 2001:db8::1: refused" "refused 2001:db8::1 * ms" "$(probe n tcp 2001:db8::1 8080 n-v6)"
like "--deny-net 198.51.100.1:5353: UDP dropped" "no reply" "$(probe n udp 198.51.100.1 5353 n-udp-denied)"
like "UDP to 5354 answers (after it)" "reply: echo 198.51.100.1:5354 n-udp-ok" "$(probe n udp 198.51.100.1 5354 n-udp-ok)"
check "the denied datagram never reached the test host" sh -c "! grep -q n-udp-denied '$work/host.log'"
check "nor the denied connection" sh -c "! grep -q 'got n-8080' '$work/host.log'"
has "the log names the rule" "denied tcp 198.51.100.1 port 8080: deny_net 198.51.100.1:8080" "$(box_dir n)/vmm.log"
bx rm -f n >/dev/null

echo "# --allow-net by address"
start a --allow-net 198.51.100.1:8080 || { finish; exit 1; }
like "the allowed address and port" "connected 198.51.100.1 * ms: hello from 198.51.100.1:8080 got a-ok" \
  "$(probe a tcp 198.51.100.1 8080 a-ok)"
like "another port: refused" "refused 198.51.100.1 * ms" "$(probe a tcp 198.51.100.1 8081 a-8081)"
like "another address: refused" "refused 198.51.100.3 * ms" "$(probe a tcp 198.51.100.3 8080 a-3)"
like "UDP elsewhere: dropped" "no reply" "$(probe a udp 198.51.100.1 5353 a-udp)"
like "DNS still works" "198.51.100.1" "$(probe a resolve svc.test.example)"
check "only the allowed connection reached the test host" sh -c "grep -q 'got a-ok' '$work/host.log' && ! grep -qE 'a-8081|a-3|a-udp' '$work/host.log'"
bx rm -f a >/dev/null

echo "# --allow-net by name"
start s --allow-net svc.test.example:8080 || { finish; exit 1; }
like "before the name is resolved, its address is refused" "refused 198.51.100.1 * ms" \
  "$(probe s tcp 198.51.100.1 8080 s-early)"
like "by name: allowed" "connected 198.51.100.1 * ms: hello from 198.51.100.1:8080 got s-1" \
  "$(probe s tcp svc.test.example 8080 s-1)"
like "by name, another port: refused" "refused 198.51.100.1 * ms" "$(probe s tcp svc.test.example 8081 s-8081)"
like "198.51.100.3 is not the name's address yet" "refused 198.51.100.3 * ms" "$(probe s tcp 198.51.100.3 8080 s-3)"
echo "svc.test.example 198.51.100.3" >"$work/dns.txt"
like "the name's address changes: followed" "connected 198.51.100.3 * ms: hello from 198.51.100.3:8080 got s-2" \
  "$(probe s tcp svc.test.example 8080 s-2)"
like "the new address, another port: refused" "refused 198.51.100.3 * ms" "$(probe s tcp 198.51.100.3 8081 s-3-8081)"
bx rm -f s >/dev/null

echo "# --network none"
start z --network none || { finish; exit 1; }
expect "no eth0, only the loopback (and the kernel's sit0)" "lo sit0" "$(bx exec z ls /sys/class/net | tr '\n' ' ' | sed 's/ $//')"
zpid=$(bx inspect z | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["pid"])')
zvmm=$(pgrep -P "$zpid" | head -1)
[ -n "$zvmm" ] && [ "$(readlink /proc/$zvmm/ns/net)" != "$(ip netns exec $N readlink /proc/self/ns/net)" ] &&
  ok "--network none: boxlite-vmm has a network namespace of its own, not the host's" ||
  no "--network none: boxlite-vmm's network namespace" "vmm=[$zvmm] $(readlink /proc/$zvmm/ns/net 2>&1)"
bx rm -f z >/dev/null

expect "invalid rules are refused at create, by name" \
  "boxlite: --allow-net: allow_net: \"bad..name\": empty label in the host name" \
  "$(bx run --rm --engine qemu --allow-net bad..name "$root" true 2>&1)"
finish
