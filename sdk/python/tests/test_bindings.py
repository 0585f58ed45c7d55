# SPDX-License-Identifier: Apache-2.0
"""The ctypes bindings against include/boxlite.h: every function the SDK binds is declared
there, and the two structs have the C compiler's layout."""
import ctypes
import os
import re
import shutil
import subprocess

import pytest

from boxlite import _lib
from conftest import need

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
HEADER = os.path.join(REPO, "include", "boxlite.h")


def declared():
    text = open(HEADER).read()
    return set(re.findall(r"BOXLITE_API\s+[\w\s\*]+?\b(boxlite_\w+)\s*\(", text))


def test_every_bound_function_is_declared_and_exported():
    names = declared()
    missing = [n for n in _lib._PROTOS if n not in names]
    assert missing == []
    lib = _lib.lib()
    for n in _lib._PROTOS:
        getattr(lib, n[len("boxlite_"):])  # binds, or raises NotImplementedError


def test_what_is_left_unbound_is_the_option_setters():
    # Options cross as JSON (boxlite_options_from_json); everything else is bound.
    unbound = sorted(declared() - set(_lib._PROTOS))
    assert all(n.startswith("boxlite_options_") for n in unbound), unbound


def test_struct_layouts_match_the_c_compiler(tmp_path):
    need("a C compiler (build-essential)", shutil.which("cc"))
    src = tmp_path / "layout.c"
    src.write_text("""
#include <stddef.h>
#include <stdio.h>
#include "boxlite.h"
#define F(t, f) printf(#t "." #f " %zu\\n", offsetof(t, f))
int main(void) {
    printf("boxlite_exec_spec %zu\\n", sizeof(boxlite_exec_spec));
    F(boxlite_exec_spec, size); F(boxlite_exec_spec, argv); F(boxlite_exec_spec, env);
    F(boxlite_exec_spec, working_dir); F(boxlite_exec_spec, user); F(boxlite_exec_spec, tty);
    F(boxlite_exec_spec, rows); F(boxlite_exec_spec, cols); F(boxlite_exec_spec, timeout_ms);
    F(boxlite_exec_spec, security); F(boxlite_exec_spec, root); F(boxlite_exec_spec, group);
    F(boxlite_exec_spec, pids_max);
    printf("boxlite_exec_result %zu\\n", sizeof(boxlite_exec_result));
    F(boxlite_exec_result, exit_code); F(boxlite_exec_result, signal);
    F(boxlite_exec_result, timed_out); F(boxlite_exec_result, duration_ms);
    return 0;
}
""")
    exe = tmp_path / "layout"
    subprocess.run(["cc", "-I", os.path.dirname(HEADER), "-o", str(exe), str(src)], check=True)
    c = dict(line.rsplit(" ", 1) for line in subprocess.run(
        [str(exe)], capture_output=True, text=True, check=True).stdout.splitlines())
    py = {"boxlite_exec_spec": ctypes.sizeof(_lib.ExecSpec),
          "boxlite_exec_result": ctypes.sizeof(_lib.ExecResultC)}
    for cname, cls in (("boxlite_exec_spec", _lib.ExecSpec),
                       ("boxlite_exec_result", _lib.ExecResultC)):
        for fname, _ in cls._fields_:
            py[f"{cname}.{fname}"] = getattr(cls, fname).offset
    assert {k: int(v) for k, v in c.items()} == py
