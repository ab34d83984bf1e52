"""Transformer layers, stacks and nn.Transformer vs PyTorch: the same weights (copied through
load_state_dict, which also checks the state-dict keys), then outputs, input and parameter
gradients, for every option and mask kind, on every device."""

import numpy as np
import pytest
from nn_helpers import compare_with_torch, copy_torch_weights, needs_torch, to_tt, torch

import tinytorch as tt
from tinytorch import nn

pytestmark = [needs_torch,  # PyTorch's own deprecation and fast-path notices are not under test here
              pytest.mark.filterwarnings("ignore:Support for mismatched", "ignore:enable_nested_tensor is True",
                                         "ignore:The PyTorch API of nested tensors")]

D, HEADS, FF = 8, 2, 16


def _pair(make, device, dtype=tt.float64):
    """``make(nn_module)`` built from torch.nn and from tinytorch.nn, weights copied."""
    torch.manual_seed(0)
    ref = make(torch.nn)
    mod = make(nn).to(device, dtype)
    if dtype is tt.float64:
        ref = ref.double()
    assert list(mod.state_dict()) == list(ref.state_dict())
    copy_torch_weights(mod, ref)
    return mod, ref


def _padding(batch, length):
    mask = np.zeros((batch, length), dtype=bool)
    mask[0, length - 2:] = True
    mask[-1, length - 1:] = True
    return mask


def _causal(n):
    return torch.nn.Transformer.generate_square_subsequent_mask(n, dtype=torch.float64).numpy()


OPTIONS = [
    ("post_norm", {}),
    ("pre_norm", {"norm_first": True}),
    ("gelu", {"activation": "gelu"}),
    ("batch_first", {"batch_first": True}),
    ("no_bias", {"bias": False, "layer_norm_eps": 1e-3}),
    ("pre_norm_gelu_batch_first", {"norm_first": True, "activation": "gelu", "batch_first": True}),
]
ENCODER_MASKS = [
    ("none", lambda s, n: {}),
    ("causal_float", lambda s, n: {"src_mask": _causal(s)}),
    ("causal_hint", lambda s, n: {"src_mask": _causal(s), "is_causal": True}),
    ("bool_mask_and_padding", lambda s, n: {"src_mask": np.triu(np.ones((s, s), dtype=bool), 1),
                                            "src_key_padding_mask": _padding(n, s)}),
    ("float_padding", lambda s, n: {"src_key_padding_mask": np.where(_padding(n, s), -1e9, 0.0)}),
]


def _shape(options, length, batch=3):
    return (batch, length, D) if options.get("batch_first") else (length, batch, D)


@pytest.mark.parametrize("masks", ENCODER_MASKS, ids=[m[0] for m in ENCODER_MASKS])
@pytest.mark.parametrize("options", OPTIONS, ids=[o[0] for o in OPTIONS])
def test_encoder_layer_matches_torch(options, masks, device, rng):
    opts = options[1]
    mod, ref = _pair(lambda m: m.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, **opts), device)
    compare_with_torch(mod, ref, [rng.standard_normal(_shape(opts, 5))], device, params=(mod, ref),
                       kwargs=masks[1](5, 3))


def test_encoder_layer_callable_activation(device, rng):
    torch.manual_seed(0)
    ref = torch.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, activation=torch.nn.functional.silu).double()
    mod = nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, activation=nn.functional.silu).to(device, tt.float64)
    copy_torch_weights(mod, ref)
    compare_with_torch(mod, ref, [rng.standard_normal((4, 2, D))], device, params=(mod, ref))
    module_act = nn.TransformerEncoderLayer(D, HEADS, FF, activation=nn.GELU())
    assert "activation" in dict(module_act.named_children())  # a module activation is a submodule, as PyTorch


def test_encoder_layer_float32(device, rng):
    mod, ref = _pair(lambda m: m.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, batch_first=True), device,
                     dtype=tt.float32)
    compare_with_torch(mod, ref, [rng.standard_normal((2, 5, D))], device, params=(mod, ref),
                       kwargs={"src_key_padding_mask": _padding(2, 5)}, dtype=tt.float32, rtol=1e-4, atol=1e-5)


DECODER_MASKS = [
    ("none", lambda t, s, n: {}),
    ("causal", lambda t, s, n: {"tgt_mask": _causal(t)}),
    ("causal_hint_and_padding", lambda t, s, n: {"tgt_mask": _causal(t), "tgt_is_causal": True,
                                                 "tgt_key_padding_mask": _padding(n, t),
                                                 "memory_key_padding_mask": _padding(n, s)}),
    ("memory_mask", lambda t, s, n: {"memory_mask": np.random.default_rng(3).standard_normal((t, s))}),
]


@pytest.mark.parametrize("masks", DECODER_MASKS, ids=[m[0] for m in DECODER_MASKS])
@pytest.mark.parametrize("options", OPTIONS, ids=[o[0] for o in OPTIONS])
def test_decoder_layer_matches_torch(options, masks, device, rng):
    opts = options[1]
    mod, ref = _pair(lambda m: m.TransformerDecoderLayer(D, HEADS, FF, dropout=0.0, **opts), device)
    arrays = [rng.standard_normal(_shape(opts, 4)), rng.standard_normal(_shape(opts, 6))]
    compare_with_torch(mod, ref, arrays, device, params=(mod, ref), kwargs=masks[1](4, 6, 3))


@pytest.mark.parametrize("options", OPTIONS[:4], ids=[o[0] for o in OPTIONS[:4]])
def test_stacks_match_torch(options, device, rng):
    opts = options[1]

    def encoder(m):
        return m.TransformerEncoder(m.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, **opts), 2,
                                    norm=m.LayerNorm(D), enable_nested_tensor=False)

    def decoder(m):
        return m.TransformerDecoder(m.TransformerDecoderLayer(D, HEADS, FF, dropout=0.0, **opts), 2,
                                    norm=m.LayerNorm(D))

    mod, ref = _pair(encoder, device)
    assert "layers.1.self_attn.in_proj_weight" in mod.state_dict()
    assert mod.layers[0].linear1.weight is not mod.layers[1].linear1.weight  # independent copies
    kwargs = {"mask": _causal(5), "src_key_padding_mask": _padding(3, 5)}
    compare_with_torch(mod, ref, [rng.standard_normal(_shape(opts, 5))], device, params=(mod, ref), kwargs=kwargs)
    mod, ref = _pair(decoder, device)
    kwargs = {"tgt_mask": _causal(4), "memory_key_padding_mask": _padding(3, 6)}
    compare_with_torch(mod, ref, [rng.standard_normal(_shape(opts, 4)), rng.standard_normal(_shape(opts, 6))],
                       device, params=(mod, ref), kwargs=kwargs)


@pytest.mark.parametrize("options", OPTIONS, ids=[o[0] for o in OPTIONS])
def test_transformer_matches_torch(options, device, rng):
    opts = options[1]
    mod, ref = _pair(lambda m: m.Transformer(D, HEADS, 2, 2, FF, dropout=0.0, **opts), device)
    kwargs = {"tgt_mask": _causal(4), "src_key_padding_mask": _padding(3, 5), "tgt_key_padding_mask": _padding(3, 4),
              "memory_key_padding_mask": _padding(3, 5)}
    compare_with_torch(mod, ref, [rng.standard_normal(_shape(opts, 5)), rng.standard_normal(_shape(opts, 4))],
                       device, params=(mod, ref), kwargs=kwargs)


def test_transformer_unbatched(device, rng):
    mod, ref = _pair(lambda m: m.Transformer(D, HEADS, 1, 1, FF, dropout=0.0), device)
    compare_with_torch(mod, ref, [rng.standard_normal((5, D)), rng.standard_normal((4, D))], device,
                       params=(mod, ref), kwargs={"tgt_mask": _causal(4)})


def test_dropout_in_training_only(device, rng):
    mod, ref = _pair(lambda m: m.Transformer(D, HEADS, 1, 1, FF, dropout=0.3), device)
    arrays = [rng.standard_normal((5, 2, D)), rng.standard_normal((4, 2, D))]
    mod.eval(), ref.eval()
    compare_with_torch(mod, ref, arrays, device, params=(mod, ref))
    mod.train()
    src, tgt = (to_tt(a, device) for a in arrays)
    tt.manual_seed(0)
    a, b = mod(src, tgt).detach().numpy(), mod(src, tgt).detach().numpy()
    assert np.abs(a - b).max() > 1e-3
    mod, ref = _pair(lambda m: m.TransformerEncoderLayer(D, HEADS, FF, dropout=1.0), device)
    # p = 1 zeroes both residual branches: a post-norm layer is then norm2(norm1(x)), deterministic
    compare_with_torch(mod, ref, arrays[:1], device)


def test_square_subsequent_mask(device):
    mask = nn.Transformer.generate_square_subsequent_mask(4, device=device)
    expected = torch.nn.Transformer.generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(mask.numpy(), expected.numpy())
    assert mask.dtype is tt.float32 and str(mask.device) == device
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=tt.float64).dtype is tt.float64


def test_transformer_init_and_keys():
    tt.manual_seed(0)
    model = nn.Transformer(16, 4, 1, 1, 32)
    keys = list(torch.nn.Transformer(16, 4, 1, 1, 32).state_dict())
    assert list(model.state_dict()) == keys
    assert "encoder.layers.0.self_attn.in_proj_weight" in keys and "decoder.norm.weight" in keys
    w = model.encoder.layers[0].linear1.weight.detach().numpy()  # (32, 16): Xavier-uniform, as PyTorch
    bound = np.sqrt(6 / (16 + 32))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound


def test_errors():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(D, HEADS, activation="tanh")
    model = nn.Transformer(D, HEADS, 1, 1, FF)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(tt.zeros(5, 2, D), tt.zeros(4, 3, D))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        model(tt.zeros(5, 2, D), tt.zeros(4, 2, D + 1))


@pytest.mark.parametrize("case", ["fast_path", "grad_wanted", "norm_first", "not_batch_first", "right_aligned_only"])
def test_encoder_inference_zeros_padded_positions_like_torch(case, device, rng):
    """PyTorch's nested-tensor inference path returns zeros at padded positions; so do we, under
    the same conditions, and only then."""
    opts = {"norm_first": case == "norm_first", "batch_first": case != "not_batch_first"}

    def encoder(m):
        return m.TransformerEncoder(m.TransformerEncoderLayer(D, HEADS, FF, **opts), 2, norm=m.LayerNorm(D))

    mod, ref = _pair(encoder, device)
    mod.eval(), ref.eval()
    padding = _padding(3, 5)
    if case == "right_aligned_only":
        padding[1, 0] = True  # padding at the start: not left aligned, so no nested path
    x = rng.standard_normal(_shape(opts, 5))
    grad = case == "grad_wanted"
    with torch.set_grad_enabled(grad), tt.set_grad_enabled(grad):
        out = mod(to_tt(x, device), src_key_padding_mask=to_tt(padding, device))
        expected = ref(torch.tensor(x), src_key_padding_mask=torch.tensor(padding))
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-9, atol=1e-10)
    zeroed = np.all(out.detach().numpy()[padding if opts["batch_first"] else padding.T] == 0)
    assert zeroed == (case == "fast_path")
