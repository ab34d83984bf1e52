"""Lab 8 grader: a DataLoader and a training loop that reaches a stated accuracy on MNIST."""

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import nn, optim
from tinytorch.data import DataLoader as LibraryDataLoader
from tinytorch.data import TensorDataset
from tinytorch.data.datasets import MNIST
from tinytorch.labs import check, check_equal

TITLE = "data and training"
EXERCISES = {"8.1": "DataLoader", "8.2": "train_epoch and evaluate"}
#: the library's own version of each exercise: it raises if the notebook's code calls it while graded
REFERENCES = {"8.1": ["tinytorch.data.dataloader:DataLoader", "tinytorch.data.dataloader:default_collate"]}
TARGET_ACCURACY = 0.85


class Pairs:
    """A dataset of (tensor, int) examples whose values reveal their index."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return tt.tensor([float(i), -float(i)]), i


def _labels(loader):
    return [y.tolist() for _, y in loader]


# --- 8.1 DataLoader ------------------------------------------------------------------------------------
@pytest.mark.points(3, exercise="8.1", hint="stack tensors with tt.stack(..., 0); ints become one int64 tensor")
def test_batches_in_order(lab):
    """batches of (stacked tensors, int64 labels) in order, a short last batch, and len()"""
    DataLoader = lab.defined("DataLoader")
    loader = DataLoader(Pairs(10), batch_size=4)
    check_equal(len(loader), 3, "len(DataLoader(10 examples, batch_size=4))")
    batches = list(loader)
    check_equal(len(batches), 3, "number of batches from 10 examples, batch_size=4")
    x, y = batches[0]
    check(isinstance(x, tt.Tensor) and isinstance(y, tt.Tensor), "a batch should be a tuple of two Tensors")
    check_equal(tuple(x.shape), (4, 2), "shape of the first batch's inputs")
    check_equal(y.dtype, tt.int64, "dtype of the labels")
    check_equal(_labels(loader), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]], "labels of each batch")
    check_equal(batches[2][0].tolist(), [[8.0, -8.0], [9.0, -9.0]], "inputs of the last batch")


@pytest.mark.points(1, exercise="8.1")
def test_drop_last(lab):
    """drop_last=True drops the short last batch, and len() agrees"""
    DataLoader = lab.defined("DataLoader")
    loader = DataLoader(Pairs(10), batch_size=4, drop_last=True)
    check_equal(len(loader), 2, "len() with drop_last=True")
    check_equal(_labels(loader), [[0, 1, 2, 3], [4, 5, 6, 7]], "labels with drop_last=True")


@pytest.mark.points(2, exercise="8.1", hint="draw a new permutation from one np.random.default_rng(seed) per epoch")
def test_shuffle(lab):
    """shuffle=True: every epoch a permutation of all examples, different each epoch, reproducible by seed"""
    DataLoader = lab.defined("DataLoader")
    loader = DataLoader(Pairs(50), batch_size=8, shuffle=True, seed=1)
    epochs = [sum(_labels(loader), []) for _ in range(3)]
    for order in epochs:
        check_equal(sorted(order), list(range(50)), "the sorted labels of one shuffled epoch")
    check(epochs[0] != list(range(50)), "shuffle=True returned the examples in order")
    check(epochs[0] != epochs[1], "two epochs had the same order: draw a new permutation each epoch")
    again = DataLoader(Pairs(50), batch_size=8, shuffle=True, seed=1)
    check_equal(sum(_labels(again), []), epochs[0], "the first epoch of a second loader with the same seed")


@pytest.mark.points(2, exercise="8.1")
def test_dataloader_feeds_training(lab):
    """a model trained on batches from your DataLoader learns (library training code)"""
    DataLoader = lab.defined("DataLoader")
    tt.manual_seed(0)
    x = tt.randn(256, 2)
    y = (x[:, 0] + x[:, 1] > 0).long()
    model = nn.Linear(2, 2)
    opt = optim.SGD(model.parameters(), lr=0.5)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, seed=0)
    for _ in range(5):
        for xb, yb in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    acc = (model(x).argmax(1) == y).float().mean().item()
    check(acc > 0.95, f"accuracy {acc:.2f} on a linearly separable problem after 5 epochs, expected > 0.95")


# --- 8.2 training ------------------------------------------------------------------------------------
def _mnist(train):
    ds = MNIST(train=train)
    x = (np.asarray(ds.data, dtype=np.float32) / 255 - 0.1307) / 0.3081
    return TensorDataset(tt.tensor(x), tt.tensor(np.asarray(ds.targets), dtype=tt.int64))


@pytest.mark.points(2, exercise="8.2", hint="count argmax(model(x), 1) == y over all batches; divide by the total")
def test_evaluate(lab):
    """evaluate returns the fraction of correct predictions, without recording a graph"""
    evaluate = lab.defined("evaluate")

    class Fixed(nn.Module):
        def forward(self, x):
            check(not tt.is_grad_enabled(), "evaluate ran the model with grad mode on (use tt.no_grad())")
            return tt.stack([x[:, 0], -x[:, 0]], 1)  # predicts class 0 when x > 0

    x = tt.tensor([[1.0], [-2.0], [3.0], [-1.0], [0.5]])
    y = tt.tensor([0, 1, 1, 0, 0])
    acc = evaluate(Fixed(), LibraryDataLoader(TensorDataset(x, y), batch_size=2))
    check(abs(float(acc) - 0.6) < 1e-9, f"evaluate returned {acc}, expected 0.6 (3 of 5 correct)")


@pytest.mark.points(6, exercise="8.2", hint="zero_grad, forward, loss, backward, step — for every batch")
def test_train_mnist(lab):
    """your train_epoch trains an MLP on MNIST to the target test accuracy in two epochs"""
    train_epoch, evaluate = lab.defined("train_epoch"), lab.defined("evaluate")
    tt.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train = LibraryDataLoader(_mnist(True), batch_size=64, shuffle=True)
    test = LibraryDataLoader(_mnist(False), batch_size=500)
    losses = [train_epoch(model, train, optimizer, nn.CrossEntropyLoss()) for _ in range(2)]
    check(all(isinstance(v, float) for v in losses), f"train_epoch returned {losses}, expected floats")
    check(losses[1] < losses[0], f"the mean loss did not go down between epochs: {losses}")
    check(model.training, "train_epoch should leave the model in training mode (model.train())")
    acc = evaluate(model, test)
    check(acc >= TARGET_ACCURACY, f"test accuracy after two epochs is {acc:.3f}, expected >= {TARGET_ACCURACY}")
