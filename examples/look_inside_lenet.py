"""Look inside LeNet-5: train it briefly on MNIST, then save every learning view.

    .venv/bin/python examples/look_inside_lenet.py [OUT_DIR] [--steps N]

writes into OUT_DIR (default ./look_inside_lenet):
    im2col.png          a batch of two 4×4 images, 3×3 kernel, padding 1: one window and its column
    col2im.png          the backward: which column entries add into one input pixel
    pool_switches.png   max-pool's forward and where its gradient goes (seed 003 §8.2.2)
    filters_conv1.png   the 6 learned 5×5 kernels of conv1
    filters_conv2.png   conv2's 16×6 kernels
    features_conv1.png  conv1's 6 feature maps for a test digit
    features_relu2.png  the 16 maps after conv2 + ReLU
    saliency.png        which pixels the predicted class's score depends on
Training: N steps of Adam (default 300, batch 64, about 2 s) on the first 12,800 training
images; the test digit is the first of the test set. The same pictures come one by one from
`tinygrad-cnn show im2col|col2im|filters|features|saliency|switches ...`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F


def train_lenet(steps: int = 300, seed: int = 0) -> tuple[Any, float]:
    """LeNet-5 after `steps` Adam steps; returns (model, last-50-steps mean loss)."""
    previous = tc.get_blas_threads()
    tc.set_blas_threads(1)           # LeNet's matrices are too small to gain from more (as train)
    try:
        tc.manual_seed(seed)
        data = tc.data.MNIST(train=True)
        subset = tc.data.Subset(data, np.arange(min(len(data), 200 * 64)))
        loader = tc.data.DataLoader(subset, batch_size=64, shuffle=True, seed=seed)
        model = tc.models.LeNet5()
        opt = tc.optim.Adam(model.parameters(), lr=0.005)
        losses: list[float] = []
        while len(losses) < steps:
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
                if len(losses) == steps:
                    break
    finally:
        tc.set_blas_threads(previous)
    return model.eval(), float(np.mean(losses[-50:]))


def mechanics_figures() -> dict[str, Any]:
    """{file name: matplotlib Figure} for the views of how the ops compute (no model needed)."""
    two_images = np.arange(1, 2 * 16 + 1, dtype=np.float64).reshape(2, 1, 4, 4)
    pool_input = np.array([[1, 3, 2, 9], [7, 4, 1, 5], [8, 6, 3, 4], [2, 0, 5, 7]], dtype=np.float64)
    return {
        "im2col.png": tc.viz.im2col(two_images, kernel_size=3, stride=1, padding=1, window=(0, 1, 1)),
        "col2im.png": tc.viz.col2im((1, 1, 5, 5), kernel_size=3, stride=1, padding=1, pixel=(1, 1)),
        "pool_switches.png": tc.viz.pool_switches(pool_input, kernel_size=2),
    }


def model_figures(model: Any, image: Any) -> dict[str, Any]:
    """{file name: matplotlib Figure} for the views of the trained model."""
    return {
        "filters_conv1.png": tc.viz.filters(model.conv1, title="conv1"),
        "filters_conv2.png": tc.viz.filters(model.conv2, title="conv2"),
        "features_conv1.png": tc.viz.feature_maps(model, image, layer="conv1"),
        "features_relu2.png": tc.viz.feature_maps(model, image, layer="relu2"),
        "saliency.png": tc.viz.saliency(model, image),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", nargs="?", default="look_inside_lenet")
    parser.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    args = parser.parse_args(argv)
    model, loss = train_lenet(args.steps)
    test = tc.data.MNIST(train=False)
    image, label = test[0]
    print(f"trained LeNet-5 for {args.steps} steps (mean loss of the last 50: {loss:.3f}); "
          f"test digit 0 is a {label}")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, fig in {**mechanics_figures(), **model_figures(model, image)}.items():
        fig.savefig(out / name, dpi=100)
        print("wrote", out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
