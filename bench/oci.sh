#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `podman run --rm IMG true` with boxlite-runtime (a micro-VM per container, the QEMU engine:
# TCG on machines without vmx/svm) against crun, in the same run, same image and storage.
# Where crun cannot start containers on this host (cgroup v1 hybrid, rlimits the sandbox
# withholds: /work/shared/docs/environment.md), runc stands in for it, behind a wrapper that
# drops process.rlimits from the bundle (CAP_SYS_RESOURCE is withheld here); the figure's
# name says which one ran. BENCH_RUNS runs each (default 5); the median is printed.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BOXLITE_BUILD:-build}
runs=${BENCH_RUNS:-5}
R="$PWD/$build/bin/boxlite-runtime"
for c in podman conmon docker-registry qemu-system-x86_64; do
  command -v $c >/dev/null || { echo "oci: skipped ($c not installed)"; exit 0; }
done
[ -x "$R" ] || { echo "oci: skipped (no $R: run make)"; exit 0; }
scripts/build-kernel.sh --cached-only >/dev/null 2>&1 || { echo "oci: skipped (no cached kernel)"; exit 0; }

work=$(mktemp -d /var/tmp/oci-bench.XXXXXX)
P="podman --root $work/storage --runroot $work/runroot --storage-driver vfs --cgroup-manager cgroupfs --events-backend file"
trap '$P rm -af >/dev/null 2>&1; tests/fixtures/registry.sh stop "$work/reg" >/dev/null 2>&1; rm -rf "$work"' EXIT
python3 tests/fixtures/mkimages.py "$work/fx" busybox >/dev/null
port=$(tests/fixtures/registry.sh start "$work/reg" $$) || { echo "oci: registry failed"; exit 1; }
tests/fixtures/registry.sh push "$work/reg" "$work/fx/busybox" busybox:latest
img=127.0.0.1:$port/busybox:latest
$P pull --tls-verify=false "$img" >/dev/null 2>&1 || { echo "oci: pull failed"; exit 1; }

printf '#!/bin/sh\nexec "%s" --root "%s" "$@"\n' "$R" "$work/rt" >"$work/boxlite-runtime"
cat >"$work/runc-norlimits" <<'EOF'
#!/usr/bin/env python3
import json, os, sys
a = sys.argv[1:]
if "create" in a or "run" in a:
    b = a[a.index("--bundle") + 1] if "--bundle" in a else "."
    p = os.path.join(b, "config.json")
    c = json.load(open(p))
    c.get("process", {}).pop("rlimits", None)
    json.dump(c, open(p, "w"))
os.execvp("runc", ["runc"] + a)
EOF
chmod +x "$work/boxlite-runtime" "$work/runc-norlimits"

# median of RUNS timed runs of `podman run --rm IMG true` with runtime $1; "" if one failed
median() {
  local t=() i s e
  for i in $(seq "$runs"); do
    s=$(date +%s.%N)
    $P --runtime "$1" run --rm "$img" true >/dev/null 2>"$work/err" || return 1
    e=$(date +%s.%N)
    t+=("$(echo "$e - $s" | bc)")
  done
  printf '%s\n' "${t[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p"
}
base=crun
m_base=$(median "$(command -v crun)") || {
  echo "   crun cannot run containers here: $(head -c 200 "$work/err" | tr '\n' ' ')"
  base=runc-norlimits
  m_base=$(median "$work/runc-norlimits") || { echo "   runc failed too: $(head -c 200 "$work/err")"; m_base=""; }
}
m_box=$(median "$work/boxlite-runtime") || { echo "oci: boxlite-runtime failed: $(head -c 300 "$work/err")"; exit 1; }
echo "podman run --rm true, boxlite-runtime (median of $runs): $m_box s"
[ -n "$m_base" ] && echo "podman run --rm true, $base (median of $runs): $m_base s"
exit 0
