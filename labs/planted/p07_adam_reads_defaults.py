# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch07
# expect: 7.2 groups
# Adam that reads self.defaults instead of each parameter group's settings.

# %%
class Adam(optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @tt.no_grad()
    def step(self):
        d = self.defaults
        b1, b2 = d["betas"]
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if d["weight_decay"]:
                    g = g + d["weight_decay"] * p
                state = self.state.setdefault(p, {})
                if not state:
                    state.update(step=0, m=tt.zeros_like(p), v=tt.zeros_like(p))
                state["step"] += 1
                t = state["step"]
                state["m"] = b1 * state["m"] + (1 - b1) * g
                state["v"] = b2 * state["v"] + (1 - b2) * g * g
                p.sub_(d["lr"] * (state["m"] / (1 - b1 ** t)) / (tt.sqrt(state["v"] / (1 - b2 ** t)) + d["eps"]))
