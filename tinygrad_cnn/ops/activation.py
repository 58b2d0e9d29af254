"""Activations over a dim (softmax, log-softmax) and dropout. ReLU, LeakyReLU, sigmoid and tanh
are elementwise ops (ops/elementwise.py)."""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..rng import generator


def _log_sum_exp_parts(x: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(x - max, log Σ exp(x - max)) along dim: the max shift keeps exp from overflowing, so
    logits of ±1000 are fine. A row of all -inf gives NaN, as in PyTorch."""
    m = np.max(x, axis=dim, keepdims=True, initial=-np.inf)    # initial: a zero-size dim is fine
    with np.errstate(invalid="ignore", divide="ignore"):
        shifted = x - np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
        lse = np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))
    return shifted, lse


class Softmax(Function):
    """y_i = exp(x_i - max) / Σ_j exp(x_j - max) along dim;
    dL/dx = y ⊙ (g - Σ_j g_j y_j)  (the Jacobian diag(y) - y yᵀ applied to g)."""

    @staticmethod
    def forward(ctx, x, *, dim):
        with np.errstate(invalid="ignore"):              # all -inf (or +inf) rows give NaN, as in PyTorch
            e = np.exp(x - np.max(x, axis=dim, keepdims=True, initial=-np.inf))
            y = e / np.sum(e, axis=dim, keepdims=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        dim = ctx.kwargs["dim"]
        return y * (grad_output - np.sum(grad_output * y, axis=dim, keepdims=True))


class LogSoftmax(Function):
    """z_i = x_i - max - log Σ_j exp(x_j - max) along dim;
    dL/dx = g - softmax(x) ⊙ Σ_j g_j."""

    @staticmethod
    def forward(ctx, x, *, dim):
        shifted, lse = _log_sum_exp_parts(x, dim)
        with np.errstate(invalid="ignore"):
            z = shifted - lse
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, grad_output):
        (z,) = ctx.saved_tensors
        dim = ctx.kwargs["dim"]
        return grad_output - np.exp(z) * np.sum(grad_output, axis=dim, keepdims=True)


class Dropout(Function):
    """y = x ⊙ m / (1 - p), m_i ~ Bernoulli(1 - p) from the framework's seeded generator
    (seed 001: each hidden unit is zeroed with probability p during training);
    dL/dx = g ⊙ m / (1 - p). mask_shape (broadcast to x) drops whole channels: (N, C, 1, 1)
    for dropout2d."""

    @staticmethod
    def forward(ctx, x, *, p, mask_shape=None):
        shape = x.shape if mask_shape is None else mask_shape
        if p >= 1.0:
            scale = np.zeros(shape, x.dtype)
        else:
            keep = generator().random(shape, dtype=np.float32) >= p
            scale = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
        ctx.scale = scale
        return x * scale

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.scale
