"""Layers: thin Modules that hold parameters and hyperparameters and call `nn.functional`.

Constructor signatures, attribute names, default initialisations and `repr`s follow PyTorch, so
a PyTorch model ports by changing its imports and a PyTorch state dict loads unchanged.

Shape errors name the layer before the op sees the input, e.g.
`Linear(400→120) got input with 256 features (input shape (64, 256)), expected 400
(module 'fc1' of LeNet5)`.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = ["Identity", "Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
           "ConvTranspose3d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
           "Upsample", "ConstantPad1d", "ConstantPad2d", "ZeroPad1d", "ZeroPad2d",
           "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d",
           "CircularPad1d", "CircularPad2d", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "SiLU", "GELU",
           "ELU", "Softplus", "Hardtanh", "ReLU6", "Hardsigmoid", "Hardswish", "Softmax",
           "LogSoftmax", "Flatten", "Dropout", "Dropout2d", "BatchNorm1d", "BatchNorm2d",
           "LayerNorm", "GroupNorm", "CrossEntropyLoss", "NLLLoss", "MSELoss"]


def _ntuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ArgumentError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
        return tuple(int(v) for v in value)
    return (int(value),) * n


def _check_tensor(module: Module, input: Any) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{module._label()} expects a tc.Tensor input, got "
                        f"{type(input).__name__}; wrap NumPy data with tc.tensor(...) or "
                        f"tc.from_numpy(...){module._where()}")


def _float_dtype(dtype: Any) -> np.dtype:
    dtype = np.dtype(np.float32 if dtype is None else dtype)
    if dtype.kind != "f":
        raise ArgumentError(f"layer parameters must have a floating point dtype, got {dtype}")
    return dtype


class Identity(Module):
    """Returns its input; any constructor arguments are ignored (as in PyTorch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


# ------------------------------------------------------------------------------------ Linear
class Linear(Module):
    """y = x Wᵀ + b, W of shape (out_features, in_features). Input (*, in_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if in_features < 0 or out_features < 0:
            raise ArgumentError(f"Linear: features must be non-negative, got in_features="
                                f"{in_features}, out_features={out_features}")
        dtype = _float_dtype(dtype)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.empty((out_features, in_features), dtype))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: W ~ kaiming_uniform_(a=√5) = U(±1/√in), b ~ U(±1/√in)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _label(self) -> str:
        return f"Linear({self.in_features}→{self.out_features})"

    def forward(self, input: Tensor) -> Tensor:
        _check_tensor(self, input)
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            got = input.shape[-1] if input.ndim else "no"
            raise ShapeError(f"{self._label()} got input with {got} features (input shape "
                             f"{tuple(input.shape)}), expected {self.in_features} in the last "
                             f"dim{self._where()}")
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


# -------------------------------------------------------------------------------------- Conv
class _ConvNd(Module):
    _dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None, *,
                 transposed: bool = False, output_padding: Any = 0) -> None:
        super().__init__()
        n, name = self._dims, type(self).__name__
        if groups <= 0:
            raise ArgumentError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups or out_channels % groups:
            raise ArgumentError(f"{name}: in_channels ({in_channels}) and out_channels "
                                f"({out_channels}) must both be divisible by groups ({groups})")
        modes = ("zeros",) if transposed else ("zeros", "reflect", "replicate", "circular")
        if padding_mode not in modes:
            raise ArgumentError(f"{name}: padding_mode must be one of {modes}, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = _ntuple(kernel_size, n, "kernel_size")
        self.stride = _ntuple(stride, n, "stride")
        self.dilation = _ntuple(dilation, n, "dilation")
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, n, "output_padding")
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
            self.padding = _ntuple(padding, n, "padding")
        self.padding_mode = padding_mode
        dtype = _float_dtype(dtype)
        # PyTorch's layouts: (C_out, C_in/groups, K...) for convs, (C_in, C_out/groups, K...) transposed
        shape = ((in_channels, out_channels // groups) if transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype))
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
        raise NotImplementedError

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
            raise ShapeError(f"{self._label()} got input with {channels} channels (input shape "
                             f"{tuple(input.shape)}), expected {self.in_channels} channels in "
                             f"dim {input.ndim - n - 1}{self._where()}")
        unbatched = input.ndim == n + 1
        x = input.unsqueeze(0) if unbatched else input
        try:
            if self.padding_mode == "zeros":
                out = self._conv(x, self.padding)
            else:                     # as PyTorch: pad with the mode, then convolve unpadded
                out = self._conv(F.pad(x, self._pad_list(), mode=self.padding_mode), 0)
        except (ShapeError, ArgumentError) as e:
            raise type(e)(f"{self._label()}{self._where()}: {e}") from None
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


# ------------------------------------------------------------------------------------ pooling
class _Pool2d(Module):
    # the functional op by dimensionality, and the accepted input layouts
    _ops = {2: ("max_pool2d", "avg_pool2d"), 1: ("max_pool1d", "avg_pool1d")}
    _dims = 2

    def _label(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"

    def _check(self, input: Any) -> None:
        _check_tensor(self, input)
        layouts = {2: ("4-D input (N, C, H, W) or 3-D (C, H, W)", (3, 4)),
                   1: ("3-D input (N, C, L) or 2-D (C, L)", (2, 3))}[self._dims]
        if input.ndim not in layouts[1]:
            raise ShapeError(f"{self._label()} expects a {layouts[0]}, got shape "
                             f"{tuple(input.shape)}{self._where()}")

    def _run(self, kind: int, input: Tensor, **kwargs: Any) -> Any:
        """kind 0: max pooling, 1: average pooling, in this module's dimensionality."""
        self._check(input)
        fn = getattr(F, self._ops[self._dims][kind])
        try:
            return fn(input, self.kernel_size, self.stride, self.padding, **kwargs)
        except (ShapeError, ArgumentError) as e:
            raise type(e)(f"{self._label()}{self._where()}: {e}") from None


class MaxPool2d(_Pool2d):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Any:
        return self._run(0, input, dilation=self.dilation, ceil_mode=self.ceil_mode,
                         return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(_Pool2d):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        extra = {} if self.divisor_override is None else {"divisor_override": self.divisor_override}
        return self._run(1, input, ceil_mode=self.ceil_mode,
                         count_include_pad=self.count_include_pad, **extra)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool1d(MaxPool2d):
    """Max over windows of length kernel_size along L: input (N, C, L) or (C, L)."""
    _dims = 1


class AvgPool1d(AvgPool2d):
    """Mean over windows of length kernel_size along L: input (N, C, L) or (C, L)."""
    _dims = 1

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        one = lambda v: v if v is None or isinstance(v, tuple) else (v,)   # PyTorch keeps 1-tuples here
        super().__init__(one(kernel_size), one(stride), one(padding), ceil_mode, count_include_pad)


class _AdaptivePool2d(Module):
    _dims = 2

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def _run(self, fn: Any, input: Tensor, **kwargs: Any) -> Any:
        _check_tensor(self, input)
        if self._dims == 1:                                  # the 1-D functional op of fn
            fn = getattr(F, fn.__name__.replace("2d", "1d"))
        try:
            return fn(input, self.output_size, **kwargs)
        except (ShapeError, ArgumentError) as e:
            raise type(e)(f"{type(self).__name__}(output_size={self.output_size!r}){self._where()}: {e}") from None

    def extra_repr(self) -> str:
        return f"output_size={self.output_size!r}"


class AdaptiveAvgPool2d(_AdaptivePool2d):
    """Mean over windows that split the input into output_size (e.g. (1, 1): global average)."""

    def forward(self, input: Tensor) -> Tensor:
        return self._run(F.adaptive_avg_pool2d, input)


class AdaptiveMaxPool2d(_AdaptivePool2d):
    """Max over windows that split the input into output_size."""

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        return self._run(F.adaptive_max_pool2d, input, return_indices=self.return_indices)


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """Mean over windows that split L into output_size: input (N, C, L) or (C, L)."""
    _dims = 1


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """Max over windows that split L into output_size: input (N, C, L) or (C, L)."""
    _dims = 1


class Upsample(Module):
    """F.interpolate as a layer: nearest or bilinear resampling to `size` or by `scale_factor`."""

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None) -> None:
        super().__init__()
        self.size, self.mode, self.align_corners = size, mode, align_corners
        self.scale_factor = (float(scale_factor) if isinstance(scale_factor, (int, float))
                             else tuple(float(f) for f in scale_factor) if scale_factor else None)

    def forward(self, input: Tensor) -> Tensor:
        _check_tensor(self, input)
        try:
            return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners)
        except (ShapeError, ArgumentError) as e:
            raise type(e)(f"{type(self).__name__}{self._where()}: {e}") from None

    def extra_repr(self) -> str:
        what = f"size={self.size!r}" if self.size is not None else f"scale_factor={self.scale_factor!r}"
        return f"{what}, mode={self.mode!r}"


class _PadNd(Module):
    """F.pad as a layer over the last `_dims` dims; padding an int (all sides) or the 2·dims
    tuple (left, right[, top, bottom])."""
    _dims, _mode = 2, "constant"

    def __init__(self, padding: Any, value: float = 0.0) -> None:
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._dims, "padding")
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        _check_tensor(self, input)
        try:
            return F.pad(input, self.padding, self._mode, self.value)
        except (ShapeError, ArgumentError) as e:
            raise type(e)(f"{type(self).__name__}{self._where()}: {e}") from None

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ConstantPad1d(_PadNd):
    _dims = 1

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad2d(ConstantPad1d):
    _dims = 2


class ZeroPad1d(_PadNd):
    _dims = 1

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)


class ZeroPad2d(ZeroPad1d):
    _dims = 2


class ReflectionPad1d(ZeroPad1d):
    _mode = "reflect"


class ReflectionPad2d(ReflectionPad1d):
    _dims = 2


class ReplicationPad1d(ZeroPad1d):
    _mode = "replicate"


class ReplicationPad2d(ReplicationPad1d):
    _dims = 2


class CircularPad1d(ZeroPad1d):
    _mode = "circular"


class CircularPad2d(CircularPad1d):
    _dims = 2


# -------------------------------------------------------------------------------- activations
class ReLU(Module):
    """max(x, 0). `inplace` is accepted for porting and ignored (the result is a new tensor)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x if x > 0 else negative_slope·x (`inplace` accepted and ignored)."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class _Pointwise(Module):
    """A module that applies one functional activation with fixed keyword arguments.
    `inplace` is accepted for porting and ignored (the result is a new tensor)."""
    _fn = ""
    _args: tuple[str, ...] = ()

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return getattr(F, self._fn)(input, **{a: getattr(self, a) for a in self._args})

    def extra_repr(self) -> str:
        parts = [f"{a}={getattr(self, a)!r}" for a in self._args]
        return ", ".join(parts + (["inplace=True"] if getattr(self, "inplace", False) else []))


class SiLU(_Pointwise):
    _fn = "silu"


class GELU(_Pointwise):
    _fn, _args = "gelu", ("approximate",)

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate


class ELU(_Pointwise):
    _fn, _args = "elu", ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.alpha = alpha


class Softplus(_Pointwise):
    _fn, _args = "softplus", ("beta", "threshold")

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold


class Hardtanh(_Pointwise):
    _fn, _args = "hardtanh", ("min_val", "max_val")

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.min_val, self.max_val = min_val, max_val


class ReLU6(_Pointwise):
    _fn = "relu6"


class Hardsigmoid(_Pointwise):
    _fn = "hardsigmoid"


class Hardswish(_Pointwise):
    _fn = "hardswish"


class Sigmoid(Module):
    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


def _softmax_dim(ndim: int) -> int:
    """PyTorch's implicit dim for Softmax(dim=None): 0 for 0-, 1- and 3-D inputs, else 1."""
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim if self.dim is not None else _softmax_dim(input.ndim))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim if self.dim is not None else _softmax_dim(input.ndim))


# ------------------------------------------------------------------------- shape and noise
class Flatten(Module):
    """Flatten dims start_dim..end_dim (default: all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Zero each element with probability p during training and scale the rest by 1/(1-p);
    the identity in eval mode. Draws from the framework's seeded generator."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise ArgumentError(f"{type(self).__name__}: probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zero whole channels (every H×W map) with probability p during training, scale the rest
    by 1/(1-p); input (N, C, H, W) or (C, H, W)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training)


# ------------------------------------------------------------------------------ normalisation
def _affine_parameters(module: Module, affine: bool, bias: bool, shape: tuple, dtype: Any) -> None:
    """A norm layer's optional scale (ones) and shift (zeros) of `shape`, registered as None
    when absent (as PyTorch, so the state-dict keys match)."""
    dtype = _float_dtype(dtype)
    module.register_parameter("weight", Parameter(np.ones(shape, dtype)) if affine else None)
    module.register_parameter("bias", Parameter(np.zeros(shape, dtype)) if affine and bias else None)


class _BatchNorm(Module):
    """Batch normalisation over every axis but the channels (axis 1), PyTorch's semantics:

    training: normalise with the batch mean and biased variance; update
      running_mean ← (1 - momentum)·running_mean + momentum·mean,
      running_var  ← (1 - momentum)·running_var + momentum·var_unbiased,
      num_batches_tracked += 1 (momentum=None uses the cumulative average 1/num_batches_tracked);
    eval: normalise with the running statistics.
    `bias=False` (keyword, as in PyTorch ≥ 2.x) keeps the scale but drops the shift.
    State-dict keys: weight, bias, running_mean, running_var, num_batches_tracked.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        dtype = _float_dtype(dtype)
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine_parameters(self, affine, bias, (self.num_features,), dtype)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor._wrap(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", Tensor._wrap(np.ones(num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor._wrap(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    _layouts: dict[int, str] = {}                        # accepted ndim -> its layout, for errors

    def _label(self) -> str:
        return f"{type(self).__name__}({self.num_features})"

    def forward(self, input: Tensor) -> Tensor:
        _check_tensor(self, input)
        if input.ndim not in self._layouts:
            expected = " or ".join(f"{d}-D {layout}" for d, layout in self._layouts.items())
            raise ShapeError(f"{self._label()} expects a {expected} input, got shape "
                             f"{tuple(input.shape)}{self._where()}")
        if input.shape[1] != self.num_features:
            raise ShapeError(f"{self._label()} got input with {input.shape[1]} channels (input "
                             f"shape {tuple(input.shape)}), expected {self.num_features}{self._where()}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.data += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.data)
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None,
                            self.running_var if track else None, self.weight, self.bias,
                            use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """_BatchNorm over (N, L) for each of C channels: input (N, C) or (N, C, L)."""
    _layouts = {2: "(N, C)", 3: "(N, C, L)"}


class BatchNorm2d(_BatchNorm):
    """_BatchNorm over (N, H, W) for each of C channels: input (N, C, H, W)."""
    _layouts = {4: "(N, C, H, W)"}


class _AffineNorm(Module):
    """Shared by LayerNorm and GroupNorm: run the functional op with weight, bias and eps."""

    def _run(self, fn: Any, input: Tensor, *args: Any) -> Tensor:
        _check_tensor(self, input)
        try:
            return fn(input, *args, self.weight, self.bias, self.eps)
        except (ShapeError, ArgumentError) as e:
            raise type(e)(f"{type(self).__name__}{self._where()}: {e}") from None


class LayerNorm(_AffineNorm):
    """Standardise each sample over the last dims (normalized_shape), then scale and shift
    elementwise (weight and bias of normalized_shape)."""

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        shape = tuple(normalized_shape) if isinstance(normalized_shape, (tuple, list)) else (normalized_shape,)
        self.normalized_shape = tuple(int(d) for d in shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        _affine_parameters(self, elementwise_affine, bias, self.normalized_shape, dtype)

    def forward(self, input: Tensor) -> Tensor:
        return self._run(F.layer_norm, input, self.normalized_shape)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(_AffineNorm):
    """Standardise each group of num_channels/num_groups channels per sample, then scale and
    shift per channel."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ArgumentError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                                f"num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _affine_parameters(self, affine, bias, (num_channels,), dtype)

    def forward(self, input: Tensor) -> Tensor:
        return self._run(F.group_norm, input, self.num_groups)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


# -------------------------------------------------------------------------------------- losses
class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if not isinstance(reduction, str) or reduction not in ("mean", "sum", "none"):
            raise ArgumentError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or "
                                f"'none', got {reduction!r}")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        if weight is not None and not isinstance(weight, Tensor):
            weight = Tensor(weight)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy on logits (N, C) or (N, C, d1, ...) with class-index targets
    (or class probabilities), as F.cross_entropy."""

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(weight, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood on log-probabilities (pair it with LogSoftmax)."""

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)
