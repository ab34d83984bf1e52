# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch14
# expect: 14.1 grad(grad(f))
# A grad that forgets create_graph: first derivatives are right, but the gradient is a constant,
# so grad(grad(f)) fails (the inner result does not depend on x).

# %%
def grad(f):
    def g(x, *rest):
        with tt.enable_grad():
            if not x.requires_grad:
                x = x.detach().requires_grad_()
            out = f(x, *rest)
            if out.ndim != 0:
                raise RuntimeError("grad(f)(x): f must return a scalar tensor")
            (dx,) = tt.autograd.grad(out, x)
        return dx
    return g
