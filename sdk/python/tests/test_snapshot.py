# SPDX-License-Identifier: Apache-2.0
"""Disk snapshots, clone, export and import from Python, with a real guest: restore brings
back what the box had, a clone does not see its source's writes, export then import on a
fresh home gives the same files; a running box and a damaged archive are refused with the
right exception, and a refused import leaves nothing."""
import os

import pytest

import boxlite
from conftest import box_options, run


async def out(box, script):
    ex = await box.exec("sh", "-c", script)
    text = "".join([c async for c in ex.stdout()])
    res = await ex.wait()
    assert res.exit_code == 0, text
    return text.strip()


TREE = "cd /data && find . -type f | sort | xargs sha256sum | sha256sum | cut -d' ' -f1"


def test_snapshot_restore_clone_export_import(home, rootfs, tmp_path):
    async def main():
        rt = boxlite.Boxlite(home)
        box = rt.create(box_options(rootfs, auto_remove=False), name="py-snap")
        await out(box, "mkdir -p /data && head -c 100000 /dev/urandom > /data/a && sync")
        before = await out(box, TREE)
        await box.snapshot_create("s1")    # running: its root frozen while the top is copied
        with pytest.raises(boxlite.InvalidState, match="stop it first"):
            await box.snapshot_restore("s1")
        await box.stop()
        assert [s["name"] for s in box.snapshots()] == ["s1"]
        with pytest.raises(boxlite.AlreadyExists):
            await box.snapshot_create("s1")
        await out(box, "echo new > /data/b && sync")
        assert await out(box, TREE) != before
        await box.stop()
        await box.snapshot_restore("s1")
        assert await out(box, TREE) == before
        await box.stop()

        clone = rt.clone("py-snap", "py-clone")
        await out(clone, "echo from-clone > /data/c && sync")
        assert await out(box, "ls /data") == "a"
        assert await out(clone, "cat /data/c") == "from-clone"
        await box.stop()
        await clone.stop()

        archive = tmp_path / "py.box"
        await box.export(str(archive))
        fresh = boxlite.Boxlite(str(tmp_path / "fresh"))
        imported = fresh.import_box(str(archive), name="py-imported")
        assert imported.name == "py-imported"
        assert await out(imported, TREE) == before
        await imported.stop()

        data = archive.read_bytes()
        bad = tmp_path / "bad.box"
        bad.write_bytes(data[: len(data) // 2])
        with pytest.raises(boxlite.BoxliteError):
            fresh.import_box(str(bad), name="py-bad")
        assert [b["name"] for b in fresh.list()] == ["py-imported"]
        assert os.listdir(tmp_path / "fresh" / "import-tmp") == []

        await box.snapshot_remove("s1")
        assert box.snapshots() == []
        for b in (box, clone, imported):
            b.close()
        fresh.remove("py-imported", force=True)
        rt.remove("py-clone", force=True)
        rt.remove("py-snap", force=True)
        fresh.close()

    run(main(), timeout=600)
