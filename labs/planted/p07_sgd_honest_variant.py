# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch07
# expect: full
# An honest SGD written another way: a helper per parameter, in-place ops, no decorator.


# %%
def _direction(p, group, state):
    g = p.grad
    if group["weight_decay"] != 0:
        g = g.add(p, alpha=group["weight_decay"])
    if group["momentum"] != 0:
        if "momentum_buffer" in state:
            state["momentum_buffer"].mul_(group["momentum"]).add_(g)
        else:
            state["momentum_buffer"] = g.clone()
        g = state["momentum_buffer"]
    return g


class SGD(optim.Optimizer):
    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

    def step(self):
        with tt.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.sub_(_direction(p, group, self.state.setdefault(p, {})) * group["lr"])
