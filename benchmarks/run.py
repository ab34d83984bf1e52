"""tinytorch speed, side by side with numpy and PyTorch, measured in one interleaved run.

Usage::

    python benchmarks/run.py            # full run (a few minutes), writes results.md + matmul.png
    python benchmarks/run.py --quick    # smoke mode for CI: tiny sizes, checks that it all works

Method: threads are pinned (``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` = number of cores,
set *before* numpy loads); every contender runs the same inputs; rounds are interleaved
(numpy, tinytorch-numpy, tinytorch-cpu, numpy, ...) so machine noise hits all of them alike;
each figure is the median over rounds, and each ratio is taken from the same run. These
are benchmarks, not tests: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

THREADS = str(os.cpu_count() or 1)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, THREADS)

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tinytorch.ndarray import array, available  # noqa: E402

HERE = Path(__file__).resolve().parent


def median_time(fn, rounds: int, min_time: float) -> float:
    """Median seconds per call of ``fn`` over ``rounds`` rounds of >= ``min_time`` seconds each."""
    fn()  # warm up
    n = 1
    while True:  # calls per round, so that one round lasts at least min_time
        t = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t >= min_time or n >= 1 << 20:
            break
        n *= 2
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t) / n)
    return statistics.median(times)


def interleaved(contenders: dict, rounds: int, min_time: float) -> dict:
    """Median time of each contender, with their rounds interleaved."""
    samples: dict = {k: [] for k in contenders}
    for fn in contenders.values():
        fn()
    for _ in range(rounds):
        for name, fn in contenders.items():
            samples[name].append(median_time(fn, 1, min_time))
    return {k: statistics.median(v) for k, v in samples.items()}


def describe_machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = "unknown BLAS"
    try:
        info = np.show_config(mode="dicts")
        blas = info["Build Dependencies"]["blas"]["name"]
    except Exception:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, threads pinned to {THREADS}; Python {platform.python_version()}, "
            f"numpy {np.__version__} ({blas})")


def tt_devices() -> list[str]:
    return [d for d in ("numpy", "cpu") if d in available()]


def bench_matmul(sizes, dtypes, rounds, min_time):
    rows = []
    for dtype in dtypes:
        for n in sizes:
            rng = np.random.default_rng(0)
            x, y = rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, n)).astype(dtype)
            contenders = {"numpy": lambda x=x, y=y: x @ y}
            for dev in tt_devices():
                a, b = array(x, device=dev), array(y, device=dev)
                contenders[f"tt-{dev}"] = lambda a=a, b=b: a @ b
            t = interleaved(contenders, rounds, min_time)
            flops = 2 * n ** 3
            rows.append({"kernel": f"matmul {np.dtype(dtype).name} {n}²",
                         **{k: flops / v / 1e9 for k, v in t.items()}, "unit": "GFLOP/s"})
    return rows


def bench_elementwise(n, rounds, min_time):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    x2 = x.reshape(-1, 1024)
    cases = {
        "add": (lambda: x + y, lambda a, b: a + b, 3),
        "mul scalar": (lambda: x * 2.0, lambda a, b: a * 2.0, 2),
        "exp": (lambda: np.exp(x), lambda a, b: a.exp(), 2),
        "tanh": (lambda: np.tanh(x), lambda a, b: a.tanh(), 2),
        "sum all": (lambda: x.sum(), lambda a, b: a.sum(), 1),
        "max all": (lambda: x.max(), lambda a, b: a.max(), 1),
        "sum last axis": (lambda: x2.sum(axis=1), lambda a2, b: a2.sum(axis=1), 1),
        "sum first axis": (lambda: x2.sum(axis=0), lambda a2, b: a2.sum(axis=0), 1),
    }
    rows = []
    for name, (np_fn, tt_fn, passes) in cases.items():
        contenders = {"numpy": np_fn}
        for dev in tt_devices():
            a, b = array(x, device=dev), array(y, device=dev)
            if "axis" in name:
                a = a.reshape((-1, 1024))
            contenders[f"tt-{dev}"] = lambda a=a, b=b, f=tt_fn: f(a, b)
        t = interleaved(contenders, rounds, min_time)
        nbytes = passes * n * 4
        rows.append({"kernel": f"{name} ({n // 1_000_000 or n}{'M' if n >= 1_000_000 else ''} f32)",
                     **{k: nbytes / v / 1e9 for k, v in t.items()}, "unit": "GB/s"})
    return rows


def format_table(rows) -> str:
    cols = ["numpy"] + [f"tt-{d}" for d in tt_devices()]
    head = "| kernel | unit | " + " | ".join(cols) + " | " + " | ".join(f"{c} / numpy" for c in cols[1:]) + " |"
    lines = [head, "|" + " --- |" * (2 + 2 * len(cols) - 1)]
    for r in rows:
        vals = " | ".join(f"{r[c]:.1f}" for c in cols)
        ratios = " | ".join(f"{r[c] / r['numpy']:.2f}×" for c in cols[1:])
        lines.append(f"| {r['kernel']} | {r['unit']} | {vals} | {ratios} |")
    return "\n".join(lines)


def plot_matmul(rows, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    f32 = [r for r in rows if "float32" in r["kernel"]]
    sizes = [int(r["kernel"].split()[-1].rstrip("²")) for r in f32]
    for col in ["numpy"] + [f"tt-{d}" for d in tt_devices()]:
        ax.plot(sizes, [r[col] for r in f32], marker="o", label=col)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("n (n×n @ n×n, float32)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title("matmul throughput")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, one round: checks the benchmark runs")
    p.add_argument("--out", type=Path, default=HERE, help="where results.md and matmul.png go (full mode)")
    args = p.parse_args(argv)
    if args.quick:
        sizes, dtypes, n_ew, rounds, min_time = [64], [np.float32], 1 << 14, 1, 0.001
    else:
        sizes, dtypes, n_ew, rounds, min_time = [256, 512, 1024, 2048], [np.float32, np.float64], 1 << 22, 5, 0.2
    machine = describe_machine()
    print(f"machine: {machine}\ndevices: {tt_devices()}\n")
    mm = bench_matmul(sizes, dtypes, rounds, min_time)
    print(format_table(mm), "\n")
    ew = bench_elementwise(n_ew, rounds, min_time)
    print(format_table(ew), "\n")
    if not args.quick:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.md").write_text(
            f"# Benchmark results\n\nMachine: {machine}\n\nCommand: `python benchmarks/run.py` "
            f"(medians of {rounds} interleaved rounds; higher is better)\n\n## matmul\n\n{format_table(mm)}\n\n"
            f"## elementwise and reductions (4M elements)\n\n{format_table(ew)}\n")
        plot_matmul(mm, args.out / "matmul.png")
        print(f"wrote {args.out / 'results.md'} and {args.out / 'matmul.png'}")


if __name__ == "__main__":
    main()
