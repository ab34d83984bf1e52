# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch12
# expect: full
# honest alternatives the grader must accept: masks turned into an additive bias with tt.where,
# heads split with reshape + permute, merged with contiguous().view, a generation loop that
# keeps its own position counter.

# %%
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    d = query.shape[-1]
    scores = query @ key.transpose(-2, -1) / math.sqrt(d) if scale is None else query @ key.transpose(-2, -1) * scale
    L, S = scores.shape[-2], scores.shape[-1]
    if is_causal:
        allowed = tt.arange(L).unsqueeze(1) >= tt.arange(S).unsqueeze(0)
        scores = scores + tt.where(allowed, 0.0, float("-inf")).to(scores.dtype)
    if attn_mask is not None:
        bias = tt.where(attn_mask, 0.0, float("-inf")).to(scores.dtype) if attn_mask.dtype == tt.bool else attn_mask
        scores = scores + bias
    weights = scores.softmax(-1)
    return (F.dropout(weights, dropout_p) if dropout_p > 0 else weights) @ value


def split_heads(x, num_heads):
    B, T, C = x.shape
    if C % num_heads != 0:
        raise ValueError(f"{C} features cannot be split into {num_heads} heads")
    return x.reshape(B, T, num_heads, C // num_heads).permute(0, 2, 1, 3)


def merge_heads(x):
    B, H, T, D = x.shape
    return x.permute(0, 2, 1, 3).contiguous().view(B, T, H * D)


@tt.no_grad()
def generate(model, idx, max_new_tokens, use_cache=True):
    caches = [dict() for _ in range(len(model.blocks))] if use_cache else None
    new, position = idx, 0
    for _ in range(max_new_tokens):
        logits = model(new, caches=caches, start=position) if use_cache else model(idx)
        token = logits[:, -1, :].argmax(dim=-1).unsqueeze(-1)
        idx = tt.cat((idx, token), 1)
        if use_cache:
            position += new.shape[1]
            new = token
    return idx
