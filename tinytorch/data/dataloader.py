"""The DataLoader: turn a dataset into an iterator of shuffled mini-batches.

One epoch = one pass over a permutation of ``range(len(dataset))`` cut into chunks of
``batch_size``; each chunk's examples are fetched one by one and glued together by
``collate_fn`` (by default :func:`default_collate`, which stacks tensors along a new dim 0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..ndarray import bool_, float64, int64
from ..ops import from_numpy, stack, tensor
from ..tensor import Tensor
from .dataset import TensorDataset, _numpy_generator


def default_collate(batch: list[Any]) -> Any:
    """Merge a list of examples into a batch, the way PyTorch's ``default_collate`` does.

    Tensors are stacked along a new dim 0; numpy arrays too (giving a tensor); Python ints
    become an int64 tensor and floats a float64 tensor; strings stay a list; dicts are collated
    key by key; tuples and lists are collated position by position (and returned as a list).

    Examples::

        >>> default_collate([(tt.zeros(2), 1), (tt.ones(2), 0)])[1].tolist()
        [1, 0]
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(list(batch), 0)
    if isinstance(elem, np.ndarray):
        return from_numpy(np.stack(batch))
    if isinstance(elem, bool):
        return tensor(list(batch), dtype=bool_)
    if isinstance(elem, (int, np.integer)):
        return tensor([int(b) for b in batch], dtype=int64)
    if isinstance(elem, (float, np.floating)):
        return tensor([float(b) for b in batch], dtype=float64)
    if isinstance(elem, str):
        return list(batch)
    if isinstance(elem, Mapping):
        return {key: default_collate([b[key] for b in batch]) for key in elem}
    if isinstance(elem, Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(samples)) for samples in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}")


class DataLoader:
    """Iterate over a dataset in mini-batches.

    Args:
        dataset: any object with ``__getitem__`` and ``__len__``.
        batch_size: examples per batch. Default: 1.
        shuffle: draw a fresh random order at the start of every epoch. Default: False.
        drop_last: drop the last batch if it is smaller than ``batch_size``. Default: False.
        collate_fn: merges a list of examples into a batch. Default: :func:`default_collate`.
        generator: randomness for ``shuffle``: None uses tinytorch's global RNG (so
            ``tt.manual_seed`` makes the order reproducible); a ``tt.Generator``, an int seed or
            a ``numpy.random.Generator`` gives the loader its own stream.
        num_workers, pin_memory: accepted so PyTorch scripts port unchanged; tinytorch always
            loads in the main process.

    Examples::

        >>> loader = DataLoader(list(range(10)), batch_size=4, shuffle=True, generator=0)
        >>> [b.shape for b in loader]
        [(4,), (4,), (2,)]
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 collate_fn: Callable[[list[Any]], Any] | None = None, generator: Any = None,
                 num_workers: int = 0, pin_memory: bool = False):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.collate_fn = collate_fn if collate_fn is not None else default_collate
        self.generator = generator
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        # With no generator every epoch draws its order from tinytorch's global RNG (as PyTorch
        # does); an int seed becomes the loader's own stream on first use, kept across epochs so
        # that successive epochs differ and the whole sequence is reproducible.
        self._rng: np.random.Generator | None = None

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self.generator is None:
            return _numpy_generator(None).permutation(n)
        if self._rng is None:
            self._rng = _numpy_generator(self.generator)
        return self._rng.permutation(n)

    def __iter__(self) -> Iterator[Any]:
        order = self._order()
        # Fast path, same batches: a TensorDataset's batch is one integer-indexing gather per
        # tensor instead of batch_size single-row views stacked back together.
        gather = isinstance(self.dataset, TensorDataset) and self.collate_fn is default_collate
        for batch in range(len(self)):
            indices = order[batch * self.batch_size:(batch + 1) * self.batch_size]
            if gather:
                yield [t[tensor(indices, dtype=int64, device=t.device)] for t in self.dataset.tensors]
            else:
                yield self.collate_fn([self.dataset[int(i)] for i in indices])

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
