# SPDX-License-Identifier: Apache-2.0
"""BoxOptions(image=...): an OCI image pulled from a real registry on 127.0.0.1 (Debian's
docker-registry, the busybox image of tests/fixtures/mkimages.py pushed with skopeo)."""
import os
import shutil
import subprocess
import sys

import pytest

import boxlite
from conftest import REPO, box_options, need, run

FIX = os.path.join(REPO, "tests", "fixtures")


@pytest.fixture(scope="module")
def registry_image(tmp_path_factory):
    need("docker-registry and skopeo",
         os.path.exists("/usr/bin/docker-registry") and shutil.which("skopeo"))
    work = tmp_path_factory.mktemp("registry")
    subprocess.run([sys.executable, os.path.join(FIX, "mkimages.py"), str(work / "fx"),
                    "busybox"], check=True, capture_output=True)
    reg = str(work / "reg")
    port = subprocess.run([os.path.join(FIX, "registry.sh"), "start", reg, str(os.getpid())],
                          check=True, capture_output=True, text=True).stdout.strip()
    try:
        subprocess.run([os.path.join(FIX, "registry.sh"), "push", reg,
                        str(work / "fx" / "busybox"), "busybox:latest"], check=True)
        yield f"127.0.0.1:{port}/busybox"
    finally:
        subprocess.run([os.path.join(FIX, "registry.sh"), "stop", reg])


def test_simplebox_from_a_registry_image(runtime, registry_image):
    kw = vars(box_options(None))
    kw.pop("rootfs_path")
    kw.pop("image")

    async def main():
        async with boxlite.SimpleBox(registry_image + ":latest", runtime=runtime, **kw) as sb:
            r = await sb.exec("sh", "-c", "echo from the image; exit 9")
            assert (r.stdout, r.exit_code) == ("from the image\n", 9)
            assert sb.box.info()["image"].endswith("busybox:latest")
        with pytest.raises(boxlite.BoxliteError, match="no-such-tag") as e:
            async with boxlite.SimpleBox(registry_image + ":no-such-tag", runtime=runtime,
                                         **kw):
                pass
        print("missing tag:", type(e.value).__name__, e.value)
        assert isinstance(e.value, (boxlite.NotFound, boxlite.ImageError))
    run(main())


def test_pull_images_remove(tmp_path, registry_image):
    seen = []
    with boxlite.Boxlite(str(tmp_path / "home")) as rt:
        rt.pull(registry_image + ":latest", lambda *a: seen.append(a))
        assert seen and seen[-1][3] == seen[-1][4]  # the last layer reported complete
        refs = [i["ref"] for i in rt.images()]
        assert any(r.endswith("busybox:latest") for r in refs), refs
        with pytest.raises(boxlite.NotFound):
            rt.pull(registry_image + ":no-such-tag")
        rt.remove_image(registry_image + ":latest")
        assert rt.images() == []


def test_registries_settings_search_list_and_notices(tmp_path, registry_image):
    host = registry_image.split("/")[0]
    with pytest.raises(boxlite.InvalidArgument, match="mirors"):
        boxlite.Boxlite(str(tmp_path / "bad"), registries={"registries": {host: {"mirors": []}}})
    settings = {"search": ["127.0.0.1:1", host]}
    with boxlite.Boxlite(str(tmp_path / "home"), registries=settings) as rt:
        notices = rt.pull("busybox:latest")
        assert any(n == f"busybox:latest resolved to {host}/busybox:latest (registries search list)"
                   for n in notices), notices
        assert [i["ref"] for i in rt.images()] == [f"{host}/busybox:latest"]
        rt.set_registries(None)  # back to <home>/registries.json, which does not exist
        with pytest.raises(boxlite.BoxliteError):
            rt.pull("127.0.0.1:1/busybox:latest")


def test_a_pull_stopped_by_its_progress_callback(tmp_path, registry_image):
    """Returning False from the progress callback cancels the pull: boxlite.Cancelled, no
    image recorded; the next pull completes."""
    calls = []

    def stop(*a):
        calls.append(a)
        return False

    with boxlite.Boxlite(str(tmp_path / "home")) as rt:
        with pytest.raises(boxlite.Cancelled, match="cancelled"):
            rt.pull(registry_image + ":latest", stop)
        assert len(calls) == 1
        assert rt.images() == []
        rt.pull(registry_image + ":latest", lambda *a: None)
        assert len(rt.images()) == 1


def test_runtime_settings_are_checked(tmp_path):
    with pytest.raises(boxlite.InvalidArgument, match="no_such"):
        boxlite.Boxlite(str(tmp_path / "h"), settings={"no_such": 1})
    assert not (tmp_path / "h").exists()
    with boxlite.Boxlite(str(tmp_path / "h"), settings={"kernel_cmdline": "quiet"}) as rt:
        assert rt.images() == []


def test_pull_for_a_platform(tmp_path, registry_image):
    with boxlite.Boxlite(str(tmp_path / "home")) as rt:
        rt.pull(registry_image + ":latest", platform="linux/amd64")
        assert any(i["ref"].endswith("busybox:latest") for i in rt.images())
        # the fixture is a single-platform amd64 image: no arm64 variant to pull
        with pytest.raises(boxlite.BoxliteError, match="arm64"):
            rt.pull(registry_image + ":latest", platform="linux/arm64")
        with pytest.raises(boxlite.Unsupported, match="s390x"):
            rt.pull(registry_image + ":latest", platform="linux/s390x")
