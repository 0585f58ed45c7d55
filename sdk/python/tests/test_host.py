# SPDX-License-Identifier: Apache-2.0
"""The host check (what `boxlite doctor` prints) and the cpu_template option, through the SDK."""
import json
import os
import shutil

import pytest

import boxlite
from conftest import box_options, run


def test_host_check_reports_every_check_with_a_status(tmp_path):
    d = boxlite.host_check(str(tmp_path / "home"))
    names = [c["name"] for c in d["checks"]]
    for n in ("cpu virtualization", "guest kernel and initramfs", "engine qemu", "home",
              "free disk", "seccomp"):
        assert n in names, names
    assert all(c["status"] in ("ok", "info", "warn", "fail") for c in d["checks"])
    assert d["engines"]["selected"] in ("kvm", "qemu")
    assert not (tmp_path / "home").exists()  # looks, creates nothing


def test_cpu_template_option(tmp_path):
    with boxlite.Boxlite(str(tmp_path / "home")) as rt:
        box = rt.create(boxlite.BoxOptions(image="x", cpu_template="baseline"), name="b")
        assert box.name == "b"
        with pytest.raises(boxlite.InvalidArgument, match="cpu_template"):
            rt.create(boxlite.BoxOptions(image="x", cpu_template="Not A Name"))


# ---- the runtime's "qemu" setting (boxlite_runtime_open_with, boxlite_host_check_with) ----

def _qemu_elsewhere(tmp_path):
    """The system's QEMU installed again under a prefix of its own, as a QEMU built with
    --prefix=<prefix> is (<prefix>/bin/qemu-system-x86_64, its modules and firmware where it
    looks for them, relative to itself): neither PATH nor BOXLITE_QEMU leads there. The
    binary is a hard link when the file system allows, else a copy; its module and firmware
    folders are links to the system's."""
    real = os.path.realpath(shutil.which("qemu-system-x86_64") or "/usr/bin/qemu-system-x86_64")
    assert os.path.exists(real), "qemu-system-x86_64 is installed by scripts/setup.sh"
    prefix = tmp_path / "opt-qemu"
    (prefix / "bin").mkdir(parents=True)
    other = prefix / "bin" / "qemu-system-x86_64"
    try:
        os.link(real, other)
    except OSError:
        shutil.copy2(real, other)
    sysprefix = os.path.dirname(os.path.dirname(real))
    for sub in ("share/qemu",) + tuple(
            os.path.relpath(d, sysprefix) for d in
            [os.path.join(sysprefix, "lib", e, "qemu") for e in os.listdir(os.path.join(sysprefix, "lib"))]
            + [os.path.join(sysprefix, "lib", "qemu")] if os.path.isdir(d)):
        (prefix / sub).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.join(sysprefix, sub), prefix / sub)
    return str(other)


def test_host_check_with_checks_the_runtime_qemu(tmp_path):
    home = str(tmp_path / "home")
    missing = str(tmp_path / "no-such-qemu")
    d = boxlite.host_check(home, settings={"qemu": missing})
    q = {c["name"]: c for c in d["checks"]}["engine qemu"]
    assert q["status"] == "fail" and missing in q["detail"], q
    assert "binary" not in d["engines"]["qemu"]
    other = _qemu_elsewhere(tmp_path)
    d = boxlite.host_check(home, settings={"qemu": other})
    assert d["engines"]["qemu"]["binary"] == other
    assert {c["name"]: c for c in d["checks"]}["engine qemu"]["status"] == "ok"
    # without settings: the environment's (not the runtime's) QEMU
    assert boxlite.host_check(home)["engines"]["qemu"].get("binary") != other
    with pytest.raises(boxlite.InvalidArgument, match="qemu"):
        boxlite.host_check(home, settings={"qemu": 5})
    assert not os.path.exists(home)  # looks, creates nothing


def test_a_box_runs_the_runtime_qemu(tmp_path, rootfs):
    other = _qemu_elsewhere(tmp_path)
    home = tmp_path / "home"

    async def main(rt):
        box = rt.create(box_options(rootfs, engine="qemu"))
        async with await box.exec("echo", "hi") as ex:
            assert "".join([c async for c in ex.stdout()]) == "hi\n"
            assert (await ex.wait()).exit_code == 0
        cfg = json.loads((home / "boxes" / box.id / "vmm.json").read_text())
        assert cfg["qemu_binary"] == other
        # the QEMU running the box is that file (its argv[0], as the engine executed it)
        ran = []
        for p in os.listdir("/proc"):
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    ran.append(f.read().split(b"\0")[0].decode())
            except (OSError, ValueError):
                pass
        assert other in ran
        await box.stop()

    with boxlite.Boxlite(str(home), settings={"qemu": other}) as rt:
        run(main(rt))


def test_a_missing_runtime_qemu_is_a_clear_error(tmp_path, rootfs):
    missing = str(tmp_path / "no-such-qemu")
    with boxlite.Boxlite(str(tmp_path / "home"), settings={"qemu": missing}) as rt:
        box = rt.create(box_options(rootfs, engine="qemu"))

        async def main():
            with pytest.raises(boxlite.BoxliteError, match="no-such-qemu"):
                await box.start()
        run(main())
