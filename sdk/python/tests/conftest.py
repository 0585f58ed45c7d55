# SPDX-License-Identifier: Apache-2.0
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
sys.path.insert(0, os.path.join(REPO, "tests", "fixtures"))
from mkrootfs import add_python, make_busybox_rootfs  # noqa: E402,F401  (shared with the other SDKs' tests)


def run(coro, timeout=120):
    """Runs a test coroutine on a fresh loop; a hang fails the test instead of the suite.
    (The Node SDK's merge moved the rootfs helpers to tests/fixtures/mkrootfs.py and took
    this one with them, though five test modules import it.)"""
    return asyncio.run(asyncio.wait_for(coro, timeout))


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
