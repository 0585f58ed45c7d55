# SPDX-License-Identifier: Apache-2.0
"""Synchronous wrappers for scripts that do not use asyncio. The async API runs on one
event loop in a background thread that the wrappers share, so they work from any thread,
including one that already runs an event loop of its own.

    from boxlite.sync import Boxlite, SimpleBox
    with SimpleBox(rootfs_path="/path/rootfs") as box:
        print(box.exec("echo", "hi").stdout)

    rt = Boxlite.rest("http://127.0.0.1:8100", client_id=..., client_secret=...)
    with SimpleBox(rootfs_path="bb", runtime=rt) as box:    # the same, on a server
        ...
"""
import asyncio
import functools
import inspect
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


class _Delegate:
    """What a wrapper does not define itself is its async object's: a coroutine method runs
    to completion on the background loop, anything else (quick calls, properties) is the
    object's own. One wrapper thus serves the local classes and Boxlite.rest()'s alike."""

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        attr = getattr(self._inner, name)
        if inspect.iscoroutinefunction(attr):
            return functools.wraps(attr)(lambda *a, **kw: _run(attr(*a, **kw)))
        return attr


class Box(_Delegate):
    """A box handle whose calls block until done (start, stop, copy_in, metrics, pause,
    snapshot_create, ... as on the async Box). exec runs a command to completion."""

    def __init__(self, inner):
        self._inner = inner
        self.id, self.name = inner.id, inner.name

    def __repr__(self):
        return f"<boxlite.sync.Box {self.name} {self.id[:12]}>"

    def exec(self, cmd, *args, stdin=None, **kw) -> simplebox.CommandResult:
        return _run(_collect(self._inner, cmd, args, stdin, kw))

    def fork(self, *names: str) -> list:
        return [Box(b) for b in _run(self._inner.fork(*names))]

    def close(self) -> None:
        async def close():
            self._inner.close()
        _run(close())  # on the loop that watches its executions

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _run(self._inner.__aexit__(*exc))


class Boxlite(_Delegate):
    """The runtime, with Box handles from the synchronous wrapper; every other call is the
    async runtime's (list, remove, pull, images, metrics, ...). Boxlite.rest(url, ...) is a
    remote `boxlite serve`'s boxes through the same calls."""

    def __init__(self, home_dir: Optional[str] = None, registries: Optional[dict] = None,
                 settings: Optional[dict] = None):
        self._inner = _AsyncRuntime(home_dir, registries, settings)

    @classmethod
    def rest(cls, url: str, client_id: Optional[str] = None,
             client_secret: Optional[str] = None, prefix: Optional[str] = None,
             ca_file: Optional[str] = None) -> "Boxlite":
        """As boxlite.Boxlite.rest (a RestRuntime), with blocking calls."""
        self = cls.__new__(cls)
        self._inner = _AsyncRuntime.rest(url, client_id=client_id,
                                         client_secret=client_secret, prefix=prefix,
                                         ca_file=ca_file)
        return self

    def create(self, options: BoxOptions, name: Optional[str] = None) -> Box:
        return Box(self._inner.create(options, name))

    def get(self, id_or_name: str) -> Box:
        return Box(self._inner.get(id_or_name))

    def clone(self, id_or_name: str, new_name: str) -> Box:
        return Box(self._inner.clone(id_or_name, new_name))

    def import_box(self, path: str, name: Optional[str] = None) -> Box:
        return Box(self._inner.import_box(path, name))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._inner.close()


class _Sync:
    _cls = None

    def __init__(self, *args, **kw):
        if isinstance(kw.get("runtime"), Boxlite):
            kw["runtime"] = kw["runtime"]._inner  # ours (local or rest): the async one inside
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
