"""``nn.utils.rnn``: batches of sequences of different lengths, padded or packed, as PyTorch's.

A *padded* batch is one tensor ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``) whose shorter
sequences are filled up with a padding value. A *packed* batch (:class:`PackedSequence`) keeps
only the real elements, time step by time step: the sequences are sorted by decreasing length,
and ``data`` holds step 0 of every sequence, then step 1 of those that are long enough, and so
on; ``batch_sizes[t]`` says how many sequences take part in step ``t``. A recurrent layer fed a
packed batch stops each sequence at its own length, so its final state is the state after the
sequence's last real element, not after the padding.

Packing and padding are two gathers (no Python loop over elements): packing picks the real
positions of the padded tensor with a boolean mask (row-major order over ``(t, b)`` is exactly
the packed order), padding gathers rows of ``data`` with an index table that points the padded
positions at one extra row holding the padding value. Both are differentiable.

Examples::

    >>> a, b = tt.ones(3, 2), tt.zeros(1, 2)
    >>> pad_sequence([a, b]).shape
    (3, 2, 2)
    >>> packed = pack_sequence([a, b])
    >>> packed.batch_sizes.tolist(), packed.data.shape
    ([2, 1, 1], (4, 2))
    >>> pad_packed_sequence(packed, batch_first=True)[1].tolist()
    [3, 1]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ...ndarray import int64
from ...ops import cat, full, tensor
from ...tensor import Tensor

__all__ = ["PackedSequence", "pad_sequence", "pack_padded_sequence", "pad_packed_sequence", "pack_sequence",
           "unpad_sequence", "unpack_sequence"]


class _PackedSequenceFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedSequenceFields):
    """A batch of variable-length sequences, packed time step by time step (see the module docstring).

    Fields (a named tuple, as PyTorch's):
        data: ``(sum(lengths), *)``, the real elements, step 0 of every sequence first.
        batch_sizes: int64 ``(T,)``, how many sequences are at least ``t + 1`` long.
        sorted_indices: int64 ``(B,)``: ``sorted_indices[i]`` is the original batch position of the
            i-th longest sequence; ``None`` when the batch was already sorted.
        unsorted_indices: the inverse permutation (computed when not given).

    Build one with :func:`pack_padded_sequence` or :func:`pack_sequence`, not by hand. Unlike
    PyTorch, ``batch_sizes`` lives on the data's device (tinytorch has no separate host device).
    """

    def __new__(cls, data: Tensor, batch_sizes: Tensor | None = None, sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None) -> PackedSequence:
        if batch_sizes is None:  # PackedSequence((data, batch_sizes, ...)), as PyTorch allows
            data, batch_sizes, *rest = data  # type: ignore[misc, attr-defined]
            sorted_indices, unsorted_indices = (list(rest) + [None, None])[:2]
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """``data.to(*args, **kwargs)``; the index tensors follow to the new device only."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self

        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(data.device)

        return type(self)(data, move(self.batch_sizes), move(self.sorted_indices), move(self.unsorted_indices))

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self) -> PackedSequence:
        return self.to("cuda")

    def double(self) -> PackedSequence:
        return self._cast("float64")

    def float(self) -> PackedSequence:
        return self._cast("float32")

    def _cast(self, name: str) -> PackedSequence:
        data = self.data.double() if name == "float64" else self.data.float()
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    @property
    def is_cuda(self) -> bool:
        return str(self.data.device) == "cuda"


def _invert_permutation(permutation: Tensor) -> Tensor:
    order = np.asarray(permutation.tolist(), dtype=np.int64)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    return tensor(inverse, device=permutation.device)


def _lengths_list(lengths: Any) -> list[int]:
    return [int(n) for n in (lengths.tolist() if isinstance(lengths, Tensor) else lengths)]


def _batch_sizes(lengths: Sequence[int]) -> list[int]:
    """``batch_sizes[t]`` = how many of the (decreasing) ``lengths`` exceed ``t``."""
    counts = np.asarray(lengths)
    return [int((counts > t).sum()) for t in range(int(counts.max()))]


def step_mask(batch_sizes: Sequence[int], device: Any) -> Tensor:
    """Bool ``(T, B)``: True where sequence ``b`` (sorted) has an element at step ``t``."""
    sizes = np.asarray(batch_sizes)
    return tensor(np.arange(int(sizes[0]))[None, :] < sizes[:, None], device=device)


def pack_steps(padded: Tensor, batch_sizes: Sequence[int]) -> Tensor:
    """The packed ``data`` of a time-major ``(T, B, *)`` tensor whose batch is sorted by length."""
    return padded[step_mask(batch_sizes, padded.device)]


def pad_steps(data: Tensor, batch_sizes: Sequence[int], padding_value: float = 0.0) -> Tensor:
    """The time-major padded ``(T, B, *)`` tensor of packed ``data`` (batch sorted by length)."""
    sizes = np.asarray(batch_sizes)
    mask = np.arange(int(sizes[0]))[None, :] < sizes[:, None]
    index = np.full(mask.shape, data.shape[0], dtype=np.int64)  # padding points at the extra row
    index[mask] = np.arange(data.shape[0])
    pad_row = full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    return cat([data, pad_row])[tensor(index, device=data.device)]


def pad_sequence(sequences: Sequence[Tensor] | Tensor, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack tensors of shapes ``(L_i, *)`` into one ``(max L_i, B, *)`` tensor (``(B, max L_i, *)``
    with ``batch_first``), filling the missing steps with ``padding_value`` on ``padding_side``
    (``"right"``: after each sequence, ``"left"``: before it). Differentiable."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    seqs = list(sequences.unbind(0) if isinstance(sequences, Tensor) else sequences)
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    trailing = tuple(seqs[0].shape[1:])
    for s in seqs:
        if tuple(s.shape[1:]) != trailing:
            raise RuntimeError(f"The size of the trailing dimensions of every sequence must match, got {trailing} "
                               f"and {tuple(s.shape[1:])}")
    lengths = np.array([s.shape[0] for s in seqs])
    longest = int(lengths.max())
    steps = np.arange(longest)[None, :]
    start = (longest - lengths)[:, None] if padding_side == "left" else np.zeros((len(seqs), 1), dtype=np.int64)
    real = (steps >= start) & (steps < start + lengths[:, None])  # (B, T)
    index = np.full(real.shape, int(lengths.sum()), dtype=np.int64)
    index[real] = np.arange(int(lengths.sum()))
    data = cat(seqs + [full((1,) + trailing, padding_value, dtype=seqs[0].dtype, device=seqs[0].device)])
    out = data[tensor(index, device=data.device)]  # (B, T, *)
    return out if batch_first else out.transpose(0, 1)


def pack_padded_sequence(input: Tensor, lengths: Tensor | Sequence[int], batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded ``(T, B, *)`` (or ``(B, T, *)``) batch whose sequence ``b`` has ``lengths[b]`` real
    steps. With ``enforce_sorted`` the lengths must decrease; otherwise the batch is sorted here and
    the permutation kept in ``sorted_indices`` (ties keep their order)."""
    counts = _lengths_list(lengths)
    batch_dim = 0 if batch_first else 1
    if len(counts) != input.shape[batch_dim]:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(counts)} "
                           f"(batch_size={input.shape[batch_dim]})")
    sorted_indices = None
    if enforce_sorted:
        if any(a < b for a, b in zip(counts, counts[1:])):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
                               "to sidestep this requirement if you do not need ONNX exportability.")
    else:
        order = np.argsort(-np.asarray(counts), kind="stable")
        sorted_indices = tensor(order, dtype=int64, device=input.device)
        input = input.index_select(batch_dim, sorted_indices)
        counts = [counts[i] for i in order]
    if counts[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    steps = input.shape[1 - batch_dim]
    if counts[0] > steps:
        raise RuntimeError(f"Start (0) + length ({counts[0]}) exceeds dimension size ({steps}).")
    time_major = input.transpose(0, 1) if batch_first else input
    sizes = _batch_sizes(counts)
    data = pack_steps(time_major[:len(sizes)], sizes)
    return PackedSequence(data, tensor(sizes, dtype=int64, device=input.device), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """The inverse of :func:`pack_padded_sequence`: ``(padded, lengths)``, the batch back in its
    original order, padded with ``padding_value`` to ``total_length`` steps (default: the longest)."""
    sizes = _lengths_list(sequence.batch_sizes)
    padded = pad_steps(sequence.data, sizes, padding_value)
    if total_length is not None:
        if total_length < len(sizes):
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {len(sizes)}")
        if total_length > len(sizes):
            extra = full((total_length - len(sizes),) + tuple(padded.shape[1:]), padding_value,
                         dtype=padded.dtype, device=padded.device)
            padded = cat([padded, extra])
    counts = np.asarray(sizes)
    lengths = (counts[None, :] > np.arange(sizes[0])[:, None]).sum(1)  # sorted order
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = lengths[np.asarray(sequence.unsorted_indices.tolist(), dtype=np.int64)]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, tensor(lengths, dtype=int64, device=sequence.data.device)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of ``(L_i, *)`` tensors: ``pack_padded_sequence(pad_sequence(sequences), lengths)``."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor | Sequence[int],
                   batch_first: bool = False) -> list[Tensor]:
    """The list of ``(lengths[b], *)`` tensors that :func:`pad_sequence` padded."""
    batch_major = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [batch_major[b, :n] for b, n in enumerate(_lengths_list(lengths))]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of tensors that :func:`pack_sequence` packed, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)

