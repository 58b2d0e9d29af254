"""What the conv algorithms (ops/conv_algorithms.py, conv_depthwise.py, conv_winograd.py)
share: one call's Geometry, its split into image chunks for the threads, grad_weight partial
sums in fixed groups, and the layout changes between NCHW and (H, W, N·C) (also im2col's
batch-last layout): OpenBLAS's out-of-place transpose, cache-sized blocked copies without it."""
from __future__ import annotations

import ctypes
import math
from typing import Callable, NamedTuple

import numpy as np

from .parallel import _blas_function, get_num_threads, partition, run_parallel

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


def _find_omatcopy() -> dict:
    """OpenBLAS's out-of-place transpose, cblas_?omatcopy, per dtype (NumPy's wheels export
    it with the scipy_ prefix and 64-bit integers). A (M, L) -> (L, M) move that leaves the
    cache runs 5-9x faster through it than through NumPy's strided copies, blocked or not
    (measured: (2048, 1024) float32 0.56 ms vs 3.7 ms blocked, 13.6 ms as one NumPy copy)."""
    found = {}
    for dtype, letter, scalar in ((np.float32, "s", ctypes.c_float), (np.float64, "d", ctypes.c_double)):
        fn = _blas_function(f"scipy_cblas_{letter}omatcopy64_", f"cblas_{letter}omatcopy64_")
        if fn is not None:
            i64, ptr = ctypes.c_int64, ctypes.c_void_p
            fn.argtypes = [ctypes.c_int, ctypes.c_int, i64, i64, scalar, ptr, i64, ptr, i64]
            fn.restype = None
            found[np.dtype(dtype)] = fn
    return found


_OMATCOPY = _find_omatcopy()
_ROW_MAJOR, _TRANS = 101, 112


def _rows(a: np.ndarray) -> int | None:
    """The row stride in elements of a 2-D array whose rows are contiguous (else None)."""
    if a.ndim != 2 or a.strides[1] != a.itemsize or a.strides[0] % a.itemsize or a.strides[0] < a.shape[1] * a.itemsize:
        return None
    return a.strides[0] // a.itemsize


def _transpose_2d(dst: np.ndarray, src: np.ndarray) -> bool:
    """dst (L, M) = src (M, L)ᵀ through OpenBLAS's omatcopy; False when it cannot (dtype,
    strides, no OpenBLAS): the caller copies another way. ctypes releases the GIL meanwhile."""
    fn = _OMATCOPY.get(src.dtype)
    if fn is None or dst.dtype != src.dtype or src.size == 0:
        return fn is not None and src.size == 0
    lda, ldb = _rows(src), _rows(dst)
    if lda is None or ldb is None or not dst.flags.writeable or np.may_share_memory(src, dst):
        return False                               # C writes no read-only or aliased memory
    fn(_ROW_MAJOR, _TRANS, src.shape[0], src.shape[1], 1.0, src.ctypes.data, lda, dst.ctypes.data, ldb)
    return True


def _flat(a: np.ndarray, split: int) -> np.ndarray | None:
    """a as the 2-D view (prod(shape[:split]), prod(shape[split:])), or None if that needs a copy."""
    shape = (math.prod(a.shape[:split]), math.prod(a.shape[split:]))
    try:
        view = a.view()
        view.shape = shape                          # raises instead of copying
        return view
    except AttributeError:
        return None


def _blocks(m: int, a: int, b: int) -> tuple[int, int]:
    """Block sizes (along M, along A) of about TRANSPOSE_BLOCK_ELEMENTS values."""
    mb = max(TRANSPOSE_MIN_ROWS, TRANSPOSE_BLOCK_ELEMENTS // max(1, a * b))
    ab = max(1, TRANSPOSE_BLOCK_ELEMENTS // max(1, mb * b))
    return mb, ab


def to_channels_last(dst: np.ndarray, src: np.ndarray) -> None:
    """dst (*A, M) = src (M, *A) moved (axis 0 to the end): NCHW as (N·C, H, W) to the
    (H, W, N·C) layout, or (N, C, H, W) to the batch-last (C, H, W, N). By OpenBLAS's transpose
    (into a buffer first when dst is a padded buffer's interior), else in cache-sized blocks."""
    m = src.shape[0]
    flat_src = _flat(src, 1)
    if flat_src is not None and src.dtype in _OMATCOPY and src.dtype == dst.dtype:
        flat_dst = _flat(dst, dst.ndim - 1)
        if flat_dst is not None and _transpose_2d(flat_dst, flat_src):
            return
        tmp = np.empty((flat_src.shape[1], m), src.dtype)   # a padded dst: one transpose, then row copies
        if _transpose_2d(tmp, flat_src):
            np.copyto(dst, tmp.reshape(dst.shape))
            return
    if src.ndim != 3:
        np.copyto(dst, np.moveaxis(src, 0, -1))
        return
    m, a, b = src.shape
    mb, ab = _blocks(m, a, b)
    for m0 in range(0, m, mb):
        for a0 in range(0, a, ab):
            dst[a0:a0 + ab, :, m0:m0 + mb] = src[m0:m0 + mb, a0:a0 + ab].transpose(1, 2, 0)   # (m, a, B) -> (a, B, m)


def to_channels_first(dst: np.ndarray, src: np.ndarray) -> None:
    """dst (M, *A) = src (*A, M) moved (the last axis to the front): the inverse of
    to_channels_last, by OpenBLAS's transpose (a cropped src copied to a buffer first), else in
    blocks."""
    m = src.shape[-1]
    flat_dst = _flat(dst, 1)
    if flat_dst is not None and src.dtype in _OMATCOPY and src.dtype == dst.dtype:
        flat_src = _flat(src, src.ndim - 1)
        if flat_src is None:                       # a cropped src: row copies first, then one transpose
            flat_src = np.ascontiguousarray(src).reshape(-1, m)
        if _transpose_2d(flat_dst, flat_src):
            return
    if src.ndim != 3:
        np.copyto(dst, np.moveaxis(src, -1, 0))
        return
    a, b, m = src.shape
    mb, ab = _blocks(m, a, b)
    for m0 in range(0, m, mb):
        for a0 in range(0, a, ab):
            dst[m0:m0 + mb, a0:a0 + ab] = src[a0:a0 + ab, :, m0:m0 + mb].transpose(2, 0, 1)   # (a, B, m) -> (m, a, B)
