# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch05
# expect: 5.7 two
# backward that replaces a leaf's .grad instead of adding to it (right for one call).

# %%
def backward(loss):
    grads = {id(loss.grad_fn): tt.ones_like(loss)}
    leaf = {}
    with tt.no_grad():
        for node in reversed(topo_order([loss.grad_fn])):
            out = node.backward(grads.pop(id(node)))
            out = out if isinstance(out, tuple) else (out,)
            for t, need, tg in zip(node.inputs, node.needs_input_grad, out):
                if not need or tg is None:
                    continue
                tg = unbroadcast(tg, t.shape)
                key = id(t.grad_fn) if t.grad_fn is not None else None
                if key is not None:
                    grads[key] = grads[key] + tg if key in grads else tg
                else:
                    leaf[id(t)] = (t, leaf[id(t)][1] + tg if id(t) in leaf else tg)
        for t, g in leaf.values():
            t.grad = g
