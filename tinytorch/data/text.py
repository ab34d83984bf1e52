"""Text for language models: the shipped Shakespeare corpus, a character tokenizer and a
byte-pair-encoding (BPE) tokenizer.

The corpus (``shakespeare.txt``, about 1 MB, eight plays) is made by
``scripts/make_shakespeare.py`` from Project Gutenberg's public-domain texts. A language model
reads it as a long sequence of token ids and learns to predict each next id: a training example
is a window of ``block_size`` ids and the same window shifted by one.

BPE (Sennrich et al., 2016, as GPT-2 uses it on bytes) starts from the 256 byte values and
repeatedly merges the most frequent adjacent pair into a new token, so frequent words become
single tokens and any text remains encodable. Merges never cross the boundaries of the chunks
that :data:`CHUNK` splits the text into (words with their leading space, numbers, runs of
punctuation, newlines, spaces, and any other character alone), which keeps tokens word-like.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..ops.creation import tensor
from ..tensor import Tensor
from .dataset import Dataset

CORPUS_PATH = Path(__file__).with_name("shakespeare.txt")
CHUNK = re.compile(r" ?[A-Za-z]+| ?[0-9]+| ?[^A-Za-z0-9\s]+|\n+| +|.", re.S)  # the last: anything else


def shakespeare_text() -> str:
    """The whole shipped corpus as one string."""
    return CORPUS_PATH.read_text(encoding="ascii")


class CharTokenizer:
    """One token per character: the sorted distinct characters of ``text`` get ids 0, 1, ...

    >>> tok = CharTokenizer("hello")
    >>> tok.encode("hole"), tok.decode([1, 2])
    ([1, 3, 2, 0], 'eh')
    """

    def __init__(self, text: str):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``'s characters; a character outside the vocabulary is a ``KeyError`` naming it."""
        try:
            return [self.index[c] for c in text]
        except KeyError as e:
            raise KeyError(f"character {e.args[0]!r} is not in this tokenizer's vocabulary") from None

    def decode(self, ids: Sequence[int] | Tensor) -> str:
        return "".join(self.chars[int(i)] for i in _id_list(ids))


class BPETokenizer:
    """Byte-level byte-pair encoding: ``BPETokenizer.train(text, vocab_size)``, then ``encode`` / ``decode``.

    Token ids 0-255 are the bytes; id ``256 + k`` is the ``k``-th merge, the pair ``merges[k]``.
    Encoding applies the merges in the order they were learned, which reproduces exactly the
    tokens training made; decoding concatenates the bytes of each token, so
    ``decode(encode(s)) == s`` for every string.
    """

    def __init__(self, merges: Sequence[tuple[int, int]] = ()):
        self.merges = [tuple(int(v) for v in m) for m in merges]
        self.vocab = [bytes([b]) for b in range(256)]
        for a, b in self.merges:
            if not (0 <= a < len(self.vocab) and 0 <= b < len(self.vocab)):
                raise ValueError(f"merge ({a}, {b}) refers to a token that does not exist yet")
            self.vocab.append(self.vocab[a] + self.vocab[b])

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @classmethod
    def train(cls, text: str, vocab_size: int) -> "BPETokenizer":
        """Learn ``vocab_size - 256`` merges from ``text`` (ties go to the smallest pair ids)."""
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (the bytes), got {vocab_size}")
        ids = _chunked_bytes(text)
        merges: list[tuple[int, int]] = []
        for new_id in range(256, vocab_size):
            pair = _most_frequent_pair(ids, new_id)
            if pair is None:
                break  # every chunk is a single token already
            merges.append(pair)
            ids = _merge(ids, pair, new_id)
        return cls(merges)

    def encode(self, text: str) -> list[int]:
        ids = _chunked_bytes(text)
        for k, pair in enumerate(self.merges):
            ids = _merge(ids, pair, 256 + k)
        return [int(i) for i in ids if i >= 0]

    def decode(self, ids: Sequence[int] | Tensor) -> str:
        return b"".join(self.vocab[int(i)] for i in _id_list(ids)).decode("utf-8", errors="replace")

    def state_dict(self) -> dict[str, Any]:
        return {"merges": [list(m) for m in self.merges]}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "BPETokenizer":
        return cls([tuple(m) for m in state["merges"]])


def _id_list(ids: Sequence[int] | Tensor) -> list[int]:
    return ids.tolist() if isinstance(ids, Tensor) else list(ids)


def _chunked_bytes(text: str) -> np.ndarray:
    """The UTF-8 bytes of ``text`` as int64 ids, with -1 between chunks (merges never cross a -1)."""
    out: list[int] = []
    for chunk in CHUNK.findall(text):
        out.extend(chunk.encode("utf-8"))
        out.append(-1)
    return np.array(out, dtype=np.int64)


def _most_frequent_pair(ids: np.ndarray, width: int) -> tuple[int, int] | None:
    """The most frequent adjacent pair of token ids below ``width`` (neither -1; ties go to the
    smallest ``(a, b)``), or None when there is no pair. A run ``x x x`` counts ``(x, x)`` twice,
    though one merge fits: the count is of positions, as usual in BPE implementations."""
    a, b = ids[:-1], ids[1:]
    valid = (a >= 0) & (b >= 0)
    if not valid.any():
        return None
    codes = a[valid] * width + b[valid]
    if width * width <= 1 << 22:  # a dense count is fastest while the table is small
        best = int(np.argmax(np.bincount(codes, minlength=width * width)))
    else:
        values, counts = np.unique(codes, return_counts=True)
        best = int(values[np.argmax(counts)])
    return best // width, best % width


def _merge(ids: np.ndarray, pair: tuple[int, int], new_id: int) -> np.ndarray:
    """``ids`` with every non-overlapping occurrence of ``pair`` (left to right) replaced by ``new_id``."""
    hits = np.flatnonzero((ids[:-1] == pair[0]) & (ids[1:] == pair[1]))
    if hits.size == 0:
        return ids
    if pair[0] == pair[1]:  # in a run "xxx" only every other start can merge: keep them left to right
        keep, last = [], -2
        for h in hits.tolist():
            if h != last + 1:
                keep.append(h)
                last = h
            else:
                last = -2
        hits = np.array(keep, dtype=np.int64)
    out = ids.copy()
    out[hits] = new_id
    return np.delete(out, hits + 1)


class Shakespeare(Dataset):
    """Windows of the shipped Shakespeare corpus for next-token prediction.

    Args:
        split: ``"train"`` (the first 90% of the text) or ``"val"`` (the last 10%).
        block_size: the length of each example.
        tokenizer: a :class:`CharTokenizer` (default: built from the whole corpus, 75 characters)
            or any object with ``encode(str) -> list[int]``, e.g. a :class:`BPETokenizer`.

    Example ``i`` is ``(x, y)``: two int64 tensors of length ``block_size``, ``x`` the ids at
    positions ``i .. i + block_size - 1`` of the split and ``y`` the ids one position later.
    ``data`` holds the split's ids (an int64 tensor).
    """

    def __init__(self, split: str = "train", block_size: int = 64, tokenizer: Any = None):
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        if block_size < 1:
            raise ValueError(f"block_size must be positive, got {block_size}")
        text = shakespeare_text()
        self.tokenizer = tokenizer if tokenizer is not None else CharTokenizer(text)
        ids = np.array(self.tokenizer.encode(text), dtype=np.int64)
        cut = int(0.9 * len(ids))
        self.split, self.block_size = split, block_size
        self.data = tensor(ids[:cut] if split == "train" else ids[cut:])
        if len(self.data) <= block_size:
            raise ValueError(f"block_size {block_size} leaves no example in a split of {len(self.data)} tokens")

    def __len__(self) -> int:
        return len(self.data) - self.block_size

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} is out of range for a dataset of {len(self)} windows")
        i %= len(self)
        return self.data[i:i + self.block_size], self.data[i + 1:i + 1 + self.block_size]
