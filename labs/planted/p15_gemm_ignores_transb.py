# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch15
# expect: 15.3 transB
# Gemm that reads transA but forgets transB (the exported Linear layers all use transB=1).

# %%
def gemm(node, inputs, attrs):
    a, b = inputs[0], inputs[1]
    c = inputs[2] if len(inputs) > 2 else None
    if attrs.get("transA", 0):
        a = a.T
    y = (a @ b) * attrs.get("alpha", 1.0)
    if c is not None:
        y = y + c * attrs.get("beta", 1.0)
    return y
