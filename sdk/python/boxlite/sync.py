"""Synchronous wrappers for scripts that do not use asyncio. Each call runs the async API on
an event loop owned by the wrapper.

    from boxlite.sync import SimpleBox
    with SimpleBox("alpine:latest") as box:
        print(box.exec("echo", "hi").stdout)
"""
import asyncio

from . import simplebox


class _Sync:
    _cls = None

    def __init__(self, *args, **kw):
        self._loop = asyncio.new_event_loop()
        self._inner = self._cls(*args, **kw)

    def _run(self, coro):
        return self._loop.run_until_complete(coro)

    def __enter__(self):
        self._run(self._inner.__aenter__())
        return self

    def __exit__(self, *exc):
        try:
            self._run(self._inner.__aexit__(*exc))
        finally:
            self._loop.close()

    @property
    def id(self):
        return self._inner.id

    def exec(self, cmd, *args, **kw):
        return self._run(self._inner.exec(cmd, *args, **kw))


class SimpleBox(_Sync):
    _cls = simplebox.SimpleBox


class CodeBox(_Sync):
    _cls = simplebox.CodeBox

    def run(self, code, timeout=None):
        return self._run(self._inner.run(code, timeout))

    def install_package(self, *packages):
        return self._run(self._inner.install_package(*packages))
