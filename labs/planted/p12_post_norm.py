# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch12
# expect: 12.3 differs
# a post-norm block (the original transformer's order): ln_1(x + attn(x)), ln_2(x + mlp(x)).

# %%
class Block(nn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = nn.MultiheadAttention(n_embd, n_head, batch_first=True)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x):
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
        x = self.ln_1(x + self.attn(x, x, x, attn_mask=mask, need_weights=False, is_causal=True)[0])
        return self.ln_2(x + self.mlp(x))
