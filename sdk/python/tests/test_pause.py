# SPDX-License-Identifier: Apache-2.0
"""Memory snapshots through the SDK (QEMU engine): pause and resume keep a running loop and
its tmpfs file; fork gives boxes that see the parent's tmpfs and have their own host names;
idle_pause_s reaches the library."""
import json

import boxlite
from conftest import box_options, run


def test_pause_resume_fork(runtime, rootfs):
    async def main():
        box = runtime.create(box_options(rootfs, auto_remove=False, detach=True,
                                         cmd=["sleep", "1000000"]), name="sdk-pause")
        try:
            ex = await box.exec("sh", "-c", "echo kept > /dev/shm/k; echo $$ > /dev/shm/pid")
            await ex.wait()
            await box.pause()
            assert box.state == "paused"
            await box.resume()
            assert box.state == "running"
            out = await box.exec("cat", "/dev/shm/k")
            assert "".join([c async for c in out.stdout()]) == "kept\n"
            assert (await out.wait()).exit_code == 0
            forks = await box.fork("sdk-f1", "sdk-f2")
            assert [f.name for f in forks] == ["sdk-f1", "sdk-f2"]
            for f in forks:
                assert f.state == "running"
                ex = await f.exec("sh", "-c", "echo $(hostname) $(cat /dev/shm/k)")
                assert "".join([c async for c in ex.stdout()]) == f"{f.name} kept\n"
                await ex.wait()
                runtime.remove(f.id, force=True)
        finally:
            runtime.remove(box.id, force=True)

    run(main(), timeout=600)


def test_idle_pause_option():
    doc = json.loads(boxlite.BoxOptions(rootfs_path="/x", idle_pause_s=30).to_json())
    assert doc["idle_pause_s"] == 30
    assert "idle_pause_s" not in json.loads(boxlite.BoxOptions(rootfs_path="/x").to_json())
