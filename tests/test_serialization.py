"""tt.save / tt.load: round trips, and files that must be refused because loading them could run code."""

import io
import json
import math
import pickle
import struct
import zipfile

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.serialization import load, save

needs_tensor = pytest.mark.skipif(not hasattr(tt, "Tensor"), reason="the Tensor layer (tinytorch.Tensor) is missing")


def roundtrip(obj, tmp_path, **kw):
    path = tmp_path / "obj.tt"
    save(obj, path)
    return load(path, **kw)


@needs_tensor
def test_containers_roundtrip(tmp_path):
    obj = {"a": [1, 2.5, "three", None, True, False], 3: (4, {"x": -0.0}), "nan": math.nan, "inf": -math.inf,
           "tiny": 0.1 + 0.2, "arr": np.arange(6, dtype=np.int32).reshape(2, 3), "empty": [], "t": ()}
    out = roundtrip(obj, tmp_path)
    assert list(out) == list(obj)                       # key order kept, int keys stay ints
    assert out["a"] == [1, 2.5, "three", None, True, False] and type(out["a"][4]) is bool
    assert out[3] == (4, {"x": -0.0}) and isinstance(out[3], tuple) and math.copysign(1, out[3][1]["x"]) < 0
    assert math.isnan(out["nan"]) and out["inf"] == -math.inf and out["tiny"] == 0.1 + 0.2
    assert out["arr"].dtype == np.int32 and out["arr"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert out["empty"] == [] and out["t"] == ()


@needs_tensor
def test_file_object_roundtrip():
    buf = io.BytesIO()
    save([1, "x"], buf)
    buf.seek(0)
    assert load(buf) == [1, "x"]


@needs_tensor
def test_unsupported_object_is_refused_at_save(tmp_path):
    with pytest.raises(TypeError, match="cannot save an object of type set"):
        save({1, 2}, tmp_path / "x")
    with pytest.raises(TypeError, match="dtype object"):
        save(np.array([{}], dtype=object), tmp_path / "x")


@needs_tensor
def test_tensor_roundtrip(tmp_path, device):
    x = tt.tensor([[1.5, -2.0], [3.0, 4.25]], dtype=tt.float64, device=device)
    w = tt.randn(3, 4, device=device, requires_grad=True)
    i = tt.tensor([1, 2, 3], device=device)
    b = tt.tensor([True, False], device=device)
    out = roundtrip({"x": x, "w": w, "ints": i, "mask": b, "scalar": tt.tensor(2.0, device=device)}, tmp_path)
    for key, orig in (("x", x), ("w", w), ("ints", i), ("mask", b)):
        assert out[key].dtype == orig.dtype and out[key].shape == orig.shape and out[key].device == orig.device
        np.testing.assert_array_equal(out[key].detach().numpy(), orig.detach().numpy())
    assert out["w"].requires_grad and out["w"].is_leaf and not out["x"].requires_grad
    assert out["scalar"].shape == () and out["scalar"].item() == 2.0


@needs_tensor
def test_non_contiguous_tensor_and_map_location(tmp_path, device):
    x = tt.arange(12, dtype=tt.float32, device=device).reshape(3, 4).T  # a strided view
    out = roundtrip(x, tmp_path, map_location="numpy")
    assert out.device == tt.ndarray.device("numpy") or str(out.device) == "numpy"
    np.testing.assert_array_equal(out.numpy(), x.numpy())


@needs_tensor
def test_state_dicts_roundtrip(tmp_path):
    from tinytorch import nn, optim

    tt.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    model(tt.randn(5, 4)).sum().backward()
    opt.step()
    out = roundtrip({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, tmp_path)
    assert list(out["model"]) == list(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(out["model"][k].numpy(), v.numpy())
    clone = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))
    clone.load_state_dict(out["model"])
    opt2 = optim.Adam(clone.parameters(), lr=0.5)
    opt2.load_state_dict(out["optim"])
    assert opt2.param_groups[0]["lr"] == 0.01
    assert out["optim"]["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    assert out["epoch"] == 3


@needs_tensor
def test_parameter_roundtrip(tmp_path):
    from tinytorch import nn

    p = nn.Parameter(tt.ones(2))
    out = roundtrip([p], tmp_path)[0]
    assert isinstance(out, nn.Parameter) and out.requires_grad


# ---------------------------------------------------------------- malicious or broken files
class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickle_file_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"w": Evil()}))
    with pytest.raises(RuntimeError, match="never unpickles"):
        load(path)
    assert "pwned" not in capsys.readouterr().out


def test_torch_style_zip_with_pickle_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps(Evil()))
    with pytest.raises(RuntimeError, match="pickle-based"):
        load(path)


def write_archive(path, root, arrays=None):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", json.dumps({"format": "tinytorch", "version": 1, "root": root}))
        for name, data in (arrays or {}).items():
            zf.writestr(name, data)


def test_object_dtype_npy_is_refused(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.array([Evil()], dtype=object), allow_pickle=True)  # an .npy whose payload is a pickle
    path = tmp_path / "evil.tt"
    write_archive(path, {"type": "ndarray", "file": "arrays/0.npy"}, {"arrays/0.npy": buf.getvalue()})
    with pytest.raises(RuntimeError, match="refusing arrays/0.npy"):
        load(path)


@pytest.mark.parametrize("root,msg", [
    ({"type": "pickle", "data": "gASV"}, "unknown node type 'pickle'"),
    ({"type": "ndarray", "file": "../../etc/passwd"}, "missing array file"),
    ({"type": "dict", "items": [[{"type": "list", "items": [1]}, 2]]}, "not hashable"),
    ({"type": "float"}, "malformed manifest"),
    ([1, 2], "malformed manifest node"),
])
def test_malformed_manifest_is_refused(tmp_path, root, msg):
    path = tmp_path / "bad.tt"
    write_archive(path, root)
    with pytest.raises(RuntimeError, match=msg):
        load(path)


def test_wrong_format_and_version(tmp_path):
    path = tmp_path / "x"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", json.dumps({"format": "tinytorch", "version": 99, "root": 1}))
    with pytest.raises(RuntimeError, match="version 99"):
        load(path)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", "{not json")
    with pytest.raises(RuntimeError, match="not valid JSON"):
        load(path)


# ---------------------------------------------------------------- issue 13: sharing, bounds, damage
@needs_tensor
def test_storage_sharing_survives_a_round_trip(tmp_path, device):
    """As PyTorch: one tensor saved under two names is one tensor again, and views of one base
    share its memory after loading (a write through one is seen through the others)."""
    torch = pytest.importorskip("torch")
    import collections

    def build(lib):
        w = lib.arange(12.0).reshape(3, 4)
        return collections.OrderedDict(a=w, b=w, row=w[1], col=w.T[2], flat=w.reshape(-1))

    def after_write(lib, out):
        out["a"][1, 2] = 100.0
        return {k: v.tolist() for k, v in out.items()}, out["a"] is out["b"]

    ours = roundtrip(_on(build(tt), device), tmp_path)
    buf = io.BytesIO()
    torch.save(build(torch), buf)
    buf.seek(0)
    theirs = torch.load(buf)
    assert type(ours) is collections.OrderedDict
    assert after_write(tt, ours) == after_write(torch, theirs)
    assert ours["a"].device.type == device


def _on(obj, device):
    """``obj`` (an OrderedDict of views of one base) with the base moved to ``device`` first."""
    import collections

    base = obj["a"].to(device)
    return collections.OrderedDict(a=base, b=base, row=base[1], col=base.T[2], flat=base.reshape(-1))


@needs_tensor
def test_numpy_scalars_and_bools_roundtrip(tmp_path):
    values = [np.float32(0.1), np.float64(-0.0), np.float16(2.5), np.int8(-7), np.uint64(2**64 - 1), np.int64(-2**63),
              np.bool_(True), np.bool_(False), np.float64(math.nan)]
    out = roundtrip(values, tmp_path)
    for got, want in zip(out, values):
        assert type(got) is type(want)
        assert got.tobytes() == want.tobytes()


def _npy_header(shape, dtype="<f4") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _tensor_node(file="arrays/0.npy", shape=(4,), strides=(1,), offset=0):
    return {"type": "tensor", "storage": file, "shape": list(shape), "strides": list(strides), "offset": offset,
            "dtype": "float32", "device": "numpy", "requires_grad": False, "parameter": False}


def _write_v2(path, root, arrays, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        zf.writestr("manifest.json", json.dumps({"format": "tinytorch", "version": 2, "root": root}))
        for name, data in arrays.items():
            zf.writestr(name, data)


@needs_tensor
def test_a_tiny_file_cannot_declare_a_huge_array(tmp_path):
    """A few hundred bytes declaring 3.6 TiB: refused before anything is allocated."""
    path = tmp_path / "huge.tt"
    _write_v2(path, _tensor_node(shape=(900 * 2**30,)), {"arrays/0.npy": _npy_header((900 * 2**30,)) + b"\0" * 8})
    assert path.stat().st_size < 1000
    with pytest.raises(RuntimeError, match=r"declares an array of shape \(966367641600,\)"):
        load(path)


@needs_tensor
def test_a_member_cannot_declare_more_than_the_file_holds(tmp_path):
    """The zip entry itself claims a huge size (the central directory is edited)."""
    path = tmp_path / "liar.tt"
    _write_v2(path, {"type": "ndarray", "file": "arrays/0.npy"}, {"arrays/0.npy": _npy_header((2,)) + b"\0" * 8})
    raw = bytearray(path.read_bytes())
    cd = raw.rfind(b"PK\x01\x02")  # the last central directory entry: arrays/0.npy
    struct.pack_into("<II", raw, cd + 20, 2**32 - 1, 2**32 - 1)  # its compressed and uncompressed sizes
    path.write_bytes(bytes(raw))
    with pytest.raises(RuntimeError):
        load(path)


@needs_tensor
def test_each_stored_array_is_decoded_once(tmp_path, monkeypatch):
    """2,000 references to one deflated array decode it once (they used to decode it 2,000
    times), and the 2,000 tensors share its memory."""
    from tinytorch import serialization

    data = np.arange(2**16, dtype=np.float32)
    buf = io.BytesIO()
    np.save(buf, data)
    path = tmp_path / "many.tt"
    _write_v2(path, {"type": "list", "items": [_tensor_node(shape=(2**16,)) for _ in range(2000)]},
              {"arrays/0.npy": buf.getvalue()}, compression=zipfile.ZIP_DEFLATED)
    calls = []
    real = serialization._Reader._decode_npy
    monkeypatch.setattr(serialization._Reader, "_decode_npy", lambda self, name: calls.append(name) or real(self, name))
    out = load(path)
    assert len(out) == 2000 and calls == ["arrays/0.npy"]
    out[0][5] = -1.0
    assert out[1999][5].item() == -1.0


@needs_tensor
def test_views_outside_their_storage_are_refused(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.zeros(4, np.float32))
    for node in (_tensor_node(shape=(5,)), _tensor_node(offset=1), _tensor_node(strides=(-1,)),
                 _tensor_node(shape=(-1,)), _tensor_node(shape=(2.5,))):
        path = tmp_path / "view.tt"
        _write_v2(path, node, {"arrays/0.npy": buf.getvalue()})
        with pytest.raises(RuntimeError):
            load(path)


def _damaged_copies(data: bytes):
    """Every truncation at a spread of lengths, and single-byte changes across the file."""
    n = len(data)
    for cut in sorted({*range(0, n, max(n // 60, 1)), n - 1, n - 22, n - 23}):
        yield data[:cut]
    for pos in range(0, n, max(n // 80, 1)):
        for value in (0x00, 0xFF, data[pos] ^ 0x01):
            yield data[:pos] + bytes([value]) + data[pos + 1:]


@needs_tensor
@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_every_damaged_file_raises_runtime_error(compression):
    """Truncated or corrupted files raised eight different exception classes; the contract is
    RuntimeError naming the problem (or, rarely, a successful load of damaged values)."""
    import collections

    w = tt.arange(12.0, device="numpy").reshape(3, 4)
    obj = collections.OrderedDict(w=w, v=w[1:], i=tt.tensor([1, 2], device="numpy"), n=np.arange(3, dtype=np.int16),
                                  s=np.float32(0.5), nested=[{"x": (1, 2.5, None)}])
    raw = io.BytesIO()
    save(obj, raw)
    rezipped = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw.getvalue())) as src, zipfile.ZipFile(rezipped, "w", compression) as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
    for damaged in _damaged_copies(rezipped.getvalue()):
        try:
            load(io.BytesIO(damaged))
        except RuntimeError as e:
            assert str(e).startswith("tt.load:")


def test_deeply_nested_manifest_is_refused(tmp_path):
    path = tmp_path / "deep.tt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", '{"format": "tinytorch", "version": 2, "root": '
                    + '{"type": "list", "items": [' * 100_000 + "]}" * 100_000 + "}")
    with pytest.raises(RuntimeError):
        load(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.tt")
