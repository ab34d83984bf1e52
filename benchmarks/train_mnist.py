"""End-to-end MNIST training time: tinytorch next to PyTorch, running the very same script.

Runs ``examples/train_mnist.py`` (same model, data, batches, optimizer, epochs) once on
tinytorch and once with ``--framework torch``, each in a fresh process with the same pinned
thread count, and prints test accuracy and wall time side by side.

Usage::

    python benchmarks/train_mnist.py                       # MLP 15 epochs and CNN 10 epochs
    python benchmarks/train_mnist.py --models mlp --threads 2
    python benchmarks/train_mnist.py --quick               # 1 epoch of the MLP: checks it all runs

This is a benchmark, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "train_mnist.py"


def run(framework: str, model: str, epochs: int | None, device: str, threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT))
    cmd = [sys.executable, str(SCRIPT), "--model", model, "--framework", framework, "--no-progress"]
    if framework == "tinytorch":
        cmd += ["--device", device]
    if epochs:
        cmd += ["--epochs", str(epochs)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    final = re.search(r"final test accuracy ([\d.]+)% after (\d+) epochs; wall time ([\d.]+) s "
                      r"\(([\d.]+) s in training steps\)", out)
    if final is None:
        raise RuntimeError(f"unexpected output from {' '.join(cmd)}:\n{out}")
    acc, n, wall, steps = final.groups()
    return {"framework": framework, "model": model, "epochs": int(n), "acc": float(acc),
            "wall": float(wall), "steps": float(steps)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", choices=["mlp", "cnn"], default=["mlp", "cnn"])
    p.add_argument("--device", default="cpu", help="tinytorch device (default: the C backend)")
    p.add_argument("--threads", type=int, default=1, help="OMP/OpenBLAS/MKL threads for both (default 1)")
    p.add_argument("--quick", action="store_true", help="1 epoch of the MLP only")
    args = p.parse_args(argv)
    models, epochs = (["mlp"], 1) if args.quick else (args.models, None)
    frameworks = ["tinytorch"] + (["torch"] if importlib.util.find_spec("torch") else [])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.system()}; "
          f"python {platform.python_version()}; threads pinned to {args.threads}")
    if "torch" not in frameworks:
        print("torch is not installed: tinytorch only")
    print(f"{'model':5} {'framework':10} {'epochs':>6} {'test acc':>9} {'train s':>8} {'wall s':>7} {'vs torch':>9}")
    for model in models:
        rows = [run(fw, model, epochs, args.device, args.threads) for fw in frameworks]
        ref = rows[-1]["wall"] if rows[-1]["framework"] == "torch" else None
        for r in rows:
            ratio = f"{r['wall'] / ref:8.1f}x" if ref else "       -"
            print(f"{r['model']:5} {r['framework']:10} {r['epochs']:6d} {r['acc']:8.2f}% {r['steps']:8.1f} "
                  f"{r['wall']:7.1f} {ratio}")


if __name__ == "__main__":
    main()
