# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch05
# expect: 5.1 differs
# A wrong Exp, plus cells that try to rewrite the grader's score table and comparisons.

# %%
import numpy

import tinytorch.labs.checks as C
import tinytorch.labs.plugin as P


class Exp(Function):
    def forward(self, a):
        self.out = a.exp() * 1.5
        return self.out

    def backward(self, grad):
        return grad * self.output()


P.lab_scores = lambda config: {}
numpy.allclose = lambda *a, **k: True
C.check_close = lambda *a, **k: None
