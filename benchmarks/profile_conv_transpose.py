"""Where conv_transpose2d's forward time goes, piece by piece, for the bench_ops case
(64×32×14×14 -> 64×16×28×28, k4 s2 p1), one thread of ours, median of 20 calls:

    .venv/bin/python benchmarks/profile_conv_transpose.py
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tinygrad_cnn.ops import conv as CV  # noqa: E402


def median_ms(fn, repeat: int = 20) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def main() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 32, 14, 14)).astype(np.float32)
    w = rng.standard_normal((32, 16, 4, 4)).astype(np.float32)
    wt = w.reshape(1, 32, 256).swapaxes(1, 2)                         # (G, C_out·KK, C_in)
    xs = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).reshape(1, 32, -1)
    cols = np.matmul(wt, xs)
    y = np.zeros((64, 16, 28, 28), np.float32)
    pieces = {
        "transpose x to (C_in, N·H·W)": lambda: np.ascontiguousarray(x.transpose(1, 0, 2, 3)),
        "GEMM W2ᵀ·X2": lambda: np.matmul(wt, xs),
        "col2im (16 strided adds)": lambda: CV._col2im_into(
            y, cols.reshape(16, 4, 4, 64, 14, 14), (4, 4), (2, 2), ((1, 1), (1, 1)), (1, 1), "cn"),
        "np.zeros for y": lambda: np.zeros((64, 16, 28, 28), np.float32),
    }
    for name, fn in pieces.items():
        print(f"{name:32s} {median_ms(fn):7.2f} ms")


if __name__ == "__main__":
    main()
