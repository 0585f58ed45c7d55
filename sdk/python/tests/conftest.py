"""Fixtures: a busybox root file system (and one with python3), a runtime on a fresh home,
and options for boxes booted through whichever engine runs here (QEMU TCG on machines
without hardware virtualization)."""
import asyncio
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

import boxlite  # noqa: E402

REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def run(coro, timeout=120):
    """Runs a test coroutine on a fresh loop; a hang fails the test instead of the suite."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def make_busybox_rootfs(root):
    for d in ("bin", "etc", "tmp", "root", "proc", "sys", "dev"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    shutil.copy(BUSYBOX, os.path.join(root, "bin", "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for a in applets:
        p = os.path.join(root, "bin", a)
        if not os.path.lexists(p):
            os.symlink("busybox", p)
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")
    return root


def add_python(root):
    """Copies this machine's python3 (interpreter, shared libraries, standard library) into
    root: a real CPython in the box, in seconds instead of a debootstrap."""
    py = os.path.realpath(sys.executable if sys.executable.startswith("/usr/") else "/usr/bin/python3")
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    os.makedirs(os.path.join(root, "usr", "bin"), exist_ok=True)
    shutil.copy(py, os.path.join(root, "usr", "bin", ver))
    os.symlink(ver, os.path.join(root, "usr", "bin", "python3"))
    libs = subprocess.run(["ldd", py], capture_output=True, text=True, check=True).stdout
    for line in libs.splitlines():
        parts = line.split()
        path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
        if path.startswith("/"):
            dst = root + path
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy(path, dst)
    skip = shutil.ignore_patterns("test", "tests", "idlelib", "tkinter", "turtledemo",
                                  "lib2to3", "ensurepip", "config-*", "pydoc_data")
    shutil.copytree(f"/usr/lib/{ver}", os.path.join(root, "usr", "lib", ver), ignore=skip,
                    symlinks=True)
    for d in ("lib64",):  # the loader's path as ldd printed it
        os.makedirs(os.path.join(root, d), exist_ok=True)
    return root


def box_options(rootfs, **kw):
    if os.environ.get("BOXLITE_TEST_ENGINE"):
        kw.setdefault("engine", os.environ["BOXLITE_TEST_ENGINE"])
    return boxlite.BoxOptions(rootfs_path=rootfs, **kw)


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory):
    return make_busybox_rootfs(str(tmp_path_factory.mktemp("rootfs") / "busybox"))


@pytest.fixture(scope="session")
def python_rootfs(tmp_path_factory):
    root = make_busybox_rootfs(str(tmp_path_factory.mktemp("rootfs") / "python"))
    return add_python(root)


@pytest.fixture(scope="session")
def home(tmp_path_factory):
    return str(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="session")
def runtime(home):
    rt = boxlite.Boxlite(home)
    yield rt
    for b in rt.list():
        try:
            rt.remove(b["id"], force=True)
        except boxlite.BoxliteError:
            pass
    rt.close()


@pytest.fixture(scope="module")
def shared_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("shared")
    (d / "from-host.txt").write_text("written on the host\n")
    return str(d)


def _start_shared_box(runtime, rootfs, shared_dir):
    b = runtime.create(box_options(rootfs, volumes=[(shared_dir, "/data")], memory_mib=256,
                                   env={"BOX_LEVEL": "yes"}))
    run(b.start())
    return b


def _dispose(runtime, b):
    try:
        run(b.stop())
    except boxlite.BoxliteError:
        pass
    finally:
        b.close()
        try:
            runtime.remove(b.id, force=True)
        except boxlite.NotFound:
            pass


def _healthy(b):
    async def probe():
        async with await b.exec("true", timeout=20) as ex:
            return (await ex.wait()).exit_code == 0
    try:
        return run(probe(), timeout=30)
    except Exception:  # noqa: BLE001 - any failure means "start a new one"
        return False


@pytest.fixture(scope="module")
def _shared_box_slot(runtime):
    slot = {"box": None}
    yield slot
    if slot["box"] is not None:
        _dispose(runtime, slot["box"])


@pytest.fixture
def box(_shared_box_slot, runtime, rootfs, shared_dir):
    """A running box shared by a module's tests, with shared_dir at /data. Each test first
    checks that it still runs a command and gets a new box if an earlier test broke it, so
    one failure does not cascade into the rest of the module."""
    b = _shared_box_slot["box"]
    if b is not None and not _healthy(b):
        _dispose(runtime, b)
        b = None
    if b is None:
        b = _shared_box_slot["box"] = _start_shared_box(runtime, rootfs, shared_dir)
    return b


def need(what, ok):
    """A prerequisite that scripts/setup.sh installs: a skip on a developer's machine, a
    failure in strict mode (CI=true or BOXLITE_TEST_STRICT=1)."""
    if ok:
        return
    if os.environ.get("CI") == "true" or os.environ.get("BOXLITE_TEST_STRICT") == "1":
        pytest.fail(f"missing prerequisite (scripts/setup.sh or CI provides it): {what}")
    pytest.skip(f"missing prerequisite: {what}")
