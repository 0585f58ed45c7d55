#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The agent's disk and root handling in a real box (the `boxlite` CLI, the engine that runs
# here): a box disk larger than its image's filesystem is grown online by the agent before
# the container starts, the grown space is usable, and the container's root comes from a
# real pivot_root: a chroot escape from inside finds only the container's own root, and no
# trace of the agent's (its initramfs /init, its tmpfs root, /mnt/rootfs).
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
B="$PWD/$build/bin/boxlite"
. tests/harness/lib.sh
need "$B (make)" test -x "$B"
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "/bin/busybox (busybox-static)" test -x /bin/busybox
need_cmd musl-gcc musl-tools
work=$(mktemp -d)
export BOXLITE_HOME=$work/home
trap 'rm -rf "$work"' EXIT

rfs=$work/rootfs
mkdir -p "$rfs/bin" "$rfs/etc"
cp /bin/busybox "$rfs/bin/"
for c in sh df dd ls cat grep sync rm; do ln -s busybox "$rfs/bin/$c"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rfs/etc/passwd"
echo 'root:x:0:' >"$rfs/etc/group"
# The classic chroot escape: chroot into a subdirectory keeping a handle on the old root,
# climb with .. far above it, chroot there and list what "/" is now.
cat >"$work/escape.c" <<'EOF'
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(void)
{
    mkdir("/jail", 0755);
    int fd = open("/", O_RDONLY | O_DIRECTORY);
    if (fd < 0 || chroot("/jail") < 0 || fchdir(fd) < 0) {
        perror("escape: set-up");
        return 1;
    }
    for (int i = 0; i < 64; i++)
        if (chdir("..") < 0)
            break;
    if (chroot(".") < 0 || chdir("/") < 0) {
        perror("escape: chroot");
        return 1;
    }
    DIR *d = opendir("/");
    struct dirent *e;
    while (d && (e = readdir(d)))
        printf("%s\n", e->d_name);
    return 0;
}
EOF
musl-gcc -static -O1 -o "$rfs/bin/escape" "$work/escape.c" || { echo "cannot build the escape helper"; exit 1; }

# One boot: a 2 GiB box disk over an image filesystem of a few hundred MiB.
out=$("$B" run --rm --disk-size 2g "$rfs" sh -c '
  echo "df $(df -k / | grep -v Filesystem)"
  dd if=/dev/zero of=/fill bs=1M count=400 2>/dev/null && sync && echo "wrote 400 MiB"; rm -f /fill
  ls -a / | sort | grep -v "^jail$" | tr "\n" " "; echo
  escape | sort | grep -v "^jail$" | tr "\n" " "; echo
  ls -a /proc/1/root/ | sort | grep -v "^jail$" | tr "\n" " "; echo
  echo "mountinfo $(cat /proc/self/mountinfo | tr "\n" "|")"
  [ -e /sys/block/vda/serial ] && echo "serial attribute"; true' 2>"$work/err")
rc=$?
[ $rc -eq 0 ] || { no "the box runs (exit $rc)" "$(cat "$work/err")"; finish; exit 1; }
echo "$out" | sed 's/^/#   /'

kib=$(echo "$out" | awk '/^df /{print $3}')
if [ -n "$kib" ] && [ "$kib" -gt $((1900 * 1024)) ] && [ "$kib" -le $((2048 * 1024)) ]; then
  ok "the rootfs filesystem grew to the 2 GiB disk (${kib} KiB)"
else
  no "the rootfs filesystem grew to the 2 GiB disk" "df says [${kib}] KiB"
fi
if grep -q "^wrote 400 MiB" <<<"$out"; then ok "400 MiB written (more than the image filesystem held)"
else no "400 MiB written on the grown filesystem" "$(cat "$work/err")"; fi

own=$(echo "$out" | sed -n 3p)
escaped=$(echo "$out" | sed -n 4p)
init_root=$(echo "$out" | sed -n 5p)
case " $own " in *" bin "*) ok "the container's own root lists bin";; *) no "the container's root" "[$own]";; esac
if [ "$escaped" = "$own" ]; then ok "a chroot escape finds the container's own root and nothing else"
else no "a chroot escape finds the container's own root" "own [$own] escaped [$escaped]"; fi
if [ "$init_root" = "$own" ]; then ok "/proc/1/root is the container's root"
else no "/proc/1/root is the container's root" "[$init_root]"; fi
case "$escaped $init_root" in
  *" init "*|*".agent-root"*) no "no trace of the agent's root" "[$escaped]";;
  *) ok "no trace of the agent's root (/init, /.agent-root)";;
esac
mi=$(echo "$out" | grep "^mountinfo")
case "$mi" in
  *"/mnt/rootfs"*|*" - rootfs "*) no "the container's mount table holds only its own mounts" "$mi";;
  *" / / "*) ok "the container's mount table holds only its own mounts";;
  *) no "the container's mount table has a root" "$mi";;
esac
# SETUP's DISK may name a device serial:NAME, looked up in /sys/block/*/serial.
if grep -q "^serial attribute$" <<<"$out"; then ok "virtio-blk disks have a serial attribute (DISK serial:NAME)"
else no "virtio-blk disks have a serial attribute" ""; fi
finish
