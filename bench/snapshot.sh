#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Disk snapshot, clone, export and import figures for a 512 MiB box: a box (512 MiB of
# memory) whose disk holds 512 MiB of incompressible data written by its guest, stopped;
# then the time and size of each disk operation. The QEMU engine boots the box here; the
# operations themselves run on the host and are the same for both engines.
set -uo pipefail
cd "$(dirname "$0")/.."
. tests/harness/lib.sh # busybox_rootfs
B=$PWD/build/bin/boxlite
[ -x "$B" ] || { echo "   build/bin/boxlite missing: run make"; exit 1; }
[ -x /bin/busybox ] || { echo "   /bin/busybox missing (busybox-static)"; exit 1; }
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/snapshot_bench.XXXXXX")
export BOXLITE_HOME=$work/home
cleanup() {
  for h in "$work/home" "$work/fresh"; do
    for id in $(BOXLITE_HOME=$h "$B" ps -a -q 2>/dev/null); do BOXLITE_HOME=$h "$B" rm -f "$id" >/dev/null 2>&1; done
  done
  rm -rf "$work"
}
trap cleanup EXIT
root=$work/root
busybox_rootfs "$root"

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
mib() { echo "$(( $1 / 1048576 )).$(( ($1 % 1048576) * 10 / 1048576 ))"; }
fail() { echo "   (failed: $*)"; exit 1; }

"$B" create --name bench --memory 512m --disk-size 2g "$root" >/dev/null || fail create
# 32 copies of 16 MiB of /dev/urandom: incompressible for zstd (its window is far shorter),
# and written in a fraction of the time TCG takes to draw 512 MiB from urandom
t0=$(now)
"$B" exec bench sh -c 'head -c 16777216 /dev/urandom > /c && for i in $(seq 32); do cat /c; done > /data.bin && rm /c && sync' >/dev/null 2>&1 || fail "write 512 MiB in the guest"
tw=$(ms "$t0" "$(now)")
# running: the guest's root frozen while the 512 MiB top is copied (its writers wait)
t0=$(now); "$B" snapshot create bench live || fail "live snapshot create"; t1=$(now)
live_snap=$(ms "$t0" "$t1")
t0=$(now); "$B" export bench "$work/live.box" || fail "live export"; t1=$(now)
live_export=$(ms "$t0" "$t1")
rm -f "$work/live.box"
"$B" snapshot rm bench live
"$B" stop bench >/dev/null || fail stop
dir=$(ls -d "$work"/home/boxes/*)
disk=$(du -B1 --apparent-size "$dir/disk.qcow2" | cut -f1)
echo "   box: 512 MiB memory, 512 MiB of random data in its disk (disk.qcow2 $(mib "$disk") MiB; boot and write: $tw ms)"

echo "   snapshot create, running box: $live_snap ms (its root frozen while the 530 MiB top is copied)"
echo "   export, running box: $live_export ms (the guest runs meanwhile: TCG takes a core)"
t0=$(now); "$B" snapshot create bench s1 || fail "snapshot create"; t1=$(now)
layer=$("$B" snapshot ls --json bench | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["size_bytes"])')
echo "   snapshot create: $(ms "$t0" "$t1") ms (the frozen layer: $(mib "$layer") MiB, nothing copied)"
t0=$(now); "$B" snapshot restore bench s1 || fail restore; t1=$(now)
echo "   snapshot restore: $(ms "$t0" "$t1") ms"
used0=$(du -sB1 "$work/home/boxes" | cut -f1)
t0=$(now); "$B" clone bench copy >/dev/null || fail clone; t1=$(now)
used1=$(du -sB1 "$work/home/boxes" | cut -f1)
echo "   clone: $(ms "$t0" "$t1") ms (space the clone added: $(( (used1 - used0) / 1024 )) KiB)"

t0=$(now); "$B" export bench "$work/bench.box" || fail export; t1=$(now)
size=$(stat -c %s "$work/bench.box")
e=$(ms "$t0" "$t1")
echo "   export: $e ms, archive $(mib "$size") MiB ($(( size * 1000 / (e > 0 ? e : 1) / 1048576 )) MiB/s of archive)"
t0=$(now); BOXLITE_HOME=$work/fresh "$B" import "$work/bench.box" --name back >/dev/null 2>&1 || fail import; t1=$(now)
echo "   import (fresh home): $(ms "$t0" "$t1") ms"
