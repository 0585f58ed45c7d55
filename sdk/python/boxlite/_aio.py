# SPDX-License-Identifier: Apache-2.0
"""The two ways the SDK waits without blocking the event loop. Internal.

- Calls into the library that may block (box start and stop, exec start, stdin writes, copies)
  run on the SDK's own worker threads, so they never take the loop's default executor from
  the application, and a stdin write waiting for the guest to read cannot starve other calls.
- Output and completion are waited on with loop.add_reader on the library's pollable fds."""
import asyncio
import concurrent.futures
import threading

_pool = None
_pool_lock = threading.Lock()


def _executor():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(max_workers=64,
                                                          thread_name_prefix="boxlite")
        return _pool


async def blocking(fn, *args):
    """Runs fn(*args) on a worker thread and returns its result (or raises its error)."""
    return await asyncio.get_running_loop().run_in_executor(_executor(), fn, *args)


async def readable(fd: int) -> None:
    """Returns when fd is readable. One waiter per fd at a time (add_reader keeps one
    callback per fd); callers make sure of that."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def ready():
        if not fut.done():
            fut.set_result(None)

    loop.add_reader(fd, ready)
    try:
        await fut
    finally:
        loop.remove_reader(fd)
