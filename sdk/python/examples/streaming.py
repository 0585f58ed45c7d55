# SPDX-License-Identifier: Apache-2.0
"""Streaming: print a process's stdout and stderr as they arrive, while it runs."""
import asyncio
import time

from _common import box_kwargs

import boxlite


async def main():
    async with boxlite.SimpleBox(**box_kwargs()) as sb:
        start = time.monotonic()
        ex = await sb.box.exec("sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.3; done; "
                               "echo done >&2")

        async def show(stream, label):
            async for text in stream:
                for line in text.splitlines():
                    print(f"{time.monotonic() - start:5.2f}s {label}: {line}", flush=True)

        await asyncio.gather(show(ex.stdout(), "out"), show(ex.stderr(), "err"))
        result = await ex.wait()
        ex.close()
        print("exit code", result.exit_code, f"after {result.duration:.2f}s in the box")


asyncio.run(main())
