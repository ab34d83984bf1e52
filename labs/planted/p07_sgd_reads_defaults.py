# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch07
# expect: 7.1 groups
# SGD that reads self.defaults instead of each parameter group's settings.

# %%
class SGD(optim.Optimizer):
    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

    @tt.no_grad()
    def step(self):
        d = self.defaults
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if d["weight_decay"]:
                    g = g + d["weight_decay"] * p
                if d["momentum"]:
                    state = self.state.setdefault(p, {})
                    state["momentum_buffer"] = (g.clone() if "momentum_buffer" not in state
                                                else d["momentum"] * state["momentum_buffer"] + g)
                    g = state["momentum_buffer"]
                p.add_(g, alpha=-d["lr"])
