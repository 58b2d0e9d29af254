"""Convolutions: Conv1d/2d/3d (padding_mode included) and ConvTranspose1d/2d/3d."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...argcheck import allocate, check_flag, check_int
from ...errors import ArgumentError, ShapeError
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module, Parameter
from ._common import _ntuple, _check_tensor, _float_dtype, _named_call

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]


class _ConvNd(Module):
    _dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None, *,
                 transposed: bool = False, output_padding: Any = 0) -> None:
        super().__init__()
        n, name = self._dims, type(self).__name__
        in_channels = check_int(in_channels, "in_channels", name, minimum=1)
        out_channels = check_int(out_channels, "out_channels", name, minimum=1)
        groups = check_int(groups, "groups", name, minimum=1)
        bias = check_flag(bias, "bias", name)
        transposed = check_flag(transposed, "transposed", name)
        if groups <= 0:
            raise ArgumentError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups or out_channels % groups:
            raise ArgumentError(f"{name}: in_channels ({in_channels}) and out_channels "
                                f"({out_channels}) must both be divisible by groups ({groups})")
        modes = ("zeros",) if transposed else ("zeros", "reflect", "replicate", "circular")
        if not isinstance(padding_mode, str) or padding_mode not in modes:
            raise ArgumentError(f"{name}: padding_mode must be one of {modes}, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = _ntuple(kernel_size, n, "kernel_size", name)
        self.stride = _ntuple(stride, n, "stride", name)
        self.dilation = _ntuple(dilation, n, "dilation", name)
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, n, "output_padding", name, minimum=0)
        if isinstance(padding, str) and transposed:
            raise ArgumentError(f"{name}: padding must be an int or a tuple (no 'same'/'valid' for "
                                f"transposed convolutions), got {padding!r}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ArgumentError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ArgumentError(f"{name}: padding='same' is not supported for strided "
                                    f"convolutions (stride={self.stride})")
            self.padding: Any = padding
        else:
            self.padding = _ntuple(padding, n, "padding", name, minimum=0)
        self.padding_mode = padding_mode
        dtype = _float_dtype(dtype, name)
        # PyTorch's layouts: (C_out, C_in/groups, K...) for convs, (C_in, C_out/groups, K...) transposed
        shape = ((in_channels, out_channels // groups) if transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(allocate(shape, dtype, name))
        if bias:
            self.bias = Parameter(allocate(out_channels, dtype, name))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: W ~ kaiming_uniform_(a=√5) = U(±1/√fan_in), b ~ U(±1/√fan_in),
        fan_in = weight.shape[1] · prod(kernel_size) (in_channels/groups for convs,
        out_channels/groups for transposed ones, as PyTorch computes it)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _label(self) -> str:
        k = "×".join(str(v) for v in self.kernel_size)
        return f"{type(self).__name__}({self.in_channels}→{self.out_channels}, kernel {k})"

    def _conv(self, x: Tensor, padding: Any) -> Tensor:
        """The functional conv of this dimensionality (Conv1d/2d/3d, ConvTranspose1d/2d/3d)."""
        raise NotImplementedError(f"{type(self).__name__} must define _conv (subclass Conv2d etc.)")

    def forward(self, input: Tensor) -> Tensor:
        _check_tensor(self, input)
        n = self._dims
        if input.ndim not in (n + 1, n + 2):
            layout = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}[n]
            raise ShapeError(f"{self._label()} expects a {n + 2}-D input {layout} (or "
                             f"{n + 1}-D without the batch dim), got shape "
                             f"{tuple(input.shape)}{self._where()}")
        channels = input.shape[-n - 1]
        if channels != self.in_channels:
            raise ShapeError(f"{self._label()} got input with {channels} channel{'s' * (channels != 1)} "
                             f"(input shape {tuple(input.shape)}), expected {self.in_channels} "
                             f"channel{'s' * (self.in_channels != 1)} in "
                             f"dim {input.ndim - n - 1}{self._where()}")
        unbatched = input.ndim == n + 1
        x = input.unsqueeze(0) if unbatched else input
        if self.padding_mode == "zeros":
            out = _named_call(self, self._label, self._conv, x, self.padding)
        else:                         # as PyTorch: pad with the mode, then convolve unpadded
            out = _named_call(self, self._label, lambda: self._conv(
                F.pad(x, self._pad_list(), mode=self.padding_mode), 0))
        return out.squeeze(0) if unbatched else out

    def _pad_list(self) -> list[int]:
        """self.padding as F.pad's list (left, right per dim, the last dim first); 'same' puts
        the odd element at the end, as the zero-padded conv does."""
        if self.padding == "valid":
            return [0, 0] * self._dims
        if self.padding == "same":
            totals = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation)]
            pairs = [(t // 2, t - t // 2) for t in totals]
        else:
            pairs = [(p, p) for p in self.padding]
        return [v for pair in reversed(pairs) for v in pair]

    def extra_repr(self) -> str:
        n = self._dims
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if isinstance(self.padding, str) or self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) with weight (C_out, C_in/groups, K)."""
    _dims = 1

    def _conv(self, x: Tensor, padding: Any) -> Tensor:
        return F.conv1d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) with weight (C_out, C_in/groups, KH, KW)."""
    _dims = 2

    def _conv(self, x: Tensor, padding: Any) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv3d(_ConvNd):
    """3-D convolution over (N, C_in, D, H, W) with weight (C_out, C_in/groups, KD, KH, KW)."""
    _dims = 3

    def _conv(self, x: Tensor, padding: Any) -> Tensor:
        return F.conv3d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class _ConvTransposeNd(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:      # PyTorch's argument order
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device, dtype, transposed=True,
                         output_padding=output_padding)

    def _conv(self, x: Tensor, padding: Any) -> Tensor:
        fn = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[self._dims]
        return fn(x, self.weight, self.bias, self.stride, padding, self.output_padding,
                  self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution over (N, C_in, L) with weight (C_in, C_out/groups, K)."""
    _dims = 1


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution over (N, C_in, H, W) with weight (C_in, C_out/groups, KH, KW):
    upsampling by `stride`, the adjoint of Conv2d with the same arguments."""
    _dims = 2


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution over (N, C_in, D, H, W) with weight (C_in, C_out/groups, KD, KH, KW)."""
    _dims = 3
