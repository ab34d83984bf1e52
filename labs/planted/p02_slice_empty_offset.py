# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch02
# expect: 2.3 empty
# slice_view that moves the offset even when the slice selects nothing.

# %%
def slice_view(n, stride, s):
    start, stop, step = s.indices(n)
    return len(range(start, stop, step)), stride * step, start * stride
