"""Trigonometric ops (sin, cos), elementwise on floats."""
from __future__ import annotations

import numpy as np

from ..autograd import Function


class Sin(Function):
    """z = sin a;  dz/da = cos a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return grad_output * np.cos(a)


class Cos(Function):
    """z = cos a;  dz/da = -sin a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cos(a)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return -(grad_output * np.sin(a))
