"""tt.save / tt.load: round trips, and files that must be refused because loading them could run code."""

import io
import json
import math
import pickle
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
