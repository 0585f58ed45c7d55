#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# boxlite-runtime behind Kubernetes' CRI: a containerd of the test's own with its CRI plugin
# on (temp root, state, socket; no CNI: the pod uses the node's network), a runtime handler
# "boxlite" (io.containerd.runc.v2 with BinaryName = boxlite-runtime, as docs/kubernetes.md
# configures it), driven by a small CRI client over gRPC (tests/fixtures/cri.py, messages
# from tests/fixtures/cri/api.proto): PullImage, RunPodSandbox, CreateContainer,
# StartContainer, ExecSync (output, exit code, the guest's /proc/version), ContainerStatus,
# StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox. The containers of a pod
# share the sandbox's box (oci/pod.c): two of them talk over localhost, each in its own
# root; a second pod gets a box of its own that holds none of the first's roots. Then
# nothing left: no box, no VMM, no mount, no runtime state.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
. tests/harness/oci.sh
oci_begin cri
need_cmd containerd
need "python3-grpcio and python3-grpc-tools" /usr/bin/python3 -c 'import grpc, grpc_tools'
oci_cleanup_more() {
  if [ -n "${cpid:-}" ]; then
    for c in ${ctrs:-}; do cri stop "$c" >/dev/null 2>&1; cri rm "$c" >/dev/null 2>&1; done
    for p in ${pods:-}; do cri stopp "$p" >/dev/null 2>&1; cri rmp "$p" >/dev/null 2>&1; done
    oci_containerd_stop
  fi
}
net0=$(host_net_state)

oci_image
python3 tests/fixtures/mkimages.py "$work/fx" pause >/dev/null
tests/fixtures/registry.sh push "$work/reg" "$work/fx/pause" pause:latest
pause=127.0.0.1:$port/pause:latest

# The CRI plugin on, its streaming server on a free loopback port (exec/attach/port-forward
# URLs; ExecSync does not use it) so that tests running at once never clash.
cri_config=$(cat <<EOC
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    # a node's usual default beside the handler (the test runs none of its pods)
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.boxlite]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.boxlite.options]
        BinaryName = "$R"
        Root = "$work/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$work/cni/bin"
    conf_dir = "$work/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."127.0.0.1:$port"]
    endpoint = ["http://127.0.0.1:$port"]
EOC
)
oci_containerd "" "$cri_config"
ok "containerd started with its CRI plugin (its own root, state and socket)"
export CRI_GEN=$work/cri-gen CRI_LOGS=$work/logs
cri() { /usr/bin/python3 tests/fixtures/cri.py "$work/containerd.sock" "$@"; }
boxes() { oci_boxes "$work/runc/k8s.io/home"; }
vmms() { pgrep -f -- "$work/runc" | grep -vx "$$" | wc -l; }

cri wait 60 2>"$work/e" && ok "the CRI service answers" ||
  no "the CRI service answers" "$(cat "$work/e"; grep -i "cri" "$work/containerd.log" | grep -v "level=info" | tail -5)"
expect "CRI Version: containerd, API v1" "containerd v1" "$(cri version 2>&1)"
for i in "$img" "$pause"; do
  r=$(cri pull "$i" 2>&1)
  case "$r" in sha256:*) ok "CRI PullImage $i: $r";; *) no "CRI PullImage $i" "$r";; esac
done

pod=$(cri runp boxlite p1 2>"$work/e"); pods=$pod
check "RunPodSandbox with runtime_handler boxlite" test -n "$pod"
[ -s "$work/e" ] && cat "$work/e"
expect "  ...the sandbox is ready, under the handler" "SANDBOX_READY boxlite" "$(cri statusp "$pod" 2>&1)"

c1=$(cri create "$pod" p1 "$img" app -- sleep 1000 2>"$work/e"); ctrs=$c1
check "CreateContainer" test -n "$c1"
[ -s "$work/e" ] && cat "$work/e"
check "StartContainer" cri start "$c1"
st=$(cri status "$c1" 2>&1)
expect "  ...the container runs" "CONTAINER_RUNNING 0" "$st"
[ "$st" = "CONTAINER_RUNNING 0" ] || cat "$work/logs/p1/app.log"
expect "ExecSync: output" "in-pod" "$(cri exec "$c1" -- sh -c 'echo in-pod' 2>&1)"
cri exec "$c1" -- sh -c 'echo to-err >&2; exit 3' >/dev/null 2>"$work/e"; expect "ExecSync: exit code" 3 "$?"
has "ExecSync: stderr" "to-err" "$work/e"
v=$(cri exec "$c1" -- cat /proc/version 2>&1)
case "$v" in "Linux version 6.1."*boxlite@*) [ "$v" != "$(cat /proc/version)" ] && ok "ExecSync: /proc/version is the guest kernel's" || no "ExecSync: /proc/version is the guest kernel's" "$v";;
  *) no "ExecSync: /proc/version is the guest kernel's" "$v";; esac

# A second container of the pod serves on localhost; the first reaches it there: one box
# for the pod (the sandbox's), each container in its own root.
# Its own mounts (part h): a hostPath volume it serves from (also read-only elsewhere), a
# read-only root filesystem, and CRI's /etc/hosts, resolv.conf and hostname file binds.
mkdir -p "$work/hostpath"
c2=$(cri create "$pod" p1 "$img" server -v "$work/hostpath:/www" -v "$work/hostpath:/ro:ro" --ro-root \
  -- sh -c 'echo from-the-server >/www/index.html && exec httpd -f -p 8080 -h /www' 2>"$work/e")
ctrs="$c1 $c2"
check "CreateContainer: a second container of the pod" test -n "$c2"
[ -s "$work/e" ] && cat "$work/e"
check "StartContainer: the second" cri start "$c2"
expect "the pod's containers share one box (the sandbox's)" 1 "$(boxes)"
expect "two containers of one pod talk over localhost" "from-the-server" \
  "$(cri exec "$c1" -- sh -c 'for i in $(seq 100); do wget -qO- http://127.0.0.1:8080/ 2>/dev/null && exit; sleep 0.2; done; echo unreachable' 2>&1)"
expect "  ...each in its own root: the server's files are not the first's" "no" \
  "$(cri exec "$c1" -- sh -c 'test -e /www && echo yes || echo no' 2>&1)"
expect "  ...nor the pod's folder" "no" "$(cri exec "$c1" -- sh -c 'test -e /.boxlite-pod && echo yes || echo no' 2>&1)"
expect "  ...ExecSync into the second sees its files" "from-the-server" "$(cri exec "$c2" -- cat /www/index.html 2>&1)"
expect "a later container's hostPath volume: what it wrote is on the host" "from-the-server" \
  "$(cat "$work/hostpath/index.html" 2>&1)"
echo from-the-host >"$work/hostpath/host.txt"
expect "  ...and the host's file is in the container" "from-the-host" "$(cri exec "$c2" -- cat /www/host.txt 2>&1)"
# (part j) the later container's binds are idmapped over the box's whole id range, as the
# jail's are: a chown there reaches the host, which a one-id map refused
expect "  ...a chown in it to 1234:1234 works" "1234:1234" \
  "$(cri exec "$c2" -- sh -c 'touch /www/own && chown 1234:1234 /www/own; stat -c %u:%g /www/own' 2>&1)"
expect "  ...and the host's file is 1234:1234" "1234:1234" "$(stat -c %u:%g "$work/hostpath/own" 2>&1)"
cri exec "$c2" -- touch /ro/no >/dev/null 2>"$work/e"
check "  ...the same folder bound read-only refuses a write" sh -c "grep -qi read-only '$work/e' && ! test -e '$work/hostpath/no'"
cri exec "$c2" -- touch /in-root >/dev/null 2>"$work/e"
has "its read-only root filesystem refuses a write" "Read-only file system" "$work/e"
expect "  ...while the pod's first container writes its own root" "ok" \
  "$(cri exec "$c1" -- sh -c 'touch /in-root && echo ok' 2>&1)"
sbdir=$work/root/io.containerd.grpc.v1.cri/sandboxes/$pod
echo "10.9.8.7 cri-hosts-mark" >>"$sbdir/hosts"
expect "its /etc/hosts is the one CRI wrote (a line added on the host shows)" "10.9.8.7 cri-hosts-mark" \
  "$(cri exec "$c2" -- grep cri-hosts-mark /etc/hosts 2>&1)"
expect "  ...and so are resolv.conf and hostname" "$(cat "$sbdir/resolv.conf"; cat "$sbdir/hostname")" \
  "$(cri exec "$c2" -- cat /etc/resolv.conf /etc/hostname 2>&1)"
expect "the binds are in the box's mount namespace only, not the host's" "" \
  "$(findmnt -rn -o TARGET | grep -F /.boxlite-pod)"

# A second pod: a box of its own, and neither box holds the other pod's rootfs (what each
# sandbox, the pod's root in its box, sees in the pod's folder).
pod2=$(cri runp boxlite p2 2>"$work/e"); pods="$pod $pod2"
c3=$(cri create "$pod2" p2 "$img" other -- sleep 1000 2>>"$work/e"); ctrs="$ctrs $c3"
check "a second pod and its container" cri start "$c3"
[ -s "$work/e" ] && cat "$work/e"
expect "  ...two pods, two boxes" 2 "$(boxes)"
RT="$R --root $work/runc/k8s.io"
expect "  ...the first pod's box holds its own containers' roots only" \
  "$(printf '%s\n' "$c1" "$c2" | sort)" "$($RT exec "$pod" ls /.boxlite-pod 2>&1 | sort)"
expect "  ...the second's, its own" "$c3" "$($RT exec "$pod2" ls /.boxlite-pod 2>&1)"
$RT pause "$c3" >/dev/null 2>"$work/e"; rc=$?
[ $rc -ne 0 ] && grep -q "pause the sandbox" "$work/e" && ok "  ...pause of a pod's container is refused, naming the sandbox (its processes are in the pod's VM)" \
  || no "  ...pause of a pod's container is refused, naming the sandbox" "status $rc: $(cat "$work/e")"
expect "  ...and it runs on" "running" "$($RT state "$c3" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
pod_down() { cri stop "$1" 2 && cri rm "$1" && cri stopp "$2" && cri rmp "$2"; }
check "  ...StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox" pod_down "$c3" "$pod2"
expect "  ...the first pod's box alone is left" 1 "$(boxes)"

# Its relay SIGKILLed (part h): what the container left in other sessions dies with it (its
# process group in the guest), and the pod lives on.
cri exec "$c2" -- sh -c 'setsid sleep 777 </dev/null >/dev/null 2>&1 &' >/dev/null 2>&1
# (how many, counted in the pod by the first container, up to $1 times until none: one exec)
left() { cri exec "$c1" -- sh -c 'for i in $(seq $1); do n=0; for p in /proc/[0-9]*; do
  case "$(tr "\0" " " <$p/cmdline 2>/dev/null)" in "sleep 777 ") n=$((n+1));; esac; done
  [ $n = 0 ] && break; sleep 0.2; done; echo $n' sh "$1" 2>&1; }
expect "a process the server left in a session of its own runs in the pod" 1 "$(left 1)"
rpid=$($RT state "$c2" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
kill -9 "$rpid"
expect "  ...its relay SIGKILLed: that process is gone too" 0 "$(left 100)"
expect "  ...and so is the server" "none" "$(cri exec "$c1" -- sh -c 'pidof httpd || echo none' 2>&1)"
expect "  ...the pod's box runs on" "in-pod" "$(cri exec "$c1" -- sh -c 'echo in-pod' 2>&1)"
check "StopContainer: the server" cri stop "$c2" 2
check "RemoveContainer: the server" cri rm "$c2"
expect "  ...its processes are gone from the pod (one PID namespace)" "none" \
  "$(cri exec "$c1" -- sh -c 'pidof httpd || echo none' 2>&1)"
expect "  ...the pod's box runs on" "in-pod" "$(cri exec "$c1" -- sh -c 'echo in-pod' 2>&1)"

check "StopContainer (timeout 2 s)" cri stop "$c1" 2
st=$(cri status "$c1" 2>&1)
case "$st" in CONTAINER_EXITED*) ok "  ...the container exited";; *) no "  ...the container exited" "$st";; esac
check "RemoveContainer" cri rm "$c1"
check "StopPodSandbox" cri stopp "$pod"
check "RemovePodSandbox" cri rmp "$pod"
expect "nothing left: no box" 0 "$(boxes)"
expect "  ...no VMM or relay process" 0 "$(vmms)"
expect "  ...no runtime state" "home" "$(ls "$work/runc/k8s.io" 2>&1)"
expect "  ...no mount under the test's folder" "" "$(findmnt -rn -o TARGET | grep "^$work/")"
expect "the host's own network is as it was" "$net0" "$(host_net_state)"
finish
