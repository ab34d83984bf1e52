"""Lab 12 grader: attention, heads as reshapes, a transformer block and a KV cache.

Every exercise is compared with the library (the reference the learner may not call is computed
by the test itself) and, where PyTorch is installed, with PyTorch too (weights copied).
"""

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn
from tinytorch.labs import check, check_close, check_equal, check_raises

try:  # the oracle: used when installed, never needed
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    torch = None

TITLE = "attention and transformers"
EXERCISES = {"12.1": "scaled_dot_product_attention", "12.2": "split_heads", "12.3": "Block",
             "12.4": "CausalSelfAttention"}
#: the library's own version of each exercise: it raises if the notebook's code calls it while graded
REFERENCES = {
    "12.1": ["tinytorch.nn.functional:scaled_dot_product_attention",
             "tinytorch.nn.functional:multi_head_attention_forward",
             "tinytorch.nn.functional:_safe_softmax"],
    "12.3": ["tinytorch.nn.transformer:TransformerEncoderLayer",
             "tinytorch.nn.transformer:TransformerDecoderLayer"],
}

LIB_SDPA = F.scaled_dot_product_attention  # bound before any test plugs the learner's in its place


def rand(shape, seed, grad=True):
    data = np.random.default_rng(seed).standard_normal(shape)
    return tt.tensor(data, dtype=tt.float64, requires_grad=grad)


def twin(t):
    """A fresh leaf with the same values (for the reference's own gradient)."""
    return None if t is None else t.detach().clone().requires_grad_(t.requires_grad)


def to_torch(t):
    return None if t is None else torch.tensor(t.detach().numpy(), requires_grad=t.requires_grad)


# --- 12.1 scaled dot-product attention ------------------------------------------------------------
def padding_mask(n, s, lengths):
    """(N, 1, 1, S) bool: True at the keys a sequence of that length has (False = padding)."""
    keep = np.arange(s)[None, :] < np.array(lengths)[:, None]
    return tt.tensor(keep[:, None, None, :])


CASES = [  # (q shape, k shape, v shape, options) ; masks are built in attention_cases
    ((2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 4), {}),
    ((2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 6), {"is_causal": True}),
    ((1, 2, 3, 8), (1, 2, 7, 8), (1, 2, 7, 5), {"is_causal": True}),  # L < S: the top-left triangle
    ((2, 4, 6), (2, 6, 6), (2, 6, 3), {"scale": 0.7}),
    ((3, 2, 4, 4), (1, 2, 4, 4), (1, 2, 4, 4), {}),  # leading dims broadcast
]


def attention_cases(masks):
    for i, (qs, ks, vs, opts) in enumerate(CASES):
        yield rand(qs, 3 * i), rand(ks, 3 * i + 1), rand(vs, 3 * i + 2), None, opts
    if masks:
        q, k, v = rand((2, 2, 4, 8), 20), rand((2, 2, 6, 8), 21), rand((2, 2, 6, 3), 22)
        yield q, k, v, padding_mask(2, 6, [6, 3]), {}
        q, k, v = rand((2, 2, 6, 8), 23), rand((2, 2, 6, 8), 24), rand((2, 2, 6, 3), 25)
        yield q, k, v, padding_mask(2, 6, [4, 6]), {"is_causal": True}
        float_mask = tt.tensor(np.random.default_rng(26).standard_normal((5, 5)), dtype=tt.float64)
        yield rand((3, 5, 4), 27), rand((3, 5, 4), 28), rand((3, 5, 2), 29), float_mask, {}
        yield rand((3, 5, 4), 30), rand((3, 5, 4), 31), rand((3, 5, 2), 32), float_mask, {"is_causal": True}


def torch_attention(q, k, v, mask, opts):
    """PyTorch's attention; it refuses a mask together with is_causal, so that pair is given to it
    as one mask (the causal triangle combined with the other)."""
    mask = to_torch(mask)
    if mask is not None and opts.get("is_causal"):
        opts = {key: value for key, value in opts.items() if key != "is_causal"}
        tri = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        mask = mask & tri if mask.dtype == torch.bool else mask.masked_fill(~tri, float("-inf"))
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, mask, **opts)


def describe(q, k, v, mask, opts):
    m = "none" if mask is None else f"{'bool' if mask.dtype == tt.bool else 'float'} {list(mask.shape)}"
    return f"attention(q{list(q.shape)}, k{list(k.shape)}, v{list(v.shape)}, attn_mask={m}, {opts})"


def compare_attention(sdpa, masks, gradients):
    for q, k, v, mask, opts in attention_cases(masks):
        what = describe(q, k, v, mask, opts)
        q2, k2, v2 = twin(q), twin(k), twin(v)
        mine, ref = sdpa(q, k, v, mask, **opts), LIB_SDPA(q2, k2, v2, mask, **opts)
        check_close(mine, ref, what, rtol=1e-9, atol=1e-10)
        g = tt.tensor(np.random.default_rng(99).standard_normal(ref.shape))
        if gradients:
            (mine * g).sum().backward()
            (ref * g).sum().backward()
            for name, a, r in (("query", q, q2), ("key", k, k2), ("value", v, v2)):
                check_close(a.grad, r.grad, f"the gradient of {name} in {what}", rtol=1e-8, atol=1e-10)
        if torch is not None:
            tq, tk, tv = to_torch(q), to_torch(k), to_torch(v)
            out = torch_attention(tq, tk, tv, mask, opts)
            check_close(mine, out, f"{what} against PyTorch", rtol=1e-9, atol=1e-10)
            if gradients:
                (out * to_torch(g)).sum().backward()
                check_close(q.grad, tq.grad, f"the gradient of query in {what} against PyTorch",
                            rtol=1e-8, atol=1e-10)


@pytest.mark.points(3, exercise="12.1", hint="softmax(q @ k^T * scale) @ v; the causal keep-mask is the lower triangle")
def test_attention_values(lab):
    """no mask, causal (also with fewer queries than keys), a given scale, broadcast leading dims"""
    compare_attention(lab.defined("scaled_dot_product_attention"), masks=False, gradients=False)


@pytest.mark.points(3, exercise="12.1", hint="bool mask: -inf where False, before the softmax; float mask: add it")
def test_attention_masks(lab):
    """boolean padding masks (N, 1, 1, S), alone and with is_causal; float masks added to the scores"""
    compare_attention(lab.defined("scaled_dot_product_attention"), masks=True, gradients=False)


@pytest.mark.points(2, exercise="12.1", hint="tensor ops only: autograd gives the gradient")
def test_attention_gradients(lab):
    """gradients of query, key and value equal the library's and PyTorch's, with every kind of mask"""
    compare_attention(lab.defined("scaled_dot_product_attention"), masks=True, gradients=True)


@pytest.mark.points(2, exercise="12.1",
                    hint="keep PyTorch's argument order: (q, k, v, attn_mask, dropout_p, is_causal, scale)")
def test_attention_inside_the_library(lab, monkeypatch):
    """installed as F.scaled_dot_product_attention: nn.MultiheadAttention (padding mask), a causal
    nn.TransformerEncoderLayer and a small GPT give the library's outputs and gradients"""
    sdpa = lab.defined("scaled_dot_product_attention")
    tt.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, batch_first=True).double()
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=True).double()
    gpt = TinyGPT(SdpaAttention, n_embd=16, n_head=4).double()
    x = rand((3, 5, 8), 40)
    tokens = tt.tensor(np.random.default_rng(41).integers(0, 16, (2, 9)))
    pad = tt.tensor(np.arange(5)[None, :] >= np.array([5, 2, 4])[:, None])  # True = padding (MHA's way)
    causal = nn.Transformer.generate_square_subsequent_mask(5, dtype=tt.float64)

    def run():
        x.grad = None
        for p in (*mha.parameters(), *layer.parameters(), *gpt.parameters()):
            p.grad = None
        out1 = mha(x, x, x, key_padding_mask=pad, need_weights=False)[0]
        out2 = layer(x, src_mask=causal, is_causal=True)
        logits = gpt(tokens)
        (out1.sum() + (out2 * out2).sum() + F.cross_entropy(logits[:, :-1].flatten(0, 1),
                                                             tokens[:, 1:].flatten())).backward()
        return (out1.detach(), out2.detach(), logits.detach(), x.grad.clone(), mha.in_proj_weight.grad.clone(),
                gpt.blocks[0].attn.c_attn.weight.grad.clone())

    expected = run()
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return sdpa(*args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", counted)
    got = run()
    check(len(calls) >= 4, "the library's layers did not call your attention (is it defined as asked?)")
    names = ("MultiheadAttention's output", "the encoder layer's output", "the GPT's logits",
             "the input's gradient", "in_proj_weight's gradient", "the GPT's first c_attn.weight gradient")
    for name, a, b in zip(names, got, expected):
        check_close(a, b, f"{name} with your attention inside", rtol=1e-9, atol=1e-10)


# --- 12.2 heads ---------------------------------------------------------------------------------------------
@pytest.mark.points(3, exercise="12.2", hint="x.view(B, T, H, D).transpose(1, 2): no data moves")
def test_split_heads_is_a_view(lab):
    """(B, T, C) -> (B, H, T, D) with the right values, the strides of a view, writes that reach x,
    and a ValueError when H does not divide C"""
    split_heads = lab.defined("split_heads")
    x = tt.arange(2 * 5 * 12, dtype=tt.float32).reshape(2, 5, 12)
    y = split_heads(x, 3)
    expected = x.numpy().reshape(2, 5, 3, 4).transpose(0, 2, 1, 3)
    check_equal(tuple(y.shape), (2, 3, 5, 4), "split_heads(x (2, 5, 12), 3).shape")
    check_close(y, expected, "split_heads(x, 3)", rtol=0, atol=0)
    check_equal(tuple(y.stride()), (60, 4, 12, 1), "the strides of split_heads(x (2, 5, 12), 3)",
                hint="a view keeps x's element strides, reordered: (T*C, D, C, 1)")
    with tt.no_grad():
        y[1, 2, 3, 1] = -1.0
    check_equal(float(x[1, 3, 2 * 4 + 1]), -1.0, "x[1, 3, 9] after writing -1 into split_heads(x, 3)[1, 2, 3, 1]",
                hint="split_heads must return a view of x, not a copy")
    check_raises(ValueError, split_heads, tt.zeros(1, 2, 10), 4)


@pytest.mark.points(1, exercise="12.2", hint="transpose back, then reshape")
def test_merge_heads(lab):
    """merge_heads inverts split_heads exactly and gives (B, T, H * D) in the right order"""
    split_heads, merge_heads = lab.defined("split_heads"), lab.defined("merge_heads")
    x = rand((2, 4, 12), 50, grad=False)
    check_close(merge_heads(split_heads(x, 4)), x, "merge_heads(split_heads(x, 4))", rtol=0, atol=0)
    h = rand((2, 3, 4, 5), 51, grad=False)
    check_close(merge_heads(h), h.numpy().transpose(0, 2, 1, 3).reshape(2, 4, 15), "merge_heads(h (2, 3, 4, 5))",
                rtol=0, atol=0)


@pytest.mark.points(2, exercise="12.2")
def test_heads_inside_attention(lab):
    """self-attention written with your split_heads and merge_heads equals nn.MultiheadAttention
    (and PyTorch's) with the same weights: outputs and gradients"""
    split_heads, merge_heads = lab.defined("split_heads"), lab.defined("merge_heads")
    tt.manual_seed(1)
    mha = nn.MultiheadAttention(12, 3, batch_first=True).double()
    x1 = rand((2, 5, 12), 52)
    x2 = twin(x1)

    def mine(x):
        q, k, v = F.linear(x, mha.in_proj_weight, mha.in_proj_bias).chunk(3, -1)
        q, k, v = (split_heads(t, 3) for t in (q, k, v))
        return mha.out_proj(merge_heads(F.scaled_dot_product_attention(q, k, v, is_causal=True)))

    causal = nn.Transformer.generate_square_subsequent_mask(5, dtype=tt.float64)
    out1 = mine(x1)
    out2 = mha(x2, x2, x2, attn_mask=causal, need_weights=False)[0]
    check_close(out1, out2, "causal self-attention with your heads", rtol=1e-9, atol=1e-10)
    (out1 ** 2).sum().backward()
    (out2 ** 2).sum().backward()
    check_close(x1.grad, x2.grad, "the input's gradient through your heads", rtol=1e-8, atol=1e-10)
    if torch is not None:
        ref = torch.nn.MultiheadAttention(12, 3, batch_first=True).double()
        ref.load_state_dict({k: torch.tensor(v.numpy()) for k, v in mha.state_dict().items()})
        tx = to_torch(x1.detach())
        out = ref(tx, tx, tx, attn_mask=torch.tensor(causal.numpy()), need_weights=False)[0]
        check_close(out1, out, "causal self-attention with your heads against PyTorch", rtol=1e-9, atol=1e-10)


# --- 12.3 transformer block ---------------------------------------------------------------------------------
BLOCK_TO_LAYER = {"ln_1": "norm1", "ln_2": "norm2", "attn": "self_attn", "mlp.0": "linear1", "mlp.2": "linear2"}


def layer_state(block_state):
    """The block's state_dict under nn.TransformerEncoderLayer's names."""
    out = {}
    for key, value in block_state.items():
        prefix = next(p for p in BLOCK_TO_LAYER if key.startswith(p + "."))
        out[BLOCK_TO_LAYER[prefix] + key[len(prefix):]] = value
    return out


def reference_layer(c, h, framework=nn):
    return framework.TransformerEncoderLayer(c, h, 4 * c, dropout=0.0, activation="gelu", batch_first=True,
                                             norm_first=True).double()


def block_pair(Block, seed):
    tt.manual_seed(seed)
    mine = Block(8, 2).double()
    with tt.no_grad():  # non-trivial norms, so that forgetting one shows
        for name, p in mine.named_parameters():
            if name.startswith("ln_"):
                p.copy_(tt.tensor(np.random.default_rng(len(name)).uniform(0.5, 1.5, p.shape)))
    ref = reference_layer(8, 2)
    ref.load_state_dict(layer_state(mine.state_dict()))
    return mine, ref


@pytest.mark.points(1, exercise="12.3", hint="ln_1, attn, ln_2, mlp = Sequential(Linear, GELU, Linear)")
def test_block_state_dict(lab):
    """the block's state_dict keys and shapes are the ones the exercise names"""
    Block = lab.defined("Block")
    got = {k: tuple(v.shape) for k, v in Block(8, 2).state_dict().items()}
    expected = {}
    for k, v in reference_layer(8, 2).state_dict().items():
        for mine, theirs in BLOCK_TO_LAYER.items():
            if k.startswith(theirs + "."):
                expected[mine + k[len(theirs):]] = tuple(v.shape)
    check_equal(dict(sorted(got.items())), dict(sorted(expected.items())), "Block(8, 2)'s {key: shape}")


@pytest.mark.points(4, exercise="12.3", hint="pre-norm: x + attn(ln_1(x)), then x + mlp(ln_2(x)); causal")
def test_block_outputs(lab):
    """outputs equal a causal pre-norm nn.TransformerEncoderLayer (GELU, no dropout) with the same
    weights, and PyTorch's; the first positions do not depend on later ones"""
    mine, ref = block_pair(lab.defined("Block"), 2)
    x = rand((3, 6, 8), 60, grad=False)
    causal = nn.Transformer.generate_square_subsequent_mask(6, dtype=tt.float64)
    got = mine(x)
    check_close(got, ref(x, src_mask=causal, is_causal=True), "the block's output", rtol=1e-9, atol=1e-10)
    if torch is not None:
        theirs = reference_layer(8, 2, torch.nn)
        theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ref.state_dict().items()})
        expected = theirs(to_torch(x), src_mask=torch.tensor(causal.numpy()), is_causal=True)
        check_close(got, expected, "the block's output against PyTorch", rtol=1e-9, atol=1e-10)
    changed = x.detach().clone()
    changed[:, 4:] = 0.0
    check_close(mine(changed)[:, :4], got[:, :4], "positions 0-3 after changing positions 4-5",
                rtol=1e-12, atol=1e-12, hint="the attention must be causal")


@pytest.mark.points(3, exercise="12.3", hint="only tensor ops and library layers: autograd gives the gradients")
def test_block_gradients(lab):
    """the gradients of the input and of every parameter equal the encoder layer's"""
    mine, ref = block_pair(lab.defined("Block"), 3)
    x1 = rand((2, 5, 8), 61)
    x2 = twin(x1)
    causal = nn.Transformer.generate_square_subsequent_mask(5, dtype=tt.float64)
    (mine(x1) ** 2).sum().backward()
    (ref(x2, src_mask=causal, is_causal=True) ** 2).sum().backward()
    check_close(x1.grad, x2.grad, "the input's gradient", rtol=1e-8, atol=1e-10)
    ref_grads = layer_state({k: p.grad for k, p in mine.named_parameters()})
    for name, p in ref.named_parameters():
        check_close(ref_grads[name], p.grad, f"the gradient of {name} (your {name})", rtol=1e-8, atol=1e-10)


# --- 12.4 KV cache -----------------------------------------------------------------------------------------
class RefAttention(nn.Module):
    """The library's causal self-attention with the exercise's parameter names."""

    def __init__(self, n_embd, n_head):
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)

    def forward(self, x, cache=None):
        assert cache is None
        T = x.shape[1]
        out = F.multi_head_attention_forward(
            x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), x.shape[2], self.n_head,
            self.c_attn.weight, self.c_attn.bias, None, None, False, 0.0, self.c_proj.weight, self.c_proj.bias,
            need_weights=False, attn_mask=nn.Transformer.generate_square_subsequent_mask(T, dtype=x.dtype))[0]
        return out.transpose(0, 1)


class SdpaAttention(RefAttention):
    """The same attention written as the GPT example writes it, on F.scaled_dot_product_attention
    (looked up when called, so a test can put the learner's in its place)."""

    def forward(self, x, cache=None):
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
                   for t in self.c_attn(x).split(C, dim=2))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, attention, n_embd, n_head):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.attn = attention(n_embd, n_head)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x, cache=None):
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


class TinyGPT(nn.Module):
    """The model of the notebook, built here with either attention class."""

    def __init__(self, attention, vocab_size=16, block_size=32, n_embd=32, n_head=4, n_layer=2):
        super().__init__()
        self.block_size = block_size
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.blocks = nn.ModuleList([Block(attention, n_embd, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)

    def forward(self, idx, caches=None, start=0):
        x = self.wte(idx) + self.wpe(tt.arange(start, start + idx.shape[1]))
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        return self.head(self.ln_f(x))


def attention_pair(Attention, seed):
    tt.manual_seed(seed)
    mine = Attention(16, 4).double()
    with tt.no_grad():
        for p in mine.parameters():
            p.normal_(0.0, 0.5)
    ref = RefAttention(16, 4).double()
    ref.load_state_dict(mine.state_dict())
    return mine, ref


def gpt_pair(Attention, seed):
    tt.manual_seed(seed)
    ref = TinyGPT(RefAttention)
    with tt.no_grad():  # larger weights than the default: greedy choices that depend on the context
        for p in ref.parameters():
            if p.ndim == 2:
                p.normal_(0.0, 0.3)
    mine = TinyGPT(Attention)
    mine.load_state_dict(ref.state_dict())
    return mine.eval(), ref.eval()


def reference_greedy(model, idx, n):
    with tt.no_grad():
        for _ in range(n):
            idx = tt.cat([idx, model(idx)[:, -1].argmax(-1, keepdim=True)], dim=1)
    return idx


@pytest.mark.points(3, exercise="12.4", hint="c_attn(x).split(n_embd, dim=2) gives q, k, v; then heads, attend, merge")
def test_attention_without_cache(lab):
    """CausalSelfAttention without a cache equals the library's (and PyTorch's) causal multi-head
    attention with the same weights: outputs and gradients"""
    Attention = lab.defined("CausalSelfAttention")
    mine, ref = attention_pair(Attention, 4)
    check_equal(sorted(mine.state_dict()), ["c_attn.bias", "c_attn.weight", "c_proj.bias", "c_proj.weight"],
                "CausalSelfAttention's state_dict keys")
    x1 = rand((2, 7, 16), 70)
    x2 = twin(x1)
    out1, out2 = mine(x1), ref(x2)
    check_close(out1, out2, "CausalSelfAttention(16, 4) on (2, 7, 16)", rtol=1e-9, atol=1e-10)
    (out1 ** 2).sum().backward()
    (out2 ** 2).sum().backward()
    check_close(x1.grad, x2.grad, "the input's gradient", rtol=1e-8, atol=1e-10)
    check_close(mine.c_attn.weight.grad, ref.c_attn.weight.grad, "c_attn.weight's gradient", rtol=1e-8, atol=1e-10)
    if torch is not None:
        mha = torch.nn.MultiheadAttention(16, 4, batch_first=True).double()
        state = mine.state_dict()
        mha.load_state_dict({"in_proj_weight": to_torch(state["c_attn.weight"]),
                             "in_proj_bias": to_torch(state["c_attn.bias"]),
                             "out_proj.weight": to_torch(state["c_proj.weight"]),
                             "out_proj.bias": to_torch(state["c_proj.bias"])})
        tx = to_torch(x1.detach())
        mask = torch.nn.Transformer.generate_square_subsequent_mask(7, dtype=torch.float64)
        out = mha(tx, tx, tx, attn_mask=mask, need_weights=False)[0]
        check_close(out1, out, "CausalSelfAttention against PyTorch", rtol=1e-9, atol=1e-10)


@pytest.mark.points(3, exercise="12.4", hint="prepend cache['k'], cache['v'] along dim 2, then store the longer ones")
def test_cache_one_position_at_a_time(lab):
    """a prompt of 3 positions, then 5 single positions with a cache, give the full sequence's
    outputs; the cache then holds (B, heads, 8, head_dim) keys and values"""
    Attention = lab.defined("CausalSelfAttention")
    mine, _ = attention_pair(Attention, 5)
    x = rand((2, 8, 16), 71, grad=False)
    with tt.no_grad():
        full = mine(x)
        cache = {}
        parts = [mine(x[:, :3], cache)]
        for t in range(3, 8):
            parts.append(mine(x[:, t:t + 1], cache))
    check_close(tt.cat(parts, dim=1), full, "the cached outputs, position by position", rtol=1e-9, atol=1e-10)
    for name in ("k", "v"):
        check(name in cache, f"the cache has no '{name}' after 6 calls")
        check_equal(tuple(cache[name].shape), (2, 4, 8, 4), f"cache['{name}'].shape after 8 positions")


def positions_counter(model):
    """Hooks on every block's c_attn: the list of how many positions each call processed."""
    seen = []
    for block in model.blocks:
        block.attn.c_attn.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[1]))
    return seen


@pytest.mark.points(2, exercise="12.4", hint="greedy: argmax of the last position's logits, appended with tt.cat")
def test_generate_matches_uncached(lab):
    """greedy tokens with the cache equal those without it and those of the library's model"""
    Attention, generate = lab.defined("CausalSelfAttention"), lab.defined("generate")
    mine, ref = gpt_pair(Attention, 6)
    prompt = tt.tensor([[1, 5, 2, 7], [3, 3, 9, 0]])
    expected = reference_greedy(ref, prompt, 20).tolist()
    check_equal(generate(mine, prompt, 20, use_cache=False).tolist(), expected,
                "generate(..., 20, use_cache=False)'s tokens")
    check_equal(generate(mine, prompt, 20, use_cache=True).tolist(), expected,
                "generate(..., 20, use_cache=True)'s tokens")


@pytest.mark.points(2, exercise="12.4", hint="after the prompt, run model(idx[:, -1:], caches=..., start=...)")
def test_cache_does_less_work(lab):
    """with the cache each block's projections see the prompt once, then one position per step"""
    Attention, generate = lab.defined("CausalSelfAttention"), lab.defined("generate")
    mine, ref = gpt_pair(Attention, 7)
    prompt = tt.tensor([[4, 1, 8]])
    seen = positions_counter(mine)
    out = generate(mine, prompt, 12, use_cache=True)
    check_equal(out.tolist(), reference_greedy(ref, prompt, 12).tolist(), "the cached tokens")
    n_layer = len(mine.blocks)
    check_equal(sum(seen), n_layer * (3 + 11), "positions run through the attention projections, cached",
                hint="the prompt once (3), then only the newest token at each of the 11 later steps")
    seen.clear()
    generate(mine, prompt, 12, use_cache=False)
    check_equal(sum(seen), n_layer * sum(range(3, 15)), "positions run without the cache")
