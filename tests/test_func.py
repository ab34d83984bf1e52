"""``tinytorch.func`` against ``torch.func`` on the same functions: grad (and of grad), vjp,
jvp, jacrev, jacfwd, hessian, vmap with in_dims/out_dims, per-sample gradients of an MLP
through functional_call, and the errors PyTorch raises. Every test that compares with PyTorch
skips without it; the ``device`` argument runs each test on every available device."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from nn_helpers import needs_torch, torch

import tinytorch as tt
from tinytorch import func as ttf

RNG = np.random.default_rng(0)


def arr(*shape: int, seed: int = 0, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, shape)


def T(a: np.ndarray, device: str) -> tt.Tensor:
    return tt.tensor(a, dtype=tt.float64, device=device)


def P(a: np.ndarray) -> Any:
    return torch.tensor(a, dtype=torch.float64)


def close(ours: Any, theirs: Any, rtol: float = 1e-9, atol: float = 1e-10) -> None:
    """Tensors (or equal nestings of them) hold the same values."""
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            close(o, t, rtol, atol)
        return
    if isinstance(theirs, dict):
        assert set(ours) == set(theirs)
        for k in theirs:
            close(ours[k], theirs[k], rtol, atol)
        return
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert not ours.requires_grad
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)


# the same functions, written once for either library (``L`` is tinytorch or torch)
def f_sin(L: Any, x: Any) -> Any: return (L.sin(x) * x).sum()
def f_mlp(L: Any, x: Any) -> Any: return L.tanh(x @ x.T).softmax(-1)[0].log().sum()
def f_norm(L: Any, x: Any) -> Any: return (x.pow(2).sum() + 1.0).sqrt() * x.exp().mean()
def f_relu(L: Any, x: Any) -> Any: return (L.relu(x) ** 3).sum() + L.where(x > 0.2, x, x * x).sum()


SCALAR_FNS = [f_sin, f_mlp, f_norm, f_relu]


def v_out(L: Any, x: Any) -> Any: return L.tanh(x).cumsum(0) * x.sum()
def v_wide(L: Any, x: Any) -> Any: return (x.reshape(-1, 4) ** 2).sum(0).exp()
def v_tall(L: Any, x: Any) -> Any: return L.sigmoid(x[:, None] * L.arange(1.0, 9.0, dtype=x.dtype, device=x.device))


VECTOR_FNS = [v_out, v_wide, v_tall]


def bind(fn: Callable, L: Any) -> Callable:
    return lambda *a: fn(L, *a)


# --- grad -----------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("fn", SCALAR_FNS, ids=lambda f: f.__name__)
def test_grad_and_grad_of_grad_match_torch(fn: Callable, device: str) -> None:
    a = arr(3, 3, seed=1)
    close(ttf.grad(bind(fn, tt))(T(a, device)), torch.func.grad(bind(fn, torch))(P(a)))
    # the second derivative through grad(grad) of a scalar function of one number
    s = np.array(0.7)
    g2 = ttf.grad(ttf.grad(lambda x: bind(fn, tt)(x.reshape(1, 1))))(T(s, device))
    close(g2, torch.func.grad(torch.func.grad(lambda x: bind(fn, torch)(x.reshape(1, 1))))(P(s)))


@needs_torch
def test_grad_argnums_has_aux_and_pytrees(device: str) -> None:
    a, b = arr(2, 3, seed=2), arr(3, seed=3)

    def f(L: Any, p: dict, x: Any, k: float) -> Any:
        y = (p["w"] @ x + p["b"][0]).tanh()
        return (y * k).sum(), {"y": y}

    ours = ttf.grad(lambda p, x: f(tt, p, x, 2.0), argnums=(0, 1), has_aux=True)(
        {"w": T(a, device), "b": [T(b[:2], device)]}, T(b, device))
    theirs = torch.func.grad(lambda p, x: f(torch, p, x, 2.0), argnums=(0, 1), has_aux=True)(
        {"w": P(a), "b": [P(b[:2])]}, P(b))
    close(ours[0], theirs[0])
    close(ours[1], theirs[1])
    g, value = ttf.grad_and_value(lambda x: f(tt, {"w": T(a, device), "b": [T(b[:2], device)]}, x, 1.0)[0])(
        T(b, device))
    tg, tvalue = torch.func.grad_and_value(lambda x: f(torch, {"w": P(a), "b": [P(b[:2])]}, x, 1.0)[0])(P(b))
    close((g, value), (tg, tvalue))


def test_grad_is_differentiable_by_backward_when_inputs_require_grad(device: str) -> None:
    """Outside any transform the result is cut from the graph, unless a tensor the user marked
    requires_grad feeds it (then ``backward`` goes through it, as in PyTorch)."""
    x = T(arr(3, seed=4), device)
    assert not ttf.grad(lambda x: (x ** 3).sum())(x).requires_grad
    w = tt.tensor(2.0, dtype=tt.float64, device=device, requires_grad=True)
    g = ttf.grad(lambda x: (w * x ** 3).sum())(x)  # 3 w x²
    g.sum().backward()
    np.testing.assert_allclose(w.grad.item(), (3 * x.numpy() ** 2).sum())


def test_grad_errors_like_torch(device: str) -> None:
    x = T(arr(3, seed=5), device)
    with pytest.raises(RuntimeError, match="scalar Tensor"):
        ttf.grad(lambda x: x * 2)(x)
    with pytest.raises(RuntimeError, match="argnums"):
        ttf.grad(lambda x: x.sum(), argnums=1)(x)
    with pytest.raises(RuntimeError, match="Tensor"):
        ttf.grad(lambda x: 3.0)(x)
    with pytest.raises(RuntimeError, match="tuple"):
        ttf.grad(lambda x: x.sum(), has_aux=True)(x)
    if torch is not None:  # the same calls fail the same way in PyTorch
        with pytest.raises(RuntimeError):
            torch.func.grad(lambda x: x * 2)(P(arr(3)))
        with pytest.raises(RuntimeError):
            torch.func.grad(lambda x: x.sum(), argnums=1)(P(arr(3)))


# --- vjp and jvp --------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("fn", VECTOR_FNS, ids=lambda f: f.__name__)
def test_vjp_and_jvp_match_torch(fn: Callable, device: str) -> None:
    a, ct, t = arr(8, seed=6), arr(8, seed=7), arr(8, seed=8)
    out, fn_vjp = ttf.vjp(bind(fn, tt), T(a, device))
    tout, tfn_vjp = torch.func.vjp(bind(fn, torch), P(a))
    cot = np.random.default_rng(9).uniform(-1, 1, tuple(tout.shape))
    close(out, tout)
    close(fn_vjp(T(cot, device)), tfn_vjp(P(cot)))
    close(fn_vjp(T(2 * cot, device)), tfn_vjp(P(2 * cot)))  # vjp_fn may be called again
    close(ttf.jvp(bind(fn, tt), (T(a, device),), (T(t, device),)),
          torch.func.jvp(bind(fn, torch), (P(a),), (P(t),)))
    del ct


@needs_torch
def test_jvp_of_two_inputs_with_aux_and_of_layers(device: str) -> None:
    x, w, tx, tw = arr(4, 5, seed=10), arr(3, 5, seed=11), arr(4, 5, seed=12), arr(3, 5, seed=13)

    def f(L: Any, x: Any, w: Any) -> Any:
        y = L.nn.functional.linear(x, w)
        return L.nn.functional.log_softmax(L.nn.functional.gelu(y), dim=-1), y.mean()

    ours = ttf.jvp(lambda x, w: f(tt, x, w), (T(x, device), T(w, device)), (T(tx, device), T(tw, device)),
                   has_aux=True)
    theirs = torch.func.jvp(lambda x, w: f(torch, x, w), (P(x), P(w)), (P(tx), P(tw)), has_aux=True)
    close(ours, theirs)


def test_jvp_and_vjp_errors(device: str) -> None:
    x = T(arr(3), device)
    with pytest.raises(RuntimeError, match="tuple"):
        ttf.jvp(lambda x: x, x, (x,))
    with pytest.raises(RuntimeError, match="same shape"):
        ttf.jvp(lambda x: x, (x,), (T(arr(4), device),))
    _, fn = ttf.vjp(lambda x: x * 2, x)
    with pytest.raises(RuntimeError, match="shape"):
        fn(T(arr(4), device))


# --- Jacobians and Hessians -----------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("fn", VECTOR_FNS, ids=lambda f: f.__name__)
def test_jacrev_and_jacfwd_agree_with_each_other_and_torch(fn: Callable, device: str) -> None:
    a = arr(8, seed=14)
    rev, fwd = ttf.jacrev(bind(fn, tt))(T(a, device)), ttf.jacfwd(bind(fn, tt))(T(a, device))
    theirs = torch.func.jacrev(bind(fn, torch))(P(a))
    close(rev, theirs)
    close(fwd, theirs)


@needs_torch
def test_jacobians_of_several_inputs_and_outputs(device: str) -> None:
    x, y = arr(2, 3, seed=15), arr(3, seed=16)

    def f(L: Any, x: Any, y: Any) -> Any:
        return (x * y).sum(1), (x @ y).exp() + y[0]

    for ours_t, theirs_t in ((ttf.jacrev, torch.func.jacrev), (ttf.jacfwd, torch.func.jacfwd)):
        ours = ours_t(lambda x, y: f(tt, x, y), argnums=(0, 1))(T(x, device), T(y, device))
        close(ours, theirs_t(lambda x, y: f(torch, x, y), argnums=(0, 1))(P(x), P(y)))


@needs_torch
def test_hessian_of_a_small_loss(device: str) -> None:
    """The Hessian of a two-layer network's loss with respect to its flattened weights."""
    x, y, w = arr(5, 3, seed=17), arr(5, 2, seed=18), arr(3 * 4 + 4 * 2, seed=19)

    def loss(L: Any, w: Any, x: Any, y: Any) -> Any:
        w1, w2 = w[:12].reshape(3, 4), w[12:].reshape(4, 2)
        return ((L.tanh(x @ w1) @ w2 - y) ** 2).mean()

    ours = ttf.hessian(lambda w: loss(tt, w, T(x, device), T(y, device)))(T(w, device))
    theirs = torch.func.hessian(lambda w: loss(torch, w, P(x), P(y)))(P(w))
    close(ours, theirs)
    # a Hessian-vector product by forward-over-reverse equals H @ v
    v = arr(20, seed=20)
    hvp = ttf.jvp(ttf.grad(lambda w: loss(tt, w, T(x, device), T(y, device))), (T(w, device),), (T(v, device),))[1]
    np.testing.assert_allclose(hvp.numpy(), theirs.numpy() @ v, rtol=1e-9, atol=1e-12)


# --- vmap ---------------------------------------------------------------------------------------------
@needs_torch
def test_vmap_in_dims_out_dims_and_nesting_match_torch(device: str) -> None:
    x, y, z = arr(3, 4, seed=21), arr(4, 5, seed=22), arr(5, 3, seed=23)

    def f(L: Any, a: Any, pair: tuple) -> Any:
        b, c = pair
        return (a @ b).tanh() + c.sum(), a.sum()

    cases = [((0, (None, 1)), 0), ((0, (None, 1)), (1, 0)), ((0, None), -1)]
    for in_dims, out_dims in cases:
        zz = z if in_dims[1] is not None else z[:, 0]
        ours = ttf.vmap(lambda a, p: f(tt, a, p), in_dims=in_dims, out_dims=out_dims)(
            T(x, device), (T(y, device), T(zz, device)))
        theirs = torch.vmap(lambda a, p: f(torch, a, p), in_dims=in_dims, out_dims=out_dims)(P(x), (P(y), P(zz)))
        close(ours, theirs)
    # nested: a batch of batches, the inner one over the other input
    ours = ttf.vmap(ttf.vmap(lambda a, b: a * b.exp(), in_dims=(None, 0)), in_dims=(0, None))(T(x, device),
                                                                                             T(y.T, device))
    theirs = torch.vmap(torch.vmap(lambda a, b: a * b.exp(), in_dims=(None, 0)), in_dims=(0, None))(P(x), P(y.T))
    close(ours, theirs)
    close(ttf.vmap(lambda a: a.sum(0), chunk_size=2)(T(x, device)), torch.vmap(lambda a: a.sum(0))(P(x)))
    assert tt.vmap is ttf.vmap


def test_vmap_errors_like_torch(device: str) -> None:
    x = T(arr(3, 4), device)
    with pytest.raises(ValueError, match="same size"):
        ttf.vmap(lambda a, b: a + b)(x, T(arr(4, 4), device))
    with pytest.raises(ValueError, match="in_dim"):
        ttf.vmap(lambda a: a, in_dims=2)(x)
    with pytest.raises(ValueError, match="in_dims is not compatible"):
        ttf.vmap(lambda a: a, in_dims=(0, 0))(x)
    with pytest.raises(RuntimeError, match="randomness"):
        ttf.vmap(lambda a: a + tt.randn(4, device=device))(x)
    with pytest.raises(RuntimeError, match="item"):
        ttf.vmap(lambda a: a.sum().item())(x)
    with pytest.raises(ValueError, match="must only return Tensors"):
        ttf.vmap(lambda a: 3)(x)
    with pytest.raises(RuntimeError, match="in-place"):
        ttf.vmap(lambda a: (a * 1).mul_(2))(x)
    with pytest.raises(RuntimeError, match="in-place"):
        ttf.vmap(lambda a: tt.zeros(4, device=device, dtype=tt.float64).add_(a))(x)
    same = ttf.vmap(lambda a: a * 0 + tt.randn(4, device=device, dtype=tt.float64), randomness="same")(x)
    np.testing.assert_array_equal(same.numpy()[0], same.numpy()[1])  # one draw for every example


@needs_torch
def test_per_sample_gradients_of_an_mlp_through_functional_call(device: str) -> None:
    """The torch.func recipe: vmap(grad(loss), in_dims=(None, 0, 0)) over (params, x, y)."""
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).double()
    model = tt.nn.Sequential(tt.nn.Linear(4, 8), tt.nn.ReLU(), tt.nn.Linear(8, 3)).to(device).double()
    model.load_state_dict({k: tt.tensor(v.detach().numpy(), device=device) for k, v in tmodel.state_dict().items()})
    x, labels = arr(6, 4, seed=24), np.random.default_rng(25).integers(0, 3, 6)

    def make_loss(L: Any, m: Any) -> Callable:
        def loss(params: dict, xi: Any, yi: Any) -> Any:
            out = L.func.functional_call(m, params, (xi[None],))
            return L.nn.functional.cross_entropy(out, yi[None])
        return loss

    params = {k: v.detach() for k, v in model.named_parameters()}
    tparams = {k: v.detach() for k, v in tmodel.named_parameters()}
    ours = ttf.vmap(ttf.grad(make_loss(tt, model)), in_dims=(None, 0, 0))(
        params, T(x, device), tt.tensor(labels, device=device))
    theirs = torch.func.vmap(torch.func.grad(make_loss(torch, tmodel)), in_dims=(None, 0, 0))(
        tparams, P(x), torch.tensor(labels))
    close(ours, theirs)
    # and the per-sample gradients average to the batch gradient
    batch = ttf.grad(lambda p: tt.nn.functional.cross_entropy(ttf.functional_call(model, p, (T(x, device),)),
                                                                 tt.tensor(labels, device=device)))(params)
    for k in params:
        np.testing.assert_allclose(ours[k].numpy().mean(0), batch[k].numpy(), rtol=1e-9, atol=1e-12)


@needs_torch
def test_per_sample_gradients_and_an_ensemble_of_a_cnn(device: str) -> None:
    """Convolution under vmap: inputs batched with shared weights (the forward of per-sample
    gradients), weights batched too (their backward; an ensemble): no loop fallback."""
    torch.manual_seed(2)
    tmodel = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(),
                                 torch.nn.Conv2d(4, 3, 2, stride=2, groups=1, bias=False), torch.nn.Flatten(),
                                 torch.nn.Linear(3 * 2 * 2, 2)).double()
    model = tt.nn.Sequential(tt.nn.Conv2d(2, 4, 3, padding=1), tt.nn.ReLU(),
                             tt.nn.Conv2d(4, 3, 2, stride=2, bias=False), tt.nn.Flatten(),
                             tt.nn.Linear(3 * 2 * 2, 2)).to(device).double()
    model.load_state_dict({k: tt.tensor(v.detach().numpy(), device=device) for k, v in tmodel.state_dict().items()})
    x, labels = np.random.default_rng(31).standard_normal((5, 2, 4, 4)), np.random.default_rng(32).integers(0, 2, 5)

    def make_loss(L: Any, m: Any) -> Callable:
        def loss(params: dict, xi: Any, yi: Any) -> Any:
            return L.nn.functional.cross_entropy(L.func.functional_call(m, params, (xi[None],)), yi[None])
        return loss

    params = {k: v.detach() for k, v in model.named_parameters()}
    tparams = {k: v.detach() for k, v in tmodel.named_parameters()}
    ttf.reset_fallback_ops()
    ours = ttf.vmap(ttf.grad(make_loss(tt, model)), in_dims=(None, 0, 0))(
        params, T(x, device), tt.tensor(labels, device=device))
    theirs = torch.func.vmap(torch.func.grad(make_loss(torch, tmodel)), in_dims=(None, 0, 0))(
        tparams, P(x), torch.tensor(labels))
    close(ours, theirs)
    ensemble = {k: tt.stack([v, v * 2, -v]) for k, v in params.items()}
    tensemble = {k: torch.stack([v, v * 2, -v]) for k, v in tparams.items()}
    ours = ttf.vmap(lambda p: ttf.functional_call(model, p, (T(x, device),)))(ensemble)
    theirs = torch.func.vmap(lambda p: torch.func.functional_call(tmodel, p, (P(x),)))(tensemble)
    close(ours, theirs)
    assert "Convolution" not in ttf.fallback_ops()


@needs_torch
def test_vmap_of_jacrev_and_of_vjp_fn(device: str) -> None:
    x = arr(3, 4, seed=26)
    close(ttf.vmap(ttf.jacrev(bind(v_out, tt)))(T(x, device)), torch.vmap(torch.func.jacrev(bind(v_out, torch)))(P(x)))
    ttf.reset_fallback_ops()
    _, fn = ttf.vjp(bind(v_out, tt), T(x[0], device))
    _, tfn = torch.func.vjp(bind(v_out, torch), P(x[0]))
    close(ttf.vmap(fn)(T(x, device)), torch.vmap(tfn)(P(x)))
    assert "vjp_fn" not in ttf.fallback_ops()  # batched, not looped
    # a vjp taken inside one vmap, its vjp_fn mapped by another: the loop path

    def rows(L: Any, F: Any) -> Callable:
        return lambda v: F.vmap(F.vjp(bind(v_out, L), v)[1])(L.eye(4, dtype=L.float64, device=v.device))
    with pytest.warns(UserWarning, match="vjp_fn"):
        ours = ttf.vmap(rows(tt, ttf))(T(x, device))
    close(ours, torch.vmap(rows(torch, torch.func))(P(x)))


# --- functional_call ---------------------------------------------------------------------------------------
def test_functional_call_swaps_and_restores(device: str) -> None:
    lin = tt.nn.Linear(3, 2, device=device)
    w0 = lin.weight
    new = {"weight": tt.ones(2, 3, device=device), "bias": tt.zeros(2, device=device)}
    out = ttf.functional_call(lin, new, (tt.ones(1, 3, device=device),))
    np.testing.assert_allclose(out.detach().numpy(), [[3.0, 3.0]])
    assert lin.weight is w0
    assert tt.nn.utils.stateless.functional_call is ttf.functional_call
    with pytest.raises(RuntimeError, match="Missing key"):
        ttf.functional_call(lin, {"weight": new["weight"]}, (tt.ones(1, 3, device=device),), strict=True)
    bn = tt.nn.BatchNorm1d(3).to(device).eval()
    stats = {"running_mean": tt.ones(3, device=device), "running_var": tt.ones(3, device=device) * 4}
    out = ttf.functional_call(bn, stats, tt.full((2, 3), 3.0, device=device))
    np.testing.assert_allclose(out.detach().numpy(), np.full((2, 3), 1.0), rtol=1e-4)


@needs_torch
def test_an_ensemble_under_vmap_matches_torch(device: str) -> None:
    """stack_module_state + functional_call + vmap over the models: five MLPs in one call."""
    torch.manual_seed(1)
    tmodels = [torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2)).double()
               for _ in range(5)]
    models = []
    for tm in tmodels:
        m = tt.nn.Sequential(tt.nn.Linear(3, 6), tt.nn.Tanh(), tt.nn.Linear(6, 2)).to(device).double()
        m.load_state_dict({k: tt.tensor(v.detach().numpy(), device=device) for k, v in tm.state_dict().items()})
        models.append(m)
    x = arr(4, 3, seed=27)
    params, buffers = ttf.stack_module_state(models)
    tparams, tbuffers = torch.func.stack_module_state(tmodels)
    assert all(p.requires_grad and p.is_leaf for p in params.values())
    base, tbase = models[0], tmodels[0]
    ours = ttf.vmap(lambda p, b, x: ttf.functional_call(base, (p, b), (x,)), in_dims=(0, 0, None))(
        params, buffers, T(x, device))
    theirs = torch.func.vmap(lambda p, b, x: torch.func.functional_call(tbase, (p, b), (x,)), in_dims=(0, 0, None))(
        tparams, tbuffers, P(x))
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(RuntimeError, match="at least one model"):
        ttf.stack_module_state([])
