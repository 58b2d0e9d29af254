"""Stateless neural-network ops, PyTorch's `torch.nn.functional` names and semantics.

Each function checks its arguments (errors name the op, the argument and the shapes) and calls
one `Function` from tinygrad_cnn/ops/; the derivatives live there, next to the forward code,
and docs/derivations.md ties each one to the seed derivation it reproduces.
"""
from __future__ import annotations

import math

from typing import Any

import numpy as np

from ..argcheck import check_flag, check_number, check_shape
from ..errors import ArgumentError, DTypeError, ShapeError
from ..ops import activation as A
from ..ops import conv as CV
from ..ops import elementwise as E
from ..ops import indexing as IX
from ..ops import linalg as L
from ..ops import loss as LS
from ..ops import movement as M
from ..ops import nonlinear as NL
from ..ops import norm as NM
from ..ops import pool as P
from ..ops import resample as RS
from ..tensor import Tensor, _number

__all__ = ["pad", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "unfold", "fold", "max_pool1d", "max_pool2d", "avg_pool1d",
           "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d",
           "adaptive_max_pool2d", "interpolate", "linear", "relu", "leaky_relu", "sigmoid", "tanh", "silu", "gelu",
           "elu", "softplus", "hardtanh", "relu6", "hardsigmoid", "hardswish", "softmax",
           "log_softmax", "dropout", "dropout2d", "batch_norm", "layer_norm", "group_norm", "cross_entropy", "nll_loss", "mse_loss",
           "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "kl_div", "instance_norm", "max_pool3d",
           "avg_pool3d", "max_unpool2d", "pixel_shuffle", "pixel_unshuffle", "embedding"]


def pad(input: Tensor, pad: tuple[int, ...], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad with a constant, or with the input's own values (mode 'reflect': mirrored without
    the edge, 'replicate': the edge repeated, 'circular': wrapped around); `pad` lists
    (left, right) pairs starting from the LAST dim, as in torch.nn.functional.pad:
    pad=(1, 1) pads the last dim, (1, 1, 2, 2) the last two."""
    input = _tensor(input, "pad", "input")
    modes = ("constant", "reflect", "replicate", "circular")
    if not isinstance(mode, str) or mode not in modes:
        raise ArgumentError(f"pad: mode must be one of {modes}, got mode={mode!r}")
    if not isinstance(pad, (tuple, list)) or not all(
            isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pad):
        raise ArgumentError(f"pad: pad must be a tuple of ints (left, right, top, bottom, ...), got {pad!r}")
    value = _number(value, "value", "pad")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ArgumentError(f"pad: expected an even number of pad sizes covering at most "
                            f"{input.ndim} dims (shape {input.shape}), got pad={tuple(pad)}")
    if any(int(p) > 2 ** 31 - 1 for p in pad):       # a typo, not a padding (and past NumPy's index range)
        raise ArgumentError(f"pad: padding must be <= 2**31-1, got pad={tuple(pad)}")
    if any(int(p) < 0 for p in pad):
        raise ArgumentError(f"pad: negative padding is not supported, got pad={tuple(pad)}")
    pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)]
    width = [(0, 0)] * (input.ndim - len(pairs)) + pairs[::-1]
    if mode == "constant":
        return M.Pad.apply(input, tuple(width), value=value)
    for n, (lo, hi) in zip(input.shape, width):
        largest = n - 1 if mode == "reflect" else n if mode == "circular" else (1 << 62) * (n > 0)
        if (lo or hi) and max(lo, hi) > largest:
            raise ArgumentError(f"pad: mode={mode!r} needs padding {'<' if mode == 'reflect' else '<='} "
                                f"the size of the padded dim (and a non-empty dim), got pad={tuple(pad)} "
                                f"for input shape {tuple(input.shape)}")
    return M.GatherPad.apply(input, pad_width=tuple(width), mode=mode)


# ----------------------------------------------------------------------------- helpers
def _tensor(x: Any, op: str, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise ArgumentError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    return x


def _float(x: Tensor, op: str, name: str) -> None:
    if x.dtype.kind != "f":
        raise DTypeError(f"{op}: {name} must be a floating point tensor, got dtype {x.dtype} "
                         f"(shape {tuple(x.shape)}); convert it with .float()")


def _same_dtype(op: str, ref: Tensor, ref_name: str, other: Tensor | None, name: str) -> None:
    if other is not None and other.dtype != ref.dtype:
        raise DTypeError(f"{op}: {name} has dtype {other.dtype} but {ref_name} has dtype "
                         f"{ref.dtype} ({name} shape {tuple(other.shape)}, {ref_name} shape "
                         f"{tuple(ref.shape)}); convert one of them (.float() or .double())")


def _as_target(target: Any, op: str) -> Tensor:
    if isinstance(target, Tensor):
        return target
    try:
        return Tensor._wrap(np.asarray(target))
    except (TypeError, ValueError):
        raise DTypeError(f"{op}: target must be a Tensor or an array of class indices, got "
                         f"{type(target).__name__}") from None


def _numbers(op: str, name: str, value: Any, dtype: Any, what: str) -> Tensor:
    """`value` as a Tensor: Tensors as they are, arrays and lists converted to `dtype`; an
    error naming the argument and what it should hold otherwise."""
    if isinstance(value, Tensor):
        return value
    try:
        return Tensor._wrap(np.asarray(value, dtype))
    except (TypeError, ValueError):
        raise DTypeError(f"{op}: {name} must be {what}, got {type(value).__name__} {value!r}") from None


def _ignore_index(ignore_index: Any, op: str) -> int:
    if not isinstance(ignore_index, (int, np.integer)) or isinstance(ignore_index, bool):
        raise ArgumentError(f"{op}: ignore_index must be an int class index, got {ignore_index!r}")
    return int(ignore_index)


def _reduction(reduction: str, op: str) -> str:
    if not isinstance(reduction, str) or reduction not in ("mean", "sum", "none"):
        raise ArgumentError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


# --------------------------------------------------------------------------- convolution
def _conv_inputs(op: str, d: int, input: Tensor, weight: Tensor, bias: Tensor | None,
                 groups: Any, weight_layout: str) -> tuple:
    """Checks shared by convs and transposed convs: ranks, dtypes, groups dividing C.
    Returns (input, weight, bias, x batched, unbatched, groups)."""
    input, weight = _tensor(input, op, "input"), _tensor(weight, op, "weight")
    x_arr, w_arr = input._data, weight._data     # the arrays: one attribute read per check below
    if x_arr.ndim not in (d + 1, d + 2):
        letters = {1: "(N, C, W)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}[d]
        raise ShapeError(f"{op}: expected a {d + 2}-D input {letters} or a {d + 1}-D unbatched "
                         f"one, got shape {tuple(input.shape)}")
    if w_arr.ndim != d + 2:
        raise ShapeError(f"{op}: expected a {d + 2}-D weight {weight_layout}, got "
                         f"shape {tuple(weight.shape)}")
    if x_arr.dtype.kind != "f":
        _float(input, op, "input")
    if w_arr.dtype != x_arr.dtype:
        _same_dtype(op, input, "input", weight, "weight")
    if bias is not None:
        bias = _tensor(bias, op, "bias")
        _same_dtype(op, input, "input", bias, "bias")
    unbatched = x_arr.ndim == d + 1
    x = input.unsqueeze(0) if unbatched else input
    if type(groups) is not int and (not isinstance(groups, (int, np.integer))
                                    or isinstance(groups, bool)) or groups < 1:
        raise ArgumentError(f"{op}: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    if x._data.shape[1] % groups:
        raise ArgumentError(f"{op}: groups={groups} does not divide the input's C={x.shape[1]} "
                            f"channels (input shape {tuple(input.shape)})")
    return input, weight, bias, x, unbatched, groups


def _conv(op: str, d: int, input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any,
          padding: Any, dilation: Any, groups: int) -> Tensor:
    input, weight, bias, x, unbatched, groups = _conv_inputs(
        op, d, input, weight, bias, groups, "(C_out, C_in/groups, kernel...)")
    w_shape = weight._data.shape
    c, co, cg = x._data.shape[1], w_shape[0], w_shape[1]
    if co % groups:
        raise ArgumentError(f"{op}: groups={groups} does not divide the weight's C_out={co} "
                            f"output channels (weight shape {tuple(weight.shape)})")
    if cg * groups != c:
        raise ShapeError(f"{op}: input has C={c} channels but weight expects {cg * groups} "
                         f"(weight shape {tuple(weight.shape)}, groups={groups}, input shape "
                         f"{tuple(input.shape)})")
    if bias is not None and bias._data.shape != (co,):
        raise ShapeError(f"{op}: bias must have shape ({co},) to match the weight's C_out, got "
                         f"{tuple(bias.shape)} (weight shape {tuple(weight.shape)})")
    kernel = w_shape[2:]
    stride = CV.normalize_tuple(stride, d, "stride", op)
    dilation = CV.normalize_tuple(dilation, d, "dilation", op)
    pads = CV.conv_padding(padding, kernel, stride, dilation, op)
    try:
        CV.conv_output_size(op, x._data.shape[2:], kernel, stride, pads, dilation)
    except ShapeError:                    # the same error, its message naming the shapes
        CV.conv_output_size(op, x.shape[2:], kernel, stride, pads, dilation,
                            f" (input shape {tuple(input.shape)}, weight shape {tuple(weight.shape)})")
    y = CV.ConvNd.apply(x, weight, bias, stride=stride, padding=pads, dilation=dilation, groups=groups)
    return y.squeeze(0) if unbatched else y


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation (text, series; seed 002 §6.1): input (N, C, W), weight (C_out, C/groups, KW)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation by im2col: input (N, C, H, W) (or unbatched (C, H, W)), weight
    (C_out, C/groups, KH, KW), padding an int, a pair, 'same' or 'valid'."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """3-D cross-correlation (video, medical images; seed 002 §6.2): input (N, C, D, H, W)."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(op: str, d: int, input: Tensor, weight: Tensor, bias: Tensor | None,
                    stride: Any, padding: Any, output_padding: Any, groups: int,
                    dilation: Any) -> Tensor:
    input, weight, bias, x, unbatched, groups = _conv_inputs(
        op, d, input, weight, bias, groups, "(C_in, C_out/groups, kernel...)")
    c, cog = x.shape[1], weight.shape[1]
    if weight.shape[0] != c:
        raise ShapeError(f"{op}: input has C={c} channels but weight expects {weight.shape[0]} "
                         f"(weight shape {tuple(weight.shape)} is (C_in, C_out/groups, kernel...); "
                         f"input shape {tuple(input.shape)})")
    if bias is not None and tuple(bias.shape) != (cog * groups,):
        raise ShapeError(f"{op}: bias must have shape ({cog * groups},) to match C_out = "
                         f"weight.shape[1]*groups, got {tuple(bias.shape)} (weight shape "
                         f"{tuple(weight.shape)}, groups={groups})")
    if isinstance(padding, str):
        raise ArgumentError(f"{op}: padding must be an int or a tuple of ints (no 'same'/'valid' "
                            f"for transposed convolutions, as in PyTorch), got {padding!r}")
    kernel = tuple(weight.shape[2:])
    stride = CV.normalize_tuple(stride, d, "stride", op)
    dilation = CV.normalize_tuple(dilation, d, "dilation", op)
    pads = CV.normalize_tuple(padding, d, "padding", op, minimum=0)
    extra = CV.normalize_tuple(output_padding, d, "output_padding", op, minimum=0)
    for o, s, dl in zip(extra, stride, dilation):
        if o >= max(s, dl):
            raise ArgumentError(f"{op}: output_padding must be smaller than stride or dilation in "
                                f"every dim, got output_padding={extra}, stride={stride}, "
                                f"dilation={dilation}")
    out = CV.conv_transpose_output_size(
        op, x.shape[2:], kernel, stride, pads, dilation, extra,
        f" (input shape {tuple(input.shape)}, weight shape {tuple(weight.shape)})")
    y = CV.ConvTransposeNd.apply(x, weight, bias, stride=stride, padding=tuple((p, p) for p in pads),
                                 dilation=dilation, groups=groups, out=out)
    return y.squeeze(0) if unbatched else y


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """1-D transposed convolution: input (N, C_in, W), weight (C_in, C_out/groups, KW)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """2-D transposed convolution (the gradient of conv2d in its input, as an op): input
    (N, C_in, H, W), weight (C_in, C_out/groups, KH, KW), output
    (N, C_out, (H-1)·SH - 2PH + DH(KH-1) + output_padding + 1, ...)."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """3-D transposed convolution: input (N, C_in, D, H, W), weight (C_in, C_out/groups, KD, KH, KW)."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def _window_args(op: str, kernel_size: Any, dilation: Any, padding: Any, stride: Any) -> tuple:
    """unfold/fold's sliding-window arguments as 2-tuples; padding as ((lo, hi), (lo, hi))."""
    kernel = CV.normalize_tuple(kernel_size, 2, "kernel_size", op)
    dilation = CV.normalize_tuple(dilation, 2, "dilation", op)
    stride = CV.normalize_tuple(stride, 2, "stride", op)
    pads = tuple((p, p) for p in CV.normalize_tuple(padding, 2, "padding", op, minimum=0))
    return kernel, dilation, stride, pads


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
           stride: Any = 1) -> Tensor:
    """im2col as an op: (N, C, H, W) -> (N, C*KH*KW, L), column l = the window of output
    position l, rows ordered (c, kh, kw) — the matrices seeds 001 and 003 draw (transposed)."""
    op = "unfold"
    input = _tensor(input, op, "input")
    if input.ndim not in (3, 4):
        raise ShapeError(f"{op}: expected a 4-D input (N, C, H, W) or a 3-D unbatched one, got "
                         f"shape {tuple(input.shape)}")
    _float(input, op, "input")
    kernel, dilation, stride, pads = _window_args(op, kernel_size, dilation, padding, stride)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    CV.conv_output_size(op, x.shape[2:], kernel, stride, pads, dilation, f" (input shape {tuple(input.shape)})")
    y = CV.Unfold.apply(x, kernel=kernel, stride=stride, padding=pads, dilation=dilation)
    return y.squeeze(0) if unbatched else y


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
         stride: Any = 1) -> Tensor:
    """col2im as an op: (N, C*KH*KW, L) -> (N, C, H, W), overlapping entries summed."""
    op = "fold"
    input = _tensor(input, op, "input")
    if input.ndim not in (2, 3):
        raise ShapeError(f"{op}: expected a 3-D input (N, C*KH*KW, L) or a 2-D unbatched one, "
                         f"got shape {tuple(input.shape)}")
    _float(input, op, "input")
    size = CV.normalize_tuple(output_size, 2, "output_size", op)
    kernel, dilation, stride, pads = _window_args(op, kernel_size, dilation, padding, stride)
    unbatched = input.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    kk = kernel[0] * kernel[1]
    if x.shape[1] % kk:
        raise ShapeError(f"{op}: the input's dim 1 ({x.shape[1]}) must be divisible by "
                         f"KH*KW = {kk} (kernel_size={kernel}, input shape {tuple(input.shape)})")
    out = CV.conv_output_size(op, size, kernel, stride, pads, dilation, f" (output_size={size})")
    if x.shape[2] != out[0] * out[1]:
        raise ShapeError(f"{op}: the input has L={x.shape[2]} columns, but output_size={size}, "
                         f"kernel_size={kernel}, stride={stride}, padding={padding}, "
                         f"dilation={dilation} give {out[0]}*{out[1]} = {out[0] * out[1]} windows "
                         f"(input shape {tuple(input.shape)})")
    y = CV.Fold.apply(x, output_size=size, kernel=kernel, stride=stride, padding=pads, dilation=dilation)
    return y.squeeze(0) if unbatched else y


# ------------------------------------------------------------------------------- pooling
def _pool_args(op: str, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
               dilation: Any, ceil_mode: bool) -> tuple:
    input = _tensor(input, op, "input")
    if input.ndim not in (3, 4):
        raise ShapeError(f"{op}: expected a 4-D input (N, C, H, W) or a 3-D unbatched one, got "
                         f"shape {tuple(input.shape)}")
    _float(input, op, "input")
    kernel = CV.normalize_tuple(kernel_size, 2, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) \
        else CV.normalize_tuple(stride, 2, "stride", op)
    pads = CV.normalize_tuple(padding, 2, "padding", op, minimum=0)
    dil = CV.normalize_tuple(dilation, 2, "dilation", op)
    for nm, k, p in zip(("H", "W"), kernel, pads):
        if p > k // 2:
            raise ArgumentError(f"{op}: padding P{nm}={p} is more than half the kernel K{nm}={k} "
                                f"(padding must be <= kernel_size // 2 = {k // 2}; kernel_size="
                                f"{kernel}, padding={pads}, input shape {tuple(input.shape)})")
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    out = P.pool_output_size(op, x.shape[2:], kernel, stride, pads, dil, check_flag(ceil_mode, "ceil_mode", op))
    return x, unbatched, kernel, stride, pads, dil, out


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over KH×KW windows (stride defaults to the kernel size, padding is -inf).
    Backward routes each gradient to its window's first maximum (the argmax "switches")."""
    return _max_pool("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _max_pool(op: str, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
              dilation: Any, ceil_mode: bool, return_indices: bool) -> Any:
    x, unbatched, kernel, stride, pads, dil, out = _pool_args(
        op, input, kernel_size, stride, padding, dilation, ceil_mode)
    res = P.MaxPool2d.apply(x, kernel=kernel, stride=stride, padding=pads, dilation=dil, out=out,
                            return_indices=check_flag(return_indices, "return_indices", op))
    if not return_indices:
        return res.squeeze(0) if unbatched else res
    values, indices = res
    return (values.squeeze(0), indices.squeeze(0)) if unbatched else (values, indices)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over KH×KW windows; zero padding counts in the divisor iff count_include_pad."""
    return _avg_pool("avg_pool2d", input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _avg_pool(op: str, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
              ceil_mode: bool, count_include_pad: bool, divisor_override: int | None) -> Tensor:
    x, unbatched, kernel, stride, pads, _, out = _pool_args(
        op, input, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer))
                                         or divisor_override <= 0):
        raise ArgumentError(f"{op}: divisor_override must be a positive int, got {divisor_override!r}")
    y = P.AvgPool2d.apply(x, kernel=kernel, stride=stride, padding=pads, out=out,
                          ceil_mode=check_flag(ceil_mode, "ceil_mode", op),
                          count_include_pad=check_flag(count_include_pad, "count_include_pad", op),
                          divisor_override=divisor_override)
    return y.squeeze(0) if unbatched else y


# 1-D pooling: the 2-D ops on (N, C, 1, L) with windows of height 1
def _as_rows(op: str, input: Tensor) -> Tensor:
    """(N, C, L) or (C, L) -> (N, C, 1, L) or (C, 1, L)."""
    input = _tensor(input, op, "input")
    if input.ndim not in (2, 3):
        raise ShapeError(f"{op}: expected a 3-D input (N, C, L) or a 2-D unbatched one, got shape "
                         f"{tuple(input.shape)}")
    return input.unsqueeze(-2)


def _pool1d_args(op: str, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any) -> tuple:
    """1-D window arguments (ints or 1-tuples), checked with 1-D messages, as the 2-D pairs of
    windows of height 1, and the input as rows."""
    x = _as_rows(op, input)
    (k,) = CV.normalize_tuple(kernel_size, 1, "kernel_size", op)
    (s,) = (k,) if stride is None or (isinstance(stride, (tuple, list)) and not stride) \
        else CV.normalize_tuple(stride, 1, "stride", op)
    (p,) = CV.normalize_tuple(padding, 1, "padding", op, minimum=0)
    (d,) = CV.normalize_tuple(dilation, 1, "dilation", op)
    if p > k // 2:
        raise ArgumentError(f"{op}: padding={p} is more than half the kernel_size={k} (padding "
                            f"must be <= kernel_size // 2 = {k // 2}; input shape {tuple(input.shape)})")
    return x, (1, k), (1, s), (0, p), (1, d)


def _rows_back(res: Any) -> Any:
    return tuple(r.squeeze(-2) for r in res) if isinstance(res, tuple) else res.squeeze(-2)


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over windows of length K along L: input (N, C, L) or (C, L); indices are positions in L."""
    x, k, s, p, d = _pool1d_args("max_pool1d", input, kernel_size, stride, padding, dilation)
    return _rows_back(_max_pool("max_pool1d", x, k, s, p, d, ceil_mode, return_indices))


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Mean over windows of length K along L: input (N, C, L) or (C, L)."""
    x, k, s, p, _ = _pool1d_args("avg_pool1d", input, kernel_size, stride, padding, 1)
    return _rows_back(_avg_pool("avg_pool1d", x, k, s, p, ceil_mode, count_include_pad, None))


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Mean over the adaptive windows that split L into output_size."""
    (size,) = CV.normalize_tuple(output_size, 1, "output_size", "adaptive_avg_pool1d")
    return adaptive_avg_pool2d(_as_rows("adaptive_avg_pool1d", input), (1, size)).squeeze(-2)


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max over the adaptive windows that split L into output_size."""
    (size,) = CV.normalize_tuple(output_size, 1, "output_size", "adaptive_max_pool1d")
    return _rows_back(adaptive_max_pool2d(_as_rows("adaptive_max_pool1d", input), (1, size),
                                          return_indices))


def _adaptive_args(op: str, input: Tensor, output_size: Any) -> tuple:
    input = _tensor(input, op, "input")
    if input.ndim not in (3, 4):
        raise ShapeError(f"{op}: expected a 4-D input (N, C, H, W) or a 3-D unbatched one, got "
                         f"shape {tuple(input.shape)}")
    _float(input, op, "input")
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    if len(sizes) != 2:
        raise ArgumentError(f"{op}: output_size must be an int or a pair (OH, OW), got {output_size!r}")
    out = []
    for nm, s, full in zip(("OH", "OW"), sizes, input.shape[-2:]):
        if s is None:                                       # PyTorch: None keeps the input's size
            s = full
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
            raise ArgumentError(f"{op}: output_size {nm} must be a positive int (or None), got "
                                f"{s!r} (output_size={output_size!r}, input shape {tuple(input.shape)})")
        out.append(int(s))
    if 0 in input.shape[-2:]:
        raise ShapeError(f"{op}: the input has an empty spatial dimension, shape {tuple(input.shape)}")
    unbatched = input.ndim == 3
    # an output NumPy cannot even index (2**63 windows) is refused before any arange is built
    check_shape(tuple(out), "output_size", op, itemsize=8)
    check_shape(tuple(input.shape[:-2]) + tuple(out), "output_size", op, itemsize=8)
    return (input.unsqueeze(0) if unbatched else input), unbatched, tuple(out)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Mean over the windows that split H×W into output_size (OH, OW) as PyTorch does:
    output row i covers input rows floor(i·H/OH) to ceil((i+1)·H/OH)."""
    x, unbatched, out = _adaptive_args("adaptive_avg_pool2d", input, output_size)
    y = P.AdaptiveAvgPool2d.apply(x, out=out)
    return y.squeeze(0) if unbatched else y


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max over the adaptive windows of adaptive_avg_pool2d; backward routes each gradient to
    its window's argmax. return_indices adds the flat index h·W + w of each maximum."""
    x, unbatched, out = _adaptive_args("adaptive_max_pool2d", input, output_size)
    res = P.AdaptiveMaxPool2d.apply(x, out=out, return_indices=check_flag(
        return_indices, "return_indices", "adaptive_max_pool2d"))
    if not return_indices:
        return res.squeeze(0) if unbatched else res
    values, indices = res
    return (values.squeeze(0), indices.squeeze(0)) if unbatched else (values, indices)


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None) -> Tensor:
    """Resample (N, C, H, W) to `size` (OH, OW) or by `scale_factor`, mode 'nearest' or
    'bilinear' (align_corners as PyTorch; default False), PyTorch's index rules."""
    op = "interpolate"
    input = _tensor(input, op, "input")
    if input.ndim != 4:
        raise ShapeError(f"{op}: only 4-D inputs (N, C, H, W) are supported, got shape "
                         f"{tuple(input.shape)}")
    _float(input, op, "input")
    if not isinstance(mode, str) or mode not in ("nearest", "bilinear"):
        raise ArgumentError(f"{op}: mode must be 'nearest' or 'bilinear', got {mode!r}")
    if align_corners is not None and mode == "nearest":
        raise ArgumentError(f"{op}: align_corners only applies to mode='bilinear', got "
                            f"align_corners={align_corners!r} with mode='nearest'")
    if (size is None) == (scale_factor is None):
        raise ArgumentError(f"{op}: give exactly one of size and scale_factor (got size={size!r}, "
                            f"scale_factor={scale_factor!r})")
    spatial = tuple(input.shape[2:])
    if size is not None:
        out = CV.normalize_tuple(size, 2, "size", op)
        scales: tuple = (None, None)
    else:
        factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * 2
        if len(factors) != 2 or not all(isinstance(f, (int, float, np.number)) and not isinstance(f, bool)
                                        and math.isfinite(f) and f > 0 for f in factors):
            raise ArgumentError(f"{op}: scale_factor must be a positive finite number or a pair of "
                                f"them, got {scale_factor!r}")
        if not all(math.isfinite(h * f) for h, f in zip(spatial, factors)):
            raise ArgumentError(f"{op}: scale_factor={scale_factor!r} gives an output size too big "
                                f"to represent for input shape {tuple(input.shape)}")
        out = tuple(int(math.floor(h * f)) for h, f in zip(spatial, factors))
        if min(out) < 1:
            raise ShapeError(f"{op}: scale_factor={scale_factor!r} gives an empty output "
                             f"{out} for input shape {tuple(input.shape)}")
        scales = tuple(1.0 / f for f in factors)
    nbytes = math.prod(input.shape[:2]) * math.prod(out) * input.dtype.itemsize
    if nbytes > 1 << 40:                                   # a typo'd scale, not an image
        what = f"size={size!r}" if size is not None else f"scale_factor={scale_factor!r}"
        raise ShapeError(f"{op}: {what} on input shape {tuple(input.shape)} gives an output of "
                         f"more than 1 TiB; check size/scale_factor")
    return RS.Interpolate2d.apply(input, out=out, mode=mode, align_corners=bool(align_corners),
                                  scales=scales)


# ---------------------------------------------------------------------- linear & activations
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x Wᵀ + b for x of shape (*, in_features) and W of shape (out_features, in_features)."""
    op = "linear"
    input, weight = _tensor(input, op, "input"), _tensor(weight, op, "weight")
    if weight.ndim != 2:
        raise ShapeError(f"linear: weight must be 2-D (out_features, in_features), got shape "
                         f"{tuple(weight.shape)}")
    if input.ndim < 1 or input.shape[-1] != weight.shape[1]:
        raise ShapeError(f"linear: input has {input.shape[-1] if input.ndim else 0} features in "
                         f"its last dim but weight expects {weight.shape[1]} (input shape "
                         f"{tuple(input.shape)}, weight shape {tuple(weight.shape)})")
    _float(input, op, "input")
    _same_dtype(op, input, "input", weight, "weight")
    if bias is not None:
        bias = _tensor(bias, op, "bias")
        _same_dtype(op, input, "input", bias, "bias")
        if tuple(bias.shape) != (weight.shape[0],):
            raise ShapeError(f"linear: bias must have shape ({weight.shape[0]},), got "
                             f"{tuple(bias.shape)} (weight shape {tuple(weight.shape)})")
    return L.Linear.apply(input, weight, bias)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); dL/dx = g where x > 0. `inplace` is accepted for porting; the result is new."""
    return E.ReLU.apply(_tensor(input, "relu", "input"))


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x."""
    return E.LeakyReLU.apply(_tensor(input, "leaky_relu", "input"), negative_slope=float(_number(negative_slope, "negative_slope", "leaky_relu")))


def sigmoid(input: Tensor) -> Tensor:
    return _tensor(input, "sigmoid", "input").sigmoid()


def tanh(input: Tensor) -> Tensor:
    return _tensor(input, "tanh", "input").tanh()


def _float_input(input: Tensor, op: str) -> Tensor:
    input = _tensor(input, op, "input")
    _float(input, op, "input")
    return input


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x·σ(x) (swish). `inplace` is accepted for porting; the result is new."""
    return NL.SiLU.apply(_float_input(input, "silu"))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x·Φ(x) with Φ the standard normal CDF (exact, through erf), or its tanh approximation."""
    if not isinstance(approximate, str) or approximate not in ("none", "tanh"):
        raise ArgumentError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return NL.GELU.apply(_float_input(input, "gelu"), approximate=approximate)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha·(eˣ - 1)."""
    return NL.ELU.apply(_float_input(input, "elu"), alpha=float(_number(alpha, "alpha", "elu")))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(βx))/β, linear where βx > threshold."""
    beta = float(_number(beta, "beta", "softplus"))
    if beta == 0:
        raise ArgumentError("softplus: beta must be non-zero, got 0")
    return NL.Softplus.apply(_float_input(input, "softplus"), beta=beta,
                             threshold=float(_number(threshold, "threshold", "softplus")))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """clamp(x, min_val, max_val), gradient 0 at the boundaries."""
    lo, hi = float(_number(min_val, "min_val", "hardtanh")), float(_number(max_val, "max_val", "hardtanh"))
    if lo > hi:
        raise ArgumentError(f"hardtanh: min_val ({lo}) must not be above max_val ({hi})")
    return NL.Hardtanh.apply(_float_input(input, "hardtanh"), min_val=lo, max_val=hi)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6) = hardtanh(x, 0, 6)."""
    return NL.Hardtanh.apply(_float_input(input, "relu6"), min_val=0.0, max_val=6.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """clip(x/6 + 1/2, 0, 1)."""
    return NL.Hardsigmoid.apply(_float_input(input, "hardsigmoid"))


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x·clip(x + 3, 0, 6)/6 (MobileNetV3)."""
    return NL.Hardswish.apply(_float_input(input, "hardswish"))


def softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """exp(x - max) / Σ exp(x - max) along dim (stable for any finite logits)."""
    return _tensor(input, "softmax", "input").softmax(dim, dtype)


def log_softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """x - max - log Σ exp(x - max) along dim (stable: no inf/nan for logits of ±1000)."""
    return _tensor(input, "log_softmax", "input").log_softmax(dim, dtype)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only);
    the mask comes from the framework's seeded generator (tc.manual_seed)."""
    input = _tensor(input, "dropout", "input")
    if not _dropout_active("dropout", input, p, training):
        return input
    return A.Dropout.apply(input, p=float(p))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels with probability p and scale the rest by 1/(1-p) (training only):
    input (N, C, H, W), or (C, H, W) taken as one image (PyTorch's documented shapes)."""
    op = "dropout2d"
    input = _tensor(input, op, "input")
    if input.ndim not in (3, 4):
        raise ShapeError(f"{op}: expected a 4-D input (N, C, H, W) or a 3-D unbatched one, got "
                         f"shape {tuple(input.shape)}")
    if not _dropout_active(op, input, p, training):
        return input
    return A.Dropout.apply(input, p=float(p), mask_shape=tuple(input.shape[:-2]) + (1, 1))


def _dropout_active(op: str, input: Tensor, p: Any, training: bool) -> bool:
    """Check p and the dtype; False when dropout is the identity (eval, or p = 0)."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0.0 <= p <= 1.0:
        raise ArgumentError(f"{op}: p must be a probability in [0, 1], got {p!r}")
    if not check_flag(training, "training", op) or p == 0.0:
        return False
    _float(input, op, "input")
    return True


def _affine(op: str, y: Tensor, weight: Tensor | None, bias: Tensor | None, shape: tuple,
            view: tuple) -> Tensor:
    """y·weight + bias with weight and bias of `shape`, viewed as `view` to broadcast."""
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None:
            _tensor(t, op, name)
            if tuple(t.shape) != shape:
                raise ShapeError(f"{op}: {name} must have shape {shape}, got {tuple(t.shape)}")
            _same_dtype(op, y, "input", t, name)
    if weight is not None:
        y = y * weight.reshape(view)
    if bias is not None:
        y = y + bias.reshape(view)
    return y


def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Standardise over the last len(normalized_shape) dims (each sample on its own), then
    scale and shift elementwise by weight and bias of normalized_shape."""
    op = "layer_norm"
    input = _float_input(input, op)
    given = tuple(normalized_shape) if isinstance(normalized_shape, (tuple, list)) else (normalized_shape,)
    shape = CV.normalize_tuple(given, len(given), "normalized_shape", op) if given else ()
    if not shape or input.ndim < len(shape) or tuple(input.shape[input.ndim - len(shape):]) != shape:
        raise ShapeError(f"{op}: normalized_shape {shape} must match the last dims of the input, "
                         f"got input shape {tuple(input.shape)}")
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    y = NM.Standardize.apply(input, axes=axes, eps=float(_number(eps, "eps", op)))
    return _affine(op, y, weight, bias, shape, shape)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Standardise each group of C/num_groups channels (with all their positions) per sample,
    then scale and shift per channel."""
    op = "group_norm"
    input = _float_input(input, op)
    if input.ndim < 2:
        raise ShapeError(f"{op}: expected an input (N, C, ...), got shape {tuple(input.shape)}")
    n, c = input.shape[:2]
    if isinstance(num_groups, bool) or not isinstance(num_groups, (int, np.integer)) or num_groups < 1 \
            or c % num_groups:
        raise ArgumentError(f"{op}: num_groups must be a positive int dividing C={c} (input shape "
                            f"{tuple(input.shape)}), got {num_groups!r}")
    grouped = input.reshape(n, int(num_groups), -1)          # (N, C, *) -> (N, G, C/G·rest)
    y = NM.Standardize.apply(grouped, axes=(2,), eps=float(_number(eps, "eps", op))).reshape(input.shape)
    return _affine(op, y, weight, bias, (c,), (c,) + (1,) * (input.ndim - 2))


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (axis 1) by batch statistics (training, updating the running
    stats in place like PyTorch) or by the running statistics (eval), then scale and shift."""
    op = "batch_norm"
    input = _tensor(input, op, "input")
    _float(input, op, "input")
    if input.ndim < 2:
        raise ShapeError(f"{op}: expected an input (N, C, ...) with at least 2 dims, got shape "
                         f"{tuple(input.shape)}")
    c = input.shape[1]
    per_channel = (c,)
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and not (isinstance(t, Tensor) and t._data.shape == per_channel):
            _tensor(t, op, name)
            raise ShapeError(f"{op}: {name} must have shape ({c},) for an input with C={c} "
                             f"channels (input shape {tuple(input.shape)}), got {tuple(t.shape)}")
    if not training and (running_mean is None or running_var is None):
        raise ArgumentError(f"{op}: running_mean and running_var are required when training=False")
    if training and input._data.size // max(c, 1) <= 1:
        raise ShapeError(f"{op}: expected more than 1 value per channel when training, got input "
                         f"shape {tuple(input.shape)}")
    _same_dtype(op, input, "input", weight, "weight")
    _same_dtype(op, input, "input", bias, "bias")
    momentum = momentum if type(momentum) is float else float(_number(momentum, "momentum", op))
    eps = eps if type(eps) is float else float(_number(eps, "eps", op))
    y = NM.BatchNorm.apply(input, weight, bias, running_mean, running_var, training=bool(training),
                           momentum=momentum, eps=eps)
    if training:                        # the running stats were updated in place
        for t in (running_mean, running_var):
            if t is not None:
                t._vc.value += 1        # t._version += 1
    return y


# --------------------------------------------------------------------------------- losses
def _class_target(op: str, input: Tensor, target: Tensor, ignore_index: int) -> None:
    """Class-index targets: integer dtype, the input's shape without dim 1, values in range."""
    if target.dtype.kind not in "iu":
        raise DTypeError(
            f"{op}: target of dtype {target.dtype} and shape {tuple(target.shape)} is neither "
            f"class indices (an integer tensor of shape {(input.shape[0],) + tuple(input.shape[2:])}) "
            f"nor class probabilities (a float tensor of the input's shape {tuple(input.shape)})")
    expected = (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != expected:
        raise ShapeError(f"{op}: class-index target must have shape {expected} for an input of "
                         f"shape {tuple(input.shape)}, got {tuple(target.shape)}")
    t, n_classes = target._data, input.shape[1]
    bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ArgumentError(f"{op}: target {int(t[where])} at position {where} is out of range for "
                            f"{n_classes} classes (input shape {tuple(input.shape)}); expected "
                            f"0 <= target < {n_classes} or target == ignore_index ({ignore_index})")


def _loss_inputs(op: str, input: Tensor, target: Any, weight: Any) -> tuple:
    input = _tensor(input, op, "input")
    _float(input, op, "input")
    target = _as_target(target, op)
    if input.ndim == 0:
        raise ShapeError(f"{op}: input must have a class dim, got a 0-d tensor")
    unbatched = input.ndim == 1
    if unbatched:
        input = input.unsqueeze(0)                 # (C,) -> (1, C)
        target = target.unsqueeze(0)               # index () -> (1,), probabilities (C,) -> (1, C)
    if weight is not None:
        weight = _numbers(op, "weight", weight, input.dtype, "a tensor of per-class weights")
        if tuple(weight.shape) != (input.shape[1],):
            raise ShapeError(f"{op}: weight must have one entry per class, shape "
                             f"({input.shape[1]},), got {tuple(weight.shape)} (input shape "
                             f"{tuple(input.shape)})")
        if weight.dtype.kind != "f":
            weight = Tensor._wrap(weight._data.astype(input.dtype))
    return input, target, weight, unbatched


def cross_entropy(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy from logits (N, C) or (N, C, d1, ...), fused and stable.

    target: class indices (int, shape (N, d1, ...), ignore_index skipped) or class
    probabilities (float, the input's shape). Backward: (softmax - one_hot)/N for the plain
    'mean' case (seed 004), with weights / smoothing / ignore_index as PyTorch.
    """
    op = "cross_entropy"
    _reduction(reduction, op)
    ignore_index = _ignore_index(ignore_index, op)
    if not isinstance(label_smoothing, (int, float)) or not 0.0 <= label_smoothing <= 1.0:
        raise ArgumentError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    input, target, weight, unbatched = _loss_inputs(op, input, target, weight)
    if target.dtype.kind == "f" and tuple(target.shape) == tuple(input.shape):
        if ignore_index != -100:
            raise ArgumentError(f"{op}: ignore_index is not supported for class-probability "
                                f"targets (float target of shape {tuple(target.shape)})")
        _same_dtype(op, input, "input", target, "target")
    else:
        _class_target(op, input, target, ignore_index)
    loss = LS.CrossEntropy.apply(input, target, weight, ignore_index=int(ignore_index),
                                 reduction=reduction, label_smoothing=float(label_smoothing))
    return loss.squeeze(0) if unbatched and reduction == "none" else loss


def nll_loss(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class-index targets under log-probabilities (N, C, ...)."""
    op = "nll_loss"
    _reduction(reduction, op)
    ignore_index = _ignore_index(ignore_index, op)
    input, target, weight, unbatched = _loss_inputs(op, input, target, weight)
    _class_target(op, input, target, ignore_index)
    loss = LS.NLLLoss.apply(input, target, weight, ignore_index=int(ignore_index), reduction=reduction)
    return loss.squeeze(0) if unbatched and reduction == "none" else loss


def _regression_target(op: str, input: Tensor, target: Any) -> tuple[Tensor, Tensor]:
    """(input, target) for an elementwise loss: a float input and a target of its shape and
    dtype (arrays and lists are converted)."""
    input = _tensor(input, op, "input")
    _float(input, op, "input")
    target = _numbers(op, "target", target, input.dtype, "a tensor or an array of numbers")
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(f"{op}: target shape {tuple(target.shape)} differs from input shape "
                         f"{tuple(input.shape)}; they must match (PyTorch would broadcast with a "
                         f"warning, which usually hides a bug)")
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    return input, target


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (or sum, or none) of (input - target)²; both arguments get gradients."""
    op = "mse_loss"
    _reduction(reduction, op)
    input, target = _regression_target(op, input, target)
    return LS.MSELoss.apply(input, target, reduction=reduction)


def _reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (or sum, or none) of |input - target|; both arguments get gradients (sign(d), 0 at 0)."""
    op = "l1_loss"
    _reduction(reduction, op)
    input, target = _regression_target(op, input, target)
    return _reduce_loss((input - target).abs(), reduction)


def _positive_number(value: Any, name: str, op: str, allow_zero: bool) -> float:
    value = float(_number(value, name, op))
    if not (value >= 0 if allow_zero else value > 0) or not math.isfinite(value):
        raise ArgumentError(f"{op}: {name} must be {'non-negative' if allow_zero else 'positive'} "
                            f"and finite, got {value!r}")
    return value


def huber_loss(input: Tensor, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """½d² for |d| < delta, delta·(|d| - ½delta) beyond (d = input - target): quadratic near
    zero, linear for outliers."""
    op = "huber_loss"
    _reduction(reduction, op)
    delta = _positive_number(delta, "delta", op, allow_zero=False)
    input, target = _regression_target(op, input, target)
    return LS.HuberLoss.apply(input, target, delta=delta, reduction=reduction)


def smooth_l1_loss(input: Tensor, target: Any, size_average: Any = None, reduce: Any = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """½d²/beta for |d| < beta, |d| - ½beta beyond: huber_loss(delta=beta) / beta, and
    l1_loss when beta = 0 (as PyTorch). size_average/reduce are PyTorch's deprecated
    arguments and must stay None."""
    op = "smooth_l1_loss"
    _no_legacy_reduction(op, size_average, reduce)
    _reduction(reduction, op)
    beta = _positive_number(beta, "beta", op, allow_zero=True)
    if beta == 0:
        return l1_loss(input, target, reduction)
    input, target = _regression_target(op, input, target)
    return LS.HuberLoss.apply(input, target, delta=beta, scale=1.0 / beta, reduction=reduction)


def _no_legacy_reduction(op: str, size_average: Any, reduce: Any) -> None:
    if size_average is not None or reduce is not None:
        raise ArgumentError(f"{op}: size_average and reduce are deprecated in PyTorch and not "
                            f"supported; use reduction='mean'|'sum'|'none'")


def _loss_weight(op: str, name: str, weight: Any, input: Tensor, shape: tuple) -> Tensor | None:
    """A constant weight tensor broadcastable to `shape`, in the input's dtype (no gradient)."""
    if weight is None:
        return None
    weight = _numbers(op, name, weight, input.dtype, "a tensor of numbers")
    if weight.requires_grad:
        raise ArgumentError(f"{op}: {name} requires grad, but loss weights are constants here "
                            f"(no gradient flows into them); pass {name}.detach()")
    try:
        full = np.broadcast_to(weight.numpy(), shape)
    except ValueError:
        raise ShapeError(f"{op}: {name} of shape {tuple(weight.shape)} does not broadcast to the "
                         f"input shape {tuple(input.shape)}") from None
    return Tensor._wrap(full.astype(input.dtype, copy=False))


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None, size_average: Any = None,
                         reduce: Any = None, reduction: str = "mean") -> Tensor:
    """-w (y log x + (1-y) log(1-x)) on probabilities x in [0, 1] (each log clamped at -100,
    as PyTorch); weight broadcasts to the input's shape. Both x and y get gradients."""
    op = "binary_cross_entropy"
    _no_legacy_reduction(op, size_average, reduce)
    _reduction(reduction, op)
    input, target = _regression_target(op, input, target)
    x = input.numpy()
    if x.size and not ((x >= 0) & (x <= 1)).all():
        bad = x[~((x >= 0) & (x <= 1))].flat[0]
        raise ArgumentError(f"{op}: input values must be probabilities in [0, 1] (apply sigmoid "
                            f"first, or use binary_cross_entropy_with_logits), found {bad!r} in "
                            f"input of shape {tuple(input.shape)}")
    weight = _loss_weight(op, "weight", weight, input, input.shape)
    return LS.BinaryCrossEntropy.apply(input, target, weight, reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,
                                     size_average: Any = None, reduce: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Sigmoid + binary cross-entropy on logits, fused and stable for any logit. weight
    broadcasts to the input's shape; pos_weight (one per class, broadcast along the last
    dim) scales the positive term y·log σ(x)."""
    op = "binary_cross_entropy_with_logits"
    _no_legacy_reduction(op, size_average, reduce)
    _reduction(reduction, op)
    input, target = _regression_target(op, input, target)
    weight = _loss_weight(op, "weight", weight, input, input.shape)
    pos_weight = _loss_weight(op, "pos_weight", pos_weight, input, input.shape)
    return LS.BinaryCrossEntropyWithLogits.apply(input, target, weight, pos_weight, reduction=reduction)


def kl_div(input: Tensor, target: Any, size_average: Any = None, reduce: Any = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL(target ‖ exp(input)) pointwise: target·(log target - input), input being
    log-probabilities (target too when log_target=True). reduction='batchmean' divides the
    sum by the batch size — the mathematically correct KL per sample; 'mean' (the default,
    as in PyTorch) divides by the element count."""
    op = "kl_div"
    _no_legacy_reduction(op, size_average, reduce)
    if not isinstance(reduction, str) or reduction not in ("mean", "batchmean", "sum", "none"):
        raise ArgumentError(f"{op}: reduction must be 'mean', 'batchmean', 'sum' or 'none', got "
                            f"{reduction!r}")
    input, target = _regression_target(op, input, target)
    return LS.KLDivergence.apply(input, target, reduction=reduction,
                                 log_target=_flag_arg(log_target, "log_target", op))


def _flag_arg(value: Any, name: str, op: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentError(f"{op}: {name} must be a bool, got {value!r}")
    return bool(value)


# ----------------------------------------------------------- layers real PyTorch scripts use
def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Standardise each channel of each sample over its positions (N, C, *) (the
    Standardize op of layer/group norm over axes 2...), then scale and shift per channel.
    With running stats and use_input_stats, they are updated in place with the batch average
    of the per-instance means and unbiased variances (PyTorch's rule); use_input_stats=False
    normalises with the running stats instead (eval of track_running_stats=True)."""
    op = "instance_norm"
    input = _float_input(input, op)
    if input.ndim < 3:
        raise ShapeError(f"{op}: expected an input (N, C, L...) with at least 3 dims, got shape "
                         f"{tuple(input.shape)}")
    c = input.shape[1]
    eps = float(_number(eps, "eps", op))
    if not check_flag(use_input_stats, "use_input_stats", op):
        if running_mean is None or running_var is None:
            raise ArgumentError(f"{op}: use_input_stats=False needs running_mean and running_var")
        return batch_norm(input, running_mean, running_var, weight, bias, False, 0.0, eps)
    axes = tuple(range(2, input.ndim))
    positions = int(np.prod(input.shape[2:]))
    if positions <= 1:
        raise ShapeError(f"{op}: expected more than 1 spatial element per channel, got input "
                         f"shape {tuple(input.shape)}")
    m = float(_number(momentum, "momentum", op))
    x = input.numpy()
    for name, stat in (("running_mean", running_mean), ("running_var", running_var)):
        if stat is None:
            continue
        _tensor(stat, op, name)
        if tuple(stat.shape) != (c,):
            raise ShapeError(f"{op}: {name} must have shape ({c},), got {tuple(stat.shape)}")
        _float(stat, op, name)
        batch = x.mean(axis=axes) if name == "running_mean" else x.var(axis=axes, ddof=1)
        arr = stat.numpy()
        arr *= 1 - m
        arr += (m * batch.mean(axis=0)).astype(arr.dtype, copy=False)
        stat._version += 1
    y = NM.Standardize.apply(input, axes=axes, eps=eps)
    return _affine(op, y, weight, bias, (c,), (c,) + (1,) * (input.ndim - 2))


def _pool3d_input(op: str, input: Tensor) -> tuple[Tensor, bool]:
    input = _tensor(input, op, "input")
    if input.ndim not in (4, 5):
        raise ShapeError(f"{op}: expected a 5-D input (N, C, D, H, W) or a 4-D unbatched one, got "
                         f"shape {tuple(input.shape)}")
    return (input.unsqueeze(0), True) if input.ndim == 4 else (input, False)


def _pool3d_split(op: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
                  ceil_mode: bool) -> tuple:
    """The 3-D window arguments as 3-tuples, checked with D/H/W names here (the two 2-D
    passes would name the depth pass's dims H and W)."""
    kernel = CV.normalize_tuple(kernel_size, 3, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) \
        else CV.normalize_tuple(stride, 3, "stride", op)
    pads = CV.normalize_tuple(padding, 3, "padding", op, minimum=0)
    dil = CV.normalize_tuple(dilation, 3, "dilation", op)
    for nm, size, k, st, p, dl in zip("DHW", x.shape[2:], kernel, stride, pads, dil):
        if p > k // 2:
            raise ArgumentError(f"{op}: padding P{nm}={p} is more than half the kernel K{nm}={k} "
                                f"(kernel_size={kernel}, padding={pads}, input shape {tuple(x.shape)})")
        P.pool_output_size(op, (size,), (k,), (st,), (p,), (dl,), check_flag(ceil_mode, "ceil_mode", op),
                           names=(nm,))
    return kernel, stride, pads, dil


def max_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over KD×KH×KW windows of (N, C, D, H, W), composed of two max_pool2d passes (a
    box's max is the max over depth of the max over each plane's window): first over (H, W)
    of every depth slice, then over depth. Ties go to the first maximum in (d, h, w) order,
    as in one pass; indices (return_indices) are flat in each D·H·W volume."""
    op = "max_pool3d"
    x, unbatched = _pool3d_input(op, input)
    kernel, stride, pads, dil = _pool3d_split(op, x, kernel_size, stride, padding, dilation, ceil_mode)
    n, c, d, h, w = x.shape
    planes = x.reshape(n, c * d, h, w)                                   # (N, C, D, H, W) -> (N, C·D, H, W)
    first = _max_pool(op, planes, kernel[1:], stride[1:], pads[1:], dil[1:], ceil_mode, return_indices)
    first, plane_idx = first if return_indices else (first, None)
    oh, ow = first.shape[2:]
    depth = first.reshape(n, c, d, oh * ow)                              # (N, C·D, OH, OW) -> (N, C, D, OH·OW)
    second = _max_pool(op, depth, (kernel[0], 1), (stride[0], 1), (pads[0], 0), (dil[0], 1),
                       ceil_mode, return_indices)
    if not return_indices:
        out = second.reshape(n, c, -1, oh, ow)                           # (N, C, OD, OH·OW) -> (N, C, OD, OH, OW)
        return out.squeeze(0) if unbatched else out
    values, depth_idx = second
    od = values.shape[2]
    dsel = depth_idx.numpy() // (oh * ow)                                # the winning depth slice
    hw = np.take_along_axis(plane_idx.numpy().reshape(n, c, d, oh * ow), np.maximum(dsel, 0), axis=2)
    flat = np.where((dsel < 0) | (hw < 0), -1, dsel * (h * w) + hw).reshape(n, c, od, oh, ow)
    values = values.reshape(n, c, od, oh, ow)
    indices = Tensor._wrap(flat.astype(np.int64))
    return (values.squeeze(0), indices.squeeze(0)) if unbatched else (values, indices)


def avg_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over KD×KH×KW windows of (N, C, D, H, W), composed of two avg_pool2d passes: a
    box's sum is the depth-sum of plane-window sums, and PyTorch's divisor (window size,
    clipped per dim) is the product of the per-dim counts, so the two means multiply out to
    the 3-D one exactly. divisor_override: both passes sum, then one division."""
    op = "avg_pool3d"
    x, unbatched = _pool3d_input(op, input)
    kernel, stride, pads, _ = _pool3d_split(op, x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (isinstance(divisor_override, bool) or not isinstance(
            divisor_override, (int, np.integer)) or divisor_override <= 0):
        raise ArgumentError(f"{op}: divisor_override must be a positive int, got {divisor_override!r}")
    n, c, d, h, w = x.shape
    sums = None if divisor_override is None else 1
    first = _avg_pool(op, x.reshape(n, c * d, h, w), kernel[1:], stride[1:], pads[1:], ceil_mode,
                      count_include_pad, sums)                          # (N, C, D, H, W) -> (N, C·D, H, W)
    oh, ow = first.shape[2:]
    second = _avg_pool(op, first.reshape(n, c, d, oh * ow), (kernel[0], 1), (stride[0], 1),
                       (pads[0], 0), ceil_mode, count_include_pad, sums)  # -> (N, C, D, OH·OW)
    out = second.reshape(n, c, -1, oh, ow)                               # (N, C, OD, OH·OW) -> (N, C, OD, OH, OW)
    if divisor_override is not None:
        out = out / float(divisor_override)
    return out.squeeze(0) if unbatched else out


def max_unpool2d(input: Tensor, indices: Any, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """Put each value back at the flat position max_pool2d(return_indices=True) took it from,
    zeros elsewhere. Output size (H-1)·SH - 2PH + KH per dim, or output_size ((OH, OW), or
    with the leading dims)."""
    op = "max_unpool2d"
    input = _float_input(input, op)
    if input.ndim not in (3, 4):
        raise ShapeError(f"{op}: expected a 4-D input (N, C, H, W) or a 3-D unbatched one, got "
                         f"shape {tuple(input.shape)}")
    indices = _as_target(indices, op)
    if indices.dtype.kind not in "iu" or tuple(indices.shape) != tuple(input.shape):
        raise ShapeError(f"{op}: indices must be an integer tensor of the input's shape "
                         f"{tuple(input.shape)} (max_pool2d's return_indices), got dtype "
                         f"{indices.dtype} and shape {tuple(indices.shape)}")
    kernel = CV.normalize_tuple(kernel_size, 2, "kernel_size", op)
    stride = kernel if stride is None else CV.normalize_tuple(stride, 2, "stride", op)
    pads = CV.normalize_tuple(padding, 2, "padding", op, minimum=0)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    idx = indices.unsqueeze(0) if unbatched else indices
    default = tuple((i - 1) * s - 2 * p + k for i, s, p, k in zip(x.shape[2:], stride, pads, kernel))
    if output_size is None:
        out = default
    else:
        size = tuple(output_size)[-2:] if isinstance(output_size, (tuple, list)) else ()
        if len(size) != 2 or not all(isinstance(v, (int, np.integer)) for v in size) or \
                any(not dflt - s <= v <= dflt + s for v, dflt, s in zip(size, default, stride)):
            raise ArgumentError(f"{op}: output_size must be (OH, OW) within one stride of the "
                                f"default {default} (stride {stride}), got {output_size!r}")
        out = tuple(int(v) for v in size)
    plane = out[0] * out[1]
    i = idx.numpy()
    if i.size and (i.min() < 0 or i.max() >= plane):
        raise ArgumentError(f"{op}: an index is out of range for output planes of {out[0]}×{out[1]} "
                            f"= {plane} elements (found {int(i.min())}..{int(i.max())})")
    y = IX.MaxUnpool2d.apply(x, idx, out=out)
    return y.squeeze(0) if unbatched else y


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C·r², H, W) -> (*, C, H·r, W·r): depth to space, a reshape and a permute (their
    backward rules move the gradient back)."""
    op = "pixel_shuffle"
    r = _factor(op, "upscale_factor", upscale_factor)
    input = _tensor(input, op, "input")
    if input.ndim < 3 or input.shape[-3] % (r * r):
        raise ShapeError(f"{op}: expected an input (*, C·r², H, W) with the channels divisible by "
                         f"upscale_factor² = {r * r}, got shape {tuple(input.shape)}")
    *lead, c, h, w = input.shape
    k = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)           # (*, C·r², H, W) -> (*, C, r, r, H, W)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)      # -> (*, C, H, r, W, r)
    return x.reshape(*lead, c // (r * r), h * r, w * r)          # -> (*, C, H·r, W·r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H·r, W·r) -> (*, C·r², H, W): space to depth, pixel_shuffle's inverse."""
    op = "pixel_unshuffle"
    r = _factor(op, "downscale_factor", downscale_factor)
    input = _tensor(input, op, "input")
    if input.ndim < 3 or input.shape[-2] % r or input.shape[-1] % r:
        raise ShapeError(f"{op}: expected an input (*, C, H, W) with H and W divisible by "
                         f"downscale_factor = {r}, got shape {tuple(input.shape)}")
    *lead, c, h, w = input.shape
    k = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)            # (*, C, H·r, W·r) -> (*, C, H, r, W, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)      # -> (*, C, r, r, H, W)
    return x.reshape(*lead, c * r * r, h // r, w // r)           # -> (*, C·r², H, W)


def _factor(op: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ArgumentError(f"{op}: {name} must be a positive int, got {value!r}")
    return int(value)


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of weight (num_embeddings, D) picked by the integer indices in input (any shape):
    output input.shape + (D,). padding_idx's row gets no gradient; max_norm renormalises (in
    place, without gradient, as PyTorch) each looked-up row whose norm exceeds it."""
    op = "embedding"
    weight = _tensor(weight, op, "weight")
    if weight.ndim != 2:
        raise ShapeError(f"{op}: weight must be 2-D (num_embeddings, embedding_dim), got shape "
                         f"{tuple(weight.shape)}")
    indices = _as_target(input, op)
    if indices.dtype.kind not in "iu":
        raise DTypeError(f"{op}: input must hold integer indices (a long tensor), got dtype "
                         f"{indices.dtype}")
    rows = weight.shape[0]
    idx = indices.numpy().astype(np.int64, copy=False)
    if idx.size and (idx.min() < 0 or idx.max() >= rows):
        bad = idx[(idx < 0) | (idx >= rows)].flat[0]
        raise ArgumentError(f"{op}: index {int(bad)} is out of range for {rows} embeddings "
                            f"(weight shape {tuple(weight.shape)})")
    if sparse:
        raise ArgumentError(f"{op}: sparse=True (sparse gradients) is not supported; the "
                            f"gradient is dense")
    if padding_idx is not None:
        if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)) \
                or not -rows <= padding_idx < rows:
            raise ArgumentError(f"{op}: padding_idx must be an int in [-{rows}, {rows}), got {padding_idx!r}")
        padding_idx = int(padding_idx) % rows
    if max_norm is not None:
        max_norm = check_number(max_norm, "max_norm", op, minimum=0)
        _renorm_rows(weight, np.unique(idx), float(max_norm), float(check_number(norm_type, "norm_type", op)))
    return IX.Embedding.apply(weight, idx, padding_idx=padding_idx,
                              scale_grad_by_freq=check_flag(scale_grad_by_freq, "scale_grad_by_freq", op))


def _renorm_rows(weight: Tensor, rows: np.ndarray, max_norm: float, norm_type: float) -> None:
    """PyTorch's embedding_renorm_: rows whose p-norm exceeds max_norm are scaled to
    max_norm / (norm + 1e-7), in place and outside autograd."""
    w = weight.numpy()
    norms = np.linalg.norm(w[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    if big.any():
        w[rows[big]] *= (max_norm / (norms[big] + 1e-7)).astype(w.dtype).reshape(-1, 1)
        weight._version += 1
