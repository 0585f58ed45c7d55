# SPDX-License-Identifier: Apache-2.0
"""The host check (what `boxlite doctor` prints) and the cpu_template option, through the SDK."""
import pytest

import boxlite


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
