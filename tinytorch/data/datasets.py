"""MNIST, FashionMNIST and CIFAR-10: their file formats, a checked download, and the small MNIST
subset that ships offline.

The IDX format (LeCun's, used by the MNIST files) is simple enough to read by hand, which is
why tinytorch does rather than depending on a package for it::

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    then        d sizes, each a big-endian uint32
    then        the data, row-major, big-endian

The files are usually gzip-compressed (``*.gz``); :func:`read_idx` accepts either.

CIFAR-10's "python version" is a directory ``cifar-10-batches-py`` of pickled dicts: the batches
``data_batch_1`` .. ``data_batch_5`` and ``test_batch`` each hold ``b"data"`` (10000 x 3072 uint8,
each row the red, green and blue 32 x 32 planes) and ``b"labels"``; ``batches.meta`` holds
``b"label_names"``. They are read with an unpickler that admits only numpy arrays and plain
containers, so a tampered file cannot run code.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import struct
import tarfile
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..ops import from_numpy
from ..tensor import Tensor
from .text import Shakespeare  # noqa: F401  (the language-model corpus; defined with its tokenizers)

IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
SUBSET_PATH = Path(__file__).with_name("mnist_subset.npz")


def parse_idx(data: bytes) -> np.ndarray:
    """Decode the bytes of an (uncompressed) IDX file into a numpy array in native byte order."""
    if len(data) < 4:
        raise ValueError(f"not an IDX file: only {len(data)} bytes")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in IDX_DTYPES:
        raise ValueError(f"not an IDX file: bad magic number {data[:4].hex()}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"IDX file truncated: header needs {header} bytes, file has {len(data)}")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(IDX_DTYPES[type_code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"IDX file size mismatch: shape {shape} of {dtype} needs {expected} data bytes, "
                         f"found {len(data) - header}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not (detected from the gzip magic bytes)."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return parse_idx(raw)


def _md5(path: Path) -> str:
    digest = hashlib.md5()  # the published MNIST checksums are MD5: integrity, not security
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _urlopen(url: str) -> Any:
    return urllib.request.urlopen(url, timeout=30)  # a dead network fails in seconds, never hangs


def download_url(url: str, path: str | os.PathLike, md5: str | None = None,
                 opener: Callable[[str], Any] = _urlopen, progress: bool = True) -> Path:
    """Download ``url`` to ``path`` with a tqdm progress bar, checking ``md5`` if given.

    The bytes go to ``path + ".part"`` first and are renamed only once the checksum matches, so
    an interrupted or corrupted download never leaves a file that looks complete. ``opener``
    (default ``urllib.request.urlopen`` with a 30 s timeout; ``file://`` URLs work too) is a parameter so tests can
    run without a network.
    """
    from tqdm.auto import tqdm

    path = Path(path)
    part = path.with_name(path.name + ".part")
    try:
        with opener(url) as response, part.open("wb") as out:
            length = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
            with tqdm(total=int(length) if length else None, unit="B", unit_scale=True, desc=path.name,
                      disable=not progress) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
        if md5 is not None and (got := _md5(part)) != md5:
            raise RuntimeError(f"checksum mismatch for {url}: md5 {got}, expected {md5}")
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)
    return path


def _fetch_all(raw_folder: Path, mirrors: list[str], resources: list[tuple[str, str]], dataset: str) -> None:
    """Download each missing or corrupt file of ``resources`` into ``raw_folder``, trying each
    mirror in turn. If one cannot be had, raise ``RuntimeError`` naming every file expected and
    where to put them by hand (the way out on a machine without network)."""
    raw_folder.mkdir(parents=True, exist_ok=True)
    for filename, md5 in resources:
        target = raw_folder / filename
        if target.exists() and _md5(target) == md5:
            continue
        errors = []
        for mirror in mirrors:
            try:
                download_url(mirror + filename, target, md5=md5)
                break
            except Exception as e:  # network errors, HTTP errors, checksum mismatch: try the next mirror
                errors.append(f"{mirror}{filename}: {e}")
        else:
            expected = ", ".join(name for name, _ in resources)
            raise RuntimeError(f"could not download {filename} for {dataset}:\n  " + "\n  ".join(errors)
                               + f"\nWithout a network, copy the files {expected} into {raw_folder} "
                               "(then download=False is enough).")


def _transformed(ds: Any, image: Any, target: Any) -> tuple[Any, Any]:
    """``(transform(image), target_transform(target))`` with a dataset's optional transforms."""
    if ds.transform is not None:
        image = ds.transform(image)
    if ds.target_transform is not None:
        target = ds.target_transform(target)
    return image, target


class MNIST:
    """The MNIST handwritten digits: 28x28 grayscale images with labels 0-9.

    Args:
        root: ``None`` uses the 5,000-image subset shipped inside tinytorch (train: 4,000 images,
            400 per digit; test: the other 1,000, 100 per digit; see
            ``scripts/make_mnist_subset.py``). A directory uses the standard IDX files of the
            full 70,000-image set in ``root/MNIST/raw/`` (``*.gz`` or uncompressed).
        train: the training split if True, else the test split.
        transform: applied to each image (a ``28 x 28`` uint8 numpy array, tinytorch's stand-in
            for torchvision's PIL image), e.g. ``ToTensor()``.
        target_transform: applied to each label (a Python int).
        download: with a ``root``, fetch the IDX files from the mirrors in :attr:`mirrors` if they
            are missing, checking each file's MD5.

    Each example is ``(image, label)``. As torchvision's, ``data`` holds all images as a tensor
    (N x 28 x 28) and ``targets`` all labels (N, int64); ``data`` is int64 holding 0..255, since
    tinytorch has no uint8 dtype. Both may be replaced (e.g. sliced) and ``__getitem__`` follows.

    Examples::

        >>> from tinytorch.data import transforms
        >>> ds = MNIST(train=False, transform=transforms.ToTensor())
        >>> len(ds), ds[0][0].shape, ds.data.shape, ds.targets.dtype
        (1000, (1, 28, 28), (1000, 28, 28), tinytorch.int64)
    """

    mirrors = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True,
                 transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[Any], Any] | None = None, download: bool = False):
        self.root = None if root is None else Path(root).expanduser()
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        if self.root is None:
            images, labels = self._shipped(train)
        else:
            if download:
                self.download()
            prefix = "train" if train else "t10k"
            images = read_idx(self._find(f"{prefix}-images-idx3-ubyte"))
            labels = read_idx(self._find(f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
            if images.ndim != 3 or len(images) != len(labels):
                raise RuntimeError(f"{type(self).__name__} files disagree: images {images.shape}, "
                                   f"labels {labels.shape}")
        self.data: Tensor = from_numpy(images.astype(np.int64))
        self.targets: Tensor = from_numpy(labels.astype(np.int64))
        self._pixels: tuple[Any, np.ndarray] = (self.data, images.astype(np.uint8))

    def _shipped(self, train: bool) -> tuple[np.ndarray, np.ndarray]:
        split = "train" if train else "test"
        with np.load(SUBSET_PATH, allow_pickle=False) as f:
            return f[f"{split}_images"], f[f"{split}_labels"]

    @property
    def raw_folder(self) -> Path:
        if self.root is None:
            raise AttributeError("the shipped subset has no raw folder")
        return self.root / type(self).__name__ / "raw"

    def _find(self, stem: str) -> Path:
        for name in (stem, stem + ".gz"):
            if (self.raw_folder / name).exists():
                return self.raw_folder / name
        hint = ", or root=None for the shipped subset" if type(self) is MNIST else ""
        raise RuntimeError(f"Dataset not found: no {stem}[.gz] in {self.raw_folder}. "
                           f"You can use download=True to download it{hint}.")

    def download(self) -> None:
        """Fetch any missing IDX file, trying each mirror in turn; raise if none has it intact."""
        _fetch_all(self.raw_folder, self.mirrors, self.resources, type(self).__name__)

    def _image(self, index: int) -> np.ndarray:
        """Image ``index`` as uint8 numpy, from a numpy copy of ``data`` kept until ``data`` is replaced."""
        if self._pixels[0] is not self.data:
            self._pixels = (self.data, np.asarray(self.data).astype(np.uint8))
        return self._pixels[1][index]

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return _transformed(self, self._image(index), int(self.targets[index]))

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        where = "shipped subset" if self.root is None else str(self.raw_folder)
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n    Root location: {where}\n"
                f"    Split: {'Train' if self.train else 'Test'}")


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grayscale images of 10 kinds of clothing, in MNIST's IDX
    format and layout (``root/FashionMNIST/raw/``). The same arguments, ``data`` and ``targets``
    as :class:`MNIST`, except that ``root`` is required (nothing ships offline)."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]

    def __init__(self, root: str | os.PathLike, train: bool = True, transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[Any], Any] | None = None, download: bool = False):
        if root is None:
            raise ValueError("FashionMNIST needs a root directory (only MNIST ships a subset offline)")
        super().__init__(root, train, transform, target_transform, download)


# ---------------------------------------------------------------------- CIFAR-10
_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),  # how Python 3 writes bytes in protocol 2: a pure function of a string
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Admits the few numpy names that rebuild an array and nothing else: plain containers,
    numbers, strings and arrays load; any other global (a function to call) is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _PICKLE_ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file (arrays only)")


def load_pickled_batch(path: str | os.PathLike) -> dict:
    """One CIFAR python-format file (a pickled dict, Python 2 ``latin1`` strings allowed),
    loaded without running code; byte-string keys become ``str``."""
    try:
        with open(path, "rb") as f:
            entry = _ArraysOnlyUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise RuntimeError(f"{path} is not a CIFAR python batch: {e}") from None
    if not isinstance(entry, dict):
        raise RuntimeError(f"{path} is not a CIFAR python batch: holds a {type(entry).__name__}, not a dict")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}


class CIFAR10:
    """CIFAR-10: 60,000 32x32 colour images in 10 classes (50,000 train, 10,000 test), read from
    the python version's batch files in ``root/cifar-10-batches-py/``.

    Args:
        root: the directory holding ``cifar-10-batches-py`` (or where to download it).
        train: ``data_batch_1`` .. ``_5`` if True, else ``test_batch``.
        transform: applied to each image (a ``32 x 32 x 3`` uint8 numpy array).
        target_transform: applied to each label (a Python int).
        download: fetch and unpack ``cifar-10-python.tar.gz`` (MD5-checked) if the batches are
            missing.

    As torchvision's: ``data`` is a numpy uint8 array N x 32 x 32 x 3 (height, width, channel)
    and ``targets`` a list of ints; ``classes`` and ``class_to_idx`` come from ``batches.meta``.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [f"data_batch_{i}" for i in range(1, 6)]
    test_list = ["test_batch"]
    meta_file = "batches.meta"
    labels_key = "labels"
    names_key = "label_names"

    def __init__(self, root: str | os.PathLike, train: bool = True, transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[Any], Any] | None = None, download: bool = False):
        self.root = Path(root).expanduser()
        self.train, self.transform, self.target_transform = train, transform, target_transform
        if download:
            self.download()
        missing = [name for name in self._expected() if not (self.folder / name).exists()]
        if missing:
            raise RuntimeError(f"Dataset not found: {', '.join(missing)} missing in {self.folder}. "
                               "You can use download=True to download it.")
        rows, labels = [], []
        for name in self.train_list if train else self.test_list:
            entry = load_pickled_batch(self.folder / name)
            data = np.asarray(entry["data"], dtype=np.uint8)
            if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(entry[self.labels_key]):
                raise RuntimeError(f"{self.folder / name}: expected data of N x 3072 with N labels, got "
                                   f"{data.shape} and {len(entry[self.labels_key])} labels")
            rows.append(data)
            labels.extend(int(y) for y in entry[self.labels_key])
        self.data: np.ndarray = np.vstack(rows).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        self.targets: list[int] = labels
        meta = load_pickled_batch(self.folder / self.meta_file)
        self.classes: list[str] = [c.decode("latin1") if isinstance(c, bytes) else str(c) for c in meta[self.names_key]]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    @property
    def folder(self) -> Path:
        return self.root / self.base_folder

    def _expected(self) -> list[str]:
        return [*self.train_list, *self.test_list, self.meta_file]

    def download(self) -> None:
        """Fetch the archive (MD5-checked) and unpack it, unless every batch file is there."""
        if all((self.folder / name).exists() for name in self._expected()):
            return
        archive = self.root / self.filename
        self.root.mkdir(parents=True, exist_ok=True)
        if not (archive.exists() and _md5(archive) == self.tgz_md5):
            try:
                download_url(self.url, archive, md5=self.tgz_md5)
            except Exception as e:
                raise RuntimeError(f"could not download {self.url}: {e}\nWithout a network, put {self.filename} "
                                   f"into {self.root}, or unpack it so that {self.folder} holds "
                                   f"{', '.join(self._expected())}.") from None
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(self.root, filter="data")  # the "data" filter refuses absolute paths and links out

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return _transformed(self, self.data[index], self.targets[index])

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n    Root location: "
                f"{self.root}\n    Split: {'Train' if self.train else 'Test'}")
