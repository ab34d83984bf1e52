"""F.scaled_dot_product_attention and nn.MultiheadAttention vs PyTorch: the same weights (copied
through load_state_dict), then outputs, attention weights, input and parameter gradients, every
mask kind and option, on every device."""

import numpy as np
import pytest
from nn_helpers import compare_with_torch as _compare
from nn_helpers import copy_torch_weights, needs_torch, to_torch, to_tt, torch

import tinytorch as tt
from tinytorch import nn
from tinytorch.nn import functional as F

pytestmark = [needs_torch, pytest.mark.filterwarnings("ignore:Support for mismatched")]  # PyTorch's notice


# ----------------------------------------------------------------------------- scaled dot-product attention
def _bool_mask(rng, shape):
    mask = rng.random(shape) > 0.4
    mask[..., 0] = True  # every query may attend somewhere
    return mask


SDPA_CASES = [  # (id, q shape, k shape, v shape, kwargs builder)
    ("plain", (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), lambda r: {}),
    ("3d", (2, 4, 5), (2, 6, 5), (2, 6, 3), lambda r: {}),
    ("bool_mask", (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5), lambda r: {"attn_mask": _bool_mask(r, (4, 6))}),
    ("float_mask_per_head", (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5),
     lambda r: {"attn_mask": r.standard_normal((2, 3, 4, 6))}),
    ("causal_short_query", (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5), lambda r: {"is_causal": True}),
    ("causal_square", (1, 2, 5, 4), (1, 2, 5, 4), (1, 2, 5, 4), lambda r: {"is_causal": True}),
    ("causal_and_float_mask", (2, 1, 5, 4), (2, 1, 5, 4), (2, 1, 5, 4),
     lambda r: {"is_causal": True, "attn_mask": r.standard_normal((5, 5))}),
    ("scale", (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5), lambda r: {"scale": 0.37}),
    ("gqa", (2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 5), lambda r: {"enable_gqa": True}),
]


@pytest.mark.parametrize("case", SDPA_CASES, ids=[c[0] for c in SDPA_CASES])
def test_sdpa_matches_torch(case, device, rng):
    _, qs, ks, vs, make_kwargs = case
    kwargs = make_kwargs(rng)
    arrays = [rng.standard_normal(s) for s in (qs, ks, vs)]
    _compare(F.scaled_dot_product_attention, torch.nn.functional.scaled_dot_product_attention, arrays, device,
             kwargs=kwargs)


def test_sdpa_float32(device, rng):
    arrays = [rng.standard_normal((2, 3, 4, 8)) for _ in range(3)]
    _compare(F.scaled_dot_product_attention, torch.nn.functional.scaled_dot_product_attention, arrays, device,
             kwargs={"is_causal": True}, dtype=tt.float32, rtol=1e-5, atol=1e-6)


def test_sdpa_row_with_nothing_to_attend_gives_zeros_and_finite_gradients(device, rng):
    mask = _bool_mask(rng, (4, 6))
    mask[2] = False
    arrays = [rng.standard_normal((2, 4, 5)), rng.standard_normal((2, 6, 5)), rng.standard_normal((2, 6, 5))]
    _compare(F.scaled_dot_product_attention, torch.nn.functional.scaled_dot_product_attention, arrays, device,
             kwargs={"attn_mask": mask})
    out = F.scaled_dot_product_attention(*[to_tt(a, device) for a in arrays], attn_mask=to_tt(mask, device))
    assert np.all(out.numpy()[:, 2] == 0)


def test_sdpa_dropout(device):
    tt.manual_seed(0)
    q = tt.zeros(1, 200, 4, device=device)  # equal scores: every weight is 1/50
    v = tt.ones(1, 50, 3, device=device)
    out = F.scaled_dot_product_attention(q, tt.zeros(1, 50, 4, device=device), v, dropout_p=0.5).numpy()
    # each output is 2/50 * (the number of 50 weights kept): mean 1, spread sqrt(50 * 0.25) * 2/50
    assert abs(out.mean() - 1.0) < 0.05 and 0.08 < out[0, :, 0].std() < 0.2
    assert not np.allclose(out[0, 0], out[0, 1])
    zero = F.scaled_dot_product_attention(q, tt.zeros(1, 50, 4, device=device), v, dropout_p=1.0)
    assert np.all(zero.numpy() == 0)


def test_sdpa_errors():
    q = tt.zeros(1, 2, 3)
    with pytest.raises(RuntimeError, match="same dtype"):
        F.scaled_dot_product_attention(q, q, q.double())
    with pytest.raises(AssertionError, match="only bool and floating types of attn_mask"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=tt.zeros(2, 2, dtype=tt.int64))


# ----------------------------------------------------------------------------- MultiheadAttention
def _mha_pair(device, dtype=tt.float64, **options):
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(8, 2, **options)
    mod = nn.MultiheadAttention(8, 2, **options).to(device, dtype)
    if dtype is tt.float64:
        ref = ref.double()
    copy_torch_weights(mod, ref)
    return mod, ref


def _kpm(batch=2, src=5):
    mask = np.zeros((batch, src), dtype=bool)
    mask[0, 3:] = True
    mask[1, 4:] = True
    return mask


MHA_CASES = [  # (id, constructor options, forward kwargs builder)
    ("default", {}, lambda r: {}),
    ("no_weights", {}, lambda r: {"need_weights": False}),
    ("per_head_weights", {}, lambda r: {"average_attn_weights": False}),
    ("batch_first", {"batch_first": True}, lambda r: {}),
    ("no_bias", {"bias": False}, lambda r: {}),
    ("kdim_vdim", {"kdim": 3, "vdim": 6}, lambda r: {}),
    ("bias_kv_zero_attn", {"add_bias_kv": True, "add_zero_attn": True},
     lambda r: {"key_padding_mask": _kpm(), "attn_mask": r.standard_normal((4, 5))}),
    ("bias_kv_no_weights", {"add_bias_kv": True}, lambda r: {"key_padding_mask": _kpm(), "need_weights": False}),
    ("bool_padding", {}, lambda r: {"key_padding_mask": _kpm()}),
    ("bool_padding_no_weights", {}, lambda r: {"key_padding_mask": _kpm(), "need_weights": False}),
    ("float_padding", {}, lambda r: {"key_padding_mask": r.standard_normal((2, 5))}),
    ("bool_attn_mask", {}, lambda r: {"attn_mask": ~_bool_mask(r, (4, 5))}),
    ("float_attn_mask_3d", {}, lambda r: {"attn_mask": r.standard_normal((4, 4, 5))}),
    ("bool_attn_mask_3d_no_weights", {}, lambda r: {"attn_mask": ~_bool_mask(r, (4, 4, 5)), "need_weights": False}),
    ("both_masks_per_head", {}, lambda r: {"attn_mask": ~_bool_mask(r, (4, 5)), "key_padding_mask": _kpm(),
                                           "average_attn_weights": False}),
]


@pytest.mark.parametrize("case", MHA_CASES, ids=[c[0] for c in MHA_CASES])
def test_mha_matches_torch(case, device, rng):
    _, options, make_kwargs = case
    mod, ref = _mha_pair(device, **options)
    first = options.get("batch_first")
    q_shape, kv = ((2, 4, 8), (2, 5)) if first else ((4, 2, 8), (5, 2))
    arrays = [rng.standard_normal(q_shape), rng.standard_normal(kv + (options.get("kdim", 8),)),
              rng.standard_normal(kv + (options.get("vdim", 8),))]
    _compare(mod, ref, arrays, device, params=(mod, ref), kwargs=make_kwargs(rng))


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_self_attention(batch_first, need_weights, device, rng):
    """query, key and value the same tensor: the one-matmul projection path, and causal masks."""
    mod, ref = _mha_pair(device, batch_first=batch_first)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64).numpy()

    def run(m):
        return lambda x, attn_mask: m(x, x, x, attn_mask=attn_mask, need_weights=need_weights, is_causal=True)

    _compare(run(mod), run(ref), [rng.standard_normal((2, 5, 8) if batch_first else (5, 2, 8))], device,
             params=(mod, ref), kwargs={"attn_mask": mask})


def test_mha_key_is_value(device, rng):
    mod, ref = _mha_pair(device)

    def run(m):
        return lambda q, kv: m(q, kv, kv)

    _compare(run(mod), run(ref), [rng.standard_normal((3, 2, 8)), rng.standard_normal((6, 2, 8))], device,
             params=(mod, ref))


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_unbatched(need_weights, device, rng):
    mod, ref = _mha_pair(device)
    mask = np.zeros(5, dtype=bool)
    mask[3:] = True
    _compare(mod, ref, [rng.standard_normal((4, 8)), rng.standard_normal((5, 8)), rng.standard_normal((5, 8))],
             device, params=(mod, ref), kwargs={"key_padding_mask": mask, "need_weights": need_weights,
                                                "average_attn_weights": False})


def test_mha_float32(device, rng):
    mod, ref = _mha_pair(device, dtype=tt.float32, batch_first=True)
    _compare(mod, ref, [rng.standard_normal((2, 4, 8)) for _ in range(3)], device, params=(mod, ref),
             kwargs={"key_padding_mask": _kpm(2, 4)}, dtype=tt.float32, rtol=1e-5, atol=1e-6)


def test_mha_fully_padded_query_rows_as_torch(device, rng):
    """With the weights written out PyTorch gives NaN for a sequence with every key padded; without
    them (the scaled-dot-product path) zeros. Both are reproduced."""
    mod, ref = _mha_pair(device)
    mask = _kpm(2, 4)
    mask[1] = True
    x = rng.standard_normal((4, 2, 8))
    for need in (True, False):
        out = mod(to_tt(x, device), to_tt(x, device), to_tt(x, device), key_padding_mask=to_tt(mask, device),
                  need_weights=need)[0].detach().numpy()
        expected = ref(to_torch(x), to_torch(x), to_torch(x), key_padding_mask=torch.tensor(mask),
                       need_weights=need)[0].detach().numpy()
        np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-10)  # NaN where expected is NaN
        assert np.isnan(out[:, 1]).all() == need


def test_mha_dropout_in_training_only(device, rng):
    mod, ref = _mha_pair(device, dropout=0.5)
    arrays = [rng.standard_normal((4, 2, 8)) for _ in range(3)]
    mod.eval(), ref.eval()
    _compare(mod, ref, arrays, device, params=(mod, ref))
    mod.train()
    tt.manual_seed(0)
    xs = [to_tt(a, device) for a in arrays]
    out1, w1 = mod(*xs)
    out2, w2 = mod(*xs)
    assert not np.allclose(w1.detach().numpy(), w2.detach().numpy())
    kept = (w1.detach().numpy() != 0).mean()
    assert 0.3 < kept < 0.7  # the returned weights are the dropped-out ones, as PyTorch's
    mod, ref = _mha_pair(device, dropout=1.0)  # p = 1: deterministic, equal to PyTorch's
    _compare(mod, ref, arrays, device, params=(mod, ref))


def test_mha_parameters_and_init():
    for options in ({}, {"kdim": 3, "vdim": 5}, {"bias": False, "add_bias_kv": True}):
        mod, ref = _mha_pair("numpy", **options)
        assert list(mod.state_dict()) == list(ref.state_dict())
        for (name, p), (_, q) in zip(mod.named_parameters(), ref.named_parameters()):
            assert tuple(p.shape) == tuple(q.shape), name
    tt.manual_seed(0)
    mha = nn.MultiheadAttention(64, 4)
    w = mha.in_proj_weight.detach().numpy()
    bound = np.sqrt(6 / (64 + 3 * 64))  # Xavier-uniform over (3E, E)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    assert np.all(mha.in_proj_bias.detach().numpy() == 0) and np.all(mha.out_proj.bias.detach().numpy() == 0)
    assert type(mha.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert repr(mha).replace("tinytorch.", "") == repr(torch.nn.MultiheadAttention(64, 4)).replace("torch.", "")


def test_mha_errors():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    mha = nn.MultiheadAttention(8, 2)
    x = tt.zeros(4, 2, 8)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is \(3, 4\), but should be \(4, 4\)"):
        mha(x, x, x, attn_mask=tt.zeros(3, 4))
    with pytest.raises(AssertionError, match=r"expecting key_padding_mask shape of \(2, 4\)"):
        mha(x, x, x, key_padding_mask=tt.zeros(2, 5, dtype=tt.bool))


# --- the one-node attention (ops/fused.py Attention): second order and the graph it makes ----------
@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_second_order_gradients_match_torch(causal, rng):
    """The recorded backward (create_graph) of the one-node attention: the gradient of a function
    of the first gradients, against PyTorch's double backward of its own attention."""
    arrays = [rng.standard_normal(s) for s in ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7))]
    w = rng.standard_normal((2, 3, 4, 7))
    results = []
    for lib, make in ((tt, lambda a: tt.tensor(a, requires_grad=True)),
                      (torch, lambda a: torch.tensor(a, requires_grad=True))):
        q, k, v = (make(a) for a in arrays)
        out = lib.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=0.4)
        grads = lib.autograd.grad((out * lib.tensor(w)).sum(), (q, k, v), create_graph=True)
        second = lib.autograd.grad(sum((g * g).sum() for g in grads), (q, k, v))
        results.append([t.detach().numpy() for t in (out, *grads, *second)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def test_sdpa_without_mask_or_dropout_is_one_node(rng):
    q, k, v = (tt.tensor(rng.standard_normal((2, 3, 4, 5)), requires_grad=True) for _ in range(3))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert out.grad_fn.name() == "AttentionBackward0"
    assert F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).grad_fn.name() != "AttentionBackward0"
