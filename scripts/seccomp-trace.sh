#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Which system calls each kind of boxlite-vmm thread makes under a real workload: the
# evidence behind the allow-lists in src/vmm/jail/seccomp_rules.c. Runs WORKLOAD with the
# library starting boxlite-vmm under `strace -f`, then prints, per thread kind, the calls
# made after the thread's filter was installed (inherited filters: from the start), and
# those the lists lack.
#   scripts/seccomp-trace.sh [-o DIR] -- WORKLOAD...      e.g. -- bash tests/e2e/jail_files.sh
# The KVM engine's threads: run it inside the lab (tests/lab/run.sh with strace copied in).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
[ "${1:-}" = -o ] && { out=$2; shift 2; }
[ "${1:-}" = -- ] && shift
command -v strace >/dev/null || { echo "strace is needed (apt-get install strace)" >&2; exit 2; }
vmm=${BOXLITE_VMM:-$PWD/build/bin/boxlite-vmm}
mkdir -p "$out"
cat >"$out/wrap" <<W
#!/bin/sh
exec $(command -v strace) -f -ff -qq -o "$out/t" "$vmm" "\$@"
W
chmod +x "$out/wrap"
if [ $# -gt 0 ]; then BOXLITE_VMM=$out/wrap "$@" >"$out/workload.log" 2>&1 || echo "workload: status $? (log: $out/workload.log)" >&2; fi
python3 - "$out" src/vmm/jail/seccomp_rules.c <<'PY'
import glob, os, re, sys
out, src = sys.argv[1], open(sys.argv[2]).read()
kinds = {"vcpu": "vcpu", "evloop": "io", "9p": "io", "relay": "io", "framelink": "io",
         "logpump": "io", "slirp": "slirp", "mux": "main", "waiter": "main", "health": "main"}
inherit = {"mux", "waiter", "9p", "health"}   # threads that start under their creator's filter
seen = {}
call = re.compile(r'^(?:<\.\.\. )?([a-z0-9_]+)\(')
for f in glob.glob(os.path.join(out, "t.*")):
    lines = open(f, errors="replace").read().splitlines()
    text = "\n".join(lines)
    if re.search(r'execve\("[^"]*qemu-system', text):
        continue  # QEMU: its own -sandbox and our default-allow filter
    m = re.search(r'prctl\(PR_SET_NAME, "([^"]+)"', text)
    name = m.group(1) if m else None
    if name and name.startswith("vcpu"): name = "vcpu"
    if name is None:
        if "SECCOMP_SET_MODE_FILTER" not in text: continue
        name = "supervisor" if "execve(" in lines[0] else "main"
    if name not in kinds and name not in ("main", "supervisor"): continue
    kind = kinds.get(name, name)
    on = name in inherit
    for l in lines:
        if "SECCOMP_SET_MODE_FILTER" in l and "= 0" in l: on = True; continue
        if not on: continue
        c = call.match(l)
        if c and "resumed" not in l[:5]: seen.setdefault(kind, set()).add(c.group(1))
        elif c: seen.setdefault(kind, set()).add(c.group(1))
def listed(kind):
    arr = {"main": "main_calls", "vcpu": "vcpu_calls", "io": "io_calls", "slirp": "slirp_calls"}.get(kind)
    names = set(re.findall(r'"([a-z0-9_]+)"', re.search(r'common\[\] = \{(.*?)\};', src, re.S).group(1)))
    if arr: names |= set(re.findall(r'"([a-z0-9_]+)"', re.search(arr + r'\[\] = \{(.*?)\};', src, re.S).group(1)))
    names |= {"clone", "clone3", "rt_sigaction", "prctl", "openat", "ioctl", "socket", "mkdirat", "fchmodat", "fchmod", "mknodat", "seccomp", "socketpair"}
    return names
for kind in sorted(seen):
    calls = sorted(seen[kind])
    print(f"{kind}: {len(calls)} calls: {' '.join(calls)}")
    if kind != "supervisor":
        missing = [c for c in calls if c not in listed(kind)]
        print(f"  not in the {kind} list: {' '.join(missing) if missing else '(none)'}")
PY
echo "traces: $out"
