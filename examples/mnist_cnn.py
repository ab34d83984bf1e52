"""A convolutional network on MNIST, trained with Adadelta and a step learning-rate schedule.

Written the way PyTorch's official examples are written: everything below the imports is plain
PyTorch, and ``--framework torch`` runs the very same lines on PyTorch. The data is the 5,000-image
MNIST subset that ships inside tinytorch (4,000 training and 1,000 test images), so no download is
needed; it is read with numpy and handed to each framework as tensors.

Usage::

    python examples/mnist_cnn.py                      # 14 epochs on tinytorch's C backend
    python examples/mnist_cnn.py --epochs 2 --framework torch
    python examples/mnist_cnn.py --dry-run            # one batch per epoch: a quick check
"""

import argparse

import numpy as np


def chosen_framework() -> str:
    """The ``--framework`` flag, read before the rest of the command line (it decides the imports)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--framework", choices=["tinytorch", "torch"], default="tinytorch")
    return p.parse_known_args()[0].framework


if chosen_framework() == "torch":
    import torch
else:
    import tinytorch as torch
nn = torch.nn
F = torch.nn.functional
optim = torch.optim
StepLR = torch.optim.lr_scheduler.StepLR
DataLoader = torch.utils.data.DataLoader
TensorDataset = torch.utils.data.TensorDataset


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print(f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(train_loader.dataset)} "
                  f"({100.0 * batch_idx / len(train_loader):.0f}%)]\tLoss: {loss.item():.6f}")
        if args.dry_run or batch_idx + 1 == args.max_batches:
            break


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    print(f"\nTest set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{len(test_loader.dataset)} "
          f"({100.0 * correct / len(test_loader.dataset):.0f}%)\n")
    return test_loss, correct / len(test_loader.dataset)


def mnist_subset(train):
    """The shipped MNIST subset as a TensorDataset: images normalised as in PyTorch's example."""
    from tinytorch.data.datasets import SUBSET_PATH

    split = "train" if train else "test"
    with np.load(SUBSET_PATH) as f:
        images, labels = f[f"{split}_images"], f[f"{split}_labels"]
    x = torch.from_numpy(images).float().div(255).sub(0.1307).div(0.3081).unsqueeze(1)
    return TensorDataset(x, torch.from_numpy(labels))


def main():
    parser = argparse.ArgumentParser(description="MNIST CNN (PyTorch's example, on either framework)")
    parser.add_argument("--framework", choices=["tinytorch", "torch"], default="tinytorch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--test-batch-size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=14)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=0.7, help="learning-rate step gamma")
    parser.add_argument("--no-accel", action="store_true", help="disable the accelerator")
    parser.add_argument("--dry-run", action="store_true", help="one batch per epoch")
    parser.add_argument("--max-batches", type=int, default=0, help="stop each epoch after this many batches")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--save-model", action="store_true")
    args = parser.parse_args()

    use_accel = not args.no_accel and torch.accelerator.is_available()
    torch.manual_seed(args.seed)
    device = torch.accelerator.current_accelerator() if use_accel else torch.device("cpu")

    train_loader = DataLoader(mnist_subset(train=True), batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(mnist_subset(train=False), batch_size=args.test_batch_size)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        test(model, device, test_loader)
        scheduler.step()

    if args.save_model:
        torch.save(model.state_dict(), "mnist_cnn.pt")


if __name__ == "__main__":
    main()
