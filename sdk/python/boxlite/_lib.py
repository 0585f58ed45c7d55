# SPDX-License-Identifier: Apache-2.0
"""ctypes bindings for libboxlite.so (include/boxlite.h). Internal."""
import ctypes
import ctypes.util
import os
import threading

from .errors import raise_for

_HERE = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    env = os.environ.get("BOXLITE_LIB")
    if env:
        yield env
    # The wheel (make wheel) carries the library, and beside it boxlite-vmm and the guest
    # files, which the library finds relative to itself.
    packaged = os.path.join(_HERE, "_native", "lib", "libboxlite.so.0")
    if os.path.exists(packaged):
        yield packaged
    # From a checkout: sdk/python/boxlite -> build/lib
    yield os.path.normpath(os.path.join(_HERE, "..", "..", "..", "build", "lib", "libboxlite.so"))
    # An installed package: where the library was when it was built (setup.py).
    try:
        from ._build_config import LIBRARY
    except ImportError:
        LIBRARY = None
    if LIBRARY:
        yield LIBRARY
    found = ctypes.util.find_library("boxlite")
    if found:
        yield found


def _load():
    errors = []
    for path in _candidates():
        if "/" in path and not os.path.exists(path):
            errors.append(f"{path}: no such file")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise OSError("libboxlite.so not found (set BOXLITE_LIB); tried: " + "; ".join(errors))


class ExecSpec(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_uint),
        ("argv", ctypes.POINTER(ctypes.c_char_p)),
        ("env", ctypes.POINTER(ctypes.c_char_p)),
        ("working_dir", ctypes.c_char_p),
        ("user", ctypes.c_char_p),
        ("tty", ctypes.c_int),
        ("rows", ctypes.c_uint),
        ("cols", ctypes.c_uint),
        ("timeout_ms", ctypes.c_longlong),
        ("security", ctypes.c_void_p),  # boxlite_process_security *, unused here: NULL
        ("root", ctypes.c_char_p),  # a pod container's root in the box, unused here: NULL
        ("group", ctypes.c_char_p),  # a container's process group in the guest, unused: NULL
        ("pids_max", ctypes.c_longlong),
    ]


class CopyOptions(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_uint),
        ("max_bytes", ctypes.c_ulonglong),
    ]


class ExecResultC(ctypes.Structure):
    _fields_ = [
        ("exit_code", ctypes.c_int),
        ("signal", ctypes.c_int),
        ("timed_out", ctypes.c_int),
        ("duration_ms", ctypes.c_double),
    ]


P = ctypes.c_void_p
PP = ctypes.POINTER(ctypes.c_void_p)
S = ctypes.c_char_p
SP = ctypes.POINTER(ctypes.c_char_p)
I = ctypes.c_int

# name: (restype, argtypes). Functions return boxlite_code unless restype says otherwise.
# void (*)(void *user_data, int layer, int n_layers, const char *digest, done, total)
PULL_PROGRESS = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                 ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_ulonglong)

_PROTOS = {
    "boxlite_image_pull": (I, [P, S, PULL_PROGRESS, P]),
    "boxlite_image_pull_platform": (I, [P, S, S, PULL_PROGRESS, P]),
    "boxlite_image_list": (I, [P, ctypes.POINTER(P)]),
    "boxlite_image_remove": (I, [P, S, I]),
    "boxlite_version": (S, []),
    "boxlite_version_number": (I, []),
    "boxlite_errmsg": (S, []),
    "boxlite_errcode": (I, []),
    "boxlite_code_str": (S, [I]),
    "boxlite_free": (None, [P]),
    "boxlite_runtime_open": (I, [S, PP]),
    "boxlite_runtime_open_with": (I, [S, S, PP]),
    "boxlite_runtime_set_registries": (I, [P, S]),
    "boxlite_last_notice": (S, []),
    "boxlite_runtime_close": (None, [P]),
    "boxlite_runtime_metrics": (I, [P, ctypes.POINTER(P)]),
    "boxlite_host_check": (I, [S, ctypes.POINTER(P)]),
    "boxlite_host_check_with": (I, [S, S, ctypes.POINTER(P)]),
    "boxlite_runtime_notices": (I, [P, ctypes.POINTER(P)]),
    "boxlite_options_from_json": (I, [S, PP]),
    "boxlite_options_to_json": (I, [P, ctypes.POINTER(P)]),
    "boxlite_options_free": (None, [P]),
    "boxlite_box_create": (I, [P, P, PP]),
    "boxlite_box_get": (I, [P, S, PP]),
    "boxlite_box_start": (I, [P]),
    "boxlite_box_stop": (I, [P, I]),
    "boxlite_box_remove": (I, [P, S, I]),
    "boxlite_box_free": (None, [P]),
    "boxlite_box_id": (S, [P]),
    "boxlite_box_name": (S, [P]),
    "boxlite_box_info": (I, [P, ctypes.POINTER(P)]),
    "boxlite_box_list": (I, [P, S, ctypes.POINTER(P)]),
    "boxlite_box_metrics": (I, [P, ctypes.POINTER(P)]),
    "boxlite_box_console": (I, [P, ctypes.POINTER(P)]),
    "boxlite_box_rename": (I, [P, S, S]),
    "boxlite_box_log_open": (I, [P, S, PP]),
    "boxlite_box_log_open_with": (I, [P, S, S, PP]),
    "boxlite_box_attach_stdin": (I, [P, PP]),
    "boxlite_box_kill": (I, [P, I]),
    "boxlite_log_read": (ctypes.c_longlong, [P, ctypes.c_void_p, ctypes.c_size_t]),
    "boxlite_log_close": (None, [P]),
    "boxlite_log_ended": (I, [P]),
    "boxlite_log_position": (I, [P, ctypes.c_char_p, ctypes.c_size_t]),
    "boxlite_box_reclaim_idle": (I, [P, I, ctypes.POINTER(P)]),
    "boxlite_options_set_tty": (I, [P, I]),
    "boxlite_box_copy_in": (I, [P, S, S]),
    "boxlite_box_copy_out": (I, [P, S, S]),
    "boxlite_box_copy_out_opts": (I, [P, S, S, ctypes.POINTER(CopyOptions)]),
    "boxlite_exec_start": (I, [P, ctypes.POINTER(ExecSpec), PP]),
    "boxlite_exec_start_detached": (I, [P, ctypes.POINTER(ExecSpec)]),
    "boxlite_exec_stdout_fd": (I, [P]),
    "boxlite_exec_stderr_fd": (I, [P]),
    "boxlite_exec_done_fd": (I, [P]),
    "boxlite_exec_write_stdin": (I, [P, P, ctypes.c_size_t]),
    "boxlite_exec_close_stdin": (I, [P]),
    "boxlite_exec_signal": (I, [P, I]),
    "boxlite_exec_resize": (I, [P, ctypes.c_uint, ctypes.c_uint]),
    "boxlite_exec_wait": (I, [P, I, ctypes.POINTER(ExecResultC)]),
    "boxlite_exec_free": (None, [P]),
    "boxlite_snapshot_create": (I, [P, S]),
    "boxlite_snapshot_list": (I, [P, ctypes.POINTER(P)]),
    "boxlite_snapshot_restore": (I, [P, S]),
    "boxlite_snapshot_remove": (I, [P, S]),
    "boxlite_box_clone": (I, [P, S, S, PP]),
    "boxlite_box_export": (I, [P, S]),
    "boxlite_box_import": (I, [P, S, S, PP]),
    "boxlite_box_import_with": (I, [P, S, S, S, PP]),
    "boxlite_box_pause": (I, [P, I]),
    "boxlite_box_resume": (I, [P]),
    "boxlite_box_fork": (I, [P, ctypes.POINTER(S), ctypes.c_size_t, ctypes.POINTER(P)]),
    "boxlite_box_set_balloon": (I, [P, I]),
    "boxlite_box_reclaim": (I, [P, ctypes.POINTER(P)]),
    "boxlite_runtime_reclaim": (I, [P, ctypes.c_int, ctypes.POINTER(P)]),
    "boxlite_box_set_group_pids": (I, [P, S, ctypes.c_longlong]),
}


class _Lib:
    """The C functions, bound (types set) once at load, before any thread uses them. A
    library without one of them still loads; using that one says clearly it is missing."""

    def __init__(self):
        self._dll = _load()
        for full in _PROTOS:
            try:
                getattr(self, full[len("boxlite_"):])
            except NotImplementedError:
                pass

    def __getattr__(self, name):
        full = "boxlite_" + name
        if full not in _PROTOS:
            raise AttributeError(name)
        try:
            fn = getattr(self._dll, full)
        except AttributeError:
            raise NotImplementedError(f"{full} is not in this libboxlite.so") from None
        fn.restype, fn.argtypes = _PROTOS[full]
        setattr(self, name, fn)
        return fn

    def check(self, code):
        """Raises the BoxliteError subclass for a non-zero boxlite_code. The message is
        thread-local in the library: call this on the thread that made the failing call
        (which call() does)."""
        if code != 0:
            raise_for(code, self.errmsg().decode("utf-8", "replace"))

    def call(self, name, *args):
        """Calls boxlite_<name> and raises on failure, reading the message on this thread."""
        self.check(getattr(self, name)(*args))

    def take_string(self, ptr):
        """Copies a char* the library returned and frees it."""
        if not ptr:
            return None
        try:
            return ctypes.string_at(ptr).decode("utf-8", "replace")
        finally:
            self.free(ptr)


_lib = None
_lib_lock = threading.Lock()


def lib():
    global _lib
    with _lib_lock:
        if _lib is None:
            _lib = _Lib()
        return _lib


def enc(s):
    return None if s is None else os.fsencode(s) if not isinstance(s, bytes) else s
