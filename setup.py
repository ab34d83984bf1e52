"""Builds the C backend (``tinytorch/backend_cpu/*.c``) as one shared library.

The library is an ordinary setuptools ``Extension`` so that ``pip install`` builds it; the
Python side loads it with :mod:`ctypes` (see ``tinytorch/backend_cpu/__init__.py``).
After editing a kernel, rebuild in place with ``make build`` (``python setup.py build_ext --inplace``).

Environment knobs:
  TINYTORCH_PORTABLE=1   build without ``-march=native`` (for a wheel that runs on any x86-64)
  TINYTORCH_NO_OPENMP=1  build single-threaded (e.g. a compiler without OpenMP)
"""

import glob
import os
import sys

from setuptools import Extension, setup

flags = ["-O3", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter",
         "-fno-math-errno",     # sqrt/fabs/... become instructions (we never read errno)
         "-fno-trapping-math",  # ternaries on floats may become vector selects (we never read FP flags)
         "-ffp-contract=fast"]  # fuse a * b + c into one FMA instruction (ISO C mode forbids it by default)
link = []
if os.environ.get("TINYTORCH_PORTABLE") != "1" and sys.platform != "darwin":
    flags.append("-march=native")
if os.environ.get("TINYTORCH_NO_OPENMP") != "1":
    flags.append("-fopenmp")
    link.append("-fopenmp")
else:  # keep `omp simd` (vectorized reductions); the `omp parallel` pragmas are then ignored
    flags += ["-fopenmp-simd", "-Wno-unknown-pragmas"]

kernels = Extension(
    "tinytorch.backend_cpu._kernels",
    sources=sorted(glob.glob("tinytorch/backend_cpu/*.c")),
    depends=sorted(glob.glob("tinytorch/backend_cpu/*.h")),
    extra_compile_args=flags,
    extra_link_args=link,
)

setup(ext_modules=[kernels])
