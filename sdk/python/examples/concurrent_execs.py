# SPDX-License-Identifier: Apache-2.0
"""Ten commands at once in one box, from one event loop."""
import asyncio

from _common import box_kwargs

import boxlite


async def main():
    async with boxlite.SimpleBox(**box_kwargs()) as box:
        async def job(i):
            r = await box.exec("sh", "-c", f"sleep 0.{i}; echo job {i} squared is $(({i}*{i}))")
            return r.stdout.strip()

        for line in await asyncio.gather(*(job(i) for i in range(10))):
            print(line)


asyncio.run(main())
