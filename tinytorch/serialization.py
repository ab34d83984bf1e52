"""``tt.save`` / ``tt.load``: a documented file format that can never run code when loaded.

PyTorch's ``torch.save`` pickles, and unpickling a file can execute anything its author wanted.
tinytorch instead writes a plain zip archive that any tool can inspect:

``manifest.json``
    ``{"format": "tinytorch", "version": 1, "root": NODE}`` where NODE describes the saved
    object. JSON ``null``, ``true``/``false``, integers and strings stand for themselves; every
    other value is an object with a ``"type"``:

    - ``{"type": "float", "value": "0.1"}`` -- ``repr`` of the float, so ``nan``/``inf`` and
      every bit survive;
    - ``{"type": "list", "items": [NODE, ...]}`` and ``{"type": "tuple", "items": [...]}``;
    - ``{"type": "dict", "items": [[KEY_NODE, VALUE_NODE], ...]}`` -- a list of pairs because
      keys may be ints (optimizer states are keyed by parameter index) and order matters;
    - ``{"type": "tensor", "file": "arrays/0.npy", "dtype": "float32", "device": "cpu",
      "requires_grad": false, "parameter": false}``;
    - ``{"type": "ndarray", "file": "arrays/1.npy"}`` for plain numpy arrays.

``arrays/N.npy``
    one standard ``.npy`` file per tensor or array, read back with
    ``numpy.load(..., allow_pickle=False)``.

Loading only ever builds the node types above; an archive with another member, an object
array, an unknown node type or no manifest is refused with a ``RuntimeError`` that says why.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from typing import IO, Any

import numpy as np

from .autograd import Tensor
from .ndarray import as_dtype
from .ops import tensor

FORMAT, VERSION = "tinytorch", 1
SAFE_KINDS = "biuf"  # bool, signed/unsigned int, float: never object, string or structured arrays
PathOrFile = str | os.PathLike | IO[bytes]


def save(obj: Any, f: PathOrFile) -> None:
    """Save ``obj`` (tensors, numpy arrays, and dicts/lists/tuples of them and of
    int/float/str/bool/None) to the path or binary file ``f``.

    Examples::

        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "x.tt")
        >>> save({"w": tt.ones(2), "step": 3}, path)
        >>> load(path)["step"]
        3
    """
    arrays: dict[str, np.ndarray] = {}

    def add_array(a: np.ndarray) -> str:
        name = f"arrays/{len(arrays)}.npy"
        arrays[name] = a
        return name

    def encode(x: Any) -> Any:
        if x is None or isinstance(x, (bool, str)):
            return x
        if isinstance(x, (int, np.integer)):
            return int(x)
        if isinstance(x, (float, np.floating)):
            return {"type": "float", "value": repr(float(x))}
        if isinstance(x, Tensor):
            from .nn import Parameter

            return {"type": "tensor", "file": add_array(x.detach().numpy()),
                    "dtype": x.dtype.name, "device": str(x.device), "requires_grad": bool(x.requires_grad),
                    "parameter": isinstance(x, Parameter)}
        if isinstance(x, np.ndarray):
            if x.dtype.kind not in SAFE_KINDS:
                raise TypeError(f"tt.save: cannot save a numpy array of dtype {x.dtype} (numbers and bools only)")
            return {"type": "ndarray", "file": add_array(x)}
        if isinstance(x, (list, tuple)):
            return {"type": type(x).__name__, "items": [encode(v) for v in x]}
        if isinstance(x, dict):
            return {"type": "dict", "items": [[encode(k), encode(v)] for k, v in x.items()]}
        raise TypeError(f"tt.save: cannot save an object of type {type(x).__name__}; supported are tensors, "
                        "numpy arrays, dict, list, tuple, int, float, str, bool and None")

    manifest = {"format": FORMAT, "version": VERSION, "root": encode(obj)}
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=1))
        for name, a in arrays.items():
            buf = io.BytesIO()
            np.save(buf, a, allow_pickle=False)
            zf.writestr(name, buf.getvalue())


def load(f: PathOrFile, map_location: str | None = None, weights_only: bool = True) -> Any:
    """Load an object written by :func:`save`.

    Args:
        f: a path or a binary file.
        map_location: put every tensor on this device instead of the one it was saved from.
        weights_only: accepted for PyTorch compatibility; tinytorch files never contain code.

    Raises:
        RuntimeError: if ``f`` is not a tinytorch archive or contains anything but the documented
            node types and numeric ``.npy`` arrays (e.g. a pickle).
    """
    try:
        zf = zipfile.ZipFile(f, "r")
    except zipfile.BadZipFile:
        raise RuntimeError("tt.load: not a tinytorch file (expected a zip archive with manifest.json); "
                           "tinytorch never unpickles, so pickle files such as old torch.save outputs "
                           "cannot be loaded") from None
    with zf:
        names = set(zf.namelist())
        if "manifest.json" not in names:
            hint = " (it looks like a pickle-based torch.save file)" if any(n.endswith(".pkl") for n in names) else ""
            raise RuntimeError(f"tt.load: archive has no manifest.json{hint}; tinytorch never unpickles")
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RuntimeError(f"tt.load: manifest.json is not valid JSON: {e}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or "root" not in manifest:
            raise RuntimeError("tt.load: manifest.json is not a tinytorch manifest")
        if manifest.get("version") != VERSION:
            raise RuntimeError(f"tt.load: unsupported format version {manifest.get('version')!r} (this is {VERSION})")

        def read_array(node: dict) -> np.ndarray:
            name = node.get("file")
            if not isinstance(name, str) or name not in names or not name.startswith("arrays/"):
                raise RuntimeError(f"tt.load: manifest refers to a missing array file {name!r}")
            try:
                a = np.load(io.BytesIO(zf.read(name)), allow_pickle=False)
            except ValueError as e:
                raise RuntimeError(f"tt.load: refusing {name}: {e} (object arrays would need unpickling)") from None
            if not isinstance(a, np.ndarray) or a.dtype.kind not in SAFE_KINDS:
                raise RuntimeError(f"tt.load: refusing {name}: dtype {getattr(a, 'dtype', type(a))} is not numeric")
            return a

        def decode(node: Any) -> Any:
            if node is None or isinstance(node, (bool, int, str)):
                return node
            if not isinstance(node, dict):
                raise RuntimeError(f"tt.load: malformed manifest node {node!r}")
            kind = node.get("type")
            if kind == "float":
                return float(node["value"])
            if kind in ("list", "tuple"):
                items = [decode(v) for v in node["items"]]
                return items if kind == "list" else tuple(items)
            if kind == "dict":
                return {_hashable(decode(k)): decode(v) for k, v in node["items"]}
            if kind == "ndarray":
                return read_array(node)
            if kind == "tensor":
                return _make_tensor(read_array(node), node, map_location)
            raise RuntimeError(f"tt.load: unknown node type {kind!r} in manifest")

        try:
            return decode(manifest["root"])
        except (KeyError, TypeError, ValueError) as e:
            raise RuntimeError(f"tt.load: malformed manifest: {type(e).__name__}: {e}") from None


def _hashable(key: Any) -> Any:
    if isinstance(key, (list, dict)):
        raise RuntimeError(f"tt.load: dict key {key!r} is not hashable")
    return key


def _make_tensor(a: np.ndarray, node: dict, map_location: str | None) -> Any:
    dtype = node.get("dtype")
    if dtype not in ("float32", "float64", "int64", "bool") or a.dtype != np.dtype(dtype):
        raise RuntimeError(f"tt.load: tensor dtype {dtype!r} does not match its array ({a.dtype})")
    device = map_location or node.get("device")
    t = tensor(a, dtype=as_dtype(dtype), device=device)
    if node.get("parameter"):
        from .nn import Parameter

        return Parameter(t, requires_grad=bool(node.get("requires_grad", True)))
    if node.get("requires_grad"):
        t.requires_grad_(True)
    return t
