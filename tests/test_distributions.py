"""``tinytorch.distributions``: densities, entropies, moments, CDFs and KL divergences against
``torch.distributions`` (values and gradients w.r.t. the parameters, float64, on batched and
broadcast parameters) when PyTorch is installed; always, without it: sample statistics on 20k
draws, reproducibility under ``tt.manual_seed``, pathwise (``rsample``) gradients, shapes,
validation errors and the KL dispatch."""

from __future__ import annotations

import math

import numpy as np
import pytest
from nn_helpers import needs_torch, torch

import tinytorch as tt
import tinytorch.distributions as D

R = np.random.default_rng(7)
N = 20_000


def _pd(rng: np.random.Generator, *batch: int, n: int = 3) -> np.ndarray:
    """Well-conditioned symmetric positive-definite matrices of shape ``batch + (n, n)``."""
    a = rng.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


# --- the oracle cases: a builder (module of distributions, params) -> distribution, float64 params,
# a value in the support (broadcasting against the batch), and the methods both libraries have ---
LOC, SCALE = R.standard_normal((3, 1)), R.uniform(0.5, 2.0, (4,))  # batch (3, 4) by broadcasting
LOW = R.uniform(-2.0, 0.0, (3, 4))
HIGH = LOW + R.uniform(0.5, 3.0, (4,))
COV = _pd(R, 2)
TRIL = np.linalg.cholesky(_pd(R, 2))
MVN_LOC = R.standard_normal((4, 1, 3))  # batch (4, 2) with the (2, 3, 3) matrices

CASES = {
    "normal": (lambda d, loc, scale: d.Normal(loc, scale), {"loc": LOC, "scale": SCALE},
               R.standard_normal((2, 3, 4)), ["log_prob", "entropy", "mean", "variance", "stddev", "mode", "cdf",
                                              "icdf"]),
    "normal_scalar_loc": (lambda d, scale: d.Normal(0.5, scale), {"scale": SCALE}, R.standard_normal((3, 4)),
                          ["log_prob", "entropy", "mean", "variance", "cdf"]),
    "uniform": (lambda d, low, high: d.Uniform(low, high), {"low": LOW, "high": HIGH},
                LOW + R.uniform(0, 1, (5, 3, 4)) * (HIGH - LOW),
                ["log_prob", "entropy", "mean", "variance", "stddev", "cdf", "icdf"]),
    "exponential": (lambda d, rate: d.Exponential(rate), {"rate": R.uniform(0.3, 3.0, (2, 3))},
                    R.uniform(0.0, 4.0, (4, 2, 3)), ["log_prob", "entropy", "mean", "variance", "stddev", "mode",
                                                      "cdf", "icdf"]),
    "laplace": (lambda d, loc, scale: d.Laplace(loc, scale), {"loc": LOC, "scale": SCALE},
                R.standard_normal((2, 3, 4)), ["log_prob", "entropy", "mean", "variance", "stddev", "mode", "cdf",
                                               "icdf"]),
    "bernoulli_probs": (lambda d, probs: d.Bernoulli(probs=probs), {"probs": R.uniform(0.05, 0.95, (3, 4))},
                        R.integers(0, 2, (2, 3, 4)).astype(np.float64),
                        ["log_prob", "entropy", "mean", "variance", "stddev", "mode", "logits"]),
    "bernoulli_logits": (lambda d, logits: d.Bernoulli(logits=logits), {"logits": R.standard_normal((3, 4)) * 3},
                         R.integers(0, 2, (4,)).astype(np.float64),
                         ["log_prob", "entropy", "mean", "variance", "mode", "probs"]),
    "categorical_probs": (lambda d, probs: d.Categorical(probs=probs), {"probs": R.uniform(0.1, 2.0, (2, 3, 5))},
                          R.integers(0, 5, (4, 2, 3)), ["log_prob", "entropy", "mode", "probs", "logits"]),
    "categorical_logits": (lambda d, logits: d.Categorical(logits=logits), {"logits": R.standard_normal((3, 5)) * 2},
                           R.integers(0, 5, (6, 1)), ["log_prob", "entropy", "mode", "probs", "logits"]),
    "onehot_categorical": (lambda d, logits: d.OneHotCategorical(logits=logits), {"logits": R.standard_normal((3, 4))},
                           np.eye(4)[R.integers(0, 4, (2, 3))], ["log_prob", "entropy", "mean", "variance", "mode"]),
    "mvn_covariance": (lambda d, loc, cov: d.MultivariateNormal(loc, covariance_matrix=cov),
                       {"loc": MVN_LOC, "cov": COV}, R.standard_normal((5, 4, 2, 3)),
                       ["log_prob", "entropy", "mean", "variance", "mode", "scale_tril", "precision_matrix"]),
    "mvn_scale_tril": (lambda d, loc, tril: d.MultivariateNormal(loc, scale_tril=tril),
                       {"loc": MVN_LOC, "tril": TRIL}, R.standard_normal((3,)),
                       ["log_prob", "entropy", "variance", "covariance_matrix"]),  # precision_matrix: torch's
    # cholesky_inverse also differentiates the (unread) upper triangle of scale_tril
    "mvn_precision": (lambda d, loc, prec: d.MultivariateNormal(loc, precision_matrix=prec),
                      {"loc": MVN_LOC[0, 0], "prec": COV}, R.standard_normal((4, 2, 3)),
                      ["log_prob", "entropy", "variance", "scale_tril", "covariance_matrix"]),
    "independent_normal": (lambda d, loc, scale: d.Independent(d.Normal(loc, scale), 1), {"loc": LOC, "scale": SCALE},
                           R.standard_normal((2, 3, 4)), ["log_prob", "entropy", "mean", "variance", "stddev"]),
    "independent_bernoulli": (lambda d, logits: d.Independent(d.Bernoulli(logits=logits), 2),
                              {"logits": R.standard_normal((2, 3, 4))}, R.integers(0, 2, (3, 4)).astype(np.float64),
                              ["log_prob", "entropy", "mean"]),
}


def _leaves(params: dict[str, np.ndarray]) -> tuple[list, list]:
    ours = [tt.tensor(a, dtype=tt.float64, requires_grad=True) for a in params.values()]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in params.values()]
    return ours, theirs


def _evaluate(dist, method: str, value):
    attr = getattr(dist, method)
    return attr(value) if method in ("log_prob", "cdf") else attr() if method == "entropy" else attr


def _assert_same(ours, theirs, what: str, rtol: float = 1e-9, atol: float = 1e-11) -> None:
    assert tuple(ours.shape) == tuple(theirs.shape), f"{what}: shape {tuple(ours.shape)} vs {tuple(theirs.shape)}"
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol, err_msg=what)


def _compare_with_grads(build, params: dict[str, np.ndarray], call, what: str, rtol: float = 1e-9) -> None:
    """``call(distribution)`` with tinytorch and torch: the values, then the parameters' gradients of
    the values weighted by fixed random numbers."""
    ours_p, theirs_p = _leaves(params)
    out, ref = call(build(D, *ours_p), tt), call(build(torch.distributions, *theirs_p), torch)
    _assert_same(out, ref, what, rtol=rtol)
    if not ref.requires_grad:
        return
    w = np.random.default_rng(3).standard_normal(tuple(ref.shape))
    finite = np.isfinite(ref.detach().numpy())
    w = np.where(finite, w, 0.0)  # an infinite entry would make every gradient NaN
    (tt.where(tt.tensor(finite), out, 0.0) * tt.tensor(w)).sum().backward()
    (torch.where(torch.tensor(finite), ref, 0.0) * torch.tensor(w)).sum().backward()
    for name, a, b in zip(params, ours_p, theirs_p):
        if b.grad is None:
            assert a.grad is None or not a.grad.numpy().any(), f"{what}: d/d{name} should be zero"
            continue
        assert a.grad is not None, f"{what}: no gradient reached {name}"
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=1e-10, err_msg=f"{what} d/d{name}")


def check_against_torch(case: str, spec: tuple, rtol: float) -> None:
    """One row of a CASES table: shapes, ``has_rsample``, and each method's values and gradients
    (``icdf`` at quantiles in (0.05, 0.95)) equal torch.distributions'."""
    build, params, value, methods = spec
    ours_p, theirs_p = _leaves(params)
    ours, theirs = build(D, *ours_p), build(torch.distributions, *theirs_p)
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape)
    assert tuple(ours.event_shape) == tuple(theirs.event_shape)
    assert ours.has_rsample == theirs.has_rsample
    quantiles = np.random.default_rng(11).uniform(0.05, 0.95, value.shape)
    for method in methods:
        def call(dist, lib, method=method):
            v = value if method != "icdf" else quantiles
            v = lib.tensor(v) if np.issubdtype(v.dtype, np.floating) else lib.tensor(v, dtype=lib.int64)
            return dist.icdf(v) if method == "icdf" else _evaluate(dist, method, v)
        _compare_with_grads(build, params, call, f"{case}.{method}", rtol=rtol)


@needs_torch
@pytest.mark.parametrize("case", list(CASES))
def test_against_torch_distributions(case):
    check_against_torch(case, CASES[case], rtol=1e-8 if case.startswith("mvn") else 1e-9)


KL_CASES = {
    "normal": (lambda d, a, b, c, e: (d.Normal(a, b), d.Normal(c, e)),
               [LOC, SCALE, R.standard_normal((4,)), R.uniform(0.5, 2.0, (3, 1))]),
    "bernoulli": (lambda d, a, b: (d.Bernoulli(probs=a), d.Bernoulli(logits=b)),  # torch's needs equal shapes
                  [R.uniform(0.05, 0.95, (3, 4)), R.standard_normal((3, 4))]),
    "categorical": (lambda d, a, b: (d.Categorical(probs=a), d.Categorical(logits=b)),
                    [R.uniform(0.1, 1.0, (2, 3, 5)), R.standard_normal((3, 5))]),
    "onehot_categorical": (lambda d, a, b: (d.OneHotCategorical(logits=a), d.OneHotCategorical(logits=b)),
                           [R.standard_normal((3, 5)), R.standard_normal((3, 5))]),
    "uniform_inside": (lambda d, a, b: (d.Uniform(a, b), d.Uniform(a - 1.0, b + 0.5)), [LOW, HIGH]),
    "exponential": (lambda d, a, b: (d.Exponential(a), d.Exponential(b)),
                    [R.uniform(0.3, 3.0, (2, 3)), R.uniform(0.3, 3.0, (3,))]),
    "laplace": (lambda d, a, b, c, e: (d.Laplace(a, b), d.Laplace(c, e)),
                [LOC, SCALE, R.standard_normal((4,)), R.uniform(0.5, 2.0, (3, 1))]),
    "mvn": (lambda d, a, b, c, e: (d.MultivariateNormal(a, covariance_matrix=b), d.MultivariateNormal(c, scale_tril=e)),
            [MVN_LOC, COV, R.standard_normal((2, 3)), TRIL[0]]),
    "independent": (lambda d, a, b, c, e: (d.Independent(d.Normal(a, b), 1), d.Independent(d.Normal(c, e), 1)),
                    [LOC, SCALE, R.standard_normal((4,)), R.uniform(0.5, 2.0, (3, 1))]),
}


def check_kl_against_torch(case: str, spec: tuple) -> None:
    """One row of a KL_CASES table: the divergence and its gradients equal PyTorch's."""
    build, arrays = spec
    params = {f"p{i}": a for i, a in enumerate(arrays)}

    def call(pair, lib):
        return (D.kl_divergence if lib is tt else torch.distributions.kl_divergence)(*pair)

    _compare_with_grads(build, params, call, f"kl.{case}", rtol=1e-8)


@needs_torch
@pytest.mark.parametrize("case", list(KL_CASES))
def test_kl_divergence_against_torch(case):
    check_kl_against_torch(case, KL_CASES[case])


@needs_torch
def test_kl_infinite_and_zero_cases_against_torch():
    pairs = [
        (lambda d: (d.Uniform(torch_or_tt(d, [0.0, 0.0]), torch_or_tt(d, [1.0, 1.0])),
                    d.Uniform(torch_or_tt(d, [0.5, -1.0]), torch_or_tt(d, [2.0, 2.0])))),
        (lambda d: (d.Bernoulli(probs=torch_or_tt(d, [0.0, 1.0, 0.3, 0.0])),
                    d.Bernoulli(probs=torch_or_tt(d, [0.5, 0.0, 1.0, 0.0])))),
        (lambda d: (d.Categorical(probs=torch_or_tt(d, [[0.0, 0.5, 0.5], [0.5, 0.5, 0.0]])),
                    d.Categorical(probs=torch_or_tt(d, [[0.2, 0.0, 0.8], [0.0, 0.5, 0.5]])))),
    ]
    for make in pairs:
        ours = D.kl_divergence(*make(D)).numpy()
        ref = torch.distributions.kl_divergence(*make(torch.distributions)).numpy()
        np.testing.assert_allclose(ours, ref, rtol=1e-6)


def torch_or_tt(d, values):
    """``values`` as a float32 tensor of the library that ``d`` (a distributions module) belongs to."""
    return tt.tensor(values) if d is D else torch.tensor(values)


@needs_torch
@pytest.mark.parametrize("make", [
    lambda d, lib: d.Normal(lib.tensor([0.0, 1.0]), lib.tensor([1.0, -1.0])),
    lambda d, lib: d.Normal(0.0, 0.0),
    lambda d, lib: d.Uniform(lib.tensor([0.0, 2.0]), lib.tensor([1.0, 1.0])),
    lambda d, lib: d.Bernoulli(probs=lib.tensor([0.5, 1.5])),
    lambda d, lib: d.Bernoulli(probs=lib.tensor([0.5]), logits=lib.tensor([0.0])),
    lambda d, lib: d.Categorical(probs=lib.tensor([0.5, -0.1, 0.6])),
    lambda d, lib: d.Categorical(logits=lib.tensor(1.0)),
    lambda d, lib: d.Exponential(lib.tensor([0.0])),
    lambda d, lib: d.Laplace(0.0, lib.tensor([-2.0])),
    lambda d, lib: d.MultivariateNormal(lib.zeros(2), covariance_matrix=lib.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda d, lib: d.MultivariateNormal(lib.zeros(2), scale_tril=lib.tensor([[1.0, 0.0], [2.0, -1.0]])),
    lambda d, lib: d.MultivariateNormal(lib.zeros(2)),
    lambda d, lib: d.Independent(d.Normal(lib.zeros(2), lib.ones(2)), 2),
], ids=["neg_scale", "zero_scale", "uniform_low_high", "bernoulli_probs", "bernoulli_both", "categorical_neg",
        "categorical_0d", "exponential_rate", "laplace_scale", "mvn_not_pd", "mvn_tril_diag", "mvn_none",
        "independent_ndims"])
def test_construction_errors_match_torch(make):
    check_construction_error(make)


def check_construction_error(make) -> tuple:
    """Both libraries refuse ``make``'s parameters with a ValueError of the same message (up to
    the values); returns (ours, theirs) for further checks."""
    with pytest.raises(ValueError) as theirs:
        make(torch.distributions, torch)
    with pytest.raises(ValueError) as ours:
        make(D, tt)
    assert str(ours.value).split("(")[0] == str(theirs.value).split("(")[0]
    return ours, theirs


@needs_torch
@pytest.mark.parametrize("make,value", [
    (lambda d, lib: d.Exponential(lib.tensor([1.0, 2.0])), [-1.0, 1.0]),
    (lambda d, lib: d.Bernoulli(probs=lib.tensor([0.3, 0.4])), [0.5, 1.0]),
    (lambda d, lib: d.Categorical(logits=lib.zeros(2, 3)), [3, 0]),
    (lambda d, lib: d.Categorical(logits=lib.zeros(2, 3)), [[0, 1, 2]]),
    (lambda d, lib: d.Uniform(lib.zeros(2), lib.ones(2)), [0.5, 1.5]),
    (lambda d, lib: d.Normal(lib.zeros(3), lib.ones(3)), [0.0, 1.0]),
    (lambda d, lib: d.MultivariateNormal(lib.zeros(3), lib.eye(3)), [0.0, 1.0]),
], ids=["exponential_negative", "bernoulli_half", "categorical_range", "categorical_batch", "uniform_outside",
        "normal_shape", "mvn_event_shape"])
def test_sample_validation_matches_torch(make, value):
    with pytest.raises(ValueError) as theirs:
        make(torch.distributions, torch).log_prob(torch.tensor(value))
    with pytest.raises(ValueError) as ours:
        make(D, tt).log_prob(tt.tensor(value))
    assert str(ours.value).split("(")[0].split(":")[0] == str(theirs.value).split("(")[0].split(":")[0]
    lenient = make(D, tt)
    if str(ours.value).startswith("Expected value argument") and not isinstance(lenient, D.Categorical):
        # without validation the value is accepted (a Categorical would index out of range)
        lenient._validate_args = False
        lenient.log_prob(tt.tensor(value))


# --- without torch: the values against closed forms ---------------------------------------------------
def test_normal_log_prob_entropy_cdf_closed_form():
    d = D.Normal(tt.tensor([0.0, 1.0], dtype=tt.float64), tt.tensor([1.0, 2.0], dtype=tt.float64))
    x = np.array([0.3, -1.0])
    expected = -((x - [0.0, 1.0]) ** 2) / (2 * np.array([1.0, 4.0])) - np.log([1.0, 2.0]) - 0.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(d.log_prob(tt.tensor(x, dtype=tt.float64)).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(d.entropy().numpy(), 0.5 + 0.5 * math.log(2 * math.pi) + np.log([1.0, 2.0]))
    np.testing.assert_allclose(d.cdf(tt.tensor([0.0, 1.0], dtype=tt.float64)).numpy(), [0.5, 0.5])
    np.testing.assert_allclose(d.icdf(tt.tensor([0.975, 0.5], dtype=tt.float64)).numpy(), [1.959963984540054, 1.0],
                               rtol=1e-9)


def test_categorical_normalises_probs_and_logits():
    c = D.Categorical(probs=tt.tensor([[1.0, 1.0, 2.0], [3.0, 0.0, 1.0]]))
    np.testing.assert_allclose(c.probs.numpy(), [[0.25, 0.25, 0.5], [0.75, 0.0, 0.25]], rtol=1e-6)
    assert c.batch_shape == (2,) and c.event_shape == ()
    np.testing.assert_allclose(c.log_prob(tt.tensor([2, 0])).numpy(), np.log([0.5, 0.75]), rtol=1e-6)
    c = D.Categorical(logits=tt.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(c.logits.numpy(), [1.0, 2.0, 3.0] - np.log(np.exp([1.0, 2.0, 3.0]).sum()), rtol=1e-6)
    p = np.exp(c.logits.numpy())
    np.testing.assert_allclose(c.entropy().item(), -(p * np.log(p)).sum(), rtol=1e-6)
    # a class of probability 0 adds nothing to the entropy (not NaN)
    assert abs(D.Categorical(probs=tt.tensor([0.5, 0.5, 0.0])).entropy().item() - math.log(2)) < 1e-6
    assert abs(D.Categorical(logits=tt.tensor([0.0, 0.0, -math.inf])).entropy().item() - math.log(2)) < 1e-6


def test_dtypes_follow_the_parameters():
    assert D.Normal(0.0, 1.0).batch_shape == ()
    assert D.Normal(0.0, 1.0).sample().dtype == tt.float32
    d64 = D.Normal(tt.zeros(2, dtype=tt.float64), 1.0)
    assert d64.scale.dtype == tt.float64 and d64.sample((3,)).dtype == tt.float64
    assert d64.log_prob(tt.zeros(2, dtype=tt.float64)).dtype == tt.float64
    assert D.Categorical(logits=tt.zeros(3)).sample().dtype == tt.int64
    assert D.Bernoulli(probs=tt.tensor([0.5], dtype=tt.float64)).sample().dtype == tt.float64
    assert D.OneHotCategorical(logits=tt.zeros(3)).sample().dtype == tt.float32


# --- sampling ------------------------------------------------------------------------------------------
def _dists():
    """Distributions with their batch and event shapes, for the shape and reproducibility checks."""
    return {
        "normal": (D.Normal(tt.zeros(3, 1), tt.ones(2)), (3, 2), ()),
        "uniform": (D.Uniform(tt.zeros(2), 3.0), (2,), ()),
        "exponential": (D.Exponential(tt.ones(4)), (4,), ()),
        "laplace": (D.Laplace(0.0, tt.ones(2, 2)), (2, 2), ()),
        "bernoulli": (D.Bernoulli(logits=tt.zeros(3)), (3,), ()),
        "categorical": (D.Categorical(logits=tt.zeros(2, 3, 5)), (2, 3), ()),
        "onehot": (D.OneHotCategorical(probs=tt.ones(2, 4)), (2,), (4,)),
        "mvn": (D.MultivariateNormal(tt.zeros(2, 3), tt.eye(3)), (2,), (3,)),
        "independent": (D.Independent(D.Normal(tt.zeros(2, 3), tt.ones(2, 3)), 1), (2,), (3,)),
    }


@pytest.mark.parametrize("name", list(_dists()))
def test_sample_shapes_and_log_prob_shapes(name):
    dist, batch, event = _dists()[name]
    assert dist.batch_shape == batch and dist.event_shape == event
    assert tuple(dist.sample().shape) == batch + event
    x = dist.sample((5,))
    assert tuple(x.shape) == (5,) + batch + event
    assert tuple(dist.sample((4, 2)).shape) == (4, 2) + batch + event
    assert tuple(dist.log_prob(x).shape) == (5,) + batch
    assert not x.requires_grad
    assert tuple(dist.entropy().shape) == batch


@pytest.mark.parametrize("name", list(_dists()))
def test_manual_seed_reproduces_samples(name):
    dist = _dists()[name][0]
    tt.manual_seed(123)
    a = dist.sample((50,)).numpy()
    tt.manual_seed(123)
    b = dist.sample((50,)).numpy()
    c = dist.sample((50,)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    if dist.has_rsample:
        tt.manual_seed(5)
        r1 = dist.rsample((3,)).detach().numpy()
        tt.manual_seed(5)
        np.testing.assert_array_equal(r1, dist.rsample((3,)).detach().numpy())


def _check_moments(x: np.ndarray, mean, var, kurtosis: float, what: str) -> None:
    """The sample mean within 5 standard errors of ``mean`` and the sample variance within 5 of ``var``
    (the variance's standard error from the distribution's ``kurtosis``)."""
    mean, var = np.broadcast_to(mean, x.shape[1:]), np.broadcast_to(var, x.shape[1:])
    n = x.shape[0]
    assert np.all(np.abs(x.mean(0) - mean) < 5 * np.sqrt(var / n)), f"{what} mean {x.mean(0)} vs {mean}"
    se_var = np.sqrt((kurtosis - 1) / n) * var
    assert np.all(np.abs(x.var(0) - var) < 5 * se_var), f"{what} variance {x.var(0)} vs {var}"


@pytest.mark.parametrize("name,dist,mean,var,kurtosis", [
    ("normal", lambda: D.Normal(tt.tensor([0.0, -2.0]), tt.tensor([1.0, 0.5])), [0.0, -2.0], [1.0, 0.25], 3.0),
    ("uniform", lambda: D.Uniform(tt.tensor([0.0, -1.0]), tt.tensor([1.0, 3.0])), [0.5, 1.0], [1 / 12, 16 / 12], 1.8),
    ("exponential", lambda: D.Exponential(tt.tensor([1.0, 4.0])), [1.0, 0.25], [1.0, 1 / 16], 9.0),
    ("laplace", lambda: D.Laplace(tt.tensor([1.0, 0.0]), tt.tensor([2.0, 0.5])), [1.0, 0.0], [8.0, 0.5], 6.0),
    ("bernoulli", lambda: D.Bernoulli(probs=tt.tensor([0.2, 0.9])), [0.2, 0.9], [0.16, 0.09], None),
])
def test_sample_moments(name, dist, mean, var, kurtosis):
    tt.manual_seed(0)
    d = dist()
    x = d.sample((N,)).numpy().astype(np.float64)
    if kurtosis is None:  # Bernoulli: kurtosis (1 - 3pq) / pq
        p = np.array(mean)
        kurtosis = (1 - 3 * p * (1 - p)) / (p * (1 - p))
        assert set(np.unique(x)) <= {0.0, 1.0}
    _check_moments(x, mean, var, np.asarray(kurtosis), name)
    np.testing.assert_allclose(d.mean.numpy(), mean, rtol=1e-6)
    np.testing.assert_allclose(d.variance.numpy(), var, rtol=1e-6)
    if name == "uniform":
        assert (x >= [0.0, -1.0]).all() and (x < [1.0, 3.0]).all()
    if name == "exponential":
        assert (x >= 0).all()


def test_multivariate_normal_sample_mean_and_covariance():
    tt.manual_seed(1)
    cov = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])
    loc = np.array([1.0, -1.0, 0.0])
    for kwargs in ({"covariance_matrix": tt.tensor(cov)}, {"precision_matrix": tt.tensor(np.linalg.inv(cov))},
                   {"scale_tril": tt.tensor(np.linalg.cholesky(cov))}):
        d = D.MultivariateNormal(tt.tensor(loc), **kwargs)
        x = d.sample((N,)).numpy().astype(np.float64)
        assert np.all(np.abs(x.mean(0) - loc) < 5 * np.sqrt(np.diag(cov) / N))
        se = np.sqrt((cov ** 2 + np.outer(np.diag(cov), np.diag(cov))) / N)  # of a Gaussian sample covariance
        assert np.all(np.abs(np.cov(x.T) - cov) < 5 * se), np.cov(x.T)
        np.testing.assert_allclose(d.covariance_matrix.numpy(), cov, rtol=1e-5, atol=1e-6)


def test_categorical_sampling_frequencies_match_probs():
    tt.manual_seed(2)
    probs = np.array([[0.1, 0.2, 0.0, 0.7], [0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 1.0, 0.0]])
    d = D.Categorical(probs=tt.tensor(probs * 3.0))  # unnormalised: Categorical normalises
    x = d.sample((N,)).numpy()
    assert x.shape == (N, 3) and x.dtype == np.int64
    freq = np.stack([(x == k).mean(0) for k in range(4)], -1)
    assert np.all(np.abs(freq - probs) <= 5 * np.sqrt(probs * (1 - probs) / N) + 1e-12), freq
    assert (freq[probs == 0] == 0).all()  # a class of probability 0 is never drawn
    onehot = D.OneHotCategorical(probs=tt.tensor(probs)).sample((N,)).numpy()
    assert (onehot.sum(-1) == 1).all()
    assert np.all(np.abs(onehot.mean(0) - probs) <= 5 * np.sqrt(probs * (1 - probs) / N) + 1e-12)


# --- gradients -----------------------------------------------------------------------------------------
def test_rsample_pathwise_gradients():
    tt.manual_seed(3)
    loc = tt.tensor(0.7, requires_grad=True)
    scale = tt.tensor(1.5, requires_grad=True)
    x = D.Normal(loc, scale).rsample((1000,))
    assert x.requires_grad
    x.mean().backward()
    assert abs(loc.grad.item() - 1.0) < 1e-6
    eps = (x.detach().numpy() - 0.7) / 1.5
    assert abs(scale.grad.item() - eps.mean()) < 1e-5

    low, high = tt.tensor([0.0, 1.0], requires_grad=True), tt.tensor([2.0, 5.0], requires_grad=True)
    u = D.Uniform(low, high).rsample((500,))
    u.sum().backward()
    frac = (u.detach().numpy() - [0.0, 1.0]) / [2.0, 4.0]
    np.testing.assert_allclose(high.grad.numpy(), frac.sum(0), rtol=1e-4)
    np.testing.assert_allclose(low.grad.numpy(), (1 - frac).sum(0), rtol=1e-4)

    rate = tt.tensor(2.0, requires_grad=True)
    e = D.Exponential(rate).rsample((500,))
    e.mean().backward()
    assert abs(rate.grad.item() + e.detach().numpy().mean() / 2.0) < 1e-5

    mloc = tt.zeros(3, requires_grad=True)
    tril = tt.tensor(np.linalg.cholesky(_pd(np.random.default_rng(0))), requires_grad=True)
    D.MultivariateNormal(mloc, scale_tril=tril).rsample((7,)).sum().backward()
    np.testing.assert_allclose(mloc.grad.numpy(), [7.0, 7.0, 7.0])
    assert tril.grad is not None

    iloc = tt.zeros(2, 3, requires_grad=True)
    D.Independent(D.Normal(iloc, 1.0), 1).rsample().sum().backward()
    np.testing.assert_allclose(iloc.grad.numpy(), np.ones((2, 3)))


def test_sample_has_no_gradient_and_discrete_have_no_rsample():
    loc = tt.zeros(2, requires_grad=True)
    assert not D.Normal(loc, 1.0).sample().requires_grad
    for d in (D.Bernoulli(probs=tt.tensor([0.5])), D.Categorical(logits=tt.zeros(3))):
        assert not d.has_rsample
        with pytest.raises(NotImplementedError):
            d.rsample()


def test_score_function_gradient_of_categorical_log_prob():
    logits = tt.tensor([[0.1, -0.4, 1.2], [0.0, 0.0, 0.0]], requires_grad=True)
    d = D.Categorical(logits=logits)
    a = tt.tensor([2, 0])
    (d.log_prob(a) * tt.tensor([1.5, -2.0])).sum().backward()
    p = np.exp(logits.detach().numpy())
    p /= p.sum(-1, keepdims=True)
    expected = np.array([1.5, -2.0])[:, None] * (np.eye(3)[[2, 0]] - p)
    np.testing.assert_allclose(logits.grad.numpy(), expected, rtol=1e-5, atol=1e-7)


# --- validation, expand, KL dispatch -----------------------------------------------------------------------
def test_validation_errors():
    with pytest.raises(ValueError, match="Expected parameter scale"):
        D.Normal(tt.zeros(2), tt.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="Expected parameter probs"):
        D.Bernoulli(probs=tt.tensor([0.2, 1.2]))
    with pytest.raises(ValueError, match="Either `probs` or `logits`"):
        D.Categorical()
    with pytest.raises(ValueError, match="Expected parameter low"):
        D.Uniform(1.0, 1.0)
    with pytest.raises(ValueError, match="Expected parameter covariance_matrix"):
        D.MultivariateNormal(tt.zeros(2), tt.tensor([[1.0, 2.0], [2.0, 1.0]]))
    D.Categorical(probs=tt.tensor([2.0, 3.0]))  # not summing to 1 is fine: it is normalised
    D.Normal(tt.zeros(2), tt.tensor([1.0, -1.0]), validate_args=False)  # no check when asked
    with pytest.raises(ValueError, match="within the support"):
        D.Exponential(1.0).log_prob(tt.tensor(-1.0))
    with pytest.raises(ValueError, match="within the support"):
        D.Bernoulli(probs=0.5).log_prob(tt.tensor(0.5))
    with pytest.raises(ValueError, match="within the support"):
        D.Categorical(logits=tt.zeros(3)).log_prob(tt.tensor(3))
    with pytest.raises(ValueError, match="must be a Tensor"):
        D.Normal(0.0, 1.0).log_prob(0.5)
    with pytest.raises(ValueError, match="not broadcastable"):
        D.Normal(tt.zeros(3), 1.0).log_prob(tt.zeros(2))
    with pytest.raises(ValueError, match="right-most size"):
        D.MultivariateNormal(tt.zeros(3), tt.eye(3)).log_prob(tt.zeros(2))


def test_set_default_validate_args():
    try:
        D.Distribution.set_default_validate_args(False)
        d = D.Normal(tt.zeros(1), tt.tensor([-1.0]))  # accepted, unchecked
        assert d.scale.item() == -1.0
        D.Exponential(1.0).log_prob(tt.tensor(-1.0))
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(tt.zeros(1), tt.tensor([-1.0]))
    with pytest.raises(ValueError):
        D.Distribution.set_default_validate_args(2)


def test_expand():
    d = D.Normal(tt.tensor([0.0, 1.0]), 1.0).expand((3, 2))
    assert d.batch_shape == (3, 2) and tuple(d.sample((4,)).shape) == (4, 3, 2)
    c = D.Categorical(logits=tt.zeros(4)).expand((5,))
    assert c.batch_shape == (5,) and tuple(c.sample().shape) == (5,)
    m = D.MultivariateNormal(tt.zeros(2), tt.eye(2)).expand((3,))
    assert m.batch_shape == (3,) and tuple(m.log_prob(tt.zeros(2)).shape) == (3,)
    i = D.Independent(D.Normal(tt.zeros(2), 1.0), 1).expand((6,))
    assert i.batch_shape == (6,) and i.event_shape == (2,) and i.base_dist.batch_shape == (6, 2)


def test_kl_dispatch_and_unregistered_pairs():
    with pytest.raises(NotImplementedError, match="No KL"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Laplace(0.0, 1.0))

    class Wide(D.Normal):
        pass

    p, q = Wide(0.0, 1.0), D.Normal(1.0, 2.0)
    base = D.kl_divergence(p, q).item()  # a subclass falls back to (Normal, Normal)
    assert abs(base - (math.log(2.0) + (1 + 1) / 8 - 0.5)) < 1e-6

    @D.register_kl(Wide, D.Normal)
    def _kl_wide(p, q):
        return tt.tensor(42.0)

    assert D.kl_divergence(p, q).item() == 42.0  # the more specific registration wins
    assert D.kl_divergence(q, q).item() == 0.0
    with pytest.raises(TypeError):
        D.register_kl(int, D.Normal)


def test_runs_on_device(device):
    loc = tt.tensor([0.0, 1.0], device=device, requires_grad=True)
    d = D.Normal(loc, tt.tensor([1.0, 2.0], device=device))
    x = d.rsample((3,))
    assert x.device == loc.device
    (d.log_prob(x.detach()).sum() + D.kl_divergence(d, D.Normal(tt.zeros((), device=device), 1.0)).sum()).backward()
    assert loc.grad is not None
    c = D.Categorical(logits=tt.zeros(2, 3, device=device))
    assert c.sample((4,)).device == loc.device and c.log_prob(tt.tensor([0, 2], device=device)).device == loc.device


@pytest.mark.parametrize("name", ["tinytorch.distributions", "tinytorch.distributions.constraints"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), extraglobs={"tt": tt}, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
