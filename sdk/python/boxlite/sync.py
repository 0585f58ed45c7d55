# SPDX-License-Identifier: Apache-2.0
"""Synchronous wrappers for scripts that do not use asyncio. The async API runs on one
event loop in a background thread that the wrappers share, so they work from any thread,
including one that already runs an event loop of its own.

    from boxlite.sync import SimpleBox
    with SimpleBox(rootfs_path="/path/rootfs") as box:
        print(box.exec("echo", "hi").stdout)
"""
import asyncio
import threading
from typing import Optional

from . import simplebox
from .options import BoxOptions
from .runtime import Boxlite as _AsyncRuntime

_loop = None
_loop_lock = threading.Lock()


def _run(coro):
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="boxlite-sync", daemon=True).start()
    return asyncio.run_coroutine_threadsafe(coro, _loop).result()


async def _collect(box, cmd, args, stdin, kw):
    # The same draining as SimpleBox.exec, over a plain Box.
    helper = simplebox.SimpleBox.__new__(simplebox.SimpleBox)
    helper.box = box
    return await helper.exec(cmd, *args, stdin=stdin, **kw)


class Box:
    """A box handle whose calls block until done. exec runs a command to completion."""

    def __init__(self, inner):
        self._inner = inner
        self.id, self.name = inner.id, inner.name

    def info(self) -> dict:
        return self._inner.info()

    def start(self) -> None:
        _run(self._inner.start())

    def stop(self, timeout: float = 10.0) -> None:
        _run(self._inner.stop(timeout))

    def exec(self, cmd, *args, stdin=None, **kw) -> simplebox.CommandResult:
        return _run(_collect(self._inner, cmd, args, stdin, kw))

    def metrics(self) -> dict:
        return _run(self._inner.metrics())

    def pause(self, timeout: float = 120.0) -> None:
        _run(self._inner.pause(timeout))

    def resume(self) -> None:
        _run(self._inner.resume())

    def fork(self, *names: str) -> list:
        return [Box(b) for b in _run(self._inner.fork(*names))]

    def copy_in(self, src, dst) -> None:
        _run(self._inner.copy_in(src, dst))

    def copy_out(self, src, dst, max_bytes: int = 0) -> None:
        _run(self._inner.copy_out(src, dst, max_bytes))

    def snapshot_create(self, name: str) -> None:
        _run(self._inner.snapshot_create(name))

    def snapshots(self) -> list:
        return self._inner.snapshots()

    def snapshot_restore(self, name: str) -> None:
        _run(self._inner.snapshot_restore(name))

    def snapshot_remove(self, name: str) -> None:
        _run(self._inner.snapshot_remove(name))

    def export(self, path: str) -> None:
        _run(self._inner.export(path))

    def close(self) -> None:
        async def close():
            self._inner.close()
        _run(close())  # on the loop that watches its executions

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _run(self._inner.__aexit__(*exc))


class Boxlite:
    """The runtime, with Box handles from the synchronous wrapper."""

    def __init__(self, home_dir: Optional[str] = None):
        self._inner = _AsyncRuntime(home_dir)

    def create(self, options: BoxOptions, name: Optional[str] = None) -> Box:
        return Box(self._inner.create(options, name))

    def get(self, id_or_name: str) -> Box:
        return Box(self._inner.get(id_or_name))

    def list(self, state=None):
        return self._inner.list(state)

    def remove(self, id_or_name: str, force: bool = False) -> None:
        self._inner.remove(id_or_name, force)

    def clone(self, id_or_name: str, new_name: str) -> Box:
        return Box(self._inner.clone(id_or_name, new_name))

    def import_box(self, path: str, name: Optional[str] = None) -> Box:
        return Box(self._inner.import_box(path, name))

    def metrics(self) -> dict:
        return self._inner.metrics()

    def close(self) -> None:
        self._inner.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Sync:
    _cls = None

    def __init__(self, *args, **kw):
        self._inner = self._cls(*args, **kw)

    def __enter__(self):
        _run(self._inner.__aenter__())
        return self

    def __exit__(self, *exc):
        _run(self._inner.__aexit__(*exc))

    @property
    def id(self):
        return self._inner.id

    @property
    def box(self) -> Box:
        return Box(self._inner.box)

    def exec(self, cmd, *args, **kw) -> simplebox.CommandResult:
        return _run(self._inner.exec(cmd, *args, **kw))


class SimpleBox(_Sync):
    _cls = simplebox.SimpleBox


class CodeBox(_Sync):
    _cls = simplebox.CodeBox

    def run(self, code, timeout=None):
        return _run(self._inner.run(code, timeout))

    def run_script(self, path, *args, timeout=None):
        return _run(self._inner.run_script(path, *args, timeout=timeout))

    def install_package(self, *packages, timeout=None):
        return _run(self._inner.install_package(*packages, timeout=timeout))


class InteractiveBox(_Sync):
    _cls = simplebox.InteractiveBox

    def run(self, stdin=None, stdout=None, rows=24, cols=80) -> int:
        return _run(self._inner.run(stdin, stdout, rows, cols))
