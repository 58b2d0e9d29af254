"""A WGAN-GP critic on MNIST: the gradient penalty needs the gradient of a gradient.

    .venv/bin/python examples/gradient_penalty.py               # 150 steps (18 s of CPU time here)
    .venv/bin/python examples/gradient_penalty.py --steps 300

The critic (Conv2d, LeakyReLU, MaxPool2d, Linear) learns to score real digits above "fakes"
(the same images with their pixels shuffled: the same brightness, no strokes). WGAN-GP's loss
(Gulrajani et al. 2017) is

    critic(fake).mean() - critic(real).mean() + λ·mean((‖∇ₓ critic(x̂)‖ - 1)²)

at random interpolates x̂ between real and fake images. The penalty's gradient with respect to
the critic's weights flows through ∇ₓ critic(x̂), which `tc.autograd.grad(..., create_graph=True)`
computes as a recorded graph. The script prints the Wasserstein estimate (real minus fake
score, which grows) and the mean gradient norm at the interpolates (which the penalty pulls
towards 1). Measured (seed 0): the estimate grows from -0.01 to 4.9 over 150 steps while the
gradient norm rises from 0.13 to about 1 (1.0-1.2 from step 75 on).
"""
import argparse
import time

import numpy as np

import tinygrad_cnn as tc
from tinygrad_cnn import nn, optim
from tinygrad_cnn.data import MNIST


def critic() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.LeakyReLU(0.2),     # -> 8x14x14
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.LeakyReLU(0.2),    # -> 16x7x7
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 3 * 3, 1))         # -> 16x3x3 -> 1


def gradient_penalty(model: nn.Module, real: tc.Tensor, fake: tc.Tensor) -> tuple:
    alpha = tc.rand(real.shape[0], 1, 1, 1)
    mix = (alpha * real + (1 - alpha) * fake).detach().requires_grad_()
    (grad,) = tc.autograd.grad(model(mix).sum(), mix, create_graph=True)
    norms = grad.flatten(1).norm(dim=1)
    return ((norms - 1) ** 2).mean(), norms.mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--gp-weight", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    tc.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    images = MNIST(train=True).data[:5000].astype(np.float32) / 255.0      # (5000, 28, 28)
    model = critic()
    opt = optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.9))
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        batch = images[rng.integers(0, len(images), args.batch)]
        shuffled = rng.permuted(batch.reshape(args.batch, -1), axis=1).reshape(batch.shape)
        real, fake = tc.tensor(batch[:, None]), tc.tensor(shuffled[:, None])
        penalty, grad_norm = gradient_penalty(model, real, fake)
        estimate = model(real).mean() - model(fake).mean()
        loss = -estimate + args.gp_weight * penalty
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0 or step == 1:
            print(f"step {step:4d}: Wasserstein estimate {estimate.item():7.3f}, "
                  f"penalty {penalty.item():.4f}, mean ‖∇ critic‖ at interpolates {grad_norm:.3f}",
                  flush=True)
    print(f"trained {args.steps} critic steps in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
