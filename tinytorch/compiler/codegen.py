"""Code generation: one C (or CUDA) loop per fused group, compiled at run time and cached.

The C kernel has the type ``void tt_fused(int64_t n, void **p)``: ``p[0]`` is the output,
``p[1:]`` the group's leaves, each a compact array that broadcasts to the output. For each
output position ``i`` the loop loads every leaf once (at ``i``, or at the position a
broadcast maps ``i`` to), computes the group's expressions in registers, and stores one
result: the intermediate arrays of the eager ops are never written.

Compilation uses the C backend's compiler and flags (:mod:`tinytorch.cflags`)
and its vectorisable float32 ``exp/log/tanh/sigmoid/erf`` (``vmath.h``). A kernel is
compiled once per source text: the shared library lands in the cache directory
(``$TINYTORCH_CACHE_DIR``, default ``~/.cache/tinytorch``) under the hash of the source, the
compiler and the flags, so a second process loads it without compiling.
"""

from __future__ import annotations

import ctypes
import hashlib
import math
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .. import cflags
from ..ndarray.dtypes import float32
from .capture import Trace
from .fusion import EXPRESSIONS, Group

VMATH = Path(cflags.__file__).resolve().parent / "backend_cpu" / "vmath.h"

_C_MACROS = {
    "f32": ("float", "f", {"EXP": "exp_f32", "LOG": "log_f32", "TANH": "tanh_f32", "SIGMOID": "sigmoid_f32",
                           "ERF": "erf_f32", "EXPM1": "expm1_f32"}),
    "f64": ("double", "", {"EXP": "exp", "LOG": "log", "TANH": "tanh", "SIGMOID": "tt_sigmoid_f64",
                           "ERF": "erf", "EXPM1": "expm1"}),
}


class CompilerUnavailable(RuntimeError):
    """No C compiler could build a generated kernel."""


def leaf_index(shape: tuple[int, ...], out: tuple[int, ...]) -> str:
    """The C expression of the position, in a compact leaf of ``shape``, that output position
    ``i`` of shape ``out`` reads (``shape`` broadcasts to ``out``). Adjacent axes that are all
    kept or all broadcast are merged first, so the usual cases are ``i``, ``0``, ``i % m``
    (a bias row) and ``i / m`` (a per-row value)."""
    shape = (1,) * (len(out) - len(shape)) + tuple(shape)
    runs: list[list[Any]] = []  # [kept?, output size of the run]
    for n, m in zip(shape, out):
        if m == 1:
            continue
        kept = n == m
        if runs and runs[-1][0] == kept:
            runs[-1][1] *= m
        else:
            runs.append([kept, m])
    terms, inner_out, inner_in = [], 1, 1
    for kept, m in reversed(runs):
        if kept:
            pos = "i" if inner_out == 1 else f"(i / {inner_out})"
            if inner_out * m != math.prod(out):
                pos = f"({pos} % {m})"
            terms.append(pos if inner_in == 1 else f"{pos} * {inner_in}")
            inner_in *= m
        inner_out *= m
    return " + ".join(reversed(terms)) if terms else "0"


def _literal(v: Any) -> str:
    v = float(v)
    if math.isnan(v):
        return "(T)NAN"
    if math.isinf(v):
        return "(T)INFINITY" if v > 0 else "(T)(-INFINITY)"
    return f"(T){v!r}"


def _body(group: Group, trace: Trace, suffix: str, indent: str) -> list[str]:
    """The loop body: load the leaves, one temporary per step, store the result (or, for a
    group that ends in a sum, add it to the row's accumulator)."""
    chain = group.steps[:-1] if group.reduce else group.steps
    domain = trace.meta[chain[-1].out][0]  # the shape the elementwise loop runs over
    lines = [f"{indent}const T x{j} = in{j}[{leaf_index(trace.meta[k][0], domain)}];"
             for j, k in enumerate(group.leaves)]
    names = {k: f"x{j}" for j, k in enumerate(group.leaves)}
    for s in chain:
        args = [names[v] if kind == "slot" else _literal(v) for kind, v in s.args]
        expr = EXPRESSIONS[s.op].format(*args, f=suffix)
        names[s.out] = f"t{s.out}"
        lines.append(f"{indent}const T t{s.out} = {expr};  /* {s.op.__name__} */")
    if group.reduce:
        lines.append(f"{indent}acc += t{chain[-1].out};  /* Sum */")
    else:
        lines.append(f"{indent}out[i] = t{group.out};")
    return lines


def c_source(group: Group, trace: Trace) -> str:
    """The C source of ``group``'s kernel (see the module docstring)."""
    dtype = trace.meta[group.out][1]
    key = "f32" if dtype is float32 else "f64"
    ctype, suffix, macros = _C_MACROS[key]
    head = ["#include <stdint.h>", "#include <math.h>", '#include "vmath.h"', f"typedef {ctype} T;",
            "static inline double tt_sigmoid_f64(double x) { double e = exp(-fabs(x)); "
            "return x >= 0 ? 1 / (1 + e) : e / (1 + e); }",
            "#define MAXIMUM(a, b) (((a) != (a) || (a) > (b)) ? (a) : (b))",
            "#define MINIMUM(a, b) (((a) != (a) || (a) < (b)) ? (a) : (b))"]
    head += [f"#define {m} {fn}" for m, fn in macros.items()]
    sig = ["", "void tt_fused(int64_t n, void **p) {", "    T *restrict out = (T *)p[0];"]
    sig += [f"    const T *restrict in{j} = (const T *)p[{j + 1}];" for j in range(len(group.leaves))]
    if group.reduce:  # n rows of m elements, one sum per row (accumulated in double)
        m = group.reduce[1]
        loop = [f"    const int64_t m = {m};",
                "#pragma omp parallel for schedule(static) if (n * m >= 65536)",
                "    for (int64_t r = 0; r < n; r++) {",
                "        double acc = 0;",
                "#pragma omp simd reduction(+:acc)",
                "        for (int64_t j = 0; j < m; j++) {",
                "            const int64_t i = r * m + j;"]
        body = _body(group, trace, suffix, " " * 12)
        return "\n".join(head + sig + loop + body + ["        }", "        out[r] = (T)acc;", "    }", "}", ""])
    loop = ["#pragma omp parallel for simd schedule(static) if (n >= 65536)",
            "    for (int64_t i = 0; i < n; i++) {"]
    return "\n".join(head + sig + loop + _body(group, trace, suffix, " " * 8) + ["    }", "}", ""])


def cuda_source(group: Group, trace: Trace) -> str:
    """The same kernel for the CUDA backend: one thread per output position
    (``tt_fused<<<blocks, threads>>>(n, out, in0, in1, ...)``); elementwise groups only."""
    if group.reduce:
        raise NotImplementedError("the CUDA code generator writes elementwise kernels only, not fused sums")
    dtype = trace.meta[group.out][1]
    ctype, suffix = ("float", "f") if dtype is float32 else ("double", "")
    head = [f"typedef {ctype} T;",
            f"#define EXP exp{suffix}", f"#define LOG log{suffix}", f"#define TANH tanh{suffix}",
            f"#define ERF erf{suffix}", f"#define EXPM1 expm1{suffix}",
            f"#define SIGMOID(x) ((T)1 / ((T)1 + exp{suffix}(-(x))))",
            "#define MAXIMUM(a, b) (((a) != (a) || (a) > (b)) ? (a) : (b))",
            "#define MINIMUM(a, b) (((a) != (a) || (a) < (b)) ? (a) : (b))", ""]
    params = ", ".join(["long long n", "T *__restrict__ out"]
                       + [f"const T *__restrict__ in{j}" for j in range(len(group.leaves))])
    sig = [f'extern "C" __global__ void tt_fused({params}) {{',
           "    const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;",
           "    if (i >= n) return;"]
    return "\n".join(head + sig + _body(group, trace, suffix, " " * 4) + ["}", ""])


# --- building and the disk cache -------------------------------------------------------------
_loaded: dict[str, Any] = {}


def cache_dir() -> Path:
    """Where compiled kernels are kept: ``$TINYTORCH_CACHE_DIR`` or ``~/.cache/tinytorch``."""
    root = os.environ.get("TINYTORCH_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "tinytorch")
    return Path(root) / "kernels"


def kernel_key(source: str, cc: str) -> str:
    """The cache key: a hash of the source, vmath.h, the compiler and its flags."""
    h = hashlib.sha256()
    for part in (source, VMATH.read_text(), cc, " ".join(cflags.compile_flags() + cflags.link_flags())):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


def build(source: str) -> Any:
    """The ``tt_fused`` function of ``source``, compiled (or found in the cache) and loaded.

    Raises :class:`CompilerUnavailable` when there is no compiler, ``RuntimeError`` with the
    compiler's messages when the source does not compile."""
    cc = cflags.c_compiler()
    if cc is None:
        raise CompilerUnavailable(f"no C compiler found (CC={os.environ.get('CC')!r}); install gcc or clang, "
                                  "or point $CC at one")
    key = kernel_key(source, cc)
    if key in _loaded:
        return _loaded[key]
    folder = cache_dir()
    lib = folder / f"fused_{key}.so"
    if not lib.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            src, tmp_lib = Path(tmp) / f"fused_{key}.c", Path(tmp) / "kernel.so"
            src.write_text(source)
            cmd = [cc, *cflags.compile_flags(), "-shared", "-fPIC", f"-I{VMATH.parent}", "-o", str(tmp_lib),
                   str(src), "-lm", *cflags.link_flags()]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"a generated kernel did not compile ({' '.join(cmd)}):\n{proc.stderr}")
            os.replace(tmp_lib, lib)  # atomic: a process running at the same time sees all or nothing
    fn = ctypes.CDLL(str(lib)).tt_fused
    fn.argtypes, fn.restype = [ctypes.c_int64, ctypes.c_void_p], None
    _loaded[key] = fn
    return fn
