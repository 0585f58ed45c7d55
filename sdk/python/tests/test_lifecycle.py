# SPDX-License-Identifier: Apache-2.0
"""Handles and their order of release: executions outliving a stop, a runtime closed under
open handles, and interpreter exit with everything still open (each once crashed the
process through the library's freed connection)."""
import os
import subprocess
import sys
import textwrap

from conftest import box_options

SDK = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def test_release_order_never_crashes(home, rootfs):
    opts = box_options(rootfs)
    script = textwrap.dedent(f"""
        import asyncio, signal, sys
        sys.path.insert(0, {SDK!r})
        import boxlite

        async def main():
            rt = boxlite.Boxlite({home!r})
            box = rt.create(boxlite.BoxOptions(rootfs_path={rootfs!r}, detach={opts.detach},
                                               auto_remove=False))
            running = await box.exec("sh", "-c", "echo started; sleep 60")
            it = running.stdout()
            assert await it.__anext__() == "started\\n"
            # a stdin write blocked in a worker thread while the box stops
            cat = await box.exec("sleep", "60")
            writer = asyncio.ensure_future(cat.stdin.write(b"x" * (8 << 20)))
            await asyncio.sleep(0.5)
            await box.stop()
            assert "".join([c async for c in it]) == ""    # end-of-file, no crash
            try:
                await running.wait()
                raise SystemExit("wait after stop should fail")
            except boxlite.InvalidState:
                pass
            try:
                running.kill(signal.SIGTERM)
                raise SystemExit("kill after stop should fail")
            except boxlite.InvalidState:
                pass
            try:
                await writer
            except boxlite.BoxliteError:
                pass
            # the box starts again on the next exec, through the same handle
            ex = await box.exec("echo", "again")
            assert "".join([c async for c in ex.stdout()]) == "again\\n"
            assert (await ex.wait()).exit_code == 0
            left_open = await box.exec("sleep", "60")
            print("box", box.id, flush=True)
            # closed under its open box and execution handles; then exit with them alive
            rt.close()
            try:
                await left_open.wait()
                raise SystemExit("wait after runtime close should fail")
            except boxlite.InvalidState:
                pass
            return box, left_open, ex

        keep = asyncio.run(main())
        print("done", flush=True)
        """)
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=180)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    assert p.stdout.endswith("done\n")
    box_id = p.stdout.split()[1]
    import boxlite
    with boxlite.Boxlite(home) as rt:
        rt.remove(box_id, force=True)


def test_box_without_detach_stops_when_its_process_dies(home, rootfs):
    """A crash (SIGKILL) of the creating process stops its non-detached boxes."""
    import signal
    import time
    import boxlite
    script = textwrap.dedent(f"""
        import asyncio, sys, time
        sys.path.insert(0, {SDK!r})
        import boxlite
        rt = boxlite.Boxlite({home!r})
        box = rt.create(boxlite.BoxOptions(rootfs_path={rootfs!r}, auto_remove=False))
        asyncio.run(box.start())
        print(box.id, flush=True)
        time.sleep(600)
        """)
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    box_id = p.stdout.readline().strip()
    assert box_id, "the child did not start its box"
    with boxlite.Boxlite(home) as rt:
        box = rt.get(box_id)
        assert box.state == "running"
        pid = box.info()["pid"]
        p.send_signal(signal.SIGKILL)
        p.wait()
        # the box's process goes once its lifeline closes (no timing asserted: poll)
        for _ in range(600):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"box process {pid} still alive 30 s after its creator died")
        assert box.state == "stopped"
        rt.remove(box_id)
