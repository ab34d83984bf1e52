"""Classify MNIST digits with an LSTM that reads each image row by row, written as PyTorch's official
``mnist_rnn`` example is, and run with ``import tinytorch as torch``.

An image is a sequence of 28 time steps, each one 28-pixel row. The LSTM's last hidden state, batch
normalised, goes through two linear layers with dropout to ten log-probabilities; training uses the
negative log-likelihood, Adadelta and a learning rate multiplied by ``--gamma`` after every epoch.
The data is the MNIST subset that ships inside tinytorch (4,000 training and 1,000 test images), so
no download is needed.

Usage::

    python examples/mnist_rnn.py                            # 5 epochs, about 20 s on 2 cores
    python examples/mnist_rnn.py --epochs 6 --hidden 128
    python examples/mnist_rnn.py --framework torch          # the same script on PyTorch
"""

from __future__ import annotations

import argparse
import importlib
import time

import numpy as np

MEAN, STD = 0.1307, 0.3081  # the usual MNIST normalisation constants


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="MNIST, row by row, with an LSTM.")
    p.add_argument("--framework", choices=["tinytorch", "torch"], default="tinytorch")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--test-batch-size", type=int, default=500)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=1.0, help="Adadelta's learning rate")
    p.add_argument("--gamma", type=float, default=0.7, help="learning-rate factor after each epoch")
    p.add_argument("--hidden", type=int, default=64, help="LSTM units")
    p.add_argument("--train-images", type=int, default=None, help="use only the first N training images")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--log-interval", type=int, default=20, help="batches between progress lines")
    p.add_argument("--save-model", action="store_true", help="save the trained weights to mnist_rnn.pt")
    return p.parse_args(argv)


def build_net(torch, hidden: int):
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(input_size=28, hidden_size=hidden, batch_first=True)
            self.batchnorm = nn.BatchNorm1d(hidden)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(hidden, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, input):
            input = input.reshape(-1, 28, 28)            # (N, rows = time steps, pixels per row)
            output, _ = self.rnn(input)                  # (N, 28, hidden)
            output = output[:, -1, :]                    # the state after the last row
            output = self.batchnorm(output)
            output = self.dropout1(output)
            output = F.relu(self.fc1(output))
            output = self.dropout2(output)
            return F.log_softmax(self.fc2(output), dim=1)

    return Net()


def load_tensors(torch, train: bool, limit: int | None = None):
    """Normalised float32 images (N, 28, 28) and int64 labels from the MNIST subset in the package."""
    from tinytorch.data.datasets import MNIST

    ds = MNIST(train=train)
    x = (ds.data.numpy().astype(np.float32) / 255.0 - MEAN) / STD
    y = ds.targets.numpy().astype(np.int64)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return torch.from_numpy(x), torch.from_numpy(y)


def train(args, torch, model, loader, optimizer, epoch: int) -> float:
    """One epoch; returns the mean training loss."""
    F = torch.nn.functional
    model.train()
    total, batches = 0.0, 0
    for batch_idx, (data, target) in enumerate(loader):
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        total, batches = total + loss.item(), batches + 1
        if batch_idx % args.log_interval == 0:
            print(f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(loader.dataset)}]\tLoss: {loss.item():.6f}")
    return total / batches


def test(torch, model, loader) -> tuple[float, float]:
    """The mean test loss and the accuracy."""
    F = torch.nn.functional
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for data, target in loader:
            output = model(data)
            loss += F.nll_loss(output, target, reduction="sum").item()
            correct += int((output.argmax(dim=1) == target).sum().item())
    n = len(loader.dataset)
    print(f"\nTest set: Average loss: {loss / n:.4f}, Accuracy: {correct}/{n} ({100.0 * correct / n:.1f}%)\n")
    return loss / n, correct / n


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch = importlib.import_module(args.framework)           # i.e. "import tinytorch as torch"
    optim = torch.optim
    DataLoader, TensorDataset = torch.utils.data.DataLoader, torch.utils.data.TensorDataset
    torch.manual_seed(args.seed)

    train_loader = DataLoader(TensorDataset(*load_tensors(torch, True, args.train_images)),
                              batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(TensorDataset(*load_tensors(torch, False)), batch_size=args.test_batch_size)
    model = build_net(torch, args.hidden)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=args.gamma)

    history: dict[str, list[float]] = {"loss": [], "test_loss": [], "test_acc": []}
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        history["loss"].append(train(args, torch, model, train_loader, optimizer, epoch))
        test_loss, accuracy = test(torch, model, test_loader)
        history["test_loss"].append(test_loss)
        history["test_acc"].append(accuracy)
        scheduler.step()
    print(f"test accuracy {100 * history['test_acc'][-1]:.1f}% after {args.epochs} epochs "
          f"({args.framework}, {time.perf_counter() - start:.1f} s)")
    if args.save_model:
        torch.save(model.state_dict(), "mnist_rnn.pt")
    return history


if __name__ == "__main__":
    main()
