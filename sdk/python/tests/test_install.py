# SPDX-License-Identifier: Apache-2.0
"""`pip install --no-build-isolation sdk/python` works offline (in a venv: Debian's pip
refuses system installs), and the installed package runs a box from outside the checkout."""
import os
import subprocess
import sys
import textwrap


SDK = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def test_pip_install_in_a_venv(tmp_path, rootfs, home):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True)
    py = str(venv / "bin" / "python")
    p = subprocess.run([py, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                        "--no-cache-dir", SDK], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    script = textwrap.dedent(f"""
        import asyncio, boxlite
        assert boxlite.__file__.startswith({str(venv)!r}), boxlite.__file__
        async def main():
            rt = boxlite.Boxlite({home!r})
            async with boxlite.SimpleBox(runtime=rt, rootfs_path={rootfs!r}) as b:
                print((await b.exec("echo", "installed")).stdout, end="")
            rt.close()
        asyncio.run(main())
        """)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BOXLITE_LIB")}
    p = subprocess.run([py, "-c", script], cwd=str(tmp_path), env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "installed\n"
