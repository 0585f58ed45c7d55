"""An execution inside a box: streamed stdout/stderr, stdin, signals, resize, result.

Output arrives on non-blocking file descriptors that the event loop watches
(loop.add_reader), so reading never blocks the loop and stdout and stderr can be read
concurrently."""
import asyncio
import codecs
import ctypes
import os
import signal as _signal
from dataclasses import dataclass
from typing import AsyncIterator, Optional

from ._lib import ExecResultC, lib


@dataclass
class ExecResult:
    exit_code: int
    signal: int
    timed_out: bool
    duration: float  # seconds


async def _wait_readable(fd: int) -> None:
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    loop.add_reader(fd, lambda: fut.done() or fut.set_result(None))
    try:
        await fut
    finally:
        loop.remove_reader(fd)


async def _read_chunks(fd: int) -> AsyncIterator[bytes]:
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            await _wait_readable(fd)
            continue
        if not data:
            return
        yield data


class _Stdin:
    def __init__(self, execution):
        self._ex = execution

    async def write(self, data) -> None:
        if isinstance(data, str):
            data = data.encode()
        ex = self._ex
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: ex._lib.check(ex._lib.exec_write_stdin(ex._h, data, len(data))))

    async def close(self) -> None:
        ex = self._ex
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: ex._lib.check(ex._lib.exec_close_stdin(ex._h)))


class Execution:
    def __init__(self, handle, tty=False):
        self._lib = lib()
        self._h = handle
        self.tty = tty
        self.stdin = _Stdin(self)
        self._result = None

    async def _text(self, fd) -> AsyncIterator[str]:
        dec = codecs.getincrementaldecoder("utf-8")("replace")
        async for chunk in _read_chunks(fd):
            text = dec.decode(chunk)
            if text:
                yield text
        tail = dec.decode(b"", final=True)
        if tail:
            yield tail

    def stdout(self) -> AsyncIterator[str]:
        """Text of the process's stdout as it arrives (with a tty: all output)."""
        return self._text(self._lib.exec_stdout_fd(self._h))

    def stderr(self) -> AsyncIterator[str]:
        return self._text(self._lib.exec_stderr_fd(self._h))

    def stdout_bytes(self) -> AsyncIterator[bytes]:
        return _read_chunks(self._lib.exec_stdout_fd(self._h))

    def stderr_bytes(self) -> AsyncIterator[bytes]:
        return _read_chunks(self._lib.exec_stderr_fd(self._h))

    async def wait(self) -> ExecResult:
        if self._result is None:
            await _wait_readable(self._lib.exec_done_fd(self._h))
            res = ExecResultC()
            self._lib.check(self._lib.exec_wait(self._h, -1, ctypes.byref(res)))
            self._result = ExecResult(res.exit_code, res.signal, bool(res.timed_out),
                                      res.duration_ms / 1000.0)
        return self._result

    def kill(self, signal: int = _signal.SIGKILL) -> None:
        self._lib.check(self._lib.exec_signal(self._h, int(signal)))

    def resize(self, rows: int, cols: int) -> None:
        self._lib.check(self._lib.exec_resize(self._h, rows, cols))

    def close(self) -> None:
        if self._h:
            self._lib.exec_free(self._h)
            self._h = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
