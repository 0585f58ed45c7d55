#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The container's network namespace (docs/oci-runtime.md "Network"). Where the spec names
# one (its path) the box's NIC is a tap there, mirrored to the namespace's interface, so
# every port of the container's address, TCP and UDP, reaches the box, as the engine's own
# rules (a published port's DNAT) send it. First with a namespace the test makes (ip netns,
# a veth with 198.51.100.1/.2, MTU 1400) and a bundle that joins it: the box's eth0 has the
# namespace's address, MAC and MTU; busybox httpd in the box answers 198.51.100.2:8080 (1
# MiB intact), a UDP echo answers :5353, the box reaches the test's listener at
# 198.51.100.1 (the veth's other end, in a peer namespace of the test's own: no test
# address is ever on the host); tc in the namespace shows both redirects; after delete the tap is gone.
# The tap's guard (netns.h): from the box (root with CAP_NET_RAW, as a container that
# escaped to the guest's root) netprobe writes raw frames with a forged source MAC, a
# forged IPv4 source and an ARP answer claiming the peer's address; a raw listener in the
# peer's namespace sees none of them, but the genuine frame sent after them.
# Then io.boxlite.network=user (the rootless way: the user-mode network, and the ports of
# io.boxlite.ports carried by proxies): the same server reached through the proxy; the
# annotation without a network namespace, or malformed, fails create. Then Podman 4.3:
# `run -d -p HOST:80 -p HOST:5353/udp` WITHOUT any annotation, reached at 127.0.0.1:HOST
# and at the container's address, `ip addr` in the box shows that address, `podman exec`
# works, and the box reaches a test host in a namespace of the test's own (routed by the
# host, through the CNI bridge's NAT) and the host's listeners exactly as a runc container
# of the same Podman does (the boundary is the CNI's, not ours).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
. tests/harness/oci.sh
oci_begin ports
need "busybox-static (apt-get install busybox-static)" test -x /bin/busybox
need_cmd curl
need_cmd ip iproute2
need_cmd tc iproute2
need_cmd musl-gcc musl-tools
ns=boxlite-ports-$$
pn=boxlite-peer-$$    # the namespace's peer: 198.51.100.1, where curl runs
th=boxlite-th-$$
net18="198.18.$(( $$ % 250 ))"   # the test host's /30, routed by the host
listeners=()
oci_cleanup_more() {
  local p
  for p in "${listeners[@]}"; do kill "$p" 2>/dev/null; done
  ns_down
  ip netns del "$th" 2>/dev/null
  ip link del "bt$$" 2>/dev/null
}
mkdir -p "$work/probe"
musl-gcc -static -O2 -o "$work/probe/netprobe" tests/fixtures/netprobe.c || { no "build netprobe"; finish; exit 1; }

bundle() { # DIR ANNOTATIONS-JSON NAMESPACES-JSON
  mkdir -p "$1/rootfs"
  busybox_rootfs "$1/rootfs"
  cp "$work/probe/netprobe" "$1/rootfs/bin/"
  chmod 1777 "$1/rootfs/tmp"
  python3 - "$1/config.json" "$2" "$3" <<'EOF'
import json, sys
path, ann, nss = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
ann["io.boxlite.memory"] = "256M"
json.dump({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "hostname": "portbox",
           "process": {"terminal": False, "user": {"uid": 0, "gid": 0},
                       "args": ["sleep", "1000"], "env": ["PATH=/bin"], "cwd": "/"},
           "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
           "annotations": ann, "linux": {"namespaces": nss}}, open(path, "w"))
EOF
}

# udp_ask HOST PORT TEXT: the reply of a UDP server, or "no reply" (a file, so that
# oci_reap.py's steps run it too)
cat >"$work/udpask.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
for _ in range(3):  # the first datagram may wait for ARP on the way
    s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
    try:
        print(s.recvfrom(2048)[0].decode()); break
    except socket.timeout:
        pass
else:
    print("no reply")
EOF
udp_ask() { python3 "$work/udpask.py" "$@"; }

# listen NETNS|- ADDR PORT TEXT: a TCP server answering TEXT to every connection
listen() {
  local x=()
  [ "$1" = - ] || x=(ip netns exec "$1")
  "${x[@]}" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
while True:
    c, _ = s.accept(); c.sendall(sys.argv[3].encode() + b"\n"); c.close()' "$2" "$3" "$4" &
  listeners+=($!)
}
# ns_up: the container's namespace $ns (eth0 198.51.100.2/24, MTU 1400) and its peer $pn
# (198.51.100.1) joined by a veth; ns_down deletes the veth first, which is synchronous
# (a namespace's deletion is not: its veth's other end lingers, and an ns_up right after
# failed with "File exists")
ns_up() {
  ip netns add "$ns" && ip netns add "$pn" &&
    ip -n "$pn" link add "bp$$" type veth peer name eth0 netns "$ns" &&
    ip -n "$pn" addr add 198.51.100.1/24 dev "bp$$" && ip -n "$pn" link set "bp$$" mtu 1400 up &&
    ip -n "$ns" addr add 198.51.100.2/24 dev eth0 && ip -n "$ns" link set eth0 mtu 1400 up &&
    ip -n "$ns" link set lo up
}
ns_down() {
  ip -n "$pn" link del "bp$$" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  ip netns del "$pn" 2>/dev/null
}
# sniff.py IFACE OUT: what a raw listener (AF_PACKET, all types) on IFACE in the peer's
# namespace receives from the box, one word a frame it recognizes, until the genuine one
# (frames on one wire arrive in order: a forged one that got through is in OUT before it)
cat >"$work/sniff.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
s.settimeout(120)
out = open(sys.argv[2], "w", buffering=1)
open(sys.argv[2] + ".ready", "w").close()
peer = socket.inet_aton("198.51.100.1")
while True:
    f, a = s.recvfrom(4096)
    if a[2] == socket.PACKET_OUTGOING:
        continue
    if f[12:14] == b"\x08\x06" and f[28:32] == peer:
        out.write("arp-claiming-the-peer\n")
    for w in (b"forged-mac", b"forged-ip", b"genuine"):
        if w in f:
            out.write(w.decode() + "\n")
    if b"genuine" in f:
        break
EOF
# spoof_frames MAC: the frames netprobe sends from the box, as hex words
spoof_frames() {
  python3 - "$1" <<'EOF'
import socket, struct, sys
me, other = bytes.fromhex(sys.argv[1].replace(":", "")), bytes.fromhex("020000000066")
bcast = b"\xff" * 6
def udp(src_mac, src_ip, text):
    payload = struct.pack("!HHHH", 40000, 9, 8 + len(text), 0) + text
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, 17, 0,
                    socket.inet_aton(src_ip), socket.inet_aton("198.51.100.1"))
    c = sum(struct.unpack("!10H", h)); c = (c & 0xffff) + (c >> 16); c = (c & 0xffff) + (c >> 16)
    h = h[:10] + struct.pack("!H", ~c & 0xffff) + h[12:]
    return bcast + src_mac + b"\x08\x00" + h + payload
# "198.51.100.1 is at my MAC": the gateway/neighbour spoof a runc container cannot send
arp = bcast + me + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + me + \
      socket.inet_aton("198.51.100.1") + bcast + socket.inet_aton("198.51.100.1")
print(udp(other, "198.51.100.2", b"forged-mac").hex(), udp(me, "198.51.100.99", b"forged-ip").hex(),
      arp.hex(), udp(me, "198.51.100.2", b"genuine").hex())
EOF
}
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---- refused at create -----------------------------------------------------------------------
bundle "$work/nons" '{"io.boxlite.ports": "8080"}' '[{"type": "pid"}]'
"$R" --root "$root" create --bundle "$work/nons" n1 </dev/null >/dev/null 2>"$work/e"
check "io.boxlite.ports without a network namespace: create fails" test $? -ne 0
has "  ...saying why (it would listen on the host's own ports)" "needs a network namespace" "$work/e"
check "  ...leaving no state" test ! -e "$root/n1"
bundle "$work/bad" '{"io.boxlite.ports": "80,http"}' '[{"type": "network"}]'
"$R" --root "$root" create --bundle "$work/bad" b1 2>"$work/e"
check "a malformed io.boxlite.ports fails create" test $? -ne 0
has "  ...naming the annotation" "annotation io.boxlite.ports" "$work/e"
bundle "$work/badn" '{"io.boxlite.network": "slirp"}' '[{"type": "network"}]'
"$R" --root "$root" create --bundle "$work/badn" b2 2>"$work/e"
check "a malformed io.boxlite.network fails create" test $? -ne 0
has "  ...naming the annotation" "annotation io.boxlite.network" "$work/e"

# ---- a namespace of the test's own, joined by the bundle: the box's NIC is a tap there ------
ns_up || { no "the test's namespaces"; finish; exit; }
nsmac=$(ip netns exec "$ns" cat /sys/class/net/eth0/address)
hp=$(freeport)
listen "$pn" 198.51.100.1 "$hp" from-the-namespace-peer
bundle "$work/b" '{}' "[{\"type\": \"network\", \"path\": \"/run/netns/$ns\"}]"
# conmon's part (tests/fixtures/oci_reap.py): create, start, then the checks while it
# runs (the servers started by an exec, which returns once they listen), then kill
SERVE="mkdir -p /tmp/www && echo hello-from-box > /tmp/www/index.html && dd if=/dev/urandom of=/tmp/www/big bs=64k count=16 2>/dev/null && httpd -p 8080 -h /tmp/www"
python3 tests/fixtures/oci_reap.py "$R" "$root" "$work/b" p1 -- start \
  -- "!\"\$RUNTIME\" --root $root exec \$ID sh -c '$SERVE && netprobe udpecho 5353' >$work/serve.out 2>&1; echo \$? >$work/serve.rc" \
  -- "!\"\$RUNTIME\" --root $root exec \$ID sh -c 'ip -o addr show eth0; ip -o link show eth0; ip route; netprobe tcp 198.51.100.1 $hp' >$work/inbox 2>&1" \
  -- "!ip netns exec $pn curl -sS -m 60 http://198.51.100.2:8080/index.html >$work/c1 2>&1; ip netns exec $pn curl -sS -m 60 -o $work/big http://198.51.100.2:8080/big 2>$work/c2" \
  -- "!ip netns exec $pn python3 $work/udpask.py 198.51.100.2 5353 ping-udp >$work/u1 2>&1" \
  -- "!ip netns exec $pn python3 $work/sniff.py bp$$ $work/sniffed & for i in \$(seq 100); do [ -e $work/sniffed.ready ] && break; sleep 0.2; done; \"\$RUNTIME\" --root $root exec \$ID netprobe frames eth0 $(spoof_frames "$nsmac") >$work/spoof.out 2>&1; wait" \
  -- "!ip netns pids $ns >$work/pids.running; tc -s -n $ns qdisc show dev bl-tap0 ingress >$work/tc.drops; tc -n $ns filter show dev eth0 ingress >$work/tc.eth0; tc -n $ns filter show dev bl-tap0 ingress >$work/tc.tap" \
  -- @kill KILL </dev/null >"$work/p1.out" 2>&1
expect "the container ran until killed" 137 "$?"
expect "an exec started busybox httpd on 8080 and a UDP echo on 5353 in the box" 0 "$(cat "$work/serve.rc" 2>/dev/null)"
has "the box's eth0 has the namespace's address" "inet 198.51.100.2/24" "$work/inbox"
has "  ...its MAC" "link/ether $nsmac" "$work/inbox"
has "  ...its MTU" "mtu 1400" "$work/inbox"
expect "a request to the namespace's 198.51.100.2:8080 reaches the server in the box" hello-from-box "$(cat "$work/c1")"
expect "  ...1 MiB arrives intact (the box wrote it to the shared rootfs)" \
  "$(sha256sum <"$work/b/rootfs/tmp/www/big" 2>&1)" "$(sha256sum <"$work/big" 2>&1)"
expect "  ...all of it" 1048576 "$(stat -c %s "$work/big" 2>&1)"
expect "UDP to 198.51.100.2:5353 reaches the echo server in the box and comes back" "echo: ping-udp" "$(cat "$work/u1")"
has "the box reaches the namespace's peer (198.51.100.1:$hp)" "from-the-namespace-peer" "$work/inbox"
has "tc in the namespace: eth0's frames go to the tap" "Egress Redirect to device bl-tap0" "$work/tc.eth0"
has "  ...and the tap's to eth0" "Egress Redirect to device eth0" "$work/tc.tap"
has "the box can write raw frames (netprobe frames)" "sent 4" "$work/spoof.out"
expect "  ...the peer sees the genuine one only: no forged source MAC, IPv4 source or ARP claiming its address" \
  genuine "$(cat "$work/sniffed" 2>&1)"
check "  ...the tap's guard counted the dropped frames" grep -Eq "dropped [1-9]" "$work/tc.drops"
check "  ...the relay is a process in that namespace (for the engine's hooks)" test -s "$work/pids.running"
"$R" --root "$root" delete p1
expect "after delete nothing is left in the namespace" "" "$(ip netns pids "$ns")"
check "  ...and the tap is gone" sh -c "! ip -n $ns link show bl-tap0 >/dev/null 2>&1"

ns_down

# ---- io.boxlite.network=user: the user-mode network, the annotation's ports by proxy ----------
# namespaces of their own (a redirect left by a helper that delete --force killed would
# otherwise decide this: docs/oci-runtime.md "Network")
ns_up || no "the second test namespaces"
bundle "$work/u" '{"io.boxlite.network": "user", "io.boxlite.ports": "8080"}' "[{\"type\": \"network\", \"path\": \"/run/netns/$ns\"}]"
python3 tests/fixtures/oci_reap.py "$R" "$root" "$work/u" u1 -- start \
  -- "!\"\$RUNTIME\" --root $root exec \$ID sh -c 'mkdir -p /tmp/www && echo hello-from-box > /tmp/www/index.html && httpd -p 8080 -h /tmp/www' >$work/userve.out 2>&1; echo \$? >$work/userve.rc" \
  -- "!\"\$RUNTIME\" --root $root exec \$ID ip -o addr show eth0 >$work/uaddr 2>&1; ip netns exec $pn curl -sS -m 60 http://198.51.100.2:8080/index.html >$work/uc1 2>&1" \
  -- @kill KILL </dev/null >"$work/u1.out" 2>&1
expect "io.boxlite.network=user: the container ran until killed" 137 "$?"
has "  ...the box has its user-mode address" "inet 10.0.2.15/24" "$work/uaddr"
expect "  ...198.51.100.2:8080 reaches its server through the relay's proxy" hello-from-box "$(cat "$work/uc1")"
"$R" --root "$root" delete u1
ns_down

# ---- Podman: -p HOST:80 and -p HOST:5353/udp, no annotation ------------------------------------
oci_image
oci_podman
# a test host behind the host (its own namespace, a /30 the host routes): what a
# container reaches through the CNI bridge's NAT
ip netns add "$th" && ip link add "bt$$" type veth peer name eth0 netns "$th" &&
  ip addr add "$net18.1/30" dev "bt$$" && ip link set "bt$$" up &&
  ip -n "$th" addr add "$net18.2/30" dev eth0 && ip -n "$th" link set eth0 up &&
  ip -n "$th" route add default via "$net18.1" || no "the test host's namespace"
listen "$th" "$net18.2" 8081 from-the-test-host
lp=$(freeport)
listen - 0.0.0.0 "$lp" from-the-host
hp=$(freeport)
hu=$(freeport)
id=$($P run -d -p "$hp:80" -p "$hu:5353/udp" -v "$work/probe:/probe:ro" "$img" sleep 1000 2>"$work/run.err")
check "podman run -d -p $hp:80 -p $hu:5353/udp (no annotation)" test -n "$id"
$P exec "$id" sh -c "${SERVE//8080/80} && /probe/netprobe udpecho 5353" >"$work/pserve.out" 2>&1
expect "podman exec starts busybox httpd on 80 and a UDP echo on 5353 in the box" 0 "$?"
expect "podman -p: 127.0.0.1:$hp reaches the server in the box" hello-from-box "$(curl -sS -m 60 "http://127.0.0.1:$hp/index.html" 2>&1)"
cip=$($P inspect -f '{{.NetworkSettings.IPAddress}}' "$id" 2>/dev/null)
expect "  ...and so does the container's address $cip:80" hello-from-box "$(curl -sS -m 60 "http://$cip:80/index.html" 2>&1)"
expect "podman -p $hu:5353/udp: the UDP echo in the box answers at the container's address" "echo: ping-udp" "$(udp_ask "$cip" 5353 ping-udp)"
hostip=$(ip -4 -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
expect "  ...and at the host's $hostip:$hu (Podman's UDP DNAT)" "echo: ping-udp" "$(udp_ask "$hostip" "$hu" ping-udp2 | sed 's/ping-udp2/ping-udp/')"
$P exec "$id" ip -o addr show eth0 >"$work/paddr" 2>&1
has "the box's ip addr shows the container's address" "inet $cip/" "$work/paddr"
# what the box reaches, beside what a runc container of the same Podman reaches
targets="$net18.2:8081 10.88.0.1:$lp 127.0.0.1:$lp"
reach() { # RUN-PREFIX...: one line per target, "TARGET connected|refused|timeout|error"
  local t
  for t in $targets; do
    # through sh: the runtime looks a command up in the rootfs, where /probe (a volume) is not
    "$@" sh -c "/probe/netprobe tcp ${t%:*} ${t#*:}" >"$work/probe.out" 2>&1
    cat "$work/probe.out" >>"$work/reach.log"
    echo "$t $(awk '{print $1}' "$work/probe.out")"
  done
}
reach $P exec "$id" >"$work/reach.box"
has "the box reaches the test host at $net18.2:8081 (outbound through the CNI bridge)" "$net18.2:8081 connected" "$work/reach.box"
# runc's baseline: its rlimits are refused here (docs: the sandbox withholds
# CAP_SYS_RESOURCE), so a wrapper drops process.rlimits from the bundle first
cat >"$work/runc-wrap" <<'EOS'
#!/bin/sh
# drops process.rlimits from what runc is given: the bundle's config.json, an exec's process
prev=
for a in "$@"; do
  case $prev in
    --bundle) f=$a/config.json; k=process ;;
    --process) f=$a; k= ;;
    *) f= ;;
  esac
  [ -n "$f" ] && python3 -c 'import json,sys; f,k=sys.argv[1:]; c=json.load(open(f)); (c[k] if k else c).pop("rlimits",None); json.dump(c,open(f,"w"))' "$f" "$k"
  prev=$a
done
exec runc "$@"
EOS
chmod +x "$work/runc-wrap"
PR="${P/--runtime $work\/runtime/--runtime $work/runc-wrap}"
if command -v runc >/dev/null &&
   rid=$($PR run -d -v "$work/probe:/probe:ro" "$img" sleep 1000 2>"$work/runc.err") && [ -n "$rid" ]; then
  reach $PR exec "$rid" >"$work/reach.runc"
  expect "the box reaches what a runc container of the same Podman reaches ($targets)" \
    "$(cat "$work/reach.runc")" "$(cat "$work/reach.box")"
  $PR rm -f -t 0 "$rid" >/dev/null 2>&1
else
  no "a runc container in Podman (the baseline)" "$(tail -c 600 "$work/runc.err" 2>/dev/null)"
fi
$P rm -f -t 2 "$id" >/dev/null 2>&1
expect "nothing of the boxes is left after rm" 0 "$(oci_boxes)"
finish
