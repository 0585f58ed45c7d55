# SPDX-License-Identifier: Apache-2.0
"""An interactive shell in a box. On a terminal it is a real terminal session (raw mode,
window size passed on; type `exit` to leave); with a pipe on stdin it runs what it reads:

    echo 'echo hi; exit' | python3 interactive_shell.py
"""
import asyncio
import sys

from _common import box_kwargs

import boxlite


async def main():
    async with boxlite.InteractiveBox(**box_kwargs()) as box:
        code = await box.run()
    print(f"\r\n[shell exited with {code}]")
    return code


sys.exit(asyncio.run(main()))
