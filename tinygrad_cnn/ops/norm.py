"""Normalisation: batch norm over the channel dim (axis 1) of (N, C), (N, C, L), (N, C, H, W), ...,
and the standardisation over given axes that layer norm and group norm are built on."""
from __future__ import annotations

import numpy as np

from ..autograd import Function


class BatchNorm(Function):
    """y = γ x̂ + β with x̂ = (x - μ) / sqrt(σ² + eps), per channel c over the M = N*H*W values.

    training: μ, σ² are the batch mean and biased variance; running stats are updated in place,
      running = (1 - momentum) * running + momentum * batch (the variance unbiased, M/(M-1)).
      dL/dx = (γ / sqrt(σ² + eps)) (g - mean(g) - x̂ mean(g x̂))   (means over the M values)
    eval: μ, σ² are the running stats, a fixed affine map;  dL/dx = g γ / sqrt(σ² + eps).
    Both: dL/dγ = Σ g x̂,  dL/dβ = Σ g.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, *, training, momentum, eps):
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        if training:
            m = x.size // x.shape[1]
            mean = x.mean(axis=axes)
            xc = x - mean.reshape(shape)
            var = np.mean(xc * xc, axis=axes)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += (momentum * mean).astype(running_mean.dtype, copy=False)
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * var * (m / (m - 1))).astype(running_var.dtype, copy=False)
        else:
            mean, var = running_mean.astype(x.dtype, copy=False), running_var.astype(x.dtype, copy=False)
            xc = x - mean.reshape(shape)
        inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
        xhat = xc * inv_std.reshape(shape)
        y = xhat * weight.reshape(shape) if weight is not None else xhat.copy()
        if bias is not None:
            y += bias.reshape(shape)
        ctx.training = training
        ctx.save_for_backward(x, weight)
        ctx.stats = xhat, inv_std
        if not training:              # the running stats change in place after this step
            ctx.eval_stats = mean.copy(), var.copy()
        return y

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = (ctx.needs_input_grad + (False,) * 3)[:3]
        g = grad_output
        axes = (0,) + tuple(range(2, g.ndim))
        shape = (1, g.shape[1]) + (1,) * (g.ndim - 2)

        def statistics():             # x̂ and 1/σ from x itself, differentiably (create_graph)
            if ctx.training:
                mean = np.mean(x, axis=axes, keepdims=True)
                var = np.mean((x - mean) * (x - mean), axis=axes, keepdims=True)
            else:
                mean, var = (v.reshape(shape) for v in ctx.eval_stats)
            inv = 1.0 / np.sqrt(var + ctx.kwargs["eps"])
            return (x - mean) * inv, inv.reshape(-1)
        xhat, inv_std = ctx.cached("stats", statistics)
        grad_w = np.sum(g * xhat, axis=axes) if need_w else None
        grad_b = np.sum(g, axis=axes) if need_b else None
        grad_x = None
        if need_x:
            dxhat = g * weight.reshape(shape) if weight is not None else g
            if ctx.training:
                dxhat = _through_statistics(dxhat, xhat, axes)
            grad_x = dxhat * inv_std.reshape(shape)
        return grad_x, grad_w, grad_b, None, None


def _through_statistics(dxhat: np.ndarray, xhat: np.ndarray, axes: tuple) -> np.ndarray:
    """σ·dL/dx for x̂ = (x - μ)/σ with μ and σ² the mean and biased variance over `axes`:
    dL/dx̂ - mean(dL/dx̂) - x̂·mean(dL/dx̂ ⊙ x̂) (the batch statistics' own dependence on x)."""
    return (dxhat - np.mean(dxhat, axis=axes, keepdims=True)
            - xhat * np.mean(dxhat * xhat, axis=axes, keepdims=True))


class Standardize(Function):
    """x̂ = (x - μ) / sqrt(σ² + eps), μ and σ² the mean and biased variance over `axes`
    (layer norm: the last dims; group norm: each group's channels and positions).
    dL/dx = (g - mean(g) - x̂ mean(g x̂)) / sqrt(σ² + eps), means over the same axes."""

    @staticmethod
    def forward(ctx, x, *, axes, eps):
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        inv_std = (1.0 / np.sqrt(np.mean(xc * xc, axis=axes, keepdims=True) + eps)).astype(x.dtype, copy=False)
        xhat = xc * inv_std
        ctx.save_for_backward(x, xhat)
        ctx.inv_std = inv_std
        return xhat

    @staticmethod
    def backward(ctx, grad_output):
        x, xhat = ctx.saved_tensors
        axes = ctx.kwargs["axes"]

        def inv_std():                # 1/σ from x itself, differentiably (create_graph)
            xc = x - np.mean(x, axis=axes, keepdims=True)
            return 1.0 / np.sqrt(np.mean(xc * xc, axis=axes, keepdims=True) + ctx.kwargs["eps"])
        return _through_statistics(grad_output, xhat, axes) * ctx.cached("inv_std", inv_std)
