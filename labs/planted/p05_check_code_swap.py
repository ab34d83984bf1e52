# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch05
# expect: 5.1 rebound
# A wrong Exp that, while graded, swaps the code of the grader's check_close in place (no rebinding).

# %%
import tinytorch.labs.checks as C


class Exp(Function):
    def forward(self, a):
        C.check_close.__code__ = (lambda *args, **kwargs: None).__code__
        self.out = a.exp() * 1.5
        return self.out

    def backward(self, grad):
        return grad * self.output()
