# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch07
# expect: 7.1 delegation
# An optimizer that hands every step to a library optimizer.

# %%
class SGD(optim.Optimizer):
    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))
        self.inner = optim.SGD(self.param_groups, lr=lr, momentum=momentum, weight_decay=weight_decay)

    def step(self):
        self.inner.step()
