"""``tinytorch.special``: ``torch.special``'s names for the special functions tinytorch has.

Most are the op table's own functions under a second name (``special.expit`` is
``tt.sigmoid``); the rest are written here with those ops, so their gradients come from theirs.
``gammaln``, ``digamma`` / ``psi`` and ``multigammaln`` are the gamma family of the ops;
tinytorch has no Bessel functions or ``polygamma``/``zeta``.

>>> import tinytorch as tt
>>> round(tt.special.ndtr(tt.tensor(0.0, device="numpy")).item(), 6)
0.5
"""

from __future__ import annotations

import math

from .ops import (
    digamma,
    erf,
    erfc,
    erfinv,
    exp2,
    expm1,
    lgamma,
    log,
    log1p,
    log_softmax,
    logit,
    logsumexp,
    mvlgamma,
    round,
    sigmoid,
    sinc,
    softmax,
    where,
    xlogy,
)
from .tensor import Tensor

expit = sigmoid
gammaln = lgamma
psi = digamma
multigammaln = mvlgamma
_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def entr(input: Tensor) -> Tensor:
    """The entropy term ``-x log x`` elementwise: 0 at ``x = 0``, ``-inf`` for ``x < 0``."""
    positive = input > 0
    safe = where(positive, input, 1.0)  # log is only taken where it is used: a zero gradient elsewhere
    return where(positive, -safe * log(safe), where(input == 0, 0.0, -math.inf))


def ndtr(input: Tensor) -> Tensor:
    """The standard normal CDF ``P(Z <= x)``, as ``erfc(-x / sqrt(2)) / 2`` (accurate in the
    lower tail, where ``(1 + erf) / 2`` would cancel)."""
    return erfc(-input / _SQRT2) / 2


def ndtri(input: Tensor) -> Tensor:
    """The inverse of :func:`ndtr`: the ``p``-quantile ``sqrt(2) erfinv(2p - 1)``."""
    return erfinv(input * 2 - 1) * _SQRT2


def log_ndtr(input: Tensor) -> Tensor:
    """``log(ndtr(x))`` in three pieces, each accurate where it is used: for ``x > 0``,
    ``log1p(-ndtr(-x))`` (``ndtr`` is near 1 there, so its log would lose the digits); far in the
    lower tail (``x < -10``), where ``ndtr`` nears underflow, the asymptotic series ``-x^2/2 -
    log(-x) - log(sqrt(2 pi)) + log(1 - 1/x^2 + 3/x^4 - 15/x^6 + 105/x^8)`` (its next term is
    below float32's resolution there); in between, ``log(ndtr(x))``."""
    tail, upper = input < -10, input > 0
    x = where(tail, input, -10.0)  # each branch sees only arguments it is accurate (and finite) for
    inv2 = 1 / (x * x)
    series = 1 - inv2 * (1 - inv2 * (3 - inv2 * (15 - inv2 * 105)))
    asymptotic = -x * x / 2 - log(-x) - _LOG_SQRT_2PI + log(series)
    middle = where(tail | upper, -1.0, input)
    near_one = log1p(-ndtr(-where(upper, input, 1.0)))
    return where(tail, asymptotic, where(upper, near_one, log(ndtr(middle))))


def xlog1py(input: Tensor, other: Tensor) -> Tensor:
    """``x * log1p(y)``, 0 where ``x == 0`` (unless ``y`` is NaN), as ``xlogy``."""
    zero = (input == 0) & (other == other)
    return where(zero, 0.0, input * log1p(where(zero, 0.0, other)))


__all__ = ["erf", "erfc", "erfinv", "exp2", "expm1", "log1p", "log_softmax", "logit", "logsumexp", "round",
           "sinc", "softmax", "xlogy", "expit", "entr", "ndtr", "ndtri", "log_ndtr", "xlog1py", "gammaln", "digamma",
           "psi", "multigammaln"]
