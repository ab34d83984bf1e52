"""Samplers: which dataset indices an epoch visits, and in what order or groups.

A :class:`~tinytorch.data.DataLoader` asks its sampler for indices (``SequentialSampler`` when it
does not shuffle, ``RandomSampler`` when it does) and its batch sampler for lists of them
(``BatchSampler`` cutting the sampler's stream into ``batch_size`` pieces). Passing your own
sampler changes what an epoch is -- oversampling rare classes (:class:`WeightedRandomSampler`), a
fixed subset (:class:`SubsetRandomSampler`) -- without touching the dataset.

Randomness: ``generator=None`` draws a fresh seed from tinytorch's global RNG at the start of each
epoch (so ``tt.manual_seed`` makes it reproducible, as ``torch.manual_seed`` does for PyTorch); a
``tt.Generator``, an int seed or a ``numpy.random.Generator`` gives the sampler a stream of its own,
kept across epochs so that successive epochs differ. The numbers are numpy's, not PyTorch's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any

import numpy as np

from .dataset import _numpy_generator


def _positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value}")


def _boolean(name: str, value: Any, error: type[Exception] = TypeError) -> None:
    if not isinstance(value, bool):
        raise error(f"{name} should be a boolean value, but got {name}={value}")


class Sampler:
    """Base class: an iterable over dataset indices (or lists of them, for batch samplers);
    ``__len__`` where the length is known."""

    def __init__(self, data_source: Sized | None = None):
        pass

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class _Seeded(Sampler):
    """A sampler with a ``generator`` (see the module docstring for what it may be)."""

    def __init__(self, generator: Any):
        self.generator = generator
        self._rng: np.random.Generator | None = None

    def _stream(self) -> np.random.Generator:
        if self.generator is None:
            return _numpy_generator(None)  # seeded from the global RNG, once per epoch
        if self._rng is None:
            self._rng = _numpy_generator(self.generator)
        return self._rng


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``.

    Examples::

        >>> list(SequentialSampler(range(4)))
        [0, 1, 2, 3]
    """

    def __init__(self, data_source: Sized):
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(_Seeded):
    """Random indices of ``data_source``: a fresh permutation per pass without replacement
    (``num_samples`` beyond the length takes further permutations), independent draws with it.

    Args:
        data_source: the dataset (only its length is used).
        replacement: draw with replacement. Default: False.
        num_samples: indices per epoch. Default: ``len(data_source)``.
        generator: see the module docstring. Default: None.

    Examples::

        >>> sorted(RandomSampler(range(5), generator=0))
        [0, 1, 2, 3, 4]
        >>> len(list(RandomSampler(range(5), replacement=True, num_samples=12, generator=0)))
        12
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Any = None):
        super().__init__(generator)
        self.data_source, self.replacement, self._num_samples = data_source, replacement, num_samples
        _boolean("replacement", replacement)
        _positive_int("num_samples", self.num_samples)

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n, rng = len(self.data_source), self._stream()
        if self.replacement:
            return iter(rng.integers(0, n, self.num_samples).tolist())
        whole, rest = divmod(self.num_samples, n)
        order = [rng.permutation(n) for _ in range(whole)]
        if rest:
            order.append(rng.permutation(n)[:rest])
        return iter(np.concatenate(order).tolist() if order else [])

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(_Seeded):
    """The given ``indices`` in a random order (a fresh one every epoch).

    Examples::

        >>> sorted(SubsetRandomSampler([7, 3, 9], generator=0))
        [3, 7, 9]
    """

    def __init__(self, indices: Sequence[int], generator: Any = None):
        super().__init__(generator)
        self.indices = indices

    def __iter__(self) -> Iterator[int]:
        return iter([self.indices[i] for i in self._stream().permutation(len(self.indices)).tolist()])

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(_Seeded):
    """``num_samples`` indices ``i`` drawn with probability proportional to ``weights[i]``
    (``torch.multinomial``'s rule): with replacement (the default) or without.

    Args:
        weights: one non-negative weight per index (need not sum to 1).
        num_samples: indices per epoch.
        replacement: draw with replacement. Default: True.
        generator: see the module docstring. Default: None.

    Examples::

        >>> set(WeightedRandomSampler([0.0, 1.0, 0.0, 2.0], 20, generator=0)) <= {1, 3}
        True
    """

    def __init__(self, weights: Sequence[float] | Any, num_samples: int, replacement: bool = True,
                 generator: Any = None):
        super().__init__(generator)
        _positive_int("num_samples", num_samples)
        _boolean("replacement", replacement, ValueError)
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        self.weights, self.num_samples, self.replacement = w, num_samples, replacement

    def __iter__(self) -> Iterator[int]:
        w = self.weights
        if not np.isfinite(w).all() or (w < 0).any():
            raise RuntimeError("invalid multinomial distribution (encountering probability entry < 0, inf or nan)")
        if w.sum() <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if not self.replacement and self.num_samples > np.count_nonzero(w):
            raise RuntimeError(f"cannot sample n_sample={self.num_samples} > the {np.count_nonzero(w)} non-zero "
                               "weights without replacement")
        picks = self._stream().choice(len(w), size=self.num_samples, replace=self.replacement, p=w / w.sum())
        return iter(picks.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter unless
    ``drop_last``).

    Examples::

        >>> list(BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False))
        [[0, 1, 2], [3, 4, 5], [6]]
        >>> list(BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=True))
        [[0, 1, 2], [3, 4, 5]]
    """

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int, drop_last: bool):
        _positive_int("batch_size", batch_size)
        _boolean("drop_last", drop_last, ValueError)
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
