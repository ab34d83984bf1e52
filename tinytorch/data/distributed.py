"""``DistributedSampler``: each rank's share of a dataset, PyTorch's partition exactly.

In data-parallel training every rank runs the same loop over its own ``DataLoader``; the
sampler makes the loaders visit disjoint slices of one epoch's order. The order is a
permutation seeded with ``seed + epoch`` (the same on every rank without any communication:
call :meth:`~DistributedSampler.set_epoch` at the start of each epoch so that epochs differ).
The list is made divisible by the number of ranks -- padded by repeating its start
(``drop_last=False``) or cut (``drop_last=True``) -- and rank ``r`` takes every
``num_replicas``-th index starting at ``r``. So all ranks take the same number of steps
(a rank with fewer batches would leave the others waiting in an all-reduce).

The permutation is tinytorch's ``randperm`` (numpy's generator), not PyTorch's: the same
seed gives a different order than PyTorch, with the same padding, cutting and striding.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

from ..distributed import get_rank, get_world_size, is_available
from ..ops.random import Generator, randperm
from .sampler import Sampler


class DistributedSampler(Sampler):
    """The indices of ``dataset`` that rank ``rank`` of ``num_replicas`` visits in each epoch.

    ``num_replicas`` and ``rank`` default to the process group's world size and rank. Each rank
    gets ``len(sampler)`` indices: ``ceil(len(dataset) / num_replicas)``, or with ``drop_last``
    ``floor`` of it (the tail that does not divide evenly is dropped).

    >>> from tinytorch.data.distributed import DistributedSampler
    >>> [list(DistributedSampler(range(5), num_replicas=2, rank=r, shuffle=False)) for r in (0, 1)]
    [[0, 2, 4], [1, 3, 0]]
    """

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        if num_replicas is None or rank is None:
            if not is_available():
                raise RuntimeError("Requires distributed package to be available")
            num_replicas = get_world_size() if num_replicas is None else num_replicas
            rank = get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        self.shuffle = shuffle
        self.seed = seed
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            order = randperm(n, generator=Generator().manual_seed(self.seed + self.epoch)).tolist()
        else:
            order = list(range(n))
        if self.drop_last:
            order = order[:self.total_size]
        else:  # repeat the start (several times over if the dataset is smaller than the padding)
            padding = self.total_size - n
            order += (order * math.ceil(padding / n))[:padding] if padding else []
        return iter(order[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` in the seed of the next iterations' order (call it at the start of each epoch)."""
        self.epoch = epoch
