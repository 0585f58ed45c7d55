#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Published ports (docs/oci-runtime.md "Published ports"): a server in the box is reached
# through the container's network namespace, where engines send a published port's
# traffic, for the ports of the io.boxlite.ports annotation. First with a namespace the
# test makes (ip netns, a veth with 198.51.100.1/.2) and a bundle that joins it: a
# request to 198.51.100.2:8080 from the host reaches busybox httpd in the box, 1 MiB
# arrives intact, nothing is left in the namespace after delete; the annotation without a
# network namespace, or malformed, fails create. Then Podman 4.3: `run -d -p HOST:80
# --annotation io.boxlite.ports=80`, the server reached at 127.0.0.1:HOST (Podman's DNAT).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
. tests/harness/oci.sh
oci_begin ports
need "busybox-static (apt-get install busybox-static)" test -x /bin/busybox
need_cmd curl
need_cmd ip iproute2
ns=boxlite-ports-$$
oci_cleanup_more() {
  ip netns del "$ns" 2>/dev/null
  ip link del "bp$$" 2>/dev/null
}

bundle() { # DIR ANNOTATION-PORTS NAMESPACES-JSON
  mkdir -p "$1/rootfs"
  busybox_rootfs "$1/rootfs"
  chmod 1777 "$1/rootfs/tmp"
  python3 - "$1/config.json" "$2" "$3" <<'EOF'
import json, sys
path, ports, nss = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
json.dump({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "hostname": "portbox",
           "process": {"terminal": False, "user": {"uid": 0, "gid": 0},
                       "args": ["sleep", "1000"], "env": ["PATH=/bin"], "cwd": "/"},
           "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
           "annotations": {"io.boxlite.memory": "256M", "io.boxlite.ports": ports},
           "linux": {"namespaces": nss}}, open(path, "w"))
EOF
}

# ---- refused at create -----------------------------------------------------------------------
bundle "$work/nons" 8080 '[{"type": "pid"}]'
"$R" --root "$root" create --bundle "$work/nons" n1 </dev/null >/dev/null 2>"$work/e"
check "io.boxlite.ports without a network namespace: create fails" test $? -ne 0
has "  ...saying why (it would listen on the host's own ports)" "needs a network namespace" "$work/e"
check "  ...leaving no state" test ! -e "$root/n1"
bundle "$work/bad" "80,http" '[{"type": "network"}]'
"$R" --root "$root" create --bundle "$work/bad" b1 2>"$work/e"
check "a malformed io.boxlite.ports fails create" test $? -ne 0
has "  ...naming the annotation" "annotation io.boxlite.ports" "$work/e"

# ---- a namespace of the test's own, joined by the bundle -------------------------------------
ip netns add "$ns" || { no "ip netns add"; finish; exit; }
ip link add "bp$$" type veth peer name eth0 netns "$ns"
ip addr add 198.51.100.1/24 dev "bp$$"
ip link set "bp$$" up
ip -n "$ns" addr add 198.51.100.2/24 dev eth0
ip -n "$ns" link set eth0 up
ip -n "$ns" link set lo up
bundle "$work/b" 8080 "[{\"type\": \"network\", \"path\": \"/run/netns/$ns\"}]"
# conmon's part (tests/fixtures/oci_reap.py): create, start, then the checks while it
# runs (the server started by an exec, which returns once busybox httpd listens), then kill
SERVE="mkdir -p /tmp/www && echo hello-from-box > /tmp/www/index.html && dd if=/dev/urandom of=/tmp/www/big bs=64k count=16 2>/dev/null && httpd -p 8080 -h /tmp/www"
python3 tests/fixtures/oci_reap.py "$R" "$root" "$work/b" p1 -- start \
  -- "!\"\$RUNTIME\" --root $root exec \$ID sh -c '$SERVE' >$work/serve.out 2>&1; echo \$? >$work/serve.rc" \
  -- "!curl -sS -m 60 http://198.51.100.2:8080/index.html >$work/c1 2>&1; curl -sS -m 60 -o $work/big http://198.51.100.2:8080/big 2>$work/c2; ip netns pids $ns >$work/pids.running" \
  -- @kill KILL </dev/null >"$work/p1.out" 2>&1
expect "the container ran until killed" 137 "$?"
expect "an exec started busybox httpd on port 8080 in the box" 0 "$(cat "$work/serve.rc" 2>/dev/null)"
expect "a request to the namespace's 198.51.100.2:8080 reaches the server in the box" hello-from-box "$(cat "$work/c1")"
expect "  ...1 MiB arrives intact (the box wrote it to the shared rootfs)" \
  "$(sha256sum <"$work/b/rootfs/tmp/www/big" 2>&1)" "$(sha256sum <"$work/big" 2>&1)"
expect "  ...all of it" 1048576 "$(stat -c %s "$work/big" 2>&1)"
check "  ...carried by the relay's proxy, a process in that namespace" test -s "$work/pids.running"
"$R" --root "$root" delete p1
expect "after delete nothing is left in the namespace" "" "$(ip netns pids "$ns")"
ip netns del "$ns"

# ---- Podman: -p HOST:80 ------------------------------------------------------------------------
oci_image
oci_podman
hp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
id=$($P run -d -p "$hp:80" --annotation io.boxlite.ports=80 "$img" sleep 1000 2>"$work/run.err")
check "podman run -d -p $hp:80 --annotation io.boxlite.ports=80" test -n "$id"
$P exec "$id" sh -c "${SERVE//8080/80}" >"$work/pserve.out" 2>&1
expect "podman exec starts busybox httpd on port 80 in the box" 0 "$?"
expect "podman -p: 127.0.0.1:$hp reaches the server in the box" hello-from-box "$(curl -sS -m 60 "http://127.0.0.1:$hp/index.html" 2>&1)"
cip=$($P inspect -f '{{.NetworkSettings.IPAddress}}' "$id" 2>/dev/null)
expect "  ...and so does the container's address $cip:80" hello-from-box "$(curl -sS -m 60 "http://$cip:80/index.html" 2>&1)"
$P rm -f -t 2 "$id" >/dev/null 2>&1
expect "nothing of the boxes is left after rm" 0 "$(oci_boxes)"
finish
