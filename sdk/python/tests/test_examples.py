# SPDX-License-Identifier: Apache-2.0
"""Each example runs as written (a subprocess, its own box), on the test's busybox rootfs."""
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "examples")
PY = sys.executable


def example(name, rootfs, home, **kw):
    env = dict(os.environ, BOXLITE_HOME=home)
    return subprocess.run([PY, os.path.join(EXAMPLES, name), rootfs], env=env,
                          capture_output=True, text=True, timeout=120, **kw)


@pytest.mark.parametrize("name,expect", [
    ("hello.py", ["Hello from a BoxLite VM!", "kernel: Linux"]),
    ("streaming.py", ["out: tick 1", "out: tick 3", "err: done", "exit code 0"]),
    ("concurrent_execs.py", [f"job {i} squared is {i * i}" for i in range(10)]),
    ("sync_script.py", ["stdout: 2+3 is 5", "stderr: a warning", "exit code: 1"]),
])
def test_example(name, expect, rootfs, home):
    p = example(name, rootfs, home)
    assert p.returncode == 0, p.stderr
    for line in expect:
        assert line in p.stdout
    if name == "streaming.py":  # in order, as they came
        lines = p.stdout.splitlines()
        assert [l.split(": ", 1)[1] for l in lines[:3]] == ["tick 1", "tick 2", "tick 3"]


def test_interactive_example_with_a_pipe(rootfs, home):
    p = example("interactive_shell.py", rootfs, home, input="echo piped-$((2*8))\nexit 3\n")
    assert p.returncode == 3, p.stderr
    assert "piped-16" in p.stdout


def test_interactive_example_on_a_terminal(rootfs, home):
    """Through a real pseudo-terminal: raw mode, output, a window resize passed on."""
    pid, master = pty.fork()
    if pid == 0:
        os.environ["BOXLITE_HOME"] = home
        os.execv(PY, [PY, os.path.join(EXAMPLES, "interactive_shell.py"), rootfs])
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 25, 90, 0, 0))
    buf = b""

    def read_until(marker, limit=90):
        nonlocal buf
        import time
        end = time.monotonic() + limit
        while marker not in buf:
            r, _, _ = select.select([master], [], [], max(0.0, end - time.monotonic()))
            if not r:
                raise AssertionError(f"no {marker!r} in {buf[-500:]!r}")
            try:
                data = os.read(master, 4096)
            except OSError:
                data = b""
            if not data:
                raise AssertionError(f"EOF before {marker!r} in {buf[-500:]!r}")
            buf += data

    try:
        read_until(b"/ # ")  # the shell's prompt: the box is up
        os.write(master, b"stty size; echo first-$((1+1))\r")
        read_until(b"first-2\r\n")
        assert b"25 90\r\n" in buf
        # the kernel sends SIGWINCH to the example; it passes the new size into the box
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
        # SIGWINCH reaches the example asynchronously: ask until the box sees the new size
        for i in range(50):
            os.write(master, b"stty size; echo second-$((%d+1))\r" % i)
            read_until(b"second-%d\r\n" % (i + 1))
            if b"33 111\r\n" in buf:
                break
        assert b"33 111\r\n" in buf
        os.write(master, b"exit 6\r")
        read_until(b"[shell exited with 6]")
    except BaseException:
        os.kill(pid, 9)  # its box goes with it (lifeline)
        os.waitpid(pid, 0)
        os.close(master)
        raise
    _, status = os.waitpid(pid, 0)
    os.close(master)
    assert os.WEXITSTATUS(status) == 6
