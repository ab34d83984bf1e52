"""The sequence examples written like PyTorch's official ones run on tinytorch and learn:
examples/time_sequence_prediction.py (two LSTMCells trained with LBFGS), run for a few steps, and
compared step by step with the same script on PyTorch from identical initial weights; and
examples/mnist_rnn.py (an LSTM reading MNIST row by row), whose loss falls and whose accuracy
beats guessing. The scripts also run as programs (a subprocess with flags)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SINE = ["--steps", "3", "--max-iter", "5", "--waves", "8", "--length", "30", "--hidden", "12",
        "--future", "10", "--numpy-init"]


def _example(name):
    spec = importlib.util.spec_from_file_location(f"{name}_example", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_time_sequence_prediction_loss_falls(capsys):
    history = _example("time_sequence_prediction").main(SINE)
    loss = history["loss"]
    assert len(loss) == 3 and all(np.isfinite(loss))
    assert loss[-1] < 0.5 * loss[0]
    assert history["test_loss"][-1] < history["test_loss"][0]
    assert capsys.readouterr().out.count("loss") >= 3


def test_time_sequence_prediction_equals_pytorch():
    """The same L-BFGS steps from the same weights give PyTorch's losses (float64, so closely)."""
    pytest.importorskip("torch")
    example = _example("time_sequence_prediction")
    ours = example.main(SINE + ["--framework", "tinytorch"])
    theirs = example.main(SINE + ["--framework", "torch"])
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(ours["test_loss"], theirs["test_loss"], rtol=1e-6, atol=1e-10)


def test_time_sequence_prediction_as_a_program(tmp_path):
    plot = tmp_path / "waves.png"
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "time_sequence_prediction.py"), *SINE,
                          "--steps", "2", "--plot", str(plot)], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    losses = [float(line.split()[3]) for line in out.stdout.splitlines() if line.startswith("step")]
    assert len(losses) == 2 and losses[1] < losses[0]
    assert plot.stat().st_size > 0


def test_mnist_rnn_learns(capsys):
    history = _example("mnist_rnn").main(["--epochs", "2", "--train-images", "1200", "--hidden", "32",
                                          "--log-interval", "1000"])
    assert history["loss"][1] < history["loss"][0]
    assert history["test_acc"][-1] > 0.3  # ten classes: guessing gets 0.1
    assert "Test set: Average loss" in capsys.readouterr().out


def test_mnist_rnn_as_a_program(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "mnist_rnn.py"), "--epochs", "1",
                          "--train-images", "256", "--hidden", "16", "--log-interval", "1"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    losses = [float(line.split("Loss:")[1]) for line in out.stdout.splitlines() if "Loss:" in line]
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert "test accuracy" in out.stdout


def test_train_gpt_runs_as_a_program_with_a_thread_count(tmp_path):
    """examples/train_gpt.py with --threads (PyTorch's torch.set_num_threads) on a tiny model:
    it trains, evaluates, saves its checkpoint and samples."""
    args = ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "8", "--batch-size", "2",
            "--max-iters", "3", "--eval-interval", "2", "--eval-iters", "1", "--samples", "5", "--threads", "1",
            "--no-progress", "--out", str(tmp_path)]
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "train_gpt.py"), *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "best val loss" in done.stdout and any(tmp_path.iterdir())
