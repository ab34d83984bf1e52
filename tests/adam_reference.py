"""The Adam update of the backend interface's ``adam_step`` contract, written with numpy: the one
reference the backend, fast-path and optimizer tests compare with."""

import numpy as np


def adam_reference(p, g, m, v, vmax, step_size, beta1, beta2, eps, bias2_sqrt, decay, l2):
    """One update in the parameter's dtype, step by step (returns new arrays ``p, m, v, vmax``;
    ``vmax`` is None without AMSGrad)."""
    t = p.dtype.type
    g = g + t(l2) * p
    m = m + t(1 - beta1) * (g - m)
    v = v * t(beta2) + t(1 - beta2) * g * g
    vh = v if vmax is None else np.maximum(vmax, v)
    p = p * t(decay) + t(-step_size) * (m / (np.sqrt(vh) / t(bias2_sqrt) + t(eps)))
    return p, m, v, (None if vmax is None else vh)
