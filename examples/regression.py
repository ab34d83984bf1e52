"""Fit a random polynomial with one linear layer, by hand-written gradient descent.

Written the way PyTorch's official examples are written: everything below the imports is plain
PyTorch, and ``--framework torch`` runs the very same lines on PyTorch. The target is
``y = w1 x + w2 x^2 + w3 x^3 + w4 x^4 + b`` with random coefficients; the model is ``nn.Linear(4, 1)``
on the features ``(x, x^2, x^3, x^4)``, and the loop updates ``param.data`` directly, without an
optimizer, until the smooth-L1 loss falls below 1e-3.

Usage::

    python examples/regression.py
    python examples/regression.py --framework torch
"""

import argparse


def chosen_framework() -> str:
    """The ``--framework`` flag, read before the rest of the command line (it decides the imports)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--framework", choices=["tinytorch", "torch"], default="tinytorch")
    return p.parse_known_args()[0].framework


if chosen_framework() == "torch":
    import torch
else:
    import tinytorch as torch
F = torch.nn.functional

POLY_DEGREE = 4


def make_features(x):
    """Builds features i.e. a matrix with columns [x, x^2, x^3, x^4]."""
    x = x.unsqueeze(1)
    return torch.cat([x ** i for i in range(1, POLY_DEGREE + 1)], 1)


def f(x, W_target, b_target):
    """Approximated function."""
    return x.mm(W_target) + b_target.item()


def poly_desc(W, b):
    """Creates a string description of a polynomial."""
    result = "y = "
    for i, w in enumerate(W):
        result += f"{w:+.2f} x^{i + 1} "
    result += f"{b[0]:+.2f}"
    return result


def get_batch(W_target, b_target, batch_size=32):
    """Builds a batch i.e. (x, f(x)) pair."""
    random = torch.randn(batch_size)
    x = make_features(random)
    y = f(x, W_target, b_target)
    return x, y


def fit(W_target, b_target, max_steps=10_000, lr=0.1, tolerance=1e-3, log_interval=0):
    """Gradient descent on a fresh ``Linear(4, 1)``; returns the layer, the last loss and the step count."""
    fc = torch.nn.Linear(W_target.size(0), 1)
    for batch_idx in range(1, max_steps + 1):
        batch_x, batch_y = get_batch(W_target, b_target)
        fc.zero_grad()
        output = F.smooth_l1_loss(fc(batch_x), batch_y)
        loss = output.item()
        output.backward()
        for param in fc.parameters():
            param.data.add_(-lr * param.grad)
        if log_interval and batch_idx % log_interval == 0:
            print(f"step {batch_idx}: loss {loss:.6f}")
        if loss < tolerance:
            break
    return fc, loss, batch_idx


def main():
    parser = argparse.ArgumentParser(description="Polynomial regression (PyTorch's example, on either framework)")
    parser.add_argument("--framework", choices=["tinytorch", "torch"], default="tinytorch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=10_000)
    parser.add_argument("--log-interval", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    W_target = torch.randn(POLY_DEGREE, 1) * 5
    b_target = torch.randn(1) * 5
    fc, loss, steps = fit(W_target, b_target, args.max_steps, log_interval=args.log_interval)
    print(f"Loss: {loss:.6f} after {steps} batches")
    print("==> Learned function:\t" + poly_desc(fc.weight.view(-1), fc.bias))
    print("==> Actual function:\t" + poly_desc(W_target.view(-1), b_target))


if __name__ == "__main__":
    main()
