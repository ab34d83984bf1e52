"""Layer 4b: ``tinytorch.optim`` -- optimizers and learning-rate schedules, as PyTorch's."""

from . import lr_scheduler, swa_utils
from .adadelta import Adadelta
from .adagrad import Adagrad, Adamax
from .adam import Adam, AdamW
from .lbfgs import LBFGS
from .nadam import NAdam, RAdam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .rprop import ASGD, Rprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adadelta", "Adagrad", "Adamax", "NAdam", "RAdam", "LBFGS",
           "Rprop", "ASGD", "lr_scheduler", "swa_utils"]
