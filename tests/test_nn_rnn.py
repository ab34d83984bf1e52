"""Recurrent layers and nn.utils.rnn vs PyTorch: the same weights (copied through load_state_dict),
then outputs, final states, input / initial-state gradients and parameter gradients, on every device."""

import warnings

import numpy as np
import pytest
from nn_helpers import copy_torch_weights, needs_torch, to_torch, to_tt, torch

import tinytorch as tt
from tinytorch import nn
from tinytorch.nn.utils import rnn as rnn_utils

pytestmark = needs_torch

MODES = {  # name -> (tinytorch constructor, torch constructor), both taking (input_size, hidden_size, **options)
    "rnn_tanh": (lambda m, *a, **k: m.RNN(*a, **k), lambda *a, **k: torch.nn.RNN(*a, **k)),
    "rnn_relu": (lambda m, *a, **k: m.RNN(*a, nonlinearity="relu", **k),
                 lambda *a, **k: torch.nn.RNN(*a, nonlinearity="relu", **k)),
    "lstm": (lambda m, *a, **k: m.LSTM(*a, **k), lambda *a, **k: torch.nn.LSTM(*a, **k)),
    "gru": (lambda m, *a, **k: m.GRU(*a, **k), lambda *a, **k: torch.nn.GRU(*a, **k)),
}
OPTIONS = [
    {},
    {"num_layers": 2},
    {"bidirectional": True},
    {"num_layers": 2, "bidirectional": True, "batch_first": True},
    {"bias": False, "batch_first": True},
    {"num_layers": 2, "bias": False, "bidirectional": True},
]


def _tensors(out):
    """The tensors of a (nested) layer result, a PackedSequence contributing its data."""
    if isinstance(out, (rnn_utils.PackedSequence, torch.nn.utils.rnn.PackedSequence)):
        return [out.data]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors(o)]
    return [out]


def _pair(mode, device, dtype=tt.float64, **options):
    torch.manual_seed(0)
    ref = MODES[mode][1](3, 4, **options)
    mod = MODES[mode][0](nn, 3, 4, **options)
    if dtype is tt.float64:
        ref = ref.double()
    mod = mod.to(device, dtype)
    copy_torch_weights(mod, ref)
    return mod, ref


def _compare(mod, ref, run, arrays, device, rtol=1e-9, atol=1e-10, dtype=tt.float64):
    """Run ``run(module, *inputs)`` on both sides with ``arrays`` as leaf inputs; weight every
    output by fixed random numbers, sum, backward; compare outputs and all gradients."""
    rng = np.random.default_rng(1)
    tt_in = [to_tt(a, device, dtype=dtype, requires_grad=True) for a in arrays]
    th_in = [to_torch(a.astype(np.float64 if dtype is tt.float64 else np.float32), requires_grad=True)
             for a in arrays]
    outs, refs = _tensors(run(mod, *tt_in)), _tensors(run(ref, *th_in))
    assert len(outs) == len(refs)
    weights = [rng.standard_normal(tuple(r.shape)) for r in refs]
    for o, r in zip(outs, refs):
        assert tuple(o.shape) == tuple(r.shape)
        np.testing.assert_allclose(o.detach().numpy(), r.detach().numpy(), rtol=rtol, atol=atol)
    sum((o * to_tt(w, device, dtype=dtype)).sum() for o, w in zip(outs, weights)).backward()
    sum((r * to_torch(w).to(r.dtype)).sum() for r, w in zip(refs, weights)).backward()
    for i, (a, b) in enumerate(zip(tt_in, th_in)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"input {i}")
    ref_grads = dict(ref.named_parameters())
    for name, p in mod.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), ref_grads[name].grad.numpy(), rtol=rtol, atol=atol, err_msg=name)


# ----------------------------------------------------------------------------- layers
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "default")
@pytest.mark.parametrize("mode", list(MODES))
def test_layer_matches_torch(mode, options, device, rng):
    mod, ref = _pair(mode, device, **options)
    shape = (2, 5, 3) if options.get("batch_first") else (5, 2, 3)
    _compare(mod, ref, lambda m, x: m(x), [rng.standard_normal(shape)], device)


@pytest.mark.parametrize("mode", list(MODES))
def test_layer_float32_matches_torch(mode, device, rng):
    mod, ref = _pair(mode, device, dtype=tt.float32, num_layers=2, bidirectional=True)
    _compare(mod, ref, lambda m, x: m(x), [rng.standard_normal((6, 3, 3))], device, rtol=1e-4, atol=1e-5,
             dtype=tt.float32)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("mode", list(MODES))
def test_initial_states_get_gradients(mode, batch_first, device, rng):
    mod, ref = _pair(mode, device, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = rng.standard_normal((2, 4, 3) if batch_first else (4, 2, 3))
    states = [rng.standard_normal((4, 2, 4)) for _ in range(2 if mode == "lstm" else 1)]
    if mode == "lstm":
        def run(m, x, h, c):
            return m(x, (h, c))
    else:
        def run(m, x, h):
            return m(x, h)
    _compare(mod, ref, run, [x] + states, device)


@pytest.mark.parametrize("mode", list(MODES))
def test_unbatched_input(mode, device, rng):
    mod, ref = _pair(mode, device, num_layers=2, bidirectional=True)
    states = [rng.standard_normal((4, 4)) for _ in range(2 if mode == "lstm" else 1)]
    out, _ = mod(to_tt(rng.standard_normal((5, 3)), device))
    assert out.shape == (5, 8)
    if mode == "lstm":
        def run(m, x, h, c):
            return m(x, (h, c))
    else:
        def run(m, x, h):
            return m(x, h)
    _compare(mod, ref, run, [rng.standard_normal((5, 3))] + states, device)


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("options", [{}, {"num_layers": 2, "bidirectional": True}], ids=["single", "deep-bi"])
@pytest.mark.parametrize("mode", list(MODES))
def test_packed_sequences_match_torch(mode, options, enforce_sorted, device, rng):
    """Variable lengths: packed outputs, the padded form of them and the final states (which are
    the states after each sequence's own last element) equal PyTorch's, gradients too."""
    mod, ref = _pair(mode, device, **options)
    lengths = [6, 4, 4, 1] if enforce_sorted else [3, 6, 1, 4]
    d = 2 if options.get("bidirectional") else 1
    layers = options.get("num_layers", 1)
    states = [rng.standard_normal((d * layers, 4, 4)) for _ in range(2 if mode == "lstm" else 1)]

    def run(m, x, *hx):
        utils = rnn_utils if isinstance(m, nn.Module) else torch.nn.utils.rnn
        packed = utils.pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
        out, h = m(packed, (hx[0], hx[1]) if mode == "lstm" else hx[0])
        assert type(out) is utils.PackedSequence
        padded, out_lengths = utils.pad_packed_sequence(out, padding_value=-1.0)
        assert out_lengths.tolist() == lengths
        return out, padded, h

    _compare(mod, ref, run, [rng.standard_normal((6, 4, 3))] + states, device)


def test_packed_without_initial_state_and_batch_first(device, rng):
    mod, ref = _pair("gru", device, batch_first=True, bidirectional=True)

    def run(m, x):
        utils = rnn_utils if isinstance(m, nn.Module) else torch.nn.utils.rnn
        out, h = m(utils.pack_padded_sequence(x, [2, 5, 3], batch_first=True, enforce_sorted=False))
        return utils.pad_packed_sequence(out, batch_first=True, total_length=6)[0], h

    _compare(mod, ref, run, [rng.standard_normal((3, 5, 3))], device)


def test_dropout_between_layers_only_in_training(device, rng):
    x = rng.standard_normal((4, 2, 3))
    for p in (0.5, 1.0):
        mod, ref = _pair("lstm", device, num_layers=2, dropout=p)
        mod.eval(), ref.eval()
        _compare(mod, ref, lambda m, x: m(x), [x], device)  # eval: no dropout at all
    # p = 1 in training zeroes every input of the second layer: deterministic, equal to PyTorch's
    mod.train(), ref.train()
    _compare(mod, ref, lambda m, x: m(x), [x], device)
    mod, _ = _pair("gru", device, num_layers=2, dropout=0.5)
    xt = to_tt(x, device)
    tt.manual_seed(0)
    a = mod(xt)[0].detach().numpy()
    b = mod(xt)[0].detach().numpy()
    assert np.abs(a - b).max() > 1e-3  # random masks differ from call to call
    mod.eval()
    np.testing.assert_array_equal(mod(xt)[0].detach().numpy(), mod(xt)[0].detach().numpy())


def test_dropout_on_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.2)


# ----------------------------------------------------------------------------- parameters and errors
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("options", OPTIONS[2:4])
def test_parameter_names_shapes_and_init(mode, options):
    mod, ref = _pair(mode, "numpy", **options)
    assert list(mod.state_dict()) == list(ref.state_dict())
    for (name, p), (_, q) in zip(mod.named_parameters(), ref.named_parameters()):
        assert tuple(p.shape) == tuple(q.shape), name
    tt.manual_seed(0)
    fresh = MODES[mode][0](nn, 3, 16, **options)
    bound = 1 / 4
    values = np.concatenate([p.detach().numpy().ravel() for p in fresh.parameters()])
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.95 * bound
    assert abs(values.mean()) < 0.02 and abs(values.std() - bound / np.sqrt(3)) < 0.01  # U(-b, b)
    assert repr(mod) == repr(ref).replace("torch.nn", "tinytorch.nn")


def test_repr_matches_torch():
    assert repr(nn.LSTM(3, 4, 2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)) == \
        repr(torch.nn.LSTM(3, 4, 2, bias=False, batch_first=True, dropout=0.5, bidirectional=True))
    assert repr(nn.RNNCell(3, 4, bias=False, nonlinearity="relu")) == \
        repr(torch.nn.RNNCell(3, 4, bias=False, nonlinearity="relu"))
    assert repr(nn.GRUCell(3, 4)) == repr(torch.nn.GRUCell(3, 4))


def _count_nodes(out, name):
    """How many graph nodes of the Function class ``name`` lie behind ``out``."""
    seen, todo, count = set(), [out.grad_fn], 0
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        count += type(node).__name__ == name
        todo.extend(t.grad_fn for t in node.inputs if isinstance(t, tt.Tensor))
    return count


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_gates_come_from_one_matmul_per_step(mode):
    """All gates of a step come from one matmul with weight_hh; every input projection from one more
    (a product is a ``Matmul`` node, or a ``Linear`` node where F.linear made it in one)."""
    layer = MODES[mode][0](nn, 3, 4)
    out, _ = layer(tt.randn(7, 2, 3))
    assert _count_nodes(out, "Matmul") + _count_nodes(out, "Linear") == 7 + 1


def test_an_lstm_step_is_two_gate_nodes():
    """Each step's gate arithmetic is one LstmCell and one LstmHidden node: no sigmoid, tanh
    or slice nodes of its own (the Python cost of a step is per node)."""
    out, _ = nn.LSTM(3, 4)(tt.randn(7, 2, 3))
    assert _count_nodes(out, "LstmCell") == _count_nodes(out, "LstmHidden") == 7
    assert _count_nodes(out, "Sigmoid") == _count_nodes(out, "Tanh") == 0


def test_errors_name_the_values():
    lstm = nn.LSTM(3, 4, 2)
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D, got 4D"):
        lstm(tt.zeros(1, 2, 3, 3))
    with pytest.raises(RuntimeError, match="Expected 3, got 5"):
        lstm(tt.zeros(2, 2, 5))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(2, 2, 4\), got \[1, 2, 4\]"):
        lstm(tt.zeros(2, 2, 3), (tt.zeros(1, 2, 4), tt.zeros(1, 2, 4)))
    with pytest.raises(RuntimeError, match="should also be 3-D but got 2-D"):
        nn.GRU(3, 4)(tt.zeros(2, 2, 3), tt.zeros(1, 4))
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.GRU(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.RNN(3, 0)
    with pytest.raises(ValueError, match="Expected input to be 1D or 2D, got 3D"):
        nn.GRUCell(3, 4)(tt.zeros(1, 2, 3))


# ----------------------------------------------------------------------------- cells
CELLS = {
    "rnn_tanh": lambda m, **k: m.RNNCell(3, 4, **k),
    "rnn_relu": lambda m, **k: m.RNNCell(3, 4, nonlinearity="relu", **k),
    "lstm": lambda m, **k: m.LSTMCell(3, 4, **k),
    "gru": lambda m, **k: m.GRUCell(3, 4, **k),
}


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("mode", list(CELLS))
def test_cells_match_torch(mode, bias, device, rng):
    torch.manual_seed(0)
    ref = CELLS[mode](torch.nn, bias=bias).double()
    mod = CELLS[mode](nn, bias=bias).to(device, tt.float64)
    copy_torch_weights(mod, ref)
    assert list(mod.state_dict()) == list(ref.state_dict())
    count = 2 if mode == "lstm" else 1

    def run(m, x, *hx):  # three steps, the state carried along
        outs = []
        state = (hx if count == 2 else hx[0]) if hx else None
        for t in range(3):
            state = m(x[t], state)
            outs.append(state)
        return outs

    _compare(mod, ref, run, [rng.standard_normal((3, 2, 3))], device)
    _compare(mod, ref, run, [rng.standard_normal((3, 2, 3))] + [rng.standard_normal((2, 4))] * count, device)
    _compare(mod, ref, run, [rng.standard_normal((3, 3))] + [rng.standard_normal(4)] * count, device)  # unbatched


# ----------------------------------------------------------------------------- nn.utils.rnn
def _seqs(rng, lengths, feature=(2,)):
    return [rng.standard_normal((n,) + feature) for n in lengths]


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_sequence(batch_first, padding_side, device, rng):
    arrays = _seqs(rng, [2, 5, 3], (2, 3))
    tts = [to_tt(a, device, requires_grad=True) for a in arrays]
    ths = [to_torch(a, requires_grad=True) for a in arrays]
    out = rnn_utils.pad_sequence(tts, batch_first, -2.0, padding_side)
    ref = torch.nn.utils.rnn.pad_sequence(ths, batch_first, -2.0, padding_side)
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    w = rng.standard_normal(tuple(ref.shape))
    (out * to_tt(w, device)).sum().backward()
    (ref * to_torch(w)).sum().backward()
    for a, b in zip(tts, ths):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy())
    with pytest.raises(ValueError, match="padding_side"):
        rnn_utils.pad_sequence(tts, padding_side="middle")


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_round_trip(batch_first, enforce_sorted, device, rng):
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    x = rng.standard_normal((4, 6, 2) if batch_first else (6, 4, 2))
    xt, xr = to_tt(x, device, requires_grad=True), to_torch(x, requires_grad=True)
    packed = rnn_utils.pack_padded_sequence(xt, tt.tensor(lengths), batch_first, enforce_sorted)
    ref = torch.nn.utils.rnn.pack_padded_sequence(xr, torch.tensor(lengths), batch_first, enforce_sorted)
    np.testing.assert_array_equal(packed.data.detach().numpy(), ref.data.detach().numpy())
    assert packed.batch_sizes.tolist() == ref.batch_sizes.tolist()
    for mine, theirs in ((packed.sorted_indices, ref.sorted_indices), (packed.unsorted_indices, ref.unsorted_indices)):
        assert (mine is None and theirs is None) or mine.tolist() == theirs.tolist()
    padded, lens = rnn_utils.pad_packed_sequence(packed, batch_first, 7.0, total_length=7)
    padded_ref, lens_ref = torch.nn.utils.rnn.pad_packed_sequence(ref, batch_first, 7.0, total_length=7)
    np.testing.assert_array_equal(padded.detach().numpy(), padded_ref.detach().numpy())
    assert lens.tolist() == lens_ref.tolist() == lengths
    w = rng.standard_normal(tuple(padded_ref.shape))
    (padded * to_tt(w, device)).sum().backward()
    (padded_ref * to_torch(w)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy())


def test_pack_sequence_and_unpack(device, rng):
    arrays = _seqs(rng, [2, 4, 1])
    packed = rnn_utils.pack_sequence([to_tt(a, device) for a in arrays], enforce_sorted=False)
    ref = torch.nn.utils.rnn.pack_sequence([to_torch(a) for a in arrays], enforce_sorted=False)
    np.testing.assert_array_equal(packed.data.numpy(), ref.data.numpy())
    for a, b in zip(rnn_utils.unpack_sequence(packed), arrays):
        np.testing.assert_array_equal(a.numpy(), b)
    padded = rnn_utils.pad_sequence([to_tt(a, device) for a in arrays], batch_first=True)
    for a, b in zip(rnn_utils.unpad_sequence(padded, [2, 4, 1], batch_first=True), arrays):
        np.testing.assert_array_equal(a.numpy(), b)
    assert packed.to(tt.float64).data.dtype is tt.float64 and packed.float().data.dtype is tt.float32
    assert isinstance(packed, tuple) and len(packed) == 4  # a named tuple, as PyTorch's


def test_pack_errors():
    x = tt.zeros(5, 3, 2)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        rnn_utils.pack_padded_sequence(x, [2, 5, 3])
    with pytest.raises(RuntimeError, match="Expected `len\\(lengths\\)` to be equal to batch_size, but got 2"):
        rnn_utils.pack_padded_sequence(x, [2, 1])
    with pytest.raises(RuntimeError, match="greater than 0"):
        rnn_utils.pack_padded_sequence(x, [3, 2, 0])
    packed = rnn_utils.pack_padded_sequence(x, [5, 2, 1])
    with pytest.raises(ValueError, match="total_length=3 and max sequence length being 5"):
        rnn_utils.pad_packed_sequence(packed, total_length=3)


def test_torch_style_imports():
    from tinytorch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: F401
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nn.utils.rnn.PackedSequence is rnn_utils.PackedSequence


def test_all_weights_and_flatten_parameters():
    lstm = nn.LSTM(3, 4, 2, bidirectional=True, bias=False)
    ref = torch.nn.LSTM(3, 4, 2, bidirectional=True, bias=False)
    assert [[tuple(p.shape) for p in ws] for ws in lstm.all_weights] == \
        [[tuple(p.shape) for p in ws] for ws in ref.all_weights]
    assert lstm.all_weights[1][0] is lstm.weight_ih_l0_reverse
    lstm.flatten_parameters()  # a no-op that PyTorch programs call
