#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# boxlite-runtime behind Kubernetes' CRI: a containerd of the test's own with its CRI plugin
# on (temp root, state, socket; no CNI: the pod uses the node's network), a runtime handler
# "boxlite" (io.containerd.runc.v2 with BinaryName = boxlite-runtime, as docs/kubernetes.md
# configures it), driven by a small CRI client over gRPC (tests/fixtures/cri.py, messages
# from tests/fixtures/cri/api.proto): PullImage, RunPodSandbox, CreateContainer,
# StartContainer, ExecSync (output, exit code, the guest's /proc/version), ContainerStatus,
# StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox, then nothing left: no
# box, no VMM, no mount, no runtime state.
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
    kill "$cpid" 2>/dev/null
    tail --pid="$cpid" -f /dev/null
  fi
}
net0=$(host_net_state)

oci_image
python3 tests/fixtures/mkimages.py "$work/fx" pause >/dev/null
tests/fixtures/registry.sh push "$work/reg" "$work/fx/pause" pause:latest
pause=127.0.0.1:$port/pause:latest

# The CRI plugin on, its streaming server on a free loopback port (exec/attach/port-forward
# URLs; ExecSync does not use it) so that tests running at once never clash.
cat >"$work/config.toml" <<EOC
version = 2
root = "$work/root"
state = "$work/state"
[grpc]
  address = "$work/containerd.sock"
[ttrpc]
  address = "$work/containerd.sock.ttrpc"
[debug]
  address = "$work/debug.sock"
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
cpid=$(python3 tests/fixtures/daemon_ready.py "$work/containerd.log" 120 -- containerd \
  --config "$work/config.toml") || { no "containerd started" "$(tail -c 1500 "$work/containerd.log")"; finish; exit; }
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
expect "  ...the container runs" "CONTAINER_RUNNING 0" "$(cri status "$c1" 2>&1)"
expect "ExecSync: output" "in-pod" "$(cri exec "$c1" -- sh -c 'echo in-pod' 2>&1)"
cri exec "$c1" -- sh -c 'echo to-err >&2; exit 3' >/dev/null 2>"$work/e"; expect "ExecSync: exit code" 3 "$?"
has "ExecSync: stderr" "to-err" "$work/e"
v=$(cri exec "$c1" -- cat /proc/version 2>&1)
case "$v" in "Linux version 6.1."*boxlite@*) [ "$v" != "$(cat /proc/version)" ] && ok "ExecSync: /proc/version is the guest kernel's" || no "ExecSync: /proc/version is the guest kernel's" "$v";;
  *) no "ExecSync: /proc/version is the guest kernel's" "$v";; esac

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
