"""Gamma(``a``, 1) draws that are differentiable with respect to ``a``: the sampler behind
``Gamma``, ``Chi2``, ``Beta``, ``Dirichlet`` and ``StudentT``'s ``rsample``.

A draw ``x`` is ``F^-1(u; a)`` for a uniform ``u`` and the gamma CDF ``F``; holding ``u`` fixed,
``dx/da = -(dF/da) / (dF/dx)`` (implicit reparameterisation). numpy's generator draws ``x``;
:func:`_standard_gamma_grad` evaluates that derivative.
"""

from __future__ import annotations

import numpy as np

from ..ndarray import NDArray, array
from ..ndarray.dtypes import float64
from ..ops.composite import digamma
from ..ops.creation import tensor
from ..ops.dims import torch_type_name
from ..ops.random import Generator, _leaf, _rng
from ..tensor import Function, Tensor


def _np_digamma(a: np.ndarray) -> np.ndarray:
    """``psi(a)`` on the host (float64), by :func:`tinytorch.digamma`."""
    return digamma(tensor(a, dtype=float64)).numpy()


def _standard_gamma_grad(alpha: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``dx/dalpha`` of a Gamma(``alpha``, 1) draw ``x`` with the uniform number behind it held
    fixed: the implicit reparameterisation ``-(dF/dalpha) / (dF/dx)`` of the CDF ``F(x; alpha) =
    P(alpha, x)`` (the regularised lower incomplete gamma), with ``dF/dalpha`` differentiated
    exactly (in float64, to rounding): below ``x = alpha + 1`` through the series ``P = x^a e^-x /
    Gamma(a + 1) * sum_n x^n / ((a + 1)...(a + n))``, above it through the continued fraction of
    ``Q = 1 - P``, carrying each term's derivative along. Both are written so that
    ``x^a e^-x / Gamma(a)`` cancels against the density, which neither overflows nor underflows."""
    a, x = np.broadcast_arrays(np.asarray(alpha, dtype=np.float64), np.asarray(x, dtype=np.float64))
    out = np.zeros(a.shape)
    eps, tol = 1e-17, 1e-15  # the series' last term; the continued fraction's last change
    lower = x < a + 1.0
    if lower.any():  # dx/da = -x (S (log x - psi(a + 1)) + dS/da) / a
        al, xl = a[lower], x[lower]
        term, dterm = np.ones_like(xl), np.zeros_like(xl)
        total, dtotal = term.copy(), dterm.copy()
        for n in range(1, 100 + int(20 * np.sqrt(al.max()))):
            ratio = xl / (al + n)
            dterm = ratio * (dterm - term / (al + n))
            term = term * ratio
            total += term
            dtotal += dterm
            if (term <= eps * total).all() and (np.abs(dterm) <= eps * np.abs(dtotal)).all():
                break
        out[lower] = -xl * (total * (np.log(xl) - _np_digamma(al + 1.0)) + dtotal) / al
    upper = ~lower
    if upper.any():  # dx/da = x (f (log x - psi(a)) + df/da), f the continued fraction of Q
        au, xu = a[upper], x[upper]
        # the convergents A_n / B_n of 1 / (b_1 + c_2 / (b_2 + c_3 / ...)), with b_n = x + 2n - 1 - a,
        # c_n = -(n - 1)(n - 1 - a), and their derivatives in a (db_n = -1, dc_n = n - 1)
        a_prev, a_cur = np.ones_like(xu), np.zeros_like(xu)  # A_{-1}, A_0
        b_prev, b_cur = np.zeros_like(xu), np.ones_like(xu)  # B_{-1}, B_0
        da_prev, da_cur, db_prev, db_cur = (np.zeros_like(xu) for _ in range(4))
        f, df = np.zeros_like(xu), np.zeros_like(xu)
        for n in range(1, 100 + int(20 * np.sqrt(au.max()))):
            bn = xu + 2 * n - 1 - au
            cn = np.ones_like(xu) if n == 1 else -(n - 1) * (n - 1 - au)
            dcn = 0.0 if n == 1 else float(n - 1)
            a_new = bn * a_cur + cn * a_prev
            b_new = bn * b_cur + cn * b_prev
            da_new = bn * da_cur - a_cur + cn * da_prev + dcn * a_prev
            db_new = bn * db_cur - b_cur + cn * db_prev + dcn * b_prev
            scale = 1.0 / b_new  # rescale all eight by the same constant: the ratios are unchanged
            a_prev, a_cur, b_prev, b_cur = a_cur * scale, a_new * scale, b_cur * scale, np.ones_like(xu)
            da_prev, da_cur, db_prev, db_cur = da_cur * scale, da_new * scale, db_cur * scale, db_new * scale
            f_new, df_new = a_cur, da_cur - a_cur * db_cur  # A_n / B_n with B_n == 1, and its derivative
            # both must settle: at an integer a a term c_n is 0, which stops f but not df
            done = ((np.abs(f_new - f) <= tol * np.abs(f_new)).all()
                    and (np.abs(df_new - df) <= tol * np.abs(df_new)).all())
            f, df = f_new, df_new
            if done:
                break
        out[upper] = xu * (f * (np.log(xu) - _np_digamma(au)) + df)
    return out


class StandardGamma(Function):
    """Gamma(``concentration``, 1) draws; the gradient w.r.t. the concentration is the implicit
    reparameterisation of :func:`_standard_gamma_grad`, evaluated at the returned values."""

    def forward(self, concentration: NDArray, generator: Generator | None = None) -> NDArray:
        self.alpha = concentration.numpy().astype(np.float64)
        draw = _rng(generator, "_standard_gamma").standard_gamma(self.alpha)
        draw = np.maximum(draw, np.finfo(concentration.dtype.np_dtype).tiny)  # no 0: log x stays finite
        self.out = array(np.asarray(draw), dtype=concentration.dtype, device=concentration.device)
        return self.out

    def backward(self, g: Tensor) -> Tensor:
        dx = _standard_gamma_grad(self.alpha, self.out.numpy())
        return g * _leaf(dx, g.dtype, g.device, False)


def _standard_gamma(concentration: Tensor, generator: Generator | None = None) -> Tensor:
    """Gamma(``concentration``, 1) draws of ``concentration``'s shape, dtype and device
    (PyTorch's private ``torch._standard_gamma``), differentiable w.r.t. ``concentration`` by
    implicit reparameterisation. Not in the op table: the distributions' sampler."""
    if not concentration.dtype.is_floating_point:
        raise NotImplementedError(f'"standard_gamma" not implemented for \'{torch_type_name(concentration.dtype)}\'')
    return StandardGamma.apply(concentration, generator=generator)
