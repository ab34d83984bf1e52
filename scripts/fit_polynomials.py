"""Fit the polynomial coefficients of the C backend's float32 erf (tinytorch/backend_cpu/vmath.h).

exp, log and tanh there use Taylor coefficients (1/k!, 2/(2k+1)), which need no fitting.
erf has no such series that converges fast enough on the whole range, so it is cut in two
and each piece gets a polynomial fitted here, by least squares on Chebyshev nodes with
weights for *relative* error (close to the best possible "minimax" polynomial, and simple):

* |x| < 1:       erf(x) = x * P(x^2)                     P fitted to erf(sqrt z) / sqrt z on z in [0, 1]
* 1 <= |x| < 4:  erf(x) = 1 - exp(-x^2 + Q(|x| - 2.5))   Q fitted to log(erfc(x)) + x^2

and GELU's cheaper erf (``erf_rational_f32``) gets one rational function on the whole range:

* |x| < 4:       erf(x) = x * R(x^2) / S(x^2)            fitted to erf(sqrt z) / sqrt z on z in [0, 16]

The rational fit is linear least squares too, repeated (Loeb's method): R - f S = 0 with S's
constant term 1, weighted by 1 / (f S) from the previous round, so that the residual is the
relative error of R / S.

Python's math.erf / math.erfc are accurate to about 1 ulp of a double, far more than float32
needs. Run ``python scripts/fit_polynomials.py`` to print the coefficients and the fitted
functions' worst relative error in float64 (the C code then rounds the coefficients to float).
"""

from __future__ import annotations

import math

import numpy as np


def fit(f, lo: float, hi: float, degree: int, center: float = 0.0, relative: bool = True,
        nodes: int = 4000) -> tuple[np.ndarray, float]:
    """Coefficients c (lowest power first) of the polynomial in (x - center) that best fits f
    on [lo, hi] in relative (else absolute) error, and that worst error on a finer grid."""
    k = np.arange(nodes)
    x = (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (k + 0.5) / nodes)  # Chebyshev nodes
    y = np.array([f(v) for v in x])
    vander = np.vander(x - center, degree + 1, increasing=True)
    w = 1 / np.abs(y) if relative else np.ones_like(y)
    coef = np.linalg.lstsq(vander * w[:, None], y * w, rcond=None)[0]
    grid = np.linspace(lo, hi, 20 * nodes)
    exact = np.array([f(v) for v in grid])
    approx = np.polynomial.polynomial.polyval(grid - center, coef)
    return coef, float(np.max(np.abs(approx / exact - 1) if relative else np.abs(approx - exact)))


def fit_rational(f, lo: float, hi: float, degrees: tuple[int, int], rounds: int = 30,
                 nodes: int = 6000) -> tuple[np.ndarray, np.ndarray, float]:
    """Coefficients (lowest power first) of R and S, S[0] = 1, such that R(x) / S(x) fits f on
    [lo, hi] in relative error, and that worst error on the fitting nodes."""
    k = np.arange(nodes)
    x = (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (k + 0.5) / nodes)
    y = np.array([f(v) for v in x])
    dr, ds = degrees
    system = np.hstack([np.vander(x, dr + 1, increasing=True), -y[:, None] * np.vander(x, ds + 1, increasing=True)[:, 1:]])
    w = 1 / np.abs(y)
    for _ in range(rounds):
        coef = np.linalg.lstsq(system * w[:, None], y * w, rcond=None)[0]
        r, s = coef[:dr + 1], np.concatenate([[1.0], coef[dr + 1:]])
        denominator = np.polynomial.polynomial.polyval(x, s)
        w = 1 / np.abs(y * denominator)
    err = np.polynomial.polynomial.polyval(x, r) / denominator / y - 1
    return r, s, float(np.max(np.abs(err)))


def show(name: str, coef: np.ndarray, err: float, what: str = "relative") -> None:
    print(f"/* {name}: worst {what} error of the fit {err:.1e} */")
    print(",\n".join(f"    {c:.9e}f" for c in coef))


if __name__ == "__main__":
    small, err = fit(lambda z: math.erf(math.sqrt(z)) / math.sqrt(z) if z > 0 else 2 / math.sqrt(math.pi),
                     0.0, 1.0, 6)
    show("erf(x) = x * P(x^2), |x| < 1: P, lowest power first", small, err)
    large, err = fit(lambda x: math.log(math.erfc(x)) + x * x, 1.0, 4.0, 10, center=2.5, relative=False)
    show("erf(x) = 1 - exp(-x^2 + Q(x - 2.5)), 1 <= x < 4: Q", large, err, "absolute")
    r, s, err = fit_rational(lambda z: math.erf(math.sqrt(z)) / math.sqrt(z) if z > 0 else 2 / math.sqrt(math.pi),
                             0.0, 16.0, (6, 5))
    show("erf(x) = x * R(x^2) / S(x^2), |x| < 4: R", r, err)
    show("... and S", s, err)
