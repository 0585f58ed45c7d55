# SPDX-License-Identifier: Apache-2.0
"""Records where libboxlite.so was when the package was built, so an installed package
finds the library (and, beside it, boxlite-vmm and the guest files) without BOXLITE_LIB:
$BOXLITE_LIB at build time, else the repository's build/lib/libboxlite.so."""
import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPy(build_py):
    def run(self):
        super().run()
        lib = os.environ.get("BOXLITE_LIB") or os.path.join(HERE, "..", "..", "build", "lib",
                                                             "libboxlite.so")
        lib = os.path.abspath(lib) if os.path.exists(lib) else None
        target = os.path.join(self.build_lib, "boxlite", "_build_config.py")
        with open(target, "w") as f:
            f.write('"""Written by setup.py at build time."""\n')
            f.write(f"LIBRARY = {lib!r}\n")


setup(cmdclass={"build_py": BuildPy})
