# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch05
# expect: 5.4 backward
# A bug in Matmul's backward (a missing transpose): the message must point at backward's line.

# %%
class Matmul(Function):
    def forward(self, a, b):
        return a @ b

    def backward(self, grad):
        a, b = self.inputs
        return grad @ b, tt.transpose(a, -2, -1) @ grad
