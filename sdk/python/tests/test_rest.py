# SPDX-License-Identifier: Apache-2.0
"""Boxlite.rest(): the SDK's API against a real `boxlite serve` on loopback (a credentials
file, a busybox root in its --rootfs-dir, boxes on the engine this machine runs): create,
get, list, exec (stdout and stderr apart, exit codes, 1 MiB of stdin, a missing program),
copy both ways, metrics, export/import, remove; wrong credentials and another tenant's box."""
import asyncio
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

import boxlite
import boxlite.sync
from conftest import REPO, make_busybox_rootfs, need, run


def _cli():
    lib = os.environ.get("BOXLITE_LIB")
    if lib:
        cand = os.path.join(os.path.dirname(os.path.dirname(lib)), "bin", "boxlite")
        if os.path.exists(cand):
            return cand
    return os.path.join(REPO, "build", "bin", "boxlite")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cli = _cli()
    need(f"{cli} (make)", os.path.exists(cli))
    need("qemu-system-x86_64 (qemu-system-x86)", shutil.which("qemu-system-x86_64"))
    work = tmp_path_factory.mktemp("rest")
    make_busybox_rootfs(str(work / "roots" / "bb"))
    creds = str(work / "creds")
    env = dict(os.environ, BOXLITE_HOME=str(work / "home"))
    add = lambda cid, pfx: subprocess.run([cli, "serve", "credentials", "add", creds, cid, pfx],
                                          check=True, capture_output=True, text=True,
                                          env=env).stdout.strip()
    secret, other = add("acme-py", "acme"), add("other-py", "other")
    p = subprocess.Popen([cli, "serve", "--listen", "127.0.0.1:0", "--credentials", creds,
                          "--rootfs-dir", str(work / "roots"), "--rate", "0"],
                         stdout=subprocess.PIPE, stderr=open(work / "serve.log", "w"),
                         text=True, env=env)
    # the server's "listening on URL" line: the real event, not a sleep
    line = p.stdout.readline()
    url = line.strip().rsplit(" ", 1)[-1]
    assert url.startswith("http://127.0.0.1:"), (line, (work / "serve.log").read_text())
    yield {"url": url, "secret": secret, "other": other, "env": env, "cli": cli}
    rt = boxlite.Boxlite.rest(url, client_id="acme-py", client_secret=secret, prefix="acme")
    for b in rt.list():
        try:
            rt.remove(b["box_id"], force=True)
        except boxlite.BoxliteError:
            pass
    p.terminate()
    assert p.wait(60) == 0


@pytest.fixture(scope="module")
def rt(server):
    return boxlite.Boxlite.rest(server["url"], client_id="acme-py",
                                client_secret=server["secret"], prefix="acme")


@pytest.fixture(scope="module")
def rbox(rt):
    b = rt.create(boxlite.BoxOptions(rootfs_path="bb", auto_remove=False, memory_mib=256,
                                     env={"BOX_LEVEL": "yes"}), name="py")
    run(b.start(), timeout=300)
    yield b
    try:
        rt.remove(b.id, force=True)
    except boxlite.NotFound:
        pass


def _local(server, box_id):
    """What the local API says of a box (status, stop_reason, health): the library's info,
    read by `boxlite inspect` from the server's home, the oracle for RestBox's."""
    out = subprocess.run([server["cli"], "inspect", box_id], env=server["env"], check=True,
                         capture_output=True, text=True).stdout
    i = json.loads(out)[0]
    return i["status"], i.get("stop_reason"), (i.get("health") or {}).get("status")


async def _collect(ex):
    out, err = [], []

    async def rd(it, acc):
        async for chunk in it:
            acc.append(chunk)
    await asyncio.gather(rd(ex.stdout_bytes(), out), rd(ex.stderr_bytes(), err))
    return b"".join(out), b"".join(err), await ex.wait()


# The local API's names a RestRuntime does not have, and why (constructors of local ones).
LOCAL_ONLY = {"Boxlite": {"rest": "makes a RestRuntime", "default": "a process-wide local runtime"}}
PAIRS = [("Boxlite", boxlite.Boxlite, boxlite.RestRuntime),
         ("Box", boxlite.Box, boxlite.RestBox),
         ("Execution", boxlite.Execution, boxlite.RestExecution)]


def _api(cls):
    """Each public name of a class (and its context manager methods): what it is, whether
    it is a coroutine, and its parameters (name, kind, default)."""
    out = {}
    for name in dir(cls):
        if name.startswith("_") and name not in ("__enter__", "__exit__", "__aenter__",
                                                  "__aexit__"):
            continue
        raw = inspect.getattr_static(cls, name)
        if isinstance(raw, property):
            out[name] = "property"
            continue
        fn = getattr(cls, name)
        if not callable(fn):
            out[name] = type(fn).__name__
            continue
        params = [(p.name, p.kind.name, None if p.default is p.empty else repr(p.default))
                  for p in inspect.signature(fn).parameters.values()]
        out[name] = (type(raw).__name__ if isinstance(raw, (staticmethod, classmethod))
                     else "method", inspect.iscoroutinefunction(fn), params)
    return out


@pytest.mark.parametrize("what,local,remote", PAIRS, ids=[p[0] for p in PAIRS])
def test_api_parity(what, local, remote):
    """Boxlite.rest() has the local API: every public method and property of the local
    class, with the same parameters (names, kinds, defaults) and the same async-ness. A
    new local call without its remote twin (or the reverse) fails here; what a remote box
    cannot do is there and raises Unsupported."""
    a, b = _api(local), _api(remote)
    skip = LOCAL_ONLY.get(what, {})
    assert sorted(set(a) - set(b) - set(skip)) == [], f"{remote.__name__} lacks these"
    assert sorted(set(b) - set(a)) == [], f"{local.__name__} lacks these"
    diff = {n: (a[n], b[n]) for n in a if n in b and a[n] != b[n]}
    assert diff == {}


def test_create_get_list(rt, rbox):
    assert len(rbox.id) == 32 and rbox.name == "py"
    assert rt.get("py").id == rbox.id
    assert rt.get(rbox.id).name == "py"
    assert rbox.state == "running"
    ids = [b["box_id"] for b in rt.list()]
    assert rbox.id in ids
    assert rbox.id in [b["box_id"] for b in rt.list("running")]
    with pytest.raises(boxlite.NotFound):
        rt.get("no-such-box")


def test_exec_output_apart_and_exit_codes(rbox):
    async def go():
        ex = await rbox.exec("sh", "-c", "echo out; echo err >&2; echo $BOX_LEVEL; exit 3")
        return await _collect(ex)
    out, err, res = run(go())
    assert out == b"out\nyes\n"
    assert err == b"err\n"
    assert res.exit_code == 3 and res.signal == 0 and not res.ok

    async def text():
        ex = await rbox.exec(["sh", "-c", "printf 'h\\303\\251'"], env={"A": "1"}, cwd="/tmp")
        s = "".join([t async for t in ex.stdout()])
        return s, (await ex.wait()).exit_code
    assert run(text()) == ("hé", 0)


    async def as_user():  # ExecRequest's user (ours), as the local exec(user=)
        ex = await rbox.exec("sh", "-c", "id -u; id -g", user="65534:65533")
        return await _collect(ex)
    out, _, res = run(as_user())
    assert (out, res.exit_code) == (b"65534\n65533\n", 0)


def test_exec_output_through_a_cut_stream(server, rbox):
    """A relay cuts the first output stream after 200 KB (tests/e2e/cut_proxy.py): the
    reader takes it up again with Last-Event-ID, every byte once."""
    port = server["url"].rsplit(":", 1)[1]
    p = subprocess.Popen(["python3", os.path.join(REPO, "tests", "e2e", "cut_proxy.py"), port,
                          "200000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pport = p.stdout.readline().strip()
        via = boxlite.Boxlite.rest(f"http://127.0.0.1:{pport}", client_id="acme-py",
                                   client_secret=server["secret"], prefix="acme")

        async def go():
            ex = await via.get(rbox.id).exec("seq", "1", "200000")
            return await _collect(ex)
        out, _, res = run(go())
    finally:
        p.kill()
        err = p.communicate()[1]
    assert "cut" in err
    assert res.exit_code == 0
    assert out == "".join(f"{i}\n" for i in range(1, 200001)).encode()


def test_output_backpressure_64mib(server, rbox):
    """64 MiB of stdout nobody reads for a while: the client keeps no more than its small
    queue (its reader stops taking the stream, TCP and the server's bounded buffer push
    back, and the process waits on its pipe: still running after the hold), then reads it
    all back intact. In a process of its own (rest_backpressure.py), so its memory is the
    client's alone."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rest_backpressure.py")
    p = subprocess.run([sys.executable, script, server["url"], "acme-py", server["secret"],
                        "acme", rbox.id, str(64 << 20), "3"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(p.stdout)
    print("backpressure:", p.stdout.strip())  # the figures, with pytest -s
    assert r["bytes"] == 64 << 20 and r["exit_code"] == 0, r
    assert r["sha256"] == r["box_sha256"], r
    assert r["status_held"] == "running", r
    assert r["hwm_kib"] - r["rss_base_kib"] < 16 << 10, r


def test_wait_without_reading(rbox):
    """wait() lifts the output bound, as the local wait() drains unread pipes: waiting
    first on 4.6 MB of output (over QUEUE_MAX) does not stall, and it is all there after."""
    async def go():
        ex = await rbox.exec("seq", "1", "600000")
        res = await ex.wait()
        return b"".join([c async for c in ex.stdout_bytes()]), res
    out, res = run(go(), timeout=300)
    assert res.exit_code == 0
    assert len(out) > boxlite.rest.QUEUE_MAX
    assert out == "".join(f"{i}\n" for i in range(1, 600001)).encode()


def test_exec_stdin_1mib(rbox):
    data = os.urandom(1 << 20)

    async def go():
        ex = await rbox.exec("sha256sum")
        await ex.stdin.write(data)
        await ex.stdin.close()
        return await _collect(ex)
    out, _, res = run(go())
    assert out.split()[0].decode() == hashlib.sha256(data).hexdigest()
    assert res.exit_code == 0


def test_exec_missing_program_and_kill(rbox):
    async def missing():
        ex = await rbox.exec("no-such-program")
        return await ex.wait()
    with pytest.raises(boxlite.NotFound):
        run(missing())

    async def killed():
        ex = await rbox.exec("sleep", "600")
        ex.kill(9)
        return await ex.wait()
    res = run(killed())
    assert res.signal == 9 and not res.timed_out

    async def timed_out():
        ex = await rbox.exec("sleep", "600", timeout=1)
        return await ex.wait()
    res = run(timed_out())
    assert res.timed_out and res.signal == 9 and not res.ok


def test_copy_both_ways(rbox, tmp_path):
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("hello rest\n")
    blob = os.urandom(300000)
    (src / "sub" / "b.bin").write_bytes(blob)
    os.symlink("a.txt", src / "link")
    run(rbox.copy_in(str(src), "/tmp/tree"))

    async def check():
        ex = await rbox.exec("sh", "-c", "cat /tmp/tree/a.txt; readlink /tmp/tree/link")
        return await _collect(ex)
    assert run(check())[0] == b"hello rest\na.txt\n"
    back = tmp_path / "back"
    run(rbox.copy_out("/tmp/tree", str(back)))
    assert (back / "a.txt").read_text() == "hello rest\n"
    assert (back / "sub" / "b.bin").read_bytes() == blob
    assert os.readlink(back / "link") == "a.txt"
    into = tmp_path / "into"
    into.mkdir()
    run(rbox.copy_out("/tmp/tree/a.txt", str(into)))
    assert (into / "a.txt").read_text() == "hello rest\n"
    with pytest.raises(boxlite.InvalidArgument):
        run(rbox.copy_out("/tmp/tree/sub/b.bin", str(tmp_path / "big"), max_bytes=1024))
    assert not (tmp_path / "big").exists()
    with pytest.raises(boxlite.NotFound):
        run(rbox.copy_out("/no/such", str(tmp_path / "none")))


def test_metrics(rbox):
    m = run(rbox.metrics())
    assert isinstance(m.get("boxlite"), dict)
    assert m.get("commands_executed_total", 0) >= 1


def test_unsupported_options_are_refused(rt):
    with pytest.raises(boxlite.Unsupported):
        rt.create(boxlite.BoxOptions(rootfs_path="bb", volumes=[("/tmp", "/data")]))
    with pytest.raises(boxlite.Unsupported):
        rt.create(boxlite.BoxOptions(rootfs_path="bb", engine="qemu"))


def test_credentials_and_tenancy(server, rbox):
    bad = boxlite.Boxlite.rest(server["url"], client_id="acme-py",
                               client_secret=server["secret"] + "x", prefix="acme")
    with pytest.raises(boxlite.AuthError):
        bad.list()
    other = boxlite.Boxlite.rest(server["url"], client_id="other-py",
                                 client_secret=server["other"], prefix="other")
    assert other.list() == []
    with pytest.raises(boxlite.NotFound):
        other.get(rbox.id)
    with pytest.raises(boxlite.InvalidArgument):
        boxlite.Boxlite.rest("ftp://127.0.0.1:1")


def test_export_import(rt, rbox, server, tmp_path):
    async def mark():
        ex = await rbox.exec("sh", "-c", "mkdir -p /srv && echo py-kept >/srv/mark && sync")
        return (await ex.wait()).exit_code
    assert run(mark()) == 0
    arch = tmp_path / "py.box"
    run(rbox.export(str(arch)), timeout=300)
    assert arch.stat().st_size > 0
    copy = rt.import_box(str(arch), name="py2")
    assert copy.name == "py2" and copy.id != rbox.id

    async def read():
        ex = await copy.exec("cat", "/srv/mark")
        return await _collect(ex)
    assert run(read(), timeout=300)[0] == b"py-kept\n"
    rt.remove(copy.id, force=True)
    other = boxlite.Boxlite.rest(server["url"], client_id="other-py",
                                 client_secret=server["other"], prefix="other")
    with pytest.raises(boxlite.InvalidArgument):
        other.import_box(str(arch), name="stolen")
    assert other.list() == []
    junk = tmp_path / "junk.box"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(boxlite.InvalidArgument):
        rt.import_box(str(junk))


def test_stop_and_remove(rt, server):
    b = rt.create(boxlite.BoxOptions(rootfs_path="bb", auto_remove=False, memory_mib=256))
    assert (b.status, b.stop_reason, b.health) == _local(server, b.id)
    assert b.stop_reason is None and b.health is None

    async def go():
        ex = await b.exec("true")
        assert (await ex.wait()).exit_code == 0
        assert (b.status, b.stop_reason, b.health) == _local(server, b.id)
        await b.stop()
    run(go(), timeout=300)
    assert b.state == "stopped"
    assert (b.status, b.stop_reason, b.health) == _local(server, b.id)
    assert b.stop_reason == "stopped"
    rt.remove(b.id)
    with pytest.raises(boxlite.NotFound):
        rt.get(b.id)


def test_snapshots_clone_images(rt, rbox, server):
    run(rbox.snapshot_create("py-s1"), timeout=300)
    names = [s["name"] for s in rbox.snapshots()]
    assert names == ["py-s1"]
    assert isinstance(rbox.snapshots()[0]["created"], int)
    with pytest.raises(boxlite.AlreadyExists):
        run(rbox.snapshot_create("py-s1"), timeout=300)
    with pytest.raises(boxlite.InvalidState):  # restore needs the box stopped, as locally
        run(rbox.snapshot_restore("py-s1"))
    run(rbox.snapshot_remove("py-s1"))
    assert rbox.snapshots() == []
    with pytest.raises(boxlite.NotFound):
        run(rbox.snapshot_remove("py-s1"))
    twin = rt.clone("py", "py-twin")
    assert twin.name == "py-twin" and twin.id != rbox.id and twin.state == "configured"
    other = boxlite.Boxlite.rest(server["url"], client_id="other-py",
                                 client_secret=server["other"], prefix="other")
    with pytest.raises(boxlite.NotFound):
        other.clone(rbox.id, "stolen")
    rt.remove(twin.id)
    assert rt.images() == [] and other.images() == []
    with pytest.raises(boxlite.Unsupported):
        rt.pull("busybox", platform="linux/arm64")
    with pytest.raises(boxlite.NotFound):
        rt.remove_image("busybox")


def test_what_a_remote_box_cannot_do_is_unsupported(rt, rbox):
    """The local calls the API has nothing for raise Unsupported (a BoxliteError), never
    AttributeError."""
    for call in (rt.notices, lambda: rt.set_registries({})):
        with pytest.raises(boxlite.Unsupported):
            call()


def test_sync_over_rest(server):
    """boxlite.sync over Boxlite.rest(): the wrapper the local runtime has (SimpleBox, Box,
    the runtime's calls), on a box whose main process a kill ends (exit_code 143)."""
    srt = boxlite.sync.Boxlite.rest(server["url"], client_id="acme-py",
                                    client_secret=server["secret"], prefix="acme")
    with boxlite.sync.SimpleBox(rootfs_path="bb", runtime=srt, name="py-sync", memory_mib=256,
                                auto_remove=False, cmd=["sleep", "600"]) as sb:
        assert sb.exec("echo", "sync").stdout == "sync\n"
        box_id = sb.id
        assert box_id in [b["id"] for b in srt.list("running")]
        b = srt.get("py-sync")
        assert isinstance(b, boxlite.sync.Box) and b.id == box_id
        assert b.exit_code is None
        b.kill(15)
        deadline = time.monotonic() + 120
        while b.state != "stopped":  # the main process's end stops the box
            assert time.monotonic() < deadline, b.info()
            time.sleep(0.2)
        assert b.exit_code == 143
        # the server's status_text, stop_reason and health are the local API's
        local = _local(server, box_id)
        assert (b.status, b.stop_reason, b.health) == local and local[1] != "stopped", local
        srt.rename("py-sync", "py-sync2")
        assert srt.get("py-sync2").id == box_id
    with pytest.raises(boxlite.NotFound):
        srt.get(box_id)


def test_box_verbs(rt, rbox):
    """kill, reclaim, balloon, console, pause/resume and fork on the module's box, as the
    local Box has them."""
    with pytest.raises(boxlite.InvalidState):  # no main process, as locally
        run(rbox.kill(15))
    assert rbox.exit_code is None
    r = run(rbox.reclaim())
    assert r["id"] == rbox.id and isinstance(r["freed_bytes"], int)
    assert rbox.id in [x["id"] for x in rt.reclaim() if "freed_bytes" in x]
    # with idle: the box was just used, so an hour's idleness skips it, as locally
    mine = [x for x in rt.reclaim(idle=3600) if x["id"] == rbox.id]
    assert mine and mine[0].get("skipped") is True and isinstance(mine[0]["idle_ms"], int), mine
    assert mine[0]["idle_ms"] < 3600 * 1000 and "freed_bytes" not in mine[0], mine
    with pytest.raises(ValueError):
        rt.reclaim(idle=-1)
    run(rbox.set_balloon(128))
    run(rbox.set_balloon(0))
    with pytest.raises(boxlite.InvalidArgument):
        run(rbox.set_balloon(1))
    assert isinstance(rbox.console(), str)
    run(rbox.pause(timeout=120), timeout=300)  # PauseBoxRequest's timeout_seconds (ours)
    assert rbox.state == "paused"
    run(rbox.resume(), timeout=300)
    assert rbox.state == "running"
    forks = run(rbox.fork("py-f1"), timeout=300)
    try:
        assert [f.name for f in forks] == ["py-f1"] and forks[0].state == "running"

        async def read():
            ex = await forks[0].exec("cat", "/srv/mark")
            return await _collect(ex)
        assert run(read())[0] == b"py-kept\n"  # test_export_import's mark, in the fork too
    finally:
        for f in forks:
            rt.remove(f.id, force=True)


def test_interactive_box_over_rest(rbox):
    """InteractiveBox's terminal session (a tty exec: stdin, output, resize, status) over
    the module's box, as test_conveniences runs it locally (no box of its own: the helper
    is given rbox, as boxlite.sync's exec does with SimpleBox)."""
    async def main():
        r_in, w_in = os.pipe()
        r_out, w_out = os.pipe()
        os.write(w_in, b"echo inter-$((6*7)); stty size\nexit 4\n")
        os.close(w_in)
        ib = boxlite.InteractiveBox.__new__(boxlite.InteractiveBox)
        ib.box, ib.shell = rbox, "/bin/sh"
        with open(r_in, "rb", buffering=0) as stdin, open(w_out, "wb") as stdout:
            code = await ib.run(stdin=stdin, stdout=stdout, rows=20, cols=60)
        with open(r_out, "rb") as f:
            return code, f.read().decode()
    code, text = run(main())
    assert code == 4
    assert "inter-42\r\n" in text and "20 60\r\n" in text
