# SPDX-License-Identifier: Apache-2.0
"""Executions through a real box (one box for the module, booted by the engine)."""
import asyncio
import os
import signal

import pytest

import boxlite
from conftest import run


async def collect(ex):
    out, err = await asyncio.gather(_join(ex.stdout()), _join(ex.stderr()))
    return out, err, await ex.wait()


async def _join(it):
    return "".join([c async for c in it])


def test_echo(box):
    async def main():
        async with await box.exec("echo", "hello", "world") as ex:
            out, err, res = await collect(ex)
        assert (out, err) == ("hello world\n", "")
        assert res.exit_code == 0 and res.signal == 0 and not res.timed_out and res.ok
        assert res.duration >= 0
    run(main())


def test_exit_codes_env_cwd_user(box):
    async def main():
        for code in (0, 1, 3, 255):
            async with await box.exec("sh", "-c", f"exit {code}") as ex:
                assert (await ex.wait()).exit_code == code
        async with await box.exec("sh", "-c", "echo $FOO; pwd; id -u", env={"FOO": "bar"},
                                  cwd="/tmp", user="65534") as ex:
            out, _, res = await collect(ex)
        assert out == "bar\n/tmp\n65534\n" and res.exit_code == 0
        # a list works as the command too
        async with await box.exec(["echo", "from", "a list"]) as ex:
            assert (await collect(ex))[0] == "from a list\n"
    run(main())


def test_output_streams_before_the_process_ends(box):
    async def main():
        async with await box.exec("sh", "-c", "echo first; read x; echo second $x") as ex:
            it = ex.stdout()
            first = await it.__anext__()
            assert first == "first\n"
            # the process is still running (it waits for stdin)
            waiter = asyncio.ensure_future(ex.wait())
            await asyncio.sleep(0.2)
            assert not waiter.done()
            await ex.stdin.write("now\n")
            rest = "".join([c async for c in it])
            assert rest == "second now\n"
            assert (await waiter).exit_code == 0
    run(main())


def test_stdout_and_stderr_together_with_large_output(box):
    """4 MiB on each stream at once: both must be read concurrently or the process stalls."""
    n = 4 << 20
    cmd = (f"head -c {n} /dev/zero | tr '\\0' o & "
           f"head -c {n} /dev/zero | tr '\\0' e >&2; wait")

    async def main():
        async with await box.exec("sh", "-c", cmd) as ex:
            async def count(it, ch):
                total = 0
                async for chunk in it:
                    assert chunk.strip(ch) == b""
                    total += len(chunk)
                return total
            o, e = await asyncio.gather(count(ex.stdout_bytes(), b"o"),
                                        count(ex.stderr_bytes(), b"e"))
            assert (o, e) == (n, n)
            assert (await ex.wait()).exit_code == 0
    run(main())


def test_wait_without_reading_does_not_stall(box):
    """wait() keeps unread streams moving (into memory); they can be read afterwards."""
    n = 2 << 20

    async def main():
        async with await box.exec("sh", "-c", f"head -c {n} /dev/zero; echo err >&2") as ex:
            res = await ex.wait()
            assert res.exit_code == 0
            data = b"".join([c async for c in ex.stdout_bytes()])
            assert len(data) == n
            assert "".join([c async for c in ex.stderr()]) == "err\n"
    run(main())


def test_reader_that_stops_early_gives_the_stream_back(box):
    n = 2 << 20

    async def main():
        async with await box.exec("sh", "-c", f"echo first; head -c {n} /dev/zero") as ex:
            async for text in ex.stdout():
                assert text.startswith("first\n")
                break
            res = await ex.wait()   # drains the rest; a stopped reader must not stall it
            assert res.exit_code == 0
            rest = b"".join([c async for c in ex.stdout_bytes()])
            assert 0 < len(rest) <= n
    run(main())


def test_stdin_write_and_close(box):
    payload = os.urandom(1 << 20)

    async def main():
        async with await box.exec("sh", "-c", "cat | md5sum") as ex:
            async def feed():
                await ex.stdin.write("hello ")
                await ex.stdin.write(b"box\n")
                await ex.stdin.close()
            out, _ = await asyncio.gather(_join(ex.stdout()), feed())
            import hashlib
            assert out.split()[0] == hashlib.md5(b"hello box\n").hexdigest()
        # 1 MiB through cat, written and read at the same time
        async with await box.exec("cat") as ex:
            async def feed():
                for i in range(0, len(payload), 100000):
                    await ex.stdin.write(payload[i:i + 100000])
                await ex.stdin.close()
            out, _ = await asyncio.gather(_join_bytes(ex.stdout_bytes()), feed())
            assert out == payload
            assert (await ex.wait()).exit_code == 0
    run(main())


async def _join_bytes(it):
    return b"".join([c async for c in it])


def test_timeout_sets_timed_out(box):
    async def main():
        async with await box.exec("sleep", "30", timeout=0.5) as ex:
            res = await ex.wait()
        assert res.timed_out and res.exit_code != 0 or res.signal
        assert res.timed_out
        with pytest.raises(ValueError):
            await box.exec("true", timeout=-1)
    run(main())


def test_kill_with_a_signal(box):
    async def main():
        async with await box.exec("sh", "-c", "echo up; sleep 30") as ex:
            it = ex.stdout()
            assert await it.__anext__() == "up\n"
            ex.kill(signal.SIGTERM)
            res = await ex.wait()
        assert res.signal == signal.SIGTERM and not res.timed_out and not res.ok
        async with await box.exec("sleep", "30") as ex:
            ex.kill()
            assert (await ex.wait()).signal == signal.SIGKILL
    run(main())


def test_ten_concurrent_executions_from_one_loop(box):
    async def one(i):
        async with await box.exec("sh", "-c", f"sleep 0.$((RANDOM % 5)); echo {i}; exit {i}") as ex:
            out, _, res = await collect(ex)
            return out, res.exit_code

    async def main():
        results = await asyncio.gather(*(one(i) for i in range(10)))
        assert results == [(f"{i}\n", i) for i in range(10)]
    run(main())


def test_tty_with_resize(box):
    async def main():
        async with await box.exec("sh", tty=True, rows=30, cols=100) as ex:
            out = []

            async def read():
                async for c in ex.stdout():
                    out.append(c)

            reader = asyncio.ensure_future(read())
            # markers computed by the shell, so the terminal's echo of the input never matches
            await ex.stdin.write("stty size; [ -t 0 ] && echo tty-$((1+1))\n")
            await wait_for_text(out, "tty-2\r\n")
            ex.resize(40, 120)
            await ex.stdin.write("stty size; echo resized-$((2+2))\n")
            await wait_for_text(out, "resized-4\r\n")
            await ex.stdin.write("exit 7\n")
            res = await ex.wait()
            await reader
            text = "".join(out)
            assert "30 100\r\n" in text and "40 120\r\n" in text
            assert res.exit_code == 7
            # with a tty everything comes on stdout
            assert "".join([c async for c in ex.stderr()]) == ""
    run(main())


async def wait_for_text(out, text):
    while text not in "".join(out):
        await asyncio.sleep(0.05)


def test_copy_in_and_out(box, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "sub" / "b.bin").write_bytes(os.urandom(300000))
    single = tmp_path / "one.txt"
    single.write_text("one file\n")

    async def main():
        await box.copy_in(str(src), "/tmp/tree")
        await box.copy_in(str(single), "/tmp/one.txt")
        async with await box.exec("sh", "-c", "cat /tmp/tree/a.txt /tmp/one.txt; "
                                  "wc -c < /tmp/tree/sub/b.bin") as ex:
            out, _, res = await collect(ex)
        assert out.split("\n")[:3] == ["alpha", "one file", "300000"]
        await box.copy_out("/tmp/tree", str(tmp_path / "back"))
        await box.copy_out("/tmp/one.txt", str(tmp_path / "one-back.txt"))
        assert (tmp_path / "back" / "a.txt").read_text() == "alpha\n"
        assert (tmp_path / "back" / "sub" / "b.bin").read_bytes() == \
            (src / "sub" / "b.bin").read_bytes()
        assert (tmp_path / "one-back.txt").read_text() == "one file\n"
        # a path missing in the box is NotFound (the agent passes the error's code on)
        with pytest.raises(boxlite.NotFound, match="No such file"):
            await box.copy_out("/tmp/no-such-file", str(tmp_path / "x"))
        with pytest.raises(boxlite.NotFound):
            await box.copy_in(str(single), "/tmp/no-such-dir/x.txt")
        with pytest.raises(boxlite.NotFound):
            await box.copy_in(str(tmp_path / "no-such-file"), "/tmp/x")
        with pytest.raises(boxlite.InvalidArgument):
            await box.copy_in(str(single), "relative/path")
        # a bound on what may arrive: the 300 kB tree is refused under 100 kB, nothing left
        with pytest.raises(boxlite.BoxliteError, match="limit of 100000 bytes"):
            await box.copy_out("/tmp/tree", str(tmp_path / "bounded"), max_bytes=100000)
        assert not (tmp_path / "bounded").exists()
        # onto an existing directory: dest/<name>, never merged
        await box.copy_out("/tmp/tree", str(tmp_path / "back"))
        assert (tmp_path / "back" / "tree" / "a.txt").read_text() == "alpha\n"
    run(main())


def test_metrics(box, runtime):
    async def main():
        async with await box.exec("true") as ex:
            await ex.wait()
        m = await box.metrics()
        assert m["state"] == "running"
        assert m["executions"] >= 1
        assert m["start"]["total"] > 0
        assert m["boot"] is not None
        # the per-box process refreshes its figures every second: ask until they are there
        for _ in range(100):
            if m["vmm"]:
                break
            await asyncio.sleep(0.1)
            m = await box.metrics()
        assert m["vmm"]["rss_bytes"] > 0 and m["vmm"]["cpu_user_us"] > 0
        rm = runtime.metrics()
        assert rm["boxes_started"] >= 1
    run(main())


def test_errors_are_typed(box, runtime):
    async def main():
        ex = await box.exec("/no/such/program")
        with pytest.raises(boxlite.NotFound, match="no/such/program"):
            await ex.wait()
        ex.close()
        with pytest.raises(boxlite.InvalidArgument):
            await box.exec("")
        with pytest.raises(boxlite.NotFound):
            runtime.get("no-such-box")
        with pytest.raises(boxlite.InvalidArgument, match="memory"):
            runtime.create(boxlite.BoxOptions(rootfs_path="/", memory_mib=-5))
        # a closed execution refuses calls instead of touching freed memory
        with pytest.raises(boxlite.InvalidState):
            ex.kill()
    run(main())


def test_volume_and_box_env(box, shared_dir):
    async def main():
        async with await box.exec("sh", "-c", "cat /data/from-host.txt; echo $BOX_LEVEL; "
                                  "echo from the box > /data/from-box.txt") as ex:
            out, err, res = await collect(ex)
        assert (out, res.exit_code) == ("written on the host\nyes\n", 0), err
        with open(os.path.join(shared_dir, "from-box.txt")) as f:
            assert f.read() == "from the box\n"
        info = box.info()
        assert info["state"] == "running" and info["memory_mib"] == 256
    run(main())
