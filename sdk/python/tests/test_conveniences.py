# SPDX-License-Identifier: Apache-2.0
"""SimpleBox, CodeBox, InteractiveBox and the synchronous wrapper, each booting its own box."""
import asyncio
import os
import sys

import pytest

import boxlite
import boxlite.sync
from conftest import box_options, run


def simple_kw(rootfs):
    o = box_options(rootfs)
    return dict(rootfs_path=rootfs, detach=o.detach, auto_remove=o.auto_remove,
                engine=o.engine)


def test_simplebox_drains_both_streams_and_is_removed(runtime, rootfs):
    n = 3 << 20
    cmd = f"head -c {n} /dev/zero | tr '\\0' o & head -c {n} /dev/zero | tr '\\0' e >&2; wait; exit 5"

    async def main():
        # The boot (seconds) runs on a worker thread: other tasks keep running meanwhile.
        phase, seen = ["starting"], []

        async def ticker():
            while phase[0] == "starting":
                seen.append(phase[0])
                await asyncio.sleep(0.01)
        tick = asyncio.ensure_future(ticker())
        async with boxlite.SimpleBox(runtime=runtime, **simple_kw(rootfs)) as sb:
            phase[0] = "started"
            await tick
            assert "starting" in seen
            box_id = sb.id
            r = await sb.exec("sh", "-c", cmd)
            assert (len(r.stdout), len(r.stderr), r.exit_code) == (n, n, 5)
            assert set(r.stdout) == {"o"} and set(r.stderr) == {"e"}
            r = await sb.exec("tr", "a-z", "A-Z", stdin="shout\n")
            assert r.stdout == "SHOUT\n" and r.ok
            # a process that ends without reading its stdin is not an error
            r = await sb.exec("echo", "ignores stdin", stdin="x" * (4 << 20))
            assert r.stdout == "ignores stdin\n" and r.ok
            r = await sb.exec("sleep", "20", timeout=0.3)
            assert r.timed_out and not r.ok
        return box_id

    box_id = run(main())
    with pytest.raises(boxlite.NotFound):
        runtime.get(box_id)


def test_sync_wrapper(home, rootfs, tmp_path):
    (tmp_path / "in.txt").write_text("through copy_in\n")
    with boxlite.sync.Boxlite(home) as rt:
        opts = box_options(rootfs)
        with rt.create(opts) as box:
            r = box.exec("sh", "-c", "echo out; echo err >&2; exit 2")
            assert (r.stdout, r.stderr, r.exit_code) == ("out\n", "err\n", 2)
            box.copy_in(str(tmp_path / "in.txt"), "/tmp/in.txt")
            assert box.exec("cat", "/tmp/in.txt").stdout == "through copy_in\n"
            box.copy_out("/tmp/in.txt", str(tmp_path / "out.txt"))
            assert (tmp_path / "out.txt").read_text() == "through copy_in\n"
            assert box.metrics()["executions"] == 2
            assert box.info()["state"] == "running"
            box_id = box.id
        if opts.auto_remove:
            with pytest.raises(boxlite.NotFound):
                rt.get(box_id)
        else:
            assert rt.get(box_id).info()["state"] == "stopped"
            rt.remove(box_id)


def test_sync_simplebox(runtime, rootfs):
    with boxlite.sync.SimpleBox(runtime=runtime, **simple_kw(rootfs)) as sb:
        assert sb.exec("echo", "sync").stdout == "sync\n"
        assert sb.exec("cat", stdin=b"bytes in\n").stdout == "bytes in\n"


def test_codebox_runs_python(runtime, python_rootfs, tmp_path):
    script = tmp_path / "script.py"
    script.write_text("import sys, json\nprint(json.dumps({'args': sys.argv[1:]}))\n")

    async def main():
        async with boxlite.CodeBox(runtime=runtime, **simple_kw(python_rootfs)) as cb:
            r = await cb.run("import sys, platform\nprint(sum(range(10)), platform.system())\n"
                             "print('to stderr', file=sys.stderr)\nsys.exit(3)")
            assert r.stdout == "45 Linux\n" and r.stderr == "to stderr\n" and r.exit_code == 3
            r = await cb.run_script(str(script), "a", "b")
            assert r.stdout == '{"args": ["a", "b"]}\n' and r.ok
            r = await cb.run("import time; time.sleep(30)", timeout=0.5)
            assert r.timed_out
    run(main(), timeout=180)


def test_interactive_box_over_pipes(runtime, rootfs):
    async def main():
        r_in, w_in = os.pipe()
        r_out, w_out = os.pipe()
        os.write(w_in, b"echo inter-$((6*7))\nexit 4\n")
        os.close(w_in)
        async with boxlite.InteractiveBox(runtime=runtime, **simple_kw(rootfs)) as ib:
            with open(r_in, "rb", buffering=0) as stdin, open(w_out, "wb") as stdout:
                code = await ib.run(stdin=stdin, stdout=stdout, rows=20, cols=60)
        with open(r_out, "rb") as f:
            text = f.read().decode()
        assert code == 4
        assert "inter-42\r\n" in text
    run(main())


def test_port_forward_to_a_server_in_the_box(runtime, rootfs):
    import urllib.request

    async def main():
        kw = simple_kw(rootfs)
        async with boxlite.SimpleBox(runtime=runtime, ports=[(0, 8000)], **kw) as sb:
            r = await sb.exec("sh", "-c", "mkdir -p /www && echo served > /www/index.html && "
                              "httpd -p 8000 -h /www")
            assert r.ok, r.stderr
            # host port 0 = any: the one bound is in the boot figures (info() keeps the 0)
            ports = (await sb.box.metrics())["boot"]["host_ports"]
            assert len(ports) == 1 and ports[0] > 0
            body = await asyncio.get_running_loop().run_in_executor(
                None, lambda: urllib.request.urlopen(f"http://127.0.0.1:{ports[0]}/",
                                                     timeout=30).read())
            assert body == b"served\n"
    run(main())
