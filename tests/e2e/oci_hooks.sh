#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# config.json's hooks in boxlite-runtime (runtime-spec runtime.md "Lifecycle", config.md
# "POSIX-platform Hooks"), end to end on the QEMU engine: prestart, createRuntime and
# createContainer at create (state "creating", pid the relay's), startContainer in the
# guest before the process, poststart after start, poststop after delete (state
# "stopped"); a failing or timed-out create hook fails create and leaves nothing, a failing
# startContainer fails start, a failing poststart is only a warning; the network namespace
# the hooks see (a new one, or the path asked for; never the host's). Then through Podman's
# --hooks-dir. The hook runner alone: tests/unit/oci/test_hooks.c.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
. tests/harness/oci.sh
oci_begin hooks
need "busybox-static (apt-get install busybox-static)" test -x /bin/busybox
oci_cleanup_more() {
  if [ -n "${nsname:-}" ]; then ip netns del "$nsname" 2>/dev/null; fi
}
boxes() { oci_boxes; }

# The host hook: one JSON line per call in LOG, {"stage": STAGE, "state": <its stdin>}.
cat >"$work/hook" <<'EOF'
#!/bin/sh
state=$(tr -d '\n')
printf '{"stage":"%s","state":%s}\n' "$1" "$state" >>"$2"
EOF
chmod +x "$work/hook"
# What LOG says, one line per hook: "STAGE STATUS ID PID"
calls() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    j = json.loads(l); s = j["state"]
    print(j["stage"], s["status"], s["id"], s["pid"])' "$1" 2>/dev/null; }

# A busybox bundle with hooks: DIR ARGS-JSON HOOKS-JSON
bundle() {
  mkdir -p "$1/rootfs/bin" "$1/rootfs/tmp"
  cp /bin/busybox "$1/rootfs/bin/busybox"
  for x in sh echo cat sleep; do ln -sf busybox "$1/rootfs/bin/$x"; done
  python3 - "$1/config.json" "$2" "$3" "${4:-null}" <<'EOF'
import json, sys
path, args, hooks = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
linux = json.loads(sys.argv[4])
json.dump({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
           "process": {"user": {"uid": 0, "gid": 0}, "args": args, "env": ["PATH=/bin"],
                       "cwd": "/"},
           "annotations": {"io.boxlite.memory": "256M"}, "hooks": hooks, "linux": linux},
          open(path, "w"))
EOF
}
host_hook() { # STAGE LOG [EXTRA JSON FIELDS]
  printf '{"path": "%s", "args": ["hook", "%s", "%s"]%s}' "$work/hook" "$1" "$2" "${3:-}"
}

"$R" features | python3 -c '
import json, sys
f = json.load(sys.stdin)
assert f["hooks"] == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"], f["hooks"]
assert "network" in f["linux"]["namespaces"], f["linux"]' 2>"$work/feat.err" \
  && ok "features lists the six hook stages and the network namespace" || no "features lists the six hook stages and the network namespace" "$(cat "$work/feat.err")"

# ---- every stage, where and when it runs --------------------------------------------------
L=$work/h1.log
bundle "$work/h1" '["sh", "-c", "echo process-ran; cat /tmp/sc.state"]' "{
  \"prestart\": [$(host_hook prestart "$L")],
  \"createRuntime\": [$(host_hook createRuntime "$L")],
  \"createContainer\": [$(host_hook createContainer "$L")],
  \"startContainer\": [{\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"cat > /tmp/sc.state; echo guest-hook > /tmp/sc.mark\"], \"timeout\": 60}],
  \"poststart\": [$(host_hook poststart "$L")],
  \"poststop\": [$(host_hook poststop "$L")]}"
python3 "$REAP" "$R" "$root" "$work/h1" h1 \
  -- "!cp $L $work/h1.after-create" \
  -- start >"$work/h1.out" 2>"$work/h1.err"
expect "a container with hooks runs" 0 "$?"
relay=$(cat "$root/../h1.pid")
expect "create ran prestart, createRuntime, createContainer in order, state creating, pid the relay's" \
  "prestart creating h1 $relay
createRuntime creating h1 $relay
createContainer creating h1 $relay" "$(calls "$work/h1.after-create")"
expect "startContainer ran in the guest (its path is the container's) before the process" \
  "guest-hook" "$(cat "$work/h1/rootfs/tmp/sc.mark" 2>/dev/null)"
expect "  ...the process saw the hook's work" "process-ran" "$(head -1 "$work/h1.out")"
python3 -c 'import json,sys; s=json.loads(sys.stdin.read()); assert s["status"]=="created" and s["id"]=="h1", s' \
  <"$work/h1/rootfs/tmp/sc.state" 2>/dev/null && ok "  ...with the state (status created) on its stdin" \
  || no "  ...with the state (status created) on its stdin" "$(cat "$work/h1/rootfs/tmp/sc.state")"
expect "poststart ran after start, state running" "poststart running h1 $relay" "$(calls "$L" | sed -n 4p)"
"$R" --root "$root" delete h1; expect "delete" 0 "$?"
expect "poststop ran at delete, state stopped (pid 0)" "poststop stopped h1 0" "$(calls "$L" | sed -n 5p)"
expect "  ...each hook once" 5 "$(calls "$L" | wc -l)"

# ---- a failing create hook fails create, leaves nothing, and runs poststop -----------------
L=$work/h2.log
bundle "$work/h2" '["sh"]' "{
  \"createRuntime\": [$(host_hook createRuntime "$L"), {\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"echo no-network-for-you >&2; exit 3\"]}],
  \"createContainer\": [$(host_hook createContainer "$L")],
  \"poststop\": [$(host_hook poststop "$L")]}"
"$R" --root "$root" create --bundle "$work/h2" h2 2>"$work/h2.err"; rc=$?
expect "a failing createRuntime hook fails create" 1 "$rc"
has "  ...naming the hook" "createRuntime hook #1 (/bin/sh): exit status 3" "$work/h2.err"
has "  ...with its output" "no-network-for-you" "$work/h2.err"
check "  ...leaving no state" test ! -e "$root/h2"
expect "  ...nor a box" 0 "$(boxes)"
expect "  ...the hooks after it did not run; poststop did" "createRuntime creating
poststop stopped" "$(calls "$L" | cut -d' ' -f1,2)"

# ---- a new network namespace: prestart and createRuntime run before the box boots ----------
# (Docker's libnetwork-setkey moves the veth in then; docs/oci-runtime.md "Hooks"); a failure
# there fails create all the same
L=$work/h2n.log
bundle "$work/h2n" '["sh"]' "{
  \"createRuntime\": [$(host_hook createRuntime "$L"), {\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"BOXLITE_HOME=$root/home $B ps -a --json >$work/h2n.boxes; exit 3\"]}],
  \"poststop\": [$(host_hook poststop "$L")]}" '{"namespaces": [{"type": "network"}]}'
"$R" --root "$root" create --bundle "$work/h2n" h2n 2>"$work/h2n.err"; rc=$?
expect "a new network namespace: createRuntime runs before the box exists" 0 \
  "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <"$work/h2n.boxes" 2>&1)"
expect "  ...its failure fails create" 1 "$rc"
has "  ...naming the hook" "createRuntime hook #1 (/bin/sh): exit status 3" "$work/h2n.err"
check "  ...leaving no state" test ! -e "$root/h2n"
expect "  ...nor a box" 0 "$(boxes)"
expect "  ...poststop ran" "createRuntime creating
poststop stopped" "$(calls "$L" | cut -d' ' -f1,2)"

# ---- a hook past its timeout is killed and fails create ------------------------------------
bundle "$work/h3" '["sh"]' '{"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "exec sleep 600"], "timeout": 1}]}'
"$R" --root "$root" create --bundle "$work/h3" h3 2>"$work/h3.err"; rc=$?
expect "a prestart hook past its timeout fails create" 1 "$rc"
has "  ...saying so" "prestart hook #0 (/bin/sh): ran past its timeout of 1 s" "$work/h3.err"
check "  ...leaving no state" test ! -e "$root/h3"

# ---- a failing startContainer hook fails start; a failing poststart is a warning -----------
bundle "$work/h4" '["sh", "-c", "echo must-not-run > /tmp/ran"]' \
  '{"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo guest-says-no; exit 4"]}]}'
python3 "$REAP" "$R" "$root" "$work/h4" h4 \
  -- "!\"\$RUNTIME\" --root $root start \$ID 2>$work/h4.err; echo \$? >$work/h4.rc" >/dev/null 2>&1
expect "a failing startContainer hook fails start" 1 "$(cat "$work/h4.rc")"
has "  ...naming it, with its output" "startContainer hook #0 (/bin/sh): exit status 4, output: guest-says-no" "$work/h4.err"
check "  ...the process never ran" test ! -e "$work/h4/rootfs/tmp/ran"
expect "  ...the container is stopped" stopped "$("$R" --root "$root" state h4 | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
"$R" --root "$root" delete h4
bundle "$work/h5" '["sh", "-c", "echo ran"]' '{"poststart": [{"path": "/bin/false"}]}'
python3 "$REAP" "$R" "$root" "$work/h5" h5 \
  -- "!\"\$RUNTIME\" --root $root start \$ID 2>$work/h5.err; echo \$? >$work/h5.rc" >"$work/h5.out" 2>/dev/null
expect "a failing poststart hook does not fail start" 0 "$(cat "$work/h5.rc")"
has "  ...it is a warning" "warning: poststart hook #0 (/bin/false): exit status 1" "$work/h5.err"
expect "  ...and the process ran" ran "$(cat "$work/h5.out")"
"$R" --root "$root" delete h5
expect "nothing left of the boxes" 0 "$(boxes)"

# ---- the network namespace the hooks see: /proc/<pid>/ns/net, never the host's -------------
# (Docker's libnetwork-setkey and CNI configure the namespace of the state's pid)
cat >"$work/nshook" <<'EOF'
#!/bin/sh
pid=$(tr -d '\n ' | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
readlink "/proc/$pid/ns/net" >"$1"
EOF
chmod +x "$work/nshook"
bundle "$work/h6" '["sh", "-c", "echo ran"]' "{\"createRuntime\": [{\"path\": \"$work/nshook\", \"args\": [\"h\", \"$work/h6.ns\"]}]}" \
  '{"namespaces": [{"type": "pid"}, {"type": "network"}]}'
python3 "$REAP" "$R" "$root" "$work/h6" h6 -- start >"$work/h6.out" 2>&1
expect "a new network namespace asked for: the container runs" ran "$(cat "$work/h6.out")"
case "$(cat "$work/h6.ns" 2>/dev/null)" in
  "net:["*) [ "$(cat "$work/h6.ns")" != "$(readlink /proc/self/ns/net)" ] && ok "  ...its hooks see a new one, not the host's" || no "  ...its hooks see a new one, not the host's" "$(cat "$work/h6.ns")";;
  *) no "  ...its hooks see a new one, not the host's" "$(cat "$work/h6.ns" 2>&1)";;
esac
"$R" --root "$root" delete h6
nsname=boxlite-hooks-$$
if ip netns add "$nsname" 2>"$work/netns.err"; then
  bundle "$work/h7" '["sh", "-c", "echo ran"]' "{\"createRuntime\": [{\"path\": \"$work/nshook\", \"args\": [\"h\", \"$work/h7.ns\"]}]}" \
    "{\"namespaces\": [{\"type\": \"network\", \"path\": \"/run/netns/$nsname\"}]}"
  python3 "$REAP" "$R" "$root" "$work/h7" h7 -- start >"$work/h7.out" 2>&1
  expect "a network namespace path: the container runs" ran "$(cat "$work/h7.out")"
  expect "  ...its hooks see that namespace" "net:[$(stat -L -c %i "/run/netns/$nsname")]" "$(cat "$work/h7.ns" 2>&1)"
  "$R" --root "$root" delete h7
  ip netns del "$nsname"
else
  no "ip netns add (the test's own namespace)" "$(cat "$work/netns.err")"
fi
bundle "$work/h8" '["sh"]' '{}' '{"namespaces": [{"type": "network", "path": "/nonexistent/netns"}]}'
"$R" --root "$root" create --bundle "$work/h8" h8 2>"$work/h8.err"
expect "a network namespace path that is not there fails create" 1 "$?"
has "  ...naming it" "network namespace /nonexistent/netns" "$work/h8.err"
expect "nothing left of the boxes" 0 "$(boxes)"

# ---- Podman --hooks-dir --------------------------------------------------------------------
need_cmd podman
need_cmd conmon
oci_image
mkdir -p "$work/hooks.d"
L=$work/podman.log
# Podman's own hook format (oci-hooks(5), version 1.0.0): injected into config.json
for stage in prestart createRuntime poststart; do
  cat >"$work/hooks.d/$stage.json" <<EOF
{"version": "1.0.0", "hook": {"path": "$work/hook", "args": ["hook", "$stage", "$L"]},
 "when": {"always": true}, "stages": ["$stage"]}
EOF
done
oci_podman --hooks-dir "$work/hooks.d"
expect "podman --hooks-dir run --rm" "hi" "$($P run --rm --name hooked "$img" echo hi 2>"$work/e")"
[ -s "$work/e" ] && cat "$work/e"
expect "  ...its hooks ran, each once, with the container's state" "prestart creating
createRuntime creating
poststart running" "$(calls "$L" | cut -d' ' -f1,2)"
cid=$(calls "$L" | head -1 | cut -d' ' -f3)
check "  ...the state names podman's container (a 64-hex id)" test "${#cid}" -eq 64
expect "nothing left of the boxes" 0 "$(boxes)"
finish
