"""End to end: a few hundred optimisation steps on a slice of the shipped MNIST subset must learn."""

import numpy as np
import pytest

import tinytorch as tt

if not hasattr(tt, "Tensor"):
    pytest.skip("the Tensor layer (tinytorch.Tensor) is missing", allow_module_level=True)

from nn_helpers import copy_torch_weights, needs_torch, torch  # noqa: E402

from tinytorch import nn, optim  # noqa: E402
from tinytorch.data import DataLoader, TensorDataset  # noqa: E402
from tinytorch.data.datasets import MNIST  # noqa: E402


def mnist_slice(n, device, train=True):
    ds = MNIST(train=train)
    x = ((ds.data[:n].numpy().astype(np.float32) / 255.0 - 0.1307) / 0.3081).reshape(n, -1)
    return tt.tensor(x, device=device), ds.targets[:n].to(device)


def test_mlp_training_reduces_loss():
    # Not about layer math (test_nn_layers covers every device): the default device only.
    device = tt.get_default_device()
    tt.manual_seed(0)
    x, y = mnist_slice(640, device)
    model = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10)).to(device)
    opt = optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    losses = []
    for _ in range(10):                                    # 200 steps
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert len(losses) == 200
    assert np.mean(losses[-20:]) < 0.25 * np.mean(losses[:20])
    xt, yt = mnist_slice(300, device, train=False)
    model.eval()
    with tt.no_grad():
        acc = (model(xt).argmax(1) == yt).float().mean().item()
    assert acc > 0.75                                      # well above chance (0.1) on held-out digits


def test_cnn_step_learns():
    device = tt.get_default_device()
    tt.manual_seed(0)
    x, y = mnist_slice(32, device)
    x = x.reshape(32, 1, 28, 28)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Dropout(0.1), nn.Linear(4 * 14 * 14, 10)).to(device)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    first = None
    for _ in range(20):                                    # overfit one batch
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.3 * first


@needs_torch
def test_cnn_training_in_lockstep_with_torch():
    """Same initial weights, same batches: tinytorch's float32 training tracks PyTorch's step by step."""
    torch.manual_seed(0)

    def build(m):
        return m.Sequential(m.Conv2d(1, 4, 3, padding=1), m.ReLU(), m.MaxPool2d(2), m.Flatten(),
                            m.Linear(4 * 14 * 14, 10))
    ref, ours = build(torch.nn), build(nn)
    copy_torch_weights(ours, ref)
    ds = MNIST(train=True)
    x = ((ds.data[:256].numpy().astype(np.float32) / 255.0 - 0.1307) / 0.3081)[:, None]
    y = ds.targets[:256].numpy()
    opt_ref, opt = torch.optim.Adam(ref.parameters(), 1e-3), optim.Adam(ours.parameters(), 1e-3)
    for step in range(8):
        xb, yb = x[step * 32:(step + 1) * 32], y[step * 32:(step + 1) * 32]
        opt_ref.zero_grad()
        loss_ref = torch.nn.functional.cross_entropy(ref(torch.tensor(xb)), torch.tensor(yb))
        loss_ref.backward()
        opt_ref.step()
        opt.zero_grad()
        loss = nn.functional.cross_entropy(ours(tt.tensor(xb)), tt.tensor(yb))
        loss.backward()
        opt.step()
        assert loss.item() == pytest.approx(loss_ref.item(), rel=1e-4)
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), atol=1e-5, err_msg=name)


def test_train_mnist_example_runs(tmp_path):
    """The example script end to end: one epoch of the MLP, with its plot."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "train_mnist.py"
    spec = importlib.util.spec_from_file_location("train_mnist_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    plot = tmp_path / "curves.png"
    history = example.main(["--model", "mlp", "--epochs", "1", "--no-progress", "--plot", str(plot),
                            "--device", str(tt.get_default_device())])
    assert history["test_acc"][0] > 0.8 and len(history["loss"]) == 1
    assert plot.exists() and plot.stat().st_size > 1000
