# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch15
# expect: 15.1 topological
# A "topological order" that trusts the file's order (right for the files exporters write, wrong for
# shuffled nodes), and still refuses inputs nothing produces.

# %%
def topological_order(nodes, known):
    produced = set(known) | {""} | {out for n in nodes for out in n.output}
    for n in nodes:
        for name in n.input:
            if name not in produced:
                raise ValueError(f"{name!r} is produced by nothing")
    return list(nodes)
