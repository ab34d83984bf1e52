"""Train an MLP or a small CNN on the MNIST subset that ships with tinytorch.

The data is the real 5,000-image MNIST subset inside the package (4,000 training images, 400
per digit; 1,000 held-out test images, 100 per digit); no download is needed. The script is
written against the PyTorch API: ``--framework torch`` runs the very same code on PyTorch (if
installed), which is how the wall times in the book are measured.

Usage::

    python examples/train_mnist.py --model mlp --epochs 15              # 784-256-10 MLP, Adam 1e-3, batch 64
    python examples/train_mnist.py --model cnn --epochs 10 --plot cnn.png
    python examples/train_mnist.py --model cnn --framework torch        # the same script on PyTorch
"""

from __future__ import annotations

import argparse
import importlib
import time

import numpy as np
from tqdm.auto import tqdm

MEAN, STD = 0.1307, 0.3081  # the usual MNIST normalisation constants (full training set statistics)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Train on the MNIST subset shipped with tinytorch.")
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--framework", choices=["tinytorch", "torch"], default="tinytorch",
                   help="run this same script on tinytorch (default) or on PyTorch, for comparison")
    p.add_argument("--device", default=None, help='"cpu" (C backend, default), "numpy" or "cuda"')
    p.add_argument("--epochs", type=int, default=None, help="default: 15 for mlp, 10 for cnn")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", default=None, help="save the training curves to this image file")
    p.add_argument("--no-progress", action="store_true", help="hide the per-epoch progress bars")
    return p.parse_args(argv)


def build_model(nn, kind: str):
    """The two models of the book's MNIST chapter, in either framework's ``nn``."""
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 256), nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # 16 x 14 x 14
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 32 x 7 x 7
        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def load_tensors(torch, device: str, train: bool):
    """Images as normalised float32 (N, 1, 28, 28) tensors and labels as int64, on ``device``."""
    from tinytorch.data.datasets import MNIST

    ds = MNIST(train=train)
    x = ((ds.data.numpy().astype(np.float32) / 255.0 - MEAN) / STD)[:, None]
    return torch.from_numpy(x).to(device), torch.from_numpy(ds.targets.numpy()).to(device)


def accuracy(torch, model, loader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += int((model(x).argmax(1) == y).sum().item())
            total += y.shape[0]
    model.train()
    return correct / total


def plot_curves(history: dict[str, list[float]], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = range(1, len(history["loss"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, history["loss"], marker="o")
    ax1.set(xlabel="epoch", ylabel="training loss (cross entropy)", title="loss")
    ax2.plot(epochs, [100 * a for a in history["train_acc"]], marker="o", label="train (during the epoch)")
    ax2.plot(epochs, [100 * a for a in history["test_acc"]], marker="o", label="test (1,000 held out)")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    ax2.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch = importlib.import_module(args.framework)           # i.e. "import tinytorch as torch"
    nn, optim = torch.nn, torch.optim
    DataLoader, TensorDataset = torch.utils.data.DataLoader, torch.utils.data.TensorDataset
    device = args.device or "cpu"
    epochs = args.epochs or (15 if args.model == "mlp" else 10)

    torch.manual_seed(args.seed)
    train_set = TensorDataset(*load_tensors(torch, device, train=True))
    test_set = TensorDataset(*load_tensors(torch, device, train=False))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=1000)

    model = build_model(nn, args.model).to(device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    print(model)
    print(f"{args.framework} on {device}: {len(train_set)} training / {len(test_set)} test images, "
          f"Adam lr={args.lr}, batch {args.batch_size}, {epochs} epochs")

    history: dict[str, list[float]] = {"loss": [], "train_acc": [], "test_acc": [], "seconds": []}
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        total_loss, batches, correct, seen = 0.0, 0, 0, 0
        bar = tqdm(train_loader, desc=f"epoch {epoch}/{epochs}", leave=False, disable=args.no_progress)
        for x, y in bar:
            optimizer.zero_grad()
            logits = model(x)
            loss = loss_fn(logits, y)
            loss.backward()
            optimizer.step()
            total_loss += loss.item()
            batches += 1
            correct += int((logits.argmax(1) == y).sum().item())
            seen += y.shape[0]
            bar.set_postfix(loss=f"{total_loss / batches:.4f}")
        train_seconds = time.perf_counter() - t0
        history["loss"].append(total_loss / batches)
        history["train_acc"].append(correct / seen)  # running accuracy over the epoch's batches
        history["test_acc"].append(accuracy(torch, model, test_loader))
        history["seconds"].append(train_seconds)
        print(f"epoch {epoch:2d}  loss {history['loss'][-1]:.4f}  train acc {100 * history['train_acc'][-1]:.2f}%  "
              f"test acc {100 * history['test_acc'][-1]:.2f}%  ({train_seconds:.1f} s)")
    total = time.perf_counter() - start
    print(f"final test accuracy {100 * history['test_acc'][-1]:.2f}% after {epochs} epochs; "
          f"wall time {total:.1f} s ({sum(history['seconds']):.1f} s in training steps)")
    if args.plot:
        plot_curves(history, args.plot, f"{args.model.upper()} on the MNIST subset ({args.framework}, {device})")
        print(f"saved training curves to {args.plot}")
    history["wall_seconds"] = [total]
    return history


if __name__ == "__main__":
    main()
