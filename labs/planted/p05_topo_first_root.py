# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch05
# expect: 5.6 roots
# topo_order that only searches from the first root.

# %%
_topo_ok = topo_order


def topo_order(roots):
    return _topo_ok(list(roots)[:1])
