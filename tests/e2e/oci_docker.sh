#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# boxlite-runtime under Docker: a dockerd of the test's own (its socket, data-root and
# exec-root in a temp folder, vfs) in a network namespace of the test's own (the whole
# script runs there: its default bridge, NAT rules and docker-proxy never touch the host's
# namespace), the runtime added with
# --add-runtime, driven by Debian's docker client: run --rm (output, exit codes 42 / 137 /
# 127 with runc's message), -i, -it through a real pty (size and exit status), -d + exec
# (-i, -it), stop (SIGTERM, 143), kill (SIGKILL, 137), rm, rm -f of a running container,
# the guest's kernel in /proc/version, Docker's default seccomp profile, masked and read-only
# paths in the guest; `run -d -p 8080:80 -p 5353:5353/udp` (the box's NIC is the
# container's veth, moved in by the libnetwork-setkey prestart hook before the box boots):
# busybox httpd in the box reached at 127.0.0.1:8080 and the container's address, a UDP
# echo answering at both, the box's eth0 with the container's address and MAC, tc's
# redirect in the container's namespace; `--network none` keeps the user-mode network;
# nothing left of the boxes (processes, veth) afterwards. Docker
# drives the runtime through containerd's runc shim (io.containerd.runc.v2, BinaryName).
set -uo pipefail
cd "$(dirname "$0")/../.."
# Into the test's own network namespace (nsenter, not ip netns exec: that one hides the
# cgroup mounts dockerd needs behind a fresh /sys); the host's
# namespace is only read, through the first process's (host_state)
if [ -z "${OCI_DOCKER_HOST_PID:-}" ]; then
  dns=boxlite-docker-$$
  ip netns add "$dns" || { echo "ip netns add $dns failed"; exit 1; }
  ip -n "$dns" link set lo up
  OCI_DOCKER_HOST_PID=$$ nsenter --net="/run/netns/$dns" bash "$0" "$@"
  rc=$?
  ip netns del "$dns"
  exit $rc
fi
. tests/harness/lib.sh
. tests/harness/oci.sh
oci_begin docker
need_cmd dockerd docker.io
need_cmd containerd
need_cmd docker-registry
need_cmd curl
need_cmd nsenter util-linux
need_cmd musl-gcc musl-tools
# Debian's client, the daemon's version (another docker earlier in PATH may be newer)
DOCKER=/usr/bin/docker
need "docker (apt-get install docker.io)" test -x "$DOCKER"
exe=$work/exec
oci_cleanup_more() {
  [ -n "${lpid:-}" ] && kill "$lpid" 2>/dev/null
  [ -n "${out:-}" ] && ip netns del "$out" 2>/dev/null
  if [ -n "${dpid:-}" ]; then
    $D rm -f $($D ps -aq 2>/dev/null) >/dev/null 2>&1
    kill "$dpid" 2>/dev/null
    # dockerd stops its containerd and shims before it exits
    tail --pid="$dpid" -f /dev/null
  fi
}
host_state() { nsenter --net="/proc/$OCI_DOCKER_HOST_PID/ns/net" bash -c "$(declare -f host_net_state); host_net_state"; }
net0=$(host_state)

oci_image

# dockerd's own containerd passes --root $exe/runtime-runc/moby: the boxes live under it
dpid=$(python3 tests/fixtures/daemon_ready.py "$work/dockerd.log" 120 -- dockerd \
  --data-root "$work/data" --exec-root "$exe" --pidfile "$work/dockerd.pid" \
  -H "unix://$work/docker.sock" --ip6tables=false \
  --storage-driver vfs --exec-opt native.cgroupdriver=cgroupfs \
  --add-runtime boxlite="$R") || { no "dockerd started" "$(tail -c 1500 "$work/dockerd.log")"; finish; exit; }
ok "dockerd started (its own socket, data-root and exec-root)"
D="$DOCKER -H unix://$work/docker.sock"
boxes() { oci_boxes "$exe/runtime-runc/moby/home"; }

$D info --format '{{json .Runtimes}}' >"$work/rt.json" 2>&1
has "docker info lists the runtime" '"boxlite"' "$work/rt.json"
$D pull -q "$img" >/dev/null 2>"$work/pull.err" || no "docker pull from the local registry" "$(cat "$work/pull.err")"
DR="$D run --runtime boxlite"

expect "docker run --rm IMG echo hi" "hi" "$($DR --rm "$img" echo hi 2>"$work/e")"
[ -s "$work/e" ] && cat "$work/e"
$DR --rm "$img" sh -c 'exit 42' 2>/dev/null; expect "docker: exit status 42" 42 "$?"
$DR --rm "$img" sh -c 'kill -9 $$' 2>/dev/null; expect "docker: killed by SIGKILL, 137" 137 "$?"
$DR --rm "$img" nosuchprog 2>"$work/e"; expect "docker: a missing program, 127" 127 "$?"
has "  ...docker says why (runc's text)" 'exec: "nosuchprog": executable file not found in $PATH' "$work/e"
expect "docker run -i: stdin reaches the process" "got piped" "$(echo piped | $DR --rm -i "$img" sh -c 'read x; echo got $x' 2>/dev/null)"
v=$($DR --rm "$img" cat /proc/version 2>/dev/null)
case "$v" in "Linux version 6.1."*boxlite@*) [ "$v" != "$(cat /proc/version)" ] && ok "docker: /proc/version is the guest kernel" || no "docker: /proc/version is the guest kernel" "$v";;
  *) no "docker: /proc/version is the guest kernel" "$v";; esac

# A command at a real terminal of 33x111: it must see a pty of that size and exit 7.
pty_run() { tests/fixtures/pty_run.py "$@" sh -c 'tty; stty size; exit 7'; }
# docker run -it: the runtime's create gets --console-socket from containerd's shim, which
# reads create's output to its end (the relay must not keep it open)
pty_run $DR -it --rm "$img" >"$work/it.log" 2>&1 && ok "docker run -it: terminal size and exit status" || no "docker run -it: terminal size and exit status" "$(tail -c 600 "$work/it.log")"

# a long-running container: exec, stop, kill, rm
id=$($DR -d "$img" sleep 1000 2>"$work/e")
expect "docker run -d: running" running "$($D inspect -f '{{.State.Status}}' "$id" 2>/dev/null)"
expect "docker exec: output" "in-exec" "$($D exec "$id" sh -c 'echo in-exec' 2>/dev/null)"
# the container's confinement in the guest: Docker's default seccomp profile (the exec runs
# under the container's filter), its masked and read-only paths
expect "docker: Docker's default seccomp profile applied" "Seccomp: 2" "$($D exec "$id" sh -c 'grep "^Seccomp:" /proc/self/status | tr -s "\t " "  "' 2>/dev/null)"
expect "  ...its maskedPaths: an empty tmpfs on /sys/firmware" 1 "$($D exec "$id" grep -c " /sys/firmware " /proc/self/mountinfo 2>/dev/null)"
$D exec "$id" sh -c 'echo x >/proc/sys/kernel/domainname' 2>"$work/e"
has "  ...its readonlyPaths: /proc/sys refuses a write" "Read-only file system" "$work/e"
$D exec "$id" sh -c 'exit 3' 2>/dev/null; expect "docker exec: exit status" 3 "$?"
expect "docker exec -i: stdin" "got x" "$(echo x | $D exec -i "$id" sh -c 'read v; echo got $v' 2>/dev/null)"
pty_run $D exec -it "$id" >"$work/eit.log" 2>&1 && ok "docker exec -it: terminal size and exit status" || no "docker exec -it: terminal size and exit status" "$(tail -c 600 "$work/eit.log")"
$D stop -t 2 "$id" >/dev/null 2>&1; expect "docker stop -t 2" 0 "$?"
expect "  ...the process ended by SIGTERM (143)" 143 "$($D inspect -f '{{.State.ExitCode}}' "$id" 2>/dev/null)"
$D rm "$id" >/dev/null; expect "docker rm" 0 "$?"
id=$($DR -d "$img" sleep 1000 2>/dev/null)
$D kill "$id" >/dev/null 2>&1; expect "docker kill" 0 "$?"
expect "  ...exit status 137" 137 "$($D wait "$id" 2>/dev/null)"
$D rm "$id" >/dev/null
id=$($DR -d "$img" sleep 1000 2>/dev/null)
$D rm -f "$id" >/dev/null 2>&1; expect "docker rm -f of a running container" 0 "$?"

# -p: the container's veth is the box's NIC (docs/oci-runtime.md "Network")
mkdir -p "$work/probe"
musl-gcc -static -O2 -o "$work/probe/netprobe" tests/fixtures/netprobe.c || no "build netprobe"
# "outside": a listener in a namespace of the test's own behind the test's namespace (a
# veth 198.18.77.1 - .2; 198.18.0.0/15: the user-mode network's policy allows it, and it
# is not an address of the caller's namespace, which that policy denies as the host's)
out=boxlite-dout-$$
ip netns add "$out" && ip link add bl-out type veth peer name eth0 netns "$out" &&
  ip addr add 198.18.77.1/30 dev bl-out && ip link set bl-out up &&
  ip -n "$out" addr add 198.18.77.2/30 dev eth0 && ip -n "$out" link set eth0 up ||
  no "the test's outside namespace"
ip netns exec "$out" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.77.2", 8081)); s.listen(16)
while True:
    c, _ = s.accept(); c.sendall(b"from-outside\n"); c.close()' &
lpid=$!
id=$($DR -d -p 8080:80 -p 5353:5353/udp -v "$work/probe:/probe:ro" "$img" sleep 1000 2>"$work/e")
check "docker run -d -p 8080:80 -p 5353:5353/udp" test -n "$id"
$D exec "$id" sh -c 'mkdir -p /tmp/www && echo hello-from-box >/tmp/www/index.html &&
  httpd -p 80 -h /tmp/www && /probe/netprobe udpecho 5353' >"$work/serve.out" 2>&1
expect "docker exec starts busybox httpd on 80 and a UDP echo on 5353 in the box" 0 "$?"
expect "docker -p 8080:80: 127.0.0.1:8080 reaches the server in the box" hello-from-box "$(curl -sS -m 30 http://127.0.0.1:8080/index.html 2>&1)"
cip=$($D inspect -f '{{.NetworkSettings.IPAddress}}' "$id" 2>/dev/null)
expect "  ...and so does the container's address $cip:80" hello-from-box "$(curl -sS -m 30 "http://$cip:80/index.html" 2>&1)"
udp() { "$work/probe/netprobe" udp "$1" 5353 ping-udp || "$work/probe/netprobe" udp "$1" 5353 ping-udp; }
expect "docker -p 5353:5353/udp: the UDP echo in the box answers at 127.0.0.1:5353" "reply: echo: ping-udp" "$(udp 127.0.0.1)"
expect "  ...and at the container's address" "reply: echo: ping-udp" "$(udp "$cip")"
$D exec "$id" sh -c 'ip -o addr show eth0; ip -o link show eth0' >"$work/addr" 2>&1
has "the box's eth0 has the container's address" "inet $cip/" "$work/addr"
has "  ...and its MAC" "link/ether $($D inspect -f '{{.NetworkSettings.MacAddress}}' "$id" 2>/dev/null) " "$work/addr"
$D exec "$id" /probe/netprobe tcp 198.18.77.2 8081 >"$work/out" 2>&1
has "the box reaches outside through Docker's bridge and NAT" "from-outside" "$work/out"
rpid=$($D inspect -f '{{.State.Pid}}' "$id" 2>/dev/null)
nsenter -t "$rpid" -n tc filter show dev eth0 ingress >"$work/tc" 2>&1
has "the container's namespace redirects eth0 to the box's tap (tc)" "Egress Redirect to device bl-tap0" "$work/tc"
kids() { local p; for p in $(pgrep -P "$1"); do echo "$p"; kids "$p"; done; }
pids="$rpid $(kids "$rpid")"
$D rm -f "$id" >/dev/null 2>&1; expect "docker rm -f of the -p container" 0 "$?"
expect "  ...none of its box's processes is left (the relay and its descendants)" "" "$(for p in $pids; do kill -0 "$p" 2>/dev/null && ps -o pid=,args= -p "$p"; done)"
expect "  ...nor its veth on the bridge" "" "$(ip -o link show master docker0 2>&1)"
# a namespace with loopback only (ctr run's, --network none): the user-mode network, booted
# from the caller's namespace, so it reaches out
$DR --rm --network none -v "$work/probe:/probe:ro" "$img" sh -c \
  'ip -o -4 addr show eth0; /probe/netprobe tcp 198.18.77.2 8081' >"$work/none" 2>&1
has "docker run --network none: the box keeps its user-mode network" "inet 10.0.2.15/24" "$work/none"
has "  ...which reaches outside (from the caller's namespace)" "from-outside" "$work/none"
expect "nothing left of the containers" "" "$($D ps -aq)"
expect "  ...nor of the boxes" 0 "$(boxes)"
expect "  ...nor of the runtime's state" "home" "$(ls "$exe/runtime-runc/moby" 2>&1)"
expect "the host's own network is as it was (IPv6 switches, loopback addresses, default routes)" "$net0" "$(host_state)"
finish
