# SPDX-License-Identifier: Apache-2.0
"""An execution inside a box: streamed stdout/stderr, stdin, signals, resize, result.

Output arrives on the library's non-blocking pipes, which the event loop watches
(loop.add_reader): reading never blocks the loop, and stdout and stderr can be read at the
same time by two tasks. Completion is the library's done fd, watched the same way.

The library stops a process whose output nobody reads (flow control), so wait() reads, into
memory, every stream that no task is reading: waiting without reading cannot deadlock, and a
later stdout()/stderr() still returns everything."""
import asyncio
import codecs
import ctypes
import os
import signal as _signal
import threading
from dataclasses import dataclass
from typing import AsyncIterator, List, Optional

from . import _aio
from ._lib import ExecResultC, lib
from .errors import InvalidState, Timeout


@dataclass
class ExecResult:
    exit_code: int      # valid when signal == 0
    signal: int         # the signal that ended the process, or 0
    timed_out: bool     # killed by the exec's timeout
    duration: float     # seconds

    @property
    def ok(self) -> bool:
        return self.signal == 0 and self.exit_code == 0 and not self.timed_out


class _Stream:
    """One output stream: read by at most one task at a time, either the user's iterator or
    wait()'s drain into memory."""

    def __init__(self, ex: "Execution", which: str):
        self._ex = ex
        self._which = which
        self._fd = None
        self._buf: List[bytes] = []
        self._eof = False
        self._user = False
        self._drain: Optional[asyncio.Task] = None

    def fd(self) -> int:
        if self._fd is None:
            self._fd = self._ex._fd(self._which)
        return self._fd

    async def _read(self) -> bytes:
        """The next chunk, or b"" at end-of-file (also once the execution is closed)."""
        while not self._eof:
            if self._ex._closed:
                self._eof = True
                break
            try:
                data = os.read(self.fd(), 65536)
            except BlockingIOError:
                await self._ex._readable(self.fd())
                continue
            if not data:
                self._eof = True
            return data
        return b""

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._user:
            raise RuntimeError(f"{self._which} is already being read by another task")
        self._user = True
        try:
            if self._drain is not None:
                # wait() was keeping the pipe moving: take over from it, keeping its bytes.
                self._drain.cancel()
                try:
                    await self._drain
                except asyncio.CancelledError:
                    pass
                self._drain = None
            while self._buf:
                yield self._buf.pop(0)
            while True:
                data = await self._read()
                if not data:
                    return
                yield data
        finally:
            self._user = False
            if self._ex._waiting():
                self.start_drain()  # the reader stopped early: wait() needs the pipe moving

    def start_drain(self) -> None:
        if self._user or self._eof or self._drain is not None:
            return

        async def drain():
            while True:
                data = await self._read()
                if not data:
                    return
                self._buf.append(data)

        self._drain = asyncio.ensure_future(drain())

    def stop(self) -> None:
        if self._drain is not None:
            self._drain.cancel()


class _Stdin:
    def __init__(self, execution: "Execution"):
        self._ex = execution
        self._lock = None  # asyncio.Lock, made on first use (inside the loop)

    def _serial(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def write(self, data) -> None:
        """Sends data to the process's stdin; returns once the library took all of it (it
        waits for the guest to make room). Writes are sent in call order."""
        if isinstance(data, str):
            data = data.encode()
        data = bytes(data)
        async with self._serial():
            await _aio.blocking(self._ex._call, "exec_write_stdin", data, len(data))

    async def close(self) -> None:
        """End-of-file on the process's stdin, after the writes already made."""
        async with self._serial():
            await _aio.blocking(self._ex._call, "exec_close_stdin")


class Execution:
    """A process started by Box.exec. Release it with close() (or `async with`); the box
    handle it came from stays alive while it exists."""

    def __init__(self, box, handle, tty: bool = False):
        self._lib = lib()
        self._box = box          # the library's execution points into the box handle
        self._h = handle
        self.tty = tty
        self.stdin = _Stdin(self)
        self._out = _Stream(self, "stdout")
        self._err = _Stream(self, "stderr")
        self._closed = False
        self._busy = 0
        self._lock = threading.Lock()
        self._freed = threading.Event()
        self._waiters = {}       # fd -> future, for the fds the loop is watching for us
        self._wait_task = None
        self._ended = False

    # ---- handle ownership: the handle is freed once closed and no call is using it ----
    def _enter(self):
        with self._lock:
            if self._closed or not self._h:
                raise InvalidState("the execution is closed")
            self._busy += 1
            return self._h

    def _leave(self):
        with self._lock:
            self._busy -= 1
            free = self._closed and self._busy == 0
        if free:
            self._free()

    def _free(self):
        with self._lock:
            h, self._h = self._h, None
        if h:
            self._lib.exec_free(h)
        self._freed.set()

    def _call(self, name, *args):
        """boxlite_<name>(handle, *args), raising on failure (on the calling thread)."""
        h = self._enter()
        try:
            self._lib.call(name, h, *args)
        finally:
            self._leave()

    def _fd(self, which: str) -> int:
        h = self._enter()
        try:
            return getattr(self._lib, f"exec_{which}_fd")(h)
        finally:
            self._leave()

    async def _readable(self, fd: int) -> None:
        if fd in self._waiters:
            raise RuntimeError("two tasks wait on one execution stream")
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._waiters[fd] = fut
        loop.add_reader(fd, lambda: fut.done() or fut.set_result(None))
        try:
            await fut
        finally:
            if self._waiters.get(fd) is fut:
                del self._waiters[fd]
                loop.remove_reader(fd)

    # ---- output ----
    def stdout(self) -> AsyncIterator[str]:
        """The process's stdout as text, as it arrives (with a tty: all output)."""
        return _decode(self._out.chunks())

    def stderr(self) -> AsyncIterator[str]:
        """The process's stderr as text, as it arrives (empty with a tty)."""
        return _decode(self._err.chunks())

    def stdout_bytes(self) -> AsyncIterator[bytes]:
        return self._out.chunks()

    def stderr_bytes(self) -> AsyncIterator[bytes]:
        return self._err.chunks()

    # ---- completion ----
    async def wait(self) -> ExecResult:
        """Waits for the process to end. Raises the library's error if it could not start
        (e.g. NotFound for a missing program). Several tasks may wait at once."""
        if self._wait_task is None:
            self._wait_task = asyncio.ensure_future(self._wait())
            # retrieved here, so a wait nobody awaits any more (closed) is not reported
            self._wait_task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return await asyncio.shield(self._wait_task)

    def _waiting(self) -> bool:
        return self._wait_task is not None and not self._wait_task.done()

    async def _wait(self) -> ExecResult:
        self._out.start_drain()
        self._err.start_drain()
        done_fd = self._fd("done")
        while True:
            res = ExecResultC()
            try:
                self._call("exec_wait", 0, ctypes.byref(res))
            except Timeout:
                await self._readable(done_fd)
                continue
            self._ended = True
            return ExecResult(res.exit_code, res.signal, bool(res.timed_out),
                              res.duration_ms / 1000.0)

    # ---- control ----
    def kill(self, signal: int = _signal.SIGKILL) -> None:
        """Sends a signal to the process (a small message; does not wait for it to end)."""
        self._call("exec_signal", int(signal))

    def resize(self, rows: int, cols: int) -> None:
        """Resizes the process's terminal (tty executions)."""
        self._call("exec_resize", int(rows), int(cols))

    def close(self) -> None:
        """Releases the execution; a process still running is killed by the agent. Tasks
        reading its output see end-of-file; a pending wait() raises InvalidState."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            busy = self._busy
            h = self._h
        self._out.stop()
        self._err.stop()
        for fd, fut in list(self._waiters.items()):
            # Only ever non-empty on the loop thread that registered them.
            try:
                asyncio.get_event_loop().remove_reader(fd)
            except Exception:
                pass
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()
        if busy and h:
            # A stdin write may be waiting for room that will never come: end the
            # process so the call returns, and the last call out frees the handle.
            try:
                self._lib.exec_signal(h, int(_signal.SIGKILL))
            except Exception:
                pass
        elif not busy:
            self._free()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if not self._closed:
                self._closed = True
                self._free()
        except Exception:
            pass


async def _decode(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    dec = codecs.getincrementaldecoder("utf-8")("replace")
    try:
        async for chunk in chunks:
            text = dec.decode(chunk)
            if text:
                yield text
        tail = dec.decode(b"", final=True)
        if tail:
            yield tail
    finally:
        await chunks.aclose()  # a reader that stopped early gives the stream back to wait()
