"""Elementwise ops. Inputs already have one shape (Tensor broadcasts them first with `Expand`),
or one side is a Python scalar constant, so no backward here ever sums a gradient back."""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from .generic import is_graph


def _unless(need: bool, value_fn):
    return value_fn() if need else None


# the integer type of each float type's bit pattern (for the selections below)
_BITS = {np.dtype(np.float16): np.int16, np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


def keep(mask: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """grad where mask, +0 elsewhere, also where grad is ±inf or NaN (PyTorch's gradient
    masks select, they do not multiply: inf·0 would be NaN). One pass: grad's bit pattern as
    integers times the 0/1 mask (np.where branches per element: ~10x slower on the random
    masks of real activations). A Tensor grad (create_graph) goes through np.where."""
    bits = None if is_graph(grad) else _BITS.get(grad.dtype)
    if bits is None:
        return np.where(mask, grad, 0)
    return np.multiply(grad.view(bits), mask).view(grad.dtype)


def select(mask: np.ndarray, x, y, dtype) -> np.ndarray:
    """np.where(mask, x, y) for float arrays (or scalars) of `dtype`, without a branch per
    element: y + mask·(x - y) on the bit patterns as integers (wrapping, so exact), 3 passes."""
    bits = _BITS.get(np.dtype(dtype))
    if bits is None:
        return np.where(mask, x, y)
    xb, yb = (np.asarray(v, dtype).view(bits) for v in (x, y))
    d = np.subtract(xb, yb, out=np.empty(np.broadcast_shapes(np.shape(mask), xb.shape, yb.shape), bits))
    np.multiply(d, mask, out=d)
    d += yb
    return d.view(dtype)


class Add(Function):
    """z = a + b;  dz/da = 1, dz/db = 1."""

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, grad_output


class Sub(Function):
    """z = a - b;  dz/da = 1, dz/db = -1."""

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, _unless(ctx.needs_input_grad[1], lambda: -grad_output)


class Mul(Function):
    """z = a * b;  dz/da = b, dz/db = a."""

    @staticmethod
    def forward(ctx, a, b):
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)   # only what backward reads
        return a * b

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (grad_output * b if need_a else None), (grad_output * a if need_b else None)


class Div(Function):
    """z = a / b;  dz/da = 1/b, dz/db = -a/b²."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        return a / b

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (_unless(need_a, lambda: grad_output / b),
                _unless(need_b, lambda: -grad_output * a / (b * b)))


class Neg(Function):
    """z = -a;  dz/da = -1."""

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad_output):
        return -grad_output


class Pow(Function):
    """z = a ** b;  dz/da = b·a^(b-1), dz/db = a^b·ln a (b may be a scalar constant)."""

    @staticmethod
    def forward(ctx, a, b):
        out = a ** b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        grad_a = grad_b = None
        if need_a:
            if isinstance(b, (int, float)) and b == 2:
                grad_a = grad_output * (2 * a)
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    # d(a^0)/da = 0 everywhere, also at a = 0 where b·a^(b-1) is 0·inf (PyTorch: 0)
                    grad_a = grad_output * np.where(b == 0, 0, b * a ** (b - 1))
        if need_b:
            with np.errstate(divide="ignore", invalid="ignore"):
                # lim a->0 of a^b ln a is 0 for b > 0, and a^b = 1 is constant in b at a = 0,
                # b = 0; define the gradient as 0 there, like PyTorch.
                zero = (out == 0) | ((a == 0) & (b >= 0))
                grad_b = grad_output * np.where(zero, 0.0, out * np.log(np.abs(a))).astype(out.dtype)
        return grad_a, grad_b


class Exp(Function):
    """z = exp(a);  dz/da = exp(a) = z."""

    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * out


class Log(Function):
    """z = ln a;  dz/da = 1/a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return grad_output / a


class Sqrt(Function):
    """z = √a;  dz/da = 1/(2√a) = 1/(2z)."""

    @staticmethod
    def forward(ctx, a):
        out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output / (2 * out)


class Abs(Function):
    """z = |a|;  dz/da = sign(a) (0 at 0, like PyTorch)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return grad_output * np.sign(a)


class Tanh(Function):
    """z = tanh a;  dz/da = 1 - z²."""

    @staticmethod
    def forward(ctx, a):
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        if is_graph(grad_output) or grad_output.dtype != out.dtype:
            return grad_output * (1 - out * out)
        t = np.multiply(out, out, out=np.empty(out.shape, out.dtype))   # g·(1 - z²), PyTorch's order
        np.subtract(1, t, out=t)
        return np.multiply(grad_output, t, out=t)


def stable_sigmoid(a: np.ndarray) -> np.ndarray:
    """1/(1+e^-a) in a's dtype (PyTorch's formula): for a < -88 (float32) e^-a overflows to
    inf and 1/inf = 0 is the right limit, so every a gives σ(a) to relative rounding; 4 passes
    in place on arrays, no branch per element. Tensors too (create_graph)."""
    with np.errstate(over="ignore"):
        if is_graph(a):
            return 1 / (1 + np.exp(-a))
        e = np.negative(a, out=np.empty(a.shape, a.dtype if a.dtype.kind == "f" else np.float64))
        np.exp(e, out=e)
        e += 1
        return np.reciprocal(e, out=e)


class Sigmoid(Function):
    """z = 1/(1+e^-a);  dz/da = z(1-z). Computed without overflow for large |a|."""

    @staticmethod
    def forward(ctx, a):
        out = stable_sigmoid(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        if is_graph(grad_output) or grad_output.dtype != out.dtype:
            return grad_output * (1 - out) * out
        t = np.subtract(1, out, out=np.empty(out.shape, out.dtype))     # (g·(1 - z))·z, PyTorch's order
        np.multiply(grad_output, t, out=t)
        return np.multiply(t, out, out=t)


class ReLU(Function):
    """z = max(a, 0);  dz/da = 1 where a > 0, else 0 (0 at the kink, like PyTorch).

    Arrays: z = clip(a, 0, inf) (4x faster than np.maximum with a scalar, which NumPy does not
    vectorise; -0 stays -0 and NaN stays NaN, as in PyTorch); the gradient is g where z != 0,
    selected (keep: also NaN z passes g, and ±inf/NaN g is 0 where z = 0, as in PyTorch)."""

    @staticmethod
    def forward(ctx, a):
        out = np.clip(a, 0, np.inf) if a.dtype.kind == "f" else np.maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        if is_graph(grad_output):
            return np.where(out != 0, grad_output, 0)
        return keep(np.not_equal(out, 0), grad_output)    # z >= 0 or NaN: z != 0 is "not z <= 0"


class LeakyReLU(Function):
    """z = a if a > 0 else s·a;  dz/da = 1 where a > 0, else s.

    Arrays, without np.where (a branch per element: ~10x slower on the random signs of real
    activations): z = max(a, s·a) for 0 != s <= 1 (min for s > 1), 2 passes; dz/da·g =
    (s + (1 - s)·[a > 0])·g, 4 cheap passes."""

    @staticmethod
    def forward(ctx, a, negative_slope=0.01):
        ctx.save_for_backward(a)
        ctx.slope = negative_slope
        out = np.multiply(a, negative_slope)
        if out.dtype != a.dtype or negative_slope == 0:   # integers (made float), or ±inf·0 = NaN
            return np.where(a > 0, a, out)
        return (np.maximum if negative_slope <= 1 else np.minimum)(a, out, out=out)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        s = ctx.slope
        if is_graph(grad_output):
            return np.where(a > 0, grad_output, grad_output * s), None
        slope = np.multiply(a > 0, 1 - s, dtype=grad_output.dtype)     # (1 - s)·[a > 0]
        slope += s
        return np.multiply(slope, grad_output, out=slope), None


class Clamp(Function):
    """z = min(max(a, lo), hi);  dz/da = 1 where lo <= a <= hi, else 0."""

    @staticmethod
    def forward(ctx, a, min=None, max=None):
        ctx.save_for_backward(a)
        ctx.bounds = (min, max)
        return np.clip(a, min, max)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        inside = np.ones(a.shape, dtype=bool)
        if lo is not None:
            inside &= a >= lo
        if hi is not None:
            inside &= a <= hi
        return grad_output * inside


def _split_to_winner(ctx, grad_output, a_wins, tie):
    """Gradient of a pairwise max/min: all of it to the winning operand, half each on a tie."""
    share = np.where(a_wins, 1.0, np.where(tie, 0.5, 0.0)).astype(grad_output.dtype)  # a's share
    need_a, need_b = ctx.needs_input_grad
    return (_unless(need_a, lambda: grad_output * share),
            _unless(need_b, lambda: grad_output * (1 - share)))


class Maximum(Function):
    """z = max(a, b);  dz/da = 1 where a > b, ½ where a = b, else 0 (PyTorch's tie rule)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        return _split_to_winner(ctx, grad_output, a > b, a == b)


class Minimum(Function):
    """z = min(a, b);  dz/da = 1 where a < b, ½ where a = b, else 0."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        return _split_to_winner(ctx, grad_output, a < b, a == b)


class Where(Function):
    """z = a where cond else b;  dz/da = cond, dz/db = not cond (cond gets no gradient)."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, grad_output):
        (cond,) = ctx.saved_tensors
        _, need_a, need_b = ctx.needs_input_grad
        zero = np.zeros((), grad_output.dtype)
        return (None, _unless(need_a, lambda: np.where(cond, grad_output, zero)),
                _unless(need_b, lambda: np.where(cond, zero, grad_output)))


class Cast(Function):
    """z = a converted to another float dtype;  dz/da = 1 (gradient cast back)."""

    @staticmethod
    def forward(ctx, a, dtype):
        ctx.in_dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.astype(ctx.in_dtype), None


class Clone(Function):
    """z = a (a copy);  dz/da = 1."""

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output
