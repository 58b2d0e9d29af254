"""Weight initialisation, PyTorch's `torch.nn.init` names, formulas and defaults.

Every function fills its tensor in place (the array keeps its identity and dtype), draws from
the framework's seeded generator (`tc.manual_seed`) unless a `numpy.random.Generator` is passed
as `generator=`, and returns the tensor. Nothing is recorded in the autograd graph.

Fans: for a weight of shape (out, in, *kernel), fan_in = in·prod(kernel) and
fan_out = out·prod(kernel) (a Linear weight (out, in) has kernel size 1).

    kaiming_uniform_:  U(-b, b),  b = gain·√(3 / fan)          (He et al., 2015)
    kaiming_normal_:   N(0, σ²),  σ = gain / √fan
    xavier_uniform_:   U(-b, b),  b = gain·√(6 / (fan_in + fan_out))   (Glorot & Bengio, 2010)
    xavier_normal_:    N(0, σ²),  σ = gain·√(2 / (fan_in + fan_out))
    orthogonal_:       gain·Q, Q with orthonormal rows or columns   (Saxe et al., 2014)

PyTorch's default for Linear and Conv weights is kaiming_uniform_(w, a=√5), which works out to
U(-1/√fan_in, 1/√fan_in); their biases are U(-1/√fan_in, 1/√fan_in).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..rng import resolve as resolve_generator

from ..argcheck import check_number, describe
from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_", "ones_",
           "eye_", "orthogonal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]


# trunc_normal_ redraws the samples outside [a, b] at most this many times
TRUNC_NORMAL_ROUNDS = 1000


def _rng(generator: Any) -> np.random.Generator:
    return resolve_generator(generator, "nn.init")


def _target(tensor: Any, op: str) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init.{op}: takes a tc.Tensor, got {describe(tensor)}")
    return tensor


def _fill(tensor: Tensor, values: Any, op: str = "init") -> Tensor:
    _target(tensor, op)
    try:
        tensor.numpy()[...] = values   # casts to the tensor's dtype, keeps the array
    except (OverflowError, ValueError, TypeError) as e:
        raise ArgumentError(f"nn.init.{op}: cannot write these values into a {tensor.dtype} tensor of "
                            f"shape {tuple(tensor.shape)} ({e})") from None
    tensor._version += 1
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity: 1 for linear/conv/sigmoid, 5/3 for tanh, √2 for
    relu, √(2 / (1 + slope²)) for leaky_relu (slope `param`, default 0.01), 3/4 for selu."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if not isinstance(nonlinearity, str):
        raise ArgumentError(f"calculate_gain: nonlinearity must be a str, got {describe(nonlinearity)}")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool) and math.isfinite(param):
            slope = float(param)
        else:
            raise ArgumentError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope * slope))      # float *: inf for a huge slope, never OverflowError
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ArgumentError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    shape = _target(tensor, "fan").shape
    if len(shape) < 2:
        raise ShapeError(f"fan in and fan out can not be computed for a tensor with fewer than 2 "
                         f"dimensions (shape {shape})")
    receptive = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    if not isinstance(mode, str) or mode not in ("fan_in", "fan_out"):
        raise ArgumentError(f"mode {mode!r} is not supported, use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with U(a, b)."""
    _target(tensor, "uniform_")
    a = check_number(a, "a", "nn.init.uniform_", finite=True)
    b = check_number(b, "b", "nn.init.uniform_", finite=True, minimum=a)
    return _fill(tensor, _rng(generator).uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with N(mean, std²)."""
    _target(tensor, "normal_")
    mean = check_number(mean, "mean", "nn.init.normal_", finite=True)
    std = check_number(std, "std", "nn.init.normal_", finite=True, minimum=0)
    return _fill(tensor, _rng(generator).normal(mean, std, tensor.shape))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: Any = None) -> Tensor:
    """Fill with N(mean, std²) restricted to [a, b] (rejection sampling)."""
    op = "nn.init.trunc_normal_"
    _target(tensor, "trunc_normal_")
    mean = check_number(mean, "mean", op, finite=True)
    std = check_number(std, "std", op, finite=True, minimum=0)
    a = check_number(a, "a", op)
    b = check_number(b, "b", op, minimum=a)
    rng = _rng(generator)
    out = rng.normal(mean, std, tensor.shape)
    bad = (out < a) | (out > b)
    for _ in range(TRUNC_NORMAL_ROUNDS):
        if not bad.any():
            return _fill(tensor, out)
        out[bad] = rng.normal(mean, std, int(bad.sum()))
        bad = (out < a) | (out > b)
    raise ArgumentError(f"{op}: [a, b] = [{a}, {b}] holds too little of N({mean}, {std}²) to sample "
                        f"by rejection ({TRUNC_NORMAL_ROUNDS} rounds); move mean into the interval")


def constant_(tensor: Tensor, val: float) -> Tensor:
    _target(tensor, "constant_")
    return _fill(tensor, check_number(val, "val", "nn.init.constant_"), "constant_")


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the diagonal)."""
    if _target(tensor, "eye_").ndim != 2:
        raise ShapeError(f"eye_: only 2-D tensors are supported, got shape {tensor.shape}")
    return _fill(tensor, np.eye(*tensor.shape))


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with a (semi-)orthogonal matrix times gain, PyTorch's recipe: view the tensor as
    (rows = shape[0], cols = the rest), QR-factor a normal (max, min) matrix, fix the signs
    with diag(R) so the distribution is uniform (Haar), transpose when rows < cols. Rows are
    then orthonormal (rows ≤ cols) or columns are (rows ≥ cols)."""
    gain = check_number(gain, "gain", "nn.init.orthogonal_", finite=True)
    if _target(tensor, "orthogonal_").ndim < 2:
        raise ShapeError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got "
                         f"shape {tuple(tensor.shape)}")
    rows = tensor.shape[0]
    cols = tensor.numel() // rows if rows else 0
    if tensor.numel() == 0:
        return tensor
    flat = _rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T                                   # (rows, cols) -> (cols, rows)
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))                            # column j times sign(r_jj)
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    if 0 in _target(tensor, "xavier_uniform_").shape:         # nothing to fill (PyTorch warns and returns)
        return tensor
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    gain = check_number(gain, "gain", "nn.init.xavier_uniform_", finite=True)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    if 0 in _target(tensor, "xavier_normal_").shape:         # nothing to fill (PyTorch warns and returns)
        return tensor
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    gain = check_number(gain, "gain", "nn.init.xavier_normal_", finite=True)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: Any = None) -> Tensor:
    """U(-b, b) with b = gain·√(3 / fan), gain = calculate_gain(nonlinearity, a)."""
    if 0 in _target(tensor, "kaiming_uniform_").shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: Any = None) -> Tensor:
    """N(0, σ²) with σ = gain / √fan."""
    if 0 in _target(tensor, "kaiming_normal_").shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)
