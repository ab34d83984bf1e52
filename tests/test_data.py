"""tinytorch.data: IDX parsing, MNIST (shipped subset, IDX files, download), DataLoader, transforms."""

import gzip
import hashlib
import io
import struct

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.data import DataLoader, Dataset, TensorDataset, random_split, transforms
from tinytorch.data.datasets import MNIST, download_url, parse_idx, read_idx

needs_tensor = pytest.mark.skipif(not hasattr(tt, "Tensor"), reason="the Tensor layer (tinytorch.Tensor) is missing")


# ---------------------------------------------------------------- IDX files, written by hand per the spec
def idx_bytes(array: np.ndarray, type_code: int) -> bytes:
    header = struct.pack(">HBB", 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype,code", [(np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B),
                                        (np.int32, 0x0C), (np.float32, 0x0D), (np.float64, 0x0E)])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_roundtrip(tmp_path, rng, dtype, code, compress):
    a = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    raw = idx_bytes(a, code)
    path = tmp_path / ("x.idx.gz" if compress else "x.idx")
    path.write_bytes(gzip.compress(raw) if compress else raw)
    b = read_idx(path)
    assert b.shape == (3, 4, 5) and b.dtype == np.dtype(dtype) and b.dtype.isnative
    np.testing.assert_array_equal(a, b)


def test_read_idx_1d_labels(tmp_path):
    labels = np.array([5, 0, 4, 1, 9], dtype=np.uint8)
    (tmp_path / "l").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5]) + labels.tobytes())
    np.testing.assert_array_equal(read_idx(tmp_path / "l"), labels)


@pytest.mark.parametrize("data,msg", [
    (b"\x00\x00", "only 2 bytes"),
    (b"\x01\x00\x08\x01\x00\x00\x00\x01\x07", "bad magic"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x07", "bad magic"),
    (b"\x00\x00\x08\x02\x00\x00\x00\x01", "truncated"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x03\x07\x07", "size mismatch"),
])
def test_parse_idx_rejects_bad_files(data, msg):
    with pytest.raises(ValueError, match=msg):
        parse_idx(data)


# ---------------------------------------------------------------- MNIST
def test_shipped_subset_split():
    train, test = MNIST(train=True), MNIST(train=False)
    assert len(train) == 4000 and len(test) == 1000
    # data / targets are tensors as torchvision's (data int64 holding 0..255: tinytorch has no uint8)
    assert isinstance(train.data, tt.Tensor) and isinstance(train.targets, tt.Tensor)
    assert train.data.shape == (4000, 28, 28) and train.data.dtype == tt.int64
    assert train.targets.shape == (4000,) and train.targets.dtype == tt.int64
    pixels, labels = train.data.numpy(), train.targets.numpy()
    assert pixels.min() >= 0 and pixels.max() <= 255
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), np.full(10, 400))
    np.testing.assert_array_equal(np.bincount(test.targets.numpy(), minlength=10), np.full(10, 100))
    assert not {a.tobytes() for a in pixels} & {a.tobytes() for a in test.data.numpy()}
    assert pixels.max() > 200 and pixels.mean() > 10  # real digits, not blank
    image, label = test[0]
    assert image.shape == (28, 28) and image.dtype == np.uint8 and isinstance(label, int)
    np.testing.assert_array_equal(image, test.data[0].numpy())
    np.testing.assert_array_equal(MNIST(train=False).targets.numpy(), test.targets.numpy())  # deterministic
    # the PyTorch idioms on them work
    assert (train.data.float() / 255).max().item() <= 1.0 and int((train.targets == 3).sum()) == 400


def test_mnist_data_can_be_replaced():
    """Slicing ``data`` and ``targets`` (a common torchvision idiom) changes what the dataset serves."""
    ds = MNIST(train=False)
    first = ds.data[:10].numpy()
    ds.data, ds.targets = ds.data[5:10], ds.targets[5:10]
    assert len(ds) == 5
    np.testing.assert_array_equal(ds[0][0], first[5])


def write_fake_mnist(folder, n_train=6, n_test=4, rng=None, compress=True):
    rng = rng or np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        for kind, a, code in (("images-idx3", images, 0x08), ("labels-idx1", labels, 0x08)):
            raw = idx_bytes(a, code)
            name = f"{prefix}-{kind}-ubyte"
            if compress:
                (folder / (name + ".gz")).write_bytes(gzip.compress(raw))
            else:
                (folder / name).write_bytes(raw)
        arrays[prefix] = (images, labels)
    return arrays


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_reads_idx_root(tmp_path, compress):
    arrays = write_fake_mnist(tmp_path / "MNIST" / "raw", compress=compress)
    for train, prefix in ((True, "train"), (False, "t10k")):
        ds = MNIST(tmp_path, train=train, target_transform=lambda y: y + 100)
        np.testing.assert_array_equal(ds.data.numpy(), arrays[prefix][0])
        np.testing.assert_array_equal(ds.targets.numpy(), arrays[prefix][1])
        assert ds[1][1] == int(arrays[prefix][1][1]) + 100
        assert len(ds) == len(arrays[prefix][1])


def test_mnist_missing_files_says_how_to_fix(tmp_path):
    with pytest.raises(RuntimeError, match="download=True"):
        MNIST(tmp_path)


def test_mnist_download_from_file_mirror(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    write_fake_mnist(mirror)
    names = [name for name, _ in MNIST.resources]
    md5s = [hashlib.md5((mirror / n).read_bytes()).hexdigest() for n in names]
    monkeypatch.setattr(MNIST, "resources", list(zip(names, md5s)))
    # The first mirror does not exist: the download must fall through to the second.
    monkeypatch.setattr(MNIST, "mirrors", [(tmp_path / "nowhere").as_uri() + "/", mirror.as_uri() + "/"])
    ds = MNIST(tmp_path / "root", train=False, download=True)
    assert len(ds) == 4
    raw = tmp_path / "root" / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(names)  # no leftover .part files


def test_mnist_download_rejects_bad_checksum(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    write_fake_mnist(mirror)
    monkeypatch.setattr(MNIST, "mirrors", [mirror.as_uri() + "/"])  # real MNIST md5s: these files fail them
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        MNIST(tmp_path / "root", download=True)
    assert not any((tmp_path / "root" / "MNIST" / "raw").iterdir())


def test_download_url_with_fake_opener(tmp_path):
    payload = b"hello tinytorch" * 1000

    class FakeResponse(io.BytesIO):
        headers = {"Content-Length": str(len(payload))}

    seen = []
    def opener(url):
        seen.append(url)
        return FakeResponse(payload)

    out = download_url("https://example.invalid/f", tmp_path / "f", md5=hashlib.md5(payload).hexdigest(),
                       opener=opener, progress=False)
    assert out.read_bytes() == payload and seen == ["https://example.invalid/f"]
    with pytest.raises(RuntimeError, match="checksum"):
        download_url("https://example.invalid/f", tmp_path / "g", md5="0" * 32, opener=opener, progress=False)
    assert not (tmp_path / "g").exists() and not (tmp_path / "g.part").exists()


# ---------------------------------------------------------------- DataLoader
def ids(loader):
    return [list(b) for b in loader]


@pytest.mark.parametrize("n,bs,drop_last", [(10, 3, False), (10, 3, True), (9, 3, False), (9, 3, True), (2, 5, False)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_dataloader_covers_each_index_once(n, bs, drop_last, shuffle):
    loader = DataLoader(list(range(n)), batch_size=bs, shuffle=shuffle, drop_last=drop_last,
                        collate_fn=list, generator=0)
    expected_len = n // bs if drop_last else -(-n // bs)
    for _ in range(3):  # every epoch
        batches = ids(loader)
        assert len(batches) == len(loader) == expected_len
        assert all(len(b) == bs for b in batches[:-1])
        seen = [i for b in batches for i in b]
        assert len(seen) == len(set(seen))
        if drop_last:
            assert len(seen) == expected_len * bs
        else:
            assert sorted(seen) == list(range(n))
        if not shuffle:
            assert seen == list(range(len(seen)))


def test_dataloader_shuffle_is_seedable():
    data = list(range(100))
    a = DataLoader(data, batch_size=10, shuffle=True, collate_fn=list, generator=123)
    b = DataLoader(data, batch_size=10, shuffle=True, collate_fn=list, generator=123)
    c = DataLoader(data, batch_size=10, shuffle=True, collate_fn=list, generator=np.random.default_rng(7))
    d1 = DataLoader(data, batch_size=10, shuffle=True, collate_fn=list, generator=tt.Generator().manual_seed(5))
    d2 = DataLoader(data, batch_size=10, shuffle=True, collate_fn=list, generator=tt.Generator().manual_seed(5))
    assert ids(d1) == ids(d2) and ids(d1) != ids(d1)
    ea1, ea2 = ids(a), ids(a)
    assert ea1 == ids(b) and ea2 == ids(b)          # same seed: same sequence of epochs
    assert ea1 != ea2                                  # a new order every epoch
    assert ea1 != ids(c)
    assert [i for batch in ea1 for i in batch] != data


@needs_tensor
def test_dataloader_global_seed():
    data = list(range(50))
    loader = DataLoader(data, batch_size=50, shuffle=True, collate_fn=list)
    tt.manual_seed(3)
    first = ids(loader)
    tt.manual_seed(3)
    assert ids(loader) == first


def test_dataloader_rejects_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader([1, 2], batch_size=0)


class Pairs(Dataset):
    def __len__(self): return 5
    def __getitem__(self, i): return {"x": np.full(2, i, dtype=np.float32), "y": i, "name": f"n{i}"}


@needs_tensor
def test_default_collate_nested():
    batch = next(iter(DataLoader(Pairs(), batch_size=3)))
    assert batch["x"].shape == (3, 2) and batch["x"].dtype == tt.float32
    assert batch["y"].tolist() == [0, 1, 2] and batch["y"].dtype == tt.int64
    assert batch["name"] == ["n0", "n1", "n2"]
    x, y = next(iter(DataLoader([(tt.ones(2) * i, float(i)) for i in range(4)], batch_size=4)))
    assert x.shape == (4, 2) and x[3].tolist() == [3.0, 3.0]
    assert y.dtype == tt.float64 and y.tolist() == [0.0, 1.0, 2.0, 3.0]


@needs_tensor
def test_tensor_dataset_and_loader():
    x = tt.arange(12).reshape(6, 2).float()
    y = tt.arange(6)
    ds = TensorDataset(x, y)
    assert len(ds) == 6 and ds[4][1].item() == 4 and ds[4][0].tolist() == [8.0, 9.0]
    xs, ys = zip(*DataLoader(ds, batch_size=4, shuffle=True, generator=1))
    assert [t.shape for t in xs] == [(4, 2), (2, 2)]
    assert sorted(v for t in ys for v in t.tolist()) == list(range(6))
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(tt.zeros(3), tt.zeros(4))


def test_random_split():
    a, b, c = random_split(range(10), [5, 3, 2], generator=0)
    assert (len(a), len(b), len(c)) == (5, 3, 2)
    assert sorted(list(a) + list(b) + list(c)) == list(range(10))
    a2, _, _ = random_split(range(10), [5, 3, 2], generator=0)
    assert list(a) == list(a2)
    parts = random_split(range(11), [0.5, 0.3, 0.2], generator=1)
    assert [len(p) for p in parts] == [6, 3, 2]  # floor(5.5, 3.3, 2.2) = 5, 3, 2, remainder 1 to the first
    with pytest.raises(ValueError, match="does not equal"):
        random_split(range(10), [5, 4])


# ---------------------------------------------------------------- transforms
@needs_tensor
def test_to_tensor_and_normalize():
    img = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    t = transforms.ToTensor()(img)
    assert t.shape == (1, 3, 4) and t.dtype == tt.float32
    np.testing.assert_allclose(t.numpy()[0], img / 255.0, rtol=1e-6)
    rgb = transforms.ToTensor()(np.zeros((5, 6, 3), dtype=np.uint8))
    assert rgb.shape == (3, 5, 6)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,)),
                             transforms.Lambda(lambda x: x.flatten())])
    out = tf(img)
    assert out.shape == (12,)
    np.testing.assert_allclose(out.numpy(), ((img / 255.0 - 0.1307) / 0.3081).ravel(), rtol=1e-5, atol=1e-6)
    two = transforms.Normalize((1.0, 2.0), (2.0, 4.0))(tt.ones(2, 1, 1))
    np.testing.assert_allclose(two.numpy().ravel(), [0.0, -0.25])


def test_transform_argument_errors():
    with pytest.raises(ValueError, match="zero"):
        transforms.Normalize((0.5,), (0.0,))
    with pytest.raises(TypeError):
        transforms.Lambda(3)
    assert "Normalize" in repr(transforms.Compose([transforms.Normalize((0.5,), (0.5,))]))


@needs_tensor
def test_mnist_with_transforms_through_loader():
    ds = MNIST(train=False, transform=transforms.Compose([transforms.ToTensor(),
                                                           transforms.Normalize((0.1307,), (0.3081,))]))
    x, y = next(iter(DataLoader(ds, batch_size=8, shuffle=True, generator=0)))
    assert x.shape == (8, 1, 28, 28) and x.dtype == tt.float32
    assert y.shape == (8,) and y.dtype == tt.int64
    assert abs(x.numpy().mean()) < 1.0


def test_utils_data_alias():
    from tinytorch.utils.data import DataLoader as DL
    from tinytorch.utils.data import TensorDataset as TD
    assert DL is DataLoader and TD is TensorDataset
