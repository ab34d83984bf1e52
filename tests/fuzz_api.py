"""A differential fuzzer for the public API: random ops on random tensors, random indexing
keys and random damage to saved files, each compared with PyTorch 2.13 (or with the loading
contract). It found the reproductions of issue 13; ``tests/test_fuzz.py`` runs it in CI with a
small fixed budget, in a subprocess so that even an interpreter crash is a test failure.

Usage (from the repository root)::

    python tests/fuzz_api.py                         # the CI budget, seed 0
    python tests/fuzz_api.py --cases 200000 --seed 7 # a long run (TINYTORCH_FUZZ_CASES=... in CI)
    python tests/fuzz_api.py --mode load --cases 50000 --show 20

What is compared, per case:

* ``ops`` -- one op on 1-2 random tensors (shapes with 0-, 1- and size-0 dims, all four dtypes,
  NaN/inf/-0.0/huge values, dims in and out of range) on a random device. Outcomes are the
  value (with a float tolerance), dtype and shape, or the exception; for float results also
  the gradient of ``sum()``.
* ``index`` -- ``x[key]`` and ``x[key] = v`` with random keys (ints, slices with any step,
  None, ``...``, Python bools, lists, int and bool tensors).
* ``load`` -- ``tt.load`` of a saved archive after random truncation, byte changes,
  insertions and deletions: it must return or raise ``RuntimeError`` (the documented contract).

A case is a *failure* when tinytorch gives a different answer than PyTorch (value, dtype,
shape), answers where PyTorch raises, or raises anything but ``RuntimeError`` from
``tt.load``. Raising where PyTorch answers (a feature tinytorch lacks) and raising another
exception class than PyTorch are *notes*: listed, not failures. The run prints a JSON summary
and exits 1 if there was a failure.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import sys
import time
import zipfile
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))  # torch_compare, when run as a script

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as torchF  # noqa: E402
from torch_compare import close, outcome, run  # noqa: E402

import tinytorch as tt  # noqa: E402
import tinytorch.nn.functional as ttF  # noqa: E402
from tinytorch.ndarray import is_available  # noqa: E402

CI_CASES = {"ops": 1500, "index": 800, "load": 500}  # about 25 s together on one core
DEVICES = [d for d in ("numpy", "cpu") if is_available(d)]
DTYPES = ("float32", "float64", "int64", "bool")
SPECIAL = (math.nan, math.inf, -math.inf, -0.0, 0.0, 1e20, -1e20, 1e-30, 1e38, 1.0, -1.0, 0.5)
INT_SPECIAL = (0, 1, -1, 2, -(2**63), 2**63 - 1, 7, -7)


# --- random inputs --------------------------------------------------------------------------------------
class Case:
    """One random input: a numpy array that both libraries build their tensor from."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def shape(self, ndim: int | None = None) -> tuple[int, ...]:
        ndim = self.rng.choice((0, 1, 1, 2, 2, 3)) if ndim is None else ndim
        return tuple(self.rng.choice((0, 1, 1, 2, 3, 3, 4)) for _ in range(ndim))

    def array(self, shape: tuple[int, ...], dtype: str) -> np.ndarray:
        n = math.prod(shape)
        rng = self.rng
        if dtype == "bool":
            return np.array([rng.random() < 0.5 for _ in range(n)], dtype=np.bool_).reshape(shape)
        if dtype == "int64":
            vals = [rng.choice(INT_SPECIAL) if rng.random() < 0.05 else rng.randint(-5, 5) for _ in range(n)]
            return np.array(vals, dtype=np.int64).reshape(shape)
        vals = [rng.choice(SPECIAL) if rng.random() < 0.15 else rng.gauss(0, 2) for _ in range(n)]
        return np.array(vals, dtype=dtype).reshape(shape)

    def dim(self, ndim: int) -> int:
        return self.rng.randint(-ndim - 1, ndim)  # one out of range on each side, now and then


def _tensor(lib: Any, a: np.ndarray, device: str, requires_grad: bool = False) -> Any:
    kw = {"device": device} if lib is tt else {}
    t = lib.tensor(a.tolist() if a.ndim else a.item(), dtype=getattr(lib, str(a.dtype).replace("bool", "bool")), **kw)
    return t.requires_grad_() if requires_grad and a.dtype.kind == "f" else t


# --- ops: each a function of (case) -> snippet(lib, F, device, *tensors) -------------------------------
def _unary(name: str, **kw: Any) -> Callable:
    return lambda c: (lambda t, F, x: getattr(t, name)(x, **kw))


def _method(name: str, args: Callable[[Case, tuple], tuple]) -> Callable:
    def make(c: Case, shape: tuple) -> Callable:
        a = args(c, shape)
        return lambda t, F, x: getattr(x, name)(*a)
    return make


UNARY = ["neg", "abs", "exp", "log", "sqrt", "rsqrt", "sin", "tanh", "sigmoid", "relu", "sign", "floor", "ceil",
         "trunc", "log1p", "expm1", "square"]
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "eq", "lt", "ge", "pow"]
REDUCE = ["sum", "mean", "amax", "amin", "std", "var", "logsumexp", "argmax", "argmin", "all", "any"]


def op_snippet(c: Case) -> tuple[str, Callable, list[np.ndarray]]:
    """A random op, its snippet ``(lib, F, device) -> result`` and the arrays it reads."""
    rng = c.rng
    kind = rng.choice(("unary", "binary", "reduce", "extreme", "movement", "fill", "nn"))
    dtype = rng.choice(DTYPES)
    a = c.array(c.shape(), dtype)
    nd = a.ndim
    if kind == "unary":
        name = rng.choice(UNARY + ["clamp"])
        if name == "clamp":
            lo, hi = rng.choice((None, -1.0, 0.0)), rng.choice((None, 1.0, 0.5))
            lo = -1.0 if lo is None and hi is None else lo
            return f"clamp({lo}, {hi})", lambda t, F, x: t.clamp(x, lo, hi), [a]
        return name, lambda t, F, x: getattr(t, name)(x), [a]
    if kind == "binary":
        name = rng.choice(BINARY)
        shape_b = a.shape[rng.randint(0, nd):] if nd else ()
        b = c.array(shape_b, rng.choice(DTYPES))
        return name, lambda t, F, x, y: getattr(t, name)(x, y), [a, b]
    if kind == "reduce":
        name = rng.choice(REDUCE)
        dims: Any = rng.choice((None, c.dim(nd), (), [c.dim(nd), c.dim(nd)]))
        keep = rng.random() < 0.5
        if name in ("argmax", "argmin"):
            dims = None if not isinstance(dims, int) else dims
        if name == "logsumexp" and dims is None:
            dims = c.dim(nd)
        if dims is None:
            return f"{name}()", lambda t, F, x: getattr(t, name)(x), [a]
        return f"{name}({dims}, keepdim={keep})", lambda t, F, x: getattr(t, name)(x, dims, keepdim=keep), [a]
    if kind == "extreme":
        name = rng.choice(("max", "min"))
        if rng.random() < 0.5:
            return f"{name}()", lambda t, F, x: getattr(x, name)(), [a]
        d = c.dim(nd)
        return f"{name}({d})", lambda t, F, x: tuple(getattr(x, name)(d)), [a]
    if kind == "movement":
        name = rng.choice(("flip", "squeeze", "unsqueeze", "transpose", "chunk", "split", "expand", "triu", "tril",
                           "reshape", "gather"))
        if name == "flip":
            dims = rng.choice(([], [c.dim(nd)], [c.dim(nd), c.dim(nd)]))
            return f"flip({dims})", lambda t, F, x: x.flip(dims), [a]
        if name == "squeeze":
            d = rng.choice(((), c.dim(nd), None))
            return f"squeeze({d})", lambda t, F, x: x.squeeze() if d is None else x.squeeze(d), [a]
        if name == "unsqueeze":
            d = rng.randint(-nd - 2, nd + 1)
            return f"unsqueeze({d})", lambda t, F, x: x.unsqueeze(d), [a]
        if name == "transpose":
            d0, d1 = c.dim(nd), c.dim(nd)
            return f"transpose({d0}, {d1})", lambda t, F, x: x.transpose(d0, d1), [a]
        if name == "chunk":
            k, d = rng.randint(-1, 4), c.dim(nd)
            return f"chunk({k}, {d})", lambda t, F, x: x.chunk(k, d), [a]
        if name == "split":
            sizes: Any = rng.choice((rng.randint(-1, 3), [rng.randint(-1, 3) for _ in range(rng.randint(1, 3))]))
            d = c.dim(nd)
            return f"split({sizes}, {d})", lambda t, F, x: x.split(sizes, d), [a]
        if name == "expand":
            sizes = [rng.choice((-2, -1, 1, 2, 3)) for _ in range(nd + rng.randint(0, 1))]
            return f"expand({sizes})", lambda t, F, x: x.expand(*sizes), [a]
        if name in ("triu", "tril"):
            k = rng.randint(-2, 2)
            return f"{name}({k})", lambda t, F, x: getattr(x, name)(k), [a]
        if name == "reshape":
            return "reshape(-1)", lambda t, F, x: x.reshape(-1), [a]
        d = c.dim(nd)
        idx = np.array([rng.randint(-4, 4) for _ in range(a.size)], dtype=np.int64).reshape(a.shape)
        return f"gather({d})", lambda t, F, x, i: x.gather(d, i), [a, idx]
    if kind == "fill":
        value = rng.choice((0.5, -2.7, 3, True, math.nan))
        mask = c.array(a.shape, "bool")
        return f"masked_fill({value})", lambda t, F, x, m: x.masked_fill(m, value), [a, mask]
    name = rng.choice(("one_hot", "embedding"))
    idx = np.array([rng.randint(-2, 5) for _ in range(rng.randint(0, 4))], dtype=np.int64)
    if name == "one_hot":
        k = rng.choice((-1, 3, 5))
        return f"one_hot({k})", lambda t, F, i: F.one_hot(i, k), [idx]
    w = c.array((4, 2), "float32")
    return "embedding", lambda t, F, i, w: F.embedding(i, w), [idx, w]


def run_op(fn: Callable, arrays: list[np.ndarray], lib: Any, F: Any, device: str) -> tuple[Any, Any]:
    """(outcome of the op, outcome of the gradients of ``sum()`` of a float result, or None)."""
    try:
        xs = [_tensor(lib, a, device, requires_grad=True) for a in arrays]
    except Exception as e:  # noqa: BLE001
        return outcome(e), None
    result = run(lambda t, F_, d: fn(t, F_, *xs), lib, F, device)
    grads = None
    try:
        out = fn(lib, F, *xs)
        if hasattr(out, "requires_grad") and out.requires_grad and out.dtype in (lib.float32, lib.float64):
            out.sum().backward()
            grads = tuple(outcome(x.grad) for x in xs if x.requires_grad)
    except Exception as e:  # noqa: BLE001
        grads = outcome(e)
    return result, grads


# --- indexing keys ----------------------------------------------------------------------------------------
def random_key(c: Case, shape: tuple[int, ...]) -> list[Any]:
    """A random key as a recipe: entries are ints, slices, None, ..., bools, lists, or
    ("long", list) / ("mask", list) for tensors (built per library)."""
    rng = c.rng
    entries: list[Any] = []
    axis = 0
    for _ in range(rng.randint(0, len(shape) + 1)):
        n = shape[axis] if axis < len(shape) else 1
        pick = rng.random()
        if pick < 0.25:
            entries.append(rng.randint(-n - 1, n))
            axis += 1
        elif pick < 0.45:
            start, stop = (rng.choice((None, rng.randint(-n - 1, n + 1))) for _ in range(2))
            entries.append(slice(start, stop, rng.choice((None, 1, 2, 3))))
            axis += 1
        elif pick < 0.52:
            entries.append(None)
        elif pick < 0.57:
            entries.append(Ellipsis) if Ellipsis not in entries else entries.append(None)
        elif pick < 0.65:
            entries.append(rng.random() < 0.5)
        elif pick < 0.8:
            entries.append(("long", [rng.randint(-n - 1, n) for _ in range(rng.randint(0, 3))]))
            axis += 1
        elif pick < 0.88:
            entries.append([rng.randint(-n, n - 1) for _ in range(rng.randint(0, 2))] if n else [])
            axis += 1
        else:
            entries.append(("mask", [rng.random() < 0.5 for _ in range(n)]))
            axis += 1
    return entries


def _build_key(lib: Any, recipe: list[Any], device: str) -> tuple:
    kw = {"device": device} if lib is tt else {}
    key = []
    for e in recipe:
        if isinstance(e, tuple) and e[0] == "long":
            key.append(lib.tensor(e[1], dtype=lib.int64, **kw))
        elif isinstance(e, tuple) and e[0] == "mask":
            key.append(lib.tensor(e[1], dtype=lib.bool, **kw))
        else:
            key.append(e)
    return tuple(key)


def index_snippet(c: Case) -> tuple[str, Callable, list[np.ndarray]]:
    a = c.array(c.shape(c.rng.randint(0, 3)), c.rng.choice(("float32", "int64", "bool")))
    recipe = random_key(c, a.shape)
    setting = c.rng.random() < 0.4

    def snippet(t: Any, F: Any, x: Any) -> Any:
        key = _build_key(t, recipe, str(x.device.type) if t is tt else "cpu")
        if setting:
            y = x.detach().clone()
            y[key] = 7
            return y
        return x[key]
    return f"{'set' if setting else 'get'}item{recipe}", snippet, [a]


# --- files ------------------------------------------------------------------------------------------------
def saved_files() -> list[bytes]:
    """A small saved object, stored and deflated."""
    w = tt.arange(12.0, device="numpy").reshape(3, 4)
    obj = OrderedDict(w=w, v=w[1:], t=w.T, i=tt.tensor([1, 2], device="numpy"), n=np.arange(5, dtype=np.int16),
                      s=np.float32(0.25), b=np.bool_(True), p=tt.nn.Parameter(tt.ones(2, device="numpy")),
                      nested=[{"x": (1, 2.5, None, "s")}])
    stored = io.BytesIO()
    tt.save(obj, stored)
    deflated = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(stored.getvalue())) as src, \
            zipfile.ZipFile(deflated, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
    return [stored.getvalue(), deflated.getvalue()]


def mutate(rng: random.Random, data: bytes) -> bytes:
    d = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        how = rng.randrange(4)
        i = rng.randrange(max(len(d), 1))
        if how == 0:
            del d[i:]
        elif how == 1 and d:
            d[i] = rng.randrange(256)
        elif how == 2:
            d[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        else:
            del d[i:i + rng.randint(1, 16)]
    return bytes(d)


# --- the loop ---------------------------------------------------------------------------------------------
def _tolerant_equal(ours: Any, theirs: Any, atol: float = 1e-5) -> bool:
    return ours == theirs or close(ours, theirs, rtol=2e-4, atol=atol)


def _rounding_scale(arrays: list[np.ndarray]) -> float:
    """How far two correct float results may differ after summing in another order: the
    largest input magnitude times the element count times the precision (1e20 - 1e20 + 0.4
    is 0.4 or 0 depending on the order)."""
    floats = [a for a in arrays if a.dtype.kind == "f" and a.size]
    finite = [np.abs(a[np.isfinite(a)]) for a in floats]
    top = max((float(f.max()) for f in finite if f.size), default=0.0)
    eps = max((float(np.finfo(a.dtype).eps) for a in floats), default=0.0)
    return top * eps * sum(a.size for a in floats)


def classify(ours: Any, theirs: Any, atol: float = 1e-5) -> str | None:
    """None when the outcomes agree, else "failure: ..." or "note: ..."."""
    if _tolerant_equal(ours, theirs, atol):
        return None
    ours_raises = isinstance(ours, tuple) and len(ours) == 2 and ours[0] == "raises"
    theirs_raises = isinstance(theirs, tuple) and len(theirs) == 2 and theirs[0] == "raises"
    if ours_raises and theirs_raises:
        return "note: another exception class"
    if ours_raises:
        return "note: tinytorch raises where PyTorch answers"
    if theirs_raises:
        return "failure: tinytorch answers where PyTorch raises"
    return "failure: a different answer"


# Cases where PyTorch 2.13 itself misbehaves, so a difference is not tinytorch's failure: op name
# prefix -> why (README's Limits lists them as well).
PYTORCH_QUIRKS = {
    "logsumexp((),": "PyTorch raises a shape error for dim=(); tinytorch reduces every dim, as sum(dim=()) does",
}


def _quirk(name: str) -> str | None:
    return next((why for prefix, why in PYTORCH_QUIRKS.items() if name.startswith(prefix)), None)


def fuzz(mode: str, cases: int, seed: int, show: int) -> dict:
    rng = random.Random(f"{mode}-{seed}")
    c = Case(rng)
    counts: Counter = Counter()
    examples: dict[str, list] = {}
    files = saved_files() if mode == "load" else []
    for _ in range(cases):
        if mode == "load":
            data = mutate(rng, rng.choice(files))
            try:
                tt.load(io.BytesIO(data))
                verdict = None
            except RuntimeError:
                verdict = None
            except Exception as e:  # noqa: BLE001
                verdict, detail = "failure: tt.load raised " + type(e).__name__, repr(e)[:200]
        else:
            name, fn, arrays = (op_snippet if mode == "ops" else index_snippet)(c)
            device = rng.choice(DEVICES)
            ours, our_grads = run_op(fn, arrays, tt, ttF, device)
            theirs, their_grads = run_op(fn, arrays, torch, torchF, "cpu")
            verdict = classify(ours, theirs, max(1e-5, _rounding_scale(arrays)))
            if verdict is not None and verdict.startswith("failure") and _quirk(name):
                verdict = f"note: PyTorch quirk: {_quirk(name)}"
            if verdict is None and our_grads is not None and their_grads is not None:
                grads = classify(our_grads, their_grads)
                # PyTorch's own backward fails at some points (pow with a bool exponent): a note only
                verdict = None if grads is None else "note: gradient: " + grads.split(": ", 1)[1]
            inputs = [a.tolist() for a in arrays]
            detail = f"{name} on {device}, inputs {inputs!s:.300}: ours {ours!s:.200} / torch {theirs!s:.200}"
        counts["cases"] += 1
        if verdict is not None:
            counts[verdict] += 1
            examples.setdefault(verdict, [])
            if len(examples[verdict]) < show:
                examples[verdict].append(detail)
    return {"mode": mode, "seed": seed, "counts": dict(counts), "examples": examples,
            "failures": sum(n for k, n in counts.items() if k.startswith("failure"))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=["ops", "index", "load", "all"], default="all")
    p.add_argument("--cases", type=int, default=int(os.environ.get("TINYTORCH_FUZZ_CASES", "0")) or None,
                   help="cases per mode (default: the CI budget; env TINYTORCH_FUZZ_CASES)")
    p.add_argument("--seed", type=int, default=int(os.environ.get("TINYTORCH_FUZZ_SEED", "0")))
    p.add_argument("--show", type=int, default=3, help="examples to print per kind of finding")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    started = time.time()
    modes = ["ops", "index", "load"] if args.mode == "all" else [args.mode]
    reports = [fuzz(m, args.cases or CI_CASES[m], args.seed, args.show) for m in modes]
    print(json.dumps({"seconds": round(time.time() - started, 1), "reports": reports}, indent=1))
    return 1 if any(r["failures"] for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
