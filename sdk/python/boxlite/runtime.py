# SPDX-License-Identifier: Apache-2.0
"""The runtime: a home directory of boxes (the C library's boxlite_runtime)."""
import ctypes
import os
import json
import threading
import weakref
from typing import List, Optional

from ._lib import enc, lib
from .box import Box
from .errors import InvalidState
from .options import BoxOptions


class Boxlite:
    """A BoxLite runtime on a home directory (None: $BOXLITE_HOME, else ~/.boxlite). Use as
    a context manager, or call close(), which also closes the box handles opened from it.

    These calls are quick (they read and write the state database) and are made on the
    calling thread; remove(force=True) of a running box stops it first and can take
    seconds, so from async code prefer `await box.stop()` before remove()."""

    _default = None
    _default_lock = threading.Lock()

    def __init__(self, home_dir: Optional[str] = None, registries: Optional[dict] = None,
                 settings: Optional[dict] = None):
        """settings: boxlite_runtime_open_with's options ({"vmm": path, "kernel": path,
        "qemu": path, "jail_uid": n, ...}: include/boxlite.h); each defaults to its
        environment variable. boxlite.host_check(home_dir, settings) checks the host for it."""
        self._lib = lib()
        self._closed = True
        h = ctypes.c_void_p()
        if settings is None:
            self._lib.call("runtime_open", enc(home_dir), ctypes.byref(h))
        else:
            self._lib.call("runtime_open_with", enc(home_dir), enc(json.dumps(settings)),
                           ctypes.byref(h))
        self._h = h
        self._closed = False
        self._boxes = weakref.WeakSet()
        if registries is not None:
            try:
                self.set_registries(registries)
            except Exception:
                self.close()
                raise

    def set_registries(self, registries: Optional[dict]) -> None:
        """Registry settings for this runtime's pulls, as <home>/registries.json holds them:
        {"search": [...], "registries": {host: {"mirrors": [...], "ca_file": path,
        "insecure": bool, "username": u, "password": p}}}. None goes back to the file.
        Invalid settings raise InvalidArgument naming what is wrong."""
        text = None if registries is None else json.dumps(registries)
        self._lib.call("runtime_set_registries", self._handle(), enc(text))

    @staticmethod
    def rest(url: str, client_id: Optional[str] = None, client_secret: Optional[str] = None,
             prefix: Optional[str] = None, ca_file: Optional[str] = None):
        """The boxes of a remote `boxlite serve` (BoxLite's REST API) with this runtime's
        API: the same calls on the runtime, its boxes and executions, Unsupported for what
        the API cannot do (README, "Remote boxes"). Credentials default to BOXLITE_CLIENT_ID and
        BOXLITE_CLIENT_SECRET, the tenant to BOXLITE_PREFIX, else "default". No library is
        loaded: the standard library speaks HTTP (boxlite/rest.py)."""
        from .rest import RestRuntime
        return RestRuntime(url, client_id=client_id, client_secret=client_secret,
                           prefix=prefix, ca_file=ca_file)

    @classmethod
    def default(cls) -> "Boxlite":
        """A process-wide runtime on the default home."""
        with cls._default_lock:
            if cls._default is None or cls._default._closed:
                cls._default = cls()
            return cls._default

    def _handle(self):
        if self._closed:
            raise InvalidState("the runtime is closed")
        return self._h

    def _box(self, handle) -> Box:
        box = Box(self, handle)
        self._boxes.add(box)
        return box

    def create(self, options: BoxOptions, name: Optional[str] = None) -> Box:
        """Creates a box (returns at once; the first exec or Box.start boots it)."""
        o = ctypes.c_void_p()
        self._lib.call("options_from_json", options.to_json(name).encode(), ctypes.byref(o))
        try:
            b = ctypes.c_void_p()
            self._lib.call("box_create", self._handle(), o, ctypes.byref(b))
        finally:
            self._lib.options_free(o)
        return self._box(b)

    def get(self, id_or_name: str) -> Box:
        """A handle on an existing box, by id, unique id prefix or name."""
        b = ctypes.c_void_p()
        self._lib.call("box_get", self._handle(), enc(id_or_name), ctypes.byref(b))
        return self._box(b)

    def list(self, state: Optional[str] = None) -> List[dict]:
        """Box infos, all or those in one state ("running")."""
        out = ctypes.c_void_p()
        self._lib.call("box_list", self._handle(), enc(state), ctypes.byref(out))
        return json.loads(self._lib.take_string(out))

    def rename(self, id_or_name: str, new_name: str) -> None:
        """A new name for a box in any state (AlreadyExists when taken); a running box keeps
        its host name until it restarts. Open handles keep the name they read."""
        self._lib.call("box_rename", self._handle(), enc(id_or_name), enc(new_name))

    def clone(self, id_or_name: str, new_name: str) -> Box:
        """A new box sharing the source's disk history copy-on-write: writes in either are
        not seen by the other."""
        b = ctypes.c_void_p()
        self._lib.call("box_clone", self._handle(), enc(id_or_name), enc(new_name),
                       ctypes.byref(b))
        return self._box(b)

    def import_box(self, path: str, name: Optional[str] = None) -> Box:
        """A box from an archive of Box.export (checked whole before the box exists; a
        damaged or hostile one raises InvalidArgument and leaves nothing)."""
        b = ctypes.c_void_p()
        self._lib.call("box_import", self._handle(), enc(os.path.abspath(os.fspath(path))),
                       enc(name), ctypes.byref(b))
        return self._box(b)

    def remove(self, id_or_name: str, force: bool = False) -> None:
        """Removes a box; refused while it runs unless force (which stops it first)."""
        self._lib.call("box_remove", self._handle(), enc(id_or_name), int(force))

    def pull(self, ref: str, progress=None, platform: Optional[str] = None) -> List[str]:
        """Pulls an image into the store (blocking; call it from a thread in async code);
        platform ("linux/arm64") picks a multi-platform image's variant, the host's if None.
        progress(layer, n_layers, digest, done, total) is called on this thread; returning
        False stops the pull (boxlite.Cancelled; what was downloaded is kept for the next
        pull). Returns the library's notices: the name a short reference resolved to, a
        mirror passed over."""
        from ._lib import PULL_PROGRESS

        def relay(_ud, layer, n, digest, done, total):
            try:
                stop = progress(layer, n, digest.decode() if digest else "", done, total) is False
            except Exception:
                stop = False  # an exception must not cross the C frames
            return 1 if stop else 0

        cb = PULL_PROGRESS(relay) if progress else PULL_PROGRESS()
        self._lib.call("image_pull_platform", self._handle(), enc(ref),
                       enc(platform), cb, None)
        notice = self._lib.last_notice()
        return notice.decode().splitlines() if notice else []

    def images(self) -> List[dict]:
        out = ctypes.c_void_p()
        self._lib.call("image_list", self._handle(), ctypes.byref(out))
        return json.loads(self._lib.take_string(out))

    def remove_image(self, ref: str, force: bool = False) -> None:
        self._lib.call("image_remove", self._handle(), enc(ref), int(force))

    def notices(self) -> List[str]:
        """What opening the home had to tell (permissions narrowed, leftovers of crashed
        processes removed), each line once; the library never prints them itself."""
        out = ctypes.c_void_p()
        self._lib.call("runtime_notices", self._handle(), ctypes.byref(out))
        text = self._lib.take_string(out) or ""
        return [line for line in text.split("\n") if line]

    def metrics(self) -> dict:
        """Runtime figures: boxes created, started, failed, running."""
        out = ctypes.c_void_p()
        self._lib.call("runtime_metrics", self._handle(), ctypes.byref(out))
        return json.loads(self._lib.take_string(out))

    def reclaim(self, idle: float = 0) -> list:
        """Reclaims unused memory from every running box (see Box.reclaim), or with idle
        (seconds) only from those without an execution, copy or other use for that long:
        a list of {"id", "name", "freed_bytes"}, {"id", "name", "error"}, or with idle
        {"id", "name", "idle_ms", "skipped": True} for a box not idle long enough."""
        idle_ms = int(idle * 1000)
        if idle_ms < 0 or idle_ms > 2**31 - 1:
            raise ValueError(f"idle {idle}: expected 0 to 24 days in seconds")
        out = ctypes.c_void_p()
        self._lib.call("runtime_reclaim", self._handle(), idle_ms, ctypes.byref(out))
        return json.loads(self._lib.take_string(out))

    def close(self) -> None:
        """Closes the box handles opened here, then the runtime. Boxes created without
        detach stop when their runtime's process ends."""
        if self._closed:
            return
        for box in list(self._boxes):
            box.close()
        self._closed = True
        self._lib.runtime_close(self._h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
