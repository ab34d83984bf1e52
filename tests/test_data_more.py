"""tinytorch.data beyond the basics (issue 12): samplers, ConcatDataset, the DataLoader's sampler /
batch_sampler / worker arguments with PyTorch's argument errors, worker processes (in order, on
the C backend, errors, seeds), pickled tensors, and the FashionMNIST / CIFAR-10 file readers on
files the tests write."""

import gzip
import os
import pickle
import signal
import struct
import urllib.error
import urllib.request

import numpy as np
import pytest
from nn_helpers import needs_torch, torch

import tinytorch as tt
from tinytorch import nn
from tinytorch.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    get_worker_info,
)
from tinytorch.data.datasets import CIFAR10, MNIST, FashionMNIST
from tinytorch.ndarray import unavailable_reason

tdata = None if torch is None else torch.utils.data


@pytest.fixture
def deadline():
    """Fail a test that runs past 120 s instead of hanging the suite (a stuck worker, a deadlock)."""
    if not hasattr(signal, "SIGALRM"):  # no alarms on this platform: run unguarded
        yield
        return

    def expired(*_):
        raise TimeoutError("test ran past its 120 s deadline")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------------- samplers and ConcatDataset
@needs_torch
def test_deterministic_samplers_match_torch():
    for n, bs, drop in [(10, 3, False), (10, 3, True), (9, 3, True), (1, 4, False)]:
        ours = list(BatchSampler(SequentialSampler(range(n)), bs, drop))
        ref = list(tdata.BatchSampler(tdata.SequentialSampler(range(n)), bs, drop))
        assert ours == ref and len(BatchSampler(range(n), bs, drop)) == len(ref)
    assert list(BatchSampler([5, 1, 4, 2], 3, False)) == list(tdata.BatchSampler([5, 1, 4, 2], 3, False))


def test_random_sampler_permutes_and_draws():
    rs = RandomSampler(range(10), generator=0)
    epochs = [list(rs) for _ in range(3)]
    assert all(sorted(e) == list(range(10)) for e in epochs) and epochs[0] != epochs[1]  # a new order each epoch
    assert [list(RandomSampler(range(10), generator=3)) for _ in range(2)] == [list(RandomSampler(
        range(10), generator=3)) for _ in range(2)]  # an int seed reproduces the whole sequence
    longer = list(RandomSampler(range(4), num_samples=10, generator=1))
    assert len(longer) == 10 and sorted(longer[:8]) == [0, 0, 1, 1, 2, 2, 3, 3]  # whole passes first
    drawn = list(RandomSampler(range(3), replacement=True, num_samples=300, generator=2))
    assert len(drawn) == 300 and set(drawn) == {0, 1, 2} and len(RandomSampler(range(3), num_samples=7)) == 7
    tt.manual_seed(5)
    a = list(RandomSampler(range(20)))
    tt.manual_seed(5)
    assert list(RandomSampler(range(20))) == a  # generator=None follows the global seed


def test_subset_and_weighted_samplers():
    idx = [10, 4, 7, 99]
    assert sorted(SubsetRandomSampler(idx, generator=0)) == sorted(idx) and len(SubsetRandomSampler(idx)) == 4
    w = [0.1, 0.0, 0.6, 0.3]
    picks = np.array(list(WeightedRandomSampler(w, 20000, generator=0)))
    freq = np.bincount(picks, minlength=4) / len(picks)
    np.testing.assert_allclose(freq, w, atol=0.015)  # ~5 standard errors
    once = list(WeightedRandomSampler(w, 3, replacement=False, generator=0))
    assert sorted(once) == [0, 2, 3]  # without replacement: each non-zero weight at most once
    with pytest.raises(RuntimeError, match="without replacement"):
        list(WeightedRandomSampler(w, 4, replacement=False))
    with pytest.raises(RuntimeError, match="invalid multinomial"):
        list(WeightedRandomSampler([1.0, -1.0], 2))


@needs_torch
@pytest.mark.parametrize("make", [
    lambda d: d.RandomSampler(range(3), replacement=1), lambda d: d.RandomSampler(range(3), num_samples=0),
    lambda d: d.WeightedRandomSampler([1.0, 2.0], 3, replacement=1), lambda d: d.WeightedRandomSampler([[1.0]], 3),
    lambda d: d.WeightedRandomSampler([1.0], 0), lambda d: d.BatchSampler(range(3), 0, False),
    lambda d: d.BatchSampler(range(3), 2, 1)])
def test_sampler_argument_errors_match_torch(make):
    import tinytorch.data as ours
    with pytest.raises(Exception) as ref:
        make(tdata)
    with pytest.raises(type(ref.value), match=f"^{__import__('re').escape(str(ref.value))}$"):
        make(ours)


@needs_torch
def test_concat_dataset_matches_torch():
    parts = [list(range(3)), list(range(10, 12)), [], list(range(20, 24))]
    ours, ref = ConcatDataset(parts), tdata.ConcatDataset(parts)
    assert len(ours) == len(ref) and ours.cumulative_sizes == ref.cumulative_sizes
    assert [ours[i] for i in range(-len(ref), len(ref))] == [ref[i] for i in range(-len(ref), len(ref))]
    with pytest.raises(ValueError, match="absolute value"):
        ours[-10]
    with pytest.raises(IndexError):
        ours[9]
    with pytest.raises(AssertionError):
        ConcatDataset([])
    ds = TensorDataset(tt.arange(3)) + TensorDataset(tt.arange(5, 7))
    assert isinstance(ds, ConcatDataset) and [int(ds[i][0]) for i in range(5)] == [0, 1, 2, 5, 6]


# ---------------------------------------------------------------------- DataLoader arguments
@needs_torch
def test_loader_with_sampler_and_batch_sampler_matches_torch():
    data = list(range(11))
    for kwargs in [dict(sampler=[3, 1, 4, 1, 5, 9], batch_size=4), dict(batch_sampler=[[0, 2], [4], [6, 8, 10]]),
                   dict(batch_size=None, sampler=[2, 7]), dict(batch_size=None), dict(batch_size=3, drop_last=True)]:
        ours = [b.tolist() if isinstance(b, tt.Tensor) else b for b in DataLoader(data, **kwargs)]
        ref = [b.tolist() if isinstance(b, torch.Tensor) else b for b in tdata.DataLoader(data, **kwargs)]
        assert ours == ref, kwargs
        assert len(DataLoader(data, **kwargs)) == len(tdata.DataLoader(data, **kwargs))


@needs_torch
def test_default_convert_matches_torch():
    from tinytorch.data import default_convert
    cases = [np.float32(1.5), 3, "s", np.array(["a"]), (np.int64(2), [np.zeros(2)]), {"x": np.ones((2, 1))},
             np.array([True, False])]

    def plain(x):  # tensors of either library as (type tag, values); containers kept
        if isinstance(x, (tt.Tensor, torch.Tensor)):
            return ("tensor", np.asarray(x).tolist(), str(x.dtype).split(".")[-1])
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return (type(x).__name__, [plain(v) for v in x])
        return ("other", np.asarray(x).tolist())
    for case in cases:
        assert plain(default_convert(case)) == plain(tdata.default_convert(case)), case


CONFLICTS = [dict(sampler=[0, 1], shuffle=True), dict(batch_sampler=[[0]], batch_size=2),
             dict(batch_sampler=[[0]], shuffle=True), dict(batch_sampler=[[0]], sampler=[0]),
             dict(batch_sampler=[[0]], drop_last=True), dict(batch_size=None, drop_last=True),
             dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2), dict(persistent_workers=True),
             dict(num_workers=1, prefetch_factor=-1), dict(batch_size=0),
             dict(multiprocessing_context="fork"), dict(num_workers=1, multiprocessing_context="nope")]


@needs_torch
@pytest.mark.parametrize("kwargs", CONFLICTS, ids=[",".join(c) for c in CONFLICTS])
def test_loader_argument_conflicts_raise_torch_errors(kwargs):
    with pytest.raises(ValueError) as ref:
        tdata.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(ValueError) as ours:
        DataLoader(list(range(4)), **kwargs)
    assert str(ours.value) == str(ref.value)


def test_loader_attributes_are_frozen_after_init():
    loader = DataLoader(list(range(4)), batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 3
    loader.num_workers = 0  # not frozen, as in PyTorch


# ---------------------------------------------------------------------- pickling tensors
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_tensors_pickle_on_every_device(device, dtype):
    base = tt.tensor(np.arange(12).reshape(3, 4) % 3, dtype=getattr(tt, dtype), device=device)
    for t in (base, base[:, ::2], base.t(), base[1, 2]):
        back = pickle.loads(pickle.dumps(t))
        assert back.dtype == t.dtype and back.device == t.device and back.shape == t.shape
        np.testing.assert_array_equal(back.numpy(), t.numpy())
    if dtype.startswith("float"):
        p = nn.Parameter(base.clone())
        back = pickle.loads(pickle.dumps(p))
        assert isinstance(back, nn.Parameter) and back.requires_grad and back.is_leaf
        y = pickle.loads(pickle.dumps(base.requires_grad_() * 2))
        assert y.is_leaf and y.requires_grad  # a non-leaf comes back as a leaf, as in PyTorch


# ---------------------------------------------------------------------- worker processes
class Squares(Dataset):
    """Example i: (a 2-element tensor on ``device``, i, the id of the worker that made it)."""

    def __init__(self, n, device="numpy", fail_at=None):
        self.n, self.device, self.fail_at = n, device, fail_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise KeyError(f"no example {i}")
        info = get_worker_info()
        return tt.tensor([float(i), float(i * i)], device=self.device), i, -1 if info is None else info.id


def record_seed(worker_id):
    info = get_worker_info()
    assert info.id == worker_id and info.num_workers == 3 and isinstance(info.dataset, Squares)


def test_workers_return_the_batches_in_order(deadline):
    ds = Squares(23)
    serial = list(DataLoader(ds, batch_size=4))
    parallel = list(DataLoader(ds, batch_size=4, num_workers=3, worker_init_fn=record_seed))
    assert len(parallel) == len(serial) == 6
    for a, b in zip(parallel, serial):
        np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
        assert a[1].tolist() == b[1].tolist()
    assert sorted({w for b in parallel for w in b[2].tolist()}) == [0, 1, 2]  # every worker did some
    assert [b[2].tolist()[0] for b in parallel[:3]] == [0, 1, 2]  # dealt round-robin
    assert all(w == -1 for b in serial for w in b[2].tolist())  # no worker info in the main process


def test_workers_with_c_backend_tensors_and_shuffle(deadline):
    if unavailable_reason("cpu"):
        pytest.skip(unavailable_reason("cpu"))
    x = tt.arange(40, device="cpu").float().reshape(20, 2)
    ds = TensorDataset(x, tt.arange(20, device="cpu"))
    for workers in (0, 2):
        batches = list(DataLoader(ds, batch_size=6, shuffle=True, num_workers=workers, generator=7))
        assert all(b[0].device == "cpu" for b in batches)
        labels = [int(v) for b in batches for v in b[1].tolist()]
        assert sorted(labels) == list(range(20))
        for b in batches:
            np.testing.assert_array_equal(b[0].numpy(), x.numpy()[b[1].numpy()])
        if workers == 0:
            order = labels
        else:
            assert labels == order  # the same seed gives the same order with or without workers


def test_worker_error_is_reraised_with_its_traceback(deadline):
    loader = DataLoader(Squares(10, fail_at=6), batch_size=2, num_workers=2)
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process 1"):
        list(loader)
    it = iter(DataLoader(Squares(10, fail_at=6), batch_size=2, num_workers=2))
    assert next(it)[1].tolist() == [0, 1]  # batches before the failing one arrive


def test_persistent_workers_and_unordered_delivery(deadline):
    loader = DataLoader(Squares(12), batch_size=3, num_workers=2, persistent_workers=True)
    first = [b[1].tolist() for b in loader]
    pool = loader._pool
    it = iter(loader)
    next(it)  # abandon an epoch half-way: its stale batches must not leak into the next
    del it
    assert [b[1].tolist() for b in loader] == first and loader._pool is pool
    unordered = [b[1].tolist() for b in DataLoader(Squares(12), batch_size=3, num_workers=2, in_order=False)]
    assert sorted(unordered) == sorted(first)


def test_worker_seeds_differ_and_follow_the_generator(deadline):
    def draws(seed):
        tt.manual_seed(seed)
        loader = DataLoader(RandomRows(4), batch_size=1, num_workers=2)
        return [float(b) for b in loader]
    a, b = draws(1), draws(1)
    assert a == b and draws(2) != a
    assert a[0] != a[1]  # worker 0 and worker 1 have different seeds


class RandomRows(Dataset):
    def __len__(self):
        return self.n

    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        return float(tt.rand(1).item())


def test_dead_worker_and_timeout_raise_instead_of_hanging(deadline):
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(DataLoader(Suicidal(), batch_size=1, num_workers=1))
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        list(DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.5))


class Suicidal(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        os._exit(3)


class Slow(Dataset):
    def __len__(self):
        return 1

    def __getitem__(self, i):
        import time
        time.sleep(3)
        return i


def test_spawned_worker_unpickles_the_dataset(deadline):
    """With 'spawn' the dataset (holding tensors) travels pickled to a fresh interpreter."""
    ds = TensorDataset(tt.arange(6).float(), tt.arange(6))
    out = list(DataLoader(ds, batch_size=4, num_workers=1, multiprocessing_context="spawn"))
    assert [b[1].tolist() for b in out] == [[0, 1, 2, 3], [4, 5]]


# ---------------------------------------------------------------------- FashionMNIST and CIFAR-10 files
def write_idx(path, array):
    code = {np.uint8: 0x08, np.int32: 0x0C}[array.dtype.type]
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(array.dtype.newbyteorder(">")).tobytes()))


def test_fashion_mnist_reads_idx_files(tmp_path, rng):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    split = {}
    for prefix, n in (("train", 7), ("t10k", 3)):
        images, labels = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8), rng.integers(0, 10, n).astype(np.uint8)
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", labels)
        split[prefix] = images, labels
    for train, prefix in ((True, "train"), (False, "t10k")):
        ds = FashionMNIST(tmp_path, train=train, transform=lambda a: a.astype(np.float32), target_transform=str)
        assert ds.data.dtype == tt.int64 and ds.targets.dtype == tt.int64 and len(ds) == len(split[prefix][1])
        np.testing.assert_array_equal(ds.data.numpy(), split[prefix][0])
        image, label = ds[2]
        np.testing.assert_array_equal(image, split[prefix][0][2].astype(np.float32))
        assert label == str(split[prefix][1][2])
    assert ds.classes[0] == "T-shirt/top" and "FashionMNIST" in repr(ds)
    with pytest.raises(RuntimeError, match="download=True"):
        FashionMNIST(tmp_path / "empty")


def write_cifar(folder, rng, n_per_batch=4):
    folder.mkdir(parents=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n_per_batch, 3072)).astype(np.uint8)
        labels = rng.integers(0, 10, n_per_batch).tolist()
        with open(folder / name, "wb") as f:  # the python-version layout: bytes keys, a uint8 array
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data,
                         b"filenames": [b"x.png"] * n_per_batch}, f, protocol=2)
        batches[name] = data, labels
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog",
                                      b"horse", b"ship", b"truck"], b"num_vis": 3072}, f, protocol=2)
    return batches


def test_cifar10_reads_python_batches(tmp_path, rng):
    batches = write_cifar(tmp_path / "cifar-10-batches-py", rng)
    train = CIFAR10(tmp_path, train=True)
    test = CIFAR10(tmp_path, train=False, transform=lambda a: a.shape, target_transform=lambda y: -y)
    assert train.data.shape == (20, 32, 32, 3) and train.data.dtype == np.uint8 and len(train) == 20
    assert train.targets == [y for i in range(1, 6) for y in batches[f"data_batch_{i}"][1]]
    data, labels = batches["test_batch"]
    # row 1 of the test batch: 1024 red, then green, then blue values; pixel (r, c) at r * 32 + c
    np.testing.assert_array_equal(test.data[1][5, 7], data[1][[5 * 32 + 7, 1024 + 5 * 32 + 7, 2048 + 5 * 32 + 7]])
    assert test[1] == ((32, 32, 3), -labels[1])
    assert train.classes[:2] == ["airplane", "automobile"] and train.class_to_idx["truck"] == 9


def test_cifar10_refuses_code_in_a_pickle_and_missing_files(tmp_path, rng):
    write_cifar(tmp_path / "cifar-10-batches-py", rng)
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({b"data": os.system, b"labels": []}, f, protocol=2)
    with pytest.raises(RuntimeError, match="refusing to load"):
        CIFAR10(tmp_path, train=False)
    with pytest.raises(RuntimeError, match="data_batch_1.*download=True"):
        CIFAR10(tmp_path / "nothing")


@pytest.mark.parametrize("cls", [MNIST, FashionMNIST, CIFAR10])
def test_download_without_network_names_the_files(cls, tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(RuntimeError) as err:
        cls(tmp_path, download=True)
    message = str(err.value)
    assert "no network" in message
    expected = ([cls.filename] if cls is CIFAR10 else [name for name, _ in cls.resources])
    assert all(name in message for name in expected) and str(tmp_path) in message


def test_mnist_through_workers_equals_serial(deadline):
    """The common script: MNIST with ToTensor/Normalize through two workers, and the unbatched
    form (batch_size=None), give exactly the serial loader's batches."""
    from tinytorch.data import transforms as T
    ds = MNIST(train=False, transform=T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))]))
    ds.data, ds.targets = ds.data[:130], ds.targets[:130]
    serial = list(DataLoader(ds, batch_size=64))
    parallel = list(DataLoader(ds, batch_size=64, num_workers=2, pin_memory=True))
    assert [tuple(x.shape) for x, _ in parallel] == [(64, 1, 28, 28)] * 2 + [(2, 1, 28, 28)]
    for (x1, y1), (x2, y2) in zip(serial, parallel):
        np.testing.assert_array_equal(x1.numpy(), x2.numpy())
        assert y1.tolist() == y2.tolist()
    single = list(DataLoader(Squares(5), batch_size=None, num_workers=2))
    assert [s[1] for s in single] == list(range(5)) and isinstance(single[0][0], tt.Tensor)


def test_pytorch_import_paths():
    from tinytorch.utils.data import ConcatDataset as C
    from tinytorch.utils.data.dataloader import DataLoader as DL
    from tinytorch.utils.data.dataloader import get_worker_info as gwi
    from tinytorch.utils.data.dataset import TensorDataset as TD
    from tinytorch.utils.data.sampler import SubsetRandomSampler as S
    assert (C, DL, gwi, TD, S) == (ConcatDataset, DataLoader, get_worker_info, TensorDataset, SubsetRandomSampler)


def test_copy_shares_storage_while_pickle_copies():
    """``copy.copy`` keeps sharing the storage (as PyTorch's); only pickling makes a copy."""
    import copy
    a = tt.zeros(3)
    b = copy.copy(a)
    b[0] = 1.0
    c = pickle.loads(pickle.dumps(a))
    c[1] = 2.0
    assert a.tolist() == [1.0, 0.0, 0.0] and isinstance(copy.copy(nn.Parameter(a)), nn.Parameter)


# --- iterable-style datasets ------------------------------------------------------------------
class _Range(tt.data.IterableDataset):
    """0..n-1 as 1-element tensors; in a worker, only every num_workers-th from its id."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = tt.data.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(tt.tensor([float(i)]) for i in range(start, self.n, step))

    def __len__(self):
        return self.n


def _batches(loader):
    return [b.reshape(-1).tolist() for b in loader]


def test_an_iterable_dataset_is_batched_in_stream_order():
    assert _batches(tt.data.DataLoader(_Range(7), batch_size=3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert _batches(tt.data.DataLoader(_Range(7), batch_size=3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    assert _batches(tt.data.DataLoader(_Range(3), batch_size=None)) == [[0], [1], [2]]
    assert len(tt.data.DataLoader(_Range(7), batch_size=3)) == 3
    assert len(tt.data.DataLoader(_Range(7), batch_size=3, drop_last=True)) == 2
    loader = tt.data.DataLoader(_Range(4), batch_size=2)
    assert _batches(loader) == _batches(loader) == [[0, 1], [2, 3]]  # each epoch a new iterator


@pytest.mark.parametrize("persistent", [False, True])
def test_workers_each_iterate_their_share_and_batches_alternate(persistent):
    loader = tt.data.DataLoader(_Range(9), batch_size=2, num_workers=2, persistent_workers=persistent)
    expected = [[0, 2], [1, 3], [4, 6], [5, 7], [8]]  # worker 0: evens, worker 1: odds, in turn
    assert _batches(loader) == expected and _batches(loader) == expected
    # a worker that runs out first leaves the others to finish
    assert _batches(tt.data.DataLoader(_Range(5), batch_size=2, num_workers=3)) == [[0, 3], [1, 4], [2]]


def test_iterable_dataset_errors_and_combinators():
    for kwargs in ({"shuffle": True}, {"sampler": [0, 1]}, {"batch_sampler": [[0]]}):
        with pytest.raises(ValueError, match="IterableDataset"):
            tt.data.DataLoader(_Range(3), **kwargs)

    class NoLen(tt.data.IterableDataset):
        def __iter__(self):
            return iter(range(3))

    with pytest.raises(TypeError):
        len(tt.data.DataLoader(NoLen()))
    with pytest.raises(NotImplementedError):
        iter(tt.data.IterableDataset())
    assert [x.item() for x in _Range(2) + _Range(1)] == [0, 1, 0]
    chained = tt.data.ChainDataset([_Range(2), _Range(3)])
    assert len(chained) == 5 and _batches(tt.data.DataLoader(chained, batch_size=2)) == [[0, 1], [0, 1], [2]]
    stacked = tt.data.StackDataset(tt.arange(3), tt.arange(3) * 2)
    assert len(stacked) == 3 and [v.item() for v in stacked[1]] == [1, 2]
    named = tt.data.StackDataset(a=tt.arange(3), b=tt.arange(3) * 2)
    assert named[2]["b"].item() == 4
    with pytest.raises(ValueError, match="Size mismatch"):
        tt.data.StackDataset(tt.arange(3), tt.arange(4))
