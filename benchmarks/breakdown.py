"""Where the time of one eager training step goes, tinytorch next to PyTorch (one thread).

Usage::

    python benchmarks/breakdown.py               # MLP, CNN and GPT steps
    python benchmarks/breakdown.py gpt --steps 20

For each model the step (the one ``benchmarks/run.py`` times) is split into its phases
(zero_grad + forward + loss, backward, optimizer) and its time into op categories (matmul,
convolution, softmax, layer norm, elementwise, movement/reshapes, reductions, embedding/
indexing, other ops). tinytorch's categories come from a dispatch mode that takes the time
spent inside each ``Function.apply`` (its own, nested applies excluded); what is left of the
step is Python outside any op: modules, functional glue, the autograd engine's bookkeeping and
the optimizer's loop. PyTorch's come from ``torch.profiler`` (self CPU time per aten op).
Each library runs in its own process (two OpenMP runtimes in one process compete); threads
are pinned to one before numpy or torch loads. Benchmarks, not tests: nothing is asserted.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

HERE = Path(__file__).resolve().parent
CATEGORIES = ("matmul", "conv", "softmax", "layer norm", "elementwise", "movement", "reduction",
              "indexing", "loss", "optimizer", "other ops")


def category(name: str) -> str:
    """The category of an op, from its Function class name (tinytorch) or aten name (PyTorch)."""
    n = name.lower().removeprefix("aten::")
    rules = [("conv", ("conv", "unfold", "fold", "im2col", "col2im", "max_pool", "maxpool", "pool")),
             ("matmul", ("matmul", "mm", "addmm", "bmm", "linear", "baddbmm")),
             ("softmax", ("softmax",)),
             ("layer norm", ("layer_norm", "layernorm", "native_layer_norm")),
             ("loss", ("nll", "cross_entropy", "crossentropy")),
             ("optimizer", ("adam", "_foreach", "lerp", "addcdiv", "addcmul")),
             ("indexing", ("embedding", "index", "gather", "scatter", "take", "getitem", "setitem")),
             ("reduction", ("sum", "mean", "amax", "max", "norm", "var")),
             ("movement", ("view", "reshape", "permute", "transpose", "expand", "contiguous", "copy",
                           "clone", "split", "slice", "select", "cat", "stack", "squeeze", "t", "as_strided",
                           "_unsafe_view", "alias", "detach", "to", "cast", "_to_copy", "empty", "zero",
                           "fill", "ones", "zeros", "arange", "full", "tril", "triu"))]
    for cat, keys in rules:
        if any(n == k or n.startswith(k) or (len(k) > 3 and k in n) for k in keys):
            return cat
    if n in ("add", "sub", "mul", "div", "neg", "exp", "log", "sqrt", "rsqrt", "tanh", "erf", "relu", "gelu",
             "where", "pow", "threshold_backward", "gelu_backward", "maximum", "minimum", "clamp", "abs",
             "sigmoid", "eq", "ne", "lt", "gt", "le", "ge", "add_", "mul_", "div_", "sub_", "sign", "square",
             "logical_not", "masked_fill", "reciprocal", "addcmul_", "scalar"):
        return "elementwise"
    return "other ops"


# --- the steps, in phases -------------------------------------------------------------------------------
def build(framework: str, model: str):
    """``(zero_grad_forward, backward, optimizer_step)`` closures of one training step."""
    sys.path.insert(0, str(HERE))
    import run

    run.THREADS = "1"
    if framework == "torch":
        import torch as lib
        lib.set_num_threads(1)
    else:
        import tinytorch as lib
    if model == "gpt":
        ex = run._example("train_gpt", framework)
        lib.manual_seed(0)
        tokenizer, train_data, _ = ex.load_corpus()
        net = ex.GPT(ex.GPTConfig(vocab_size=tokenizer.vocab_size))
        opt = lib.optim.AdamW(net.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
        batches = [ex.get_batch(train_data, 12, 64, "cpu") for _ in range(4)]
        loss_of = lambda x, y: net(x, y)[1]  # noqa: E731
        clip = True
    else:
        import numpy as np

        from tinytorch.data.datasets import MNIST
        sys.path.insert(0, str(HERE.parent / "examples"))
        from train_mnist import build_model
        lib.manual_seed(0)
        net = build_model(lib.nn, model)
        opt = lib.optim.Adam(net.parameters(), lr=1e-3)
        loss_fn = lib.nn.CrossEntropyLoss()
        ds = MNIST(train=True)
        images = ((ds.data[:512].numpy().astype(np.float32) / 255.0 - 0.1307) / 0.3081)[:, None]
        batches = [(lib.from_numpy(images[i:i + 64].copy()), lib.from_numpy(ds.targets[i:i + 64].numpy()))
                   for i in range(0, 512, 64)]
        loss_of = lambda x, y: loss_fn(net(x), y)  # noqa: E731
        clip = False
    state = {"i": 0, "loss": None}

    def forward():
        x, y = batches[state["i"] % len(batches)]
        state["i"] += 1
        opt.zero_grad()
        state["loss"] = loss_of(x, y)

    def backward():
        state["loss"].backward()

    def optimizer():
        if clip:
            lib.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()

    return forward, backward, optimizer


def _tinytorch_mode():
    from tinytorch.tensor import DispatchMode

    class OpTimes(DispatchMode):
        """Seconds spent inside each op's apply, nested applies excluded, per Function class."""

        def __init__(self):
            self.times: dict[str, float] = defaultdict(float)
            self.counts: dict[str, int] = defaultdict(int)
            self.nested = [0.0]

        def dispatch(self, op, args, params, run):
            self.nested.append(0.0)
            t = time.perf_counter()
            try:
                return run(args, params)
            finally:
                dt = time.perf_counter() - t
                inner = self.nested.pop()
                self.nested[-1] += dt
                self.times[op.__name__] += dt - inner
                self.counts[op.__name__] += 1

    return OpTimes()


def measure(framework: str, model: str, steps: int, conn) -> None:
    """Phase times (median over ``steps``) and op-category times (mean per step), sent to ``conn``."""
    phases = build(framework, model)
    for _ in range(3):
        for f in phases:
            f()
    per_phase: dict[str, list[float]] = {"forward": [], "backward": [], "optimizer": []}
    for _ in range(steps):
        for name, f in zip(per_phase, phases):
            t = time.perf_counter()
            f()
            per_phase[name].append(time.perf_counter() - t)
    cats: dict[str, float] = defaultdict(float)
    ops = 0
    if framework == "torch":
        import torch
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                for f in phases:
                    f()
        for ev in prof.key_averages():
            cats[category(ev.key)] += ev.self_cpu_time_total / 1e6 / steps
            ops += ev.count
    else:
        mode = _tinytorch_mode()
        with mode:
            for _ in range(steps):
                for f in phases:
                    f()
        for name, t in mode.times.items():
            cats[category(name)] += t / steps
        ops = sum(mode.counts.values())
        # the optimizer's fused kernel does not go through apply: count the optimizer phase as its time
    conn.send({"phases": {k: statistics.median(v) for k, v in per_phase.items()}, "cats": dict(cats),
               "ops": ops / steps})


def report(model: str, steps: int) -> str:
    ctx = mp.get_context("spawn")
    out = {}
    for fw in ("torch", "tinytorch"):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=measure, args=(fw, model, steps, child))
        p.start()
        out[fw] = parent.recv()
        p.join()
    lines = [f"### {model.upper()} step, one thread ({steps} steps, medians)\n",
             "| | tinytorch ms | PyTorch ms | tt / torch |", "| --- | --- | --- | --- |"]
    tot = {fw: sum(r["phases"].values()) for fw, r in out.items()}
    for ph in ("forward", "backward", "optimizer"):
        a, b = out["tinytorch"]["phases"][ph] * 1e3, out["torch"]["phases"][ph] * 1e3
        lines.append(f"| phase: {ph} | {a:.2f} | {b:.2f} | {a / b:.2f} |")
    lines.append(f"| **whole step** | **{tot['tinytorch'] * 1e3:.2f}** | **{tot['torch'] * 1e3:.2f}** | "
                 f"**{tot['tinytorch'] / tot['torch']:.2f}** |")
    for c in CATEGORIES:
        a, b = out["tinytorch"]["cats"].get(c, 0.0) * 1e3, out["torch"]["cats"].get(c, 0.0) * 1e3
        if a or b:
            lines.append(f"| ops: {c} | {a:.2f} | {b:.2f} | {a / b if b else float('nan'):.2f} |")
    inside = {fw: sum(r["cats"].values()) for fw, r in out.items()}
    a, b = (tot["tinytorch"] - inside["tinytorch"]) * 1e3, (tot["torch"] - inside["torch"]) * 1e3
    lines.append(f"| outside ops (Python: modules, engine, optimizer loop) | {a:.2f} | {b:.2f} | |")
    lines.append(f"| ops per step | {out['tinytorch']['ops']:.0f} | {out['torch']['ops']:.0f} | |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", default=["mlp", "cnn", "gpt"])
    p.add_argument("--steps", type=int, default=10)
    args = p.parse_args(argv)
    for m in args.models:
        print(report(m, args.steps), "\n", flush=True)


if __name__ == "__main__":
    main()
