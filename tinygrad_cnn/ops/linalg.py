"""Matrix products: batched matmul and the fully connected layer."""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function


class MatMul(Function):
    """Z = A @ B over matching (already broadcast) batch dims;  dL/dA = G Bᵀ, dL/dB = Aᵀ G."""

    @staticmethod
    def forward(ctx, a, b):
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)   # only what backward reads
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        grad_a = np.matmul(grad_output, np.swapaxes(b, -1, -2)) if need_a else None
        grad_b = np.matmul(np.swapaxes(a, -1, -2), grad_output) if need_b else None
        return grad_a, grad_b


class Linear(Function):
    """y = x Wᵀ + b for x of shape (*, in_features), W of shape (out_features, in_features).

    With G = dL/dy flattened to (M, out) and X to (M, in):
    dL/dx = G W,  dL/dW = Gᵀ X,  dL/db = Σ_rows G   (seed 004's Linear.backward, without the
    learning-rate step, and with W stored as PyTorch stores it).
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        x2 = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])   # (*, in) -> (M, in); no -1: in may be 0
        out = x2 @ weight.T                          # (M, in) @ (in, out) -> (M, out)
        if bias is not None:
            out += bias
        need = ctx.needs_input_grad + (False,) * 3
        ctx.save_for_backward(x if need[1] else None, weight if need[0] else None)
        ctx.x_shape = x.shape
        return out.reshape(x.shape[:-1] + (weight.shape[0],))   # (M, out) -> (*, out)

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = (ctx.needs_input_grad + (False,))[:3]
        # out_features from grad_output: `weight` is None when x needs no gradient (not saved)
        g = grad_output.reshape(math.prod(grad_output.shape[:-1]), grad_output.shape[-1])   # (*, out) -> (M, out)
        grad_x = (g @ weight).reshape(ctx.x_shape) if need_x else None
        grad_w = g.T @ x.reshape(g.shape[0], x.shape[-1]) if need_w else None   # (out, M) @ (M, in); no -1: in may be 0
        grad_b = g.sum(axis=0) if need_b else None
        return grad_x, grad_w, grad_b
