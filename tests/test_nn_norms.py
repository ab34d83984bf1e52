"""Normalisation, dropout, embedding, bilinear and distance layers against PyTorch: the same
weights (through ``load_state_dict``), outputs, input and parameter gradients, running
statistics, in float64 and float32, on every device; dropout's masks by their structure."""

import warnings

import numpy as np
import pytest
from layer_oracle import check_layer
from nn_helpers import needs_torch, torch

import tinytorch as tt

pytestmark = needs_torch
F = tt.nn.functional

LAYERS = [
    ("groupnorm", lambda m: m.GroupNorm(3, 6), (2, 6, 4, 3)),
    ("groupnorm_1group_3d", lambda m: m.GroupNorm(1, 4, eps=1e-3), (3, 4, 5)),
    ("groupnorm_no_affine", lambda m: m.GroupNorm(2, 4, affine=False), (2, 4, 5)),
    ("groupnorm_no_bias", lambda m: m.GroupNorm(2, 4, bias=False), (2, 4, 5)),
    ("groupnorm_2d_input", lambda m: m.GroupNorm(2, 4), (3, 4)),
    ("instancenorm1d", lambda m: m.InstanceNorm1d(3), (2, 3, 7)),
    ("instancenorm1d_affine_unbatched", lambda m: m.InstanceNorm1d(3, affine=True), (3, 7)),
    ("instancenorm1d_track", lambda m: m.InstanceNorm1d(3, affine=True, track_running_stats=True), (4, 3, 6)),
    ("instancenorm2d", lambda m: m.InstanceNorm2d(3, eps=1e-3), (2, 3, 4, 5)),
    ("instancenorm2d_affine_track", lambda m: m.InstanceNorm2d(3, affine=True, track_running_stats=True,
                                                               momentum=0.3), (2, 3, 4, 5)),
    ("instancenorm2d_cumulative", lambda m: m.InstanceNorm2d(2, track_running_stats=True, momentum=None),
     (2, 2, 3, 3)),
    ("rmsnorm", lambda m: m.RMSNorm(5), (3, 5)),
    ("rmsnorm_shape_eps", lambda m: m.RMSNorm([4, 5], eps=1e-3), (2, 4, 5)),
    ("rmsnorm_no_affine", lambda m: m.RMSNorm(5, elementwise_affine=False), (2, 3, 5)),
    ("local_response_norm", lambda m: m.LocalResponseNorm(3), (2, 5, 4, 3)),
    ("local_response_norm_even_3d", lambda m: m.LocalResponseNorm(2, alpha=0.1, beta=0.5, k=2.0), (2, 5, 7)),
    ("local_response_norm_5d", lambda m: m.LocalResponseNorm(4, alpha=1.0), (1, 6, 2, 3, 2)),
    ("unflatten", lambda m: m.Unflatten(1, (2, 3)), (4, 6, 2)),
    ("identity", lambda m: m.Identity(3, key=1), (2, 3)),
]


@pytest.mark.parametrize("name,make,shape", LAYERS, ids=[s[0] for s in LAYERS])
@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
def test_layer_matches_torch(name, make, shape, dtype_name, device, rng):
    check_layer(make, [rng.standard_normal(shape)], device, dtype_name)


@pytest.mark.parametrize("make,shape", [
    (lambda m: m.InstanceNorm1d(3, affine=True, track_running_stats=True), (4, 3, 6)),
    (lambda m: m.InstanceNorm2d(3, track_running_stats=True, momentum=0.3), (2, 3, 4, 5)),
    (lambda m: m.InstanceNorm2d(2, track_running_stats=True, momentum=None), (2, 2, 3, 3)),
])
def test_instance_norm_running_statistics_and_eval(make, shape, device, rng):
    mod, ref = check_layer(make, [rng.standard_normal(shape)], device)
    for _ in range(2):  # more training steps update the buffers as PyTorch's
        x = rng.standard_normal(shape)
        mod(tt.tensor(x, device=device))
        ref(torch.tensor(x))
    for key, value in ref.state_dict().items():
        np.testing.assert_allclose(mod.state_dict()[key].numpy(), value.numpy(), rtol=1e-10, err_msg=key)
    mod.eval()
    ref.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(mod(tt.tensor(x, device=device)).detach().numpy(),
                               ref(torch.tensor(x)).detach().numpy(), rtol=1e-9, atol=1e-10)


def test_instance_norm_without_running_stats_uses_input_stats_in_eval(device, rng):
    check_layer(lambda m: m.InstanceNorm2d(3, affine=True), [rng.standard_normal((2, 3, 4, 4))], device, train=False)


def test_norm_functional_forms(device, rng):
    x, w, b = rng.standard_normal((2, 6, 5)), rng.standard_normal(6), rng.standard_normal(6)
    tx, tw, tb = (tt.tensor(a, device=device) for a in (x, w, b))
    rx, rw, rb = (torch.tensor(a) for a in (x, w, b))
    pairs = [(F.group_norm(tx, 2, tw, tb, 1e-3), torch.nn.functional.group_norm(rx, 2, rw, rb, 1e-3)),
             (F.instance_norm(tx, weight=tw, bias=tb), torch.nn.functional.instance_norm(rx, weight=rw, bias=rb)),
             (F.rms_norm(tx, (5,)), torch.nn.functional.rms_norm(rx, (5,))),
             (F.rms_norm(tx, (6, 5), eps=0.1), torch.nn.functional.rms_norm(rx, (6, 5), eps=0.1))]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_rms_norm_default_eps_is_the_dtype_epsilon(device):
    for dtype, tdtype in ((tt.float32, torch.float32), (tt.float64, torch.float64)):
        x = np.array([[1e-9, -2e-9, 3e-9]])
        ours = F.rms_norm(tt.tensor(x, dtype=dtype, device=device), (3,)).numpy()
        theirs = torch.nn.functional.rms_norm(torch.tensor(x, dtype=tdtype), (3,)).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_norm_errors_as_torch():
    with pytest.raises(ValueError, match="divisible by num_groups"):
        tt.nn.GroupNorm(4, 6)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(tt.zeros(2, 6, 3), 4)
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        tt.nn.InstanceNorm1d(3)(tt.zeros(2, 3, 1))
    with pytest.raises(ValueError, match="num_features"):
        tt.nn.InstanceNorm1d(3, affine=True)(tt.zeros(2, 4, 5))
    with pytest.raises(RuntimeError, match="normalized_shape"):
        F.rms_norm(tt.zeros(2, 3), (4,))


# --------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("cls,shape,plane", [("Dropout1d", (8, 16, 5), (2,)), ("Dropout1d", (16, 5), (1,)),
                                             ("Dropout2d", (8, 16, 3, 4), (2, 3)), ("Dropout2d", (8, 16, 5), (2,))])
def test_channel_dropout_zeroes_whole_channels(cls, shape, plane, device):
    tt.manual_seed(0)
    p = 0.4
    layer = getattr(tt.nn, cls)(p)
    assert repr(layer) == repr(getattr(torch.nn, cls)(p))
    x = tt.tensor(np.random.default_rng(0).random(shape) + 1.0, device=device, requires_grad=True)
    with pytest.warns(UserWarning) if cls == "Dropout2d" and len(shape) == 3 else _no_warning():
        out = layer(x)
    ratio = (out.detach().numpy() / x.detach().numpy())
    per_channel_min, per_channel_max = ratio.min(axis=plane), ratio.max(axis=plane)
    np.testing.assert_allclose(per_channel_min, per_channel_max)        # one decision per channel
    assert set(np.unique(np.round(per_channel_min, 12))) <= {0.0, round(1 / (1 - p), 12)}
    dropped = (per_channel_min == 0).mean()
    assert 0.2 < dropped < 0.6
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), ratio)                   # gradient = the mask
    layer.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Dropout2d's 3-D warning comes in eval mode too, as PyTorch's
        assert layer(x) is x


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_dropout_edge_probabilities_and_errors(device):
    x = tt.ones(2, 3, 4, device=device)
    assert F.dropout1d(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout1d(x, 1.0).numpy(), np.zeros((2, 3, 4)))
    with pytest.raises(ValueError):
        tt.nn.Dropout2d(1.5)
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        F.dropout1d(tt.ones(2, 3, 4, 5), 0.5)


def test_alpha_dropout_keeps_selu_moments(device):
    tt.manual_seed(0)
    x = tt.randn(200_000, device=device, dtype=tt.float64)
    out = tt.nn.AlphaDropout(0.3)(x).numpy()
    assert abs(out.mean()) < 0.02 and abs(out.std() - 1) < 0.02
    dropped_value = -1.7580993408473766 * (1 / np.sqrt((1.7580993408473766 ** 2 * 0.3 + 1) * 0.7)) + \
        1.7580993408473766 * 0.3 / np.sqrt((1.7580993408473766 ** 2 * 0.3 + 1) * 0.7)
    assert 0.25 < np.isclose(out, dropped_value).mean() < 0.35
    assert tt.nn.AlphaDropout(0.3).eval()(x) is x


# --------------------------------------------------------------------------- embedding
IDS = np.array([[0, 2, 2, 4], [4, 2, 1, 3]])


@pytest.mark.parametrize("kwargs", [dict(), dict(padding_idx=1), dict(padding_idx=-1), dict(scale_grad_by_freq=True),
                                    dict(padding_idx=2, scale_grad_by_freq=True), dict(sparse=True)])
@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
def test_embedding_matches_torch(kwargs, dtype_name, device):
    check_layer(lambda m: m.Embedding(5, 3, **kwargs), [IDS], device, dtype_name)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_embedding_max_norm_renormalises_rows_in_place(norm_type, device):
    mod, ref = check_layer(lambda m: m.Embedding(6, 4, max_norm=1.5, norm_type=norm_type), [IDS], device)
    # the looked-up rows of the weight itself were rescaled (row 5 was never looked up)
    np.testing.assert_allclose(mod.weight.detach().numpy(), ref.weight.detach().numpy(), rtol=1e-12)
    norms = np.linalg.norm(mod.weight.detach().numpy(), ord=norm_type, axis=1)
    assert (norms[np.unique(IDS)] <= 1.5 + 1e-6).all()


def test_embedding_padding_row_is_zero_initialised_and_gets_no_gradient(device):
    e = tt.nn.Embedding(5, 3, padding_idx=2, device=device)
    np.testing.assert_array_equal(e.weight.detach().numpy()[2], 0.0)
    e(tt.tensor(IDS, device=device)).sum().backward()
    np.testing.assert_array_equal(e.weight.grad.numpy()[2], 0.0)
    assert (e.weight.grad.numpy()[[0, 4]] != 0).all()


def test_embedding_from_pretrained(device):
    w = np.arange(12.0).reshape(4, 3)
    for freeze in (True, False):
        ours = tt.nn.Embedding.from_pretrained(tt.tensor(w, device=device), freeze=freeze, padding_idx=0)
        theirs = torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=freeze, padding_idx=0)
        assert ours.weight.requires_grad == theirs.weight.requires_grad and repr(ours) == repr(theirs)
        np.testing.assert_array_equal(ours(tt.tensor([[3, 0]], device=device)).detach().numpy(),
                                      theirs(torch.tensor([[3, 0]])).detach().numpy())


def test_embedding_errors():
    with pytest.raises(ValueError, match="Padding_idx"):
        tt.nn.Embedding(3, 2, padding_idx=3)
    with pytest.raises(RuntimeError, match="Long"):
        F.embedding(tt.tensor([0.0]), tt.zeros(3, 2))


BAG_IDS = np.array([1, 2, 4, 4, 3, 0, 2, 2, 1])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("case", ["2d", "offsets", "empty_bags", "last_offset", "padding", "max_norm"])
@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
def test_embedding_bag_matches_torch(mode, case, dtype_name, device):
    kwargs = dict(mode=mode)
    if case == "padding":
        kwargs["padding_idx"] = 2
    if case == "max_norm":
        kwargs["max_norm"] = 1.0
    if case == "last_offset":
        kwargs["include_last_offset"] = True
    inputs = {"2d": [BAG_IDS[:8].reshape(2, 4)], "offsets": [BAG_IDS, np.array([0, 3, 4])],
              "empty_bags": [BAG_IDS, np.array([0, 0, 5, 5])], "last_offset": [BAG_IDS, np.array([0, 2, 2, 9])],
              "padding": [BAG_IDS, np.array([0, 4, 6])], "max_norm": [BAG_IDS, np.array([0, 4])]}[case]
    check_layer(lambda m: m.EmbeddingBag(6, 3, **kwargs), inputs, device, dtype_name)


def test_embedding_bag_per_sample_weights(device, rng):
    check_layer(lambda m: m.EmbeddingBag(6, 3, mode="sum"), [BAG_IDS, np.array([0, 3, 3]), rng.random(9)], device)
    with pytest.raises(NotImplementedError, match="only supported for mode='sum'"):
        tt.nn.EmbeddingBag(6, 3)(tt.tensor(BAG_IDS), tt.tensor([0, 3]), tt.ones(9))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor"):
        tt.nn.EmbeddingBag(6, 3)(tt.tensor(BAG_IDS))
    with pytest.raises(RuntimeError, match="offsets\\[0\\] has to be 0"):
        tt.nn.EmbeddingBag(6, 3)(tt.tensor(BAG_IDS), tt.tensor([1, 3]))


# --------------------------------------------------------------------------- bilinear, distances
@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
@pytest.mark.parametrize("bias,lead", [(True, (4,)), (False, (2, 3)), (True, ())])
def test_bilinear_matches_torch(bias, lead, dtype_name, device, rng):
    check_layer(lambda m: m.Bilinear(3, 5, 2, bias=bias), [rng.standard_normal(lead + (3,)),
                                                           rng.standard_normal(lead + (5,))], device, dtype_name)


def test_bilinear_initialisation_bound():
    m = tt.nn.Bilinear(16, 3, 4)
    bound = 1 / np.sqrt(16)
    assert tuple(m.weight.shape) == (4, 16, 3)
    assert np.abs(m.weight.detach().numpy()).max() <= bound and np.abs(m.bias.detach().numpy()).max() <= bound
    assert m.weight.detach().numpy().std() > bound / 3


@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
@pytest.mark.parametrize("kwargs,s1,s2", [(dict(), (4, 5), (4, 5)), (dict(dim=0), (5, 3), (5, 1)),
                                          (dict(dim=-1, eps=0.5), (2, 3, 4), (3, 4))])
def test_cosine_similarity_matches_torch(kwargs, s1, s2, dtype_name, device, rng):
    check_layer(lambda m: m.CosineSimilarity(**kwargs), [rng.standard_normal(s1), rng.standard_normal(s2)],
                device, dtype_name)


def test_cosine_similarity_of_a_zero_vector_is_zero(device):
    x = tt.zeros(2, 3, device=device, requires_grad=True)
    out = F.cosine_similarity(x, tt.ones(2, 3, device=device))
    np.testing.assert_array_equal(out.detach().numpy(), torch.nn.functional.cosine_similarity(
        torch.zeros(2, 3), torch.ones(2, 3)).numpy())
    out.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
@pytest.mark.parametrize("kwargs,s1,s2", [(dict(), (4, 5), (4, 5)), (dict(p=1.0, keepdim=True), (4, 5), (1, 5)),
                                          (dict(p=3.0, eps=0.1), (2, 3, 4), (3, 4)),
                                          (dict(p=float("inf")), (4, 5), (4, 5)), (dict(p=0.5), (5,), (5,))])
def test_pairwise_distance_matches_torch(kwargs, s1, s2, dtype_name, device, rng):
    check_layer(lambda m: m.PairwiseDistance(**kwargs), [rng.standard_normal(s1), rng.standard_normal(s2)],
                device, dtype_name)


def test_pairwise_distance_p0_counts_differences(device):
    a, b = np.array([[1.0, 2.0, 3.0]]), np.array([[1.0 - 1e-6, 0.0, 3.0 - 1e-6]])
    ours = F.pairwise_distance(tt.tensor(a, device=device), tt.tensor(b, device=device), p=0)
    np.testing.assert_array_equal(ours.numpy(), torch.nn.functional.pairwise_distance(
        torch.tensor(a), torch.tensor(b), p=0).numpy())
