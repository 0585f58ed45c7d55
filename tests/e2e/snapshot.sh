#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Disk snapshots, clones, export and import through the CLI with a real guest (QEMU engine
# here; the disk operations themselves run on the host, so they are the same for the KVM
# engine, whose qcow2 code tests/unit/runtime/test_snapshot.c drives): a file tree's SHA-256
# taken inside the box comes back after restore, a clone and its source do not see each
# other's writes, export then import on a fresh home gives the same tree; a running box is
# refused with the reason; kill -9 at each step of a snapshot and during an export leaves
# the box usable and nothing half-made; every qcow2 passes qemu-img check.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
. tests/harness/lib.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need_cmd qemu-img qemu-utils
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "$B (make)" test -x "$B"
need "/bin/busybox (busybox-static)" test -x /bin/busybox
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
cleanup() {
  for h in "$work/home" "$work/fresh"; do
    for id in $(BOXLITE_HOME=$h "$B" ps -a -q 2>/dev/null); do
      BOXLITE_HOME=$h "$B" rm -f "$id" >/dev/null 2>&1
    done
  done
  rm -rf "$work"
}
trap cleanup EXIT

root=$work/root
busybox_rootfs "$root"

# the SHA-256 of every file under /data, as the guest reads them
tree() { "$B" exec "$1" sh -c 'cd /data && find . -type f | sort | xargs sha256sum | sha256sum' 2>/dev/null | cut -d' ' -f1; }
qcheck_all() { # NAME HOME: every qcow2 under HOME is clean
  local bad=0 n=0
  for f in $(find "$2" -name '*.qcow2'); do
    n=$((n + 1)); qemu-img check -q "$f" || { bad=1; echo "#   $f"; }
  done
  [ "$bad" = 0 ] && [ "$n" -gt 0 ] && ok "$1 ($n images)" || no "$1" "qemu-img check failed or no image"
}

"$B" create --name a "$root" >/dev/null
"$B" exec a sh -c 'mkdir -p /data/sub && head -c 300000 /dev/urandom > /data/big && echo one > /data/sub/one && sync' 2>/dev/null
sum1=$(tree a)
[ ${#sum1} = 64 ] && ok "a tree's SHA-256 read in the box" || no "tree sum" "got [$sum1]"

# ---- a running box: its root frozen (FSFREEZE) while the top is copied ---------------------
check "snapshot create on a running box" "$B" snapshot create a live
check "export of a running box" "$B" export a "$work/live.box"
livecid=$("$B" clone a livec 2>/dev/null)
[ -n "$livecid" ] && ok "clone of a running box" || no "clone of a running box"
"$B" exec a sh -c 'echo after-live > /data/after-live; sync' 2>/dev/null
expect "the box goes on writing after a live snapshot (thawed)" "after-live" "$("$B" exec a cat /data/after-live 2>/dev/null)"
out=$("$B" snapshot restore a live 2>&1); rc=$?
expect "restore on a running box exits 125" 125 "$rc"
has "and says to stop it first" "stop it first" <(echo "$out")
"$B" exec a rm /data/after-live 2>/dev/null; "$B" exec a sync 2>/dev/null

# ---- snapshot, write, restore: the write is gone -----------------------------------------
"$B" stop a >/dev/null
check "restore of the live snapshot (stopped)" "$B" snapshot restore a live
"$B" start a >/dev/null 2>&1
expect "the live snapshot holds the tree as it was when taken" "$sum1" "$(tree a)"
"$B" start livec >/dev/null 2>&1
expect "the live clone too" "$sum1" "$(tree livec)"
"$B" stop livec >/dev/null
out=$(BOXLITE_HOME=$work/fresh "$B" import "$work/live.box" --name livei 2>&1)
BOXLITE_HOME=$work/fresh "$B" start livei >/dev/null 2>&1
expect "and the live export, imported" "$sum1" "$(BOXLITE_HOME=$work/fresh tree livei)"
BOXLITE_HOME=$work/fresh "$B" rm -f livei >/dev/null 2>&1
"$B" stop a >/dev/null
check "snapshot create s1" "$B" snapshot create a s1
"$B" start a >/dev/null 2>&1
"$B" exec a sh -c 'echo changed > /data/sub/one; echo two > /data/two; rm /data/big; sync' 2>/dev/null
sum2=$(tree a)
[ "$sum2" != "$sum1" ] && ok "writes after the snapshot change the tree" || no "tree unchanged"
"$B" stop a >/dev/null
check "snapshot create s2" "$B" snapshot create a s2
ls_out=$("$B" snapshot ls a)
has "snapshot ls lists s1" "s1" <(echo "$ls_out")
has "snapshot ls lists s2" "s2" <(echo "$ls_out")
check "snapshot restore s1" "$B" snapshot restore a s1
"$B" start a >/dev/null 2>&1
expect "after restore the tree is the snapshot's" "$sum1" "$(tree a)"
out=$("$B" exec a ls /data/two 2>&1)
has "and the file written after it is gone" "No such file" <(echo "$out")
"$B" stop a >/dev/null
check "restore s2" "$B" snapshot restore a s2
"$B" start a >/dev/null 2>&1
expect "restoring the later snapshot brings its tree back" "$sum2" "$(tree a)"
"$B" stop a >/dev/null
check "snapshot rm s2" "$B" snapshot rm a s2
out=$("$B" snapshot rm a s2 2>&1)
has "removing it twice: no snapshot named s2" "no snapshot named s2" <(echo "$out")
"$B" snapshot restore a s1

# ---- clone: independent both ways ------------------------------------------------------
cid=$("$B" clone a c 2>/dev/null)
[ -n "$cid" ] && ok "clone prints the new box's id" || no "clone failed"
"$B" start a >/dev/null 2>&1; "$B" start c >/dev/null 2>&1
expect "the clone starts with the source's tree" "$sum1" "$(tree c)"
"$B" exec a sh -c 'echo from-a > /data/mine; sync' 2>/dev/null
"$B" exec c sh -c 'echo from-c > /data/mine; echo only-c > /data/conly; sync' 2>/dev/null
expect "the source reads its own write" "from-a" "$("$B" exec a cat /data/mine 2>/dev/null)"
expect "the clone reads its own write" "from-c" "$("$B" exec c cat /data/mine 2>/dev/null)"
out=$("$B" exec a ls /data/conly 2>&1)
has "the clone's new file is not in the source" "No such file" <(echo "$out")
"$B" exec a rm /data/mine 2>/dev/null; "$B" exec a sync 2>/dev/null
"$B" stop a >/dev/null; "$B" stop c >/dev/null
qcheck_all "every qcow2 of the home passes qemu-img check" "$work/home"

# ---- export, import on a fresh home ----------------------------------------------------
check "export a" "$B" export a "$work/a.box"
out=$(BOXLITE_HOME=$work/fresh "$B" import "$work/a.box" --name imported 2>&1)
grep -qE '^[0-9a-f]{32}$' <<<"$(tail -1 <<<"$out")" && ok "import prints the new box's id" || no "import" "$out"
BOXLITE_HOME=$work/fresh "$B" start imported >/dev/null 2>&1
expect "the imported box has the exported tree" "$sum1" "$(BOXLITE_HOME=$work/fresh tree imported)"
BOXLITE_HOME=$work/fresh "$B" stop imported >/dev/null
qcheck_all "the imported box's images pass qemu-img check" "$work/fresh"
head -c $(( $(stat -c %s "$work/a.box") / 2 )) "$work/a.box" >"$work/half.box"
out=$(BOXLITE_HOME=$work/fresh "$B" import "$work/half.box" --name half 2>&1); rc=$?
expect "a truncated archive is refused (125)" 125 "$rc"
expect "and leaves no box" "" "$(BOXLITE_HOME=$work/fresh "$B" ps -a -q --filter name=half)"

# ---- kill -9 in the middle ---------------------------------------------------------------
fifo=$work/hook
mkfifo "$fifo"
killed_at() { # POINT COMMAND...: runs COMMAND until it reaches POINT, then kills it
  local point=$1; shift
  BOXLITE_TEST_HOOK="$point:$fifo" "$@" >/dev/null 2>&1 &
  local pid=$!
  local line; read -r line <"$fifo"
  kill -9 "$pid"; wait "$pid" 2>/dev/null
  [ "$line" = "$point" ]
}
layers() { find "$work/home/boxes" -name 'layer-*' | wc -l; }
before=$(layers)
for point in snapshot-linked snapshot-top-made snapshot-switched; do
  check "snapshot create killed at $point" killed_at "$point" "$B" snapshot create a k9
  out=$("$B" snapshot ls a)
  if grep -q k9 <<<"$out"; then no "no snapshot k9 after a kill at $point"; else ok "no snapshot k9 after a kill at $point"; fi
  "$B" start a >/dev/null 2>&1
  expect "after a kill at $point the box starts with its tree" "$sum1" "$(tree a)"
  "$B" stop a >/dev/null
done
check "a snapshot of the same name then works" "$B" snapshot create a k9
check "and its removal" "$B" snapshot rm a k9
# what the kills left (an unreached layer) went with the next operation; the disk's chain
# grew by the switched one (and k9's, which the disk still sits on)
expect "no layer left over by the kills" $((before + 2)) "$(layers)"
expect "nor a half-made disk or copy" "" "$(find "$work/home/boxes" -name 'disk.qcow2.new' -o -name 'layer-copy.tmp')"
# killed while the guest's root is frozen: the agent thaws it by itself (a test's short
# auto-thaw), the writer waiting in the guest then finishes; no snapshot, no copy left
"$B" start a >/dev/null 2>&1
check "a live snapshot killed while the root is frozen" \
  killed_at snapshot-frozen env BOXLITE_TEST_AUTO_THAW_MS=3000 "$B" snapshot create a frozen
expect "a write in the box completes once the agent thawed the root by itself" "w" \
  "$("$B" exec a sh -c 'echo w > /data/w && sync && cat /data/w && rm /data/w && sync' 2>/dev/null)"
has "the agent says why it thawed" "the host did not thaw it in time" <(cat "$work"/home/boxes/*/console.log)
out=$("$B" snapshot ls a)
if grep -q frozen <<<"$out"; then no "no snapshot after the kill"; else ok "no snapshot after the kill"; fi
"$B" stop a >/dev/null
check "export killed while writing" killed_at export-writing "$B" export a "$work/k.box"
check "leaves no archive" test ! -e "$work/k.box"
expect "and no partial file next to it" "" "$(ls "$work" | grep -E '^k\.box' || true)"
"$B" start a >/dev/null 2>&1
expect "the box starts after the killed export, its tree intact" "$sum1" "$(tree a)"
"$B" stop a >/dev/null
check "and exports again" "$B" export a "$work/k.box"
qcheck_all "after the kills every qcow2 passes qemu-img check" "$work/home"
finish
