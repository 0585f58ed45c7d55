"""The runtime: a home directory of boxes (the C library's boxlite_runtime)."""
import ctypes
import json
import threading
from typing import List, Optional

from ._lib import enc, lib
from .box import Box
from .options import BoxOptions


class Boxlite:
    """A BoxLite runtime. Use as a context manager, or call close()."""

    _default = None
    _default_lock = threading.Lock()

    def __init__(self, home_dir: Optional[str] = None):
        self._lib = lib()
        h = ctypes.c_void_p()
        self._lib.check(self._lib.runtime_open(enc(home_dir), ctypes.byref(h)))
        self._h = h
        self._closed = False

    @classmethod
    def default(cls) -> "Boxlite":
        """A process-wide runtime on the default home ($BOXLITE_HOME or ~/.boxlite)."""
        with cls._default_lock:
            if cls._default is None or cls._default._closed:
                cls._default = cls()
            return cls._default

    def _handle(self):
        if self._closed:
            raise ValueError("runtime is closed")
        return self._h

    def create(self, options: BoxOptions, name: Optional[str] = None) -> Box:
        o = ctypes.c_void_p()
        self._lib.check(self._lib.options_from_json(options.to_json(name).encode(), ctypes.byref(o)))
        try:
            b = ctypes.c_void_p()
            self._lib.check(self._lib.box_create(self._handle(), o, ctypes.byref(b)))
        finally:
            self._lib.options_free(o)
        return Box(self, b)

    def get(self, id_or_name: str) -> Box:
        b = ctypes.c_void_p()
        self._lib.check(self._lib.box_get(self._handle(), enc(id_or_name), ctypes.byref(b)))
        return Box(self, b)

    def list(self, state: Optional[str] = None) -> List[dict]:
        out = ctypes.c_void_p()
        self._lib.check(self._lib.box_list(self._handle(), enc(state), ctypes.byref(out)))
        return json.loads(self._lib.take_string(out))

    def remove(self, id_or_name: str, force: bool = False) -> None:
        self._lib.check(self._lib.box_remove(self._handle(), enc(id_or_name), int(force)))

    def metrics(self) -> dict:
        out = ctypes.c_void_p()
        self._lib.check(self._lib.runtime_metrics(self._handle(), ctypes.byref(out)))
        return json.loads(self._lib.take_string(out))

    def close(self) -> None:
        if not self._closed:
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
