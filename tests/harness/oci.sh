# SPDX-License-Identifier: Apache-2.0
# The preamble the OCI runtime's e2e scripts share (tests/e2e/oci_*.sh), sourced after
# lib.sh from the repository's top.
#   oci_begin NAME   R (boxlite-runtime), B (boxlite), REAP (tests/fixtures/oci_reap.py);
#                    needs the runtime, a cached guest kernel and QEMU; makes work (a temp
#                    folder /var/tmp/oci-NAME.*) and root ($work/rt, the runtime's --root);
#                    traps EXIT to oci_cleanup
#   oci_cleanup      deletes the containers left under $root, removes Podman's (when P is
#                    set), runs the script's own oci_cleanup_more (when it defines one: its
#                    daemons, namespaces), stops the registry, unmounts what is left mounted
#                    under $work, removes $work
#   oci_boxes [HOME] how many boxes the runtime's home ($root/home) holds
#   oci_image        busybox (tests/fixtures/mkimages.py) pushed to a registry of the test's
#                    own on 127.0.0.1: sets port and img
#   oci_containerd TOP TABLES  a containerd of the test's own (root, state, sockets and
#                    config in $work; TOP: top-level keys, TABLES: [sections] of its
#                    config.toml, version 2), started and ready: sets cpid, or ends the script
#   oci_containerd_stop  stops it (for a script's oci_cleanup_more)
#   oci_podman [FLAGS...]  Podman 4.3 with the runtime (a wrapper passing --root $root),
#                    its storage under $work, FLAGS added (--hooks-dir D): sets P and pulls
#                    $img

oci_begin() {
  build=${BOXLITE_BUILD:-build}
  R="$PWD/$build/bin/boxlite-runtime"
  B="$PWD/$build/bin/boxlite"
  REAP="$PWD/tests/fixtures/oci_reap.py"
  need "$R (make)" test -x "$R"
  need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
  need_cmd qemu-system-x86_64 qemu-system-x86
  work=$(mktemp -d "/var/tmp/oci-$1.XXXXXX")
  root=$work/rt
  trap oci_cleanup EXIT
}

oci_cleanup() {
  local d
  for d in "$root"/*/; do
    [ -f "$d/state.json" ] && "$R" --root "$root" delete --force "$(basename "$d")" >/dev/null 2>&1
  done
  if [ -n "${P:-}" ]; then
    $P rm -af >/dev/null 2>&1
    $P rmi -af >/dev/null 2>&1
  fi
  if declare -F oci_cleanup_more >/dev/null; then oci_cleanup_more; fi
  tests/fixtures/registry.sh stop "$work/reg" >/dev/null 2>&1
  # whatever an engine left mounted under the test's folder (netns, shm)
  findmnt -rn -o TARGET | grep "^$work/" | sort -r | xargs -r umount -l 2>/dev/null
  rm -rf "$work"
}

oci_boxes() {
  BOXLITE_HOME=${1:-$root/home} "$B" ps -a --json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}

oci_image() {
  need_cmd docker-registry
  python3 tests/fixtures/mkimages.py "$work/fx" busybox >/dev/null
  port=$(tests/fixtures/registry.sh start "$work/reg" $$) || { no "registry started"; finish; exit; }
  tests/fixtures/registry.sh push "$work/reg" "$work/fx/busybox" busybox:latest
  img=127.0.0.1:$port/busybox:latest
}

oci_containerd() {
  cat >"$work/config.toml" <<EOC
version = 2
root = "$work/root"
state = "$work/state"
$1
[grpc]
  address = "$work/containerd.sock"
[ttrpc]
  address = "$work/containerd.sock.ttrpc"
[debug]
  address = "$work/debug.sock"
$2
EOC
  cpid=$(python3 tests/fixtures/daemon_ready.py "$work/containerd.log" 120 -- containerd \
    --config "$work/config.toml") || { no "containerd started" "$(tail -c 1500 "$work/containerd.log")"; finish; exit; }
}

oci_containerd_stop() {
  [ -n "${cpid:-}" ] || return 0
  kill "$cpid" 2>/dev/null
  tail --pid="$cpid" -f /dev/null
}

oci_podman() {
  need_cmd podman
  need_cmd conmon
  # the runtime with this test's state folder (podman passes no --root of its own)
  cat >"$work/runtime" <<EOS
#!/bin/sh
exec "$R" --root "$root" "\$@"
EOS
  chmod +x "$work/runtime"
  P="podman --root $work/storage --runroot $work/runroot --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --runtime $work/runtime${*:+ $*}"
  $P pull --tls-verify=false "$img" >/dev/null 2>"$work/pull.err" || no "podman pull from the local registry" "$(cat "$work/pull.err")"
}
