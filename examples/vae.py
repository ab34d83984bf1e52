"""A variational autoencoder on MNIST (Kingma and Welling's model with a 20-dimensional latent).

Written the way PyTorch's official examples are written: everything below the imports is plain
PyTorch, and ``--framework torch`` runs the very same lines on PyTorch. The data is the MNIST
subset that ships inside tinytorch, scaled to [0, 1]. After each epoch the script prints the
test loss and, with ``--samples FILE``, saves 64 digits decoded from random latent vectors.

Usage::

    python examples/vae.py --epochs 10
    python examples/vae.py --epochs 10 --framework torch
    python examples/vae.py --epochs 5 --samples vae_samples.png
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
DataLoader = torch.utils.data.DataLoader
TensorDataset = torch.utils.data.TensorDataset


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    """Reconstruction (binary cross-entropy) plus the KL divergence from the unit Gaussian prior."""
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    train_loss = 0
    for batch_idx, (data, _) in enumerate(train_loader):
        data = data.to(device)
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print(f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(train_loader.dataset)} "
                  f"({100.0 * batch_idx / len(train_loader):.0f}%)]\tLoss: {loss.item() / len(data):.6f}")
        if batch_idx + 1 == args.max_batches:
            break
    print(f"====> Epoch: {epoch} Average loss: {train_loss / len(train_loader.dataset):.4f}")


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    with torch.no_grad():
        for data, _ in test_loader:
            data = data.to(device)
            recon_batch, mu, logvar = model(data)
            test_loss += loss_function(recon_batch, data, mu, logvar).item()
    test_loss /= len(test_loader.dataset)
    print(f"====> Test set loss: {test_loss:.4f}")
    return test_loss


def mnist_subset(train):
    """The shipped MNIST subset as a TensorDataset of images in [0, 1] and their labels."""
    from tinytorch.data.datasets import SUBSET_PATH

    split = "train" if train else "test"
    with np.load(SUBSET_PATH) as f:
        images, labels = f[f"{split}_images"], f[f"{split}_labels"]
    return TensorDataset(torch.from_numpy(images).float().div(255).unsqueeze(1), torch.from_numpy(labels))


def save_samples(images, path):
    """Save 64 decoded digits as an 8 x 8 grid (matplotlib stands in for torchvision's save_image)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.asarray(images.tolist()).reshape(8, 8, 28, 28).transpose(0, 2, 1, 3).reshape(8 * 28, 8 * 28)
    plt.imsave(path, grid, cmap="gray")


def main():
    parser = argparse.ArgumentParser(description="VAE on MNIST (PyTorch's example, on either framework)")
    parser.add_argument("--framework", choices=["tinytorch", "torch"], default="tinytorch")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--no-accel", action="store_true", help="disable the accelerator")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--max-batches", type=int, default=0, help="stop each epoch after this many batches")
    parser.add_argument("--samples", default=None, help="save 64 generated digits to this image file")
    args = parser.parse_args()

    use_accel = not args.no_accel and torch.accelerator.is_available()
    torch.manual_seed(args.seed)
    device = torch.accelerator.current_accelerator() if use_accel else torch.device("cpu")

    train_loader = DataLoader(mnist_subset(train=True), batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(mnist_subset(train=False), batch_size=args.batch_size)

    model = VAE().to(device)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        test(model, device, test_loader)
        if args.samples:
            with torch.no_grad():
                sample = model.decode(torch.randn(64, 20).to(device)).cpu()
            save_samples(sample, args.samples)


if __name__ == "__main__":
    main()
