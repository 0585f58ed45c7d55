#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Image figures: cold pull + prepare of a ~100 MB, 4-layer image from a local registry
# (ours: image_pull_prepare, to the ext4 base) against skopeo copy + umoci unpack +
# mke2fs -d on the same image in the same run; the bytes a pull killed midway (SIGKILL)
# fetches when run again, against a full pull's, both counted in the registry's own log;
# and warm box-disk creation (a qcow2 overlay over the cached base). BIG_MB sets the image
# size, RUNS the repetitions (the best run of each side counts).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-2}
for t in docker-registry skopeo umoci mke2fs; do
  command -v $t >/dev/null || [ -x /usr/sbin/$t ] || { echo "image: $t missing, skipped"; exit 0; }
done
make -s build/lib/libimage.a build/lib/libdisk.a build/lib/libcommon.a >/dev/null
mkdir -p build/bench
pkgs="libcurl jansson libarchive openssl libzstd zlib ext2fs com_err libisal"
gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -Iinclude -Isrc $(pkg-config --cflags $pkgs) bench/image.c \
  -Wl,--start-group build/lib/libimage.a build/lib/libdisk.a build/lib/libcommon.a -Wl,--end-group \
  $(pkg-config --libs $pkgs) -lpthread -o build/bench/image

work=$(mktemp -d /var/tmp/boxlite-bench-image.XXXXXX)
reg=$work/reg
cleanup() { tests/fixtures/registry.sh stop "$reg" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT && echo "kept: $work"
mkdir -p "$reg"
BIG_MB=${BIG_MB:-100} python3 tests/fixtures/mkimages.py "$work/fx" big
port=$(LOG=1 tests/fixtures/registry.sh start "$reg" $$)
tests/fixtures/registry.sh push "$reg" "$work/fx/big" bench/big:1
ref=127.0.0.1:$port/bench/big:1
size_mb=$(du -sm "$work/fx/big/blobs" | cut -f1)

now() { date +%s.%N; }
best_ours=999999 best_ref=999999
for i in $(seq "$runs"); do
  rm -rf "$work/home"
  t=$(build/bench/image pull "$work/home" "$ref")
  best_ours=$(python3 -c "print(min($best_ours, $t))")

  rm -rf "$work/ref" "$work/bundle" "$work/ref.ext4"
  t0=$(now)
  skopeo copy --quiet --src-tls-verify=false "docker://$ref" "oci:$work/ref:latest"
  umoci unpack --image "$work/ref:latest" "$work/bundle" >/dev/null
  bytes=$(du -sb "$work/bundle/rootfs" | cut -f1)
  truncate -s $(( bytes + bytes / 8 + (320 << 20) )) "$work/ref.ext4"
  mke2fs -q -F -t ext4 -b 4096 -d "$work/bundle/rootfs" "$work/ref.ext4"
  t1=$(now)
  best_ref=$(python3 -c "print(min($best_ref, $t1 - $t0))")
done
echo "image size (compressed blobs): $size_mb MB"
echo "load average while measuring (1, 5, 15 min; 2 cores): $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'cold pull+prepare, boxlite: %.3f s\n' "$best_ours"
printf 'cold pull+prepare, skopeo+umoci+mke2fs: %.3f s\n' "$best_ref"
python3 -c "print('cold pull+prepare ratio (boxlite/reference, goal <= 0.3): %.2f' % ($best_ours / $best_ref))"

# Resumed pull. Bytes of blobs the registry sent after line $1 of its log.
sent_since() {
  awk -v m="$1" 'NR > m && /http.request.method=GET/ && /\/blobs\/sha256:/ && match($0, /http.response.written=[0-9]+/) {
    s += substr($0, RSTART + 22, RLENGTH - 22) } END { print s + 0 }' "$reg/registry.log"
}
log_lines() { wc -l <"$reg/registry.log"; }
blobs_total=$(python3 -c "
import json; L='$work/fx/big'; m=json.load(open(L+'/index.json'))['manifests'][0]['digest'][7:]
m=json.load(open(L+'/blobs/sha256/'+m)); print(m['config']['size'] + sum(l['size'] for l in m['layers']))")
mb() { python3 -c "print('%.1f' % ($1 / 1e6))"; }
rm -rf "$work/home"
mark=$(log_lines)
build/bench/image pull "$work/home" "$ref" >/dev/null
full=$(sent_since "$mark")
rm -rf "$work/home"
mark=$(log_lines)
build/bench/image pull "$work/home" "$ref" >/dev/null &
pid=$!
down=0
# Killed once half the blob bytes are on disk (the partial files), as a user's Ctrl-\ or an
# OOM kill would: no clean-up runs.
while kill -0 $pid 2>/dev/null; do
  # (find fails until the store's tmp folder exists)
  down=$({ find "$work/home/images/tmp" -name 'partial-*' -printf '%s\n' 2>/dev/null || true; } |
    awk '{s += $1} END {print s + 0}')
  [ "$down" -ge $((blobs_total / 2)) ] && break
  sleep 0.01
done
kill -KILL $pid 2>/dev/null || true
wait $pid 2>/dev/null || true  # 137: the kill
killed=$(sent_since "$mark")
# What the killed pull left: its blobs stored, or their partial downloads.
kept=$(python3 -c "
import json, os; L='$work/fx/big'; S='$work/home/images'
m=json.load(open(L+'/index.json'))['manifests'][0]['digest'][7:]; m=json.load(open(L+'/blobs/sha256/'+m))
n = 0
for d in [m['config']] + m['layers']:
    h = d['digest'][7:]
    for p in (S+'/blobs/sha256/'+h, S+'/tmp/partial-%s-%d' % (h, d['size'])):
        if os.path.exists(p):
            n += os.path.getsize(p); break
print(n)")
mark=$(log_lines)
build/bench/image pull "$work/home" "$ref" >/dev/null
resumed=$(sent_since "$mark")
echo "blobs of the image: $(mb "$blobs_total") MB"
echo "full cold pull, blob bytes the registry sent: $(mb "$full") MB"
echo "pull killed (SIGKILL) past half: the registry had sent $(mb "$killed") MB, $(mb "$kept") MB were on disk (the rest was in flight)"
echo "the same pull run again (resumed), blob bytes the registry sent: $(mb "$resumed") MB (missing at the kill: $(mb $((blobs_total - kept))) MB)"
python3 -c "print('resumed pull bytes / full pull bytes: %.2f' % ($resumed / $full))"

rm -rf "$work/fetch"
printf 'cold download alone (blobs verified and stored, no ext4 base), boxlite: %.3f s\n' \
  "$(build/bench/image fetch "$work/fetch" "$ref")"
# Where our time goes: the ext4 build again from the stored layers, step by step (the
# download overlaps these in a cold pull).
build/bench/image phases "$work/home" "$ref" "$work/phases.ext4" | while read -r name secs; do
  case $name in
    inodes|bytes|image_MiB|resizes) echo "ext4 build, $name: $secs" ;;
    *) echo "ext4 build phase, $name: $secs s" ;;
  esac
done
read -r med max < <(build/bench/image boxdisk "$work/home" "$ref" 50 "$work")
echo "warm box-disk creation (median of 50): $med ms"
echo "warm box-disk creation (max of 50): $max ms"
