"""L-BFGS: a quasi-Newton method that needs the loss again during a step (``step(closure)``).

Each iteration builds a search direction from the current gradient and the last
``history_size`` pairs (s = a step taken, y = the change of gradient it caused) with the
two-loop recursion, which applies an approximate inverse Hessian without forming it. Then it
moves along that direction: a fixed step ``lr``, or a step found by a line search satisfying
the strong Wolfe conditions. The whole optimizer works on one flat vector made of every
parameter, so it takes one parameter group only.

The iteration, its stopping tests and the line search follow ``torch.optim.LBFGS`` decision by
decision, so float64 trajectories agree with PyTorch's. Scalars (step sizes, directional
derivatives) are Python floats: in float32 PyTorch rounds them to float32, so float32
trajectories agree to float32 accuracy only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..ops import cat, zeros
from ..tensor import Tensor, enable_grad, no_grad
from .optimizer import Optimizer

_Objective = Callable[[list[Tensor], float, Tensor], tuple[float, Tensor]]


def _dot(a: Tensor, b: Tensor) -> float:
    return float((a * b).sum().item())


def _abs_max(a: Tensor) -> float:
    return float(a.abs().max().item())


def _cubic_minimum(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                   bounds: tuple[float, float] | None = None) -> float:
    """The minimiser of the cubic through ``(x1, f1)`` and ``(x2, f2)`` with slopes ``g1``, ``g2``,
    clipped into ``bounds`` (default: between x1 and x2); the bounds' midpoint when the cubic has
    no real minimiser."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    with np.errstate(all="ignore"):  # IEEE arithmetic (inf, nan) where the points coincide, as PyTorch's tensors
        x1, f1, g1, x2, f2, g2 = (np.float64(v) for v in (x1, f1, g1, x2, f2, g2))
        d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
        d2_square = d1 ** 2 - g1 * g2
        if not d2_square >= 0:
            return (lo + hi) / 2.0
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            at = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            at = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return float(min(max(at, lo), hi))


def _strong_wolfe(objective: _Objective, x: list[Tensor], t: float, d: Tensor, f: float, g: Tensor, gtd: float,
                  c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9,
                  max_ls: int = 25) -> tuple[float, Tensor, float, int]:
    """A step ``t`` along ``d`` from ``x`` (loss ``f``, gradient ``g``, slope ``gtd``) with sufficient
    decrease (``f(t) <= f + c1 t gtd``) and curvature (``|slope(t)| <= -c2 gtd``), found by
    bracketing (growing ``t`` by cubic extrapolation) and then zooming into the bracket (cubic
    interpolation, kept 10% away from its ends). Returns the loss, gradient and step chosen and
    the number of evaluations of ``objective(x, t, d) -> (loss, flat gradient)``."""
    d_norm = _abs_max(d)
    f_new, g_new = objective(x, t, d)
    evals, gtd_new = 1, _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done, ls_iter = False, 0
    bracket: list[float] = []
    bracket_f: list[float] = []
    bracket_g: list[Tensor] = []
    bracket_gtd: list[float] = []
    # bracketing phase: find an interval that contains a point satisfying the conditions
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):  # overshot: the minimum is behind
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev,
                                                                                                     gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:  # both conditions hold
            bracket, bracket_f, bracket_g, done = [t], [f_new], [g_new], True
            break
        if gtd_new >= 0:  # the slope turned: the minimum is behind
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev,
                                                                                                     gtd_new]
            break
        min_step, max_step = t + 0.01 * (t - t_prev), t * 10
        t_prev, t = t, _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        f_prev, g_prev, gtd_prev = f_new, g_new, gtd_new
        f_new, g_new = objective(x, t, d)
        evals, gtd_new, ls_iter = evals + 1, _dot(g_new, d), ls_iter + 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]
    # zoom phase: shrink the bracket until a point satisfies both conditions
    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        top, bottom = max(bracket), min(bracket)
        eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps:  # too close to an end: move away, unless the last try was fine
            if insufficient_progress or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = objective(x, t, d)
        evals, gtd_new, ls_iter = evals + 1, _dot(g_new, d), ls_iter + 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
            continue
        if abs(gtd_new) <= -c2 * gtd:
            done = True
        elif gtd_new * (bracket[high] - bracket[low]) >= 0:
            bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
            bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
        bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new, gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals


class LBFGS(Optimizer):
    r"""Limited-memory BFGS, as ``torch.optim.LBFGS``; ``step(closure)`` runs up to ``max_iter``
    iterations, calling ``closure`` (which must zero the gradients, compute the loss, call
    ``backward()`` and return the loss) whenever it needs the loss and gradient.

    Args:
        params: the parameters (one group only).
        lr: the step length (the first iteration ever scales it by ``min(1, 1 / |g|_1)``). Default: 1.
        max_iter: iterations per ``step``. Default: 20.
        max_eval: loss evaluations per ``step``. Default: ``max_iter * 5 // 4``.
        tolerance_grad: stop when every gradient entry is at most this in size. Default: 1e-7.
        tolerance_change: stop when the loss or the parameters change by less. Default: 1e-9.
        history_size: (s, y) pairs remembered. Default: 100.
        line_search_fn: ``None`` (fixed step ``lr``) or ``'strong_wolfe'``. Default: None.

    Examples::

        >>> from tinytorch import nn
        >>> w = nn.Parameter(tt.tensor([1.5, -0.5], dtype=tt.float64))
        >>> opt = LBFGS([w], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ((w - 3.0) ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure)
        >>> [round(v, 6) for v in w.tolist()]
        [3.0, 3.0]
    """

    def __init__(self, params: Iterable[Any], lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params: list[Tensor] = self.param_groups[0]["params"]

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    # ------------------------------------------------------------------ the flat vector
    def _flat_grad(self) -> Tensor:
        """Every parameter's gradient (zeros where there is none), flattened and concatenated."""
        return cat([p.grad.reshape(-1) if p.grad is not None else zeros(p.numel(), dtype=p.dtype, device=p.device)
                    for p in self._params], 0)

    def _add_step(self, t: float, d: Tensor) -> None:
        """Move every parameter by ``t`` times its slice of the flat direction ``d``."""
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(d[offset:offset + n].reshape(p.shape), alpha=t)
            offset += n

    def _evaluate_at(self, closure: Callable[[], Any], x: list[Tensor], t: float, d: Tensor) -> tuple[float, Tensor]:
        """The loss and flat gradient at ``x + t d``; the parameters are put back to ``x`` after."""
        self._add_step(t, d)
        with enable_grad():
            loss = float(closure())
        flat_grad = self._flat_grad()
        for p, saved in zip(self._params, x):
            p.copy_(saved)
        return loss, flat_grad

    def _direction(self, g: Tensor, state: dict[str, Any], history_size: int) -> Tensor:
        """Update the (s, y) history with the last step and return ``-H g`` by the two-loop recursion
        (H the L-BFGS inverse-Hessian approximation, scaled by ``H_diag = s.y / y.y``)."""
        y = g - state["prev_flat_grad"]
        s = state["d"] * state["t"]
        ys = _dot(y, s)
        if ys > 1e-10:  # keep the pair only if the curvature is positive
            if len(state["old_dirs"]) == history_size:
                for key in ("old_dirs", "old_stps", "ro"):
                    state[key].pop(0)
            state["old_dirs"].append(y)
            state["old_stps"].append(s)
            state["ro"].append(1.0 / ys)
            state["H_diag"] = ys / _dot(y, y)
        dirs, steps, ro = state["old_dirs"], state["old_stps"], state["ro"]
        alpha = [0.0] * len(dirs)
        q = -g
        for i in reversed(range(len(dirs))):
            alpha[i] = _dot(steps[i], q) * ro[i]
            q = q - dirs[i] * alpha[i]
        r = q * state["H_diag"]
        for i in range(len(dirs)):
            beta = _dot(dirs[i], r) * ro[i]
            r = r + steps[i] * (alpha[i] - beta)
        return r

    @no_grad()
    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` iterations; returns the loss of the first ``closure()`` call."""
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn = group["line_search_fn"]
        if line_search_fn not in (None, "strong_wolfe"):
            raise RuntimeError("only 'strong_wolfe' is supported")
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if _abs_max(g) <= tolerance_grad:
            return orig_loss

        t = state.get("t", lr)
        for n_iter in range(1, max_iter + 1):
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                state.update(d=-g, old_dirs=[], old_stps=[], ro=[], H_diag=1.0)
            else:
                state["d"] = self._direction(g, state, group["history_size"])
            d = state["d"]
            state["prev_flat_grad"], state["prev_loss"] = g, loss
            prev_loss = loss
            t = min(1.0, 1.0 / float(g.abs().sum().item())) * lr if state["n_iter"] == 1 else lr
            gtd = _dot(g, d)
            if gtd > -tolerance_change:  # not a descent direction any more
                break

            if line_search_fn is not None:
                x = [p.clone() for p in self._params]
                loss, g, t, ls_evals = _strong_wolfe(
                    lambda x, t, d: self._evaluate_at(closure, x, t, d), x, t, d, loss, g, gtd,
                    max_ls=max_eval - evals)
                self._add_step(t, d)
                converged = _abs_max(g) <= tolerance_grad
            else:
                self._add_step(t, d)
                ls_evals, converged = 0, False
                if n_iter != max_iter:  # the last iteration needs no new loss
                    with enable_grad():
                        loss = float(closure())
                    g = self._flat_grad()
                    converged = _abs_max(g) <= tolerance_grad
                    ls_evals = 1
            state["t"] = t
            evals += ls_evals
            state["func_evals"] += ls_evals
            if n_iter == max_iter or evals >= max_eval or converged:
                break
            if _abs_max(d) * abs(t) <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break
        state["t"] = t
        return orig_loss
