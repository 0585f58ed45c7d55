#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes a gzip'd newc cpio initramfs without root: /dev/console is a device node in the
archive itself, so the kernel can open it before /init runs.

usage: mkinitramfs.py OUT.cpio.gz /init=path/to/agent [/other=path ...]"""
import gzip, os, stat, sys

def entry(out, ino, name, mode, data=b"", rdev=(0, 0), nlink=1):
    name_b = name.encode() + b"\0"
    hdr = "070701" + "".join("%08X" % v for v in (
        ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0))
    out.write(hdr.encode() + name_b)
    out.write(b"\0" * ((4 - (110 + len(name_b)) % 4) % 4))
    out.write(data)
    out.write(b"\0" * ((4 - len(data) % 4) % 4))

def main():
    out_path, files = sys.argv[1], sys.argv[2:]
    tmp = out_path + ".tmp"
    dirs = {"dev", "proc", "sys", "run", "tmp", "mnt"}
    for f in files:
        dst = f.split("=", 1)[0].strip("/")
        parts = dst.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    with gzip.GzipFile(tmp, "wb", mtime=0) as out:
        ino = 1
        for d in sorted(dirs):
            entry(out, ino, d, stat.S_IFDIR | 0o755, nlink=2); ino += 1
        entry(out, ino, "dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1)); ino += 1
        for f in files:
            dst, src = f.split("=", 1)
            with open(src, "rb") as fh:
                data = fh.read()
            entry(out, ino, dst.strip("/"), stat.S_IFREG | 0o755, data); ino += 1
        entry(out, 0, "TRAILER!!!", 0)
    os.replace(tmp, out_path)

main()
