"""tinytorch's CUDA backend next to PyTorch (cuBLAS) or CuPy on the same GPU, in one run.

Usage::

    python benchmarks/bench_cuda.py                 # full run, prints a table
    python benchmarks/bench_cuda.py --out results_cuda.md   # also write the table + machine
    python benchmarks/bench_cuda.py --quick         # smoke mode: tiny sizes, checks it all works

Without a usable "cuda" device it prints why and exits with status 0, so CI machines
without a GPU can run it.

What is measured (float32 unless stated):

* matmul ``n x n @ n x n`` for n = 256 ... 4096, in GFLOP/s (2 n^3 flops per product).
  PyTorch runs with TF32 disabled, so both sides do true float32 arithmetic.
* elementwise ``a + b`` on 2^26 elements, in GB/s (three arrays of 4 bytes per element
  moved), and ``exp(a)`` (two arrays).
* ``sum`` of 2^26 elements along the last axis, and ``compact()`` of a transposed
  4096 x 4096 matrix, in GB/s.

Method: both sides get the same input values; every call is followed by a device
synchronize inside the timed loop's end, so GPU time (not launch time) is measured; the
contenders' rounds are interleaved and the median round is reported. Before timing, each
tinytorch result is compared with the other library's, so the table never reports the
speed of a wrong answer. These are benchmarks, not tests: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tinytorch.ndarray import array, get_backend, unavailable_reason  # noqa: E402


def _reference():
    """(name, module) of the library to compare with: PyTorch if it sees the GPU, else CuPy."""
    try:
        import torch
        if torch.cuda.is_available():
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            return f"torch {torch.__version__}", torch
    except ImportError:
        pass
    try:
        import cupy
        cupy.cuda.runtime.getDeviceCount()
        return f"cupy {cupy.__version__}", cupy
    except Exception:
        return None, None


def _timed(fn, sync, rounds: int, min_time: float) -> float:
    """Median seconds per call, each round lasting at least ``min_time``."""
    fn()
    sync()
    calls = 1
    while True:
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        if time.perf_counter() - t >= min_time or calls >= 1 << 16:
            break
        calls *= 2
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        times.append((time.perf_counter() - t) / calls)
    return statistics.median(times)


def _interleaved(contenders: dict, sync: dict, rounds: int, min_time: float) -> dict:
    samples: dict = {k: [] for k in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            samples[name].append(_timed(fn, sync[name], 1, min_time))
    return {k: statistics.median(v) for k, v in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round: checks that it works")
    parser.add_argument("--out", type=Path, help="also write the results as markdown to this file")
    opts = parser.parse_args()

    reason = unavailable_reason("cuda")
    if reason:
        print(f"bench_cuda: skipped, {reason}")
        return 0
    cuda = get_backend("cuda")
    ref_name, ref = _reference()
    gpu = cuda.device_name()
    print(f"GPU: {gpu}; comparing with {ref_name or 'nothing (install torch or cupy to compare)'}")

    rounds, min_time = (1, 0.0) if opts.quick else (5, 0.2)
    mm_sizes = [64, 128] if opts.quick else [256, 512, 1024, 2048, 4096]
    big = 1 << 12 if opts.quick else 1 << 26
    side = 64 if opts.quick else 4096
    rng = np.random.default_rng(0)

    def ref_array(x):
        return ref.from_numpy(x).cuda() if ref_name.startswith("torch") else ref.asarray(x)

    def ref_sync():
        if ref_name.startswith("torch"):
            ref.cuda.synchronize()
        else:
            ref.cuda.Device().synchronize()

    def ref_numpy(x):
        return x.cpu().numpy() if ref_name.startswith("torch") else ref.asnumpy(x)

    sync = {"tinytorch": cuda.synchronize, "ref": ref_sync}
    rows: list[tuple[str, str, float, float | None]] = []  # (what, unit, tinytorch, reference)

    def run(what: str, unit: str, work: float, tt_fn, ref_fn, check) -> None:
        check()
        contenders = {"tinytorch": tt_fn} | ({"ref": ref_fn} if ref is not None else {})
        t = _interleaved(contenders, sync, rounds, min_time)
        rate = {k: work / v / 1e9 for k, v in t.items()}
        rows.append((what, unit, rate["tinytorch"], rate.get("ref")))
        other = f"{rate['ref']:10.1f}   ratio {rate['tinytorch'] / rate['ref']:.2f}" if "ref" in rate else ""
        print(f"{what:34s} {unit:7s} tinytorch {rate['tinytorch']:10.1f}   {ref_name or ''} {other}")

    for n in mm_sizes:
        a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
        ta, tb = array(a, device="cuda"), array(b, device="cuda")
        ra, rb = (ref_array(a), ref_array(b)) if ref is not None else (None, None)

        def check(ta=ta, tb=tb, ra=ra, rb=rb, a=a, b=b, n=n):
            want = ref_numpy(ra @ rb) if ref is not None else a.astype(np.float64) @ b
            np.testing.assert_allclose((ta @ tb).numpy(), want, rtol=1e-3, atol=1e-3 * np.sqrt(n))

        run(f"matmul {n}x{n} @ {n}x{n}", "GFLOP/s", 2.0 * n**3,
            lambda ta=ta, tb=tb: ta @ tb, lambda ra=ra, rb=rb: ra @ rb, check)

    x, y = rng.standard_normal(big, dtype=np.float32), rng.standard_normal(big, dtype=np.float32)
    tx, ty = array(x, device="cuda"), array(y, device="cuda")
    rx, ry = (ref_array(x), ref_array(y)) if ref is not None else (None, None)
    run(f"add, {big} elements", "GB/s", 3.0 * 4 * big, lambda: tx + ty, lambda: rx + ry,
        lambda: np.testing.assert_allclose((tx + ty).numpy(), x + y, rtol=1e-6))
    run(f"exp, {big} elements", "GB/s", 2.0 * 4 * big, lambda: tx.exp(), lambda: ref.exp(rx),
        lambda: np.testing.assert_allclose(tx.exp().numpy(), np.exp(x), rtol=1e-5))
    rows_, cols = big // 1024, 1024
    t2, r2 = tx.reshape((rows_, cols)), (rx.reshape(rows_, cols) if ref is not None else None)
    run(f"sum over last axis, {rows_}x{cols}", "GB/s", 4.0 * big, lambda: t2.sum(axis=1),
        lambda: r2.sum(axis=1), lambda: np.testing.assert_allclose(
            t2.sum(axis=1).numpy(), x.reshape(rows_, cols).sum(axis=1), rtol=1e-3, atol=1e-3))
    run(f"sum of all {big} elements", "GB/s", 4.0 * big, lambda: tx.sum(), lambda: rx.sum(),
        lambda: np.testing.assert_allclose(tx.sum().numpy(), x.astype(np.float64).sum(), rtol=0,
                                           atol=1e-6 * np.abs(x).astype(np.float64).sum()))
    m = rng.standard_normal((side, side), dtype=np.float32)
    tm, rm = array(m, device="cuda"), (ref_array(m) if ref is not None else None)

    def ref_transpose_copy():
        return rm.T.contiguous() if ref_name.startswith("torch") else ref.ascontiguousarray(rm.T)

    run(f"transpose + compact {side}x{side}", "GB/s", 2.0 * 4 * side * side, lambda: tm.T.compact(),
        ref_transpose_copy, lambda: np.testing.assert_array_equal(tm.T.compact().numpy(), m.T))

    if opts.out:
        lines = [f"# tinytorch CUDA backend vs {ref_name or 'nothing'}", "",
                 f"GPU: {gpu}; host: {platform.node()} ({platform.machine()}); "
                 f"float32; medians of {rounds} interleaved rounds, measured in one run.", "",
                 f"| operation | unit | tinytorch cuda | {ref_name or '-'} | ratio |",
                 "| --- | --- | ---: | ---: | ---: |"]
        for what, unit, tt, other in rows:
            ratio = f"{tt / other:.2f}" if other else "-"
            lines.append(f"| {what} | {unit} | {tt:.1f} | {other:.1f} | {ratio} |" if other
                         else f"| {what} | {unit} | {tt:.1f} | - | - |")
        opts.out.write_text("\n".join(lines) + "\n")
        print(f"wrote {opts.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
