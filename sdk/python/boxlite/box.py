"""A box: one micro-VM. Blocking library calls run in worker threads, so the event loop
never waits on them."""
import asyncio
import ctypes
import json
import os
import signal as _signal
from typing import Dict, Optional, Sequence

from ._lib import ExecSpec, enc, lib
from .execution import Execution


def _cstrings(items):
    if items is None:
        return None
    arr = (ctypes.c_char_p * (len(items) + 1))()
    for i, s in enumerate(items):
        arr[i] = enc(s)
    arr[len(items)] = None
    return arr


class Box:
    def __init__(self, runtime, handle):
        self._rt = runtime
        self._lib = lib()
        self._h = handle
        self.id = self._lib.box_id(handle).decode()
        self.name = self._lib.box_name(handle).decode()

    def info(self) -> dict:
        out = ctypes.c_void_p()
        self._lib.check(self._lib.box_info(self._h, ctypes.byref(out)))
        return json.loads(self._lib.take_string(out))

    async def _call(self, fn, *args):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, fn, *args)

    async def start(self) -> None:
        await self._call(lambda: self._lib.check(self._lib.box_start(self._h)))

    async def exec(self, cmd: str, *args: str, env: Optional[Dict[str, str]] = None,
                   cwd: Optional[str] = None, user: Optional[str] = None, tty: bool = False,
                   timeout: Optional[float] = None, rows: int = 24, cols: int = 80) -> Execution:
        """Starts cmd (the box first, if needed) and returns at once with its Execution."""
        argv = [cmd, *args]
        envl = [f"{k}={v}" for k, v in env.items()] if env else None
        spec = ExecSpec()
        spec.size = ctypes.sizeof(ExecSpec)
        keep = (_cstrings(argv), _cstrings(envl))  # alive until the call returns
        spec.argv = ctypes.cast(keep[0], ctypes.POINTER(ctypes.c_char_p))
        spec.env = ctypes.cast(keep[1], ctypes.POINTER(ctypes.c_char_p)) if envl else None
        spec.working_dir = enc(cwd)
        spec.user = enc(user)
        spec.tty = int(tty)
        spec.rows, spec.cols = rows, cols
        spec.timeout_ms = int(timeout * 1000) if timeout else 0

        def start():
            h = ctypes.c_void_p()
            self._lib.check(self._lib.exec_start(self._h, ctypes.byref(spec), ctypes.byref(h)))
            return h

        handle = await self._call(start)
        return Execution(handle, tty)

    async def stop(self, timeout: float = 10.0) -> None:
        await self._call(lambda: self._lib.check(self._lib.box_stop(self._h, int(timeout * 1000))))

    async def metrics(self) -> dict:
        def get():
            out = ctypes.c_void_p()
            self._lib.check(self._lib.box_metrics(self._h, ctypes.byref(out)))
            return json.loads(self._lib.take_string(out))
        return await self._call(get)

    async def copy_in(self, src: str, dst: str) -> None:
        await self._call(lambda: self._lib.check(self._lib.box_copy_in(self._h, enc(os.path.abspath(src)), enc(dst))))

    async def copy_out(self, src: str, dst: str) -> None:
        await self._call(lambda: self._lib.check(self._lib.box_copy_out(self._h, enc(src), enc(os.path.abspath(dst)))))

    def close(self) -> None:
        """Releases this handle (the box itself is unaffected)."""
        if self._h:
            self._lib.box_free(self._h)
            self._h = None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        try:
            state = self.info().get("state")
            if state in ("starting", "running"):
                await self.stop()
        finally:
            self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
