"""nn.Module machinery: registration, names, state dicts, modes, devices, printing, initialisation."""

import math

import numpy as np
import pytest

import tinytorch as tt

if not hasattr(tt, "Tensor"):
    pytest.skip("the Tensor layer (tinytorch.Tensor) is missing", allow_module_level=True)

from nn_helpers import needs_torch, torch  # noqa: E402

from tinytorch import nn  # noqa: E402


def build(m):
    """The same model in tinytorch (m = tinytorch.nn) or torch (m = torch.nn)."""
    class Net(m.Module):
        def __init__(self):
            super().__init__()
            self.features = m.Sequential(m.Conv2d(1, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(), m.MaxPool2d(2))
            self.heads = m.ModuleList([m.Linear(4 * 2 * 2, 3), m.Linear(3, 2, bias=False)])
            self.norm = m.LayerNorm(3)
            self.emb = m.Embedding(5, 3)
            self.drop = m.Dropout(0.1)

        def forward(self, x):
            h = self.features(x).flatten(1)
            return self.heads[1](self.norm(self.heads[0](h)))
    return Net()


def test_named_parameters_and_children():
    net = build(nn)
    names = [n for n, _ in net.named_parameters()]
    assert names == ["features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
                     "heads.0.weight", "heads.0.bias", "heads.1.weight", "norm.weight", "norm.bias", "emb.weight"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert [n for n, _ in net.named_children()] == ["features", "heads", "norm", "emb", "drop"]
    assert len(list(net.modules())) == 1 + 1 + 4 + 1 + 2 + 3
    assert [n for n, _ in net.named_buffers()] == ["features.1.running_mean", "features.1.running_var",
                                                   "features.1.num_batches_tracked"]


@needs_torch
def test_state_dict_keys_and_repr_match_torch():
    ours, ref = build(nn), build(torch.nn)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    for k, v in ref.state_dict().items():
        assert tuple(ours.state_dict()[k].shape) == tuple(v.shape), k
    assert repr(ours) == repr(ref)


def test_shared_parameter_listed_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_setattr_registration_rules():
    m = nn.Module()
    m.w = nn.Parameter(tt.zeros(2))
    m.sub = nn.Linear(2, 2)
    m.plain = tt.zeros(2)                  # a plain tensor attribute is not a parameter
    m.register_buffer("buf", tt.ones(1))
    m.register_buffer("tmp", tt.ones(1), persistent=False)
    assert [n for n, _ in m.named_parameters()] == ["w", "sub.weight", "sub.bias"]
    assert list(m.state_dict()) == ["w", "buf", "sub.weight", "sub.bias"]
    with pytest.raises(TypeError):
        m.w = tt.zeros(2)                  # replacing a parameter needs a Parameter (or None)
    m.w = None
    assert [n for n, _ in m.named_parameters()] == ["sub.weight", "sub.bias"]
    m.sub = nn.Identity()
    assert list(m.parameters()) == []
    with pytest.raises(AttributeError):
        _ = m.missing
    del m.buf
    assert "buf" not in m.state_dict()


def test_load_state_dict_copies_in_place_and_is_strict():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    w = b.weight
    b.load_state_dict(a.state_dict())
    assert b.weight is w                                         # same Parameter object, new values
    np.testing.assert_array_equal(b.weight.detach().numpy(), a.weight.detach().numpy())
    state = a.state_dict()
    state["extra"] = tt.zeros(1)
    del state["bias"]
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "bias"') as info:
        b.load_state_dict(state)
    assert 'Unexpected key(s) in state_dict: "extra"' in str(info.value)
    result = b.load_state_dict(state, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]
    with pytest.raises(RuntimeError, match=r"size mismatch for weight"):
        b.load_state_dict({"weight": tt.zeros(3, 3), "bias": tt.zeros(2)})


def test_state_dict_tensors_are_detached_views():
    lin = nn.Linear(2, 2)
    sd = lin.state_dict()
    assert not sd["weight"].requires_grad
    with tt.no_grad():
        lin.weight.data[...] = 7.0
    assert sd["weight"].numpy().tolist() == [[7.0, 7.0], [7.0, 7.0]]  # shares storage, like PyTorch


def test_train_eval_and_zero_grad():
    net = build(nn)
    assert all(m.training for m in net.modules())
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert net.drop.training
    out = net(tt.randn(2, 1, 4, 4))
    out.sum().backward()
    assert all(p.grad is not None for n, p in net.named_parameters() if not n.startswith("emb"))
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_to_device_and_dtype(device):
    net = build(nn)
    first = net.heads[0].weight
    net.to(device).double()
    assert net.heads[0].weight is first             # same Parameter object, as PyTorch
    for p in net.parameters():
        assert p.dtype == tt.float64 and isinstance(p, nn.Parameter)
        assert p.device == tt.tensor([0.0], device=device).device
    assert net.features[1].num_batches_tracked.dtype == tt.int64  # integer buffers keep their dtype
    out = net(tt.randn(2, 1, 4, 4, dtype=tt.float64, device=device))
    assert out.dtype == tt.float64


def test_apply_and_custom_init():
    net = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1))

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)
            nn.init.zeros_(m.bias)
    net.apply(init_weights)
    assert net(tt.ones(1, 3)).item() == pytest.approx(0.5 * 3 * 1.5)


def test_print_model():
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    assert repr(model) == ("Sequential(\n  (0): Linear(in_features=784, out_features=256, bias=True)\n"
                           "  (1): ReLU()\n  (2): Linear(in_features=256, out_features=10, bias=True)\n)")


def test_sequential_and_modulelist_indexing():
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Tanh())
    assert isinstance(seq[-1], nn.Tanh) and len(seq[1:]) == 2 and len(seq) == 3
    seq.append(nn.Sigmoid())
    assert list(seq.state_dict()) == ["0.weight", "0.bias"] and isinstance(seq[3], nn.Sigmoid)
    ml = nn.ModuleList([nn.ReLU()])
    ml.append(nn.Linear(1, 1))
    ml.insert(0, nn.Tanh())
    assert [type(m).__name__ for m in ml] == ["Tanh", "ReLU", "Linear"]
    assert list(ml.state_dict()) == ["2.weight", "2.bias"]
    with pytest.raises(IndexError):
        ml[3]


# ---------------------------------------------------------------- initialisation (PyTorch's distributions)
def test_linear_and_conv_init_bounds():
    tt.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = lin.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound         # U(-b, b) has std b / sqrt(3)
    assert abs(w.mean()) < 0.01 * bound
    assert np.abs(lin.bias.detach().numpy()).max() <= bound
    conv = nn.Conv2d(16, 32, 3)
    cb = 1 / math.sqrt(16 * 9)
    cw = conv.weight.detach().numpy()
    assert np.abs(cw).max() <= cb and abs(cw.std() - cb / math.sqrt(3)) < 0.05 * cb
    emb = nn.Embedding(1000, 50).weight.detach().numpy()
    assert abs(emb.std() - 1) < 0.02 and abs(emb.mean()) < 0.02
    bn = nn.BatchNorm2d(3)
    assert bn.weight.tolist() == [1.0] * 3 and bn.bias.tolist() == [0.0] * 3


@pytest.mark.parametrize("fn,expected_std", [
    (lambda t: nn.init.kaiming_normal_(t, nonlinearity="relu"), math.sqrt(2 / 200)),
    (lambda t: nn.init.kaiming_uniform_(t, nonlinearity="relu"), math.sqrt(2 / 200)),
    (lambda t: nn.init.xavier_uniform_(t), math.sqrt(2 / (200 + 300))),
    (lambda t: nn.init.xavier_normal_(t, gain=2.0), 2 * math.sqrt(2 / (200 + 300))),
    (lambda t: nn.init.normal_(t, 1.0, 0.5), 0.5),
    (lambda t: nn.init.uniform_(t, -3, 3), 3 / math.sqrt(3)),
])
def test_init_functions_std(fn, expected_std):
    tt.manual_seed(1)
    t = tt.empty(300, 200)
    assert fn(t) is t
    assert abs(t.numpy().std() - expected_std) < 0.02 * expected_std


def test_init_constants_and_gain():
    t = nn.Parameter(tt.empty(2, 3))
    nn.init.ones_(t)
    assert t.requires_grad and t.tolist() == [[1.0] * 3] * 2
    nn.init.constant_(t, 0.25)
    assert t.tolist() == [[0.25] * 3] * 2
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert nn.init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    with pytest.raises(ValueError):
        nn.init.calculate_gain("swish")
    with pytest.raises(ValueError, match="fewer than 2"):
        nn.init.xavier_uniform_(tt.empty(3))


def test_manual_seed_makes_init_reproducible():
    tt.manual_seed(5)
    a = nn.Linear(4, 4).weight.detach().numpy()
    tt.manual_seed(5)
    b = nn.Linear(4, 4).weight.detach().numpy()
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- clip_grad_norm_
@needs_torch
@pytest.mark.parametrize("norm_type,max_norm", [(2.0, 0.5), (1.0, 100.0), (float("inf"), 0.1)])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, rng):
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    ours = [nn.Parameter(tt.zeros(*g.shape, dtype=tt.float64)) for g in grads]
    ref = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, q, g in zip(ours, ref, grads):
        p.grad = tt.tensor(g)
        q.grad = torch.tensor(g)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    total_ref = torch.nn.utils.clip_grad_norm_(ref, max_norm, norm_type)
    assert total.item() == pytest.approx(total_ref.item(), rel=1e-12)
    for p, q in zip(ours, ref):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)


@needs_torch
def test_clip_grad_norm_float32_many_gradients_matches_torch(rng):
    """The 2-norm's array path (one sum of squares per gradient): PyTorch's total and clipped
    gradients in float32, the total a float32 scalar like theirs."""
    grads = [rng.standard_normal(s).astype(np.float32) for s in [(64, 32), (32,), (7, 5, 3), (1,), (200,)]]
    ours = [nn.Parameter(tt.zeros(*g.shape)) for g in grads]
    ref = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, q, g in zip(ours, ref, grads):
        p.grad, q.grad = tt.tensor(g), torch.tensor(g)
    total = nn.utils.clip_grad_norm_(ours, 1.0)
    total_ref = torch.nn.utils.clip_grad_norm_(ref, 1.0)
    assert total.dtype == tt.float32 and total.shape == ()
    assert total.item() == pytest.approx(total_ref.item(), rel=1e-6)
    for p, q in zip(ours, ref):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6, atol=1e-9)


def _model_with_containers(lib, ones):
    class Model(lib.Module):
        def __init__(self):
            super().__init__()
            self.heads = lib.ModuleDict({"cls": lib.Linear(3, 2), "act": lib.ReLU()})
            self.heads["box"] = lib.Linear(3, 4)
            self.scales = lib.ParameterList([lib.Parameter(ones(2))])
            self.scales.append(ones(3))
            self.gates = lib.ParameterDict({"g": ones(1)})

        def forward(self, x):
            return self.heads["cls"](x) * self.scales[0] + self.gates["g"]

    return Model()


@needs_torch
def test_dict_and_list_containers_register_like_pytorchs():
    ours, ref = _model_with_containers(nn, tt.ones), _model_with_containers(torch.nn, torch.ones)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict({k: tt.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(ours(tt.tensor(x)).detach().numpy(), ref(torch.tensor(x)).detach().numpy(), rtol=1e-6)
    assert len(list(ours.parameters())) == len(list(ref.parameters())) == 7


def test_module_dict_behaves_as_a_dict():
    d = nn.ModuleDict([("a", nn.ReLU()), ("b", nn.Tanh())])
    assert list(d) == ["a", "b"] and "a" in d and len(d) == 2
    d.update({"c": nn.Sigmoid()})
    assert isinstance(d.pop("a"), nn.ReLU) and list(d.keys()) == ["b", "c"]
    del d["b"]
    assert list(d.values())[0].__class__ is nn.Sigmoid
    with pytest.raises(TypeError, match="not a Module"):
        d["x"] = 3


def test_parameter_list_wraps_tensors_and_checks_indices():
    pl = nn.ParameterList([tt.ones(2), tt.zeros(3)])
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in pl)
    assert pl[-1].shape == (3,)
    with pytest.raises(IndexError, match="out of range"):
        pl[2]


def test_trunc_normal_stays_inside_its_bounds_with_the_truncated_mean():
    tt.manual_seed(0)
    w = nn.init.trunc_normal_(tt.empty(40000), mean=1.0, std=2.0, a=-1.0, b=2.0).numpy()
    assert w.min() >= -1.0 and w.max() <= 2.0
    # the mean of N(1, 4) truncated to [-1, 2]: mu + sigma * (pdf(alpha) - pdf(beta)) / (cdf(beta) - cdf(alpha))
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: (1 + math.erf(z / math.sqrt(2))) / 2  # noqa: E731
    alpha, beta = -1.0, 0.5
    expected = 1.0 + 2.0 * (pdf(alpha) - pdf(beta)) / (cdf(beta) - cdf(alpha))
    assert abs(w.mean() - expected) < 0.02
    assert abs(nn.init.trunc_normal_(tt.empty(40000), std=0.02).numpy().std() - 0.02) < 0.001


@pytest.mark.parametrize("shape", [(5, 8), (8, 3), (4, 2, 3, 3)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    tt.manual_seed(1)
    w = nn.init.orthogonal_(tt.empty(*shape), gain=1.5).reshape(shape[0], -1).numpy().astype(np.float64)
    small = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(small, 1.5**2 * np.eye(min(w.shape)), atol=1e-5)
    with pytest.raises(ValueError):
        nn.init.orthogonal_(tt.empty(3))


def test_eye_dirac_and_sparse():
    np.testing.assert_array_equal(nn.init.eye_(tt.empty(3, 4)).numpy(), np.eye(3, 4))
    with pytest.raises(ValueError):
        nn.init.eye_(tt.empty(2, 2, 2))
    w = nn.init.dirac_(tt.empty(4, 2, 3, 3), groups=2)  # 2 groups of 2 output channels
    x = tt.randn(1, 4, 5, 5)
    y = tt.nn.functional.conv2d(x, w, padding=1, groups=2)
    np.testing.assert_allclose(y.numpy(), x.numpy(), atol=1e-6)  # the identity convolution
    with pytest.raises(ValueError):
        nn.init.dirac_(tt.empty(3, 3))
    s = nn.init.sparse_(tt.empty(10, 6), sparsity=0.3, std=0.5).numpy()
    assert ((s == 0).sum(axis=0) == 3).all() and s.std() > 0.1
