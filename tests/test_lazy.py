"""Lazy mode (``with tt.lazy():``): results equal eager ones for every op of the op table and
for training the example models; values are computed when read; the schedule fuses chains."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_compile import _batches, _cnn, _gpt, _mlp, _train, _value_and_grad
from test_tensor_ops import OPS, Lib

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch.compiler import LazyTensor

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYTORCH_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("op", [pytest.param(op, id=op.name, marks=op.marks) for op in OPS])
def test_every_op_lazy_equals_eager(op, device):
    layout = "broadcast" if op.broadcast else "plain"
    lib = Lib(tt, device)

    def lazily(*xs):
        with tt.lazy():
            out = op.fn(lib, *xs)
        return out

    tt.manual_seed(0)
    got, got_grads = _value_and_grad(lazily, op, layout, device, tt.float32, 0)
    tt.manual_seed(0)
    want, want_grads = _value_and_grad(lambda *xs: op.fn(lib, *xs), op, layout, device, tt.float32, 0)
    tol = dict(rtol=max(op.tol32, 1e-5) * 10, atol=max(op.tol32, 1e-5) * 10)
    for g, w in zip(got + got_grads, want + want_grads):
        if w is not None:
            np.testing.assert_allclose(g, w, **tol, equal_nan=True)


def test_ops_are_deferred_until_a_value_is_read():
    x, b = tt.randn(6, 4), tt.randn(4)
    with tt.lazy():
        y = ((x * b).tanh() + 1.0) * x
        assert isinstance(y, LazyTensor) and not y.realised
        assert y.shape == (6, 4) and y.dtype is tt.float32
        text = tt.lazy.schedule(y)
        assert text.count("kernel") == 1 and "fused[Mul -> Tanh -> Add -> Mul]" in text
        values = y.numpy()
        assert y.realised
    np.testing.assert_allclose(values, (((x * b).tanh() + 1.0) * x).numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("read", ["item", "print", "backward", "exit", "eager_op"])
def test_each_way_of_reading_realises(read, capsys):
    x = tt.randn(3, requires_grad=True)
    with tt.lazy():
        y = (x * 2.0).exp()
        z = y.sum() if read in ("item", "backward") else y
        if read == "item":
            assert z.item() == pytest.approx(float(np.exp(2 * x.detach().numpy()).sum()), rel=1e-5)
        elif read == "print":
            print(z)
            assert "grad_fn=<ExpBackward0>" in capsys.readouterr().out  # needs grad: not fused
        elif read == "eager_op":
            assert (y @ tt.ones(3)).item() == pytest.approx(float(np.exp(2 * x.detach().numpy()).sum()), rel=1e-5)
    if read == "backward":
        z.backward()
        np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2 * x.detach().numpy()), rtol=1e-5)
    assert y.realised


def test_values_that_need_grad_are_not_fused_the_others_are():
    x, w = tt.randn(4, 3), tt.randn(3, requires_grad=True)
    with tt.lazy():
        a = ((x * 2.0).exp() + 1.0).log()
        b = ((x * w).exp() + 1.0).log()
        assert "fused[Mul -> Exp -> Add -> Log]" in tt.lazy.schedule(a)
        assert "fused" not in tt.lazy.schedule(b) and tt.lazy.schedule(b).count("kernel") == 4
    b.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), (x.numpy() / (1 + np.exp(-(x.numpy() * w.detach().numpy())))).sum(0),
                               rtol=1e-5)


def test_a_sum_is_fused_into_the_chain_that_makes_its_input():
    x, b = tt.randn(8, 50), tt.randn(50)
    with tt.lazy():
        s = ((x * b).exp() + 1.0).log().sum(-1)
        assert isinstance(s, LazyTensor) and s.shape == (8,)
        assert tt.lazy.schedule(s).count("kernel") == 1 and "-> Sum]" in tt.lazy.schedule(s)
    np.testing.assert_allclose(s.numpy(), ((x * b).exp() + 1.0).log().sum(-1).numpy(), rtol=1e-6)


def test_a_shared_intermediate_is_right_in_both_readers():
    x = tt.randn(5)
    with tt.lazy():
        a = x.exp()
        b = a * 2.0
        c = a + 1.0
    np.testing.assert_allclose(b.numpy(), 2 * np.exp(x.numpy()), rtol=1e-6)
    np.testing.assert_allclose(c.numpy(), np.exp(x.numpy()) + 1, rtol=1e-6)


@pytest.mark.parametrize("make,shape", [(_mlp, (8, 20)), (_cnn, (4, 1, 8, 8))], ids=["mlp", "cnn"])
def test_five_adam_steps_in_lazy_mode_equal_eager(make, shape):
    tt.manual_seed(0)
    eager = make()
    model = copy.deepcopy(eager)
    batches = _batches(shape, 5 if make is _mlp else 10)
    want = _train(eager, tt.optim.Adam(eager.parameters(), lr=1e-2), batches, F.cross_entropy)
    with tt.lazy():
        got = _train(model, tt.optim.Adam(model.parameters(), lr=1e-2), batches, F.cross_entropy)
    assert got == pytest.approx(want, abs=1e-5)
    for a, b in zip(eager.parameters(), model.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_gpt_loss_in_lazy_mode_equals_eager():
    gpt = _gpt()
    if not hasattr(gpt, "GPTConfig"):
        pytest.skip("examples/train_gpt.py has no GPTConfig")
    tt.manual_seed(0)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16))
    idx = tt.tensor(np.random.default_rng(0).integers(0, 11, (2, 8)))
    want = model(idx, idx)[1]
    with tt.lazy():
        got = model(idx, idx)[1]
    assert got.item() == pytest.approx(want.item(), rel=1e-5)


def test_environment_variable_starts_lazy(tmp_path):
    code = ("import tinytorch as tt\nx = tt.ones(3)\ny = (x * 2.0).exp() - 1.0\n"
            "print(type(y).__name__, round(y.sum().item(), 3))")
    env = dict(os.environ, PYTHONPATH=str(ROOT), TINYTORCH_LAZY="1", TINYTORCH_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    name, total = out.stdout.split()
    assert name == "LazyTensor" and float(total) == pytest.approx(3 * (np.exp(2.0) - 1), rel=1e-5)
