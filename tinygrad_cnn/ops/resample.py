"""Separable linear maps of the spatial dims, y = A_H · x · A_Wᵀ per (image, channel), and the
ops built on them: interpolation (nearest, bilinear) here, adaptive average pooling in
ops/pool.py. Each axis is resampled by a small (out × in) matrix, so the op is two GEMMs and
its backward the two transposed ones, with no loop over output pixels.

A GEMM multiplies every weight, zeros included, with every input pixel, and 0 · inf = NaN: one
inf pixel would turn whole output rows into NaN. So each axis is described by its *taps* (the
few input positions each output reads, with their weights), the matrices are built from them,
and an input (or, in backward, a gradient) that is not all finite goes through the taps
instead: weighted sums over the contributing pixels only, as PyTorch computes them. Checking
finiteness is one pass over the data; finite data keeps the GEMM path."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..autograd import Function
from .generic import contiguous, is_graph

__all__ = ["Separable2d", "Interpolate2d", "Taps", "interpolation_taps", "interpolation_matrix"]


class Taps(NamedTuple):
    """One axis of a separable map: output i reads input index[i, k] with weight weight[i, k]
    for every k with valid[i, k] (rows have different tap counts; padding entries are invalid)."""
    index: np.ndarray      # (out, K) int64
    weight: np.ndarray     # (out, K) float64
    valid: np.ndarray      # (out, K) bool

    def matrix(self, size: int, dtype) -> np.ndarray:
        """The dense (out, size) matrix A with A[i, j] = Σ of the weights of row i's taps at j."""
        out = self.index.shape[0]
        a = np.zeros((out, size), np.float64)
        rows = np.broadcast_to(np.arange(out)[:, None], self.index.shape)
        np.add.at(a, (rows[self.valid], self.index[self.valid]), self.weight[self.valid])
        return a.astype(dtype)

    def gather(self, x: np.ndarray, axis: int) -> np.ndarray:
        """y[..., i, ...] = Σ_k weight[i, k] · x[..., index[i, k], ...] over the valid taps only."""
        xt = np.moveaxis(x, axis, -1)
        y = np.zeros(xt.shape[:-1] + (self.index.shape[0],), x.dtype)
        with np.errstate(invalid="ignore", over="ignore"):        # inf - inf, 0 * inf: NaN, as PyTorch
            for k in range(self.index.shape[1]):
                term = xt[..., self.index[:, k]] * self.weight[:, k].astype(x.dtype)
                y += term if self.valid[:, k].all() else np.where(self.valid[:, k], term, 0)
        return np.moveaxis(y, -1, axis)

    def scatter(self, g: np.ndarray, size: int, axis: int) -> np.ndarray:
        """The adjoint of gather: dx[..., index[i, k], ...] += weight[i, k] · g[..., i, ...]."""
        gt = np.moveaxis(g, axis, -1)
        dx = np.zeros(gt.shape[:-1] + (size,), g.dtype)
        with np.errstate(invalid="ignore", over="ignore"):
            for k in range(self.index.shape[1]):
                rows = self.valid[:, k]
                np.add.at(dx, (Ellipsis, self.index[rows, k]), gt[..., rows] * self.weight[rows, k].astype(g.dtype))
        return np.moveaxis(dx, -1, axis)


class Separable2d(Function):
    """y = A_H · x · A_Wᵀ for x (N, C, H, W), A_H (OH, H), A_W (OW, W);
    grad_x = A_Hᵀ · grad_output · A_W. Subclasses give each axis's taps in `taps`; data with
    inf/NaN is mapped through the taps (W first, then H, as PyTorch's kernels), so a non-finite
    pixel only reaches the outputs that read it."""

    @staticmethod
    def taps(x: np.ndarray, **kwargs) -> tuple[Taps, Taps]:
        raise NotImplementedError("a Separable2d subclass must define taps(x, **kwargs) -> (Taps_H, Taps_W)")

    @classmethod
    def forward(cls, ctx, x, **kwargs):
        t_h, t_w = cls.taps(x, **kwargs)
        ctx.taps = (t_h, t_w)
        ctx.in_size = x.shape[2:]
        if not np.isfinite(x).all():
            return np.ascontiguousarray(t_h.gather(t_w.gather(x, 3), 2))      # (N, C, OH, OW)
        a_h, a_w = t_h.matrix(x.shape[2], x.dtype), t_w.matrix(x.shape[3], x.dtype)
        ctx.mats = (a_h, a_w)
        return np.ascontiguousarray(np.matmul(np.matmul(a_h, x), a_w.T))   # (N, C, OH, OW)

    @staticmethod
    def backward(ctx, grad_output):
        (t_h, t_w), (h, w) = ctx.taps, ctx.in_size
        graph = is_graph(grad_output)     # create_graph: the GEMM form runs on Tensors too
        if not graph and not np.isfinite(grad_output).all():
            return np.ascontiguousarray(t_h.scatter(t_w.scatter(grad_output, w, 3), h, 2))   # (N, C, H, W)
        a_h, a_w = getattr(ctx, "mats", None) or (t_h.matrix(h, grad_output.dtype), t_w.matrix(w, grad_output.dtype))
        return contiguous(np.matmul(np.matmul(a_h.T, grad_output), a_w))   # (N, C, H, W)


def interpolation_taps(size: int, out: int, mode: str, align_corners: bool,
                       scale: float | None) -> Taps:
    """PyTorch's 1-D resampling taps. `scale` is input/output (1/scale_factor when a
    scale_factor was given, else size/out).

    nearest:  y[i] = x[min(floor(i·scale), size-1)]
    bilinear: y[i] = (1-λ)·x[i0] + λ·x[i0+1], src = (i + ½)·scale - ½ clamped at 0
              (align_corners=False) or src = i·(size-1)/(out-1) (True); i0 = floor(src), λ = src - i0.
              Both taps are kept even when λ = 0 (PyTorch multiplies them too: 0·inf is NaN there).
    """
    rows = np.arange(out)
    if scale is None:
        scale = size / out
    if mode == "nearest":
        idx = np.minimum(np.floor(rows * scale).astype(np.int64), size - 1)[:, None]
        return Taps(idx, np.ones(idx.shape), np.ones(idx.shape, bool))
    if align_corners:
        src = rows * ((size - 1) / (out - 1) if out > 1 else 0.0)
    else:
        src = np.maximum((rows + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
    i1 = np.minimum(i0 + 1, size - 1)
    lam = src - i0
    return Taps(np.stack([i0, i1], 1), np.stack([1.0 - lam, lam], 1), np.ones((out, 2), bool))


def interpolation_matrix(size: int, out: int, mode: str, align_corners: bool,
                         scale: float | None, dtype) -> np.ndarray:
    """The (out, size) matrix of interpolation_taps (the GEMM form of PyTorch's 1-D resampling)."""
    return interpolation_taps(size, out, mode, align_corners, scale).matrix(size, dtype)


class Interpolate2d(Separable2d):
    """Nearest or bilinear resampling of (N, C, H, W) to (OH, OW), as F.interpolate: separable,
    so y = A_H · x · A_Wᵀ with the interpolation matrices of each axis (interpolation_matrix);
    grad_x = A_Hᵀ · grad_output · A_W (each input pixel collects the weights it was read with)."""

    @staticmethod
    def taps(x, *, out, mode, align_corners, scales):
        return tuple(interpolation_taps(x.shape[2 + i], out[i], mode, align_corners, scales[i])
                     for i in range(2))
