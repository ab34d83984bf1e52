"""``tt.save`` / ``tt.load``: a documented file format that can never run code when loaded.

PyTorch's ``torch.save`` pickles, and unpickling a file can execute anything its author wanted.
tinytorch instead writes a plain zip archive that any tool can inspect:

``manifest.json``
    ``{"format": "tinytorch", "version": 2, "root": NODE}`` where NODE describes the saved
    object. JSON ``null``, ``true``/``false``, integers and strings stand for themselves; every
    other value is an object with a ``"type"``:

    - ``{"type": "float", "value": "0.1"}`` -- ``repr`` of the float, so ``nan``/``inf`` and
      every bit survive;
    - ``{"type": "numpy_scalar", "dtype": "float32", "value": "0.1"}`` -- a numpy scalar
      (``np.float32``, ``np.int8``, ``np.bool_``...), kept with its dtype; ``value`` is a
      ``repr`` string for floats, a JSON integer or boolean otherwise;
    - ``{"type": "list", "items": [NODE, ...]}`` and ``{"type": "tuple", "items": [...]}``;
    - ``{"type": "dict", "items": [[KEY_NODE, VALUE_NODE], ...]}`` -- a list of pairs because
      keys may be ints (optimizer states are keyed by parameter index) and order matters;
      ``"type": "OrderedDict"`` is the same for a ``collections.OrderedDict``;
    - ``{"type": "tensor", "storage": "arrays/0.npy", "shape": [2, 3], "strides": [3, 1],
      "offset": 0, "dtype": "float32", "device": "cpu", "requires_grad": false,
      "parameter": false}`` -- a view (shape, strides and offset in elements) of a *storage*:
      the whole flat buffer under the tensor, written once however many tensors view it, so
      ``{"a": w, "b": w}`` and views of one base share their memory again after loading (as
      with PyTorch); ``{"type": "tensor_ref", "index": N}`` is the N-th tensor node (in
      reading order) again, for one tensor object saved twice;
    - ``{"type": "ndarray", "file": "arrays/1.npy"}`` for plain numpy arrays (one object saved
      twice is loaded as one object).

    Version 1 files (tensor nodes with ``"file"``: a whole array, no sharing) still load.

``arrays/N.npy``
    one standard ``.npy`` file per storage or array, read back without unpickling.

Loading only ever builds the node types above. Whatever is wrong with a file -- not a zip, a
truncated or corrupted archive, a member with another name, an object array, an unknown node,
a view outside its storage -- raises ``RuntimeError`` saying what. Memory is bounded by the
file: every ``.npy`` header is checked against the size the archive declares for it before
anything is allocated (a 200-byte file cannot declare a 3.6 TiB array), no member may inflate
more than deflate can (about 1032:1), all of them together no more than that times the file,
and each stored array is decoded once however often the manifest names it.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import zipfile
import zlib
from collections import OrderedDict
from typing import IO, Any

import numpy as np

from .autograd import Tensor
from .ndarray import NDArray, array, as_dtype
from .ndarray.strides import check_view

FORMAT, VERSION = "tinytorch", 2
READABLE_VERSIONS = (1, 2)
SAFE_KINDS = "biuf"  # bool, signed/unsigned int, float: never object, string or structured arrays
TENSOR_DTYPES = ("float32", "float64", "int64", "bool")
MAX_INFLATION = 1032  # deflate's largest ratio of output to input bytes
PathOrFile = str | os.PathLike | IO[bytes]


# --- save -------------------------------------------------------------------------------------------
def save(obj: Any, f: PathOrFile) -> None:
    """Save ``obj`` (tensors, numpy arrays and scalars, and dicts/OrderedDicts/lists/tuples of
    them and of int/float/str/bool/None) to the path or binary file ``f``. Tensors that share
    memory (one tensor saved twice, views of one base) share it again when loaded.

    Examples::

        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "x.tt")
        >>> save({"w": tt.ones(2), "step": 3}, path)
        >>> load(path)["step"]
        3
    """
    arrays: dict[str, np.ndarray] = {}
    storages: dict[int, tuple[str, NDArray]] = {}  # buffer key -> (file, an array on it: keeps the key valid)
    plain: dict[int, tuple[str, np.ndarray]] = {}  # id of a numpy array -> (file, the array)
    tensors: dict[int, tuple[int, Tensor]] = {}  # id of a tensor -> (its index in saving order, the tensor)

    def add_array(a: np.ndarray) -> str:
        name = f"arrays/{len(arrays)}.npy"
        arrays[name] = a
        return name

    def storage_of(nd: NDArray) -> str:
        key = nd.buffer_key()
        if key not in storages:
            storages[key] = (add_array(nd.buffer_values()), nd)
        return storages[key][0]

    def encode(x: Any) -> Any:
        if x is None or isinstance(x, (bool, str)):
            return x
        if isinstance(x, np.generic):
            return _encode_numpy_scalar(x)
        if isinstance(x, int):
            return int(x)
        if isinstance(x, float):
            return {"type": "float", "value": repr(float(x))}
        if isinstance(x, Tensor):
            from .nn import Parameter

            if id(x) in tensors:  # the same tensor again: loaded as the same object (as pickle does)
                return {"type": "tensor_ref", "index": tensors[id(x)][0]}
            tensors[id(x)] = (len(tensors), x)
            nd = x.detach()._data
            return {"type": "tensor", "storage": storage_of(nd), "shape": list(nd.shape),
                    "strides": list(nd.strides), "offset": nd.offset, "dtype": x.dtype.name,
                    "device": str(x.device), "requires_grad": bool(x.requires_grad),
                    "parameter": isinstance(x, Parameter)}
        if isinstance(x, np.ndarray):
            if x.dtype.kind not in SAFE_KINDS:
                raise TypeError(f"tt.save: cannot save a numpy array of dtype {x.dtype} (numbers and bools only)")
            if id(x) not in plain:
                plain[id(x)] = (add_array(x), x)
            return {"type": "ndarray", "file": plain[id(x)][0]}
        if isinstance(x, (list, tuple)):
            return {"type": type(x).__name__ if type(x) in (list, tuple) else _unsupported(x),
                    "items": [encode(v) for v in x]}
        if isinstance(x, dict):
            kind = "OrderedDict" if isinstance(x, OrderedDict) else "dict"
            return {"type": kind, "items": [[encode(k), encode(v)] for k, v in x.items()]}
        _unsupported(x)

    manifest = {"format": FORMAT, "version": VERSION, "root": encode(obj)}
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=1))
        for name, a in arrays.items():
            buf = io.BytesIO()
            np.save(buf, a, allow_pickle=False)
            zf.writestr(name, buf.getvalue())


def _unsupported(x: Any) -> Any:
    raise TypeError(f"tt.save: cannot save an object of type {type(x).__name__}; supported are tensors, "
                    "numpy arrays and scalars, dict, OrderedDict, list, tuple, int, float, str, bool and None")


def _encode_numpy_scalar(x: np.generic) -> dict:
    dt = x.dtype
    if dt.kind not in SAFE_KINDS or (dt.kind == "f" and dt.itemsize > 8):
        raise TypeError(f"tt.save: cannot save a numpy scalar of dtype {dt} (bool, int, uint and float up to 64 bits)")
    value: Any = repr(float(x)) if dt.kind == "f" else (bool(x) if dt.kind == "b" else int(x))
    return {"type": "numpy_scalar", "dtype": dt.name, "value": value}


# --- load -------------------------------------------------------------------------------------------
# what reading a damaged archive can raise, from zipfile, zlib, json, struct and numpy's header parser
_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, struct.error, ValueError,
           KeyError, TypeError, IndexError, AttributeError, OverflowError, NotImplementedError, RecursionError,
           MemoryError)


def load(f: PathOrFile, map_location: str | None = None, weights_only: bool = True) -> Any:
    """Load an object written by :func:`save`.

    Args:
        f: a path or a binary file.
        map_location: put every tensor on this device instead of the one it was saved from.
        weights_only: accepted for PyTorch compatibility; tinytorch files never contain code.

    Raises:
        FileNotFoundError: if the path does not exist.
        RuntimeError: if ``f`` is not a tinytorch archive, is truncated or corrupted, declares
            more data than it holds, or contains anything but the documented node types and
            numeric ``.npy`` arrays (e.g. a pickle); the message names the problem.
    """
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            return _load_file(fh, map_location)
    return _load_file(f, map_location)


def _load_file(fh: IO[bytes], map_location: str | None) -> Any:
    try:
        start = fh.tell()
        size = fh.seek(0, io.SEEK_END) - start
        fh.seek(start)
    except (OSError, ValueError, AttributeError) as e:
        raise RuntimeError(f"tt.load: the file must be seekable ({type(e).__name__}: {e})") from None
    try:
        zf = zipfile.ZipFile(fh, "r")
    except _DAMAGE as e:
        raise RuntimeError("tt.load: not a tinytorch file (expected a zip archive with manifest.json; "
                           f"{type(e).__name__}: {e}); tinytorch never unpickles, so pickle files such as "
                           "old torch.save outputs cannot be loaded") from None
    with zf:
        try:
            return _Reader(zf, size, map_location).load()
        except RuntimeError:
            raise
        except _DAMAGE as e:
            raise RuntimeError(f"tt.load: the file is truncated, corrupted or malformed "
                               f"({type(e).__name__}: {e})") from None


class _Reader:
    """Decodes one archive: each member read at most once, within a budget of bytes that the
    file's size sets (see the module docstring)."""

    def __init__(self, zf: zipfile.ZipFile, file_size: int, map_location: str | None):
        self.zf, self.map_location = zf, map_location
        self.names = set(zf.namelist())
        self.budget = MAX_INFLATION * max(file_size, 1)  # bytes that all members may inflate to together
        self.arrays: dict[str, np.ndarray] = {}  # file -> decoded array
        self.bases: dict[tuple, NDArray] = {}  # (file, dtype, device) -> the loaded storage
        self.tensors: list[Any] = []  # the tensors decoded so far, in reading order (for tensor_ref)

    # the archive
    def member(self, name: str) -> zipfile.ZipInfo:
        """The checked entry of member ``name``: a stored or deflated file whose declared size
        the archive can hold, charged to the budget."""
        info = self.zf.getinfo(name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise RuntimeError(f"tt.load: {name} uses compression method {info.compress_type} "
                               "(only stored and deflated members are read)")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise RuntimeError(f"tt.load: {name} declares {info.file_size} bytes but stores {info.compress_size}")
        if info.file_size > MAX_INFLATION * info.compress_size + 64:
            raise RuntimeError(f"tt.load: {name} declares {info.file_size} bytes from {info.compress_size} "
                               "compressed ones, more than deflate can produce")
        self.budget -= info.file_size
        if self.budget < 0:
            raise RuntimeError("tt.load: the archive's members declare more data than a file of its size can hold")
        return info

    def read_member(self, name: str) -> bytes:
        info = self.member(name)
        with self.zf.open(info) as fp:
            data = fp.read(info.file_size + 1)  # reading to the end checks the CRC
        if len(data) != info.file_size:
            raise RuntimeError(f"tt.load: {name} holds {len(data)} bytes, not the {info.file_size} it declares")
        return data

    def read_array(self, name: Any) -> np.ndarray:
        """The array in member ``name``, decoded once; its header is checked against the
        member's declared size before the data is allocated."""
        if not isinstance(name, str) or name not in self.names or not name.startswith("arrays/"):
            raise RuntimeError(f"tt.load: manifest refers to a missing array file {name!r}")
        if name not in self.arrays:
            try:
                self.arrays[name] = self._decode_npy(name)
            except RuntimeError:
                raise
            except _DAMAGE as e:
                raise RuntimeError(f"tt.load: {name} is not a valid .npy array ({type(e).__name__}: {e})") from None
        return self.arrays[name]

    def _decode_npy(self, name: str) -> np.ndarray:
        info = self.member(name)
        with self.zf.open(info) as raw:
            fp = _Counting(raw)
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise RuntimeError(f"tt.load: {name} is a .npy file of unsupported version {version}")
            if dtype.hasobject or dtype.kind not in SAFE_KINDS or dtype.fields is not None:
                raise RuntimeError(f"tt.load: refusing {name}: dtype {dtype} is not numeric "
                                   "(object arrays would need unpickling)")
            nbytes = math.prod(shape) * dtype.itemsize
            if nbytes != info.file_size - fp.count:
                raise RuntimeError(f"tt.load: {name} declares an array of shape {shape} ({nbytes} bytes) but "
                                   f"holds {info.file_size - fp.count} bytes of data")
            data = fp.read(nbytes + 1)  # to the end: checks the CRC
        if len(data) != nbytes:
            raise RuntimeError(f"tt.load: {name} is truncated: {len(data)} of {nbytes} bytes")
        return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")

    # the manifest
    def load(self) -> Any:
        if "manifest.json" not in self.names:
            pickled = any(n.endswith(".pkl") for n in self.names)
            hint = " (it looks like a pickle-based torch.save file)" if pickled else ""
            raise RuntimeError(f"tt.load: archive has no manifest.json{hint}; tinytorch never unpickles")
        try:
            manifest = json.loads(self.read_member("manifest.json"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RuntimeError(f"tt.load: manifest.json is not valid JSON: {e}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or "root" not in manifest:
            raise RuntimeError("tt.load: manifest.json is not a tinytorch manifest")
        if manifest.get("version") not in READABLE_VERSIONS:
            raise RuntimeError(f"tt.load: unsupported format version {manifest.get('version')!r} "
                               f"(this reads {', '.join(map(str, READABLE_VERSIONS))})")
        try:
            return self.decode(manifest["root"])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise RuntimeError(f"tt.load: malformed manifest: {type(e).__name__}: {e}") from None

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, str)):
            return node
        if not isinstance(node, dict):
            raise RuntimeError(f"tt.load: malformed manifest node {node!r:.80}")
        kind = node.get("type")
        if kind == "float":
            return float(node["value"])
        if kind == "numpy_scalar":
            return _decode_numpy_scalar(node)
        if kind in ("list", "tuple"):
            items = [self.decode(v) for v in node["items"]]
            return items if kind == "list" else tuple(items)
        if kind in ("dict", "OrderedDict"):
            pairs = ((_hashable(self.decode(k)), self.decode(v)) for k, v in node["items"])
            return dict(pairs) if kind == "dict" else OrderedDict(pairs)
        if kind == "ndarray":
            return self.read_array(node.get("file"))
        if kind == "tensor":
            self.tensors.append(self.tensor(node))
            return self.tensors[-1]
        if kind == "tensor_ref":
            index = node["index"]
            if type(index) is not int or not 0 <= index < len(self.tensors):
                raise RuntimeError(f"tt.load: tensor_ref to tensor {index!r:.20}, of {len(self.tensors)} read so far")
            return self.tensors[index]
        raise RuntimeError(f"tt.load: unknown node type {kind!r} in manifest")

    def tensor(self, node: dict) -> Any:
        dtype = node.get("dtype")
        if dtype not in TENSOR_DTYPES:
            raise RuntimeError(f"tt.load: unknown tensor dtype {dtype!r}")
        device = self.map_location or node.get("device")
        if "storage" in node:  # version 2: a view of a shared storage
            base = self.storage(node["storage"], dtype, device)
            shape, strides, offset = (_ints(node["shape"], "shape"), _ints(node["strides"], "strides"),
                                      _ints([node["offset"]], "offset")[0])
            try:
                check_view(base.size, shape, strides, offset)
            except (ValueError, IndexError) as e:
                raise RuntimeError(f"tt.load: tensor view outside its storage {node['storage']}: {e}") from None
            t = Tensor(base.as_strided(shape, strides, offset))
        else:  # version 1: a whole array of its own
            a = self.read_array(node.get("file"))
            if a.dtype != np.dtype(dtype):
                raise RuntimeError(f"tt.load: tensor dtype {dtype!r} does not match its array ({a.dtype})")
            t = Tensor(array(a, dtype=as_dtype(dtype), device=device))
        if node.get("parameter"):
            from .nn import Parameter

            return Parameter(t, requires_grad=bool(node.get("requires_grad", True)))
        if node.get("requires_grad"):
            t.requires_grad_(True)
        return t

    def storage(self, name: Any, dtype: str, device: Any) -> NDArray:
        """The flat storage in ``name`` on ``device``, loaded once for all the tensors that view it."""
        key = (name, dtype, device)
        if key not in self.bases:
            a = self.read_array(name)
            if a.dtype != np.dtype(dtype) or a.ndim != 1:
                raise RuntimeError(f"tt.load: storage {name} is {a.dtype} of shape {a.shape}, "
                                   f"not a flat {dtype} buffer")
            self.bases[key] = array(a, dtype=as_dtype(dtype), device=device)
        return self.bases[key]


class _Counting:
    """A read-only stream that counts the bytes read (the length of a ``.npy`` header)."""

    def __init__(self, raw: IO[bytes]):
        self.raw, self.count = raw, 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.count += len(data)
        return data


def _ints(values: Any, what: str) -> tuple[int, ...]:
    if not isinstance(values, list) or not all(type(v) is int for v in values):
        raise RuntimeError(f"tt.load: tensor {what} must be a list of integers, got {values!r:.80}")
    return tuple(values)


def _decode_numpy_scalar(node: dict) -> np.generic:
    try:
        dt = np.dtype(node["dtype"])
    except TypeError:
        raise RuntimeError(f"tt.load: unknown numpy scalar dtype {node['dtype']!r}") from None
    if dt.kind not in SAFE_KINDS or dt.fields is not None:
        raise RuntimeError(f"tt.load: refusing a numpy scalar of dtype {dt}")
    value = node["value"]
    if dt.kind == "f":
        return dt.type(float(value))
    if type(value) is not (bool if dt.kind == "b" else int):
        raise RuntimeError(f"tt.load: numpy scalar of dtype {dt} has value {value!r:.40}")
    info = np.iinfo(dt) if dt.kind in "iu" else None
    if info is not None and not info.min <= value <= info.max:
        raise RuntimeError(f"tt.load: value {value} does not fit in a numpy {dt}")
    return dt.type(value)


def _hashable(key: Any) -> Any:
    if isinstance(key, (list, dict)):
        raise RuntimeError(f"tt.load: dict key {key!r:.80} is not hashable")
    return key
