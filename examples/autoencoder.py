"""A convolutional autoencoder on MNIST: Conv2d + BatchNorm2d down, ConvTranspose2d up.

    .venv/bin/python examples/autoencoder.py                  # 2 epochs on 20,000 images, ~6 s
    .venv/bin/python examples/autoencoder.py --epochs 1 --limit 5000

Measured (2 cores, seed 0): test MSE 0.0023 after the 2 default epochs, against 0.0642 for
predicting the mean image and 0.2891 before training.

The encoder halves 28×28 twice (stride-2 convs) to a 16×7×7 code; the decoder doubles it back
with transposed convolutions (`nn.ConvTranspose2d`, the conv's input gradient as a layer). It
prints the test reconstruction error before and after training, and what a model that predicts
the mean image scores, so the number means something.
"""
import argparse
import time

import numpy as np

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn, optim
from tinygrad_cnn.data import MNIST, DataLoader


class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),    # -> 16x14x14
            nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),   # -> 16x7x7
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(16, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),  # -> 16x14x14
            nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1),              # -> 1x28x28
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))


def images(dataset, limit=None):
    """Pixels in [0, 1] (the autoencoder reconstructs them), (N, 1, 28, 28) float32."""
    data = dataset.data if limit is None else dataset.data[:limit]
    return (data.astype(np.float32) / 255.0)[:, None]


def test_error(model, x):
    model.eval()
    with tc.no_grad():
        error = np.mean([F.mse_loss(model(tc.tensor(x[i:i + 500])), tc.tensor(x[i:i + 500])).item()
                         for i in range(0, len(x), 500)])
    model.train()
    return error


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=20000, help="train on the first N images")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    tc.manual_seed(args.seed)
    train = images(MNIST(train=True), args.limit)
    test = images(MNIST(train=False), 2000)
    model = AutoEncoder()
    opt = optim.Adam(model.parameters(), lr=args.lr)
    print(f"test MSE of the mean image: {np.mean((test - train.mean(axis=0)) ** 2):.4f}")
    print(f"test MSE before training:   {test_error(model, test):.4f}")
    loader = DataLoader(tc.data.TensorDataset(tc.tensor(train)), batch_size=64, shuffle=True)
    for epoch in range(args.epochs):
        start, losses = time.perf_counter(), []
        for (x,) in loader:
            loss = F.mse_loss(model(x), x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        print(f"epoch {epoch + 1}: train MSE {np.mean(losses):.4f}, test MSE "
              f"{test_error(model, test):.4f}, {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
