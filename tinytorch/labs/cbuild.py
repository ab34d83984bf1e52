"""Compile a learner's C source into a shared library and load it with ctypes (lab 3).

The learner writes C in a notebook string; the grader compiles it with the system C compiler
into a temporary ``.so`` and calls it through :mod:`ctypes`. Every graded C function returns
an ``int`` status: 0 for success, ``TT_NOT_IMPLEMENTED`` (defined in the prelude below) for a
function whose body is still the student-edition stub, so an unfinished C exercise reads
"not implemented yet" like a Python one.
"""

from __future__ import annotations

import ctypes
import subprocess
import tempfile
from pathlib import Path

from ..cflags import c_compiler
from .checks import LabFailure

TT_NOT_IMPLEMENTED = -2
PRELUDE = f"""#include <stddef.h>
#include <stdint.h>
#include <math.h>
#define TT_NOT_IMPLEMENTED ({TT_NOT_IMPLEMENTED})
#line 1 "your C source"
"""


def compile_c(source: str, name: str = "lab") -> ctypes.CDLL:
    """Compile ``source`` (plus the prelude) into a shared library and load it.

    Raises :class:`LabFailure` with the compiler's messages when the source does not compile.
    """
    cc = c_compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (set $CC or install gcc/clang)")
    tmp = Path(tempfile.mkdtemp(prefix="tinytorch-lab-"))
    src, lib = tmp / f"{name}.c", tmp / f"{name}.so"
    src.write_text(PRELUDE + source)
    cmd = [cc, "-O2", "-std=c11", "-shared", "-fPIC", "-Wall", "-o", str(lib), str(src), "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        errors = "\n".join(proc.stderr.strip().splitlines()[:15])
        raise LabFailure(f"your C source does not compile:\n{errors}",
                         hint="read the first error; line numbers count from the first line of your C string")
    return ctypes.CDLL(str(lib))


def call_status(status: int, function: str) -> None:
    """Turn a C function's status into Python: NotImplementedError for the stub."""
    if status == TT_NOT_IMPLEMENTED:
        raise NotImplementedError(f"{function} still returns TT_NOT_IMPLEMENTED")
    if status != 0:
        raise LabFailure(f"{function} returned status {status}, expected 0 (success)")
