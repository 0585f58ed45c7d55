#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# boxlite-runtime applies config.json's process settings in the guest (runtime-spec
# config.md "POSIX process"), proven from inside the container's process: /proc/self/status
# (CapBnd/CapEff/CapPrm/CapInh/CapAmb, NoNewPrivs, Uid, Gid, Groups), `ulimit`, the umask
# of a file it makes, /proc/self/oom_score_adj. First with hand-written bundles (a non-root
# user with one capability in all five sets; root with Podman's default set; a bad rlimit
# name refused at create), then through Podman 4.3: `run --cap-drop ALL --cap-add
# NET_BIND_SERVICE --ulimit nofile=512:1024 --user 1000:1000 --security-opt
# no-new-privileges`, the default root set with --oom-score-adj, and `exec` (process.json).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
. tests/harness/oci.sh
oci_begin proc
need "busybox-static (apt-get install busybox-static)" test -x /bin/busybox

# What the process reports about itself, one "key value" per line.
PROBE='grep -E "^(Cap|NoNewPrivs|Uid|Gid|Groups)" /proc/self/status | tr -s "\t " "  "; echo nofile $(ulimit -Sn) $(ulimit -Hn); touch /tmp/um.$$; echo mode $(stat -c %a /tmp/um.$$); rm -f /tmp/um.$$; echo oom $(cat /proc/self/oom_score_adj)'
# Podman's default capabilities for root (CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID
# SETUID SETPCAP NET_BIND_SERVICE SYS_CHROOT SETFCAP): bits 0 1 3 4 5 6 7 8 10 18 31
DEFAULT_CAPS=00000000800405fb
NBS=0000000000000400 # CAP_NET_BIND_SERVICE, bit 10

# A bundle as `runc spec` lays it out, with PROCESS (JSON) merged into its process object.
bundle() { # DIR PROCESS-JSON
  mkdir -p "$1/rootfs/bin" "$1/rootfs/tmp"
  chmod 1777 "$1/rootfs/tmp"
  cp /bin/busybox "$1/rootfs/bin/busybox"
  for x in sh grep tr cat touch stat rm echo; do ln -sf busybox "$1/rootfs/bin/$x"; done
  python3 - "$1/config.json" "$2" "$PROBE" <<'EOF'
import json, sys
path, extra, probe = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
proc = {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", probe],
        "env": ["PATH=/bin"], "cwd": "/tmp"}
proc.update(extra)
json.dump({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "hostname": "procbox",
           "process": proc,
           "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
           "annotations": {"io.boxlite.memory": "256M"}}, open(path, "w"))
EOF
}
line() { grep -m1 "^$1 " "$2" | cut -d' ' -f2-; }

# ---- a bad rlimit name is refused at create, before any box boots -------------------------
bundle "$work/bad" '{"rlimits": [{"type": "RLIMIT_NOFLIE", "soft": 1, "hard": 1}]}'
"$R" --root "$root" create --bundle "$work/bad" bad1 2>"$work/e"; rc=$?
expect "create with rlimit type RLIMIT_NOFLIE fails" 1 "$rc"
has "  ...naming the field and the value" 'process.rlimits[0].type "RLIMIT_NOFLIE" is not a resource limit' "$work/e"
check "  ...leaving no state" test ! -e "$root/bad1"
bundle "$work/bad2" '{"rlimits": [{"type": "RLIMIT_CORE", "soft": 9, "hard": 1}]}'
"$R" --root "$root" create --bundle "$work/bad2" bad2 2>"$work/e"
has "create with soft above hard fails, saying so" "soft limit 9 above the hard limit 1" "$work/e"

# ---- a non-root user with one capability in all five sets, limits, groups, umask, oom ------
bundle "$work/u" '{"user": {"uid": 1000, "gid": 1000, "umask": 23, "additionalGids": [1000, 2000]},
  "capabilities": {"bounding": ["CAP_NET_BIND_SERVICE"], "effective": ["CAP_NET_BIND_SERVICE"],
    "permitted": ["CAP_NET_BIND_SERVICE"], "inheritable": ["CAP_NET_BIND_SERVICE"],
    "ambient": ["CAP_NET_BIND_SERVICE"]},
  "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
              {"type": "RLIMIT_NPROC", "soft": 18446744073709551615, "hard": 18446744073709551615}],
  "noNewPrivileges": true, "oomScoreAdj": 300}'
python3 "$REAP" "$R" "$root" "$work/u" u1 -- start </dev/null >"$work/u.out" 2>"$work/u.err"
expect "direct: the process ran" 0 "$?"
for s in CapBnd CapEff CapPrm CapInh CapAmb; do
  expect "direct, uid 1000: $s is CAP_NET_BIND_SERVICE alone" "$NBS" "$(line "$s:" "$work/u.out")"
done
expect "direct: NoNewPrivs" 1 "$(line NoNewPrivs: "$work/u.out")"
expect "direct: uid 1000" "1000 1000 1000 1000" "$(line Uid: "$work/u.out")"
expect "direct: gid 1000" "1000 1000 1000 1000" "$(line Gid: "$work/u.out")"
expect "direct: supplementary groups are additionalGids" "1000 2000" "$(line Groups: "$work/u.out" | sed 's/ *$//')"
expect "direct: RLIMIT_NOFILE soft and hard" "512 1024" "$(line nofile "$work/u.out")"
expect "direct: umask 027 (a new file is 640)" 640 "$(line mode "$work/u.out")"
expect "direct: oomScoreAdj" 300 "$(line oom "$work/u.out")"
"$R" --root "$root" delete u1

# ---- root with Podman's default set: the kernel gives root its bounding set on exec --------
bundle "$work/r" '{"capabilities": {"bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"],
  "effective": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"],
  "permitted": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"]},
  "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576}],
  "user": {"uid": 0, "gid": 0, "umask": 18, "additionalGids": [0]}}'
python3 "$REAP" "$R" "$root" "$work/r" r1 -- start </dev/null >"$work/r.out" 2>"$work/r.err"
expect "direct, root: the process ran" 0 "$?"
for s in CapBnd CapEff CapPrm; do
  expect "direct, root: $s is the config's eleven" "$DEFAULT_CAPS" "$(line "$s:" "$work/r.out")"
done
expect "direct, root: CapInh empty" 0000000000000000 "$(line CapInh: "$work/r.out")"
expect "direct, root: CapAmb empty" 0000000000000000 "$(line CapAmb: "$work/r.out")"
expect "direct, root: NoNewPrivs 0 (not asked)" 0 "$(line NoNewPrivs: "$work/r.out")"
expect "direct, root: RLIMIT_NOFILE raised past the host's hard limit (in the guest)" "1048576 1048576" "$(line nofile "$work/r.out")"
"$R" --root "$root" delete r1

# ---- pause and resume: the box's memory pause refuses a container's box (9p root, open
# execution), so pause fails saying why and the container runs on ------------------------------
"$R" --root "$root" pause nosuch 2>"$work/e"; check "pause of an unknown container fails" test $? -ne 0
has "  ...\"does not exist\"" "does not exist" "$work/e"
bundle "$work/pz" '{"args": ["sh", "-c", "read x; echo after $x"]}'
mkfifo "$work/pz.in"
exec 3<>"$work/pz.in"
python3 "$REAP" "$R" "$root" "$work/pz" pz -- start \
  -- "!\"\$RUNTIME\" --root $root pause \$ID 2>$work/pause.err; echo \$? >$work/pause.rc; \"\$RUNTIME\" --root $root resume \$ID 2>$work/resume.err; echo \$? >$work/resume.rc; \"\$RUNTIME\" --root $root state \$ID >$work/pz.state; echo go >$work/pz.in" \
  <&3 >"$work/pz.out" 2>&1
exec 3>&-
expect "pause of a running container fails (the box cannot be paused)" 1 "$(cat "$work/pause.rc")"
has "  ...saying why" "cannot be paused" "$work/pause.err"
has "  ...and that it runs on" "the container runs on" "$work/pause.err"
expect "resume of a container that is not paused fails" 1 "$(cat "$work/resume.rc")"
has "  ...\"container not paused\"" "container not paused" "$work/resume.err"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["status"] == "running"' "$work/pz.state" \
  && ok "  ...the container is still running" || no "  ...the container is still running" "$(cat "$work/pz.state")"
expect "  ...and its process goes on" "after go" "$(cat "$work/pz.out")"
"$R" --root "$root" delete pz

# ---- Podman ---------------------------------------------------------------------------------
oci_image
oci_podman

$P run --rm --cap-drop ALL --cap-add NET_BIND_SERVICE --ulimit nofile=512:1024 --user 1000:1000 \
  --security-opt no-new-privileges "$img" sh -c "$PROBE" >"$work/p.out" 2>"$work/p.err"
expect "podman run --cap-drop ALL --cap-add NET_BIND_SERVICE --ulimit --user --security-opt no-new-privileges" 0 "$?"
for s in CapBnd CapEff CapPrm CapInh CapAmb; do
  expect "podman, uid 1000: $s is CAP_NET_BIND_SERVICE alone" "$NBS" "$(line "$s:" "$work/p.out")"
done
expect "podman: NoNewPrivs" 1 "$(line NoNewPrivs: "$work/p.out")"
expect "podman: --user 1000:1000" "1000 1000 1000 1000" "$(line Uid: "$work/p.out")"
expect "podman: --ulimit nofile=512:1024" "512 1024" "$(line nofile "$work/p.out")"
expect "podman: umask 022 (Podman's; a new file is 644)" 644 "$(line mode "$work/p.out")"

$P run --rm --oom-score-adj 300 "$img" sh -c "$PROBE" >"$work/d.out" 2>"$work/d.err"
expect "podman run as root with the default capabilities" 0 "$?"
expect "podman, root: CapEff is Podman's default set" "$DEFAULT_CAPS" "$(line CapEff: "$work/d.out")"
expect "podman, root: CapBnd is Podman's default set" "$DEFAULT_CAPS" "$(line CapBnd: "$work/d.out")"
expect "podman: --oom-score-adj 300" 300 "$(line oom "$work/d.out")"

# exec: Podman hands the exec's process.json (its capabilities, user) to `exec --process`
id=$($P run -d --cap-drop ALL --cap-add KILL --user 1000:1000 "$img" sleep 1000 2>/dev/null)
$P exec "$id" sh -c "$PROBE" >"$work/x.out" 2>"$work/x.err"
expect "podman exec in a --cap-drop ALL --cap-add KILL container" 0 "$?"
expect "  ...its CapEff is CAP_KILL alone (bit 5)" 0000000000000020 "$(line CapEff: "$work/x.out")"
expect "  ...its CapBnd too" 0000000000000020 "$(line CapBnd: "$work/x.out")"
expect "  ...as uid 1000" "1000 1000 1000 1000" "$(line Uid: "$work/x.out")"
$P rm -f "$id" >/dev/null 2>&1
finish
