# SPDX-License-Identifier: Apache-2.0
"""A box: one micro-VM. Blocking library calls run on worker threads, so the event loop
never waits on them."""
import ctypes
import json
import os
import weakref
from typing import Dict, Optional, Sequence

from . import _aio
from ._lib import CopyOptions, ExecSpec, enc, lib
from .errors import InvalidState, NotFound
from .execution import Execution


def _cstrings(items):
    arr = (ctypes.c_char_p * (len(items) + 1))()
    for i, s in enumerate(items):
        arr[i] = enc(s)
    arr[len(items)] = None
    return arr


class Box:
    """A handle on a box. Closing the handle (close(), or leaving `async with` which also
    stops the box) leaves the box itself as the runtime says: auto_remove boxes go away
    when stopped."""

    def __init__(self, runtime, handle):
        self._rt = runtime       # the runtime must outlive this handle
        self._lib = lib()
        self._h = handle
        self.id = self._lib.box_id(handle).decode()
        self.name = self._lib.box_name(handle).decode()
        self._execs = weakref.WeakSet()

    def __repr__(self):
        return f"<boxlite.Box {self.name} {self.id[:12]}>"

    def _handle(self):
        if not self._h:
            raise InvalidState(f"the handle on box {self.name} is closed")
        return self._h

    def _json_call(self, name) -> dict:
        out = ctypes.c_void_p()
        self._lib.call(name, self._handle(), ctypes.byref(out))
        return json.loads(self._lib.take_string(out))

    def info(self) -> dict:
        """{"id", "name", "state", "image", "created", "pid", "cpus", "memory_mib", "ports", ...}"""
        return self._json_call("box_info")

    @property
    def state(self) -> str:
        return self.info()["state"]

    @property
    def status(self) -> str:
        """The state with what explains it: "running (healthy)", "stopped (main process
        exited with status 3)"."""
        return self.info()["status"]

    @property
    def stop_reason(self) -> Optional[str]:
        """Why a stopped box stopped ("stopped" when asked to, "main process killed by
        OOM", "guest kernel panic: ..."), None while it runs or if it never ran."""
        return self.info().get("stop_reason")

    @property
    def exit_code(self) -> Optional[int]:
        """The main process's (or container init's) exit status when it ended the box."""
        return self.info().get("exit_code")

    @property
    def health(self) -> Optional[str]:
        """"starting", "healthy" or "unhealthy" while a box with a health check runs."""
        return (self.info().get("health") or {}).get("status")

    async def start(self) -> None:
        """Boots the box (the first exec does this too); returns when it is ready."""
        h = self._handle()
        await _aio.blocking(self._lib.call, "box_start", h)

    async def exec(self, cmd: str, *args: str, env: Optional[Dict[str, str]] = None,
                   cwd: Optional[str] = None, user: Optional[str] = None, tty: bool = False,
                   timeout: Optional[float] = None, rows: int = 24, cols: int = 80) -> Execution:
        """Starts cmd with args (booting the box first if needed) and returns its Execution
        as soon as the request is sent. A program that cannot start (not found, bad user)
        is reported by Execution.wait()."""
        if isinstance(cmd, (list, tuple)):
            if args:
                raise TypeError("exec: give the command as one list or as arguments, not both")
            cmd, *args = cmd
        argv = [str(cmd), *map(str, args)]
        spec = ExecSpec()
        spec.size = ctypes.sizeof(ExecSpec)
        c_argv = _cstrings(argv)
        spec.argv = ctypes.cast(c_argv, ctypes.POINTER(ctypes.c_char_p))
        c_env = None
        if env:
            c_env = _cstrings([f"{k}={v}" for k, v in env.items()])
            spec.env = ctypes.cast(c_env, ctypes.POINTER(ctypes.c_char_p))
        spec.working_dir = enc(cwd)
        spec.user = enc(user)
        spec.tty = int(bool(tty))
        spec.rows, spec.cols = int(rows), int(cols)
        if timeout is not None:
            if timeout <= 0:
                raise ValueError("exec: timeout must be positive")
            spec.timeout_ms = max(1, int(timeout * 1000))
        h = self._handle()

        def start():
            keep = (c_argv, c_env)  # the spec points into these until the call returns
            out = ctypes.c_void_p()
            self._lib.call("exec_start", h, ctypes.byref(spec), ctypes.byref(out))
            del keep
            return out

        handle = await _aio.blocking(start)
        ex = Execution(self, handle, bool(tty))
        self._execs.add(ex)
        return ex

    def _close_execs(self) -> list:
        """Closes this handle's executions (the library frees their connection with the
        box's); returns them so the caller can wait until each is freed."""
        execs = list(self._execs)
        for ex in execs:
            ex.close()
        return execs

    async def stop(self, timeout: float = 10.0) -> None:
        """Stops the box: graceful for up to timeout seconds, then forced. Executions of
        this handle are closed first. An auto_remove box is removed."""
        h = self._handle()
        execs = self._close_execs()

        def stop():
            for ex in execs:
                ex._freed.wait(5)
            self._lib.call("box_stop", h, int(timeout * 1000))

        await _aio.blocking(stop)

    async def kill(self, sig: int = 9) -> None:
        """Sends signal sig (a number or signal.Signals; default SIGKILL) to the box's main
        process, as `docker kill` does. BoxliteError (STATE) when none is running."""
        await _aio.blocking(self._lib.call, "box_kill", self._handle(), int(sig))

    async def pause(self, timeout: float = 120.0) -> None:
        """Saves the box's memory in its folder and ends its VM: the box is "paused",
        nothing of it runs, and it outlives this process. Refused while executions are
        open, for a box with volumes, and on the KVM engine (QEMU engine only)."""
        h = self._handle()
        await _aio.blocking(self._lib.call, "box_pause", h, int(timeout * 1000))

    async def resume(self) -> None:
        """Restores a paused box where it was (an exec or copy does it too)."""
        await _aio.blocking(self._lib.call, "box_resume", self._handle())

    async def fork(self, *names: str) -> list:
        """New running boxes from this box's memory and disk (copy-on-write), one per name,
        each with its own id, host name, MAC, clock and reseeded RNG. Returns their Boxes."""
        if not names:
            raise ValueError("fork: give at least one name")
        h = self._handle()
        c_names = (ctypes.c_char_p * len(names))(*[enc(n) for n in names])
        out = (ctypes.c_void_p * len(names))()

        def fork():
            self._lib.call("box_fork", h, c_names, len(names), out)

        await _aio.blocking(fork)
        return [self._rt._box(ctypes.c_void_p(out[i])) for i in range(len(names))]

    async def set_balloon(self, target_mib: int) -> None:
        """Sets the running box's balloon target now: the guest memory (MiB) it may keep
        (0 = none). Lasts until the box stops, through pauses and into its forks."""
        await _aio.blocking(self._lib.call, "box_set_balloon", self._handle(), int(target_mib))

    async def reclaim(self) -> dict:
        """The guest drops its caches and compacts its free memory, which free page
        reporting hands back to the host: {"id", "name", "freed_bytes"}."""
        return await _aio.blocking(self._json_call, "box_reclaim")

    async def metrics(self) -> dict:
        """Box figures: state, the VMM's stats (cpu, memory, network), boot and start
        timings, executions and execution errors."""
        return await _aio.blocking(self._json_call, "box_metrics")

    def console(self) -> str:
        """The last lines of the box's console log."""
        out = ctypes.c_void_p()
        self._lib.call("box_console", self._handle(), ctypes.byref(out))
        return self._lib.take_string(out)

    async def copy_in(self, src: str, dst: str) -> None:
        """Copies a host file or directory to dst in the box (dst becomes the copy)."""
        h = self._handle()
        src = os.path.abspath(os.fspath(src))
        if not os.path.lexists(src):
            raise NotFound(f"copy {src} into the box: No such file or directory")
        await _aio.blocking(self._lib.call, "box_copy_in", h, enc(src), enc(dst))

    async def copy_out(self, src: str, dst: str, max_bytes: int = 0) -> None:
        """Copies src (a file or directory in the box) to dst on the host, as `docker cp`
        does: into dst/<name> when dst is a directory (never merged into an existing one),
        owned by the caller, without setuid bits, symlinks as symlinks, device nodes
        refused. max_bytes (0 = no limit) refuses a copy that would bring more."""
        h = self._handle()
        dst = os.path.abspath(os.fspath(dst))
        opts = CopyOptions(ctypes.sizeof(CopyOptions), max_bytes)
        await _aio.blocking(self._lib.call, "box_copy_out_opts", h, enc(src), enc(dst),
                            ctypes.byref(opts))

    # ---- disk snapshots and export (include/boxlite.h; restore needs a stopped box) -------

    async def snapshot_create(self, name: str) -> None:
        """Keeps the box's disk as it is now under name: a stopped box's is frozen as is, a
        running box's root filesystem is frozen while its disk's top is copied."""
        await _aio.blocking(self._lib.call, "snapshot_create", self._handle(), enc(name))

    def snapshots(self) -> list:
        """[{"name", "created" (unix seconds), "size_bytes"}], oldest first."""
        out = ctypes.c_void_p()
        self._lib.call("snapshot_list", self._handle(), ctypes.byref(out))
        return json.loads(self._lib.take_string(out))

    async def snapshot_restore(self, name: str) -> None:
        """Makes the (stopped) box's disk what it was at the snapshot; later writes go."""
        await _aio.blocking(self._lib.call, "snapshot_restore", self._handle(), enc(name))

    async def snapshot_remove(self, name: str) -> None:
        await _aio.blocking(self._lib.call, "snapshot_remove", self._handle(), enc(name))

    async def export(self, path: str) -> None:
        """Writes the box to one archive at path (Boxlite.import_box reads it)."""
        await _aio.blocking(self._lib.call, "box_export", self._handle(),
                            enc(os.path.abspath(os.fspath(path))))

    def close(self) -> None:
        """Releases this handle (and its executions); the box itself is unaffected."""
        if self._h:
            execs = self._close_execs()
            h, self._h = self._h, None
            # A call still inside an execution (a stdin write) holds the box's connection:
            # free the box only once every execution is gone, else leave it to the process.
            if all(ex._freed.wait(5) for ex in execs):
                self._lib.box_free(h)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        """Stops the box if it runs, then releases the handle."""
        try:
            try:
                state = self.info().get("state")
            except NotFound:
                state = None    # removed meanwhile (auto_remove)
            if state in ("starting", "running"):
                await self.stop()
        finally:
            self.close()

    def __del__(self):
        try:
            if self._h and not self._rt._closed:
                self.close()
        except Exception:
            pass
