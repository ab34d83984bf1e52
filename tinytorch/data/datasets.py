"""MNIST: the IDX file format, a checked download, and the small subset that ships offline.

The IDX format (LeCun's, used by the MNIST files) is simple enough to read by hand, which is
why tinytorch does rather than depending on a package for it::

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    then        d sizes, each a big-endian uint32
    then        the data, row-major, big-endian

The files are usually gzip-compressed (``*.gz``); :func:`read_idx` accepts either.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

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


def download_url(url: str, path: str | os.PathLike, md5: str | None = None,
                 opener: Callable[[str], Any] = urllib.request.urlopen, progress: bool = True) -> Path:
    """Download ``url`` to ``path`` with a tqdm progress bar, checking ``md5`` if given.

    The bytes go to ``path + ".part"`` first and are renamed only once the checksum matches, so
    an interrupted or corrupted download never leaves a file that looks complete. ``opener``
    (default ``urllib.request.urlopen``; ``file://`` URLs work too) is a parameter so tests can
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


class MNIST:
    """The MNIST handwritten digits: 28x28 grayscale images with labels 0-9.

    Args:
        root: ``None`` uses the 5,000-image subset shipped inside tinytorch (train: 4,000 images,
            400 per digit; test: the other 1,000, 100 per digit; see
            ``scripts/make_mnist_subset.py``). A directory uses the standard IDX files of the
            full 70,000-image set in ``root/MNIST/raw/`` (``*.gz`` or uncompressed).
        train: the training split if True, else the test split.
        transform: applied to each image (a ``28 x 28`` uint8 numpy array), e.g. ``ToTensor()``.
        target_transform: applied to each label (a Python int).
        download: with a ``root``, fetch the IDX files from the mirrors in :attr:`mirrors` if they
            are missing, checking each file's MD5.

    Each example is ``(image, label)``. ``data`` holds all images (N x 28 x 28 uint8) and
    ``targets`` all labels (N, int64), both numpy arrays.

    Examples::

        >>> from tinytorch.data import transforms
        >>> ds = MNIST(train=False, transform=transforms.ToTensor())
        >>> len(ds), ds[0][0].shape
        (1000, (1, 28, 28))
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
            split = "train" if train else "test"
            with np.load(SUBSET_PATH, allow_pickle=False) as f:
                self.data, self.targets = f[f"{split}_images"], f[f"{split}_labels"]
            return
        if download:
            self.download()
        prefix = "train" if train else "t10k"
        self.data = read_idx(self._find(f"{prefix}-images-idx3-ubyte"))
        self.targets = read_idx(self._find(f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
        if self.data.ndim != 3 or len(self.data) != len(self.targets):
            raise RuntimeError(f"MNIST files disagree: images {self.data.shape}, labels {self.targets.shape}")

    @property
    def raw_folder(self) -> Path:
        if self.root is None:
            raise AttributeError("the shipped subset has no raw folder")
        return self.root / "MNIST" / "raw"

    def _find(self, stem: str) -> Path:
        for name in (stem, stem + ".gz"):
            if (self.raw_folder / name).exists():
                return self.raw_folder / name
        raise RuntimeError(f"Dataset not found: no {stem}[.gz] in {self.raw_folder}. "
                           "You can use download=True to download it, or root=None for the shipped subset.")

    def download(self) -> None:
        """Fetch any missing IDX file, trying each mirror in turn; raise if none has it intact."""
        self.raw_folder.mkdir(parents=True, exist_ok=True)
        for filename, md5 in self.resources:
            target = self.raw_folder / filename
            if target.exists() and _md5(target) == md5:
                continue
            errors = []
            for mirror in self.mirrors:
                try:
                    download_url(mirror + filename, target, md5=md5)
                    break
                except Exception as e:  # network errors, HTTP errors, checksum mismatch: try the next mirror
                    errors.append(f"{mirror}{filename}: {e}")
            else:
                raise RuntimeError(f"could not download {filename}:\n  " + "\n  ".join(errors))

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        where = "shipped subset" if self.root is None else str(self.raw_folder)
        return (f"Dataset MNIST\n    Number of datapoints: {len(self)}\n    Root location: {where}\n"
                f"    Split: {'Train' if self.train else 'Test'}")
