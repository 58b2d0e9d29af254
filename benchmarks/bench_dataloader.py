"""One MNIST training epoch of data loading with a per-sample random-crop + normalise transform,
DataLoader(num_workers=0) vs worker processes.

    PYTHONPATH=. python benchmarks/bench_dataloader.py [--workers 0 2] [--runs 3] [--torch]

Each sample goes through the transform one by one. `--transform vision` (the default):
tinygrad_cnn.vision's `datasets.MNIST` with `Compose([RandomCrop(28, padding=2), ToTensor(),
Normalize((0.1307,), (0.3081,))])`, a PIL image per item when Pillow is installed, as a
torchvision script does. `--transform inline`: the same steps written here in NumPy on the
uint8 array (pad by 2, crop at an offset from `tc.randint`, scale, normalise). Batches of 64,
shuffled; the time is for iterating the whole epoch (60,000 images, 938 batches), including
starting and stopping the workers. `--torch` also times torch.utils.data.DataLoader over the
inline transform, for reference.
Prints a table and a JSON line (medians and min-max over --runs), and how many cores were
actually free before and after (one CPU-bound process timed alone and two side by side): on a
shared machine that, not the core count, bounds what worker processes can gain.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tinygrad_cnn as tc  # noqa: E402
from tinygrad_cnn.utils.data import DataLoader, Dataset  # noqa: E402

MEAN, STD, PAD = 0.1307, 0.3081, 2


class RandomCropNormalize:
    """Pad, random 28x28 crop (offsets from tc's generator), to float in [0, 1], normalise."""

    def __init__(self, randint=None):
        self.randint = randint or (lambda: tc.randint(0, 2 * PAD + 1, (2,)).numpy())

    def __call__(self, image: np.ndarray) -> np.ndarray:           # (28, 28) uint8
        padded = np.pad(image, PAD)                                  # (32, 32)
        top, left = (int(v) for v in self.randint())
        crop = padded[top:top + 28, left:left + 28]
        return ((crop.astype(np.float32) / 255.0 - MEAN) / STD)[None]   # (1, 28, 28)


class TransformedMNIST(Dataset):
    def __init__(self, images: np.ndarray, labels: np.ndarray, transform) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), int(self.labels[i])


def vision_mnist(limit: int | None) -> Dataset:
    from tinygrad_cnn.vision import datasets, transforms
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
    ds = datasets.MNIST(root, train=True, transform=transforms.Compose([
        transforms.RandomCrop(28, padding=PAD), transforms.ToTensor(),
        transforms.Normalize((MEAN,), (STD,))]))
    if limit is not None:
        ds.data, ds.targets = ds.data[:limit], ds.targets[:limit]
    return ds


def _burn(n: int = 10_000_000) -> None:
    s = 0
    for i in range(n):
        s += i


def free_cores() -> float:
    """How many cores this machine gives right now: the time of one CPU-bound process over the
    time of two side by side (2.0 on two free cores; about 1 when one is busy elsewhere)."""
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    times = []
    for k in (1, 2):
        t0 = time.perf_counter()
        procs = [ctx.Process(target=_burn) for _ in range(k)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        times.append(time.perf_counter() - t0)
    return 2 * times[0] / times[1]


def epoch_seconds(make_loader) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = 0
    for x, _ in make_loader():
        n += x.shape[0]
    return time.perf_counter() - t0, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N images")
    ap.add_argument("--torch", action="store_true", help="also time torch's DataLoader")
    ap.add_argument("--transform", choices=["vision", "inline"], default="vision")
    args = ap.parse_args()

    mnist = tc.data.MNIST(train=True)
    images, labels = mnist.data[:args.limit], mnist.targets[:args.limit]
    if args.transform == "vision":
        dataset = vision_mnist(args.limit)
    else:
        dataset = TransformedMNIST(images, labels, RandomCropNormalize())
    peers = {"tinygrad_cnn": lambda w: DataLoader(dataset, batch_size=64, shuffle=True,
                                                  num_workers=w)}
    if args.torch:
        import torch
        peers["torch"] = lambda w: torch.utils.data.DataLoader(
            TransformedMNIST(images, labels, RandomCropNormalize(
                lambda: torch.randint(0, 2 * PAD + 1, (2,)).numpy())),
            batch_size=64, shuffle=True, num_workers=w)
    cores_before = free_cores()
    rows = []
    for peer, make in peers.items():
        for w in args.workers:
            tc.manual_seed(0)
            times = []
            for _ in range(args.runs):
                seconds, n = epoch_seconds(lambda: make(w))
                times.append(seconds)
            rows.append({"peer": peer, "num_workers": w, "images": n,
                         "median_s": statistics.median(times), "min_s": min(times),
                         "max_s": max(times), "runs": args.runs})
    cores_after = free_cores()
    base = {r["peer"]: r["median_s"] for r in rows if r["num_workers"] == args.workers[0]}
    print(f"{'loader':14s} {'workers':>7s} {'median s':>9s} {'min-max s':>14s} "
          f"{'images/s':>9s} {'speedup':>8s}")
    for r in rows:
        r["speedup"] = base[r["peer"]] / r["median_s"]
        print(f"{r['peer']:14s} {r['num_workers']:7d} {r['median_s']:9.2f} "
              f"{r['min_s']:6.2f}-{r['max_s']:<6.2f} {r['images'] / r['median_s']:9.0f} "
              f"{r['speedup']:7.2f}x")
    print(f"free cores (2 x time of 1 CPU-bound process / time of 2): {cores_before:.2f} "
          f"before, {cores_after:.2f} after; load average {os.getloadavg()[0]:.2f}")
    print(json.dumps({"benchmark": "bench_dataloader", "transform": args.transform,
                      "cpus": os.cpu_count(), "free_cores": [round(cores_before, 2),
                                                             round(cores_after, 2)],
                      "load_avg": [round(v, 2) for v in os.getloadavg()], "rows": rows}))


if __name__ == "__main__":
    main()
