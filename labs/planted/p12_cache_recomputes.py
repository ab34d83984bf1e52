# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch12
# expect: 12.4 positions
# a "cached" generation that refills fresh caches from the whole sequence at every step: the same
# tokens, none of the saving.

# %%
@tt.no_grad()
def generate(model, idx, max_new_tokens, use_cache=True):
    for _ in range(max_new_tokens):
        caches = [{} for _ in model.blocks] if use_cache else None
        logits = model(idx, caches=caches)
        idx = tt.cat([idx, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return idx
