"""Ops that move values by integer indices given as data: embedding lookup (a gather of rows)
and max-unpooling (a scatter into planes). Each one's backward is the other kind of move."""
from __future__ import annotations

import numpy as np

from ..autograd import Function


class Embedding(Function):
    """z[..., :] = W[i, :] for each index i of `indices` (any shape; z has shape
    indices.shape + (D,)).

    dL/dW[r] = Σ over the positions holding r of g (np.add.at: a repeated index adds each
    gradient), then row padding_idx gets 0 (its entry is a constant, e.g. a padding token), and
    with scale_grad_by_freq each row's sum is divided by how often r occurs in `indices`."""

    @staticmethod
    def forward(ctx, weight, indices, *, padding_idx=None, scale_grad_by_freq=False):
        ctx.indices, ctx.rows = indices, weight.shape[0]
        return weight[indices]                                  # (*indices.shape, D)

    @staticmethod
    def backward(ctx, grad_output):
        kw = ctx.kwargs
        flat = ctx.indices.reshape(-1)
        g = grad_output.reshape(flat.size, -1)                 # (*indices.shape, D) -> (L, D)
        if kw.get("scale_grad_by_freq"):
            counts = np.bincount(flat, minlength=ctx.rows)
            g = g / counts[flat].reshape(-1, 1)
        grad = np.zeros_like(g, shape=(ctx.rows, g.shape[1]))   # an array, or a Tensor (create_graph)
        np.add.at(grad, flat, g)
        if kw.get("padding_idx") is not None:
            grad[kw["padding_idx"]] = 0
        return grad, None


class MaxUnpool2d(Function):
    """The partial inverse of max_pool2d: z = zeros (N, C, OH, OW) with z[n, c].flat[i[n, c, k]]
    = x[n, c].flat[k] (i the indices max_pool2d returned, flat in each plane).

    dL/dx[n, c].flat[k] = g[n, c].flat[i[n, c, k]]: a gather of the gradient at the indices."""

    @staticmethod
    def forward(ctx, x, indices, *, out):
        n, c = x.shape[:2]
        flat_idx = indices.reshape(n, c, -1)                  # (N, C, H, W) -> (N, C, H*W)
        z = np.zeros((n, c, out[0] * out[1]), x.dtype)
        np.put_along_axis(z, flat_idx, x.reshape(n, c, -1), axis=2)
        ctx.flat_idx, ctx.in_shape = flat_idx, x.shape
        return z.reshape(n, c, *out)                          # (N, C, OH*OW) -> (N, C, OH, OW)

    @staticmethod
    def backward(ctx, grad_output):
        n, c = grad_output.shape[:2]
        g = grad_output.reshape(n * c, -1)                   # (N, C, OH, OW) -> (N*C, OH*OW)
        rows = np.arange(n * c).reshape(-1, 1)
        # the gather as advanced indexing (not take_along_axis): it also runs on Tensors
        return g[rows, ctx.flat_idx.reshape(n * c, -1)].reshape(ctx.in_shape), None
