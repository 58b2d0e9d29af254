"""Train LeNet-5 on MNIST with the PyTorch-style API — the loop `tinygrad-cnn train` runs, by hand.

    .venv/bin/python examples/train_lenet.py              # 3 epochs, about a minute on 2 cores
    .venv/bin/python examples/train_lenet.py --epochs 1 --limit 10000

A PyTorch user reads this as a PyTorch script: swap `torch` for `tinygrad_cnn as tc`,
`torch.utils.data` for `tc.data`, and it is the same program.
"""
import argparse
import math
import time

import numpy as np

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn, optim
from tinygrad_cnn.data import MNIST, DataLoader, Subset
from tinygrad_cnn import set_blas_threads


class LeNet5(nn.Module):
    """LeNet-5 on 28x28 digits (seed 004's layout; the same network as tc.models.LeNet5())."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)                # 1x28x28 -> 6x24x24
        self.conv2 = nn.Conv2d(6, 16, 5)               # 6x12x12 -> 16x8x8
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)     # -> 6x12x12
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)     # -> 16x4x4
        x = x.flatten(1)                                # -> 256
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


@tc.no_grad()
def accuracy(model, loader):
    model.eval()
    correct = total = 0
    for x, y in loader:
        correct += int((model(x).argmax(dim=1) == y).sum().item())
        total += len(y)
    model.train()
    return 100.0 * correct / total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.005)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    tc.manual_seed(args.seed)
    set_blas_threads(1)         # NumPy's BLAS: LeNet's matrices are too small to gain from more
    full = MNIST(train=True)                      # uint8 in memory, float32 per batch
    n_train = 55000 if args.limit is None else min(args.limit, 55000)
    train_set = Subset(full, range(n_train))
    valid_set = Subset(full, range(55000, 60000))  # held out: the last 5,000 training images
    test_set = MNIST(train=False)

    train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
    valid_loader = DataLoader(valid_set, batch_size=250)
    test_loader = DataLoader(test_set, batch_size=250)

    model = LeNet5()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * len(train_loader)
    warmup = steps // 10                          # linear warm-up, then cosine decay to 0
    schedule = optim.lr_scheduler.LambdaLR(
        optimizer, lambda t: (t + 1) / warmup if t < warmup
        else 0.5 * (1 + math.cos(math.pi * (t - warmup) / (steps - warmup))))

    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        losses = []
        for x, y in train_loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        print(f"epoch {epoch}: train loss {np.mean(losses):.4f}, "
              f"valid accuracy {accuracy(model, valid_loader):.2f}%, "
              f"{time.perf_counter() - start:.1f}s")
    print(f"test accuracy {accuracy(model, test_loader):.2f}%")
    tc.save({"model": model.state_dict()}, "lenet5_mnist.npz")
    print("saved lenet5_mnist.npz")


if __name__ == "__main__":
    main()
