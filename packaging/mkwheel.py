#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Builds the Python wheel boxlite-<version>-py3-none-linux_x86_64.whl from a build tree,
with the standard library only (no PyPI, no setuptools): the SDK's modules and, under
boxlite/_native/, the relocatable tree of `make install` that the SDK needs at run time:
lib/libboxlite.so.0, libexec/boxlite/boxlite-vmm, share/boxlite/{vmlinux,initramfs.cpio.gz}
and bin/boxlite (the CLI); share/boxlite/arm64/{Image,initramfs.cpio.gz}, the arm64 guest,
when KERNEL_ARM64 is given and the build tree has its initramfs. The library finds the VMM and the guest files relative to itself,
so the installed package works wherever pip puts it.

    packaging/mkwheel.py BUILD_DIR KERNEL OUT_DIR [KERNEL_ARM64]    (make wheel runs it)

The wheel is a zip (PEP 427): the files, then .dist-info/{METADATA,WHEEL,top_level.txt,
RECORD}, RECORD holding every file's sha256 and size. Its platform tag is linux_x86_64: the
library links the system's shared libraries (the .deb's Depends name them)."""
import base64
import hashlib
import os
import re
import sys
import zipfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def version():
    with open(os.path.join(ROOT, "include", "boxlite.h")) as f:
        return re.search(r'^#define BOXLITE_VERSION "([^"]+)"', f.read(), re.M).group(1)


def main(build, kernel, out, kernel_arm64=""):
    ver = version()
    major = ver.split(".")[0]
    tag = "py3-none-linux_x86_64"
    name = f"boxlite-{ver}-{tag}.whl"
    dist = f"boxlite-{ver}.dist-info"
    files = []  # (archive name, bytes, executable)

    sdk = os.path.join(ROOT, "sdk", "python", "boxlite")
    for fn in sorted(os.listdir(sdk)):
        if fn.endswith(".py") and fn != "_build_config.py":
            with open(os.path.join(sdk, fn), "rb") as f:
                files.append((f"boxlite/{fn}", f.read(), False))
    # No build-time library path: the package finds its own _native/lib.
    files.append(("boxlite/_build_config.py",
                  b'"""Written by packaging/mkwheel.py: the library is in _native/lib."""\n'
                  b"LIBRARY = None\n", False))
    native = [
        (f"lib/libboxlite.so.{major}", os.path.join(build, "lib", f"libboxlite.so.{ver}"), False),
        ("libexec/boxlite/boxlite-vmm", os.path.join(build, "bin", "boxlite-vmm"), True),
        ("bin/boxlite", os.path.join(build, "bin", "boxlite"), True),
        ("share/boxlite/vmlinux", kernel, False),
        ("share/boxlite/initramfs.cpio.gz", os.path.join(build, "guest", "initramfs.cpio.gz"),
         False),
    ]
    initrd_arm64 = os.path.join(build, "guest-arm64", "initramfs.cpio.gz")
    if kernel_arm64 and os.path.isfile(kernel_arm64) and os.path.isfile(initrd_arm64):
        native += [("share/boxlite/arm64/Image", kernel_arm64, False),
                   ("share/boxlite/arm64/initramfs.cpio.gz", initrd_arm64, False)]
    for arc, path, exe in native:
        with open(path, "rb") as f:
            files.append((f"boxlite/_native/{arc}", f.read(), exe))
    with open(os.path.join(ROOT, "sdk", "python", "README.md"), "rb") as f:
        readme = f.read().decode()
    with open(os.path.join(ROOT, "LICENSE"), "rb") as f:
        files.append((f"{dist}/LICENSE", f.read(), False))
    meta = (f"Metadata-Version: 2.1\nName: boxlite\nVersion: {ver}\n"
            "Summary: Run OCI images in lightweight VMs from Python (asyncio), over libboxlite\n"
            "License: Apache-2.0\nRequires-Python: >=3.9\n"
            "Description-Content-Type: text/markdown\n\n" + readme)
    files.append((f"{dist}/METADATA", meta.encode(), False))
    files.append((f"{dist}/WHEEL", (f"Wheel-Version: 1.0\nGenerator: boxlite mkwheel.py\n"
                                    f"Root-Is-Purelib: false\nTag: {tag}\n").encode(), False))
    files.append((f"{dist}/top_level.txt", b"boxlite\n", False))

    record = []
    for arc, data, _ in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{arc},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files.append((f"{dist}/RECORD", ("\n".join(record) + "\n").encode(), False))

    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, name)
    tmp = path + ".tmp"
    # A fixed date: the same inputs give the same wheel.
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for arc, data, exe in files:
            info = zipfile.ZipInfo(arc, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100755 if exe else 0o100644) << 16
            z.writestr(info, data)
    os.replace(tmp, path)
    print(path)


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit("usage: mkwheel.py BUILD_DIR KERNEL OUT_DIR [KERNEL_ARM64]")
    main(*sys.argv[1:])
