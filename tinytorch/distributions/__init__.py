"""``tinytorch.distributions``: PyTorch's ``torch.distributions`` for the distributions programs
use most (policy heads, VAEs, Gaussian likelihoods).

Every density, entropy and KL divergence is a composition of tinytorch ops, so gradients reach
the parameters; ``rsample`` is reparameterised (``has_rsample``), ``sample`` is not
differentiable; draws come from tinytorch's generator, so ``tt.manual_seed`` reproduces them.

>>> import tinytorch as tt
>>> from tinytorch.distributions import Normal, kl_divergence
>>> p = Normal(tt.tensor([0.0, 1.0], device="numpy"), tt.tensor([1.0, 2.0], device="numpy"))
>>> p.sample((5,)).shape
(5, 2)
>>> [round(v, 4) for v in p.log_prob(tt.tensor([0.0, 1.0], device="numpy")).tolist()]
[-0.9189, -1.6121]
>>> round(kl_divergence(p, p).sum().item(), 6)
0.0

The gamma family (``Gamma``, ``Chi2``, ``Beta``, ``Dirichlet``, ``StudentT``) is reparameterised
too: a standard gamma draw's gradient w.r.t. its concentration is the implicit one of its CDF,
computed exactly (see :mod:`tinytorch.distributions.gamma`). ``Gamma.cdf`` is missing (no
incomplete gamma function); ``LogNormal`` is written out, not a ``TransformedDistribution``.

Transforms (``Exp``, ``Sigmoid``, ``Tanh``, ``Affine``, ``Power``, ``Compose``) and
``TransformedDistribution`` are here; ``MixtureSameFamily`` is not.
"""

from . import constraints
from .bernoulli import Bernoulli
from .beta import Beta
from .categorical import Categorical, OneHotCategorical
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exponential import Exponential
from .gamma import Chi2, Gamma
from .independent import Independent
from .kl import kl_divergence, register_kl
from .laplace import Laplace
from .log_normal import LogNormal
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .poisson import Poisson
from .student_t import StudentT
from .transforms import (
    AffineTransform,
    ComposeTransform,
    ExpTransform,
    PowerTransform,
    SigmoidTransform,
    TanhTransform,
    Transform,
    TransformedDistribution,
)
from .uniform import Uniform

__all__ = ["Bernoulli", "Beta", "Categorical", "Chi2", "Dirichlet", "Distribution", "Exponential", "Gamma",
           "Independent", "Laplace", "LogNormal", "MultivariateNormal", "Normal", "OneHotCategorical", "Poisson",
           "StudentT", "Uniform", "constraints", "kl_divergence", "register_kl", "Transform", "ExpTransform",
           "SigmoidTransform", "TanhTransform", "AffineTransform", "PowerTransform", "ComposeTransform",
           "TransformedDistribution"]
