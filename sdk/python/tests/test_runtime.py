# SPDX-License-Identifier: Apache-2.0
"""The SDK over the real libboxlite.so: runtime, options, box records, errors."""
import asyncio

import pytest

import boxlite


@pytest.fixture
def rt(tmp_path):
    with boxlite.Boxlite(str(tmp_path / "home")) as r:
        yield r


def test_library_version():
    assert boxlite.library_version() == boxlite.__version__


def test_create_get_list_remove(rt):
    box = rt.create(boxlite.BoxOptions(image="alpine:latest", cpus=2, env={"A": "1"},
                                       ports=[(8080, 80)], auto_remove=False), name="web")
    assert len(box.id) == 32 and box.name == "web"
    info = box.info()
    assert info["state"] == "configured" and info["cpus"] == 2
    assert info["ports"][0]["host_port"] == 8080
    assert rt.get("web").id == box.id
    assert [b["name"] for b in rt.list()] == ["web"]
    assert rt.list("running") == []
    rt.create(boxlite.BoxOptions(image="alpine:latest"), name="db")
    with pytest.raises(boxlite.AlreadyExists):
        rt.rename("web", "db")
    rt.rename("web", "www")
    assert rt.get("www").id == box.id
    with pytest.raises(boxlite.NotFound):
        rt.get("web")
    rt.remove("www")
    rt.remove("db")
    assert rt.list() == []
    assert rt.metrics()["boxes_created"] == 2


def test_reclaim_idle(rt):
    # a configured box is not running: nothing to reclaim, whatever the idle time
    rt.create(boxlite.BoxOptions(image="alpine:latest"), name="cold")
    assert rt.reclaim() == []
    assert rt.reclaim(idle=30) == []
    with pytest.raises(ValueError):
        rt.reclaim(idle=-1)


def test_errors_are_typed_with_the_library_message(rt):
    with pytest.raises(boxlite.NotFound, match="nosuch"):
        rt.get("nosuch")
    with pytest.raises(boxlite.InvalidArgument, match="cpus"):
        rt.create(boxlite.BoxOptions(image="alpine", cpus=0))
    with pytest.raises(boxlite.InvalidArgument, match="exactly one of image"):
        rt.create(boxlite.BoxOptions())
    rt.create(boxlite.BoxOptions(image="alpine"), name="taken")
    with pytest.raises(boxlite.AlreadyExists):
        rt.create(boxlite.BoxOptions(image="alpine"), name="taken")
    with pytest.raises(boxlite.NotFound, match="/nonexistent/vol"):
        rt.create(boxlite.BoxOptions(image="alpine", volumes=[("/nonexistent/vol", "/data")]))
    with pytest.raises(boxlite.InvalidArgument, match="detach"):
        rt.create(boxlite.BoxOptions(image="alpine", detach=True))
    assert issubclass(boxlite.NotFound, boxlite.BoxliteError)


def test_stop_of_a_box_that_never_ran(rt):
    box = rt.create(boxlite.BoxOptions(image="alpine"))
    with pytest.raises(boxlite.InvalidState):
        asyncio.run(box.stop())


def test_closed_runtime_refuses_calls(tmp_path):
    r = boxlite.Boxlite(str(tmp_path / "h"))
    r.close()
    r.close()
    with pytest.raises(boxlite.InvalidState):
        r.list()


def test_bad_options_name_the_field(rt):
    with pytest.raises(boxlite.InvalidArgument, match="70000"):
        rt.create(boxlite.BoxOptions(image="x", ports=[(70000, 80)]))
    with pytest.raises(boxlite.InvalidArgument, match="engine"):
        rt.create(boxlite.BoxOptions(image="x", engine="vmware"))
    with pytest.raises(boxlite.NotFound, match="/no/such/rootfs"):
        rt.create(boxlite.BoxOptions(rootfs_path="/no/such/rootfs"))
    assert rt.list() == []


def test_guest_not_ready_in_time_is_a_timeout_and_leaves_nothing(rt, rootfs):
    from conftest import box_options, run

    async def main():
        with pytest.raises(boxlite.Timeout, match="did not become ready"):
            async with boxlite.SimpleBox(runtime=rt, **vars(box_options(rootfs,
                                                                        ready_timeout_ms=200))):
                pass
    run(main())
    assert rt.list() == []
    assert rt.metrics()["boxes_failed"] == 1


def test_network_policy_options(rt):
    box = rt.create(boxlite.BoxOptions(
        image="alpine", allow_net=["198.51.100.0/24", "API.example.com:443", "2001:DB8::/32"],
        deny_net=["[2001:db8::1]:25"], allow_host=[5432, "53/udp"]))
    info = box.info()
    assert info["network"] is True
    assert info["allow_net"] == ["198.51.100.0/24", "api.example.com:443", "2001:db8::/32"]
    assert info["deny_net"] == ["[2001:db8::1]:25"]
    assert info["allow_host"] == [{"port": 5432, "protocol": "tcp"},
                                  {"port": 53, "protocol": "udp"}]
    assert rt.create(boxlite.BoxOptions(image="alpine", network="none")).info()["network"] is False
    # a bad rule is refused at create, by name; nothing is left behind
    before = len(rt.list())
    with pytest.raises(boxlite.InvalidArgument, match=r'allow_net: "a\.\.b": empty label'):
        rt.create(boxlite.BoxOptions(image="alpine", allow_net=["a..b"]))
    with pytest.raises(boxlite.InvalidArgument, match="127.0.0.1.*allow_host"):
        rt.create(boxlite.BoxOptions(image="alpine", deny_net=["127.0.0.1"]))
    with pytest.raises(boxlite.InvalidArgument, match="allow_host: port 70000"):
        rt.create(boxlite.BoxOptions(image="alpine", allow_host=[70000]))
    with pytest.raises(ValueError, match="PORT or PORT/udp"):
        rt.create(boxlite.BoxOptions(image="alpine", allow_host=["db"]))
    with pytest.raises(boxlite.InvalidArgument, match="needs a network"):
        rt.create(boxlite.BoxOptions(image="alpine", network="none", allow_host=[5432]))
    with pytest.raises(boxlite.InvalidArgument, match='network: "off"'):
        rt.create(boxlite.BoxOptions(image="alpine", network="off"))
    assert len(rt.list()) == before
