#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Issue 13, the file boundary, through the CLI on the engine that runs here (QEMU/TCG): what a
# guest writes on a host volume never becomes setuid and never changes owner on the host
# (the guest still sees its chmod and chown, across boxes: recorded as QEMU's mapped-xattr
# does), and `boxlite cp` out of a box lands as docker cp lands it: owned by the caller,
# without setuid bits, symlinks as symlinks, device nodes refused, a directory never merged
# into an existing one, a size limit honoured, nothing left behind by a refused copy.
# The same on the KVM engine: tests/lab/suite.sh (tests/e2e/lab_smoke.sh).
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
. tests/harness/lib.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "$B (make)" test -x "$B"
need "/bin/busybox (busybox-static)" test -x /bin/busybox
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
cleanup() {
  "$B" rm -f cpbox >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

root=$work/root
busybox_rootfs "$root"
mkdir -p "$root/root"
me="$(id -u) $(id -g)"
xattr() { python3 -c 'import os,sys; print(int.from_bytes(os.getxattr(sys.argv[1], sys.argv[2]), "little"))' "$1" "$2" 2>/dev/null; }

# 1. A setuid-root binary and a foreign owner made on a volume stay the guest's view.
vol=$work/vol
mkdir -p "$vol"
out=$("$B" run --rm -v "$vol:/vol" "$root" sh -c \
  'cp /bin/busybox /vol/s && chown 0:0 /vol/s && chmod 4755 /vol/s && touch /vol/o && chown 1234:5678 /vol/o && ln -s /etc/shadow /vol/l && stat -c "%a %u %g" /vol/s /vol/o')
expect "the guest sees its chown 0:0 + chmod 4755 and chown 1234:5678" "4755 0 0
644 1234 5678" "$out"
mode=$(stat -c '%a' "$vol/s" 2>/dev/null)
[ -n "$mode" ] && [ $((8#$mode & 8#6000)) -eq 0 ] && ok "no setuid/setgid bit on the host file (mode $mode)" || no "no setuid/setgid bit on the host file" "mode [$mode]"
expect "the host file belongs to the box's host owner, not to root-as-the-guest-said" "$me" "$(stat -c '%u %g' "$vol/s" 2>/dev/null)"
expect "chown 1234:5678 in the guest leaves the host owner alone" "$me" "$(stat -c '%u %g' "$vol/o" 2>/dev/null)"
expect "the guest's mode is recorded as QEMU's mapped-xattr records it" "$(( 8#100000 | 8#4755 ))" "$(xattr "$vol/s" user.virtfs.mode)"
[ -f "$vol/l" ] && [ ! -L "$vol/l" ] && ok "a guest symlink is a plain file on the host (nothing follows it)" || no "a guest symlink is a plain file on the host"
expect "a later box on the volume still sees owner and mode" "4755 0 0 /etc/shadow" \
  "$("$B" run --rm -v "$vol:/vol" "$root" sh -c 'echo $(stat -c "%a %u %g" /vol/s) $(readlink /vol/l)')"

# 2. cp out of a box.
"$B" run -d --name cpbox "$root" sleep 3600 >/dev/null || no "run -d cpbox"
"$B" exec cpbox sh -c '
  cp /bin/busybox /tmp/s && chown 1234:5678 /tmp/s && chmod 6755 /tmp/s
  mkdir -p /tmp/dir/.ssh && echo guest-key > /tmp/dir/.ssh/authorized_keys
  echo one > /tmp/dir/h1 && ln /tmp/dir/h1 /tmp/dir/h2
  ln -s /etc/shadow /tmp/shadow && ln -s /etc/shadow /tmp/dir/shadow
  mknod /tmp/null c 1 3 && mkfifo /tmp/fifo
  truncate -s 2G /tmp/sparse' || no "preparing the box's files"
"$B" cp cpbox:/tmp/s "$work/s" && ok "cp of a setuid file" || no "cp of a setuid file"
expect "... lands owned by the caller, setuid/setgid dropped" "755 $me" "$(stat -c '%a %u %g' "$work/s" 2>/dev/null)"
cmp -s "$root/bin/busybox" "$work/s" && ok "... with its content" || no "... with its content"

home=$work/h
mkdir -p "$home/.ssh" && echo host-key >"$home/.ssh/authorized_keys"
"$B" cp cpbox:/tmp/dir "$home" && ok "cp of a directory onto an existing directory" || no "cp dir onto dir"
expect "... creates dest/<name>" "guest-key" "$(cat "$home/dir/.ssh/authorized_keys" 2>/dev/null)"
expect "... and never touches what was there" "host-key" "$(cat "$home/.ssh/authorized_keys")"
"$B" cp cpbox:/tmp/dir "$home" 2>"$work/err"
[ $? -ne 0 ] && grep -q "never merges" "$work/err" && ok "a second copy onto dest/<name> is refused, not merged" || no "second copy refused" "$(cat "$work/err")"
[ -z "$(ls -A "$home" | grep -v -x -e .ssh -e dir)" ] && ok "... and leaves nothing behind" || no "... leaves nothing behind" "$(ls -A "$home")"
expect "hard links arrive as two plain files" "one one 1 1" \
  "$(echo $(cat "$home/dir/h1" "$home/dir/h2") $(stat -c %h "$home/dir/h1" "$home/dir/h2"))"
expect "a symlink inside the tree stays a symlink" "/etc/shadow" "$(readlink "$home/dir/shadow")"

"$B" cp cpbox:/tmp/shadow "$work/sh" && [ -L "$work/sh" ] && [ "$(readlink "$work/sh")" = /etc/shadow ] &&
  ok "cp of a symlink to /etc/shadow gives the symlink, never the file" || no "cp of a symlink"

for dev in null fifo; do
  "$B" cp "cpbox:/tmp/$dev" "$work/$dev" 2>"$work/err"
  [ $? -ne 0 ] && [ ! -e "$work/$dev" ] && ok "cp of a $dev node is refused" || no "cp of a $dev node is refused" "$(cat "$work/err")"
done

start=$(date +%s)
"$B" cp --max-size 1m cpbox:/tmp/sparse "$work/sparse" 2>"$work/err"
rc=$?
[ $rc -ne 0 ] && grep -q "limit of 1048576 bytes" "$work/err" && ok "a 2 GiB file under --max-size 1m is refused" || no "--max-size refusal" "rc $rc: $(cat "$work/err")"
[ -z "$(ls -A "$work" | grep -e sparse -e boxlite-cp)" ] && ok "... and nothing is left behind" || no "... nothing left behind" "$(ls -A "$work")"
echo "# the refused copy of 2 GiB took $(( $(date +%s) - start )) s (the agent's writer is killed)"
"$B" cp --max-size 1m cpbox:/tmp/dir/h1 "$work/h1" && expect "a copy under the limit passes" "one" "$(cat "$work/h1")"

"$B" rm -f cpbox >/dev/null
finish
