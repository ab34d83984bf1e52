# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch05
# expect: 5.1 within
# lab-timeout: 10
# An Exp whose forward never returns: 5.1 times out, everything else is still graded.

# %%
class Exp(Function):
    def forward(self, a):
        while True:
            pass

    def backward(self, grad):
        return grad * self.output()
