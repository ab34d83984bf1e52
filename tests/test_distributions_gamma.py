"""The gamma family of ``tinytorch.distributions`` (``Gamma``, ``Chi2``, ``Beta``, ``Dirichlet``,
``Poisson``, ``StudentT``, ``LogNormal``) and the samplers behind it (``tt.poisson`` and the
private standard gamma sampler): against ``torch.distributions`` when PyTorch is installed
(values and gradients w.r.t. the parameters, float64, batched and broadcast; KL divergences; the
implicit reparameterisation gradient against ``torch._standard_gamma_grad``), and always: sample
moments on 20k draws, supports, dtypes, reproducibility, validation errors, and the pathwise
gradients of ``rsample`` against the derivatives of the closed-form moments."""

from __future__ import annotations

import math

import numpy as np
import pytest
from nn_helpers import needs_torch, torch
from test_distributions import _check_moments, check_against_torch, check_construction_error, check_kl_against_torch

import tinytorch as tt
import tinytorch.distributions as D
from tinytorch.distributions.gamma_draws import _standard_gamma, _standard_gamma_grad

R = np.random.default_rng(17)
N = 20_000

CONC, RATE = R.uniform(0.3, 4.0, (3, 1)), R.uniform(0.5, 2.5, (4,))  # batch (3, 4) by broadcasting
# a Dirichlet batch of 3 with 4 categories; row 0 all below 1 (its mode is PyTorch's vertex choice)
DIR = np.concatenate([R.uniform(0.2, 0.9, (1, 4)), R.uniform(0.3, 5.0, (2, 4))])
DF = np.array([0.7, 1.5, 2.0, 3.5, 9.0])  # mean NaN, variance NaN / inf / finite
_simplex = R.dirichlet(np.ones(4), (2, 3))

CASES = {
    "gamma": (lambda d, c, r: d.Gamma(c, r), {"c": CONC, "r": RATE}, R.uniform(0.05, 5.0, (2, 3, 4)),
              ["log_prob", "entropy", "mean", "variance", "stddev", "mode"]),
    "gamma_scalar_rate": (lambda d, c: d.Gamma(c, 2.0), {"c": R.uniform(0.5, 3.0, (5,))}, R.uniform(0.1, 3.0, (5,)),
                          ["log_prob", "entropy", "mean", "variance", "mode"]),
    "chi2": (lambda d, df: d.Chi2(df), {"df": R.uniform(0.5, 8.0, (2, 3))}, R.uniform(0.1, 9.0, (4, 2, 3)),
             ["log_prob", "entropy", "mean", "variance", "mode", "df"]),
    "beta": (lambda d, a, b: d.Beta(a, b), {"a": CONC, "b": RATE}, R.uniform(0.01, 0.99, (2, 3, 4)),
             ["log_prob", "entropy", "mean", "variance", "mode", "concentration1", "concentration0"]),
    "beta_scalar": (lambda d, a: d.Beta(a, 0.7), {"a": R.uniform(0.3, 3.0, (4,))}, R.uniform(0.01, 0.99, (4,)),
                    ["log_prob", "entropy", "mean", "variance", "mode"]),
    "dirichlet": (lambda d, c: d.Dirichlet(c), {"c": DIR}, _simplex,
                  ["log_prob", "entropy", "mean", "variance", "mode"]),
    "poisson": (lambda d, r: d.Poisson(r), {"r": R.uniform(0.2, 9.0, (2, 3))},
                R.integers(0, 12, (4, 2, 3)).astype(np.float64), ["log_prob", "mean", "variance", "mode"]),
    "student_t": (lambda d, df, loc, scale: d.StudentT(df, loc, scale),
                  {"df": DF, "loc": R.standard_normal((3, 1)), "scale": R.uniform(0.5, 2.0, (5,))},
                  R.standard_normal((2, 3, 5)) * 3, ["log_prob", "entropy", "mean", "variance", "mode"]),
    "student_t_df_only": (lambda d, df: d.StudentT(df), {"df": DF}, R.standard_normal((5,)),
                          ["log_prob", "entropy", "mean", "variance"]),
    "lognormal": (lambda d, loc, scale: d.LogNormal(loc, scale),
                  {"loc": R.standard_normal((3, 1)), "scale": R.uniform(0.3, 1.5, (4,))},
                  R.uniform(0.05, 6.0, (2, 3, 4)),
                  ["log_prob", "entropy", "mean", "variance", "stddev", "mode", "cdf", "icdf"]),
}


@needs_torch
@pytest.mark.parametrize("case", list(CASES))
def test_against_torch_distributions(case):
    # 1e-8: the entropies' gradients hold trigamma, the derivative of a digamma series
    check_against_torch(case, CASES[case], rtol=1e-8)


KL_CASES = {
    "gamma": (lambda d, a, b, c, e: (d.Gamma(a, b), d.Gamma(c, e)),
              [CONC, RATE, R.uniform(0.3, 4.0, (4,)), R.uniform(0.5, 2.5, (3, 1))]),
    "beta": (lambda d, a, b, c, e: (d.Beta(a, b), d.Beta(c, e)),
             [CONC, RATE, R.uniform(0.3, 4.0, (4,)), R.uniform(0.5, 2.5, (3, 1))]),
    "dirichlet": (lambda d, a, b: (d.Dirichlet(a), d.Dirichlet(b)), [DIR, R.uniform(0.3, 4.0, (2, 1, 4))]),
    "poisson": (lambda d, a, b: (d.Poisson(a), d.Poisson(b)), [R.uniform(0.2, 9.0, (2, 3)), R.uniform(0.2, 9.0, (3,))]),
    "chi2_gamma": (lambda d, a, b, c: (d.Chi2(a), d.Gamma(b, c)),  # a subclass dispatches to (Gamma, Gamma)
                   [R.uniform(0.5, 6.0, (3,)), R.uniform(0.5, 3.0, (3,)), R.uniform(0.5, 2.0, (3,))]),
    "lognormal": (lambda d, a, b, c, e: (d.LogNormal(a, b), d.LogNormal(c, e)),
                  [R.standard_normal((3, 1)), R.uniform(0.3, 1.5, (4,)), R.standard_normal((4,)),
                   R.uniform(0.3, 1.5, (3, 1))]),
}


@needs_torch
@pytest.mark.parametrize("case", list(KL_CASES))
def test_kl_divergence_against_torch(case):
    check_kl_against_torch(case, KL_CASES[case])


def test_kl_closed_forms_without_torch():
    """Spot values worked out by hand, and KL(p || p) = 0 with KL > 0 otherwise."""
    g = D.kl_divergence(D.Gamma(tt.tensor(1.0, dtype=tt.float64), 1.0), D.Gamma(tt.tensor(1.0, dtype=tt.float64), 2.0))
    assert abs(g.item() - (math.log(0.5) + 1.0)) < 1e-12  # the exponentials' KL: log(1/2) + 2 - 1
    p = D.Poisson(tt.tensor([2.0, 0.0], dtype=tt.float64))
    q = D.Poisson(tt.tensor([3.0, 1.5], dtype=tt.float64))
    np.testing.assert_allclose(D.kl_divergence(p, q).numpy(), [2 * math.log(2 / 3) + 1.0, 1.5], rtol=1e-12)
    d = D.Dirichlet(tt.tensor([[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]], dtype=tt.float64))
    np.testing.assert_allclose(D.kl_divergence(d, d).numpy(), [0.0, 0.0], atol=1e-12)
    e = D.Dirichlet(tt.tensor([1.0, 1.0, 1.0], dtype=tt.float64))
    assert (D.kl_divergence(d, e).numpy() > 0).all()
    b = D.Beta(tt.tensor(2.0, dtype=tt.float64), 3.0)
    # Beta(1, 1) is uniform: KL(Beta(a, b) || U) = -entropy(Beta(a, b))
    assert abs(D.kl_divergence(b, D.Beta(tt.tensor(1.0, dtype=tt.float64), 1.0)).item() + b.entropy().item()) < 1e-12


# --- the implicit reparameterisation gradient ---------------------------------------------------------------
def test_standard_gamma_grad_is_exact():
    """``dx/da = -(dP/da) / (dP/dx)`` for the regularised incomplete gamma ``P(a, x)``, with ``dP/da``
    from mpmath's high-precision numerical derivative: both regimes (series and continued fraction),
    small and large concentrations, integer ones (where the continued fraction terminates) and the tails."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    cases = [(a, x) for a in (0.01, 0.3, 1.0, 3.0, 7.5, 50.0, 2000.0)
             for x in (a * 1e-3, 0.5 * a, a, a + 0.9, a + 1.1, 2 * a + 3, 4 * a + 30)]
    a, x = np.array(cases).T
    ours = _standard_gamma_grad(a, x)
    for ai, xi, oi in zip(a, x, ours):
        # dP/da = -dQ/da: the smaller of the two is differentiated, so that 1 - tiny does not round to 1
        if xi < ai:
            dpda = mp.diff(lambda s, xi=xi: mp.gammainc(s, 0, xi, regularized=True), mp.mpf(ai))
        else:
            dpda = -mp.diff(lambda s, xi=xi: mp.gammainc(s, xi, mp.inf, regularized=True), mp.mpf(ai))
        ref = -dpda / (mp.mpf(xi) ** (ai - 1) * mp.exp(-xi) / mp.gamma(ai))
        assert abs(oi - float(ref)) <= 1e-11 * abs(float(ref)), (ai, xi, oi, float(ref))


@needs_torch
def test_standard_gamma_grad_against_torch():
    """PyTorch's own gradient is a fitted approximation (about 1e-4 relative): agreement to 2e-3."""
    alpha = np.repeat([0.05, 0.4, 1.0, 2.5, 9.0, 150.0], 200)
    x = np.maximum(np.random.default_rng(0).standard_gamma(alpha), 1e-30)
    ours = _standard_gamma_grad(alpha, x)
    theirs = torch._standard_gamma_grad(torch.tensor(alpha), torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=2e-3, atol=1e-12)


def test_gamma_rsample_gradient_is_the_implicit_one():
    """The concentration's gradient of each draw is ``_standard_gamma_grad`` at that draw (divided by
    the rate); the rate's is ``-x / rate`` exactly."""
    tt.manual_seed(4)
    conc = tt.tensor([0.3, 1.0, 4.0, 25.0], dtype=tt.float64, requires_grad=True)
    rate = tt.tensor([2.0, 0.5, 1.0, 3.0], dtype=tt.float64, requires_grad=True)
    x = D.Gamma(conc, rate).rsample()
    assert x.requires_grad and x.grad_fn is not None
    x.sum().backward()
    xv = x.detach().numpy()
    np.testing.assert_allclose(rate.grad.numpy(), -xv / rate.detach().numpy(), rtol=1e-12)
    expected = _standard_gamma_grad(conc.detach().numpy(), xv * rate.detach().numpy()) / rate.detach().numpy()
    np.testing.assert_allclose(conc.grad.numpy(), expected, rtol=1e-12)
    assert (conc.grad.numpy() > 0).all()  # a larger shape moves every quantile up


def _per_draw_grads(make, params, n=N, loss=lambda x: x):
    """``d loss(x_i) / d param`` for ``n`` independent draws: the parameters repeated ``n`` times
    along a new leading dim, one draw each, and the gradients of the summed losses."""
    leaves = [tt.tensor(np.broadcast_to(np.asarray(p, dtype=np.float64), (n,) + np.shape(p)).copy(),
                        requires_grad=True) for p in params]
    x = make(*leaves).rsample()
    loss(x).sum().backward()
    return [leaf.grad.numpy() for leaf in leaves]


def _within(grads, expected, what):
    """The mean of the per-draw gradients within 5 standard errors of the expected gradient."""
    se = grads.std(0) / math.sqrt(grads.shape[0])
    assert np.all(np.abs(grads.mean(0) - expected) < 5 * se + 1e-12), f"{what}: {grads.mean(0)} vs {expected} (se {se})"


@pytest.mark.parametrize("a,b", [(0.4, 1.5), (3.0, 0.7)])
def test_rsample_gradients_are_unbiased(a, b):
    """``E[dx/dtheta] = dE[x]/dtheta`` for each reparameterised family, by the closed-form moments:
    a zero, a sign error or a missing term in the concentration's gradient fails these."""
    tt.manual_seed(5)
    ga, gb = _per_draw_grads(lambda c, r: D.Gamma(c, r), [a, b])
    _within(ga, 1 / b, "Gamma d/dconcentration")
    _within(gb, -a / b ** 2, "Gamma d/drate")
    (gdf,) = _per_draw_grads(lambda df: D.Chi2(df), [2 * a])
    _within(gdf, 1.0, "Chi2 d/ddf")
    ga, gb = _per_draw_grads(lambda c1, c0: D.Beta(c1, c0), [a, b])
    _within(ga, b / (a + b) ** 2, "Beta d/dconcentration1")
    _within(gb, -a / (a + b) ** 2, "Beta d/dconcentration0")
    # the second moment too: E[x^2] = a (a + 1) / ((a + b)(a + b + 1))
    ga, gb = _per_draw_grads(lambda c1, c0: D.Beta(c1, c0), [a, b], loss=lambda x: x * x)
    s = a + b
    _within(ga, ((2 * a + 1) * s * (s + 1) - a * (a + 1) * (2 * s + 1)) / (s * (s + 1)) ** 2, "Beta E[x^2] d/da")
    _within(gb, -a * (a + 1) * (2 * s + 1) / (s * (s + 1)) ** 2, "Beta E[x^2] d/db")
    conc = np.array([a, b, 1.0])
    (gc,) = _per_draw_grads(lambda c: D.Dirichlet(c), [conc], loss=lambda x: x[..., 0])
    total = conc.sum()
    _within(gc, np.array([total - a, -a, -a]) / total ** 2, "Dirichlet dE[x_0]/dconcentration")


def test_student_t_rsample_gradients_are_unbiased():
    """``E[x] = loc`` and ``E[(x - loc)^2] = scale^2 df / (df - 2)``: the df gradient comes through the chi-square."""
    tt.manual_seed(6)
    df, loc, scale = 6.0, 0.5, 1.5
    gdf, gloc, gscale = _per_draw_grads(lambda d, m, s: D.StudentT(d, m, s), [df, loc, scale],
                                        loss=lambda x: (x - loc) ** 2)
    _within(gdf, -2 * scale ** 2 / (df - 2) ** 2, "StudentT d/ddf")
    _within(gscale, 2 * scale * df / (df - 2), "StudentT d/dscale")
    _within(gloc, 0.0, "StudentT d/dloc")  # 2 E[x - loc] = 0


def test_lognormal_rsample_gradient():
    tt.manual_seed(7)
    gloc, gscale = _per_draw_grads(lambda m, s: D.LogNormal(m, s), [0.2, 0.4])
    mean = math.exp(0.2 + 0.08)
    _within(gloc, mean, "LogNormal d/dloc")
    _within(gscale, 0.4 * mean, "LogNormal d/dscale")


def test_sample_is_not_differentiable_and_poisson_has_no_rsample():
    conc = tt.tensor([1.0, 2.0], requires_grad=True)
    for d in (D.Gamma(conc, 1.0), D.Beta(conc, 1.0), D.Dirichlet(conc), D.StudentT(conc)):
        assert d.has_rsample and not d.sample((2,)).requires_grad
        assert d.rsample((2,)).requires_grad
    p = D.Poisson(conc)
    assert not p.has_rsample and not p.sample().requires_grad
    with pytest.raises(NotImplementedError):
        p.rsample()
    with pytest.raises(NotImplementedError):
        p.entropy()  # PyTorch has none either


# --- sampling ------------------------------------------------------------------------------------------------
def _beta_kurtosis(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    excess = 6 * ((a - b) ** 2 * (a + b + 1) - a * b * (a + b + 2)) / (a * b * (a + b + 2) * (a + b + 3))
    return 3 + excess


@pytest.mark.parametrize("name", ["gamma", "chi2", "beta", "dirichlet", "poisson", "student_t", "lognormal"])
def test_sample_moments(name):
    tt.manual_seed(0)
    if name == "gamma":
        c, r = np.array([0.3, 1.0, 5.0]), np.array([1.0, 2.0, 0.5])
        d, mean, var, kurt = D.Gamma(tt.tensor(c), tt.tensor(r)), c / r, c / r ** 2, 3 + 6 / c
    elif name == "chi2":
        k = np.array([1.0, 4.0])
        d, mean, var, kurt = D.Chi2(tt.tensor(k)), k, 2 * k, 3 + 12 / k
    elif name == "beta":
        a, b = np.array([0.5, 2.0, 5.0]), np.array([0.5, 3.0, 1.0])
        d, mean, var = D.Beta(tt.tensor(a), tt.tensor(b)), a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))
        kurt = _beta_kurtosis(a, b)
    elif name == "dirichlet":
        c = np.array([[0.5, 1.0, 2.5], [3.0, 3.0, 3.0]])
        t = c.sum(-1, keepdims=True)
        d, mean, var = D.Dirichlet(tt.tensor(c)), c / t, c * (t - c) / (t ** 2 * (t + 1))
        kurt = _beta_kurtosis(c, t - c)  # each coordinate is Beta(c_i, total - c_i)
    elif name == "poisson":
        lam = np.array([0.3, 4.0, 50.0])
        d, mean, var, kurt = D.Poisson(tt.tensor(lam)), lam, lam, 3 + 1 / lam
    elif name == "student_t":
        df, loc, scale = np.array([10.0, 30.0]), np.array([1.0, -2.0]), np.array([0.5, 2.0])
        d = D.StudentT(tt.tensor(df), tt.tensor(loc), tt.tensor(scale))
        mean, var, kurt = loc, scale ** 2 * df / (df - 2), 3 + 6 / (df - 4)
    else:
        loc, scale = np.array([0.0, 1.0]), np.array([0.25, 0.5])
        d = D.LogNormal(tt.tensor(loc), tt.tensor(scale))
        s2 = scale ** 2
        mean, var = np.exp(loc + s2 / 2), np.expm1(s2) * np.exp(2 * loc + s2)
        kurt = np.exp(4 * s2) + 2 * np.exp(3 * s2) + 3 * np.exp(2 * s2) - 3
    x = d.sample((N,)).numpy().astype(np.float64)
    assert x.shape == (N,) + d.batch_shape + d.event_shape
    _check_moments(x, mean, var, np.asarray(kurt), name)
    np.testing.assert_allclose(d.mean.numpy(), mean, rtol=1e-6)
    np.testing.assert_allclose(d.variance.numpy(), var, rtol=1e-6)


def test_supports():
    tt.manual_seed(1)
    b = D.Beta(tt.tensor([0.5, 2.0, 8.0], dtype=tt.float64), tt.tensor([0.5, 5.0, 1.0])).sample((N,)).numpy()
    assert b.dtype == np.float64 and ((b > 0) & (b < 1)).all()
    # in float32 a draw within 6e-8 of 1 would round to 1 (about 2 in 10^4 for Beta(0.5, 0.5)): as in
    # PyTorch it is kept at the float below 1
    b = D.Beta(tt.tensor([0.5, 2.0]), 0.5).sample((5 * N,)).numpy()
    assert b.dtype == np.float32 and ((b > 0) & (b < 1)).all() and b.max() == np.nextafter(np.float32(1), 0)
    dirichlet = D.Dirichlet(tt.tensor([[0.5, 0.5, 0.5, 0.5], [10.0, 1.0, 2.0, 3.0]]))
    x = dirichlet.sample((N,)).numpy()
    assert (x >= 0).all() and np.allclose(x.sum(-1), 1.0, atol=1e-6)
    assert bool(D.constraints.simplex.check(tt.tensor(x)).all())
    g = D.Gamma(tt.tensor([0.05, 1.0]), 1.0).sample((N,)).numpy()
    assert (g > 0).all()  # a draw that underflows is the smallest normal number: log_prob stays finite
    assert np.isfinite(D.Gamma(tt.tensor([0.05, 1.0]), 1.0).log_prob(tt.tensor(g)).numpy()).all()
    for dtype in (tt.float32, tt.float64):
        p = D.Poisson(tt.tensor([0.0, 0.7, 12.0], dtype=dtype)).sample((N,))
        assert p.dtype == dtype
        k = p.numpy()
        assert (k >= 0).all() and (k == np.round(k)).all()
        assert (k[:, 0] == 0).all()  # rate 0 gives 0


def test_dtypes_follow_the_parameters():
    for dtype in (tt.float32, tt.float64):
        c = tt.tensor([1.0, 2.0], dtype=dtype)
        for d in (D.Gamma(c, 1.0), D.Chi2(c), D.Beta(c, 2.0), D.Dirichlet(c), D.StudentT(c, 0.0, 1.0),
                  D.LogNormal(c, 1.0)):
            assert d.sample().dtype == dtype and d.rsample((2,)).dtype == dtype
            assert d.entropy().dtype == dtype and d.mean.dtype == dtype
    beta = D.Beta(0.5, 0.5)
    assert beta.batch_shape == () and beta.concentration1.dtype == tt.get_default_dtype()
    assert D.Gamma(2.0, 1.0).sample().dtype == tt.float32 and D.Gamma(2.0, 1.0).batch_shape == ()


def _dists():
    return {
        "gamma": (D.Gamma(tt.ones(3, 1), tt.ones(2)), (3, 2), ()),
        "chi2": (D.Chi2(tt.tensor([1.0, 3.0])), (2,), ()),
        "beta": (D.Beta(tt.ones(2, 3), 2.0), (2, 3), ()),
        "dirichlet": (D.Dirichlet(tt.ones(2, 4)), (2,), (4,)),
        "poisson": (D.Poisson(tt.full((3,), 2.5)), (3,), ()),
        "student_t": (D.StudentT(tt.tensor([3.0, 5.0])), (2,), ()),
        "lognormal": (D.LogNormal(0.0, tt.ones(4)), (4,), ()),
    }


@pytest.mark.parametrize("name", list(_dists()))
def test_shapes_expand_and_reproducibility(name):
    dist, batch, event = _dists()[name]
    assert dist.batch_shape == batch and dist.event_shape == event
    x = dist.sample((5,))
    assert tuple(x.shape) == (5,) + batch + event and tuple(dist.sample((4, 2)).shape) == (4, 2) + batch + event
    assert tuple(dist.log_prob(x).shape) == (5,) + batch
    if name != "poisson":
        assert tuple(dist.entropy().shape) == batch
    tt.manual_seed(123)
    a = dist.sample((50,)).numpy()
    tt.manual_seed(123)
    b = dist.sample((50,)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, dist.sample((50,)).numpy())
    if dist.has_rsample:
        tt.manual_seed(9)
        r = dist.rsample((3,)).detach().numpy()
        tt.manual_seed(9)
        np.testing.assert_array_equal(r, dist.rsample((3,)).detach().numpy())
    e = dist.expand((6,) + batch)
    assert e.batch_shape == (6,) + batch and e.event_shape == event
    assert tuple(e.sample((2,)).shape) == (2, 6) + batch + event
    assert type(e) is type(dist)


# --- tt.poisson ------------------------------------------------------------------------------------------------
def test_poisson_function():
    tt.manual_seed(2)
    rates = tt.tensor([[0.0, 0.2, 3.0], [10.0, 100.0, 1000.0]], dtype=tt.float64)
    x = tt.poisson(rates.expand(N, 2, 3))
    assert x.shape == (N, 2, 3) and x.dtype == tt.float64 and not x.requires_grad
    k = x.numpy()
    lam = rates.numpy()
    assert (k == np.round(k)).all() and (k >= 0).all() and (k[:, 0, 0] == 0).all()
    assert np.all(np.abs(k.mean(0) - lam) <= 5 * np.sqrt(lam / N) + 1e-12), k.mean(0)
    assert np.all(np.abs(k.var(0) - lam) <= 5 * np.sqrt((2 + 1 / np.maximum(lam, 1e-9)) / N) * lam + 1e-12)
    assert tt.poisson(tt.tensor([2.0, 3.0])).dtype == tt.float32
    assert tt.poisson(tt.tensor([2.0, 3.0], requires_grad=True)).requires_grad is False
    assert tt.poisson(tt.zeros(0)).shape == (0,)
    big = tt.poisson(tt.tensor([1e18, math.inf], dtype=tt.float64)).numpy()
    assert abs(big[0] - 1e18) < 1e11 and big[1] == math.inf
    gen = tt.Generator().manual_seed(3)
    a = tt.poisson(tt.full((20,), 4.0), generator=gen).numpy()
    b = tt.poisson(tt.full((20,), 4.0), generator=tt.Generator().manual_seed(3)).numpy()
    np.testing.assert_array_equal(a, b)
    with pytest.raises(RuntimeError, match="invalid Poisson rate, expected rate to be non-negative"):
        tt.poisson(tt.tensor([1.0, -0.5]))
    with pytest.raises(RuntimeError, match="invalid Poisson rate"):
        tt.poisson(tt.tensor([math.nan]))
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        tt.poisson(tt.tensor([1, 2]))


@needs_torch
def test_poisson_function_errors_match_torch():
    for bad in ([1.0, -0.5], [math.nan]):
        with pytest.raises(RuntimeError) as theirs:
            torch.poisson(torch.tensor(bad))
        with pytest.raises(RuntimeError) as ours:
            tt.poisson(tt.tensor(bad))
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(NotImplementedError) as theirs:
        torch.poisson(torch.tensor([1, 2]))
    with pytest.raises(NotImplementedError) as ours:
        tt.poisson(tt.tensor([1, 2]))
    assert str(ours.value) == str(theirs.value)


def test_standard_gamma_sampler():
    tt.manual_seed(8)
    a = tt.tensor([0.5, 2.0], dtype=tt.float64)
    x = _standard_gamma(a.expand(N, 2)).numpy()
    _check_moments(x, [0.5, 2.0], [0.5, 2.0], 3 + 6 / np.array([0.5, 2.0]), "standard gamma")
    with pytest.raises(NotImplementedError):
        _standard_gamma(tt.tensor([1, 2]))
    gen = tt.Generator().manual_seed(1)
    np.testing.assert_array_equal(_standard_gamma(a, generator=gen).numpy(),
                                  _standard_gamma(a, generator=tt.Generator().manual_seed(1)).numpy())


# --- validation --------------------------------------------------------------------------------------------------
def test_validation_errors():
    with pytest.raises(ValueError, match="Expected parameter concentration"):
        D.Gamma(tt.tensor([1.0, 0.0]), 1.0)
    with pytest.raises(ValueError, match="Expected parameter rate"):
        D.Gamma(1.0, tt.tensor([-1.0]))
    with pytest.raises(ValueError, match="Expected parameter df"):
        D.Chi2(tt.tensor([-1.0]))
    with pytest.raises(ValueError, match="Expected parameter concentration"):
        D.Beta(tt.tensor([0.5, -1.0]), 1.0)
    with pytest.raises(ValueError, match="Expected parameter concentration"):
        D.Dirichlet(tt.tensor([1.0, 0.0, 2.0]))
    with pytest.raises(ValueError, match="at least one-dimensional"):
        D.Dirichlet(tt.tensor(1.0))
    with pytest.raises(ValueError, match="Expected parameter rate"):
        D.Poisson(tt.tensor([-1.0]))
    with pytest.raises(ValueError, match="Expected parameter df"):
        D.StudentT(tt.tensor([0.0]))
    with pytest.raises(ValueError, match="Expected parameter scale"):
        D.StudentT(2.0, 0.0, tt.tensor([0.0]))
    with pytest.raises(ValueError, match="Expected parameter scale"):
        D.LogNormal(0.0, tt.tensor([-1.0]))
    D.Poisson(tt.tensor([0.0]))  # rate 0 is allowed
    D.Gamma(tt.tensor([0.0]), 1.0, validate_args=False)
    with pytest.raises(ValueError, match="within the support"):
        D.Gamma(1.0, 1.0).log_prob(tt.tensor(-1.0))
    with pytest.raises(ValueError, match="within the support"):
        D.Beta(1.0, 1.0).log_prob(tt.tensor(1.5))
    with pytest.raises(ValueError, match="within the support"):
        D.Dirichlet(tt.ones(3)).log_prob(tt.tensor([0.5, 0.2, 0.2]))
    with pytest.raises(ValueError, match="within the support"):
        D.Poisson(1.0).log_prob(tt.tensor(1.5))
    with pytest.raises(ValueError, match="within the support"):
        D.LogNormal(0.0, 1.0).log_prob(tt.tensor(0.0))
    assert abs(D.Gamma(2.0, 1.0).log_prob(1.0).item() + 1.0) < 1e-6  # a number is accepted, as in PyTorch


@needs_torch
@pytest.mark.parametrize("make", [
    lambda d, lib: d.Gamma(lib.tensor([1.0, 0.0]), 1.0),
    lambda d, lib: d.Gamma(1.0, lib.tensor([-2.0])),
    lambda d, lib: d.Chi2(lib.tensor([-1.0])),
    lambda d, lib: d.Beta(lib.tensor([0.5]), lib.tensor([0.0])),
    lambda d, lib: d.Dirichlet(lib.tensor([1.0, -1.0])),
    lambda d, lib: d.Dirichlet(lib.tensor(1.0)),
    lambda d, lib: d.Poisson(lib.tensor([-1.0])),
    lambda d, lib: d.StudentT(lib.tensor([-1.0])),
    lambda d, lib: d.StudentT(1.0, 0.0, lib.tensor([-1.0])),
    lambda d, lib: d.LogNormal(0.0, lib.tensor([0.0])),
], ids=["gamma_conc", "gamma_rate", "chi2_df", "beta_conc0", "dirichlet_conc", "dirichlet_0d", "poisson_rate",
        "student_df", "student_scale", "lognormal_scale"])
def test_construction_errors_match_torch(make):
    ours, theirs = check_construction_error(make)
    def constraint(e):
        return str(e.value).split("constraint")[-1].split(",")[0]

    assert constraint(ours) == constraint(theirs)


def test_runs_on_device(device):
    conc = tt.tensor([0.5, 2.0], device=device, requires_grad=True)
    d = D.Gamma(conc, tt.tensor([1.0, 3.0], device=device))
    x = d.rsample((3,))
    assert x.device == conc.device
    (x.sum() + d.log_prob(x.detach()).sum() + D.kl_divergence(d, D.Gamma(conc.detach(), 1.0)).sum()).backward()
    assert conc.grad is not None and np.isfinite(conc.grad.numpy()).all()
    b = D.Beta(conc, 1.0)
    assert b.rsample().device == conc.device
    k = tt.poisson(tt.tensor([1.0, 5.0], device=device))
    assert k.device == conc.device
