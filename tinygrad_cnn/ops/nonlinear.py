"""Pointwise nonlinearities of newer CNNs beyond ReLU, LeakyReLU, sigmoid and tanh
(ops/elementwise.py): SiLU, GELU, ELU, Softplus, Hardtanh (ReLU6), Hardsigmoid, Hardswish.
Each is one Function with PyTorch's values and PyTorch's gradient at the kinks."""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from .elementwise import keep, select, stable_sigmoid
from .generic import is_graph

__all__ = ["SiLU", "GELU", "ELU", "Softplus", "Hardtanh", "Hardsigmoid", "Hardswish", "erf"]

# Chebyshev coefficients of erfc(z) for z >= 0 (Numerical Recipes, 3rd ed., §6.2.2): absolute
# error below 6e-16 over the real line, checked against math.erf in tests/test_nonlinear.py.
_ERFC_COEFFICIENTS = (
    -1.3026537197817094, 6.4196979235649026e-1, 1.9476473204185836e-2, -9.561514786808631e-3,
    -9.46595344482036e-4, 3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5,
    -1.624290004647e-6, 1.303655835580e-6, 1.5626441722e-8, -8.5238095915e-8, 6.529054439e-9,
    5.059343495e-9, -9.91364156e-10, -2.27365122e-10, 9.6467911e-11, 2.394038e-12,
    -6.886027e-12, 8.94487e-13, 3.13092e-13, -1.12708e-13, 3.81e-16, 7.106e-15, -1.523e-15,
    -9.4e-17, 1.21e-16, -2.8e-17)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise, in float64 (NumPy has none)."""
    x = x.astype(np.float64)               # an array, or a Tensor under create_graph
    z = np.abs(x)
    t = 2.0 / (2.0 + z)
    ty = 4.0 * t - 2.0
    d = dd = np.zeros_like(z)
    for c in _ERFC_COEFFICIENTS[:0:-1]:              # Clenshaw's recurrence
        d, dd = ty * d - dd + c, d
    erfc = t * np.exp(-z * z + 0.5 * (_ERFC_COEFFICIENTS[0] + ty * d) - dd)
    return np.where(x >= 0, 1.0 - erfc, erfc - 1.0)


class SiLU(Function):
    """z = a·σ(a) (swish);  dz/da = σ(a)·(1 + a·(1 - σ(a)))."""

    @staticmethod
    def forward(ctx, a):
        s = stable_sigmoid(a)
        ctx.save_for_backward(a)
        ctx.s = s
        return a * s

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        s = ctx.cached("s", lambda: stable_sigmoid(a))
        return grad_output * s * (1 + a * (1 - s))


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


class GELU(Function):
    """approximate='none': z = a·Φ(a), Φ(a) = ½(1 + erf(a/√2));  dz/da = Φ(a) + a·φ(a),
    φ(a) = e^(-a²/2)/√(2π).
    approximate='tanh': z = ½a(1 + tanh u), u = √(2/π)(a + 0.044715a³);
    dz/da = ½(1 + tanh u) + ½a(1 - tanh² u)·√(2/π)(1 + 3·0.044715a²)."""

    @staticmethod
    def forward(ctx, a, *, approximate):
        ctx.save_for_backward(a)
        if approximate == "tanh":
            t = np.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a ** 3))
            ctx.t = t
            return (0.5 * a * (1 + t)).astype(a.dtype, copy=False)
        cdf = (0.5 * (1 + erf(a / math.sqrt(2)))).astype(a.dtype, copy=False)
        ctx.cdf = cdf
        return a * cdf

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        if ctx.kwargs["approximate"] == "tanh":
            t = ctx.cached("t", lambda: np.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a ** 3)))
            du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a ** 2)
            return grad_output * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * du)
        pdf = np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
        cdf = ctx.cached("cdf", lambda: (0.5 * (1 + erf(a / math.sqrt(2)))).astype(a.dtype))
        return grad_output * (cdf + a * pdf)


class ELU(Function):
    """z = a if a > 0 else α(e^a - 1);  dz/da = 1 if a > 0 else α·e^a (= z + α; NaN a takes
    the second branch, as in PyTorch).

    Arrays, without np.where: z = clip(a, 0, ∞) + α·expm1(clip(a, -∞, 0)) (each side adds an
    exact 0 for the other; -0 and NaN stay), dz/da = e^min(a, 0), times α where not a > 0
    (a select) when α != 1."""

    @staticmethod
    def forward(ctx, a, *, alpha):
        ctx.save_for_backward(a)
        neg = np.clip(a, -np.inf, 0, out=np.empty(a.shape, a.dtype))
        np.expm1(neg, out=neg)
        if alpha != 1:
            np.multiply(neg, alpha, out=neg)
        z = np.clip(a, 0, np.inf, out=np.empty(a.shape, a.dtype))
        return np.add(z, neg, out=z)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        alpha = ctx.kwargs["alpha"]
        if is_graph(grad_output):      # differentiable in a too (second derivative α·e^a)
            return np.where(a > 0, grad_output, grad_output * (alpha * np.exp(np.minimum(a, 0))))
        slope = np.clip(a, -np.inf, 0, out=np.empty(a.shape, a.dtype))
        np.exp(slope, out=slope)                               # 1 where a >= 0, e^a below, NaN kept
        if alpha != 1:
            np.multiply(slope, alpha, out=slope)
            slope = select(np.greater(a, 0), 1.0, slope, slope.dtype)
        return np.multiply(grad_output, slope, out=slope if slope.dtype == grad_output.dtype else None)


class Softplus(Function):
    """z = log(1 + e^(βa))/β, and z = a where βa > threshold (PyTorch's linear regime);
    dz/da = σ(βa), and 1 where βa > threshold.

    Arrays, without np.where: log(1 + e^x) = max(x, 0) + log1p(e^-|x|) (no overflow) in place,
    the linear regime chosen by a select."""

    @staticmethod
    def forward(ctx, a, *, beta, threshold):
        ba = a * beta
        ctx.save_for_backward(a)
        ctx.ba = ba
        soft = np.abs(ba, out=np.empty(ba.shape, ba.dtype))
        np.negative(soft, out=soft)
        np.exp(soft, out=soft)
        np.log1p(soft, out=soft)
        np.add(soft, np.clip(ba, 0, np.inf), out=soft)
        np.divide(soft, beta, out=soft)
        return select(np.greater(ba, threshold), a, soft, soft.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        ba = ctx.cached("ba", lambda: a * ctx.kwargs["beta"])
        linear = ba > ctx.kwargs["threshold"]
        if is_graph(grad_output) or is_graph(ba):
            return np.where(linear, grad_output, grad_output * stable_sigmoid(ba))
        # PyTorch's formula and order, g·z/(z + 1) with z = e^(βa): the same values to the last
        # bit of exp (also denormal z, and NaN when a huge threshold lets z overflow); the
        # overflowing z of the linear regime are replaced there by g
        with np.errstate(over="ignore", invalid="ignore"):
            z = np.exp(ba, out=np.empty(ba.shape, ba.dtype))
            out = np.multiply(grad_output, z, out=np.empty(z.shape, np.result_type(grad_output, z)))
            np.add(z, 1, out=z)
            np.divide(out, z, out=out)
        return select(linear, grad_output, out, out.dtype)


class Hardtanh(Function):
    """z = min(max(a, lo), hi) (ReLU6 is lo=0, hi=6);  dz/da = 1 where lo < a < hi, else 0
    (PyTorch's hardtanh: 0 at the boundaries, unlike clamp, and 0 at NaN). The gradient is
    selected (keep), so a masked ±inf/NaN g gives 0 as in PyTorch. (Keeping the 1-byte mask
    from forward instead of a was tried: it moved the comparisons to forward but freed
    nothing, since the graph holds a as this op's input anyway: +15 MB in MobileNetV2.)"""

    @staticmethod
    def forward(ctx, a, *, min_val, max_val):
        ctx.save_for_backward(a)
        return np.clip(a, min_val, max_val)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        kw = ctx.kwargs
        if is_graph(a) or is_graph(grad_output):
            return np.where((a > kw["min_val"]) & (a < kw["max_val"]), grad_output, 0)
        inside = np.greater(a, kw["min_val"], out=np.empty(a.shape, np.bool_))
        np.logical_and(inside, np.less(a, kw["max_val"]), out=inside)
        return keep(inside, grad_output)


_ONE_SIXTH = float(np.float32(1) / np.float32(6))


class Hardsigmoid(Function):
    """z = clip(a/6 + ½, 0, 1);  dz/da = 1/6 where -3 < a < 3, else 0 (PyTorch's g·(1/6) with
    1/6 rounded to float32 in every dtype, 0 at the ends and at NaN)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.clip(a / 6 + 0.5, 0, 1).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        inside = (a > -3) & (a < 3)
        if is_graph(grad_output):
            return np.where(inside, grad_output * _ONE_SIXTH, 0)
        return keep(inside, np.multiply(grad_output, _ONE_SIXTH))


class Hardswish(Function):
    """z = a·clip(a + 3, 0, 6)/6;  dz/da = 0 for a <= -3, a/3 + ½ for -3 < a < 3, 1 for a >= 3
    (PyTorch 2.13's values at the kinks)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return (a * np.clip(a + 3, 0, 6) / 6).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        slope = np.where(a <= -3, 0.0, np.where(a < 3, a / 3 + 0.5, 1.0)).astype(a.dtype, copy=False)
        return grad_output * slope
