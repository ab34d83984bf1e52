"""The PyTorch-style examples run unchanged on both frameworks, and agree where they can.

``examples/mnist_cnn.py``, ``examples/regression.py`` and ``examples/vae.py`` are written like
PyTorch's official examples: only the import line differs between frameworks. Two kinds of test:

* each script runs end to end for a few batches as a user runs it (a subprocess), on tinytorch
  and, when PyTorch is installed, on PyTorch, and its printed losses behave as training should;
* each script's model and training functions are imported twice (once per framework), the
  PyTorch model's weights are copied into the tinytorch model, and the same data goes through
  the example's own ``train`` / loss code: the losses and the updated weights must agree.
"""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FRAMEWORKS = ["tinytorch", pytest.param("torch", marks=pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="torch is not installed"))]


def run_script(name: str, *args: str) -> str:
    cmd = [sys.executable, str(EXAMPLES / name), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}"
    return out.stdout


def floats_after(label: str, text: str) -> list[float]:
    return [float(v) for v in re.findall(label + r"\s*([-+0-9.eE]+|nan|inf)", text)]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_mnist_cnn_script_trains(framework: str) -> None:
    out = run_script("mnist_cnn.py", "--framework", framework, "--epochs", "2", "--max-batches", "15",
                     "--log-interval", "7", "--no-accel")
    losses = floats_after("Loss:", out)
    accuracy = [int(a) for a in re.findall(r"Accuracy: (\d+)/1000", out)]
    assert len(losses) == 6 and all(math.isfinite(v) for v in losses), out
    assert abs(losses[0] - math.log(10)) < 0.3, "an untrained 10-class model starts near ln(10)"
    assert losses[-1] < losses[0] - 0.5, f"30 Adadelta steps should cut the loss: {losses}"
    assert len(accuracy) == 2 and accuracy[-1] > 600, f"test accuracy after 30 steps: {accuracy}"


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_regression_script_converges(framework: str) -> None:
    out = run_script("regression.py", "--framework", framework, "--seed", "3")
    loss, steps = re.search(r"Loss: ([0-9.]+) after (\d+) batches", out).groups()
    assert float(loss) < 1e-3 and int(steps) < 10_000, out
    learned, actual = (np.array(floats_after(r"", line.split("y = ")[1].replace(" x^", " ")))
                       for line in out.splitlines()[-2:])
    learned_w, actual_w = learned[0::2], actual[0::2]  # drop the exponents between coefficients
    assert np.allclose(learned_w, actual_w, atol=0.5), out


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_vae_script_trains(framework: str) -> None:
    out = run_script("vae.py", "--framework", framework, "--epochs", "2", "--max-batches", "8",
                     "--log-interval", "4", "--no-accel")
    batch_losses = floats_after(r"\)\]\tLoss:", out)
    test_losses = floats_after("Test set loss:", out)
    assert len(batch_losses) == 4 and len(test_losses) == 2, out
    assert 500 < batch_losses[0] < 600, "an untrained decoder outputs ~0.5: BCE ~ 784 ln 2 per image"
    assert test_losses[1] < test_losses[0] < batch_losses[0], out


# --- the same code on both frameworks, from the same weights ---------------------------------------
def load_example(name: str, framework: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import ``examples/<name>`` as a fresh module with ``--framework`` on its command line."""
    monkeypatch.setattr(sys, "argv", [name, "--framework", framework])
    spec = importlib.util.spec_from_file_location(f"example_{name[:-3]}_{framework}", EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pair(name: str, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, ModuleType]:
    pytest.importorskip("torch")
    return load_example(name, "tinytorch", monkeypatch), load_example(name, "torch", monkeypatch)


def copy_weights(src, dst, tt) -> None:
    """Load a PyTorch module's state_dict into the tinytorch module (keys must match exactly)."""
    dst.load_state_dict({k: tt.tensor(v.detach().numpy()) for k, v in src.state_dict().items()})


def assert_same_weights(ours, theirs, rtol: float, atol: float) -> None:
    for (k, a), (k2, b) in zip(ours.state_dict().items(), theirs.state_dict().items(), strict=True):
        assert k == k2
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=rtol, atol=atol, err_msg=k)


def loaders(mods: tuple[ModuleType, ModuleType], x: np.ndarray, y: np.ndarray, batch_size: int) -> list:
    return [m.DataLoader(m.TensorDataset(m.torch.from_numpy(x), m.torch.from_numpy(y)), batch_size=batch_size)
            for m in mods]


def test_mnist_cnn_training_matches_pytorch(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    ours, theirs = mods = pair("mnist_cnn.py", monkeypatch)
    models = [m.Net().double() for m in mods]  # float64: Adadelta's ratios amplify float32 rounding
    copy_weights(models[1], models[0], ours.torch)
    for model in models:  # dropout draws differ between the frameworks' generators: turn it off
        model.dropout1.p = model.dropout2.p = 0.0
    x = np.random.default_rng(0).normal(size=(96, 1, 28, 28))
    y = np.random.default_rng(1).integers(0, 10, size=96)
    args = SimpleNamespace(log_interval=1, dry_run=False, max_batches=0)
    for m, model, loader in zip(mods, models, loaders(mods, x, y, 32)):
        optimizer = m.optim.Adadelta(model.parameters(), lr=1.0)
        scheduler = m.StepLR(optimizer, step_size=1, gamma=0.7)
        for epoch in (1, 2):
            m.train(args, model, m.torch.device("cpu"), loader, optimizer, epoch)
            scheduler.step()
    printed = capsys.readouterr().out.split("Train Epoch: 1 [0/96")
    assert floats_after("Loss:", printed[1]) == pytest.approx(floats_after("Loss:", printed[2]), rel=1e-9)
    assert_same_weights(models[0], models[1], rtol=1e-7, atol=1e-10)
    results = [m.test(model, m.torch.device("cpu"), loader) for m, model, loader in
               zip(mods, models, loaders(mods, x, y, 48))]
    assert results[0] == pytest.approx(results[1], rel=1e-9)


def test_regression_fit_matches_pytorch(monkeypatch: pytest.MonkeyPatch) -> None:
    """20 steps of the example's own ``fit`` on the same batches, from the same initial layer."""
    mods = pair("regression.py", monkeypatch)
    rng = np.random.default_rng(0)
    w, b, xs = rng.normal(size=(4, 1)) * 5, rng.normal(size=1) * 5, rng.normal(size=(20, 32))
    w0, b0 = rng.normal(size=(1, 4)) * 0.5, rng.normal(size=1) * 0.5
    fits = []
    for m in mods:
        t, batches = m.torch, iter(xs)

        def get_batch(W_target, b_target, batch_size=32, m=m, t=t, batches=batches):
            x = m.make_features(t.from_numpy(next(batches)))
            return x, m.f(x, W_target, b_target)

        def linear(n_in, n_out, Linear=t.nn.Linear, t=t):  # fit's fresh layer, with fixed float64 weights
            fc = Linear(n_in, n_out).double()
            with t.no_grad():
                fc.weight.copy_(t.from_numpy(w0))
                fc.bias.copy_(t.from_numpy(b0))
            return fc

        monkeypatch.setattr(m, "get_batch", get_batch)
        monkeypatch.setattr(t.nn, "Linear", linear)
        fits.append(m.fit(t.from_numpy(w), t.from_numpy(b), max_steps=20, tolerance=0.0))
    (ours, loss0, n0), (theirs, loss1, n1) = fits
    assert n0 == n1 == 20
    assert loss0 == pytest.approx(loss1, rel=1e-9)
    assert_same_weights(ours, theirs, rtol=1e-9, atol=1e-12)


def test_regression_features_and_description_match(monkeypatch: pytest.MonkeyPatch) -> None:
    mods = pair("regression.py", monkeypatch)
    x = np.random.default_rng(2).normal(size=(32,))
    feats = [m.make_features(m.torch.from_numpy(x)).numpy() for m in mods]
    np.testing.assert_allclose(feats[0], feats[1], rtol=1e-12)
    descs = [m.poly_desc(m.torch.tensor([1.5, -2.0]), m.torch.tensor([0.25])) for m in mods]
    assert descs[0] == descs[1] == "y = +1.50 x^1 -2.00 x^2 +0.25"


def test_vae_training_matches_pytorch(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    ours, theirs = mods = pair("vae.py", monkeypatch)
    models = [m.VAE().double() for m in mods]  # float64: Adam's m / sqrt(v) amplifies float32 rounding
    copy_weights(models[1], models[0], ours.torch)
    for model in models:  # the frameworks' random streams differ: sample z = mu in both
        model.reparameterize = lambda mu, logvar: mu + 0 * logvar
    x = np.random.default_rng(0).uniform(size=(64, 1, 28, 28))
    y = np.zeros(64, dtype=np.int64)
    args = SimpleNamespace(log_interval=1, max_batches=0)
    for m, model, loader in zip(mods, models, loaders(mods, x, y, 16)):
        optimizer = m.optim.Adam(model.parameters(), lr=1e-3)
        m.train(args, model, m.torch.device("cpu"), loader, optimizer, 1)
    printed = capsys.readouterr().out.split("Train Epoch: 1 [0/64")
    assert floats_after(r"\)\]\tLoss:", printed[1]) == pytest.approx(floats_after(r"\)\]\tLoss:", printed[2]),
                                                                       rel=1e-9)
    assert_same_weights(models[0], models[1], rtol=1e-7, atol=1e-10)
