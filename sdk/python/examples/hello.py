# SPDX-License-Identifier: Apache-2.0
"""Hello world: one box, one command, its output."""
import asyncio

from _common import box_kwargs

import boxlite


async def main():
    async with boxlite.SimpleBox(**box_kwargs()) as box:
        result = await box.exec("echo", "Hello from a BoxLite VM!")
        print(result.stdout, end="")
        result = await box.exec("uname", "-sr")
        print("kernel:", result.stdout.strip(), "| exit code", result.exit_code)


asyncio.run(main())
