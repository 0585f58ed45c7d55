"""Conveniences over Box: SimpleBox (run commands, get their output), CodeBox (run Python),
InteractiveBox (a terminal session)."""
import asyncio
import os
import sys
from dataclasses import dataclass
from typing import Optional

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


class SimpleBox:
    """A box that is created on entry and removed on exit.

        async with SimpleBox("alpine:latest") as box:
            r = await box.exec("echo", "hi")      # r.stdout == "hi\\n"
    """

    def __init__(self, image: Optional[str] = None, *, runtime: Optional[Boxlite] = None,
                 name: Optional[str] = None, **options):
        self._runtime = runtime
        self._options = BoxOptions(image=image, **options)
        self._name = name
        self.box = None

    async def __aenter__(self):
        rt = self._runtime or Boxlite.default()
        self.box = rt.create(self._options, name=self._name)
        return self

    async def __aexit__(self, *exc):
        if self.box is not None:
            await self.box.__aexit__(*exc)

    @property
    def id(self):
        return self.box.id

    async def exec(self, cmd: str, *args: str, stdin: Optional[str] = None, **kw) -> CommandResult:
        """Runs a command to completion; stdout and stderr are drained together, never one
        after the other, so a process that fills one stream cannot deadlock."""
        ex = await self.box.exec(cmd, *args, **kw)

        async def drain(it):
            return "".join([chunk async for chunk in it])

        async def feed():
            if stdin is not None:
                await ex.stdin.write(stdin)
            await ex.stdin.close()

        out, err, _ = await asyncio.gather(drain(ex.stdout()), drain(ex.stderr()), feed())
        res = await ex.wait()
        ex.close()
        return CommandResult(out, err, res.exit_code, res.signal, res.timed_out, res.duration)


class CodeBox(SimpleBox):
    """A box for running Python code (the image must have python3; default python:slim)."""

    def __init__(self, image: str = "python:3.12-slim", **kw):
        super().__init__(image, **kw)

    async def run(self, code: str, timeout: Optional[float] = None) -> CommandResult:
        return await self.exec("python3", "-c", code, timeout=timeout)

    async def run_script(self, path: str, timeout: Optional[float] = None) -> CommandResult:
        dest = "/tmp/" + os.path.basename(path)
        await self.box.copy_in(path, dest)
        return await self.exec("python3", dest, timeout=timeout)

    async def install_package(self, *packages: str) -> CommandResult:
        return await self.exec("python3", "-m", "pip", "install", "--quiet", *packages)


class InteractiveBox(SimpleBox):
    """A terminal session: the process gets a tty; the caller's terminal (if any) is bridged
    to it until the process ends."""

    def __init__(self, image: Optional[str] = None, shell: str = "/bin/sh", **kw):
        super().__init__(image, **kw)
        self.shell = shell

    async def run(self, stdin=None, stdout=None) -> int:
        stdin = stdin or sys.stdin
        stdout = stdout or sys.stdout
        size = os.get_terminal_size() if stdout.isatty() else os.terminal_size((80, 24))
        ex = await self.box.exec(self.shell, tty=True, rows=size.lines, cols=size.columns)
        loop = asyncio.get_running_loop()
        in_fd = stdin.fileno()

        def on_input():
            data = os.read(in_fd, 4096)
            if data:
                asyncio.ensure_future(ex.stdin.write(data))
            else:
                loop.remove_reader(in_fd)
                asyncio.ensure_future(ex.stdin.close())

        loop.add_reader(in_fd, on_input)
        try:
            async for chunk in ex.stdout_bytes():
                stdout.buffer.write(chunk) if hasattr(stdout, "buffer") else stdout.write(chunk.decode())
                stdout.flush()
            res = await ex.wait()
        finally:
            loop.remove_reader(in_fd)
        return res.exit_code
