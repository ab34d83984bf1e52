# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch17
# expect: 17.1 gradient
# all_reduce sums: every rank ends with the sum of the ranks' gradients, twice their average.

# %%
def average_gradients(model):
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
