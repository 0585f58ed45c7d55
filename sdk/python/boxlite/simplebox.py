# SPDX-License-Identifier: Apache-2.0
"""Conveniences over Box: SimpleBox (run commands, get their output), CodeBox (run Python),
InteractiveBox (a terminal session)."""
import asyncio
import os
import signal
import sys
from dataclasses import dataclass
from typing import Optional

from . import _aio
from .errors import InvalidState, NotFound
from .options import BoxOptions
from .runtime import Boxlite


@dataclass
class CommandResult:
    stdout: str
    stderr: str
    exit_code: int
    signal: int = 0
    timed_out: bool = False
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.signal == 0 and not self.timed_out


class SimpleBox:
    """A box created on entry and stopped and removed on exit.

        async with SimpleBox("alpine:latest") as box:
            r = await box.exec("echo", "hi")      # r.stdout == "hi\\n"

    Options are BoxOptions' fields (rootfs_path=..., memory_mib=..., env=...)."""

    def __init__(self, image: Optional[str] = None, *, runtime: Optional[Boxlite] = None,
                 name: Optional[str] = None, **options):
        self._runtime = runtime
        self._options = BoxOptions(image=image, **options)
        self._name = name
        self.box = None

    async def __aenter__(self):
        rt = self._runtime or Boxlite.default()
        self._runtime = rt
        self.box = rt.create(self._options, name=self._name)
        try:
            await self.box.start()
        except BaseException:
            await self._discard()
            raise
        return self

    async def __aexit__(self, *exc):
        await self._discard()

    async def _discard(self):
        box, self.box = self.box, None
        if box is None:
            return
        try:
            await box.__aexit__(None, None, None)  # stops it (auto_remove removes it)
        finally:
            try:
                await _aio.blocking(self._runtime.remove, box.id, True)
            except NotFound:
                pass

    @property
    def id(self) -> str:
        return self.box.id

    async def exec(self, cmd: str, *args: str, stdin=None, **kw) -> "CommandResult":
        """Runs a command to completion and returns its output. stdout and stderr are read
        together, never one after the other, so a process that fills one cannot stall.
        stdin (str or bytes) is written, then closed; without it stdin is closed at once.
        Keywords are Box.exec's (env, cwd, user, timeout, tty)."""
        ex = await self.box.exec(cmd, *args, **kw)
        try:
            async def drain(it):
                return "".join([chunk async for chunk in it])

            async def feed():
                try:
                    if stdin is not None:
                        await ex.stdin.write(stdin)
                    await ex.stdin.close()
                except InvalidState:
                    pass  # the process ended without reading all of it, like a closed pipe

            out, err, _ = await asyncio.gather(drain(ex.stdout()), drain(ex.stderr()), feed())
            res = await ex.wait()
        finally:
            ex.close()
        return CommandResult(out, err, res.exit_code, res.signal, res.timed_out, res.duration)


class CodeBox(SimpleBox):
    """A box for running Python code; the image (or rootfs) must have python3."""

    def __init__(self, image: Optional[str] = "python:3.12-slim", *, python: str = "python3",
                 **kw):
        if kw.get("rootfs_path"):
            image = None
        super().__init__(image, **kw)
        self.python = python

    async def run(self, code: str, timeout: Optional[float] = None) -> CommandResult:
        """Runs Python source; the code goes on stdin, so its size is not limited by the
        command line."""
        return await self.exec(self.python, "-", stdin=code, timeout=timeout)

    async def run_script(self, path: str, *args: str,
                         timeout: Optional[float] = None) -> CommandResult:
        """Copies a host script into the box and runs it with args."""
        dest = "/tmp/" + os.path.basename(path)
        await self.box.copy_in(path, dest)
        return await self.exec(self.python, dest, *args, timeout=timeout)

    async def install_package(self, *packages: str,
                              timeout: Optional[float] = None) -> CommandResult:
        """pip install inside the box (needs pip in the image and network in the box)."""
        return await self.exec(self.python, "-m", "pip", "install", "--quiet", *packages,
                               timeout=timeout)


class InteractiveBox(SimpleBox):
    """A terminal session: a shell with a tty, bridged to the caller's terminal (or to the
    given binary streams) until it ends. On a real terminal, the terminal is put in raw mode
    and window size changes are passed on."""

    def __init__(self, image: Optional[str] = None, *, shell: str = "/bin/sh", **kw):
        super().__init__(image, **kw)
        self.shell = shell

    async def run(self, stdin=None, stdout=None, rows: int = 24, cols: int = 80) -> int:
        stdin = stdin if stdin is not None else sys.stdin
        stdout = stdout if stdout is not None else sys.stdout
        in_fd = stdin.fileno()
        out = getattr(stdout, "buffer", stdout)
        is_tty = os.isatty(in_fd)
        if is_tty:
            size = os.get_terminal_size(in_fd)
            rows, cols = size.lines, size.columns
        ex = await self.box.exec(self.shell, tty=True, rows=rows, cols=cols)
        loop = asyncio.get_running_loop()
        pending = []
        saved = None
        if is_tty:
            import termios
            import tty
            saved = termios.tcgetattr(in_fd)
            tty.setraw(in_fd, termios.TCSANOW)  # keep what was typed ahead

            def winch():
                s = os.get_terminal_size(in_fd)
                try:
                    ex.resize(s.lines, s.columns)
                except Exception:
                    pass
            try:
                loop.add_signal_handler(signal.SIGWINCH, winch)
            except (RuntimeError, ValueError):
                pass  # not the main thread (e.g. boxlite.sync): no resize on SIGWINCH

        def on_input():
            try:
                data = os.read(in_fd, 4096)
            except BlockingIOError:
                return
            if not data:
                loop.remove_reader(in_fd)
                pending.append(asyncio.ensure_future(ex.stdin.close()))
            else:
                pending.append(asyncio.ensure_future(ex.stdin.write(data)))

        loop.add_reader(in_fd, on_input)
        try:
            async for chunk in ex.stdout_bytes():
                try:
                    out.write(chunk)
                except TypeError:
                    out.write(chunk.decode("utf-8", "replace"))
                out.flush()
            res = await ex.wait()
        finally:
            loop.remove_reader(in_fd)
            if is_tty:
                try:
                    loop.remove_signal_handler(signal.SIGWINCH)
                except (RuntimeError, ValueError):
                    pass
                import termios
                termios.tcsetattr(in_fd, termios.TCSADRAIN, saved)
            for p in pending:
                if not p.done():
                    p.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            ex.close()
        return res.exit_code if not res.signal else 128 + res.signal
