# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch15
# expect: 15.2 Split
# An interpreter loop that stores only a node's first output (every operator of the exported
# models has one output; Split has two).

# %%
def run_graph(nodes, values, outputs, handlers):
    values = dict(values)
    for node in topological_order(nodes, values):
        if node.op_type not in handlers:
            raise NotImplementedError(f"operator {node.op_type} (node {node.name!r}) has no handler")
        inputs = [values[name] if name else None for name in node.input]
        result = handlers[node.op_type](node, inputs, attributes(node))
        values[node.output[0]] = result[0] if isinstance(result, tuple) else result
    return [values[name] for name in outputs]
