"""tinytorch and PyTorch trained in lockstep: same initial weights, same batches, same recipe.

``examples/train_mnist.py`` draws its initial weights and batch order from each library's own
random numbers, so the two frameworks land on different (equally good) models and their test
accuracies differ by seed noise (about +-0.5 points on 1,000 test images). This script removes
that noise: it builds the model in PyTorch, copies the weights into tinytorch, and feeds both
the same batches; the two test accuracies then agree epoch by epoch.

Usage::

    python benchmarks/mnist_lockstep.py --model cnn --seed 0
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]

import torch  # noqa: E402
from train_mnist import MEAN, STD, build_model  # noqa: E402

import tinytorch as tt  # noqa: E402
from tinytorch import nn, optim  # noqa: E402
from tinytorch.data.datasets import MNIST  # noqa: E402


def images(ds: MNIST) -> np.ndarray:
    return ((ds.data.numpy().astype(np.float32) / 255.0 - MEAN) / STD)[:, None]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["mlp", "cnn"], default="cnn")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    epochs = args.epochs or (15 if args.model == "mlp" else 10)

    torch.manual_seed(args.seed)
    ref, ours = build_model(torch.nn, args.model), build_model(nn, args.model).to(args.device)
    ours.load_state_dict({k: tt.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    train, test = MNIST(train=True), MNIST(train=False)
    x, y, x_test, y_test = images(train), train.targets.numpy(), images(test), test.targets.numpy()
    opt_ref, opt = torch.optim.Adam(ref.parameters(), lr=1e-3), optim.Adam(ours.parameters(), lr=1e-3)
    rng = np.random.default_rng(args.seed)
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x))
        for start in range(0, len(x), 64):
            xb, yb = x[order[start:start + 64]], y[order[start:start + 64]]
            opt_ref.zero_grad()
            torch.nn.functional.cross_entropy(ref(torch.tensor(xb)), torch.tensor(yb)).backward()
            opt_ref.step()
            opt.zero_grad()
            nn.functional.cross_entropy(ours(tt.tensor(xb, device=args.device)),
                                        tt.tensor(yb, device=args.device)).backward()
            opt.step()
        with torch.no_grad():
            acc_ref = (ref(torch.tensor(x_test)).argmax(1).numpy() == y_test).mean()
        with tt.no_grad():
            acc = (ours(tt.tensor(x_test, device=args.device)).argmax(1).numpy() == y_test).mean()
        print(f"epoch {epoch:2d}  test accuracy: torch {100 * acc_ref:.1f}%  tinytorch {100 * acc:.1f}%", flush=True)


if __name__ == "__main__":
    main()
