"""``tt.compile``: compiled results equal eager ones, guards recompile, the kernel cache and
the fallbacks work.

Every row of the op table (``tests/test_tensor_ops.py``'s ``OPS``) runs compiled: four calls
on four different inputs (two captures, the plan's run recorded as kernel programs, then a
replay of its forward and backward programs), value and gradient of the fourth compared with
eager on the same inputs. Where a capture cannot be replayed (random ops,
masks computed outside the op table) the compiled function must say so and run eagerly --
with the eager answer, never a stale one.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_tensor_ops import OPS, Lib, as_list, make_inputs, view_of, weights

import tinytorch as tt
import tinytorch.nn as nn
import tinytorch.nn.functional as F
from tinytorch.cflags import c_compiler
from tinytorch.compiler import Compiled, codegen
from tinytorch.compiler.fusion import plan_groups

ROOT = Path(__file__).resolve().parents[1]
needs_cc = pytest.mark.skipif(c_compiler() is None, reason="no C compiler on this machine")
pytestmark = needs_cc


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Each test compiles into a cache directory of its own."""
    monkeypatch.setenv("TINYTORCH_CACHE_DIR", str(tmp_path / "cache"))


def _value_and_grad(fn, op, layout, device, dtype, seed):
    values, leaves_np = make_inputs(op, layout, seed)
    leaves = [tt.tensor(b, dtype=dtype, device=device, requires_grad=op.grad) for b in leaves_np]
    xs = [view_of(x, v.ndim) for x, v in zip(leaves, values)] if layout == "strided" else leaves
    outs = as_list(fn(*xs))
    if not op.grad or not any(o.requires_grad for o in outs):
        return [o.detach().numpy() for o in outs], []
    loss = sum((o * tt.tensor(w, dtype=dtype, device=device)).sum() for o, w in zip(outs, weights(outs)))
    loss.backward()
    return [o.detach().numpy() for o in outs], [None if x.grad is None else x.grad.numpy() for x in leaves]


CASES = [pytest.param(op, id=op.name, marks=op.marks) for op in OPS]


@pytest.mark.parametrize("op", CASES)
def test_every_op_compiled_equals_eager(op, device):
    """Value and gradient of the fourth call equal eager's: two captures, the plan's run recorded
    as kernel programs, then a replay of those programs (or, where replay is unsafe, eager)."""
    layout = "broadcast" if op.broadcast else "plain"
    lib = Lib(tt, device)
    compiled = tt.compile(lambda *xs: op.fn(lib, *xs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for seed in (0, 1, 2, 3):
            tt.manual_seed(seed)
            got, got_grads = _value_and_grad(compiled, op, layout, device, tt.float32, seed)
    tt.manual_seed(3)
    want, want_grads = _value_and_grad(lambda *xs: op.fn(lib, *xs), op, layout, device, tt.float32, 3)
    tol = dict(rtol=max(op.tol32, 1e-5) * 10, atol=max(op.tol32, 1e-5) * 10)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **tol, equal_nan=True)
    for g, w in zip(got_grads, want_grads):
        if w is not None:
            np.testing.assert_allclose(g, w, **tol, equal_nan=True)


def test_elementwise_chain_is_one_generated_kernel_and_replays():
    def f(x, b):
        return ((x * 2.0 + b).tanh() - x).exp() / (1.0 + x * x)

    compiled = tt.compile(f)
    for _ in range(4):
        x, b = tt.randn(16, 8), tt.randn(8)
        np.testing.assert_allclose(compiled(x, b).numpy(), f(x, b).numpy(), rtol=1e-5, atol=1e-6)
    assert (compiled.captures, compiled.compiles, compiled.replays) == (2, 1, 2)
    plan = compiled.plans()[0]
    assert len(plan.groups) == 1 and len(plan.instructions) == 1  # nine ops, one kernel
    assert "fused[Mul -> Add -> Tanh -> Sub -> Exp -> Mul -> Add -> Div]" in plan.describe() or \
        "fused[" in plan.describe()


def test_fused_kernel_backward_equals_eager():
    """The FusedKernel node (what lazy or compiled code makes where no grad was wanted at
    capture) differentiates by recomputing its chain: check it against eager, also twice."""
    from tinytorch.compiler.capture import Recorder
    from tinytorch.compiler.runtime import Plan

    x0, b0 = tt.randn(5, 4), tt.randn(4)
    rec = Recorder([x0, b0])
    with rec:
        out = ((x0 * b0).sigmoid() * x0 + 1.0).log()
    trace = rec.finish(out)
    groups = plan_groups(trace)
    plan = Plan(trace, groups, [codegen.build(codegen.c_source(g, trace)) for g in groups])
    x, b = tt.randn(5, 4, requires_grad=True), tt.randn(4, requires_grad=True)
    y = plan.run([x, b])
    assert y.grad_fn.name() == "FusedKernelBackward0"
    (gx, gb) = tt.autograd.grad(y.sum(), [x, b], create_graph=True)
    x2, b2 = x.detach().requires_grad_(), b.detach().requires_grad_()
    want = tt.autograd.grad(((x2 * b2).sigmoid() * x2 + 1.0).log().sum(), [x2, b2], create_graph=True)
    np.testing.assert_allclose(gx.detach().numpy(), want[0].detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gb.detach().numpy(), want[1].detach().numpy(), rtol=1e-5, atol=1e-6)
    (ggx,) = tt.autograd.grad(gx.sum(), [x])
    (wgx,) = tt.autograd.grad(want[0].sum(), [x2])
    np.testing.assert_allclose(ggx.numpy(), wgx.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [tt.float32, tt.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("dim,keepdim", [(-1, False), ((1, 2), True), (None, False), (0, False)])
def test_sum_over_trailing_axes_fuses_into_its_chain(dim, keepdim, dtype):
    def f(x, b):
        y = ((x * b).exp() + 1.0).log()
        return y.sum(keepdim=keepdim) if dim is None else y.sum(dim, keepdim=keepdim)

    compiled = tt.compile(f)
    with tt.no_grad():
        for _ in range(3):
            x, b = tt.randn(6, 5, 70, dtype=dtype), tt.randn(70, dtype=dtype)
            np.testing.assert_allclose(compiled(x, b).numpy(), f(x, b).numpy(), rtol=1e-5)
    text = compiled.plans()[0].describe()
    assert ("-> Sum]" in text) == (dim != 0)  # a sum over the leading axis is its own kernel
    assert text.count("kernel") == (1 if dim != 0 else 2)


def test_leaf_index_covers_the_broadcasts():
    out = (2, 3, 4)
    for shape in [(2, 3, 4), (4,), (3, 1), (2, 1, 4), (1,), (), (2, 1, 1), (1, 3, 4)]:
        expr = codegen.leaf_index(shape, out)
        src = np.arange(int(np.prod(shape)) if shape else 1).reshape(shape)
        want = np.broadcast_to(src, out).reshape(-1)
        got = [eval(expr.replace("/", "//"), {"i": i}) for i in range(24)]
        np.testing.assert_array_equal(src.reshape(-1)[got], want, err_msg=f"{shape}: {expr}")


# --- models --------------------------------------------------------------------------------------
def _mlp():
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 5))


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3, padding=1),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 2 * 2, 10))


def _gpt():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import train_gpt
    finally:
        sys.path.pop(0)
    return train_gpt


def _train(model, opt, batches, loss_fn):
    for x, y in batches:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    return loss.item()


def _batches(shape, classes, n=5, seed=0):
    rng = np.random.default_rng(seed)
    return [(tt.tensor(rng.standard_normal(shape), dtype=tt.float32), tt.tensor(rng.integers(0, classes, shape[0])))
            for _ in range(n)]


@pytest.mark.parametrize("make,shape", [(_mlp, (8, 20)), (_cnn, (4, 1, 8, 8))], ids=["mlp", "cnn"])
def test_five_adam_steps_compiled_equal_eager(make, shape):
    tt.manual_seed(0)
    eager = make()
    model = copy.deepcopy(eager)
    compiled = tt.compile(model)
    batches = _batches(shape, 5 if make is _mlp else 10)
    l1 = _train(eager, tt.optim.Adam(eager.parameters(), lr=1e-2), batches, F.cross_entropy)
    l2 = _train(compiled, tt.optim.Adam(model.parameters(), lr=1e-2), batches, F.cross_entropy)
    assert compiled._compiled.replays == 3
    assert abs(l1 - l2) < 1e-5
    for a, b in zip(eager.parameters(), model.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_training_step_function_compiles_its_modules():
    """A step with backward() and opt.step() inside: the modules it calls are compiled, the
    rest runs eagerly, and five steps give eager's weights."""
    tt.manual_seed(0)
    eager = _mlp()
    model = copy.deepcopy(eager)
    opt = tt.optim.Adam(model.parameters(), lr=1e-2)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    compiled = tt.compile(step)
    batches = _batches((8, 20), 5)
    want = _train(eager, tt.optim.Adam(eager.parameters(), lr=1e-2), batches, F.cross_entropy)
    for x, y in batches:
        got = compiled(x, y)
    assert compiled.fallback is not None and compiled.fallback[0].replays == 3  # modules compiled at once
    assert abs(got.item() - want) < 1e-5
    for a, b in zip(eager.parameters(), model.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_in_place_side_effect_runs_eagerly():
    state = tt.zeros(3)

    def f(x):
        out = x * state + 1.0
        state.add_(1.0)  # a side effect a replay of the ops would not repeat
        return out

    compiled = tt.compile(f)
    with pytest.warns(RuntimeWarning, match="in place"):
        outs = [compiled(tt.ones(3)).numpy() for _ in range(4)]
    np.testing.assert_allclose(np.stack(outs)[:, 0], [1.0, 2.0, 3.0, 4.0])
    assert compiled.replays == 0


def test_gpt_forward_and_training_compiled_equal_eager():
    gpt = _gpt()
    names = [n for n in ("GPTConfig", "Config") if hasattr(gpt, n)]
    if not names or not hasattr(gpt, "GPT"):
        pytest.skip("examples/train_gpt.py has no GPT/GPTConfig")
    cfg = getattr(gpt, names[0])
    kwargs = {k: v for k, v in dict(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16, dropout=0.0).items()
              if k in cfg.__dataclass_fields__}
    tt.manual_seed(0)
    eager = gpt.GPT(cfg(**kwargs))
    model = copy.deepcopy(eager)
    compiled = tt.compile(model)
    rng = np.random.default_rng(0)
    batches = [(tt.tensor(rng.integers(0, 11, (2, 8))), tt.tensor(rng.integers(0, 11, (2, 8)))) for _ in range(4)]

    def loss_fn(out, y):
        logits = out[0] if isinstance(out, tuple) else out
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    l1 = _train(eager, tt.optim.AdamW(eager.parameters(), lr=1e-2), batches, loss_fn)
    l2 = _train(compiled, tt.optim.AdamW(model.parameters(), lr=1e-2), batches, loss_fn)
    assert compiled._compiled.replays == 2
    assert abs(l1 - l2) < 1e-4
    for a, b in zip(eager.parameters(), model.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-5)


# --- guards ----------------------------------------------------------------------------------
def _calls(compiled, *args):
    return [compiled(*args) for _ in range(3)]


def test_new_shape_dtype_or_requires_grad_recompiles_never_a_wrong_answer():
    def f(x):
        return (x * 3.0).sigmoid() + x

    compiled = tt.compile(f)
    variants = [tt.randn(4, 3), tt.randn(5, 3), tt.randn(4, 3, dtype=tt.float64), tt.randn(4, 3).requires_grad_()]
    for i, x in enumerate(variants):
        for out in _calls(compiled, x):
            np.testing.assert_allclose(out.detach().numpy(), f(x).detach().numpy(), rtol=1e-6, atol=1e-7)
        assert compiled.compiles == i + 1
    assert variants[3].requires_grad and _calls(compiled, variants[3])[-1].requires_grad


def test_train_eval_switch_recompiles():
    tt.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 6), nn.Dropout(0.5), nn.ReLU())
    compiled = tt.compile(model)
    x = tt.randn(3, 6)
    model.eval()
    outs = _calls(compiled, x)
    with tt.no_grad():
        np.testing.assert_allclose(outs[-1].detach().numpy(), model(x).numpy(), rtol=1e-6)
    model.train()  # dropout: random masks differ between captures, so this signature runs eagerly
    with pytest.warns(RuntimeWarning, match="differs between calls"):
        _calls(compiled, x)
    assert compiled._compiled.compiles == 1 and len(compiled._compiled.cache) == 2


def test_weight_changed_in_place_is_read_at_replay_and_new_shape_recaptures():
    lin = nn.Linear(3, 2)
    compiled = tt.compile(lambda x: (lin(x) * 2.0).relu())
    x = tt.randn(4, 3)
    _calls(compiled, x)
    with tt.no_grad():
        lin.weight.mul_(-1.0)
    np.testing.assert_allclose(compiled(x).detach().numpy(), (lin(x) * 2.0).relu().detach().numpy(), rtol=1e-6)
    lin.weight = nn.Parameter(tt.randn(2, 3))
    got = _calls(compiled, x)[-1]
    np.testing.assert_allclose(got.detach().numpy(), (lin(x) * 2.0).relu().detach().numpy(), rtol=1e-6)


def test_mask_from_a_comparison_is_recomputed_at_replay():
    def f(x):
        return tt.where(x > 0, x * 2.0, x * 0.5).relu() + x.masked_fill(x < -0.5, 0.0)

    compiled = tt.compile(f)
    for _ in range(4):
        x = tt.randn(50)
        np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-6)
    assert compiled.replays == 2


def test_mask_made_outside_the_op_table_falls_back_to_eager():
    def f(x):
        return x * tt.tensor(np.asarray(x) > 0)  # through numpy: invisible to the capture

    compiled = tt.compile(f)
    with pytest.warns(RuntimeWarning, match="reads the values"):
        for _ in range(3):
            x = tt.randn(50)
            np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy())
    assert compiled.replays == 0


def test_python_control_flow_on_data_falls_back_to_eager():
    def f(x):
        return x * 2.0 if x.sum() > 0 else x * -1.0

    compiled = tt.compile(f)
    with pytest.warns(RuntimeWarning, match="reads the values"):
        for sign in (1.0, 1.0, -1.0, 1.0):
            x = tt.ones(3) * sign
            np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy())
    assert compiled.replays == 0


def test_random_ops_fall_back_to_eager_with_the_eager_answer():
    def f(x):
        return F.dropout(x * 2.0, 0.5) + 1.0

    compiled = tt.compile(f)
    with pytest.warns(RuntimeWarning, match="differs between calls"):
        for seed in range(3):
            x = tt.randn(40)
            tt.manual_seed(seed)
            got = compiled(x)
            tt.manual_seed(seed)
            np.testing.assert_allclose(got.numpy(), f(x).numpy())


def test_fullgraph_raises_where_it_would_fall_back():
    compiled = tt.compile(lambda x: x * float(x.sum()), fullgraph=True)
    with pytest.raises(RuntimeError, match="fullgraph"):
        compiled(tt.randn(4))


def test_decorator_forms_and_bad_arguments():
    @tt.compile
    def f(x):
        return x.exp() + 1.0

    @tt.compile(fullgraph=True, mode="reduce-overhead")
    def g(x):
        return x.exp() + 1.0

    x = tt.randn(3)
    assert isinstance(f, Compiled) and isinstance(g, Compiled)
    np.testing.assert_allclose(_calls(g, x)[-1].numpy(), _calls(f, x)[-1].numpy())
    with pytest.raises(ValueError, match="backend"):
        tt.compile(f, backend="nope")
    with pytest.raises(RuntimeError, match="mode"):
        tt.compile(f, mode="fast")


# --- the kernel cache, debug output and the fallback without a compiler ------------------------
SCRIPT = """
import tinytorch as tt
from tinytorch.compiler import codegen
f = tt.compile(lambda x: (x * 2.0).exp() - x)
x = tt.ones(5)
for _ in range(3):
    y = f(x)
print("compiled", len(list(codegen.cache_dir().glob("*.so"))), round(y.sum().item(), 4))
"""


def _run(env_extra, code=SCRIPT):
    env = dict(os.environ, PYTHONPATH=str(ROOT), **env_extra)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)


def test_disk_cache_is_hit_by_a_second_process(tmp_path):
    env = {"TINYTORCH_CACHE_DIR": str(tmp_path / "c")}
    first = _run(env)
    assert first.returncode == 0, first.stderr
    [lib] = (tmp_path / "c" / "kernels").glob("*.so")
    stamp = lib.stat().st_mtime_ns
    second = _run(env)
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout
    assert lib.stat().st_mtime_ns == stamp  # loaded, not rebuilt
    assert float(first.stdout.split()[-1]) == pytest.approx(5 * (np.exp(2.0) - 1), rel=1e-5)


def test_debug_prints_the_generated_source(tmp_path):
    out = _run({"TINYTORCH_CACHE_DIR": str(tmp_path), "TINYTORCH_DEBUG": "2"})
    assert out.returncode == 0, out.stderr
    assert "void tt_fused(int64_t n, void **p)" in out.stdout and "fused[Mul -> Exp -> Sub]" in out.stdout


def test_missing_compiler_falls_back_with_one_warning(tmp_path):
    code = """
import warnings
warnings.simplefilter("always")
import tinytorch as tt
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    f = tt.compile(lambda x: (x * 2.0).exp() - x)
    g = tt.compile(lambda x: (x + 1.0).tanh() * x)
    for _ in range(4):
        a, b = f(tt.ones(3)), g(tt.ones(3))
print(len([w for w in seen if "no C compiler" in str(w.message)]), round(a.sum().item(), 3))
"""
    out = _run({"TINYTORCH_CACHE_DIR": str(tmp_path), "CC": "/nonexistent/cc"}, code)
    assert out.returncode == 0, out.stderr
    count, total = out.stdout.split()
    assert count == "1" and float(total) == pytest.approx(3 * (np.exp(2.0) - 1), rel=1e-3)
    assert not list(Path(tmp_path).rglob("*.so"))


# --- the CUDA code generator -------------------------------------------------------------------
@pytest.mark.skipif(not any(os.access(os.path.join(p, "nvcc"), os.X_OK) for p in os.environ.get("PATH", "").split(":")),
                    reason="nvcc not installed")
@pytest.mark.parametrize("dtype", [tt.float32, tt.float64], ids=["float32", "float64"])
def test_cuda_source_compiles_with_nvcc(tmp_path, dtype):
    from tinytorch.compiler.capture import Recorder

    x, b = tt.randn(4, 6, dtype=dtype), tt.randn(6, dtype=dtype)
    rec = Recorder([x, b])
    with rec:
        y = (((x * b).sigmoid() + 1.0).log() - b.tanh()).maximum(x.erf())
    trace = rec.finish(y)
    [group] = plan_groups(trace)
    src = codegen.cuda_source(group, trace)
    path = tmp_path / "fused.cu"
    path.write_text(src)
    archs = subprocess.run(["nvcc", "--list-gpu-arch"], capture_output=True, text=True).stdout.split()
    arch = min(archs, key=lambda a: int(a.split("_")[1])).replace("compute", "sm")  # the oldest it supports
    proc = subprocess.run(["nvcc", "--ptx", f"-arch={arch}", "-o", str(tmp_path / "fused.ptx"), str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr + src
    assert ".entry tt_fused" in (tmp_path / "fused.ptx").read_text()
