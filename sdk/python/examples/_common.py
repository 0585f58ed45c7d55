# SPDX-License-Identifier: Apache-2.0
"""What the examples run in: the image or root file system directory given as the first
argument (or $BOXLITE_IMAGE), else a busybox root file system built from this machine's
/bin/busybox (Debian's busybox-static), so the examples run without a registry."""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))  # use the SDK from the checkout if not installed


def busybox_rootfs(root):
    if os.path.exists(os.path.join(root, "bin", "sh")):
        return root
    busybox = shutil.which("busybox") or "/bin/busybox"
    for d in ("bin", "etc", "tmp", "root"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy(busybox, os.path.join(root, "bin", "busybox"))
    for applet in subprocess.run([busybox, "--list"], capture_output=True, text=True,
                                 check=True).stdout.split():
        if applet != "busybox":
            os.symlink("busybox", os.path.join(root, "bin", applet))
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    return root


def _vmm_has_lifeline():
    # Until boxlite-vmm takes --lifeline-fd, only detached boxes start (then removed by
    # SimpleBox on exit). Drop this once it does.
    vmm = os.path.join(HERE, "..", "..", "..", "build", "bin", "boxlite-vmm")
    try:
        with open(vmm, "rb") as f:
            return b"lifeline-fd" in f.read()
    except OSError:
        return True


def box_kwargs():
    """Keyword arguments for SimpleBox and friends: where the box's files come from."""
    source = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BOXLITE_IMAGE")
    if source and os.path.isdir(source):
        kw = {"rootfs_path": os.path.abspath(source)}
    elif source:
        kw = {"image": source}
    else:
        cache = os.path.join(os.path.expanduser("~"), ".cache", "boxlite-examples", "busybox")
        kw = {"rootfs_path": busybox_rootfs(cache)}
    if not _vmm_has_lifeline():
        kw.update(detach=True, auto_remove=False)
    return kw
