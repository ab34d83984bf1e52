# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch12
# expect: 12.1 delegation
# attention that hands the work to the library's own.

# %%
_library_attention = F.scaled_dot_product_attention


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    return _library_attention(query, key, value, attn_mask, dropout_p, is_causal, scale)
