"""The C compiler and flags of the C backend (``backend_cpu``), in one place: ``setup.py`` builds the backend
with them (it reads this file with :func:`runpy.run_path`, so nothing is imported), and the
run-time compilers use the same ones (``tinytorch.compiler`` for generated kernels, the labs
for a learner's C).

Environment knobs:
  CC                     the C compiler (default: Python's own, else cc/gcc/clang on PATH)
  TINYTORCH_PORTABLE=1   no ``-march=native`` (for a wheel that runs on any x86-64)
  TINYTORCH_NO_OPENMP=1  single-threaded (e.g. a compiler without OpenMP)
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig


def compile_flags() -> list[str]:
    """The flags every C file of tinytorch is compiled with (generated kernels too)."""
    flags = ["-O3", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter",
             "-fno-math-errno",     # sqrt/fabs/... become instructions (we never read errno)
             "-fno-trapping-math",  # ternaries on floats may become vector selects (we never read FP flags)
             "-ffp-contract=fast"]  # fuse a * b + c into one FMA instruction (ISO C mode forbids it by default)
    if os.environ.get("TINYTORCH_PORTABLE") != "1" and sys.platform != "darwin":
        flags.append("-march=native")
    if os.environ.get("TINYTORCH_NO_OPENMP") != "1":
        flags.append("-fopenmp")
    else:  # keep `omp simd` (vectorized reductions); the `omp parallel` pragmas are then ignored
        flags += ["-fopenmp-simd", "-Wno-unknown-pragmas"]
    return flags


def link_flags() -> list[str]:
    """The flags the shared library is linked with."""
    return ["-fopenmp"] if os.environ.get("TINYTORCH_NO_OPENMP") != "1" else []


def c_compiler() -> str | None:
    """The C compiler to use: ``$CC`` when set (None if it does not exist: a missing compiler
    named on purpose is not replaced by another), else Python's own, cc, gcc or clang on PATH."""
    chosen = os.environ.get("CC")
    if chosen:
        return shutil.which(chosen.split(" ")[0])
    for cand in [(sysconfig.get_config_var("CC") or "").split(" ")[0], "cc", "gcc", "clang"]:
        if cand and shutil.which(cand):
            return shutil.which(cand)
    return None
