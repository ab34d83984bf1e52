"""The DataLoader: turn a dataset into an iterator of (shuffled) mini-batches.

One epoch = the index lists of the batch sampler (by default ``BatchSampler`` over a
``SequentialSampler``, or a ``RandomSampler`` with ``shuffle=True``); each list's examples are
fetched one by one and glued together by ``collate_fn`` (by default :func:`default_collate`,
which stacks tensors along a new dim 0). With ``num_workers > 0`` worker processes fetch and
collate (see :mod:`tinytorch.data.worker`); the batches come back in the same order.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..ndarray import bool_, float64, int64
from ..ops import from_numpy, stack, tensor
from ..ops.random import randint
from ..tensor import Tensor
from .dataset import IterableDataset, TensorDataset, _numpy_generator
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from .worker import EXHAUSTED, WorkerPool, mp_context


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


def default_convert(data: Any) -> Any:
    """What ``batch_size=None`` (no batching) does to each example, as PyTorch's: numpy arrays and
    numpy scalars of numbers become tensors, dicts and namedtuples keep their type with converted
    values, other tuples and lists become lists, anything else is left as it is.

    Examples::

        >>> default_convert((np.float64(1.5), [np.zeros(2)]))
        [tensor(1.5000, dtype=tinytorch.float64), [tensor([0., 0.], dtype=tinytorch.float64)]]
    """
    if isinstance(data, (np.ndarray, np.number, np.bool_)):
        return from_numpy(np.asarray(data)) if np.asarray(data).dtype.kind in "biuf" else data
    if isinstance(data, Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # a namedtuple keeps its type
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return [default_convert(d) for d in data]
    return data


class _Fetcher:
    """Index list -> batch (or, without auto-batching, index -> example): what a worker runs.
    A TensorDataset with the default collate takes each tensor's rows in one gather instead
    of stacking single-row views (the same batch, far fewer ops)."""

    def __init__(self, dataset: Any, collate_fn: Callable[[Any], Any], auto_batching: bool):
        self.dataset, self.collate_fn, self.auto_batching = dataset, collate_fn, auto_batching
        self.gather = auto_batching and isinstance(dataset, TensorDataset) and collate_fn is default_collate

    def __call__(self, indices: Any) -> Any:
        if not self.auto_batching:
            return self.collate_fn(self.dataset[indices])
        if self.gather:
            return [t[tensor(list(indices), dtype=int64, device=t.device)] for t in self.dataset.tensors]
        return self.collate_fn([self.dataset[int(i)] for i in indices])


class _StreamFetcher:
    """Batches read from an iterable-style dataset's iterator: what a worker runs (each worker
    its own copy, so each has its own iterator). ``fetch(epoch)`` returns the next batch of that
    epoch's iterator (a new epoch starts a new iterator), or :data:`EXHAUSTED` once it is done."""

    def __init__(self, dataset: Any, collate_fn: Callable[[Any], Any], batch_size: int | None, drop_last: bool):
        self.dataset, self.collate_fn, self.batch_size, self.drop_last = dataset, collate_fn, batch_size, drop_last
        self._epoch: Any = None
        self._it: Iterator[Any] = iter(())

    def __call__(self, epoch: Any) -> Any:
        if epoch != self._epoch:
            self._epoch, self._it = epoch, iter(self.dataset)
        if self.batch_size is None:
            example = next(self._it, EXHAUSTED)
            return example if example is EXHAUSTED else self.collate_fn(example)
        items = list(itertools.islice(self._it, self.batch_size))
        if not items or (self.drop_last and len(items) < self.batch_size):
            return EXHAUSTED
        return self.collate_fn(items)


# attributes PyTorch refuses to change once the loader is built (the samplers were derived from them)
_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


class DataLoader:
    """Iterate over a dataset in mini-batches, in this process or in worker processes.

    Args:
        dataset: any object with ``__getitem__`` and ``__len__``, or an
            :class:`~tinytorch.data.IterableDataset` (batched in its iterator's order).
        batch_size: examples per batch; ``None`` turns batching off (each example is passed
            through ``collate_fn``, by default :func:`default_convert`). Default: 1.
        shuffle: a fresh random order every epoch (a ``RandomSampler``). Default: False.
        sampler: the indices of an epoch (a :class:`~tinytorch.data.Sampler` or any iterable);
            excludes ``shuffle``.
        batch_sampler: the index lists of an epoch; excludes ``batch_size``, ``shuffle``,
            ``sampler`` and ``drop_last``.
        num_workers: worker processes that fetch and collate batches; 0 loads in this process.
            Default: 0.
        collate_fn: merges a list of examples into a batch. Default: :func:`default_collate`.
        pin_memory: accepted so PyTorch scripts port (no pinned memory on tinytorch's devices).
        drop_last: drop the last batch if it is smaller than ``batch_size``. Default: False.
        timeout: seconds to wait for a worker's batch (0: no limit). Default: 0.
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after seeding.
        multiprocessing_context: ``'fork'``, ``'spawn'``, ``'forkserver'`` or a context.
            Default: the platform's default. With ``'spawn'`` the dataset, ``collate_fn`` and
            ``worker_init_fn`` are pickled, so they must be importable (not lambdas).
        generator: randomness for ``shuffle`` and the workers' seeds: None uses tinytorch's
            global RNG (so ``tt.manual_seed`` makes the order reproducible); a ``tt.Generator``,
            an int seed or a ``numpy.random.Generator`` gives the loader its own stream.
        prefetch_factor: batches in flight per worker. Default: 2 with workers, None without.
        persistent_workers: keep the workers between epochs. Default: False.
        in_order: hand out the batches in sampler order (False: as they are ready). Default: True.

    Argument conflicts raise ``ValueError`` with PyTorch's messages. Worker ``k`` seeds
    tinytorch's RNG and ``random`` with ``base_seed + k``, ``base_seed`` drawn in the main process
    once per epoch (per loader with persistent workers); :func:`get_worker_info` tells code in a
    worker which one it is.

    Examples::

        >>> loader = DataLoader(list(range(10)), batch_size=4, shuffle=True, generator=0)
        >>> [b.shape for b in loader]
        [(4,), (4,), (2,)]
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable[Any] | None = None,
                 batch_sampler: Sampler | Iterable[list[Any]] | None = None, num_workers: int = 0,
                 collate_fn: Callable[[Any], Any] | None = None, pin_memory: bool = False, drop_last: bool = False,
                 timeout: float = 0, worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: Any = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True):
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None:
            if drop_last:
                raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                                 "drop_last")
        elif not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if multiprocessing_context is not None:
            if num_workers == 0:
                raise ValueError("multiprocessing_context can only be used with multi-process loading "
                                 f"(num_workers > 0), but got num_workers={num_workers}")
            multiprocessing_context = mp_context(multiprocessing_context)
        if isinstance(dataset, IterableDataset):  # a stream: no indices, so no samplers
            for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if value:
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} option, "
                                     f"but got {name}={value}")
        elif sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and sampler is not None:
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))

        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.num_workers, self.prefetch_factor, self.timeout = num_workers, prefetch_factor, timeout
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_convert if batch_size is None else default_collate)
        self.pin_memory, self.pin_memory_device = pin_memory, pin_memory_device
        self.worker_init_fn, self.multiprocessing_context = worker_init_fn, multiprocessing_context
        self.generator, self.persistent_workers, self.in_order = generator, persistent_workers, in_order
        self._pool: WorkerPool | None = None
        self._seed_stream: np.random.Generator | None = None
        self._streams = 0  # epochs started over an iterable-style dataset
        self._initialized = True

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_initialized", False) and name in _FROZEN:
            raise ValueError(f"{name} attribute should not be set after {type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def _auto_batching(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_batching else self.sampler

    def _base_seed(self) -> int:
        """A seed for the workers, drawn from the loader's generator or tinytorch's global RNG."""
        if self.generator is None:
            return int(randint(0, 2**62, (1,)).item())
        if self._seed_stream is None:  # kept, so that each epoch's workers get new seeds
            self._seed_stream = _numpy_generator(self.generator)
        return int(self._seed_stream.integers(0, 2**62))

    def __iter__(self) -> Iterator[Any]:
        if isinstance(self.dataset, IterableDataset):
            stream = _StreamFetcher(self.dataset, self.collate_fn, self.batch_size, bool(self.drop_last))
            if self.num_workers == 0:
                return iter(lambda: stream(0), EXHAUSTED)
            self._streams += 1  # this epoch's number: a task is "the next batch of epoch n"
            return self._from_workers(stream, itertools.repeat(self._streams))
        fetch = _Fetcher(self.dataset, self.collate_fn, self._auto_batching)
        if self.num_workers == 0:
            return (fetch(indices) for indices in self._index_sampler)
        return self._from_workers(fetch, iter(self._index_sampler))

    def _from_workers(self, fetch: Callable[[Any], Any], tasks: Iterator[Any]) -> Iterator[Any]:
        pool = self._pool
        if pool is None:
            pool = WorkerPool(fetch, self.dataset, self.num_workers, self.prefetch_factor or 0, self.timeout,
                              self.worker_init_fn, mp_context(self.multiprocessing_context), self._base_seed())
            if self.persistent_workers:
                self._pool = pool
        try:
            yield from pool.run(tasks, self.in_order)
        finally:
            if not self.persistent_workers:
                pool.shutdown()

    def __len__(self) -> int:
        """The number of batches in an epoch. For an iterable-style dataset that is the dataset's
        own ``len`` divided into batches (``TypeError`` when it has none), as in PyTorch."""
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown()
