"""What the conv algorithms (ops/conv_algorithms.py, conv_depthwise.py, conv_winograd.py)
share: one call's Geometry, its split into image chunks for the threads, grad_weight partial
sums in fixed groups, and the blocked layout changes between NCHW and (H, W, N·C)."""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from .parallel import get_num_threads, partition, run_parallel

__all__ = ["Geometry", "chunks", "summed_in_groups", "add_bias", "to_channels_last", "to_channels_first"]

# Work (multiply-adds) below which a kernel runs in the calling thread.
MIN_PARALLEL_MACS = 8_000_000
# Images per chunk: about this many bytes of output per chunk (cache-sized pieces).
CHUNK_OUTPUT_BYTES = 256 << 10
# grad_weight partial sums: this many fixed groups of chunks, added in order.
WEIGHT_GRAD_GROUPS = 8
# Layout changes (NCHW <-> (H, W, N·C)) copy blocks of about this many values (and at least
# TRANSPOSE_MIN_ROWS planes): a plain a.T copy of a (N·C, H·W) matrix runs 5-10× slower once
# it leaves the cache (measured: 7.6 ms vs 0.7 ms in blocks for (4608, 256) float32).
TRANSPOSE_BLOCK_ELEMENTS = 16384
TRANSPOSE_MIN_ROWS = 64


class Geometry(NamedTuple):
    """One conv call's shapes and arguments (2-D: padding as ((lo, hi), (lo, hi)))."""
    x_shape: tuple
    w_shape: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int
    out: tuple

    @property
    def macs(self) -> int:
        n, c = self.x_shape[:2]
        return n * self.w_shape[0] * (c // self.groups) * math.prod(self.w_shape[2:]) * math.prod(self.out)


def chunks(g: Geometry, itemsize: int, chunk_bytes: int | None = None,
           per_image: int | None = None) -> tuple[list[tuple[int, int]], int]:
    """(n0, n1) image ranges of about `chunk_bytes` (default CHUNK_OUTPUT_BYTES) of
    `per_image` bytes each (default: one image's output), and the thread count."""
    n = g.x_shape[0]
    if per_image is None:
        per_image = g.w_shape[0] * math.prod(g.out) * itemsize
    threads = get_num_threads() if g.macs >= MIN_PARALLEL_MACS else 1
    budget = CHUNK_OUTPUT_BYTES if chunk_bytes is None else chunk_bytes
    step = max(1, min(budget // max(1, per_image), -(-n // threads)))
    return [(n0, min(n, n0 + step)) for n0 in range(0, n, step)], threads


def summed_in_groups(fn: Callable[[int, int], np.ndarray], parts: list, threads: int) -> np.ndarray:
    """Σ over parts of fn(n0, n1), summed per fixed group of parts then over the groups in
    order: the same rounding whatever the thread count."""
    groups = partition(len(parts), WEIGHT_GRAD_GROUPS)

    def group(i: int) -> np.ndarray:
        total = None
        for j in groups[i]:
            part = fn(*parts[j])
            total = part if total is None else total + part
        return total

    partials = run_parallel(group, len(groups), threads)
    total = partials[0]
    for p in partials[1:]:
        total = total + p
    return total


def add_bias(y: np.ndarray, bias: np.ndarray | None) -> None:
    if bias is not None:
        y += bias.reshape((1, -1) + (1,) * (y.ndim - 2))


def _blocks(m: int, a: int, b: int) -> tuple[int, int]:
    """Block sizes (along M, along A) of about TRANSPOSE_BLOCK_ELEMENTS values."""
    mb = max(TRANSPOSE_MIN_ROWS, TRANSPOSE_BLOCK_ELEMENTS // max(1, a * b))
    ab = max(1, TRANSPOSE_BLOCK_ELEMENTS // max(1, mb * b))
    return mb, ab


def to_channels_last(dst: np.ndarray, src: np.ndarray) -> None:
    """dst (A, B, M) = src (M, A, B) moved: NCHW (as (N·C, H, W)) to the (H, W, N·C) layout,
    in cache-sized blocks."""
    m, a, b = src.shape
    mb, ab = _blocks(m, a, b)
    for m0 in range(0, m, mb):
        for a0 in range(0, a, ab):
            dst[a0:a0 + ab, :, m0:m0 + mb] = src[m0:m0 + mb, a0:a0 + ab].transpose(1, 2, 0)   # (m, a, B) -> (a, B, m)


def to_channels_first(dst: np.ndarray, src: np.ndarray) -> None:
    """dst (M, A, B) = src (A, B, M) moved: the (H, W, N·C) layout back to NCHW, in blocks."""
    a, b, m = src.shape
    mb, ab = _blocks(m, a, b)
    for m0 in range(0, m, mb):
        for a0 in range(0, a, ab):
            dst[m0:m0 + mb, a0:a0 + ab] = src[a0:a0 + ab, :, m0:m0 + mb].transpose(2, 0, 1)   # (a, B, m) -> (m, a, B)
