"""Builds the C backend (``tinytorch/backend_cpu/*.c``) as one shared library.

The library is an ordinary setuptools ``Extension`` so that ``pip install`` builds it; the
Python side loads it with :mod:`ctypes` (see ``tinytorch/backend_cpu/__init__.py``).
After editing a kernel, rebuild in place with ``make build`` (``python setup.py build_ext --inplace``).

Environment knobs (see tinytorch/cflags.py): TINYTORCH_PORTABLE=1 builds without
``-march=native``, TINYTORCH_NO_OPENMP=1 single-threaded.
"""

import glob
import os
import runpy

from setuptools import Extension, setup

# the flags live in tinytorch/cflags.py, which the run-time compilers share
_cflags = runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "tinytorch", "cflags.py"))
flags = _cflags["compile_flags"]()
link = _cflags["link_flags"]()

kernels = Extension(
    "tinytorch.backend_cpu._kernels",
    sources=sorted(glob.glob("tinytorch/backend_cpu/*.c")),
    depends=sorted(glob.glob("tinytorch/backend_cpu/*.h")),
    extra_compile_args=flags,
    extra_link_args=link,
)

setup(ext_modules=[kernels])
