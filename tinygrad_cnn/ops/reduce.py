"""Reductions over a tuple of axes (already normalised by the Tensor method). Their backward
spreads the gradient over the reduced axes; none sums, so `Expand` stays the only summing op."""
from __future__ import annotations

import numpy as np

from ..autograd import Function


def _kept(grad: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """Re-insert the reduced axes (size 1) so the gradient broadcasts against the input."""
    return grad if keepdims else np.expand_dims(grad, axes)


def _reduced_count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


class Sum(Function):
    """z = Σ_axes a;  dz/da = 1 (the gradient is copied to every summed element)."""

    @staticmethod
    def forward(ctx, a, axes, keepdims=False):
        ctx.in_shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        return np.sum(a, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad_output, *_):
        axes, keepdims = ctx.axes, ctx.keepdims
        return np.broadcast_to(_kept(grad_output, axes, keepdims), ctx.in_shape), None


class Mean(Function):
    """z = (1/n) Σ_axes a;  dz/da = 1/n."""

    @staticmethod
    def forward(ctx, a, axes, keepdims=False):
        ctx.in_shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        return np.mean(a, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad_output, *_):
        axes, keepdims = ctx.axes, ctx.keepdims
        n = _reduced_count(ctx.in_shape, axes)
        return np.broadcast_to(_kept(grad_output, axes, keepdims) / n, ctx.in_shape), None


class Amax(Function):
    """z = max over axes;  dz/da = 1/k at each of the k tied maxima, 0 elsewhere (PyTorch's amax)."""

    @staticmethod
    def forward(ctx, a, axes, keepdims=False):
        ctx.axes, ctx.keepdims = axes, keepdims
        out = np.max(a, axis=axes, keepdims=True)
        ctx.save_for_backward(a, out)
        return out if keepdims else np.squeeze(out, axis=axes)

    @staticmethod
    def backward(ctx, grad_output, *_):
        a, out = ctx.saved_tensors
        axes, keepdims = ctx.axes, ctx.keepdims
        mask = a == out
        share = mask / mask.sum(axis=axes, keepdims=True)
        return (_kept(grad_output, axes, keepdims) * share).astype(a.dtype, copy=False), None


class Amin(Function):
    """z = min over axes;  dz/da = 1/k at each of the k tied minima, 0 elsewhere."""

    @staticmethod
    def forward(ctx, a, axes, keepdims=False):
        ctx.axes, ctx.keepdims = axes, keepdims
        out = np.min(a, axis=axes, keepdims=True)
        ctx.save_for_backward(a, out)
        return out if keepdims else np.squeeze(out, axis=axes)

    backward = Amax.backward


class MaxDim(Function):
    """(values, indices) = max along one axis;  dz/da = 1 at the first argmax, 0 elsewhere."""

    @staticmethod
    def forward(ctx, a, axis, keepdims=False, largest=True):
        idx = np.argmax(a, axis=axis) if largest else np.argmin(a, axis=axis)
        idx = np.expand_dims(idx, axis)
        values = np.take_along_axis(a, idx, axis=axis)
        ctx.in_shape, ctx.axes, ctx.keepdims, ctx.idx = a.shape, axis, keepdims, idx
        if not keepdims:
            values, idx = np.squeeze(values, axis), np.squeeze(idx, axis)
        idx = idx.astype(np.int64)
        ctx.mark_non_differentiable(idx)
        return values, idx

    @staticmethod
    def backward(ctx, grad_values, grad_indices):
        axis, keepdims = ctx.axes, ctx.keepdims
        g = grad_values if keepdims else np.expand_dims(grad_values, axis)
        # one-hot of the argmax along `axis` (a constant: the argmax is locally constant)
        shape = [1] * len(ctx.in_shape)
        shape[axis] = ctx.in_shape[axis]
        onehot = np.arange(ctx.in_shape[axis]).reshape(shape) == ctx.idx
        return g * onehot, None


class Var(Function):
    """z = Σ (a - mean)² / (n - correction);  dz/da = 2 (a - mean) / (n - correction)."""

    @staticmethod
    def forward(ctx, a, axes, correction=1, keepdims=False):
        ctx.axes, ctx.keepdims = axes, keepdims
        mean = np.mean(a, axis=axes, keepdims=True)
        ctx.save_for_backward(a)
        ctx.denominator = max(_reduced_count(a.shape, axes) - correction, 0)
        squares = np.sum((a - mean) ** 2, axis=axes, keepdims=keepdims)
        with np.errstate(divide="ignore", invalid="ignore"):    # n <= correction: inf/nan, like torch
            return (squares / np.asarray(ctx.denominator, a.dtype)).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_output, *_):
        (a,) = ctx.saved_tensors
        axes, keepdims = ctx.axes, ctx.keepdims
        mean = np.mean(a, axis=axes, keepdims=True)     # recomputed: differentiable on Tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = 2.0 / ctx.denominator if ctx.denominator else np.nan
        return (_kept(grad_output, axes, keepdims) * (a - mean) * scale).astype(a.dtype), None
