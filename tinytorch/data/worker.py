"""DataLoader worker processes: fetch and collate batches in parallel, hand them back in order.

The main process owns the order. It numbers the batches of an epoch and deals their index lists
round-robin into one queue per worker, keeping ``prefetch_factor`` batches per worker in flight;
each worker fetches its examples, collates them and puts ``(epoch, number, batch)`` on one shared
result queue; the main process holds back early arrivals until their turn comes. Batches travel
pickled (tinytorch tensors pickle as their values), so a worker may use any backend.

A failure in a worker comes back as the same exception type with the worker's traceback in the
message; a worker that dies (killed, segfault) is noticed while waiting and raises
``RuntimeError`` naming its pid, rather than hanging.
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue
import random
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..ops.random import manual_seed

_POLL_S = 1.0  # how often a waiting main process checks that its workers are alive


@dataclass(frozen=True)
class WorkerInfo:
    """What :func:`get_worker_info` tells code running inside a worker."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


class _ThisProcess:
    """Set once in each worker process when it starts (a process-wide fact: "I am worker k"),
    never in the main process."""

    info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker: its ``id``, ``num_workers``, ``seed`` and its copy of the
    ``dataset`` (to split an iterable's work, or seed other libraries in ``worker_init_fn``);
    ``None`` in the main process."""
    return _ThisProcess.info


class _WorkerError:
    """An exception raised in a worker, carried back to be raised again in the main process."""

    def __init__(self, exc: BaseException, worker_id: int):
        self.exc_type: type[BaseException] = type(exc)
        try:
            pickle.dumps(self.exc_type)
        except Exception:  # a class defined in a function cannot travel: say RuntimeError
            self.exc_type = RuntimeError
        self.message = (f"Caught {type(exc).__name__} in DataLoader worker process {worker_id}.\n"
                        f"Original {traceback.format_exc()}")

    def reraise(self) -> None:
        try:
            error = self.exc_type(self.message)
        except Exception:  # an exception class whose constructor wants other arguments
            error = RuntimeError(self.message)
        raise error


class Exhausted:
    """A stream fetcher's answer once its dataset's iterator is done: no batch (recognised by
    type, since a copy of it crosses from the worker's process)."""


EXHAUSTED = Exhausted()


def _worker_loop(fetch: Callable[[Any], Any], dataset: Any, index_queue: Any, result_queue: Any, seed: int,
                 init_fn: Callable[[int], None] | None, worker_id: int, num_workers: int) -> None:
    """The body of a worker process: seed, run ``init_fn``, then answer index lists until None."""
    _ThisProcess.info = WorkerInfo(worker_id, num_workers, seed, dataset)
    random.seed(seed)
    manual_seed(seed)
    init_error = None
    if init_fn is not None:
        try:
            init_fn(worker_id)
        except Exception as e:
            init_error = _WorkerError(e, worker_id)
    while True:
        try:
            task = index_queue.get()
        except (KeyboardInterrupt, EOFError, OSError):  # the main process went away
            return
        if task is None:
            return
        epoch, number, indices = task
        if init_error is not None:
            result_queue.put((epoch, number, init_error))
            continue
        try:
            batch = fetch(indices)
        except Exception as e:
            batch = _WorkerError(e, worker_id)
        result_queue.put((epoch, number, batch))


def mp_context(context: Any) -> Any:
    """A multiprocessing context from ``None`` (the platform's default), a start-method name
    ('fork', 'spawn', 'forkserver') or a context object, checked as PyTorch checks it."""
    if context is None:
        return multiprocessing.get_context()
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ValueError(f"multiprocessing_context option should specify a valid start method in {methods!r}, "
                             f"but got multiprocessing_context={context!r}")
        return multiprocessing.get_context(context)
    if not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError(f"multiprocessing_context option should be a valid context object or a string specifying "
                        f"the start method, but got multiprocessing_context={context}")
    return context


class WorkerPool:
    """``num_workers`` processes that answer index lists with batches, for one epoch or (with
    ``persistent_workers``) for many: each epoch's results carry its number, so a stale batch
    of an epoch abandoned half-way is dropped.

    Args:
        fetch: index list (or one index) -> batch; runs in the workers.
        dataset: handed to :func:`get_worker_info` in the workers.
        num_workers, prefetch_factor, timeout, worker_init_fn: as the DataLoader's.
        context: a multiprocessing context.
        base_seed: worker k seeds tinytorch and ``random`` with ``base_seed + k``.
    """

    def __init__(self, fetch: Callable[[Any], Any], dataset: Any, num_workers: int, prefetch_factor: int,
                 timeout: float, worker_init_fn: Callable[[int], None] | None, context: Any, base_seed: int):
        self.num_workers, self.prefetch_factor, self.timeout = num_workers, prefetch_factor, timeout
        self._result_queue = context.Queue()
        self._index_queues = [context.Queue() for _ in range(num_workers)]
        self._workers = []
        self._epoch = 0
        for k in range(num_workers):
            w = context.Process(target=_worker_loop, daemon=True,
                                args=(fetch, dataset, self._index_queues[k], self._result_queue, base_seed + k,
                                      worker_init_fn, k, num_workers))
            w.start()
            self._workers.append(w)

    def run(self, tasks: Iterator[Any], in_order: bool = True) -> Iterator[Any]:
        """The batches for ``tasks`` (index lists), in their order unless ``in_order=False``.

        Tasks go to the workers in turn. A worker that answers :class:`Exhausted` (its stream
        of an iterable-style dataset is done) gets no more tasks, and that answer is no batch;
        the epoch ends when every task sent is answered and no worker may take another."""
        self._epoch += 1
        epoch, tasks = self._epoch, enumerate(tasks)
        sent, next_out, turn = 0, 0, 0
        held: dict[int, Any] = {}  # batches that arrived before their turn
        worker_of: dict[int, int] = {}  # task number -> the worker it was sent to
        done: set[int] = set()  # workers whose streams are exhausted

        def send() -> None:
            nonlocal sent, turn
            if len(done) == self.num_workers:
                return
            while turn in done:
                turn = (turn + 1) % self.num_workers
            task = next(tasks, None)
            if task is not None:
                self._index_queues[turn].put((epoch, task[0], task[1]))
                worker_of[task[0]] = turn
                sent, turn = sent + 1, (turn + 1) % self.num_workers

        for _ in range(self.prefetch_factor * self.num_workers):
            send()
        while next_out < sent:  # one batch out, one task in: prefetch_factor per worker stay in flight
            if in_order and next_out in held:
                batch = held.pop(next_out)
            else:
                got_epoch, number, batch = self._get()
                if got_epoch != epoch:
                    continue  # from an epoch abandoned half-way (persistent workers)
                if in_order and number != next_out:
                    held[number] = batch
                    continue
            next_out += 1
            if isinstance(batch, Exhausted):
                done.add(worker_of[number if not in_order else next_out - 1])
                send()
                continue
            send()
            if isinstance(batch, _WorkerError):
                batch.reraise()
            yield batch

    def _get(self) -> tuple[int, int, Any]:
        """The next result, checking every ``_POLL_S`` that the workers are alive; a ``timeout``
        (seconds, 0 for none) bounds the wait."""
        start = time.monotonic()
        while True:
            wait = _POLL_S if not self.timeout else min(_POLL_S, max(0.0, self.timeout - (time.monotonic() - start)))
            try:
                return self._result_queue.get(timeout=wait)
            except queue.Empty:
                pass
            dead = [w.pid for w in self._workers if not w.is_alive()]
            if dead:
                self.shutdown()
                raise RuntimeError(f"DataLoader worker (pid(s) {', '.join(map(str, dead))}) exited unexpectedly")
            if self.timeout and time.monotonic() - start >= self.timeout:
                raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds")

    def shutdown(self) -> None:
        """Ask every worker to stop, wait a little, then terminate the ones still running."""
        workers, self._workers = self._workers, []
        for q, w in zip(self._index_queues, workers):
            if w.is_alive():
                try:
                    q.put(None)
                except (OSError, ValueError):
                    pass
        deadline = time.monotonic() + 5.0
        for w in workers:
            w.join(max(0.0, deadline - time.monotonic()))
            if w.is_alive():
                w.terminate()
                w.join(1.0)
        for q in [*self._index_queues, self._result_queue]:
            q.cancel_join_thread()  # never block interpreter exit on unread queue contents
            q.close()

    def __del__(self) -> None:
        if getattr(self, "_workers", None):
            self.shutdown()
