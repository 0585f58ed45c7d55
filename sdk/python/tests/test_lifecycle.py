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
