# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch13
# expect: 13.1 stored
# Merges every fusible step into the group of its input, whether or not that input has other
# readers: a value read twice (the branching graph's exp, the GELU chain's bias add) is fused
# away, so the other readers would find it never computed.

# %%
def fuse(trace):
    position = {s.out: i for i, s in enumerate(trace.steps)}
    group_of = {}
    groups = []
    for step in trace.steps:
        if not fusible(step, trace.meta, trace.grad_slots):
            continue
        g = Group()
        for kind, v in step.args:
            producer = group_of.get(v) if kind == "slot" else None
            if producer is not None and producer in groups and trace.meta[v][0] == trace.meta[step.out][0]:
                groups.remove(producer)
                g.steps += producer.steps
        g.steps.append(step)
        g.steps.sort(key=lambda s: position[s.out])
        group_of[step.out] = g
        groups.append(g)
    result = [g for g in groups if len(g.steps) > 1]
    for g in result:
        inside = {s.out for s in g.steps}
        for s in g.steps:
            for kind, v in s.args:
                if kind == "slot" and v not in inside and v not in g.leaves:
                    g.leaves.append(v)
    return result
