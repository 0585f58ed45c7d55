# SPDX-License-Identifier: Apache-2.0
"""The client of test_rest.py's backpressure check, run as a process of its own so that the
memory measured is the client's alone:

    rest_backpressure.py URL CLIENT_ID SECRET PREFIX BOX NBYTES HOLD_S

starts a command in BOX that writes NBYTES of random bytes to stdout (and their sha256 to
stderr first), reads nothing while the process still runs, for at most HOLD_S seconds
after the execution's output queue first filled, then reads all of it, hashing as it goes.
Prints one JSON object: the sha256 the box computed and the one read, the byte count, the
execution's status on the server at the end of the hold, and VmRSS/VmHWM (KiB) before the
exec, at the end of the hold and at the end."""
import asyncio
import hashlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import boxlite  # noqa: E402


def mem_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def exec_status(ex) -> str:
    return ex._box._rt._call("GET", ex._path()).get("status")


async def main(url, cid, secret, prefix, box, nbytes, hold):
    rt = boxlite.Boxlite.rest(url, client_id=cid, client_secret=secret, prefix=prefix)
    b = rt.get(box)
    base = mem_kib("VmRSS")
    ex = await b.exec("sh", "-c", f"head -c {nbytes} /dev/urandom >/tmp/bp.bin && "
                      "sha256sum /tmp/bp.bin >&2 && cat /tmp/bp.bin; rm -f /tmp/bp.bin")
    # Not reading: wait for the queue to fill (the reader thread then stops taking the
    # stream), then hold on while the process still runs, for at most `hold` seconds.
    deadline = time.monotonic() + 600
    while ex._queued < boxlite.rest.QUEUE_MAX and not ex._ended():
        if time.monotonic() > deadline:
            raise SystemExit("the output queue never filled")
        await asyncio.sleep(0.1)
    until = time.monotonic() + hold
    status = exec_status(ex)
    while status == "running" and time.monotonic() < until:
        await asyncio.sleep(0.5)
        status = exec_status(ex)
    held = mem_kib("VmRSS")
    h, n = hashlib.sha256(), 0
    async for chunk in ex.stdout_bytes():
        h.update(chunk)
        n += len(chunk)
    err = b"".join([c async for c in ex.stderr_bytes()])
    res = await ex.wait()
    print(json.dumps({"box_sha256": err.split()[0].decode() if err else "", "sha256": h.hexdigest(),
                      "bytes": n, "exit_code": res.exit_code, "status_held": status,
                      "rss_base_kib": base, "rss_held_kib": held, "rss_end_kib": mem_kib("VmRSS"),
                      "hwm_kib": mem_kib("VmHWM")}))


if __name__ == "__main__":
    a = sys.argv[1:]
    asyncio.run(main(a[0], a[1], a[2], a[3], a[4], int(a[5]), float(a[6])))
