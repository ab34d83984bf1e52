"""Predict the continuation of sine waves with two stacked LSTM cells trained by L-BFGS, written as
PyTorch's official "time sequence prediction" example is, and run with ``import tinytorch as torch``.

Each training sequence is a sine wave ``sin((t + shift) / period)`` with a random shift. The model
reads a wave one value at a time through two ``nn.LSTMCell`` layers and a linear read-out, and is
trained (in float64, full batch) to predict the next value at every step; the optimiser is
``optim.LBFGS`` with a closure that recomputes the loss and its gradient. After each step the test
waves are continued ``--future`` steps past their end, feeding each prediction back in as the next
input, and the mean squared error of the known part is printed.

``--framework torch`` runs the very same code on PyTorch. ``--numpy-init`` draws every weight from
numpy's seeded generator (with PyTorch's U(-1/sqrt(H), 1/sqrt(H)) bounds) instead of the framework's
own, so that both frameworks start from identical weights and print the same losses.

Usage::

    python examples/time_sequence_prediction.py                       # about half a minute on 2 cores
    python examples/time_sequence_prediction.py --steps 10 --plot predictions.png
    python examples/time_sequence_prediction.py --framework torch     # the same script on PyTorch
"""

from __future__ import annotations

import argparse
import importlib
import time

import numpy as np


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Sine-wave prediction with two LSTM cells and L-BFGS.")
    p.add_argument("--framework", choices=["tinytorch", "torch"], default="tinytorch")
    p.add_argument("--steps", type=int, default=4, help="L-BFGS steps (each runs up to --max-iter iterations)")
    p.add_argument("--max-iter", type=int, default=10, help="L-BFGS iterations per step")
    p.add_argument("--lr", type=float, default=0.8)
    p.add_argument("--waves", type=int, default=24, help="sine waves generated (3 are kept for testing)")
    p.add_argument("--length", type=int, default=80, help="values per wave")
    p.add_argument("--period", type=float, default=8.0, help="the waves are sin(t / period)")
    p.add_argument("--hidden", type=int, default=51, help="units in each LSTM cell")
    p.add_argument("--future", type=int, default=40, help="values predicted past the end of each test wave")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--numpy-init", action="store_true",
                   help="initial weights from numpy's seeded generator (identical in both frameworks)")
    p.add_argument("--plot", default=None, help="save the test waves and their predicted continuation here")
    return p.parse_args(argv)


def sine_waves(count: int, length: int, period: float, seed: int) -> np.ndarray:
    """``count`` waves of ``length`` values, ``sin((t + shift) / period)``, each shifted at random."""
    rng = np.random.default_rng(seed)
    shifts = rng.integers(-4 * int(period), 4 * int(period), size=(count, 1))
    return np.sin((np.arange(length)[None, :] + shifts) / period)


def sequence_model(torch, hidden: int):
    """The example's model: LSTMCell(1, H) -> LSTMCell(H, H) -> Linear(H, 1), unrolled over time."""
    nn = torch.nn

    class Sequence(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm1 = nn.LSTMCell(1, hidden)
            self.lstm2 = nn.LSTMCell(hidden, hidden)
            self.linear = nn.Linear(hidden, 1)

        def forward(self, input, future: int = 0):
            """``input`` (N, T): one prediction per step, then ``future`` more fed back as inputs."""
            outputs = []
            n = input.size(0)
            h1 = torch.zeros(n, hidden, dtype=torch.double)
            c1 = torch.zeros(n, hidden, dtype=torch.double)
            h2 = torch.zeros(n, hidden, dtype=torch.double)
            c2 = torch.zeros(n, hidden, dtype=torch.double)
            for value in input.split(1, dim=1):                  # (N, 1): one time step
                h1, c1 = self.lstm1(value, (h1, c1))
                h2, c2 = self.lstm2(h1, (h2, c2))
                output = self.linear(h2)
                outputs.append(output)
            for _ in range(future):                               # feed the predictions back in
                h1, c1 = self.lstm1(output, (h1, c1))
                h2, c2 = self.lstm2(h1, (h2, c2))
                output = self.linear(h2)
                outputs.append(output)
            return torch.cat(outputs, dim=1)

    return Sequence()


def numpy_init_(torch, model, seed: int, hidden: int) -> None:
    """Overwrite every parameter with numpy draws from U(-1/sqrt(H), 1/sqrt(H)), in name order."""
    rng = np.random.default_rng(seed + 1)
    bound = 1.0 / np.sqrt(hidden)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            p.copy_(torch.from_numpy(rng.uniform(-bound, bound, size=tuple(p.shape))))


def plot_predictions(waves: np.ndarray, predicted: np.ndarray, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    known = waves.shape[1]
    fig, ax = plt.subplots(figsize=(10, 4))
    for k, colour in zip(range(len(waves)), ["tab:red", "tab:green", "tab:blue"]):
        ax.plot(np.arange(known), waves[k], color=colour, linewidth=2.0)
        ax.plot(np.arange(1, predicted.shape[1] + 1), predicted[k], color=colour, linestyle=":")
    ax.axvline(known, color="grey", linewidth=0.8)
    ax.set(xlabel="time step", ylabel="value", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch = importlib.import_module(args.framework)           # i.e. "import tinytorch as torch"
    nn, optim = torch.nn, torch.optim
    torch.manual_seed(args.seed)

    data = torch.from_numpy(sine_waves(args.waves, args.length, args.period, args.seed))
    input, target = data[3:, :-1], data[3:, 1:]                # predict the next value at every step
    test_input, test_target = data[:3, :-1], data[:3, 1:]

    model = sequence_model(torch, args.hidden).double()
    if args.numpy_init:
        numpy_init_(torch, model, args.seed, args.hidden)
    criterion = nn.MSELoss()
    optimizer = optim.LBFGS(model.parameters(), lr=args.lr, max_iter=args.max_iter)
    print(f"{args.framework}: {input.size(0)} training waves of {input.size(1)} steps, LSTMCell x2 "
          f"({args.hidden} units), L-BFGS lr={args.lr}, {args.max_iter} iterations a step")

    history: dict[str, list[float]] = {"loss": [], "test_loss": []}
    start = time.perf_counter()
    for step in range(args.steps):
        def closure():
            optimizer.zero_grad()
            loss = criterion(model(input), target)
            loss.backward()
            return loss

        loss = optimizer.step(closure)                         # the loss before this step's iterations
        with torch.no_grad():
            prediction = model(test_input, future=args.future)
            test_loss = criterion(prediction[:, :-args.future] if args.future else prediction, test_target)
        history["loss"].append(loss.item())
        history["test_loss"].append(test_loss.item())
        print(f"step {step:2d}  loss {loss.item():.10f}  test loss {test_loss.item():.10f}")
    print(f"wall time {time.perf_counter() - start:.1f} s")
    if args.plot:
        plot_predictions(data[:3].numpy(), prediction.detach().numpy(), args.plot,
                         f"sine waves (solid) and the LSTM's prediction (dotted), {args.framework}")
        print(f"saved the predictions to {args.plot}")
    return history


if __name__ == "__main__":
    main()
