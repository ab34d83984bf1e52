# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch05
# expect: 5.7 graph
# backward not run under no_grad: the gradients carry a graph.

# %%
def backward(loss):
    grads = {id(loss.grad_fn): tt.ones_like(loss)}
    for node in reversed(topo_order([loss.grad_fn])):
        out = node.backward(grads.pop(id(node)))
        out = out if isinstance(out, tuple) else (out,)
        for t, need, tg in zip(node.inputs, node.needs_input_grad, out):
            if not need or tg is None:
                continue
            tg = unbroadcast(tg, t.shape)
            if t.grad_fn is not None:
                key = id(t.grad_fn)
                grads[key] = grads[key] + tg if key in grads else tg
            else:
                t.grad = tg if t.grad is None else t.grad + tg
