"""Slide a trained MNIST classifier over a larger image in ONE forward pass (seeds 000/001).

LeNet-5 is trained on 28×28 digits. `nn.utils.linear_to_conv2d` turns its fully connected
layers into convolutions (fc1, which reads the 16×4×4 feature map, becomes a 4×4 conv; fc2 and
fc3 become 1×1 convs). The converted network accepts any image size: on a 100×100 canvas it
returns a 19×19 map of class scores — one per 28×28 window at a stride of 4 pixels (the two
2×2 pools), (100 - 28) / 4 + 1 = 19 — sharing all the convolution work between overlapping
windows instead of running the classifier 361 times.

The classifier gets an 11th class, "background", trained on empty and off-centre windows, so
the map shows where digits are as well as what they are.

    python examples/sliding_window.py                 # ~30-60 s on 2 cores (training)
    python examples/sliding_window.py --plot map.png  # also draw the canvas and the score map
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import optim
from tinygrad_cnn.models import LeNet5

BACKGROUND = 10


def background_windows(images: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """28×28 windows that are not a centred digit: blank, or a digit shifted by 8-16 pixels
    (what a window sees when it straddles a digit on the canvas)."""
    out = np.zeros((n, 28, 28), np.uint8)
    for k in range(n):
        if rng.random() < 0.2:
            continue                                    # blank window
        canvas = np.zeros((84, 84), np.uint8)
        canvas[28:56, 28:56] = images[rng.integers(len(images))]
        dy, dx = rng.integers(-16, 17, size=2)
        while max(abs(dy), abs(dx)) < 8:
            dy, dx = rng.integers(-16, 17, size=2)
        out[k] = canvas[28 + dy:56 + dy, 28 + dx:56 + dx]
    return out


def best_time(fn, repeats: int = 5) -> float:
    """The fastest of a few runs (the machine may be busy with other work)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def make_canvas(images: np.ndarray, labels: np.ndarray, size: int, rng: np.random.Generator):
    """Paste four test digits at positions on the 4-pixel window grid, not overlapping."""
    canvas = np.zeros((size, size), np.uint8)
    placed = []
    for idx in rng.choice(len(images), 4, replace=False):
        for _ in range(100):
            y, x = (rng.integers(0, (size - 28) // 4 + 1, size=2) * 4)
            if all(abs(y - py) >= 32 or abs(x - px) >= 32 for py, px, _ in placed):
                canvas[y:y + 28, x:x + 28] = np.maximum(canvas[y:y + 28, x:x + 28], images[idx])
                placed.append((int(y), int(x), int(labels[idx])))
                break
    return canvas, placed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train-samples", type=int, default=20000, help="MNIST digits to train on")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--canvas", type=int, default=100, help="canvas side in pixels")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", metavar="PNG", help="draw the canvas and the score map (matplotlib)")
    args = ap.parse_args()

    tc.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train, test = tc.data.MNIST(train=True), tc.data.MNIST(train=False)
    lut = train._lut                                     # uint8 pixel -> normalised float32

    # ---- train LeNet-5 (seed-004 layout) with 11 classes: the digits and "background"
    n = args.train_samples
    digits = train.data[:n]
    bg = background_windows(train.data[n:n + 20000], n // 4, rng)
    x_all = np.concatenate([digits, bg])
    y_all = np.concatenate([train.targets[:n], np.full(len(bg), BACKGROUND)])
    model = LeNet5(num_classes=11)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        order = rng.permutation(len(x_all))
        for i in range(0, len(order) - 63, 64):
            b = order[i:i + 64]
            x = tc.from_numpy(lut[x_all[b]][:, None])    # (64, 28, 28) -> (64, 1, 28, 28)
            loss = F.cross_entropy(model(x), tc.from_numpy(y_all[b]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}: last batch loss {loss.item():.3f} "
              f"({time.perf_counter() - t0:.1f} s)")
    model.eval()
    with tc.no_grad():
        pred = model(tc.from_numpy(lut[test.data[:2000]][:, None])).argmax(1).numpy()
    print(f"test accuracy on 2,000 centred digits: {np.mean(pred == test.targets[:2000]):.1%}")

    # ---- the fully convolutional version, on a canvas with four digits
    fcn = model.fully_convolutional()
    print("\nfully convolutional network:\n", fcn, sep="")
    canvas, placed = make_canvas(test.data, test.targets, args.canvas, rng)
    image = tc.from_numpy(lut[canvas][None, None])       # (H, W) -> (1, 1, H, W)
    with tc.no_grad():
        scores = fcn(image).numpy()[0]                   # (11, OH, OW)
        oh, ow = scores.shape[1:]
        windows = [lut[canvas[4 * i:4 * i + 28, 4 * j:4 * j + 28]] for i in range(oh) for j in range(ow)]
        crops = tc.from_numpy(np.stack(windows)[:, None])   # (OH*OW, 28, 28) -> (OH*OW, 1, 28, 28)
        per_window = model(crops).numpy()                # the classifier on every window
        t_fcn = best_time(lambda: fcn(image))
        t_windows = best_time(lambda: model(crops))
    diff = np.abs(per_window.reshape(oh, ow, 11).transpose(2, 0, 1) - scores).max()
    print(f"\n{args.canvas}×{args.canvas} canvas -> {oh}×{ow} score map in one pass "
          f"({t_fcn * 1e3:.1f} ms; the classifier on all {oh * ow} crops: {t_windows * 1e3:.1f} ms, "
          f"best of 5); "
          f"max |difference| between the two: {diff:.2e}")

    classes = scores.argmax(0)
    print("\nclass map (one character per 28×28 window, '.' = background):")
    for i in range(oh):
        print("  " + " ".join("." if c == BACKGROUND else str(c) for c in classes[i]))
    found = 0
    for y, x, label in placed:
        c = classes[y // 4, x // 4]
        found += c == label
        print(f"digit {label} pasted at (row {y}, col {x}) -> window ({y // 4}, {x // 4}) "
              f"says {'background' if c == BACKGROUND else c}")
    print(f"{found}/{len(placed)} pasted digits recognised at their window")

    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, (a, b) = plt.subplots(1, 2, figsize=(10, 5))
        a.imshow(canvas, cmap="gray")
        a.set_title("canvas")
        probs = np.exp(scores - scores.max(0))
        probs /= probs.sum(0)
        b.imshow(1 - probs[BACKGROUND], cmap="viridis", vmin=0, vmax=1)
        for i in range(oh):
            for j in range(ow):
                if classes[i, j] != BACKGROUND:
                    b.text(j, i, str(classes[i, j]), ha="center", va="center", color="w", fontsize=8)
        b.set_title("P(digit) per window, argmax class")
        fig.savefig(args.plot, dpi=100, bbox_inches="tight")
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
