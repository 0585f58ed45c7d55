#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The Python wheel: `make wheel` builds it without network (packaging/mkwheel.py, standard
# library only); `pip install --no-index` puts it in a fresh venv (no system site-packages),
# and from a folder outside the checkout, with PYTHONPATH and BOXLITE_LIB unset and no kernel
# cache in HOME, SimpleBox runs a command in a box (QEMU engine): the SDK loads the library
# inside the package, which finds boxlite-vmm and the guest files beside it; nothing the
# process maps comes from the checkout. The CLI inside the package answers too.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
. tests/harness/lib.sh
need_cmd qemu-system-x86_64 qemu-system-x86
need "a cached guest kernel (scripts/build-kernel.sh)" scripts/build-kernel.sh --cached-only
need "a cached arm64 guest kernel (scripts/build-kernel.sh --arch arm64)" scripts/build-kernel.sh --arch arm64 --cached-only
need "$build/lib/libboxlite.so.0 (make)" test -e "$build/lib/libboxlite.so.0"
need "/bin/busybox (busybox-static)" test -x /bin/busybox
need "python3 -m venv with pip (python3-venv)" /usr/bin/python3 -c 'import ensurepip, venv'
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
checkout=$PWD

whl=$(make -s O="$build" wheel 2> "$work/make.log" | tail -1)
check "make wheel builds a wheel" test -f "$whl"
[ -f "$whl" ] || { sed 's/^/make: /' "$work/make.log"; finish; exit 1; }
expect "its name carries the version and the platform" \
  "boxlite-$(sed -n 's/^#define BOXLITE_VERSION "\(.*\)"/\1/p' include/boxlite.h)-py3-none-linux_x86_64.whl" \
  "$(basename "$whl")"
cp "$whl" "$work/"
# The wheel's RECORD must match its files (pip checks it too, on install).
/usr/bin/python3 - "$work/$(basename "$whl")" > "$work/record" 2>&1 <<'PY'
import base64, hashlib, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
rec = [n for n in z.namelist() if n.endswith(".dist-info/RECORD")][0]
bad = 0
for line in z.read(rec).decode().splitlines():
    name, h, size = line.rsplit(",", 2)
    if name == rec:
        continue
    data = z.read(name)
    d = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    if d != h or int(size) != len(data):
        print("mismatch", name); bad += 1
print("record", "ok" if not bad else "bad")
PY
has "RECORD: every file's hash and size" "record ok" "$work/record"

# A fresh venv, installed from the wheel file alone.
/usr/bin/python3 -m venv "$work/venv" > "$work/venv.log" 2>&1
expect "python3 -m venv" 0 "$?"
"$work/venv/bin/pip" install --no-index --no-cache-dir "$work/$(basename "$whl")" > "$work/pip.log" 2>&1
expect "pip install --no-index boxlite-*.whl" 0 "$?" || sed 's/^/pip: /' "$work/pip.log"

rootfs=$work/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/root"
cp /bin/busybox "$rootfs/bin/"
ln -s busybox "$rootfs/bin/sh"; ln -s busybox "$rootfs/bin/echo"
echo 'root:x:0:0:root:/root:/bin/sh' > "$rootfs/etc/passwd"
echo 'root:x:0:' > "$rootfs/etc/group"
mkdir -p "$work/away" "$work/home"
cat > "$work/away/run.py" <<PY
import asyncio, os, sys
import boxlite
from boxlite import _lib
venv = "$work/venv"
assert boxlite.__file__.startswith(venv), boxlite.__file__
async def main():
    rt = boxlite.Boxlite("$work/bh")
    async with boxlite.SimpleBox(runtime=rt, rootfs_path="$rootfs", engine="qemu",
                                 network=False) as b:
        r = await b.exec("echo", "from-the-wheel")
        print(r.stdout, end="")
    rt.close()
asyncio.run(main())
maps = open("/proc/self/maps").read()
print("library:", _lib.lib()._dll._name if hasattr(_lib.lib(), "_dll") else "")
print("checkout mapped:", "$checkout/" in maps)
print("packaged library mapped:", os.path.join(os.path.dirname(boxlite.__file__), "_native", "lib") in maps)
PY
(cd "$work/away" && env -u PYTHONPATH -u BOXLITE_LIB -u BOXLITE_VMM -u BOXLITE_KERNEL \
   -u BOXLITE_INITRD -u BOXLITE_CACHE -u BOXLITE_HOME HOME="$work/home" \
   "$work/venv/bin/python" run.py) > "$work/out" 2> "$work/err"
expect "SimpleBox in the venv runs a box" 0 "$?"
sed 's/^/python: /' "$work/out" "$work/err" | tail -20
has "... and prints the command's output" "from-the-wheel" "$work/out"
has "the library loaded is the one inside the package" "packaged library mapped: True" "$work/out"
has "nothing of the checkout is mapped" "checkout mapped: False" "$work/out"
cli=$(ls "$work"/venv/lib/python3*/site-packages/boxlite/_native/bin/boxlite)
check "the packaged CLI is executable" test -x "$cli"
HOME=$work/home BOXLITE_HOME=$work/bh "$cli" ps > "$work/ps" 2>&1
expect "the packaged CLI runs (boxlite ps)" 0 "$?"
for f in Image initramfs.cpio.gz; do
  check "the package carries the arm64 guest: share/boxlite/arm64/$f" \
    test -s "$(dirname "$(dirname "$cli")")/share/boxlite/arm64/$f"
done
finish
