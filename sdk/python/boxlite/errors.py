# SPDX-License-Identifier: Apache-2.0
"""Exceptions: one per boxlite_code, all subclasses of BoxliteError."""


class BoxliteError(Exception):
    """A BoxLite failure; .code is the C library's boxlite_code, str() its message."""

    code = 14

    def __init__(self, message, code=None):
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidArgument(BoxliteError, ValueError):
    code = 1


class NotFound(BoxliteError, LookupError):
    code = 2


class AlreadyExists(BoxliteError):
    code = 3


class InvalidState(BoxliteError):
    code = 4


class IOFailure(BoxliteError, OSError):
    code = 5


class OutOfMemory(BoxliteError, MemoryError):
    code = 6


class EngineError(BoxliteError):
    code = 7


class Timeout(BoxliteError, TimeoutError):
    code = 8


class ImageError(BoxliteError):
    code = 9


class AuthError(BoxliteError):
    code = 10


class NetworkError(BoxliteError):
    code = 11


class ProtocolError(BoxliteError):
    code = 12


class Unsupported(BoxliteError, NotImplementedError):
    code = 13


class Cancelled(BoxliteError):
    """The caller stopped it (a pull whose progress callback returned False)."""
    code = 15


_BY_CODE = {c.code: c for c in (InvalidArgument, NotFound, AlreadyExists, InvalidState,
                                IOFailure, OutOfMemory, EngineError, Timeout, ImageError,
                                AuthError, NetworkError, ProtocolError, Unsupported,
                                Cancelled)}


def raise_for(code, message):
    cls = _BY_CODE.get(code, BoxliteError)
    raise cls(message or f"boxlite error {code}", code)
