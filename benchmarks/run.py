"""tinytorch speed, side by side with numpy and PyTorch, measured in one interleaved run.

Usage::

    python benchmarks/run.py            # full run (~10 minutes), writes results.md + matmul.png
    python benchmarks/run.py --quick    # smoke mode for CI (< 1 minute): tiny sizes, checks it all works

Four tables, every tinytorch figure taken through the public API (``tt.matmul``, ``x.exp()``,
``x.sum(0)``... on Tensors, Python overhead included):

1. matmul GFLOP/s at 256-2048, float32 and float64: numpy (OpenBLAS) and tinytorch on its
   "numpy" and "cpu" (C backend) devices;
2. the optimization steps of the C matmul (backend_cpu/matmul_steps.h), GFLOP/s of each;
3. elementwise, unary and reduction kernels on 4M float32 elements, GB/s (bytes read + written);
4. one training step (forward, loss, backward, optimizer) of the MNIST MLP and CNN and of the
   Shakespeare examples' character GPT and LSTM, next to PyTorch's when torch is installed,
   with each worker process's peak resident memory.

Method: threads are pinned (``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` = number of cores
unless ``OMP_NUM_THREADS`` is set, set *before* numpy loads; the training steps also run on
one thread) and sleep between calls in every library (``OPENBLAS_THREAD_TIMEOUT``: see below);
every contender runs the same inputs; rounds are interleaved (numpy, tinytorch-numpy,
tinytorch-cpu, numpy, ...) so that machine noise hits all of them alike; each figure is the
median over rounds and each ratio comes from the same run, with the range of the per-round
ratios as a measure of the noise. The training steps run in two worker processes (tinytorch,
PyTorch), driven in alternation: two OpenMP runtimes in one process would compete for the
cores. The machine and its load average are printed with the results. These are benchmarks,
not tests: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from pathlib import Path

THREADS = os.environ.get("OMP_NUM_THREADS", str(os.cpu_count() or 1))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, THREADS)
# OpenBLAS's threads spin for about 2**28 cycles after each call before they sleep; run in turn
# with tinytorch's kernels (whose OpenMP threads sleep at once) they keep the second core busy,
# and a 1024**2 product of ours measured 80 GFLOP/s between numpy calls instead of 165 on its
# own. With the shortest timeout OpenBLAS's threads sleep at once too, as fast (173 GFLOP/s).
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import tinytorch as tt  # noqa: E402
from tinytorch.ndarray import available  # noqa: E402

HERE = Path(__file__).resolve().parent


# --- timing -----------------------------------------------------------------------------------------
def calls_per_round(fn, min_time: float) -> int:
    """How many calls of ``fn`` make one round last at least ``min_time`` seconds."""
    fn()  # warm up
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t >= min_time or n >= 1 << 20:
            return n
        n *= 2


def interleaved(contenders: dict, rounds: int, min_time: float) -> dict[str, list[float]]:
    """Seconds per call of each contender in each round, the contenders' rounds interleaved."""
    counts = {k: calls_per_round(fn, min_time) for k, fn in contenders.items()}
    samples: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            n = counts[name]
            t = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - t) / n)
    return samples


def row(kernel: str, unit: str, work: float, samples: dict[str, list[float]]) -> dict:
    """A table row: ``work / median time`` per contender (GFLOP/s, GB/s, steps/s), plus the
    range of the per-round ratios of tinytorch-cpu to the first contender (the reference)."""
    ref = next(iter(samples))
    r = {"kernel": kernel, "unit": unit, **{k: work / statistics.median(v) for k, v in samples.items()}}
    if "tt-cpu" in samples and ref != "tt-cpu":
        per_round = [a / b for a, b in zip(samples[ref], samples["tt-cpu"])]
        r["range"] = (min(per_round), max(per_round))
    return r


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
    torch = ""
    try:
        import importlib.metadata
        torch = f", torch {importlib.metadata.version('torch')}"
    except Exception:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, threads pinned to {THREADS}; Python {platform.python_version()}, "
            f"numpy {np.__version__} ({blas}){torch}")


def load_average() -> str:
    try:
        return "load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average: unknown"


def tt_devices() -> list[str]:
    return [d for d in ("numpy", "cpu") if d in available()]


# --- 1. matmul ------------------------------------------------------------------------------------------
def bench_matmul(sizes, dtypes, rounds, min_time):
    rows = []
    for dtype in dtypes:
        for n in sizes:
            rng = np.random.default_rng(0)
            x, y = rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, n)).astype(dtype)
            contenders = {"numpy": lambda x=x, y=y: x @ y}
            for dev in tt_devices():
                a, b = tt.tensor(x, device=dev), tt.tensor(y, device=dev)
                contenders[f"tt-{dev}"] = lambda a=a, b=b: tt.matmul(a, b)
            rows.append(row(f"matmul {np.dtype(dtype).name} {n}²", "GFLOP/s", 2 * n ** 3 / 1e9,
                            interleaved(contenders, rounds, min_time)))
    return rows


# --- 2. the steps of the C matmul -----------------------------------------------------------------------
def bench_matmul_steps(sizes, rounds, min_time):
    """GFLOP/s of each step of backend_cpu/matmul_steps.h on float32, at the NDArray buffer level."""
    if "cpu" not in available():
        return []
    import tinytorch.backend_cpu as cpu

    rows = []
    for n in sizes:
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((n, n)).astype(np.float32), rng.standard_normal((n, n)).astype(np.float32)
        a, b, out = cpu.from_numpy(x), cpu.from_numpy(y), cpu.alloc(n * n, np.float32)
        contenders = {"numpy": lambda x=x, y=y: x @ y}
        for step in cpu.MATMUL_STEPS:
            if step == "naive" and n > 512:  # ~1 GFLOP/s: seconds per call
                continue
            contenders[step] = lambda s=step, a=a, b=b, out=out, n=n: cpu.matmul_step(s, a, b, out, n, n, n, 1)
        samples = interleaved(contenders, rounds, min_time)
        rows.append(row(f"matmul float32 {n}²", "GFLOP/s", 2 * n ** 3 / 1e9, samples))
    return rows


# --- 3. elementwise, unary, reductions ------------------------------------------------------------------
def bench_elementwise(n, rounds, min_time):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    pos = np.abs(x) + 0.5
    x2, k = x.reshape(-1, 1024), n // 1024
    try:
        from scipy.special import erf as np_erf
    except ImportError:
        np_erf = None
    # name: (numpy, tinytorch (t, u, p: tensors of x, y, pos), bytes moved per element)
    cases = {
        "add": (lambda: x + y, lambda t, u, p: t + u, 12),
        "mul scalar": (lambda: x * 2.0, lambda t, u, p: t * 2.0, 8),
        "maximum": (lambda: np.maximum(x, y), lambda t, u, p: tt.maximum(t, u), 12),
        "relu": (lambda: np.maximum(x, 0), lambda t, u, p: t.relu(), 8),
        "sqrt": (lambda: np.sqrt(pos), lambda t, u, p: p.sqrt(), 8),
        "exp": (lambda: np.exp(x), lambda t, u, p: t.exp(), 8),
        "log": (lambda: np.log(pos), lambda t, u, p: p.log(), 8),
        "tanh": (lambda: np.tanh(x), lambda t, u, p: t.tanh(), 8),
        "sigmoid (numpy: 1/(1+exp(-x)))": (lambda: 1 / (1 + np.exp(-x)), lambda t, u, p: t.sigmoid(), 8),
        "erf (numpy: scipy.special.erf)": (lambda: np_erf(x), lambda t, u, p: t.erf(), 8),
        "sum all": (lambda: x.sum(), lambda t, u, p: t.sum(), 4),
        "max all": (lambda: x.max(), lambda t, u, p: t.max(), 4),
        f"sum ({k}, 1024) axis 1": (lambda: x2.sum(axis=1), lambda t, u, p: t.reshape(k, 1024).sum(1), 4),
        f"sum ({k}, 1024) axis 0": (lambda: x2.sum(axis=0), lambda t, u, p: t.reshape(k, 1024).sum(0), 4),
        f"max ({k}, 1024) axis 1": (lambda: x2.max(axis=1), lambda t, u, p: t.reshape(k, 1024).amax(1), 4),
        f"max ({k}, 1024) axis 0": (lambda: x2.max(axis=0), lambda t, u, p: t.reshape(k, 1024).amax(0), 4),
    }
    rows = []
    size = f"{n // (1 << 20)}M" if n >= 1 << 20 else str(n)
    for name, (np_fn, tt_fn, nbytes) in cases.items():
        if "scipy" in name and np_erf is None:
            continue
        contenders = {"numpy": np_fn}
        for dev in tt_devices():
            t, u, p = (tt.tensor(v, device=dev) for v in (x, y, pos))
            contenders[f"tt-{dev}"] = lambda t=t, u=u, p=p, f=tt_fn: f(t, u, p)
        rows.append(row(f"{name}, {size} f32", "GB/s", nbytes * n / 1e9, interleaved(contenders, rounds, min_time)))
    return rows


# --- 4. training steps vs PyTorch -----------------------------------------------------------------------
def _example(name: str, framework: str):
    """``examples/<name>.py`` imported as a module on ``framework`` (its ``--framework`` flag)."""
    import importlib.util
    saved, sys.argv = sys.argv, [name, "--framework", framework]
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE.parent / "examples" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.argv = saved
    return module


def _sequence_step(framework: str, model: str):
    """One training step of the Shakespeare examples' models, on either library: the character GPT
    (examples/train_gpt.py, its default size: batch 12 x 64 characters, AdamW, clipping) or the
    2-layer character LSTM (examples/train_charlstm.py: batch 32 x 64, Adam, clipping)."""
    ex = _example("train_gpt" if model == "gpt" else "train_charlstm", framework)
    lib = ex.torch
    lib.manual_seed(0)
    tokenizer, train_data, _ = ex.load_corpus()
    if model == "gpt":
        net = ex.GPT(ex.GPTConfig(vocab_size=tokenizer.vocab_size))
        opt = lib.optim.AdamW(net.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
        batches = [ex.get_batch(train_data, 12, 64, "cpu") for _ in range(4)]
        loss_of = lambda x, y: net(x, y)[1]  # noqa: E731
    else:
        net = ex.CharLSTM(tokenizer.vocab_size)
        opt = lib.optim.Adam(net.parameters(), lr=3e-3)
        batches = [ex.get_batch(train_data, 32, 64) for _ in range(4)]
        loss_of = lambda x, y: net(x, targets=y)[2]  # noqa: E731
    state = {"i": 0}

    def step():
        x, y = batches[state["i"] % len(batches)]
        state["i"] += 1
        opt.zero_grad()
        loss_of(x, y).backward()
        lib.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()

    return step


def _training_step(framework: str, model: str):
    """One step (zero_grad, forward, cross entropy, backward, Adam) of the MNIST example's model,
    written once against the PyTorch API and run on either library."""
    if framework == "torch":
        import torch as lib
        lib.set_num_threads(int(THREADS))
    else:
        lib = tt
    if model in ("gpt", "lstm"):
        return _sequence_step(framework, model)
    from tinytorch.data.datasets import MNIST

    sys.path.insert(0, str(HERE.parent / "examples"))
    from train_mnist import build_model

    nn = lib.nn
    lib.manual_seed(0)
    net = build_model(nn, model)
    opt = lib.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    ds = MNIST(train=True)
    images = ((ds.data[:512].numpy().astype(np.float32) / 255.0 - 0.1307) / 0.3081)[:, None]
    batches = [(lib.from_numpy(images[i:i + 64].copy()), lib.from_numpy(ds.targets[i:i + 64].numpy()))
               for i in range(0, 512, 64)]
    state = {"i": 0}

    def step():
        x, y = batches[state["i"] % len(batches)]
        state["i"] += 1
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()

    return step


def _start_workers(ctx, target, keys, model: str, threads: int) -> dict:
    """One ``target(key, model, conn)`` process per key, started with ``threads`` threads (they
    inherit the thread variables, set only while they start); returns ``{key: (process, conn)}``
    once every worker has said it is ready."""
    workers = {}
    saved = {v: os.environ[v] for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    os.environ.update({v: str(threads) for v in saved})
    try:
        for key in keys:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=target, args=(key, model, child), daemon=True)
            proc.start()
            workers[key] = (proc, parent)
    finally:
        os.environ.update(saved)
    for _, conn in workers.values():
        assert conn.recv() == "ready"
    return workers


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB. On Linux the high-water mark of its own address
    space (``VmHWM``): ``ru_maxrss`` would also count the parent's peak, which a spawned worker
    inherits through the fork before its exec (a parent that ran the 2048² matmuls made every
    worker read ~675 MB)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _worker(framework: str, model: str, conn) -> None:
    """A worker process: builds the step, then times ``n`` steps each time the parent asks."""
    step = _training_step(framework, model)
    conn.send("ready")
    while True:
        n = conn.recv()
        if n is None:
            conn.send(peak_rss_mb())
            return
        t = time.perf_counter()
        for _ in range(n):
            step()
        conn.send((time.perf_counter() - t) / n)


def bench_training(models, rounds, min_time, thread_counts):
    """Steps per second of tinytorch (device "cpu") and PyTorch, each in its own process, rounds
    alternating between them, for each thread count. Each library keeps its own OpenMP wait
    policy: PyTorch's threads spin long between kernels (fast on an idle machine, but on a busy
    one a spinning thread that loses its core stalls the next kernel for a scheduler tick: its
    MLP step was measured at 157 ms instead of 3 ms that way); tinytorch's spin about 28 us and
    then sleep, so a kernel that follows a longer stretch of Python finds them asleep (on the VM
    measured here a woken core then runs the first ~100 us of vector code slower). The
    one-thread rows are free of both effects."""
    import importlib.util
    if "cpu" not in available():
        return []
    frameworks = ["torch", "tinytorch"] if importlib.util.find_spec("torch") else ["tinytorch"]
    ctx = mp.get_context("spawn")
    rows = []
    for threads, model in [(t, m) for m in models for t in thread_counts]:
        workers = _start_workers(ctx, _worker, frameworks, model, threads)
        counts = {}
        for fw, (_, conn) in workers.items():  # warm up, then size a round
            conn.send(2)
            per_step = conn.recv()
            counts[fw] = max(1, int(min_time / per_step))
        samples: dict[str, list[float]] = {("torch" if fw == "torch" else "tt-cpu"): [] for fw in frameworks}
        for _ in range(rounds):
            for fw, (_, conn) in workers.items():
                conn.send(counts[fw])
                samples["torch" if fw == "torch" else "tt-cpu"].append(conn.recv())
        peak = {}
        for fw, (proc, conn) in workers.items():
            conn.send(None)
            peak["torch" if fw == "torch" else "tt-cpu"] = conn.recv()
            proc.join()
        name = {"mlp": "MLP 784-256-10: one Adam step, batch 64", "cnn": "CNN (MNIST example): one Adam step, batch 64",
                "gpt": "char GPT (4 x 128, ctx 64): one AdamW step, batch 12",
                "lstm": "char LSTM (2 x 256): one Adam step, batch 32 x 64"}[model]
        r = row(f"{name}, {threads} thread{'s' * (threads > 1)}", "steps/s", 1.0, samples)
        r["peak"] = peak
        rows.append(r)
    return rows


# --- output -------------------------------------------------------------------------------------------------
def format_table(rows, cols: list[str] | None = None) -> str:
    if not rows:
        return "(nothing to measure on this machine)"
    cols = cols or [c for c in rows[0] if c not in ("kernel", "unit", "range", "peak")]
    ref, others = cols[0], cols[1:]
    has_range = any("range" in r for r in rows)
    head = ["kernel", "unit"] + cols + [f"{c} / {ref}" for c in others] + (
        [f"tt-cpu / {ref}, range over rounds"] if has_range else [])
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        cells = [r["kernel"], r["unit"]] + [f"{r[c]:.1f}" if c in r else "-" for c in cols]
        cells += [f"{r[c] / r[ref]:.2f}×" if c in r else "-" for c in others]
        if has_range:
            cells.append(f"{r['range'][0]:.2f}–{r['range'][1]:.2f}" if "range" in r else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_peaks(rows) -> str:
    """Peak resident memory of each training worker process (library, model, batches, optimizer
    state, and the whole interpreter: PyTorch's import alone is a few hundred MB)."""
    lines = ["| training worker | tt-cpu peak MB | torch peak MB | tt-cpu / torch |", "| --- | --- | --- | --- |"]
    for r in rows:
        p = r.get("peak", {})
        if "tt-cpu" in p:
            ratio = f"{p['tt-cpu'] / p['torch']:.2f}×" if "torch" in p else "-"
            lines.append(f"| {r['kernel']} | {p['tt-cpu']:.0f} | {p.get('torch', float('nan')):.0f} | {ratio} |")
    return "\n".join(lines)


# --- eager targets: the ratios to PyTorch (and numpy) that issues 14 and 15 ask of eager mode --------
EAGER_TARGETS = [  # (label, table row prefix, reference column, target ratio)
    ("eager MLP step / PyTorch", "MLP 784-256-10", "torch", 1.0),
    ("eager CNN step / PyTorch", "CNN (MNIST example)", "torch", 0.8),
    ("eager GPT step / PyTorch", "char GPT", "torch", 0.8),
    ("eager LSTM step / PyTorch", "char LSTM", "torch", None),
]


def eager_targets(training_rows, matmul_rows) -> str:
    """One table of the eager targets, 1 and 2 threads side by side: the speed ratio of tinytorch
    (C backend) to PyTorch's eager step for each model, with the per-round range, the GPT
    worker's peak resident memory next to PyTorch's (target <= 1.5x), and float32 matmul next to
    numpy at 512-2048 (target >= 0.95x). Ratios come from this run's interleaved rounds."""
    lines = ["| row | 1 thread | 2 threads | target | met |", "| --- | --- | --- | --- | --- |"]

    def cell(r, ref):
        if r is None or ref not in r or "tt-cpu" not in r:
            return "-", None
        ratio = r["tt-cpu"] / r[ref]
        lo, hi = r.get("range", (ratio, ratio))
        return f"{ratio:.2f}× ({lo:.2f}–{hi:.2f})", ratio

    def find(prefix, threads):
        suffix = f", {threads} thread{'s' * (threads > 1)}"
        return next((r for r in training_rows if r["kernel"].startswith(prefix) and r["kernel"].endswith(suffix)),
                    None)

    for label, prefix, ref, target in EAGER_TARGETS:
        cells = [cell(find(prefix, t), ref) for t in (1, 2)]
        if all(c[1] is None for c in cells):
            continue
        met = "-" if target is None else ("yes" if all(c[1] is None or c[1] >= target for c in cells) else "no")
        lines.append(f"| {label} | {cells[0][0]} | {cells[1][0]} | {'-' if target is None else f'≥ {target}×'} "
                     f"| {met} |")
    for t in (1, 2):
        r = find("char GPT", t)
        peak = (r or {}).get("peak", {})
        if "tt-cpu" in peak and "torch" in peak:
            ratio = peak["tt-cpu"] / peak["torch"]
            lines.append(f"| GPT peak RSS tt / torch, {t} thread{'s' * (t > 1)} | {peak['tt-cpu']:.0f} MB | "
                         f"{peak['torch']:.0f} MB | ≤ 1.5× | {'yes' if ratio <= 1.5 else 'no'} ({ratio:.2f}×) |")
    for r in matmul_rows:
        n = int(r["kernel"].split()[-1].rstrip("²"))
        if "float32" in r["kernel"] and 512 <= n <= 2048 and "tt-cpu" in r:
            ratio = r["tt-cpu"] / r["numpy"]
            lines.append(f"| matmul float32 {n}² / numpy, {THREADS} thread{'s' * (THREADS != '1')} | "
                         f"{ratio:.2f}× | | ≥ 0.95× | {'yes' if ratio >= 0.95 else 'no'} |")
    return "\n".join(lines)


def plot_matmul(rows, steps, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, dtype in zip(axes, ("float32", "float64")):
        sel = [r for r in rows if dtype in r["kernel"]]
        sizes = [int(r["kernel"].split()[-1].rstrip("²")) for r in sel]
        for col in ["numpy"] + [f"tt-{d}" for d in tt_devices()]:
            ax.plot(sizes, [r[col] for r in sel], marker="o", label=col)
        ax.set_title(f"matmul {dtype} (Tensor API)")
    sizes = [int(r["kernel"].split()[-1].rstrip("²")) for r in steps]
    for col in [c for c in steps[0] if c not in ("kernel", "unit", "range")] if steps else []:
        pts = [(s, r[col]) for s, r in zip(sizes, steps) if col in r]
        axes[2].plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=col)
    axes[2].set_title("the steps of the C matmul (float32)")
    axes[2].set_yscale("log")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("n (n×n @ n×n)")
        ax.set_ylabel("GFLOP/s")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, one round: checks the benchmark runs")
    p.add_argument("--out", type=Path, default=HERE, help="where results.md and matmul.png go (full mode)")
    p.add_argument("--only", choices=["matmul", "steps", "elementwise", "training"],
                   help="run one table and print it (results.md is written only by a run of all four)")
    args = p.parse_args(argv)
    if args.quick:
        sizes, step_sizes, dtypes, n_ew, rounds, min_time = [64], [64], [np.float32], 1 << 14, 1, 0.002
        train_rounds, train_time = 1, 0.0
    else:
        sizes, step_sizes, dtypes, n_ew, rounds, min_time = ([256, 512, 1024, 2048], [128, 256, 512, 1024, 2048],
                                                             [np.float32, np.float64], 1 << 22, 7, 0.2)
        train_rounds, train_time = 9, 1.0
    machine, load_before = describe_machine(), load_average()
    print(f"machine: {machine}\n{load_before}\ndevices: {tt_devices()}\n")
    sections = []
    for title, fn in [("matmul (tt.matmul on Tensors vs numpy's @)", lambda: bench_matmul(sizes, dtypes, rounds,
                                                                                        min_time)),
                      ("the steps of the C matmul (backend_cpu/matmul_steps.h, float32, one call on buffers)",
                       lambda: bench_matmul_steps(step_sizes, max(3, rounds // 2), min_time)),
                      (f"elementwise, unary and reductions ({n_ew:,} float32 elements; bytes read + written)",
                       lambda: bench_elementwise(n_ew, rounds, min_time)),
                      ("one training step vs PyTorch (separate processes, alternating rounds)",
                       lambda: bench_training(["mlp", "cnn", "gpt", "lstm"], train_rounds, train_time,
                                              sorted({1, 2, int(THREADS)})))]:
        key = {"matmul (": "matmul", "the steps": "steps", "elementwise": "elementwise", "one training": "training"}
        if args.only and next(v for k, v in key.items() if title.startswith(k)) != args.only:
            continue
        print(f"## {title}\n")
        rows = fn()
        table = format_table(rows)
        if any("peak" in r for r in rows):
            table += "\n\n" + format_peaks(rows)
        print(table, "\n", flush=True)
        sections.append((title, rows, table))
    by_key = {title.split(" ")[0]: rows for title, rows, _ in sections}
    if "one" in by_key:  # the training table ran: the eager targets, 1 and 2 threads side by side
        targets = eager_targets(by_key["one"], by_key.get("matmul", []))
        print("## eager targets (issues 14 and 15)\n\n" + targets + "\n", flush=True)
        sections.append(("eager targets (issues 14 and 15)", [], targets))
    load_after = load_average()
    print(load_after)
    if not args.quick and not args.only:
        args.out.mkdir(parents=True, exist_ok=True)
        body = "\n\n".join(f"## {title}\n\n{table}" for title, _, table in sections)
        (args.out / "results.md").write_text(
            f"# Benchmark results\n\nMachine: {machine}\n\n{load_before} at the start, {load_after.split(': ')[1]} "
            f"at the end.\n\nCommand: `python benchmarks/run.py` (medians of {rounds} interleaved rounds, "
            f"{train_rounds} for the training steps; higher is better; the last column is the range of the "
            f"per-round ratios, a measure of the noise).\n\n{body}\n")
        plot_matmul(sections[0][1], sections[1][1], args.out / "matmul.png")
        print(f"wrote {args.out / 'results.md'} and {args.out / 'matmul.png'}")


# --- 5. compiled training steps (tt.compile, issue 15) -------------------------------------------------
def reset_peak_rss() -> bool:
    """Start this process's peak resident memory (``VmHWM``) again from its current resident
    memory (Linux: writing 5 to ``/proc/self/clear_refs``); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _compiled_worker(kind: str, model: str, conn) -> None:
    """A worker for :func:`compiled_rows`: ``kind`` is "torch" (eager), "tt-eager" or
    "tt-compiled" (the same step function through ``tt.compile``). The first request is the
    warm-up (for the compiled step: its two captures and its recording); at the end the worker
    sends its whole peak resident memory and the peak over the steps after the warm-up (None
    where the peak cannot be reset)."""
    step = _training_step("torch" if kind == "torch" else "tinytorch", model)
    if kind == "tt-compiled":
        step = tt.compile(step)
    conn.send("ready")
    warm_peak, reset = None, False
    while True:
        n = conn.recv()
        if n is None:
            conn.send((max(warm_peak or 0.0, peak_rss_mb()), peak_rss_mb() if reset else None))
            return
        t = time.perf_counter()
        for _ in range(n):
            step()
        elapsed = time.perf_counter() - t
        if warm_peak is None:  # the warm-up is done: measure the steps' own peak from here on
            warm_peak, reset = peak_rss_mb(), reset_peak_rss()
        conn.send(elapsed / n)


def compiled_rows(models=("mlp", "cnn", "gpt"), rounds=9, min_time=1.0, thread_counts=(1, 2)):
    """Steps per second of the compiled tinytorch step (``tt.compile(step)``), the eager one and
    PyTorch's eager step, each in its own process, rounds alternating; with each worker's peak
    resident memory (compiled vs eager is the figure the issue asks for)."""
    import importlib.util
    if "cpu" not in available():
        return []
    kinds = (["torch"] if importlib.util.find_spec("torch") else []) + ["tt-eager", "tt-compiled"]
    ctx = mp.get_context("spawn")
    rows = []
    for model, threads in [(m, t) for m in models for t in thread_counts]:
        workers = _start_workers(ctx, _compiled_worker, kinds, model, threads)
        counts = {}
        for kind, (_, conn) in workers.items():  # warm up (the compiled step captures twice), size a round
            conn.send(4)
            per_step = conn.recv()
            counts[kind] = max(1, int(min_time / per_step))
        samples: dict[str, list[float]] = {k: [] for k in kinds}
        for _ in range(rounds):
            for kind, (_, conn) in workers.items():
                conn.send(counts[kind])
                samples[kind].append(conn.recv())
        peak, steps_peak = {}, {}
        for kind, (proc, conn) in workers.items():
            conn.send(None)
            peak[kind], steps_peak[kind] = conn.recv()
            proc.join()
        name = {"mlp": "MLP 784-256-10, batch 64", "cnn": "CNN (MNIST example), batch 64",
                "gpt": "char GPT (4 x 128, ctx 64), batch 12"}[model]
        r = row(f"{name}, {threads} thread{'s' * (threads > 1)}", "steps/s", 1.0, samples)
        r.pop("range", None)
        r["peak"], r["steps_peak"] = peak, steps_peak
        rows.append(r)
    return rows


def format_compiled(rows) -> str:
    """The compiled-step table: speeds, ratios to PyTorch eager, and peak memory per worker: of
    the whole process (imports, data, the compiled step's captures and recording), and of the
    timed steps after the warm-up, where the compiled step replays its recorded kernels."""
    if not rows:
        return "(nothing to measure on this machine)"
    ref = "torch" if "torch" in rows[0] else "tt-eager"
    lines = ["| step | torch | tt-eager | tt-compiled | eager / torch | compiled / torch | "
             "peak MB torch / eager / compiled | steps' peak MB eager / compiled |", "|" + " --- |" * 8]
    for r in rows:
        p, sp = r["peak"], r.get("steps_peak", {})
        steps = (f"{sp['tt-eager']:.1f} / {sp['tt-compiled']:.1f}"
                 if sp.get("tt-eager") is not None and sp.get("tt-compiled") is not None else "-")
        lines.append(f"| {r['kernel']} | {r.get('torch', float('nan')):.1f} | {r['tt-eager']:.1f} | "
                     f"{r['tt-compiled']:.1f} | {r['tt-eager'] / r[ref]:.2f}× | {r['tt-compiled'] / r[ref]:.2f}× | "
                     f"{p.get('torch', float('nan')):.0f} / {p['tt-eager']:.0f} / {p['tt-compiled']:.0f} | {steps} |")
    return "\n".join(lines)


def main_compiled(argv=None) -> None:
    """``python benchmarks/run.py --compiled [--quick]``: only the compiled-step table."""
    quick = "--quick" in (argv or sys.argv)
    print(f"machine: {describe_machine()}\n{load_average()}\n", flush=True)
    rows = compiled_rows(("mlp",) if quick else ("mlp", "cnn", "gpt"), 1 if quick else 9, 0.0 if quick else 1.0,
                         (1,) if quick else (1, 2))
    title = "## compiled training steps vs PyTorch eager (steps/s; separate processes, alternating rounds)"
    table = format_compiled(rows)
    load_after = load_average()
    print(f"{title}\n\n{table}\n\n{load_after}")
    if not quick:
        (HERE / "compiled_results.md").write_text(
            f"# Compiled training steps (tt.compile)\n\nMachine: {describe_machine()}\n\n{load_after} at the end "
            f"(the machine is shared: ratios come from one interleaved run).\n\nCommand: "
            f"`python benchmarks/run.py --compiled` (medians of 9 rounds; higher is better).\n\n{title[3:]}\n\n"
            f"{table}\n")


if __name__ == "__main__":
    main_compiled() if "--compiled" in sys.argv else main()
