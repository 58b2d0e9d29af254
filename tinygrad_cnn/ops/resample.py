"""Separable linear maps of the spatial dims, y = A_H · x · A_Wᵀ per (image, channel), and the
ops built on them: interpolation (nearest, bilinear) here, adaptive average pooling in
ops/pool.py. Each axis is resampled by a small (out × in) matrix, so the op is two GEMMs and
its backward the two transposed ones, with no loop over output pixels."""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from .generic import contiguous

__all__ = ["Separable2d", "Interpolate2d", "interpolation_matrix"]


class Separable2d(Function):
    """y = A_H · x · A_Wᵀ for x (N, C, H, W), A_H (OH, H), A_W (OW, W);
    grad_x = A_Hᵀ · grad_output · A_W. Subclasses build the matrices in `matrices`."""

    @staticmethod
    def matrices(x: np.ndarray, **kwargs) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError("a Separable2d subclass must define matrices(x, **kwargs) -> (A_H, A_W)")

    @classmethod
    def forward(cls, ctx, x, **kwargs):
        a_h, a_w = cls.matrices(x, **kwargs)
        ctx.mats = (a_h, a_w)
        return np.ascontiguousarray(np.matmul(np.matmul(a_h, x), a_w.T))   # (N, C, OH, OW)

    @staticmethod
    def backward(ctx, grad_output):
        a_h, a_w = ctx.mats
        return contiguous(np.matmul(np.matmul(a_h.T, grad_output), a_w))   # (N, C, H, W)


def interpolation_matrix(size: int, out: int, mode: str, align_corners: bool,
                         scale: float | None, dtype) -> np.ndarray:
    """(out, size) matrix of PyTorch's 1-D resampling. `scale` is input/output (1/scale_factor
    when a scale_factor was given, else size/out).

    nearest:  y[i] = x[min(floor(i·scale), size-1)]
    bilinear: y[i] = (1-λ)·x[i0] + λ·x[i0+1], src = (i + ½)·scale - ½ clamped at 0
              (align_corners=False) or src = i·(size-1)/(out-1) (True); i0 = floor(src), λ = src - i0.
    """
    a = np.zeros((out, size), np.float64)
    rows = np.arange(out)
    if scale is None:
        scale = size / out
    if mode == "nearest":
        a[rows, np.minimum(np.floor(rows * scale).astype(np.int64), size - 1)] = 1.0
        return a.astype(dtype)
    if align_corners:
        src = rows * ((size - 1) / (out - 1) if out > 1 else 0.0)
    else:
        src = np.maximum((rows + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
    i1 = np.minimum(i0 + 1, size - 1)
    lam = src - i0
    np.add.at(a, (rows, i0), 1.0 - lam)
    np.add.at(a, (rows, i1), lam)
    return a.astype(dtype)


class Interpolate2d(Separable2d):
    """Nearest or bilinear resampling of (N, C, H, W) to (OH, OW), as F.interpolate: separable,
    so y = A_H · x · A_Wᵀ with the interpolation matrices of each axis (interpolation_matrix);
    grad_x = A_Hᵀ · grad_output · A_W (each input pixel collects the weights it was read with)."""

    @staticmethod
    def matrices(x, *, out, mode, align_corners, scales):
        return tuple(interpolation_matrix(x.shape[2 + i], out[i], mode, align_corners, scales[i], x.dtype)
                     for i in range(2))
