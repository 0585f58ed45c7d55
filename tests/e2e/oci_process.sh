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
# linux.seccomp (compiled on the host, installed by the agent): a profile denying mkdir in
# both install orders, Podman's default profile, seccomp=unconfined and a profile file;
# maskedPaths, readonlyPaths, sysctl and devices, by hand and Podman's defaults.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
. tests/harness/oci.sh
oci_begin proc
need "busybox-static (apt-get install busybox-static)" test -x /bin/busybox

# What the process reports about itself, one "key value" per line.
# The container's view: bytes read of /proc/uptime (0 when masked), a masked folder's
# entries, a mount on /sys/firmware (Podman masks it), kernel.domainname, whether /proc/sys
# takes a write, a device node's numbers.
VIEW='; echo uptime $(head -c 4 /proc/uptime 2>/dev/null | wc -c); echo fwmask $(grep -c " /sys/firmware " /proc/self/mountinfo); echo secret $(ls /mnt/secret 2>/dev/null | wc -l); echo domain $(cat /proc/sys/kernel/domainname); echo procsys $( (echo x >/proc/sys/kernel/domainname) 2>&1 && echo writable); echo dev $(stat -c "%t:%T %a %u:%g" /dev/boxnull 2>&1)'
# The spec's tmpfs mounts: /x's mountinfo (what follows " - "), its mode, what writing 2 MiB
# there meets, whether /etc takes a new file, tmpfs mounts on /etc/bl-esc (a symlink's
# target, resolved inside the container).
VIEW="$VIEW"'; echo tmpx $(grep " /x " /proc/self/mountinfo | sed "s/.* - //"); echo tmpxmode $(stat -c %a /x 2>&1); echo tmpxfull $( (head -c 2097152 /dev/zero | cat >/x/f) 2>&1 | grep -o "No space left on device"); echo etcw $( (touch /etc/w.$$ && rm /etc/w.$$ && echo writable) 2>&1 | grep -o "writable\|Read-only file system"); echo esc $(grep -c " /etc/bl-esc .* - tmpfs " /proc/self/mountinfo)'
# Seccomp (2: a filter) and what a mkdir meets: "ok" or busybox's message with the errno.
PROBE='grep -E "^(Cap|NoNewPrivs|Seccomp|Uid|Gid|Groups)" /proc/self/status | tr -s "\t " "  "; echo nofile $(ulimit -Sn) $(ulimit -Hn); touch /tmp/um.$$; echo mode $(stat -c %a /tmp/um.$$); rm -f /tmp/um.$$; echo oom $(cat /proc/self/oom_score_adj); echo mkdir $(mkdir /tmp/sc.$$ 2>&1 && echo ok && rmdir /tmp/sc.$$)'"$VIEW"
# Podman's default capabilities for root (CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID
# SETUID SETPCAP NET_BIND_SERVICE SYS_CHROOT SETFCAP): bits 0 1 3 4 5 6 7 8 10 18 31
DEFAULT_CAPS=00000000800405fb
NBS=0000000000000400 # CAP_NET_BIND_SERVICE, bit 10

# A bundle as `runc spec` lays it out, with PROCESS (JSON) merged into its process object.
bundle() { # DIR PROCESS-JSON [TOP-LEVEL-JSON merged into the document]
  mkdir -p "$1/rootfs/bin" "$1/rootfs/tmp"
  chmod 1777 "$1/rootfs/tmp"
  cp /bin/busybox "$1/rootfs/bin/busybox"
  for x in sh grep tr cat touch stat rm echo mkdir rmdir head wc ls; do ln -sf busybox "$1/rootfs/bin/$x"; done
  mkdir -p "$1/rootfs/mnt/secret" && touch "$1/rootfs/mnt/secret/key"
  python3 - "$1/config.json" "$2" "$PROBE" "${3:-{\}}" <<'EOF'
import json, sys
path, extra, probe, top = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
proc = {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", probe],
        "env": ["PATH=/bin"], "cwd": "/tmp"}
proc.update(extra)
doc = {"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "hostname": "procbox",
       "process": proc,
       "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
       "annotations": {"io.boxlite.memory": "256M"}}
doc.update(top)
json.dump(doc, open(path, "w"))
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

# ---- linux.seccomp and linux.namespaces refused at create, before any box boots ------------
bundle "$work/bad3" '{}' '{"linux": {"seccomp": {"defaultAction": "SCMP_ACT_NOPE"}}}'
"$R" --root "$root" create --bundle "$work/bad3" bad3 2>"$work/e"; rc=$?
expect "create with seccomp action SCMP_ACT_NOPE fails" 1 "$rc"
has "  ...naming the field and the value" 'linux.seccomp.defaultAction: "SCMP_ACT_NOPE" is not a seccomp action' "$work/e"
check "  ...leaving no state" test ! -e "$root/bad3"
bundle "$work/bad4" '{}' '{"linux": {"namespaces": [{"type": "uts", "path": "/proc/self/ns/ipc"}]}}'
"$R" --root "$root" create --bundle "$work/bad4" bad4 2>"$work/e"
has "create with a uts namespace path naming an ipc namespace fails, saying so" "/proc/self/ns/ipc is not a uts namespace" "$work/e"
check "  ...leaving no state" test ! -e "$root/bad4"
expect "features: seccomp enabled" True "$("$R" features | python3 -c 'import json,sys; print(json.load(sys.stdin)["linux"]["seccomp"]["enabled"])')"
# mkdir denied: EPERM (errnoRet absent) for the no_new_privs process below (the filter goes
# in last), ENOSPC for root without it (the filter goes in before the user changes)
deny_mkdir() { echo "{\"defaultAction\": \"SCMP_ACT_ALLOW\",
  \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"],
  \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\", \"no_such_syscall\"], \"action\": \"SCMP_ACT_ERRNO\"${1:-}}]}"; }

# ---- a non-root user with one capability in all five sets, limits, groups, umask, oom ------
bundle "$work/u" '{"user": {"uid": 1000, "gid": 1000, "umask": 23, "additionalGids": [1000, 2000]},
  "capabilities": {"bounding": ["CAP_NET_BIND_SERVICE"], "effective": ["CAP_NET_BIND_SERVICE"],
    "permitted": ["CAP_NET_BIND_SERVICE"], "inheritable": ["CAP_NET_BIND_SERVICE"],
    "ambient": ["CAP_NET_BIND_SERVICE"]},
  "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
              {"type": "RLIMIT_NPROC", "soft": 18446744073709551615, "hard": 18446744073709551615}],
  "noNewPrivileges": true, "oomScoreAdj": 300}' "{\"linux\": {\"seccomp\": $(deny_mkdir)}}"
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
expect "direct, uid 1000 with no_new_privs: a seccomp filter" 2 "$(line Seccomp: "$work/u.out")"
check "  ...mkdir denied with EPERM ($(line mkdir "$work/u.out"))" grep -q "^mkdir .*Operation not permitted" "$work/u.out"
"$R" --root "$root" delete u1

# ---- root with Podman's default set: the kernel gives root its bounding set on exec --------
bundle "$work/r" '{"capabilities": {"bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"],
  "effective": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"],
  "permitted": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"]},
  "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576}],
  "user": {"uid": 0, "gid": 0, "umask": 18, "additionalGids": [0]}}' "{\"linux\": {\"seccomp\": $(deny_mkdir ', "errnoRet": 28'),
  \"maskedPaths\": [\"/proc/uptime\", \"/mnt/secret\", \"/no/such/path\"], \"readonlyPaths\": [\"/proc/sys\"],
  \"sysctl\": {\"kernel.domainname\": \"boxdomain\"},
  \"devices\": [{\"path\": \"/dev/boxnull\", \"type\": \"c\", \"major\": 1, \"minor\": 3, \"fileMode\": 416, \"uid\": 1000, \"gid\": 2000}]},
  \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},
    {\"destination\": \"/x\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", \"options\": [\"nosuid\", \"size=1m\", \"mode=1770\"]},
    {\"destination\": \"/mnt/lnk\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"}]}"
# a tmpfs destination that is a symlink leading up and out: it resolves inside the container
mkdir -p "$work/r/rootfs/etc/bl-esc" && ln -s ../../../../../../etc/bl-esc "$work/r/rootfs/mnt/lnk"
python3 "$REAP" "$R" "$root" "$work/r" r1 -- start </dev/null >"$work/r.out" 2>"$work/r.err"
expect "direct, root: the process ran" 0 "$?"
for s in CapBnd CapEff CapPrm; do
  expect "direct, root: $s is the config's eleven" "$DEFAULT_CAPS" "$(line "$s:" "$work/r.out")"
done
expect "direct, root: CapInh empty" 0000000000000000 "$(line CapInh: "$work/r.out")"
expect "direct, root: CapAmb empty" 0000000000000000 "$(line CapAmb: "$work/r.out")"
expect "direct, root: NoNewPrivs 0 (not asked)" 0 "$(line NoNewPrivs: "$work/r.out")"
expect "direct, root: RLIMIT_NOFILE raised past the host's hard limit (in the guest)" "1048576 1048576" "$(line nofile "$work/r.out")"
expect "direct, root without no_new_privs: a seccomp filter" 2 "$(line Seccomp: "$work/r.out")"
check "  ...mkdir denied with errnoRet 28, ENOSPC ($(line mkdir "$work/r.out"))" grep -q "^mkdir .*No space left on device" "$work/r.out"
expect "direct, root: linux.maskedPaths: /proc/uptime reads empty (/dev/null over it)" 0 "$(line uptime "$work/r.out")"
expect "  ...a masked folder is empty (a tmpfs over it)" 0 "$(line secret "$work/r.out")"
expect "linux.sysctl: kernel.domainname set in the guest" boxdomain "$(line domain "$work/r.out")"
check "linux.readonlyPaths: /proc/sys refuses a write ($(line procsys "$work/r.out"))" grep -q "^procsys .*Read-only file system" "$work/r.out"
expect "linux.devices: /dev/boxnull is c 1:3, mode 640, owned 1000:2000" "1:3 640 1000:2000" "$(line dev "$work/r.out")"
expect "mounts: a tmpfs on /x with size=1m and mode=1770" "tmpfs tmpfs rw,size=1024k,mode=1770" "$(line tmpx "$work/r.out")"
expect "  .../x has mode 1770" 1770 "$(line tmpxmode "$work/r.out")"
expect "  ...writing 2 MiB there meets ENOSPC" "No space left on device" "$(line tmpxfull "$work/r.out")"
expect "  ...a tmpfs at /mnt/lnk, a symlink to ../../../../../../etc/bl-esc, is on /etc/bl-esc of the container" 1 "$(line esc "$work/r.out")"
check "  ...and nothing at the host's /etc/bl-esc" test ! -e /etc/bl-esc
expect "without them (uid 1000 bundle): /proc/uptime is the kernel's" 4 "$(line uptime "$work/u.out")"
expect "  ...and /sys/firmware is no mount point" 0 "$(line fwmask "$work/u.out")"
"$R" --root "$root" delete r1

# ---- cgroups: linux.cgroupsPath holds the relay and its box, linux.resources applied on the
# host (the VMM's budget: the box's RAM plus 512 MiB) and sizing the box; pause/resume freeze
# the cgroup; update changes the host's limits; delete removes the cgroup ------------------
"$R" --root "$root" pause nosuch 2>"$work/e"; check "pause of an unknown container fails" test $? -ne 0
has "  ...\"does not exist\"" "does not exist" "$work/e"
cgrel="oci-e2e-$$"  # relative: under this shell's own cgroups
cgdir() { awk -v c="$2" '$1 == c { print $2 }' "$root/$1/cgroup"; }
count() { cat "$work/cg/rootfs/tmp/count" 2>/dev/null; }
COUNTER='i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.2; done'
bundle "$work/cg" "{\"args\": [\"sh\", \"-c\", \"$COUNTER\"]}" "{\"annotations\": {},
  \"linux\": {\"cgroupsPath\": \"$cgrel/cg1\", \"resources\": {
    \"memory\": {\"limit\": 209715200, \"reservation\": 104857600},
    \"cpu\": {\"shares\": 512, \"quota\": 150000, \"period\": 100000}, \"pids\": {\"limit\": 100}}}}"
for x in sleep nproc; do ln -sf busybox "$work/cg/rootfs/bin/$x"; done
"$R" --root "$root" create --bundle "$work/cg" cg1 </dev/null >"$work/cg.out" 2>&1
expect "create with cgroupsPath and resources" 0 "$?"
relay=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$root/cg1/state.json")
fz=$(cgdir cg1 freezer); mem=$(cgdir cg1 memory); cpu=$(cgdir cg1 cpu)
own_mem=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
expect "  ...the cgroup is the relative path under the caller's own (memory)" \
  "/sys/fs/cgroup/memory${own_mem%/}/$cgrel/cg1" "$mem"
check "  ...the relay is in it (freezer)" grep -qx "$relay" "$fz/cgroup.procs"
qemu=$(pgrep -f "qemu-system.*$root/home" | head -1)
check "  ...the box's QEMU is in it (freezer)" grep -qx "$qemu" "$fz/cgroup.procs"
check "  ...and below it in memory (the box's jail group nested: boxlite/<id>)" \
  grep -q ":memory:${own_mem%/}/$cgrel/cg1/boxlite/" "/proc/$qemu/cgroup"
expect "  ...memory.limit_in_bytes: the limit plus the VMM's 512 MiB" $(((200 + 512) << 20)) "$(cat "$mem/memory.limit_in_bytes")"
expect "  ...memory.soft_limit_in_bytes: the reservation" 104857600 "$(cat "$mem/memory.soft_limit_in_bytes")"
expect "  ...cpu.cfs_quota_us" 150000 "$(cat "$cpu/cpu.cfs_quota_us")"
expect "  ...cpu.shares" 512 "$(cat "$cpu/cpu.shares")"
expect "  ...pids.max (the host's side: the limit, but never below 256 for the VMM's threads)" 256 "$(cat "$(cgdir cg1 pids)/pids.max")"
"$R" --root "$root" start cg1; expect "start" 0 "$?"
"$R" --root "$root" exec cg1 sh -c 'nproc; grep MemTotal /proc/meminfo' >"$work/cg.x" 2>&1
expect "  ...the box has ceil(quota/period) = 2 vCPUs" 2 "$(head -1 "$work/cg.x")"
memkb=$(awk '/MemTotal/ { print $2 }' "$work/cg.x")
check "  ...and the memory limit as its RAM (MemTotal $memkb kB, of 204800)" test "${memkb:-0}" -gt 150000 -a "${memkb:-0}" -le 204800
for _ in $(seq 100); do [ -n "$(count)" ] && break; sleep 0.2; done
"$R" --root "$root" pause cg1; expect "pause" 0 "$?"
expect "  ...freezer.state" FROZEN "$(cat "$fz/freezer.state")"
expect "  ...state says paused" paused "$("$R" --root "$root" state cg1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
a=$(count); sleep 1.5; b=$(count)
expect "  ...the counter in the box stopped" "$a" "$b"
"$R" --root "$root" exec cg1 true 2>"$work/e"; check "  ...exec in a paused container fails" test $? -ne 0
has "  ...saying so" "cannot exec in a paused container" "$work/e"
"$R" --root "$root" pause cg1 2>"$work/e"; check "  ...a second pause fails" test $? -ne 0
"$R" --root "$root" delete cg1 2>"$work/e"; check "  ...delete without --force fails" test $? -ne 0
has "  ...saying it is paused" "not stopped: paused" "$work/e"
"$R" --root "$root" resume cg1; expect "resume" 0 "$?"
expect "  ...state says running" running "$("$R" --root "$root" state cg1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
for _ in $(seq 100); do [ "$(count)" != "$b" ] && break; sleep 0.2; done
check "  ...the counter goes on ($b, then $(count))" test "$(count)" != "$b"
"$R" --root "$root" resume cg1 2>"$work/e"; check "  ...a second resume fails" test $? -ne 0
has "  ...\"container not paused\"" "container not paused" "$work/e"
"$R" --root "$root" update --memory 300m --cpu-quota 50000 cg1; expect "update --memory 300m --cpu-quota 50000" 0 "$?"
expect "  ...memory.limit_in_bytes" $(((300 + 512) << 20)) "$(cat "$mem/memory.limit_in_bytes")"
expect "  ...cpu.cfs_quota_us" 50000 "$(cat "$cpu/cpu.cfs_quota_us")"
echo '{"memory": {"limit": 262144000}, "cpu": {"shares": 1024}}' >"$work/res.json"
"$R" --root "$root" update --resources "$work/res.json" cg1; expect "update --resources FILE" 0 "$?"
expect "  ...memory.limit_in_bytes" $(((250 + 512) << 20)) "$(cat "$mem/memory.limit_in_bytes")"
expect "  ...cpu.shares" 1024 "$(cat "$cpu/cpu.shares")"
"$R" --root "$root" update --memory 50m --memory-swap 60m cg1; expect "update --memory 50m --memory-swap 60m (below the box's least RAM)" 0 "$?"
expect "  ...memory.limit_in_bytes: 128 MiB (the least a box has) plus 512" $(((128 + 512) << 20)) "$(cat "$mem/memory.limit_in_bytes")"
[ -e "$mem/memory.memsw.limit_in_bytes" ] &&
  expect "  ...memory.memsw.limit_in_bytes: that plus the 10 MiB of swap" $(((128 + 512 + 10) << 20)) "$(cat "$mem/memory.memsw.limit_in_bytes")"
echo '{"cpu": {"shares": 2048}}' | "$R" --root "$root" update -r - cg1; expect "update -r - (stdin, as containerd's shim)" 2048 "$(cat "$cpu/cpu.shares")"
"$R" --root "$root" update --memory lots cg1 2>"$work/e"; check "update --memory lots fails" test $? -ne 0
has "  ...naming the flag" "--memory lots is not a size" "$work/e"
echo '{"cpu": {"cpus": "0;reboot"}}' >"$work/res.json"
"$R" --root "$root" update -r "$work/res.json" cg1 2>"$work/e"; check "update with a cpuset that is not a list fails" test $? -ne 0
has "  ...naming the field" 'resources.cpu.cpus must be a list' "$work/e"
"$R" --root "$root" pause cg1
"$R" --root "$root" kill cg1 KILL; expect "kill KILL of a paused container" 0 "$?"
for _ in $(seq 50); do kill -0 "$relay" 2>/dev/null || break; sleep 0.2; done
expect "  ...it stops (SIGKILL thaws it, as runc)" stopped "$("$R" --root "$root" state cg1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
"$R" --root "$root" delete cg1; expect "delete" 0 "$?"
check "  ...its cgroup is gone (freezer)" test ! -e "$fz"
check "  ...and (memory, with the box's nested group)" test ! -e "$mem"
for d in /sys/fs/cgroup/*/"$cgrel" /sys/fs/cgroup/memory"${own_mem%/}/$cgrel"; do [ -d "$d" ] && rmdir "$d"; done
bundle "$work/cgbad" '{}' '{"linux": {"cgroupsPath": "../../escape"}}'
"$R" --root "$root" create --bundle "$work/cgbad" cgbad 2>"$work/e"; check "a cgroupsPath with .. is refused" test $? -ne 0
has "  ...saying why" "leaves the cgroup hierarchy" "$work/e"
check "  ...leaving no state" test ! -e "$root/cgbad"
# the systemd form (runc --systemd-cgroup): laid out as systemd would, nested slices
bundle "$work/sd" '{"args": ["sleep", "100"]}' '{"linux": {"cgroupsPath": "oci-e2e.slice:boxlite:sd1"}}'
ln -sf busybox "$work/sd/rootfs/bin/sleep"
"$R" --root "$root" --systemd-cgroup create --bundle "$work/sd" sd1 </dev/null >/dev/null 2>"$work/e"
expect "--systemd-cgroup create with slice:prefix:name" 0 "$?"
sd=/sys/fs/cgroup/freezer/oci.slice/oci-e2e.slice/boxlite-sd1.scope
expect "  ...in /oci.slice/oci-e2e.slice/boxlite-sd1.scope (a dash nests)" "$sd" "$(cgdir sd1 freezer)"
check "  ...which exists" test -d "$sd"
"$R" --root "$root" delete --force sd1; expect "  ...delete --force" 0 "$?"
check "  ...removes it" test ! -e "$sd"
for d in /sys/fs/cgroup/*/oci.slice; do [ -d "$d" ] && rmdir "$d/oci-e2e.slice" "$d"; done

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
expect "podman: its default seccomp profile applied (no_new_privs: installed last)" 2 "$(line Seccomp: "$work/p.out")"

# (part j) a root container's files stay root's, its chown reaches the host, and symlinks to
# a host file, planted in the rootfs by the host and by the guest, lead nowhere outside it
OWN='; touch /tmp/r; chown 1234:1234 /tmp/f && echo own chowned; chown 70000 /tmp/r 2>/dev/null || echo own big-refused
  ln -s '"$work/hostfile"' /tmp/gl; chown 1234 /tmp/gl /tmp/hl 2>/dev/null; chown -h 1234 /tmp/gl /tmp/hl && echo own links
  (echo x >>/tmp/hl; echo x >>/tmp/gl) 2>/dev/null; true' # the writes fail: the links lead nowhere in the guest
rid=$($P create --oom-score-adj 300 "$img" sh -c "$PROBE$OWN" 2>"$work/d.err")
rpm=$($P mount "$rid" 2>>"$work/d.err")
echo hostfile >"$work/hostfile"; chmod 644 "$work/hostfile"; ln -s "$work/hostfile" "$rpm/tmp/hl"
echo f >"$rpm/tmp/f"; chown 1000:1000 "$rpm/tmp/f"
$P start -a "$rid" >"$work/d.out" 2>>"$work/d.err"
expect "podman run as root with the default capabilities" 0 "$?"
expect "podman, root: chown 1234 works, a uid beyond the box's 65536 is refused, chown -h of links works" \
  "chowned big-refused links" "$(grep '^own ' "$work/d.out" | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')"
expect "  ...the host sees 1234:1234 (in Podman's storage)" 1234:1234 "$(stat -c %u:%g "$rpm/tmp/f")"
expect "  ...a root process's new file is root's on the host" 0:0 "$(stat -c %u:%g "$rpm/tmp/r")"
expect "  ...the links planted by the host and by the guest are 1234's" \
  "1234 1234" "$(stat -c %u "$rpm/tmp/gl" "$rpm/tmp/hl" | tr '\n' ' ' | sed 's/ $//')"
expect "  ...never the host file they name (nor its contents)" "0:0 hostfile" \
  "$(stat -c %u:%g "$work/hostfile") $(cat "$work/hostfile")"
$P rm "$rid" >/dev/null 2>&1
# (part m) --read-only with Podman's tmpfs on /tmp, and --tmpfs with its size and mode
$P run --rm --oom-score-adj 300 --read-only --tmpfs /x:size=1m,mode=1770 "$img" sh -c "$PROBE" >"$work/d.out" 2>"$work/d.err"
rc=$?; expect "podman run --read-only, --tmpfs /x:size=1m,mode=1770 ($(tail -c 300 "$work/d.err"))" 0 "$rc"
expect "  ...--read-only: /etc takes no new file" "Read-only file system" "$(line etcw "$work/d.out")"
expect "  ...but /tmp does (Podman's tmpfs there; a new file is 644)" 644 "$(line mode "$work/d.out")"
check "  ...--tmpfs /x: a tmpfs of size 1m, mode 1770 ($(line tmpx "$work/d.out"))" grep -q "^tmpx tmpfs tmpfs rw,.*size=1024k,mode=1770" "$work/d.out"
expect "  ...writing 2 MiB there meets ENOSPC" "No space left on device" "$(line tmpxfull "$work/d.out")"
expect "podman, root: CapEff is Podman's default set" "$DEFAULT_CAPS" "$(line CapEff: "$work/d.out")"
expect "podman, root: CapBnd is Podman's default set" "$DEFAULT_CAPS" "$(line CapBnd: "$work/d.out")"
expect "podman: --oom-score-adj 300" 300 "$(line oom "$work/d.out")"
expect "podman, root: its default seccomp profile applied" 2 "$(line Seccomp: "$work/d.out")"
expect "  ...which allows mkdir" ok "$(line mkdir "$work/d.out")"
expect "  ...Podman's maskedPaths: an empty tmpfs on /sys/firmware, as under crun" 1 "$(line fwmask "$work/d.out")"
check "  ...Podman's readonlyPaths: /proc/sys refuses a write" grep -q "^procsys .*Read-only file system" "$work/d.out"
$P run --rm --security-opt seccomp=unconfined "$img" sh -c "$PROBE" >"$work/n.out" 2>"$work/n.err"
expect "podman run --security-opt seccomp=unconfined" 0 "$?"
expect "  ...no filter" 0 "$(line Seccomp: "$work/n.out")"
deny_mkdir >"$work/deny.json"
$P run --rm --security-opt seccomp="$work/deny.json" "$img" sh -c "$PROBE" >"$work/s.out" 2>"$work/s.err"
expect "podman run --security-opt seccomp=PROFILE (mkdir denied)" 0 "$?"
check "  ...mkdir fails with EPERM ($(line mkdir "$work/s.out"))" grep -q "^mkdir .*Operation not permitted" "$work/s.out"

# pids.limit holds in the guest (part h): the container's processes there are one group
# whose pids.max is the limit, so a fork bomb stops at it; the shell counts /proc without
# forking once the bomb has ended.
$P run --rm --pids-limit 20 "$img" sh -c 'sh -c "for i in \$(seq 60); do sleep 30 & done" 2>/dev/null;
  echo "bomb $?"; set -- /proc/[0-9]*; echo "procs $#"' >"$work/b.out" 2>&1
b=$(line bomb "$work/b.out"); n=$(line procs "$work/b.out")
check "podman run --pids-limit 20: a fork bomb in the guest stops (its shell failed: ${b:-$(cat "$work/b.out")})" test "${b:-0}" -ne 0
check "  ...at most 20 of its processes, and the container's init, in the container ($n)" test "${n:-99}" -le 21
# exec: Podman hands the exec's process.json (its capabilities, user) to `exec --process`;
# the same container counts on its stdout (Podman's log) for pause/unpause, and has limits
# for stats/update
# (and file binds of a box of its own, part k: a user's -v FILE:FILE read and written
# through to the host file, one bound :ro refusing a write, Podman's /etc/hosts,
# /etc/hostname and /run/.containerenv as runc shows them)
printf 'from the host\n' >"$work/bound"; printf 'read only\n' >"$work/bound.ro"
chmod 0666 "$work/bound" "$work/bound.ro"
id=$($P run -d --cap-drop ALL --cap-add KILL --user 1000:1000 --memory 300m --cpus 1.5 \
  -v "$work/bound:/x/file" -v "$work/bound.ro:/x/ro:ro" "$img" \
  sh -c 'mkfifo /tmp/tick; i=0; while :; do i=$((i+1)); echo $i; read -t 0.2 x <>/tmp/tick; done' 2>/dev/null)
$P exec "$id" sh -c 'echo file $(cat /x/file); echo from the box >>/x/file; echo ro $( (echo x >/x/ro) 2>&1)
  echo hosts $(grep -c host.containers.internal /etc/hosts); echo hostname $(cat /etc/hostname)
  echo containerenv $(test -f /run/.containerenv && echo yes)' >"$work/f.out" 2>&1
expect "podman run -v FILE:/x/file: the container reads the host file" "from the host" "$(line file "$work/f.out")"
expect "  ...and its write reaches the host file" "from the host|from the box" "$(paste -sd'|' "$work/bound")"
check "  ...-v FILE:/x/ro:ro refuses a write ($(line ro "$work/f.out"))" grep -q "^ro .*Read-only file system" "$work/f.out"
expect "  ...the host file bound :ro is unchanged" "read only" "$(cat "$work/bound.ro")"
expect "  .../etc/hosts is Podman's (host.containers.internal)" 1 "$(line hosts "$work/f.out")"
expect "  .../etc/hostname is Podman's (the short id)" "${id:0:12}" "$(line hostname "$work/f.out")"
expect "  .../run/.containerenv is there" yes "$(line containerenv "$work/f.out")"
# (Its init counts without forking: read -t on a FIFO nobody writes, not sleep. While a bomb
# below fills pids.max, a fork of the init's would fail, and a shell whose fork fails ends:
# the container would end with it, as under runc. That raced the bomb and ended this
# container once in a loaded CI rehearsal.)
# update's pids limit reaches the guest (part k): the group counting the container's
# processes there gets the new pids.max. Lowered to 10, a bomb of 30 five-second sleeps
# from an exec stops at it; raised to 100 through --resources (containerd's way), all 30
# fork. (The shell counts /proc without forking; the sleeps end by themselves.)
bomb() { $P exec "$id" sh -c 'sh -c "for i in \$(seq 30); do sleep 5 & done" 2>/dev/null
  echo bomb $?; set -- /proc/[0-9]*; echo procs $#' >"$work/u.out" 2>&1; }
"$R" --root "$root" update --pids-limit 10 "$id" 2>"$work/e"
expect "boxlite-runtime update --pids-limit 10 on a running container" 0 "$?"
bomb; b=$(line bomb "$work/u.out"); n=$(line procs "$work/u.out")
check "  ...a bomb of 30 in the guest stops (its shell failed: ${b:-$(cat "$work/u.out")})" test "${b:-0}" -ne 0
check "  ...at most 10 of the container's processes, and its init ($n)" test "${n:-99}" -le 11
echo '{"pids": {"limit": 100}}' | "$R" --root "$root" update --resources - "$id" 2>"$work/e"
expect "boxlite-runtime update --resources - with pids.limit 100" 0 "$?"
bomb; b=$(line bomb "$work/u.out"); n=$(line procs "$work/u.out")
expect "  ...the same bomb forks all 30 ($(cat "$work/u.out" | tr '\n' ' '))" 0 "${b:-x}"
check "  ...at least 30 processes then ($n)" test "${n:-0}" -ge 31
$P exec "$id" sh -c "$PROBE" >"$work/x.out" 2>"$work/x.err"
expect "podman exec in a --cap-drop ALL --cap-add KILL container" 0 "$?"
expect "  ...its CapEff is CAP_KILL alone (bit 5)" 0000000000000020 "$(line CapEff: "$work/x.out")"
expect "  ...its CapBnd too" 0000000000000020 "$(line CapBnd: "$work/x.out")"
expect "  ...as uid 1000" "1000 1000 1000 1000" "$(line Uid: "$work/x.out")"
expect "  ...under the container's seccomp filter" 2 "$(line Seccomp: "$work/x.out")"
# A non-root container user's files keep their owner (part j): the bundle's rootfs is
# QEMU's 9p share, and QEMU runs in the box's own user namespace, where its chown of a new
# file reaches the disk. Podman's storage (podman mount) is the host's view.
pm=$($P mount "$id" 2>"$work/e"); check "podman mount ($pm)" test -d "$pm/tmp"
echo hostsecret >"$pm/u1000"; chown 1000:1000 "$pm/u1000"; chmod 600 "$pm/u1000"
echo other >"$pm/u1234"; chown 1234:1234 "$pm/u1234"
$P exec "$id" sh -c 'echo a >/tmp/f && echo b >>/tmp/f; ls -ln /tmp/f | tr -s " " | cut -d" " -f3,4; cat /tmp/f
  ls -ln /u1000 /u1234 | tr -s " " | cut -d" " -f3,4; cat /u1000' >"$work/own.out" 2>&1
expect "podman exec as 1000: a new file is 1000 1000 and takes a second write" \
  "$(printf '1000 1000\na\nb\n1000 1000\n1234 1234\nhostsecret')" "$(cat "$work/own.out")"
expect "  ...on the host, in Podman's storage, it is 1000:1000" 1000:1000 "$(stat -c %u:%g "$pm/tmp/f")"
$P umount "$id" >/dev/null 2>&1
pcount() { $P logs "$id" 2>/dev/null | tail -1; }
pmem=$(cgdir "$id" memory); pfz=$(cgdir "$id" freezer)
expect "podman's cgroupsPath (cgroupfs): /libpod_parent/libpod-ID" "/sys/fs/cgroup/freezer/libpod_parent/libpod-$id" "$pfz"
expect "  ...--memory 300m: the host limit is 300 MiB plus the VMM's 512" $(((300 + 512) << 20)) "$(cat "$pmem/memory.limit_in_bytes")"
$P stats --no-stream --format '{{.MemUsage}}' "$id" >"$work/stats" 2>&1
check "podman stats reads the container's memory use from its cgroup ($(cat "$work/stats"))" grep -qvE '^0B' "$work/stats"
for _ in $(seq 100); do [ -n "$(pcount)" ] && break; sleep 0.2; done
$P pause "$id" >/dev/null; expect "podman pause" 0 "$?"
expect "  ...podman inspect: paused" paused "$($P inspect -f '{{.State.Status}}' "$id")"
a=$(pcount); sleep 1.5; b=$(pcount)
expect "  ...the counter in the box stopped" "$a" "$b"
$P unpause "$id" >/dev/null; expect "podman unpause" 0 "$?"
expect "  ...podman inspect: running" running "$($P inspect -f '{{.State.Status}}' "$id")"
for _ in $(seq 100); do [ "$(pcount)" != "$b" ] && break; sleep 0.2; done
check "  ...the counter goes on ($b, then $(pcount))" test "$(pcount)" != "$b"
$P update --memory 400m "$id" >/dev/null 2>"$work/e"; expect "podman update --memory 400m" 0 "$?"
expect "  ...the host limit follows" $(((400 + 512) << 20)) "$(cat "$pmem/memory.limit_in_bytes")"
# a lowered limit reaches the guest too: its balloon holds the rest (part h)
# (MemTotal in MiB, read in the guest; the wait, up to 150 reads, is there too: one exec)
balloon() { $P exec "$id" sh -c 'for i in $(seq 150); do read _ kb _ </proc/meminfo
  [ $((kb >> 10)) -le $1 ] && break; sleep 0.2; done; echo $((kb >> 10))' sh "$1" 2>&1; }
before=$(balloon 99999) # at once
$P update --memory 200m "$id" >/dev/null 2>"$work/e"; expect "podman update --memory 200m" 0 "$?"
after=$(balloon 200)
check "  ...the guest's memory follows it down through the balloon (MemTotal $before, then $after MiB)" \
  test "${after:-999}" -le 200
$P pause "$id" >/dev/null
$P rm -f "$id" >/dev/null 2>&1; expect "podman rm -f of a paused container" 0 "$?"
check "  ...its cgroup is gone" test ! -e "$pfz"
check "  ...and its state" test ! -e "$root/$id"
finish
