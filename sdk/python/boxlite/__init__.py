# SPDX-License-Identifier: Apache-2.0
"""BoxLite: run OCI images in lightweight VMs, from asyncio code."""
from .box import Box
from .errors import (AlreadyExists, AuthError, BoxliteError, Cancelled, EngineError, ImageError,
                     InvalidArgument, InvalidState, IOFailure, NetworkError, NotFound,
                     OutOfMemory, ProtocolError, Timeout, Unsupported)
from .execution import Execution, ExecResult
from .options import BoxOptions
from .runtime import Boxlite
from .rest import RestBox, RestExecution, RestRuntime
from .simplebox import CodeBox, CommandResult, InteractiveBox, SimpleBox

__version__ = "0.1.0"


def library_version() -> str:
    from ._lib import lib
    return lib().version().decode()


def host_check(home_dir=None, settings=None) -> dict:
    """Whether and how boxes can run on this host, as `boxlite doctor` shows it (without its
    smoke boxes): {"checks": [{"name", "status", "detail", "fix"}], "engines": {...}}.
    settings: as for Boxlite(home_dir, settings=...) ({"qemu": path, "vmm": path, ...}):
    the host is checked for a runtime opened with them."""
    import ctypes
    import json
    from ._lib import enc, lib
    out = ctypes.c_void_p()
    if settings is None:
        lib().call("host_check", enc(home_dir), ctypes.byref(out))
    else:
        lib().call("host_check_with", enc(home_dir), enc(json.dumps(settings)),
                   ctypes.byref(out))
    return json.loads(lib().take_string(out))


__all__ = ["Boxlite", "BoxOptions", "Box", "Execution", "ExecResult", "SimpleBox", "CodeBox",
           "InteractiveBox", "CommandResult", "BoxliteError", "InvalidArgument", "NotFound",
           "AlreadyExists", "InvalidState", "IOFailure", "OutOfMemory", "EngineError",
           "Timeout", "ImageError", "AuthError", "NetworkError", "ProtocolError", "Unsupported",
           "library_version", "host_check", "RestRuntime", "RestBox", "RestExecution"]
