# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch12
# expect: 12.1 differs
# the masks applied after the softmax: masked weights are zeroed, but the rows no longer sum to 1.

# %%
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    weights = F.softmax((query @ key.transpose(-2, -1)) * scale, dim=-1)
    if is_causal:
        weights = weights * tt.ones(weights.shape[-2], weights.shape[-1]).tril()
    if attn_mask is not None:
        weights = weights * attn_mask if attn_mask.dtype == tt.bool else weights + attn_mask
    return weights @ value
