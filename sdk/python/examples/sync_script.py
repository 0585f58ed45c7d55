# SPDX-License-Identifier: Apache-2.0
"""The same without asyncio: boxlite.sync."""
from _common import box_kwargs

from boxlite.sync import SimpleBox

with SimpleBox(**box_kwargs()) as box:
    r = box.exec("sh", "-c", "echo 2+3 is $((2+3)); echo a warning >&2; exit 1")
    print("stdout:", r.stdout.strip())
    print("stderr:", r.stderr.strip())
    print("exit code:", r.exit_code)
