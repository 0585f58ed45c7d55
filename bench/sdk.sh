#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The SDKs' overhead (issue 24): the exec round trip of `true` (start to result, both
# streams read to their end) and stdout throughput (dd of 64 KiB blocks), through the C API
# (bench/sdk_exec.c), the Node SDK (bench/sdk_exec.js) and the Go SDK
# (sdk/go/internal/benchexec) in the same run, against one box (detached, so the three
# programs share it through its per-box process). Rounds alternate C, Node, Go so that a
# change of load on the machine falls on all three alike. Engine: whichever runs here.
# Under TCG the guest dominates the round trip and its speed drifts with the machine's load,
# so the wall-clock medians move by several per cent from run to run in either direction;
# the SDKs' own cost is also given as the calling process's CPU time per exec (all its
# threads, the library's I/O thread included), which the guest's speed does not change.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BOXLITE_BUILD:-build}
runs=${BENCH_RUNS:-20}
rounds=${BENCH_ROUNDS:-3}
mib=${BENCH_STREAM_MIB:-16}
streams=${BENCH_STREAMS:-3}
scripts/build-kernel.sh --cached-only >/dev/null 2>&1 || { echo "sdk: skipped (no cached kernel)"; exit 0; }
for t in node go; do command -v $t >/dev/null || { echo "sdk: skipped ($t not installed: scripts/setup.sh)"; exit 0; }; done
make -s node >/dev/null || exit 1
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
bin=$build/bench/sdk_exec
mkdir -p "$build/bench"
cleanup() { "$bin" teardown sdkbench >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT
gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iinclude -o "$bin" bench/sdk_exec.c \
  -L"$build/lib" -Wl,-rpath,"$PWD/$build/lib" -lboxlite || exit 1
(cd sdk/go && GOPROXY=off GOFLAGS=-mod=mod go build -o "$work/goexec" ./internal/benchexec) || exit 1
python3 tests/fixtures/mkrootfs.py "$work/rootfs"
"$bin" setup sdkbench "$work/rootfs" || exit 1
engine=$("$build/bin/boxlite-vmm" --check 2>/dev/null | sed -n 's/^selected: //p')
for r in $(seq "$rounds"); do
  "$bin" bench sdkbench "$runs" "$mib" "$streams" | sed 's/^/c /' >>"$work/out" || exit 1
  node bench/sdk_exec.js sdkbench "$runs" "$mib" "$streams" | sed 's/^/node /' >>"$work/out" || exit 1
  "$work/goexec" sdkbench "$runs" "$mib" "$streams" | sed 's/^/go /' >>"$work/out" || exit 1
done
python3 - "$work/out" "$engine" "$mib" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
engine, mib = sys.argv[2], sys.argv[3]
rtt = {k: [float(v) for s, m, v in rows if s == k and m == "rtt"] for k in ("c", "node", "go")}
tput = {k: [float(v) for s, m, v in rows if s == k and m == "tput"] for k in ("c", "node", "go")}
cpu = {k: statistics.median([float(v) for s, m, v in rows if s == k and m == "cpu"]) for k in ("c", "node", "go")}
base = statistics.median(rtt["c"])
def rel(x, b):
    return f"{(x - b) / b * 100:+.1f}%"
parts = [f"C API {base:.1f} ms"]
for k, name in (("node", "Node SDK"), ("go", "Go SDK")):
    m = statistics.median(rtt[k])
    parts.append(f"{name} {m:.1f} ms ({rel(m, base)}, {m - base:+.2f} ms)")
print(f"figure: exec round trip of `true` (engine {engine}; median of {len(rtt['c'])} per API): " + ", ".join(parts))
parts = [f"C API {cpu['c']:.3f} ms"]
for k, name in (("node", "Node SDK"), ("go", "Go SDK")):
    extra = cpu[k] - cpu["c"]
    parts.append(f"{name} {cpu[k]:.3f} ms (+{extra:.3f} ms over C = {extra / base * 100:.1f}% of the C round trip)")
print("figure: CPU time of the calling process per exec of `true` (median over rounds): " + ", ".join(parts))
tb = statistics.median(tput["c"])
parts = [f"C API {tb:.1f} MiB/s"]
for k, name in (("node", "Node SDK"), ("go", "Go SDK")):
    m = statistics.median(tput[k])
    parts.append(f"{name} {m:.1f} MiB/s ({rel(m, tb)})")
print(f"figure: stdout throughput (dd {mib} MiB of 64 KiB blocks; median of {len(tput['c'])} per API): " + ", ".join(parts))
PY
