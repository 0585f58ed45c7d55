#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The opencontainers runtime-tools validation suite (validation/<case>/<case>.go, each a TAP
# program that drives a runtime through runc's command line and runs `runtimetest` inside
# the container) against runc, the baseline, and boxlite-runtime. Prints each case's result
# under both, then the cases runc fails too. A check fails when a case that passes under runc
# fails under boxlite-runtime and is not in KNOWN below (with its reason).
#   OCI_VALIDATION=all   every case (make oci-validation); default: CI's fixed subset
#   OCI_VALIDATION_CASES="a b"  those cases only
#   RUNTIME_TOOLS_SRC    the suite's source (default ~/.cache/boxlite/runtime-tools-0105384,
#                        runtime-tools at 0105384, the commit Debian's
#                        golang-github-opencontainers-runtime-tools-dev 0.9.0+git20220423
#                        packages; Debian ships its library without validation/, so the
#                        tree comes from the project's repository). Built offline with its
#                        vendor/ folder and Debian's Go.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
. tests/harness/oci.sh
src=${RUNTIME_TOOLS_SRC:-$HOME/.cache/boxlite/runtime-tools-0105384}
[ -f "$src/validation/util/test.go" ] || skip "no runtime-tools source at $src (Debian's -dev package has no validation/; see this script's header); the behaviours it checks are proven by oci_runtime.sh, oci_process.sh, oci_hooks.sh"
need_cmd go golang-go
need_cmd runc
oci_begin val

# CI's subset (about 4 minutes): lifecycle, state, kill, the process's settings and the
# default environment (runtimetest inside), cgroups, the container's view (masked paths,
# sysctl: 3 cases in 75 s with ns_path_type); the whole suite is make oci-validation.
SUBSET="create default delete_resources hostname kill linux_cgroups_cpus
  linux_cgroups_relative_pids state process_user root_readonly_true
  linux_masked_paths linux_sysctl linux_ns_path_type"
if [ -n "${OCI_VALIDATION_CASES:-}" ]; then
  cases=$OCI_VALIDATION_CASES
elif [ "${OCI_VALIDATION:-}" = all ]; then
  cases=$(cd "$src/validation" && ls -d */ | tr -d / | grep -v '^util$')
else
  cases=$SUBSET
fi

# The cases boxlite-runtime fails where runc passes, each with why (docs/oci-runtime.md).
declare -A KNOWN=(
  [killsig]="each signal (a container each) reaches sh -c before it ran its trap: start returns once the EXEC request is sent (earlier than runc's), but a kill cannot overtake the guest's execve (the signal follows the EXEC on the same connection, and the agent reads its next frame only once the spawn saw execve close its report pipe); busybox sh under TCG takes up to about 0.5 s from execve to its trap (by hand, once each: kill at once, no file; 0.5 s after start, the file) and the case signals right after start; runc passes by its shell's speed, as nothing tells a runtime when a trap is set"
  [linux_ns_path]="joining a host namespace by path (ipc, mnt, pid, uts): the container's namespaces are the guest's; a path's type is checked, only network is joined (docs/oci-runtime.md, \"Confinement in the guest\")"
  [mounts]="three causes: its 8 binds of /etc plus the shared rootfs are 9 virtio-9p shares and microvm has 8 virtio-mmio slots (create now says so); a spec's tmpfs mounts outside /proc, /sys, /dev are not made in the guest (ignored); a bind is a 9p share whose mountinfo root is / where runtimetest wants the source's base name (etc). With 3 tmpfs and 1 bind: 307 ok, exactly those 4 not ok"
)

# ---- build (offline: the tree's vendor/, Go's build cache makes a rebuild quick) --------------
export GOFLAGS=-mod=vendor GO111MODULE=on GOPROXY=off
(cd "$src" && go build -tags "netgo osusergo" -ldflags "-extldflags -static" -o runtimetest ./cmd/runtimetest) \
  >"$work/build.log" 2>&1 || { no "build runtimetest" "$(tail -5 "$work/build.log")"; finish; exit; }
for c in $cases; do
  (cd "$src" && go build -o "validation/$c/$c.t" "./validation/$c/$c.go") >>"$work/build.log" 2>&1 \
    || no "build validation/$c" "$(tail -3 "$work/build.log")"
done

# ---- run: each case under each runtime, through a wrapper naming its state folder --------------
mkdir -p "$work/runc-root"
printf '#!/bin/sh\nexec runc --root %s "$@"\n' "$work/runc-root" >"$work/runc"
printf '#!/bin/sh\nexec %s --root %s "$@"\n' "$R" "$root" >"$work/boxlite"
chmod +x "$work/runc" "$work/boxlite"
# PASS: exit 0, no "not ok"; else FAIL with the failing tests' names. The suite's bundles go
# to TMPDIR (one folder per case), removed after it.
result() { # RUNTIME CASE -> prints "PASS n" or "FAIL n/m: first failures"
  local out=$work/$1-$2.tap t=$work/tmp-$1-$2 rc
  mkdir -p "$t"
  (cd "$src" && TMPDIR=$t RUNTIME=$work/$1 timeout 300 "./validation/$2/$2.t") >"$out" 2>&1
  rc=$?
  rm -rf "$t"
  local okn notok
  okn=$(grep -cE '^ok ' "$out"); notok=$(grep -cE '^not ok ' "$out")
  if [ "$rc" -eq 0 ] && [ "$notok" -eq 0 ] && [ "$okn" -gt 0 ]; then
    echo "PASS $okn"
  else
    echo "FAIL $okn/$((okn + notok)) rc=$rc: $(grep -E '^not ok ' "$out" | head -3 | cut -c1-90 | tr '\n' ';')"
  fi
}
runc_fails=()
for c in $cases; do
  [ -x "$src/validation/$c/$c.t" ] || continue
  base=$(result runc "$c")
  ours=$(result boxlite "$c")
  echo "# case $c: runc ${base%%:*}; boxlite-runtime $ours"
  case $base in PASS*) ;; *) runc_fails+=("$c (${base})") ;; esac
  if [[ $base == PASS* ]]; then
    if [[ $ours == PASS* ]]; then
      ok "validation $c passes (as under runc)"
    elif [ -n "${KNOWN[$c]:-}" ]; then
      echo "# known: $c: ${KNOWN[$c]}"
    else
      no "validation $c passes (as under runc)" "$ours"
    fi
  fi
done
echo "# cases runc also fails here: ${#runc_fails[@]}"
for f in "${runc_fails[@]}"; do echo "#   $f"; done
finish
