"""tinytorch.onnx against PyTorch's exporter and onnxruntime.

Import: models that PyTorch 2.13 exports here (``torch.onnx.export(..., dynamo=True)``: an MLP,
a CNN with BatchNorm, a transformer encoder layer with a dynamic batch and sequence, multi-head
attention) are loaded by :func:`tinytorch.onnx.load` and must give PyTorch's and onnxruntime's
outputs on fresh inputs, on every device, and fine-tune. Export: tinytorch models of the same
families must pass ``onnx.checker`` and run in onnxruntime to our outputs.

Environmental skips only: the PyTorch parts without torch (or onnxscript, which its exporter
needs), the onnxruntime comparisons without onnxruntime, everything but the import test without
onnx.
"""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as F
import tinytorch.onnx as tonnx
from tinytorch import nn


def _onnx():
    return pytest.importorskip("onnx", reason="the onnx package (tinytorch[onnx]) is not installed")


def _ort():
    return pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")


def _torch():
    torch = pytest.importorskip("torch", reason="PyTorch (the oracle) is not installed")
    pytest.importorskip("onnxscript", reason="onnxscript (needed by torch.onnx.export) is not installed")
    return torch


def run_ort(path_or_proto, *inputs: np.ndarray) -> list[np.ndarray]:
    ort = _ort()
    source = path_or_proto if isinstance(path_or_proto, str) else path_or_proto.SerializeToString()
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, inputs)))


def ours(module, *inputs: np.ndarray, device: str | None = None) -> list[np.ndarray]:
    with tt.no_grad():
        out = module(*[tt.tensor(x, device=device) for x in inputs])
    return [o.cpu().numpy() for o in (out if isinstance(out, tuple) else (out,))]


# --------------------------------------------------------------------- without the onnx package
def test_import_works_without_onnx_and_use_names_the_extra():
    """``import tinytorch.onnx`` (and ``import tinytorch``) must not need onnx; using it raises
    ImportError naming the extra. onnx is blocked in a fresh interpreter by a meta-path finder."""
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "onnx" or name.startswith("onnx."):
                    raise ImportError("blocked for the test: " + name)
        sys.meta_path.insert(0, Block())
        import tinytorch as torch
        import tinytorch.onnx
        for call in (lambda: tinytorch.onnx.load("model.onnx"),
                     lambda: torch.onnx.export(torch.nn.Linear(2, 2), (torch.randn(1, 2),), "m.onnx")):
            try:
                call()
            except ImportError as e:
                print("ImportError:", e)
            else:
                print("no error")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("ImportError:") for line in lines), out.stdout
    assert all('pip install "tinytorch[onnx]"' in line for line in lines)


# --------------------------------------------------------------------- models exported by PyTorch
def _torch_export(torch, model, args, path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, str(path), dynamo=True, verbose=False, **kw)
    return str(path)


class _Attention:
    """nn.MultiheadAttention as a one-input model (self-attention, outputs only)."""

    @staticmethod
    def build(torch):
        class SelfAttention(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.mha = torch.nn.MultiheadAttention(16, 4, batch_first=True)

            def forward(self, x):
                return self.mha(x, x, x)[0]
        return SelfAttention()


@pytest.fixture(scope="module")
def torch_models(tmp_path_factory):
    """name -> (path, torch model in eval mode, input shape for a fresh input, extra shapes)."""
    torch = _torch()
    _onnx()
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("torch_onnx")
    mlp = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.GELU(),
                              torch.nn.Linear(16, 3), torch.nn.Softmax(-1)).eval()
    cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                              torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 6, 3, stride=2), torch.nn.Tanh(),
                              torch.nn.AvgPool2d(2), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                              torch.nn.Linear(6, 2))
    with torch.no_grad():  # running statistics that are not the identity, so BatchNorm matters
        cnn[1].running_mean.uniform_(-0.5, 0.5)
        cnn[1].running_var.uniform_(0.5, 2.0)
    cnn.eval()
    enc = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True, activation="gelu").eval()
    att = _Attention.build(torch).eval()
    models = {}
    models["mlp"] = (_torch_export(torch, mlp, (torch.randn(4, 6),), d / "mlp.onnx"), mlp, (4, 6))
    models["cnn"] = (_torch_export(torch, cnn, (torch.randn(2, 1, 12, 12),), d / "cnn.onnx"), cnn, (2, 1, 12, 12))
    models["cnn_unoptimized"] = (_torch_export(torch, cnn, (torch.randn(2, 1, 12, 12),), d / "cnn_u.onnx",
                                               optimize=False), cnn, (2, 1, 12, 12))
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
    models["encoder"] = (_torch_export(torch, enc, (torch.randn(2, 5, 16),), d / "enc.onnx",
                                       dynamic_shapes=({0: batch, 1: seq},)), enc, (3, 7, 16))
    models["attention"] = (_torch_export(torch, att, (torch.randn(2, 5, 16),), d / "att.onnx"), att, (2, 5, 16))
    return models


TORCH_MODELS = ["mlp", "cnn", "cnn_unoptimized", "encoder", "attention"]


@pytest.mark.parametrize("name", TORCH_MODELS)
def test_torch_exported_model_runs_as_in_torch_and_onnxruntime(torch_models, name, device):
    torch = _torch()
    path, model, shape = torch_models[name]
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    loaded = tonnx.load(path).to(device)
    (got,) = ours(loaded, x, device=device)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    (ort_out,) = run_ort(path, x)
    np.testing.assert_allclose(got, ort_out, rtol=1e-4, atol=1e-5)


def test_torch_graph_structure_is_what_the_handlers_cover(torch_models):
    """The files really contain the operators this module claims to run (so the tests above
    test them): BatchNormalization unoptimized, the dynamic-shape chain in the encoder."""
    onnx = _onnx()
    ops = {name: {n.op_type for n in onnx.load(torch_models[name][0]).graph.node} for name in TORCH_MODELS}
    assert {"Conv", "BatchNormalization", "MaxPool", "Gemm"} <= ops["cnn_unoptimized"]
    assert {"Shape", "Concat", "Reshape", "Softmax", "LayerNormalization", "MatMul", "Gelu"} <= ops["encoder"]
    assert {"Conv", "AveragePool", "MaxPool"} <= ops["cnn"]


def test_torch_exported_encoder_takes_other_batch_and_sequence_sizes(torch_models):
    torch = _torch()
    path, model, _ = torch_models["encoder"]
    loaded = tonnx.load(path)
    for shape in [(1, 3, 16), (4, 9, 16)]:
        x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
        with torch.no_grad():
            want = model(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(ours(loaded, x)[0], want, rtol=1e-4, atol=1e-5)


def test_loaded_weights_are_parameters_and_fine_tune(torch_models, device):
    """A few SGD steps on the loaded MLP lower the loss; every weight gets a gradient."""
    _, model, _ = torch_models["mlp"]
    loaded = tonnx.load(torch_models["mlp"][0]).to(device)
    params = list(loaded.parameters())
    torch_count = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in params) >= torch_count
    rng = np.random.default_rng(3)
    x = tt.tensor(rng.standard_normal((4, 6)).astype(np.float32), device=device)
    y = tt.tensor(rng.integers(0, 3, 4), device=device)
    opt = tt.optim.SGD(loaded.parameters(), lr=0.5)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = F.nll_loss(loaded(x).log(), y)
        loss.backward()
        losses.append(loss.item())
        opt.step()
    assert losses[-1] < losses[0] - 1e-3, losses
    weights = [p for p in params if p.ndim == 2]
    assert weights and all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in weights)


# --------------------------------------------------------------------- graphs built with onnx.helper
def test_unsupported_operator_names_operator_and_node():
    onnx = _onnx()
    h = onnx.helper
    graph = h.make_graph([h.make_node("Relu", ["x"], ["r"], name="first"),
                          h.make_node("Hardmax", ["r"], ["y"], name="the_hardmax")], "g",
                         [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 3])],
                         [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 3])])
    with pytest.raises(NotImplementedError, match="Hardmax.*the_hardmax"):
        tonnx.load(h.make_model(graph, opset_imports=[h.make_opsetid("", 20)]))


def test_old_opset_is_refused_with_a_way_out():
    onnx = _onnx()
    h = onnx.helper
    graph = h.make_graph([h.make_node("Softmax", ["x"], ["y"])], "g",
                         [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 3])],
                         [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 3])])
    with pytest.raises(NotImplementedError, match="opset 11.*convert_version"):
        tonnx.load(h.make_model(graph, opset_imports=[h.make_opsetid("", 11)]))


def test_nodes_out_of_order_are_sorted_and_cycles_refused():
    onnx = _onnx()
    h = onnx.helper
    nodes = [h.make_node("Neg", ["a"], ["y"], name="last"), h.make_node("Exp", ["x"], ["a"], name="first")]
    order = tonnx.importer.topological_order(nodes, ["x"])
    assert [n.name for n in order] == ["first", "last"]
    cycle = [h.make_node("Neg", ["b"], ["a"], name="p"), h.make_node("Neg", ["a"], ["b"], name="q")]
    with pytest.raises(ValueError, match="cycle"):
        tonnx.importer.topological_order(cycle, ["x"])
    with pytest.raises(ValueError, match="'nowhere'"):
        tonnx.importer.topological_order([h.make_node("Neg", ["nowhere"], ["y"], name="r")], ["x"])


def test_helper_graph_with_gemm_attributes_and_shape_chain_matches_onnxruntime():
    """Gemm with transA/alpha/beta, Constant, Shape -> Gather -> Unsqueeze -> Concat -> Reshape,
    Split, Slice, Where, Expand, Cast, Pow, ReduceMean: ours against onnxruntime."""
    onnx = _onnx()
    h, T = onnx.helper, onnx.TensorProto
    rng = np.random.default_rng(4)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    nodes = [
        h.make_node("Gemm", ["x", "w", "c"], ["g"], transA=1, alpha=0.5, beta=2.0),          # (3, 3)
        h.make_node("Shape", ["g"], ["s"]),
        h.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        h.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
        h.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
        h.make_node("Reshape", ["g", "target"], ["r"]),
        h.make_node("Split", ["r", "sizes"], ["r1", "r2"], axis=1),
        h.make_node("Slice", ["r2", "zero1", "two1", "axes1"], ["r2s"]),
        h.make_node("Greater", ["r1", "r2s"], ["mask"]),
        h.make_node("Where", ["mask", "r1", "r2s"], ["m"]),
        h.make_node("Constant", [], ["p"], value=h.make_tensor("p", T.FLOAT, [], [2.0])),
        h.make_node("Pow", ["m", "p"], ["m2"]),
        h.make_node("ReduceMean", ["m2", "axes1"], ["mean"], keepdims=1),
        h.make_node("Expand", ["mean", "shape33"], ["e"]),
        h.make_node("Cast", ["e"], ["y"], to=T.DOUBLE),
    ]
    inits = [onnx.numpy_helper.from_array(a, n) for n, a in [
        ("w", w), ("c", rng.standard_normal(3).astype(np.float32)), ("zero", np.array(0)),
        ("axes0", np.array([0])), ("minus1", np.array([-1])), ("sizes", np.array([1, 2])),
        ("zero1", np.array([0])), ("two1", np.array([1])), ("axes1", np.array([1])), ("shape33", np.array([3, 3]))]]
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [5, 3])],
                         [h.make_tensor_value_info("y", T.DOUBLE, [3, 3])], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 20)])
    x = rng.standard_normal((5, 3)).astype(np.float32)
    got = ours(tonnx.load(model), x)[0]
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, run_ort(model, x)[0], rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------- tinytorch models exported
class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 16)
        self.layer = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, activation="gelu")
        self.head = nn.Linear(16, 3)

    def forward(self, tokens):
        return self.head(self.layer(self.embed(tokens)).mean(1))


class OpMix(nn.Module):
    """Ops the layers do not cover: indexing of every kind, flips, products, comparisons and masks,
    broadcasting and casts."""

    def forward(self, x):
        a = tt.stack([x, x * 2], 1).flatten(1)                      # (3, 8)
        b = F.silu(a) + F.elu(a) + F.softplus(a) + a.clamp(-1, 1) + a.abs().sqrt() + F.leaky_relu(a, 0.2)
        c = tt.cat(b.chunk(2, 1), 0)                                 # (6, 4)
        d = c.flip(0)[1:5, None, [0, 2]] + c[2:, -1:].unsqueeze(1)   # (4, 1, 2)
        e = tt.where(d > 0.5, d, d.exp()) * (d != 0).float() + d.prod(2, keepdim=True)
        return e.expand(4, 3, 2).permute(2, 0, 1).amax(-1) - e.mean() + c.var(0).sum()


class FunctionalConv(nn.Module):
    """F.conv2d / F.conv1d / F.max_pool2d / F.conv_transpose2d called directly: the
    Convolution, MaxPool and ConvolutionGradInput ops' own emitters write them."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(tt.randn(6, 2, 3, 2) * 0.3)
        self.b = nn.Parameter(tt.randn(6))
        self.w1 = nn.Parameter(tt.randn(3, 6, 3) * 0.3)
        self.wt = nn.Parameter(tt.randn(6, 3, 3, 2) * 0.3)

    def forward(self, x):
        y = F.conv2d(x, self.w, self.b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)   # (2, 6, 4, 5)
        y = F.max_pool2d(y, 2, stride=1, padding=1) + F.max_pool2d(y, 3, stride=2, ceil_mode=True).mean()
        y = F.conv_transpose2d(y, self.wt, stride=2, padding=1, output_padding=(1, 0), groups=2)[:, :, :5, :6]
        return F.conv1d(y.flatten(2), self.w1, padding=2, stride=2)


def _tt_models():
    tt.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 6, 3, stride=2, padding="valid"), nn.LeakyReLU(0.1), nn.AvgPool2d(2),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 2))
    with tt.no_grad():
        cnn[1].running_mean.uniform_(-0.5, 0.5)
        cnn[1].running_var.uniform_(0.5, 2.0)
    rng = np.random.default_rng(5)
    return {
        "mlp": (nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.GELU(), nn.Linear(16, 3),
                              nn.LogSoftmax(-1)), lambda: rng.standard_normal((4, 6)).astype(np.float32)),
        "cnn": (cnn, lambda: rng.standard_normal((2, 1, 12, 12)).astype(np.float32)),
        "encoder": (Encoder(), lambda: rng.integers(0, 20, (2, 7))),
        "encoder_layer": (nn.TransformerEncoderLayer(16, 4, 32, batch_first=True),
                          lambda: rng.standard_normal((2, 5, 16)).astype(np.float32)),
        "upsampling": (nn.Sequential(nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1),
                                     nn.GroupNorm(1, 3), nn.Upsample(scale_factor=2), nn.PReLU(), nn.SiLU()),
                       lambda: rng.standard_normal((1, 2, 4, 4)).astype(np.float32)),
        "recurrent": (nn.GRU(3, 4, num_layers=2), lambda: rng.standard_normal((5, 2, 3)).astype(np.float32)),
        "ops": (OpMix(), lambda: rng.standard_normal((3, 4)).astype(np.float32)),
        "functional_conv": (FunctionalConv(), lambda: rng.standard_normal((2, 4, 7, 6)).astype(np.float32)),
    }


@pytest.mark.parametrize("name", ["mlp", "cnn", "encoder", "encoder_layer", "upsampling", "recurrent", "ops",
                                  "functional_conv"])
def test_tinytorch_export_passes_checker_and_runs_in_onnxruntime(name, tmp_path, device):
    onnx = _onnx()
    model, make = _tt_models()[name]
    model = model.to(device)
    x = make()
    path = str(tmp_path / f"{name}.onnx")
    proto = tonnx.export(model, (tt.tensor(x, device=device),), path)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    assert proto.opset_import[0].version == tonnx.exporter.DEFAULT_OPSET
    fresh = make()
    want = ours(model.eval(), fresh, device=device)
    for theirs, w in zip(run_ort(path, fresh), want):
        np.testing.assert_allclose(theirs, w, rtol=1e-4, atol=1e-5)
    want = want[0]
    np.testing.assert_allclose(ours(tonnx.load(path).to(device), fresh, device=device)[0], want, rtol=1e-5,
                               atol=1e-6)


def test_export_writes_layers_as_their_operators():
    _onnx()
    model, make = _tt_models()["cnn"]
    proto = tonnx.export(model, (tt.tensor(make()),), None)
    ops = [n.op_type for n in proto.graph.node]
    for op in ("Conv", "BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool", "Gemm"):
        assert op in ops
    names = {i.name for i in proto.graph.initializer}
    assert {"0.weight", "1.running_mean", "1.running_var", "9.bias"} <= names
    model, make = _tt_models()["functional_conv"]
    ops = [n.op_type for n in tonnx.export(model, (tt.tensor(make()),), None).graph.node]
    assert ops.count("Conv") == 2 and ops.count("MaxPool") == 2 and ops.count("ConvTranspose") == 1
    assert "Gather" not in ops  # one node each, no im2col


def test_default_opset_is_the_one_torch_writes(torch_models):
    onnx = _onnx()
    torch_opset = {o.domain: o.version for o in onnx.load(torch_models["mlp"][0]).opset_import}[""]
    assert tonnx.exporter.DEFAULT_OPSET == torch_opset


def test_export_with_dynamic_batch_runs_other_batch_sizes(tmp_path):
    _onnx()
    model = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True)
    path = str(tmp_path / "dyn.onnx")
    tonnx.export(model, (tt.randn(2, 5, 16),), path, input_names=["src"], dynamic_axes={"src": {0: "batch"}})
    x = np.random.default_rng(6).standard_normal((5, 5, 16)).astype(np.float32)
    np.testing.assert_allclose(run_ort(path, x)[0], ours(model.eval(), x)[0], rtol=1e-4, atol=1e-5)


def test_export_refuses_values_computed_from_the_data_outside_the_op_table():
    """cummax finds where each running maximum was from the values (an IndicesAlong op, which
    has no ONNX translation); ``.item()`` turns data into a Python number, which would be a
    frozen constant. Both are refused."""
    _onnx()

    class Pool(nn.Module):
        def forward(self, x):
            return x.cummax(1).values

    class Item(nn.Module):
        def forward(self, x):
            return x * x.max().item()

    with pytest.raises(NotImplementedError, match="IndicesAlong.*has no ONNX translation"):
        tonnx.export(Pool(), (tt.randn(1, 1, 4, 4),), None)
    with pytest.raises(RuntimeError, match="Mul.*outside the op table"):
        tonnx.export(Item(), (tt.randn(3),), None)


def test_export_refuses_in_place_updates():
    """In-place ops are not recorded: the written graph would miss them, and export says so."""
    _onnx()

    class Shift(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x):
            y = self.lin(x)
            y += 1.0
            return y

    with pytest.raises(RuntimeError, match="in place"):
        tonnx.export(Shift(), (tt.randn(2, 3),), None)


def test_export_unsupported_op_names_it():
    _onnx()

    class Scan(nn.Module):
        def forward(self, x):
            return tt.cumsum(x, 0)

    with pytest.raises(NotImplementedError, match="Cumsum"):
        tonnx.export(Scan(), (tt.randn(3),), None)


def test_pytorch_program_spelling(tmp_path):
    """``import tinytorch as torch``: ``torch.onnx.export(model, args, f, dynamo=True)``."""
    _onnx()
    import tinytorch as torch

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Sigmoid())
    x = torch.randn(2, 3)
    path = str(tmp_path / "m.onnx")
    torch.onnx.export(model, (x,), path, dynamo=True, input_names=["x"], output_names=["y"])
    loaded = torch.onnx.load(path)
    assert loaded.input_names == ["x"] and loaded.output_names == ["y"]
    np.testing.assert_allclose(loaded(x).detach().numpy(), model(x).detach().numpy(), rtol=1e-6)
    buffer = io.BytesIO()
    torch.onnx.export(model, (x,), buffer)
    from_bytes = torch.onnx.load(buffer.getvalue())
    np.testing.assert_allclose(from_bytes(x).detach().numpy(), model(x).detach().numpy(), rtol=1e-6)
    with pytest.raises(TypeError, match="no_such_option"):
        torch.onnx.export(model, (x,), path, no_such_option=1)


# --------------------------------------------------------------------- single operators against onnxruntime
def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _single_node_cases():
    """(id, op_type, attrs (a numpy array is a tensor attribute), inputs as (name, array), constant
    inputs as (name, array))."""
    rng = np.random.default_rng(7)
    x4 = _f32(rng, 2, 4, 7, 6)
    return [
        ("conv_same_groups", "Conv", dict(auto_pad="SAME_UPPER", group=2, strides=[2, 2]),
         [("x", x4)], [("w", _f32(rng, 6, 2, 3, 2)), ("b", _f32(rng, 6))]),
        ("conv_asymmetric_pads", "Conv", dict(pads=[0, 1, 2, 1], dilations=[2, 1]), [("x", x4)],
         [("w", _f32(rng, 3, 4, 2, 3))]),
        ("conv1d", "Conv", dict(pads=[1, 1]), [("x", _f32(rng, 2, 3, 9))], [("w", _f32(rng, 4, 3, 3))]),
        ("conv_transpose", "ConvTranspose", dict(strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 0]),
         [("x", x4)], [("w", _f32(rng, 4, 3, 3, 3)), ("b", _f32(rng, 3))]),
        ("maxpool_ceil", "MaxPool", dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
         [("x", x4)], []),
        ("maxpool_asymmetric_pads", "MaxPool", dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1]),
         [("x", x4)], []),
        ("avgpool_exclude_pad", "AveragePool", dict(kernel_shape=[3, 3], strides=[2, 1], pads=[1, 1, 1, 1],
                                                    count_include_pad=0), [("x", x4)], []),
        ("global_max", "GlobalMaxPool", {}, [("x", x4)], []),
        ("pad_reflect", "Pad", dict(mode="reflect"), [("x", x4)], [("pads", np.array([0, 0, 1, 2, 0, 0, 2, 1]))]),
        ("pad_constant", "Pad", {}, [("x", x4)], [("pads", np.array([0, 1, 0, 2, 1, 0, 3, 0])),
                                                  ("value", np.array(1.5, dtype=np.float32))]),
        ("tile", "Tile", {}, [("x", _f32(rng, 2, 3))], [("repeats", np.array([2, 3]))]),
        ("flatten", "Flatten", dict(axis=2), [("x", x4)], []),
        ("squeeze_all", "Squeeze", {}, [("x", _f32(rng, 1, 3, 1, 2))], []),
        ("leaky_relu", "LeakyRelu", dict(alpha=0.2), [("x", x4)], []),
        ("argmax", "ArgMax", dict(axis=2, keepdims=0), [("x", x4)], []),
        ("max3", "Max", {}, [("x", _f32(rng, 3, 1)), ("y", _f32(rng, 1, 4)), ("z", _f32(rng, 3, 4))], []),
        ("floor", "Floor", {}, [("x", x4 * 3)], []),
        ("slice_backwards", "Slice", {}, [("x", x4)], [("starts", np.array([-1, 5])), ("ends", np.array([-100, 0])),
                                                      ("axes", np.array([2, 3])), ("steps", np.array([-2, -1]))]),
        ("reduce_min_noop", "ReduceMin", dict(keepdims=0), [("x", x4)], [("axes", np.array([1, -1]))]),
        ("log_softmax", "LogSoftmax", dict(axis=1), [("x", x4)], []),
        ("int_div", "Div", {}, [("x", np.array([7, -7, 9, -9])), ("y", np.array([2, 2, -4, -4]))], []),
        ("elu", "Elu", dict(alpha=0.7), [("x", x4)], []),
        ("constant_of_shape", "ConstantOfShape", dict(value=np.array([2.5], dtype=np.float32)),
         [("shape", np.array([2, 3]))], []),
        ("range", "Range", {}, [("start", np.array(2)), ("limit", np.array(11)), ("delta", np.array(3))], []),
        ("size", "Size", {}, [("x", x4)], []),
        ("cast_truncates", "Cast", dict(to=7), [("x", x4 * 3)], []),
        ("selu", "Selu", {}, [("x", x4)], []),
        ("hard_sigmoid", "HardSigmoid", dict(alpha=0.3), [("x", x4)], []),
        ("hard_swish", "HardSwish", {}, [("x", x4 * 4)], []),
        ("softplus", "Softplus", {}, [("x", x4 * 4)], []),
        ("prelu", "PRelu", {}, [("x", x4)], [("slope", _f32(rng, 4, 1, 1))]),
        ("cumsum", "CumSum", {}, [("x", x4)], [("axis", np.array(2))]),
        ("instance_norm", "InstanceNormalization", dict(epsilon=1e-3), [("x", x4)],
         [("scale", _f32(rng, 4)), ("bias", _f32(rng, 4))]),
        ("resize_nearest", "Resize", dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                                          nearest_mode="floor"), [("x", x4)],
         [("", None), ("scales", np.array([1, 1, 2, 3], dtype=np.float32))]),
        ("resize_linear", "Resize", dict(mode="linear", coordinate_transformation_mode="half_pixel"), [("x", x4)],
         [("", None), ("", None), ("sizes", np.array([2, 4, 9, 13]))]),
    ]


@pytest.mark.parametrize("case", _single_node_cases(), ids=lambda c: c[0])
def test_single_operator_matches_onnxruntime(case, device):
    onnx = _onnx()
    _ort()
    h = onnx.helper
    _, op_type, attrs, inputs, constants = case
    names = [n for n, _ in inputs] + [n for n, _ in constants]
    tensors = {k: onnx.numpy_helper.from_array(v) for k, v in attrs.items() if isinstance(v, np.ndarray)}
    node = h.make_node(op_type, names, ["out"], **{**attrs, **tensors})
    integer = op_type in ("ArgMax", "Size") or inputs[0][1].dtype == np.int64 or attrs.get("to") == 7
    integer = integer and op_type != "ConstantOfShape"
    out_type = onnx.TensorProto.INT64 if integer else onnx.TensorProto.FLOAT
    graph = h.make_graph([node], "g", [h.make_tensor_value_info(n, h.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                                       for n, a in inputs], [h.make_tensor_value_info("out", out_type, None)],
                         [onnx.numpy_helper.from_array(a, n) for n, a in constants if n])
    model = onnx.shape_inference.infer_shapes(h.make_model(graph, opset_imports=[h.make_opsetid("", 20)]))
    arrays = [a for _, a in inputs]
    want = run_ort(model, *arrays)[0]
    got = ours(tonnx.load(model).to(device), *arrays, device=device)[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_export_argument_errors():
    _onnx()
    model = nn.Linear(3, 2)
    x = tt.randn(2, 3)
    with pytest.raises(ValueError, match="dynamic_axes.*'nope'"):
        tonnx.export(model, (x,), None, dynamic_axes={"nope": [0]})
    with pytest.raises(ValueError, match="opset_version 12"):
        tonnx.export(model, (x,), None, opset_version=12)
    with pytest.raises(ValueError, match="input_names has 2 names for 1"):
        tonnx.export(model, (x,), None, input_names=["a", "b"])


def test_export_two_inputs_transformer_decoder(tmp_path):
    _onnx()
    model = nn.TransformerDecoderLayer(8, 2, 16, batch_first=True)
    tgt, memory = tt.randn(2, 3, 8), tt.randn(2, 4, 8)
    path = str(tmp_path / "dec.onnx")
    proto = tonnx.export(model, (tgt, memory), path)
    assert [i.name for i in proto.graph.input] == ["tgt", "memory"]
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((2, 3, 8)).astype(np.float32), rng.standard_normal((2, 4, 8)).astype(np.float32)
    np.testing.assert_allclose(run_ort(path, a, b)[0], ours(model.eval(), a, b)[0], rtol=1e-4, atol=1e-5)


def _example():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "onnx_roundtrip.py"
    spec = importlib.util.spec_from_file_location("onnx_roundtrip_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_tinytorch_model_runs_in_onnxruntime(tmp_path, capsys):
    _onnx()
    _ort()
    _example().tinytorch_to_onnxruntime(str(tmp_path))
    out = capsys.readouterr().out
    assert "onnxruntime agrees" in out
    assert float(out.rsplit("|difference|", 1)[1].split()[0]) < 1e-4


@pytest.mark.slow
def test_example_pytorch_model_fine_tuned_here(tmp_path, capsys):
    _torch()
    _ort()
    _example().pytorch_to_tinytorch(str(tmp_path))
    out = capsys.readouterr().out
    first = float(out.split("max |difference| of the logits ")[1].split(",")[0])
    losses = [float(line.rsplit("loss", 1)[1]) for line in out.splitlines() if "fine-tuning" in line]
    assert first < 1e-4 and losses[-1] < losses[0] / 2, out
    assert float(out.rsplit("|difference|", 1)[1].split()[0]) < 1e-4
